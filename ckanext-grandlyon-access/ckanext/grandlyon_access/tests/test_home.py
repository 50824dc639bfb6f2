"""The portal's home page (site/home.py, templates/home/): built from the
configuration and /ckan-admin/config, never CKAN's placeholders; in French
and English; colours and featured datasets validated when a sysadmin saves
them; key figures and lists counted as the visitor sees the catalogue.

One world for the module (a dataset at each level, a theme, a commune);
tests that change the home's settings put them back.
"""

from __future__ import annotations

import html
import json
import pathlib
import re

import ckan.plugins.toolkit as tk
import pytest
from ckan.plugins import load_all, plugin_loaded
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.site import home
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, World

TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')
# What stock CKAN's home page shows, in French and English.
PLACEHOLDERS = ("Bienvenue sur CKAN", "Welcome to CKAN", "420 x 220", "placeholder-420x220",
                "ckan-logo.png", "paragraphe d'introduction", "nice introductory paragraph",
                "This is a featured section", "Placeholder")
SETTINGS = (home.INTRO_KEYS["fr"], home.INTRO_KEYS["en"], home.FEATURED_KEY, home.PRIMARY_KEY,
            home.SECONDARY_KEY)


class HomeWorld(World):
    def prepare(self) -> None:
        self.theme = factories.Group(name="mobilite-test", title="Mobilité test")
        self.commune = factories.Organization(name="commune-test", title="Commune test",
                                              is_commune="true")

    def make_dataset(self, key, **fields):
        fields["groups"] = [{"name": "mobilite-test"}]
        return super().make_dataset(key, **fields)


@pytest.fixture(scope="module")
def world(reset_portal_db, reset_index):
    if not plugin_loaded("grandlyon_access"):
        load_all()
    reset_portal_db()
    reset_index()
    home.forget()
    return HomeWorld(datasets=("open", "restricted", "hidden", "private"), table=False,
                     creator="sysadmin")


@pytest.fixture
def restore_settings(world):
    """Puts the home's settings back as they were (empty) after the test."""
    yield
    helpers.call_action("config_option_update", context={"user": world.sysadmin.name},
                        **{key: "" for key in SETTINGS})


def page(app, url: str = "/", who=None) -> str:
    headers = who.headers if who else {}
    return html.unescape(app.get(url, headers=headers).get_data(as_text=True))


def login(client, name: str) -> None:
    token = TOKEN.search(client.get("/user/login").get_data(as_text=True)).group(1)
    res = client.post("/user/login", data={"login": name, "password": PASSWORD,
                                           "_csrf_token": token}, follow_redirects=False)
    assert res.status_code == 302, "login failed"


def post_config(app, world, **fields) -> str:
    """Posts /ckan-admin/config as the sysadmin, logged in with a cookie."""
    client = app.test_client(use_cookies=True)
    login(client, world.sysadmin.name)
    form = client.get("/ckan-admin/config").get_data(as_text=True)
    data = {"_csrf_token": TOKEN.search(form).group(1), "save": "",
            "ckan.site_title": tk.config["ckan.site_title"], **fields}
    res = client.post("/ckan-admin/config", data=data, follow_redirects=True)
    assert res.status_code == 200
    return html.unescape(res.get_data(as_text=True))


# --- no placeholder, both languages -------------------------------------------------

def test_the_default_home_page_has_no_placeholder_in_french_or_english(app, world):
    french, english = page(app, "/"), page(app, "/en/")
    for body in (french, english):
        assert not [text for text in PLACEHOLDERS if text in body]
        assert f'<h1 id="home-title">{tk.config["ckan.site_title"]}</h1>' in body
        assert 'role="search"' in body and 'for="home-search-q"' in body
        assert body.count("<h1") == 1 and "<h3" not in body.split("<h2")[0]  # headings in order
        assert all('alt="' in img for img in re.findall(r"<img[^>]*>", body))
        assert "Mobilité test" in body and "Commune test" in body
    assert "Rechercher dans les jeux de données" in french and "Chiffres clés" in french
    assert "Trouvez, explorez et réutilisez" in french
    assert "Search the datasets" in english and "Key figures" in english
    assert "Find, explore and reuse" in english


def test_the_introduction_is_the_page_languages_and_sanitised(app, world, restore_settings):
    helpers.call_action("config_option_update", context={"user": world.sysadmin.name}, **{
        home.INTRO_KEYS["fr"]: "Bonjour **portail**",
        home.INTRO_KEYS["en"]: "Hello <script>alert('x')</script> [link](javascript:alert(1))"})
    french, english = page(app, "/"), page(app, "/en/")
    assert "Bonjour <strong>portail</strong>" in french and "Hello" not in french
    assert "Hello" in english and "Bonjour" not in english
    assert "<script>alert" not in english and "javascript:" not in english


# --- what each visitor sees ---------------------------------------------------------

def _figures(body: str) -> list[str]:
    """The key figures of a page, e.g. "2 datasets"."""
    section = body.split('id="home-figures-title"')[1].split("</section>")[0]
    return [f"{number} {label.strip()}" for number, label in re.findall(
        r'home-figure-number">(\d+)</span>\s*<span class="home-figure-label">([^<]+)<',
        section)]


def test_counts_and_lists_leave_out_what_the_visitor_may_not_see(app, world):
    anonymous = page(app, "/en/")
    assert _figures(anonymous)[:4] == ["2 datasets", "1 Access level: Open",
                                       "0 Access level: Licensed", "1 Access level: Restricted"]
    assert "1 commune" in _figures(anonymous)
    for secret in ("ds-hidden", "Dataset hidden", "ds-private", "Dataset private"):
        assert secret not in anonymous
    assert "2 datasets" in anonymous.split('id="home-themes-title"')[1]
    sysadmin = page(app, "/en/", world.sysadmin)
    assert _figures(sysadmin)[:4] == ["4 datasets", "2 Access level: Open",
                                      "0 Access level: Licensed", "2 Access level: Restricted"]
    assert "Dataset hidden" in sysadmin and "Dataset private" in sysadmin


def test_a_dataset_made_private_leaves_the_cached_page_at_once(app, world):
    assert "Dataset open" in page(app, "/en/")
    world.call("package_patch", id="ds-open", private=True)
    try:
        body = page(app, "/en/")
        assert "Dataset open" not in body and _figures(body)[0] == "1 dataset"
    finally:
        world.call("package_patch", id="ds-open", private=False)
    assert "Dataset open" in page(app, "/en/")


def test_a_dataset_description_shows_as_plain_escaped_text(app, world):
    notes = "Vélos & parcs <script>alert('xss-probe')</script> <img src=x onerror=alert(1)"
    world.call("package_patch", id="ds-open", notes=notes)
    try:
        raw = app.get("/").get_data(as_text=True)
        assert "<script>alert('xss-probe')" not in raw
        assert "<img src=x" not in raw
        assert "Vélos &amp; parcs" in raw and "&amp;amp;" not in raw
    finally:
        world.call("package_patch", id="ds-open", notes=world.datasets["open"].get("notes") or "")


def test_a_cached_page_runs_no_search_until_its_settings_change(app, world, monkeypatch,
                                                                 restore_settings):
    searches = []
    offered = tk.get_action

    def get_action(name):
        if name == "package_search":
            searches.append(name)
        return offered(name)

    monkeypatch.setattr(home.tk, "get_action", get_action)
    page(app, "/")
    searches.clear()
    page(app, "/")
    assert searches == []
    helpers.call_action("config_option_update", context={"user": world.sysadmin.name},
                        **{home.INTRO_KEYS["fr"]: "Nouvelle introduction"})
    assert "Nouvelle introduction" in page(app, "/") and searches


def test_the_feed_figure_comes_from_the_history_extension_when_offered(app, world,
                                                                      monkeypatch):
    offered = tk.get_action

    def get_action_without(name):
        if name == "history_feed_count":
            raise KeyError(name)
        return offered(name)

    monkeypatch.setattr(home.tk, "get_action", get_action_without)
    home.forget()
    assert "feed" not in " ".join(_figures(page(app, "/en/")))

    def get_action(name):
        if name == "history_feed_count":
            return lambda context, data_dict: 3 if context.get("user") == "" else 5
        return offered(name)

    monkeypatch.setattr(home.tk, "get_action", get_action)
    home.forget()
    try:
        assert "3 real-time feeds with a history" in _figures(page(app, "/en/"))
    finally:
        home.forget()  # the next tests' pages are made without it


# --- the admin form -----------------------------------------------------------------

def test_a_sysadmin_sets_the_home_page_at_the_admin_config(app, world, restore_settings):
    form = page(app, "/ckan-admin/config", world.sysadmin)
    assert "Introduction en français" in form and "Couleur principale" in form
    answer = post_config(app, world, **{
        home.INTRO_KEYS["fr"]: "Les données de *Ville-Test*",
        home.INTRO_KEYS["en"]: "The data of *Test Town*",
        home.FEATURED_KEY: "ds-restricted\nds-open",
        home.PRIMARY_KEY: "#7A1F3D", home.SECONDARY_KEY: "#fff"})
    assert "error" not in answer.split('id="admin-config-form"')[1].split("</form>")[0]
    french, english = page(app, "/"), page(app, "/en/")
    assert "Les données de <em>Ville-Test</em>" in french
    assert "The data of <em>Test Town</em>" in english
    assert "--home-primary:#7a1f3d;--home-secondary:#fff;" in french
    featured = english.split('id="home-featured-title"')[1].split("</section>")[0]
    assert featured.index("Dataset restricted") < featured.index("Dataset open")


def test_an_unreadable_colour_is_refused_with_a_french_error(app, world, restore_settings):
    answer = post_config(app, world, **{home.PRIMARY_KEY: "rouge",
                                        home.SECONDARY_KEY: "#ffff00"})
    assert "Une couleur s'écrit #rgb ou #rrggbb" in answer
    assert "Couleur principale (texte blanc dessus): Une couleur" in answer  # the summary
    assert "Ckanext" not in answer
    answer = post_config(app, world, **{home.PRIMARY_KEY: "#ffff00"})
    assert "contraste" in answer and "4,5:1" in answer
    assert "--home-primary:#1f4e79;" in page(app, "/")


def test_featured_datasets_must_exist_and_be_public(app, world, restore_settings):
    for name in ("ds-hidden", "ds-private", "no-such-dataset"):
        answer = post_config(app, world, **{home.FEATURED_KEY: f"ds-open {name}"})
        assert "Aucun jeu de données public ne s'appelle " + name in answer
    assert 'id="home-featured-title"' not in page(app, "/")


def test_an_introduction_longer_than_the_cap_is_refused(app, world, restore_settings):
    answer = post_config(app, world, **{home.INTRO_KEYS["fr"]: "x" * 2001})
    assert "L'introduction compte 2001 caractères : 2000 au plus" in answer


# --- the demo's settings ------------------------------------------------------------

def test_the_demo_settings_pass_the_admin_forms_checks(world):
    """demo/lyon/site.json (loaded by demo/load.py with config_option_update):
    valid colours and intros, featured datasets the demo publishes openly."""
    demo = pathlib.Path(__file__).resolve().parents[4] / "demo" / "lyon"
    settings = json.loads((demo / "site.json").read_text(encoding="utf-8"))
    datasets = json.loads((demo / "datasets.json").read_text(encoding="utf-8"))
    public = {d["name"] for d in datasets if not d.get("private") and not d.get("access_hidden")}
    assert set(home.featured_names(settings[home.FEATURED_KEY])) <= public
    assert home.primary_colour(settings[home.PRIMARY_KEY]) == settings[home.PRIMARY_KEY]
    assert home.secondary_colour(settings[home.SECONDARY_KEY]) == settings[home.SECONDARY_KEY]
    for key in home.INTRO_KEYS.values():
        assert home.intro_text(settings[key]) == settings[key]
