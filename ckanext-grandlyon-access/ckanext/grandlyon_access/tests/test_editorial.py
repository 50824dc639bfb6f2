"""Editorial content (editorial/): static pages and news written by
sysadmins in Markdown, in French and English, with an image; drafts missing
to everyone but sysadmins; sanitised Markdown; the Atom feed of the news;
image checks; the forms' CSRF protection; the auth functions.

One world for the module (pages, news, users); tests that write make their
own records with names of their own.
"""

from __future__ import annotations

import html
import importlib.util
import io
import json
import pathlib
import re
import struct
import xml.etree.ElementTree as ET
import zlib

import ckan.logic as logic
import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.plugins import load_all, plugin_loaded
from ckan.tests import helpers
from ckanext.grandlyon_access.editorial.model import EditorialItem
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, auth_context, make_actor
from werkzeug.datastructures import FileStorage

ATOM = "{http://www.w3.org/2005/Atom}"
TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')
DEMO = pathlib.Path(__file__).resolve().parents[4] / "demo" / "lyon" / "editorial.json"


def _png() -> bytes:
    """A real 1x1 PNG (CKAN's uploader checks the content with libmagic)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


PNG = _png()
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
SCRIPT = '<script>alert("xss-probe")</script>'
XSS_BODY = (f"Texte {SCRIPT}\n\n<img src=x onerror=alert('xss-probe')>\n\n"
            "[lien](javascript:alert('xss-probe')) <a href=\"javascript:alert(1)\" "
            "onclick=\"alert(1)\">clic</a> <b onmouseover=\"alert(1)\">gras</b>")

# The auth functions this module tests (declared in test_auth.COVERED).
COVERED = ("grandlyon_access_editorial_create", "grandlyon_access_editorial_update",
           "grandlyon_access_editorial_delete", "grandlyon_access_editorial_show",
           "grandlyon_access_editorial_list")


def _create(sysadmin: str, **fields) -> dict:
    return helpers.call_action("grandlyon_access_editorial_create",
                               {"user": sysadmin, "ignore_auth": False}, **fields)


@pytest.fixture(scope="module")
def world(reset_portal_db):
    if not plugin_loaded("grandlyon_access"):
        load_all()
    reset_portal_db()
    root = make_actor("editorial-root", sysadmin=True)
    user = make_actor("editorial-reader")
    with DEMO.open(encoding="utf-8") as f:
        seeds = json.load(f)
    for item in seeds:
        _create(root.name, **item)
    draft = _create(root.name, kind="news", name="brouillon-secret", title_fr="Brouillon secret",
                    title_en="Secret draft", body_fr="Pas encore", state="draft")
    draft_page = _create(root.name, kind="page", name="page-brouillon",
                         title_fr="Page brouillon", body_fr="Pas encore")
    return {"root": root, "user": user, "seeds": seeds, "draft": draft,
            "draft_page": draft_page}


def login(client, name: str) -> None:
    token = TOKEN.search(client.get("/user/login").get_data(as_text=True)).group(1)
    res = client.post("/user/login", data={"login": name, "password": PASSWORD,
                                           "_csrf_token": token}, follow_redirects=False)
    assert res.status_code == 302, "login failed"


# --- pages in French and English ---------------------------------------------------

def test_the_demo_seeds_are_pages_and_news_in_both_languages(world):
    kinds = [item["kind"] for item in world["seeds"]]
    assert kinds.count("page") == 4 and kinds.count("news") == 2
    assert all(item["title_fr"] and item["title_en"] and item["body_fr"] and item["body_en"]
               for item in world["seeds"])


def test_a_page_shows_in_french_and_under_en_in_english(app, world):
    fr = app.get("/pages/conditions-utilisation").get_data(as_text=True)
    en = app.get("/en/pages/conditions-utilisation").get_data(as_text=True)
    assert "Conditions d&#39;utilisation" in fr and "<h2>Réutilisation</h2>" in fr
    assert "Terms of use" in en and "<h2>Reuse</h2>" in en
    assert "Terms of use" not in fr and "Réutilisation" not in en


def test_a_language_left_empty_shows_the_other(app, world):
    _create(world["root"].name, kind="page", name="francais-seul", title_fr="Seulement français",
            body_fr="Texte français", state="published")
    en = app.get("/en/pages/francais-seul").get_data(as_text=True)
    assert "Seulement français" in en and "Texte français" in en


def test_lists_and_the_menu_link_pages_and_news(app, world):
    home = app.get("/").get_data(as_text=True)
    assert 'href="/news/">Actualités</a>' in home and 'href="/pages/">Pages</a>' in home
    home_en = app.get("/en/").get_data(as_text=True)
    assert 'href="/en/news/">News</a>' in home_en and 'href="/en/pages/">Pages</a>' in home_en
    news = html.unescape(app.get("/en/news/").get_data(as_text=True))
    assert "The portal opens its data" in news and "The history of the bike-sharing" in news
    assert 'href="/en/news/ouverture-du-portail"' in news
    assert ('type="application/atom+xml" title="News" href="/en/news/feed.atom"' in news)
    pages = html.unescape(app.get("/pages/").get_data(as_text=True))
    assert "Niveaux d'accès et licences" in pages and "À propos du portail" in pages


def _without_tokens(res, path: str) -> str:
    """A 404 page without its per-response CSRF tokens and script nonces,
    its own address (the language menu links it) written `PATH`."""
    body = re.sub(r'nonce="[^"]*"|"I[\w-]+\.[\w-]+\.[\w-]+"', "", res.get_data(as_text=True))
    return body.replace(path, "PATH")


# --- drafts ---------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_a_draft_looks_missing_to_everyone_but_sysadmins(app, world, who):
    headers = world["user"].headers if who == "user" else {}
    for url in ("/news/brouillon-secret", "/en/news/brouillon-secret", "/pages/page-brouillon"):
        res = app.get(url, headers=headers, status=404)
        assert "Brouillon" not in res.get_data(as_text=True)
    missing = app.get("/news/does-not-exist", headers=headers, status=404)
    draft = app.get("/news/brouillon-secret", headers=headers, status=404)
    assert _without_tokens(draft, "brouillon-secret") == _without_tokens(missing,
                                                                         "does-not-exist")
    for url in ("/news/", "/pages/", "/news/feed.atom"):
        assert "rouillon" not in app.get(url, headers=headers).get_data(as_text=True)
    api = app.get(f"/api/3/action/grandlyon_access_editorial_show?id={world['draft']['id']}",
                  headers=headers, status=404).json
    nothing = app.get("/api/3/action/grandlyon_access_editorial_show?id=nothing",
                      headers=headers, status=404).json
    assert api["error"] == nothing["error"]
    listed = app.get("/api/3/action/grandlyon_access_editorial_list?include_drafts=true",
                     headers=headers).json["result"]
    assert world["draft"]["id"] not in {item["id"] for item in listed["results"]}


def test_sysadmins_see_drafts(app, world):
    headers = world["root"].headers
    assert "Brouillon secret" in app.get("/news/brouillon-secret", headers=headers).get_data(
        as_text=True)
    assert "Brouillon secret" in app.get("/news/", headers=headers).get_data(as_text=True)
    listed = app.get("/api/3/action/grandlyon_access_editorial_list?include_drafts=true",
                     headers=headers).json["result"]
    assert world["draft"]["id"] in {item["id"] for item in listed["results"]}
    admin = app.get("/ckan-admin/editorial", headers=headers).get_data(as_text=True)
    assert "Brouillon secret" in admin and "Page brouillon" in admin


def test_the_sysadmin_pages_are_refused_to_others(app, world):
    for url in ("/ckan-admin/editorial", "/ckan-admin/editorial/new",
                f"/ckan-admin/editorial/{world['draft']['id']}/edit"):
        app.get(url, headers=world["user"].headers, status=403)
    with pytest.raises(logic.NotAuthorized):
        world["user"].call("grandlyon_access_editorial_create", kind="page", name="x-y",
                           title_fr="X")


# --- sanitised Markdown ---------------------------------------------------------------

def test_scripts_events_and_javascript_links_are_stripped(app, world):
    _create(world["root"].name, kind="news", name="xss-probe", state="published",
            title_fr=f"Titre {SCRIPT}", title_en=f"Title {SCRIPT}", body_fr=XSS_BODY,
            body_en=XSS_BODY)
    for url in ("/news/xss-probe", "/en/news/xss-probe", "/news/", "/news/feed.atom"):
        body = app.get(url).get_data(as_text=True)
        assert "xss-probe" in body, url  # the probed fields are shown
        if url.endswith(".atom"):
            # The feed's HTML content is text (escaped) in the XML: read it back.
            root = ET.fromstring(body.encode())
            entry = [e for e in root.iter(f"{ATOM}entry")
                     if "xss-probe" in e.find(f"{ATOM}content").text][0]
            body = entry.find(f"{ATOM}content").text
        lowered = body.lower()
        assert SCRIPT not in body, url
        assert "<img src=x onerror" not in lowered and "onerror=" not in lowered, url
        assert "javascript:" not in lowered, url
        assert "onclick=" not in lowered and "onmouseover=" not in lowered, url


# --- the Atom feed ------------------------------------------------------------------

@pytest.mark.parametrize("prefix,lang,title", [
    ("", "fr", "Le portail ouvre ses données"),
    ("/en", "en", "The portal opens its data"),
])
def test_the_atom_feed_is_valid_and_per_language(app, world, prefix, lang, title):
    res = app.get(f"{prefix}/news/feed.atom")
    assert res.headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(res.data)
    assert feed.tag == f"{ATOM}feed"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == lang
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{tag}") is not None, tag
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"].endswith(f"{prefix}/news/feed.atom")
    assert links["alternate"].endswith(f"{prefix}/news/")
    assert feed.find(f"{ATOM}id").text == links["self"]
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert title in titles
    assert not any("rouillon" in t or "draft" in t.lower() for t in titles)
    assert {e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for e in entries} >= {
        "ouverture-du-portail", "historique-velo"}
    for entry in entries:
        for tag in ("id", "title", "updated", "link", "content"):
            assert entry.find(f"{ATOM}{tag}") is not None, tag
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", entry.find(f"{ATOM}updated").text)
        assert entry.find(f"{ATOM}link").get("href").startswith(("http://", "https://"))
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids))
    assert all(("/en/news/" in e.find(f"{ATOM}link").get("href")) == (lang == "en")
               for e in entries)


def test_feed_entry_ids_differ_per_language_and_stay_stable(app, world):
    def ids(prefix: str) -> set[str]:
        return {e.find(f"{ATOM}id").text for e in ET.fromstring(
            app.get(f"{prefix}/news/feed.atom").data).iter(f"{ATOM}entry")}
    assert ids("") == ids("") and not ids("") & ids("/en")


# --- images ------------------------------------------------------------------------

def _upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=filename)


@pytest.mark.parametrize("data,filename", [
    (SVG, "logo.svg"),
    (SVG, "logo.png"),  # a name does not make an image
    (b"<html><script>alert(1)</script></html>", "page.png"),
    (b"GIF8", "short.gif"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "fake.png"),  # CKAN's uploader sniffs the rest
])
def test_an_upload_that_is_not_an_image_is_refused(world, data, filename):
    with pytest.raises(tk.ValidationError) as error:
        _create(world["root"].name, kind="page", name="image-refusee", title_fr="Image",
                image_upload=_upload(data, filename))
    assert "image_upload" in error.value.error_dict
    with pytest.raises(logic.NotFound):
        helpers.call_action("grandlyon_access_editorial_show", kind="page", name="image-refusee")


def test_a_refused_image_leaves_nothing_behind(world):
    """CKAN's uploader refuses the file after the record was added to the
    session: the next commit in the same session must not store it."""
    fake = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with pytest.raises(tk.ValidationError):
        _create(world["root"].name, kind="page", name="reste-en-session", title_fr="Reste",
                image_upload=_upload(fake, "fake.png"))
    _create(world["root"].name, kind="page", name="commit-suivant", title_fr="Suivant")
    model.Session.remove()
    with pytest.raises(logic.NotFound):
        helpers.call_action("grandlyon_access_editorial_show", kind="page",
                            name="reste-en-session")


def test_an_image_too_large_is_refused(world, monkeypatch):
    monkeypatch.setitem(tk.config, "ckanext.grandlyon_access.editorial.image.max_bytes", 32)
    with pytest.raises(tk.ValidationError, match="32"):
        _create(world["root"].name, kind="page", name="image-trop-grande", title_fr="Image",
                image_upload=_upload(PNG, "big.png"))


def test_an_image_is_stored_served_and_replaced(app, world):
    item = _create(world["root"].name, kind="news", name="avec-image", title_fr="Avec image",
                   state="published", image_upload=_upload(PNG, "photo.png"))
    assert item["image"].endswith("photo.png") and "/" not in item["image"]
    page = app.get("/news/avec-image").get_data(as_text=True)
    assert f"/uploads/editorial/{item['image']}" in page
    assert app.get(f"/uploads/editorial/{item['image']}").data == PNG
    cleared = helpers.call_action("grandlyon_access_editorial_update",
                                  {"user": world["root"].name, "ignore_auth": False},
                                  id=item["id"], clear_image=True)
    assert cleared["image"] == ""
    app.get(f"/uploads/editorial/{item['image']}", status=404)


# --- addresses ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../etc", "A-Propos", "a b", "-x", "x-", "x", "a--b",
                                  "feed.atom", "é", "x" * 101])
def test_a_bad_address_is_refused(world, name):
    with pytest.raises(tk.ValidationError) as error:
        _create(world["root"].name, kind="page", name=name, title_fr="Adresse")
    assert "name" in error.value.error_dict


def test_an_address_is_used_once_per_kind(world):
    with pytest.raises(tk.ValidationError, match="already used"):
        _create(world["root"].name, kind="page", name="a-propos", title_fr="Encore")
    _create(world["root"].name, kind="news", name="a-propos", title_fr="Une actualité")


def test_a_title_is_needed_in_one_language(world):
    with pytest.raises(tk.ValidationError) as error:
        _create(world["root"].name, kind="page", name="sans-titre", body_fr="Texte")
    assert "title_fr" in error.value.error_dict


# --- the forms ---------------------------------------------------------------------

def test_a_sysadmin_writes_a_news_item_through_the_form(app, world):
    client = app.test_client()
    login(client, world["root"].name)
    form = client.get("/ckan-admin/editorial/new?kind=news").get_data(as_text=True)
    token = TOKEN.search(form).group(1)
    res = client.post("/ckan-admin/editorial/new", data={
        "_csrf_token": token, "kind": "news", "name": "ecrite-au-formulaire",
        "state": "published", "title_fr": "Écrite au formulaire", "title_en": "Written in the form",
        "body_fr": "Du **texte**", "body_en": "Some **text**",
        "image_upload": (io.BytesIO(PNG), "photo.png")}, follow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"].endswith(
        "/news/ecrite-au-formulaire")
    shown = app.get("/en/news/ecrite-au-formulaire").get_data(as_text=True)
    assert "Written in the form" in shown and "<strong>text</strong>" in shown
    assert "/uploads/editorial/" in shown


def test_a_form_refuses_an_svg_and_says_why(app, world):
    client = app.test_client()
    login(client, world["root"].name)
    token = TOKEN.search(client.get("/ckan-admin/editorial/new").get_data(as_text=True)).group(1)
    res = client.post("/ckan-admin/editorial/new", data={
        "_csrf_token": token, "kind": "page", "name": "svg-refuse", "state": "published",
        "title_fr": "SVG", "image_upload": (io.BytesIO(SVG), "dessin.svg")})
    assert res.status_code == 200
    assert "SVG est refusé" in html.unescape(res.get_data(as_text=True))
    app.get("/pages/svg-refuse", status=404)


def test_a_post_without_csrf_token_is_refused(app, world):
    client = app.test_client()
    login(client, world["root"].name)
    item = _create(world["root"].name, kind="page", name="csrf-cible", title_fr="Cible")
    posts = {
        "/ckan-admin/editorial/new": {"kind": "page", "name": "csrf-forge", "title_fr": "Forgé"},
        f"/ckan-admin/editorial/{item['id']}/edit": {"title_fr": "Forgé", "name": "csrf-cible"},
        f"/ckan-admin/editorial/{item['id']}/delete": {},
    }
    for url, data in posts.items():
        res = client.post(url, data=data, follow_redirects=False)
        assert res.status_code == 400 and "CSRF" in res.get_data(as_text=True), url
    shown = helpers.call_action("grandlyon_access_editorial_show", id=item["id"])
    assert shown["title_fr"] == "Cible"
    with pytest.raises(logic.NotFound):
        helpers.call_action("grandlyon_access_editorial_show", kind="page", name="csrf-forge")
    # The same delete with its token goes through (the refusal above is the token's).
    token = TOKEN.search(client.get("/ckan-admin/editorial").get_data(as_text=True)).group(1)
    client.post(f"/ckan-admin/editorial/{item['id']}/delete", data={"_csrf_token": token})
    with pytest.raises(logic.NotFound):
        helpers.call_action("grandlyon_access_editorial_show", id=item["id"])


# --- auth functions -----------------------------------------------------------------

def _allowed(name: str, context: dict, **data) -> str:
    try:
        helpers.call_auth(name, context, **data)
    except logic.NotFound:
        return "missing"
    except logic.NotAuthorized:
        return "refused"
    return "allowed"


@pytest.mark.parametrize("name", COVERED[:3])
def test_only_sysadmins_write(world, name):
    assert _allowed(name, auth_context()) == "refused"
    assert _allowed(name, auth_context(anonymous_object=True)) == "refused"
    assert _allowed(name, auth_context(world["user"].name)) == "refused"
    assert _allowed(name, auth_context(world["root"].name)) == "allowed"


def test_show_allows_the_published_and_hides_drafts(world):
    published = model.Session.query(EditorialItem).filter_by(name="a-propos", kind="page").one()
    draft = model.Session.get(EditorialItem, world["draft"]["id"])
    for context in (auth_context(), auth_context(world["user"].name)):
        assert _allowed("grandlyon_access_editorial_show",
                        {**context, "grandlyon_access_editorial": published}) == "allowed"
        assert _allowed("grandlyon_access_editorial_show",
                        {**context, "grandlyon_access_editorial": draft}) == "missing"
        assert _allowed("grandlyon_access_editorial_show",
                        {**context, "grandlyon_access_editorial": None}) == "missing"
    assert _allowed("grandlyon_access_editorial_show",
                    {**auth_context(world["root"].name),
                     "grandlyon_access_editorial": draft}) == "allowed"


def test_anyone_lists(world):
    for context in (auth_context(), auth_context(anonymous_object=True),
                    auth_context(world["user"].name), auth_context(world["root"].name)):
        assert _allowed("grandlyon_access_editorial_list", context) == "allowed"


def test_the_latest_news_helper_gives_published_news_in_the_language(app, world):
    with app.flask_app.test_request_context("/en/"):
        app.flask_app.preprocess_request()
        latest = tk.h.grandlyon_access_editorial_latest("news", 10)
    assert latest and all(item["state"] == "published" for item in latest)
    assert "Secret draft" not in {item["title"] for item in latest}


# --- the demo loader ------------------------------------------------------------------

class _ActionClient:
    """demo/load.py's Client, calling the actions in-process as a sysadmin."""

    def __init__(self, user: str) -> None:
        self.user = user

    def call(self, action: str, data: dict | None = None, *, obj: str = "",
             missing_ok: bool = False, **_: object):
        try:
            return helpers.call_action(action, {"user": self.user, "ignore_auth": False},
                                       **(data or {}))
        except logic.NotFound:
            if missing_ok:
                return None
            raise


def test_the_demo_loader_creates_updates_and_keeps_the_seeds(world, tmp_path):
    spec = importlib.util.spec_from_file_location("demo_load", DEMO.parent.parent / "load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    root = world["root"].name
    shown = helpers.call_action("grandlyon_access_editorial_show", kind="news",
                                name="historique-velo")
    helpers.call_action("grandlyon_access_editorial_delete", {"user": root, "ignore_auth": False},
                        id=shown["id"])
    helpers.call_action("grandlyon_access_editorial_update", {"user": root, "ignore_auth": False},
                        id=helpers.call_action("grandlyon_access_editorial_show", kind="page",
                                               name="a-propos")["id"], title_en="Changed")

    def run() -> dict:
        loader = load.Loader(_ActionClient(root), load.load_data(DEMO.parent), DEMO.parent,
                             tmp_path / "passwords")
        loader.load_editorial()
        return loader.counts["editorial"]

    assert run() == {"created": 1, "updated": 1, "unchanged": 4}
    assert run() == {"unchanged": 6}
    assert helpers.call_action("grandlyon_access_editorial_show", kind="page",
                               name="a-propos")["title_en"] == "About the portal"
