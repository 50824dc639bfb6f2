"""The portal's home page, built from configuration and the admin UI.

What it shows (templates/home/): the portal's name and logo (CKAN's
`ckan.site_title` and `ckan.site_logo`; CKAN's own logo is never shown), an
introduction in the page's language, a search box, key figures (datasets by
access level, communes, real-time feeds with a history), the themes (CKAN
groups, with their images), featured datasets, recently updated datasets
and the communes. Colours are CSS custom properties of the page.

A sysadmin sets it at `/ckan-admin/config` (CKAN's form; `config_schema`
adds the fields, templates/admin/config.html shows them): the introduction
in French and in English (Markdown, at most `INTRO_MAX_LENGTH` characters,
rendered through CKAN's sanitising renderer), the featured datasets (names
of datasets anonymous visitors may see, checked when saved) and two colours
(checked by the communes' colour validator `communes_colour`, reached
through CKAN's validator registry, then for contrast with the text drawn on
them). Values come from the ini file (`ckanext.grandlyon_access.home.*`)
until a sysadmin saves the form; a value that does not validate is replaced
by the neutral default when the page is drawn.

Access: every dataset, and every count, comes from `package_search` run as
the visitor, so their permission labels apply: a visitor counts and sees
only what they may see. A feed figure is shown when an extension offers the
action `history_feed_count` (see `feed_count`).

Cost: `install` replaces CKAN's home view (which ran a search for the
popular tags it no longer shows). The page's data is kept in Redis for
`...home.cache_seconds`, per language and per set of permission labels (the
visitor's audience: all anonymous visitors share one entry), under a
generation that every successful write action increments (a dataset made
private, a featured dataset deleted, a theme renamed drop the cached pages at
once) and a digest of the home's settings (a change at /ckan-admin/config
is seen on the next request, in every web process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import ckan.lib.base as base
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib import signals
from ckan.lib.plugins import get_permission_labels
from ckan.lib.redis import connect_to_redis
from ckanext.grandlyon_access import config, helpers
from markupsafe import Markup
from redis.exceptions import RedisError

__all__ = ["config_schema", "page_data", "forget", "index", "install", "contrast"]

log = logging.getLogger(__name__)

PREFIX = "ckanext.grandlyon_access.home."
INTRO_KEYS = {"fr": PREFIX + "intro_fr", "en": PREFIX + "intro_en"}
FEATURED_KEY = PREFIX + "featured"
PRIMARY_KEY = PREFIX + "primary_colour"
SECONDARY_KEY = PREFIX + "secondary_colour"

INTRO_MAX_LENGTH = 2000
FEATURED_MAX = 8
RECENT_COUNT = 6
THEMES_MAX = 24
# CKAN's own logo: a portal that set none shows its name instead.
STOCK_LOGO = "/base/images/ckan-logo.png"
# Neutral colours, and the text drawn on each: white on the primary colour,
# the body's text on the secondary one (WCAG AA asks 4.5:1).
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_SECONDARY = "#f2f2f2"
TEXT_ON_PRIMARY = "#ffffff"
TEXT_ON_SECONDARY = "#212529"
MIN_CONTRAST = 4.5

_CACHE_PREFIX = "grandlyon_access:home:"
_GENERATION = _CACHE_PREFIX + "generation"
# Actions after which the cached pages are dropped: every write.
_WRITES = re.compile(r"(_create|_update|_patch|_delete|_purge|_revise)$|^bulk_update_")
_NAMES = re.compile(r"[\s,;]+")


# --- the admin form -----------------------------------------------------------------

def _blank(value: Any) -> bool:
    return value is None or value is tk.missing or (isinstance(value, str) and not value.strip())


def intro_text(value: Any) -> Any:
    """An introduction: Markdown text of at most INTRO_MAX_LENGTH characters."""
    if _blank(value):
        return ""
    value = str(value).strip()
    if len(value) > INTRO_MAX_LENGTH:
        raise tk.Invalid(tk._("The introduction is {length} characters long: at most {n}")
                         .format(length=len(value), n=INTRO_MAX_LENGTH))
    return value


def _luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two colours written #rgb or #rrggbb."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _communes_colour() -> Callable[[Any], Any] | None:
    """The communes' colour validator (#rgb or #rrggbb), or None without
    the communes plugin."""
    try:
        return tk.get_validator("communes_colour")
    except tk.UnknownValidator:
        return None


def _colour_validator(text: str) -> Callable[[Any], Any]:
    def validator(value: Any) -> Any:
        check = _communes_colour()
        if _blank(value) or check is None:
            return ""
        colour = check(value)
        if colour and contrast(colour, text) < MIN_CONTRAST:
            raise tk.Invalid(tk._(
                "{colour} and the text drawn on it ({text}) contrast {ratio:.1f}:1, "
                "less than the 4.5:1 that makes it readable: choose a darker or "
                "lighter colour").format(colour=colour, text=text,
                                         ratio=contrast(colour, text)))
        return colour
    return validator


primary_colour = _colour_validator(TEXT_ON_PRIMARY)
secondary_colour = _colour_validator(TEXT_ON_SECONDARY)


def featured_names(value: Any) -> list[str]:
    """The dataset names or ids of a stored or submitted value."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    return [name for name in _NAMES.split(str(value or "")) if name]


def _anonymous_context() -> dict[str, Any]:
    return {"model": model, "session": model.Session, "user": "", "ignore_auth": False}


def featured_datasets(value: Any) -> Any:
    """Featured datasets: names (or ids) of datasets anonymous visitors may
    see, separated by spaces, commas or new lines; stored as names."""
    names = featured_names(value)
    if len(names) > FEATURED_MAX:
        raise tk.Invalid(tk._("At most {n} featured datasets").format(n=FEATURED_MAX))
    found, missing = [], []
    for name in names:
        try:
            dataset = tk.get_action("package_show")(_anonymous_context(), {"id": name})
        except (tk.ObjectNotFound, tk.NotAuthorized):
            dataset = None
        if not dataset or dataset.get("private") or dataset.get("state") != "active":
            missing.append(name)
        else:
            found.append(dataset["name"])
    if missing:
        raise tk.Invalid(tk._("No public dataset is named {names}: a featured dataset must "
                              "exist and be visible to everyone").format(names=", ".join(missing)))
    return " ".join(dict.fromkeys(found))


def config_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """CKAN's runtime-editable options with the home page's (IConfigurer's
    update_config_schema). The colours need the communes plugin's validator."""
    ignore_missing = tk.get_validator("ignore_missing")
    schema.update({key: [ignore_missing, intro_text] for key in INTRO_KEYS.values()})
    schema["ckan.site_intro_text"] = [ignore_missing, intro_text]
    schema[FEATURED_KEY] = [ignore_missing, featured_datasets]
    if p.plugin_loaded("communes"):
        schema[PRIMARY_KEY] = [ignore_missing, primary_colour]
        schema[SECONDARY_KEY] = [ignore_missing, secondary_colour]
    return schema


# --- what the page shows ------------------------------------------------------------

def _valid(validator: Callable[[Any], Any], value: Any, default: str) -> str:
    try:
        return validator(value) or default
    except tk.Invalid:
        return default


def _settings() -> dict[str, Any]:
    """The home's settings as configured now (ini, or saved by a sysadmin)."""
    return {
        "intro": {lang: config.home_intro(lang) for lang in INTRO_KEYS},
        "site_intro": tk.config.get("ckan.site_intro_text") or "",
        "featured": featured_names(config.home_featured())[:FEATURED_MAX],
        "primary": config.home_primary_colour(),
        "secondary": config.home_secondary_colour(),
        "logo": tk.config.get("ckan.site_logo") or "",
    }


def _intro(settings: dict[str, Any], lang: str) -> str:
    text = _valid(intro_text, settings["intro"].get(lang), "") or _valid(
        intro_text, settings["site_intro"], "")
    if not text:
        return str(Markup("<p>%s</p>") % tk._(
            "Find, explore and reuse the data of the territory: open data, data "
            "under a licence and data reserved for partners, on the web and "
            "through the API."))
    return str(tk.h.render_markdown(text, auto_link=False))


def _style(settings: dict[str, Any]) -> str:
    primary = _valid(primary_colour, settings["primary"], DEFAULT_PRIMARY)
    secondary = _valid(secondary_colour, settings["secondary"], DEFAULT_SECONDARY)
    return f":root{{--home-primary:{primary};--home-secondary:{secondary};}}"


def _logo(settings: dict[str, Any]) -> str:
    logo = settings["logo"]
    return "" if not logo or logo.endswith(STOCK_LOGO) else tk.h.url_for_static_or_external(logo)


def _dataset_item(pkg: dict[str, Any]) -> dict[str, Any]:
    level = pkg.get("access_level") or config.default_level()
    return {
        "name": pkg["name"], "title": pkg.get("title") or pkg["name"],
        "excerpt": str(tk.h.markdown_extract(pkg.get("notes") or "", extract_length=160)),
        "access_level": level,
        "access_label": helpers.grandlyon_access_level_label(level),
        "organization": (pkg.get("organization") or {}).get("title") or "",
        "modified": pkg.get("metadata_modified") or "",
    }


def _facet(found: dict[str, Any], field: str) -> dict[str, int]:
    items = ((found.get("search_facets") or {}).get(field) or {}).get("items") or []
    return {item["name"]: item["count"] for item in items}


def _user_context() -> dict[str, Any]:
    user = tk.current_user
    if getattr(user, "is_authenticated", False):
        return {"model": model, "user": user.name, "auth_user_obj": user}
    return {"model": model, "user": "", "auth_user_obj": None}


def feed_count(context: dict[str, Any]) -> int | None:
    """The number of real-time feeds with a history the visitor may see,
    from the action `history_feed_count` (an int, counting the feeds of the
    datasets the caller may see), or None when no extension offers it."""
    try:
        action = tk.get_action("history_feed_count")
    except KeyError:
        return None
    try:
        count = action(dict(context), {})
    except (tk.NotAuthorized, tk.ObjectNotFound, tk.ValidationError):
        return None
    return count if isinstance(count, int) else None


def _catalogue(settings: dict[str, Any]) -> dict[str, Any]:
    """What depends on who looks: datasets and counts, as the visitor sees them."""
    search = tk.get_action("package_search")
    found = search(_user_context(), {
        "q": "*:*", "rows": RECENT_COUNT, "sort": "metadata_modified desc",
        "include_private": True, "facet.field": ["access_level", "groups"], "facet.limit": -1})
    featured: list[dict[str, Any]] = []
    if settings["featured"]:
        quoted = " OR ".join(json.dumps(name) for name in settings["featured"])
        hits = search(_user_context(), {"fq": f"name:({quoted})",
                                        "rows": len(settings["featured"]),
                                        "include_private": False})["results"]
        by_name = {pkg["name"]: pkg for pkg in hits}
        featured = [_dataset_item(by_name[n]) for n in settings["featured"] if n in by_name]
    levels = _facet(found, "access_level")
    return {
        "count": found["count"],
        "levels": [{**level, "count": levels.get(level["value"], 0)}
                   for level in helpers.grandlyon_access_levels()],
        "feeds": feed_count(_user_context()),
        "groups": _facet(found, "groups"),
        "recent": [_dataset_item(pkg) for pkg in found["results"]],
        "featured": featured,
    }


def _site() -> dict[str, Any]:
    """What is the same for every visitor: themes and communes."""
    context = {"model": model, "user": ""}
    groups = tk.get_action("group_list")(context, {
        "all_fields": True, "limit": THEMES_MAX, "sort": "title asc"})
    themes = [{"name": g["name"], "title": g.get("display_name") or g.get("title") or g["name"],
               "image": g.get("image_display_url") or ""} for g in groups]
    try:
        communes = tk.get_action("communes_list")(dict(context), {})
    except KeyError:
        communes = None
    if communes is not None:
        communes = [{"name": c["name"], "title": c["title"], "logo": c.get("logo") or "",
                     "url": c["url"]} for c in communes]
    return {"themes": themes, "communes": communes}


# --- the cache ----------------------------------------------------------------------

def _audience() -> str:
    """Who sees the same catalogue: sysadmins, or the set of permission
    labels (package_search's filter)."""
    user = tk.current_user
    if not getattr(user, "is_authenticated", False):
        user = None
    if user is not None and user.sysadmin:
        return "sysadmin"
    labels = sorted(get_permission_labels().get_user_dataset_labels(user))
    return hashlib.sha256(" ".join(labels).encode()).hexdigest()[:32]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _cached(redis: Any, key: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if redis is not None:
        try:
            hit = redis.get(key)
            if hit:
                return json.loads(hit)
        except RedisError:
            log.exception("home page cache unreadable")
            redis = None
    value = make()
    if redis is not None:
        try:
            redis.set(key, json.dumps(value), ex=config.home_cache_seconds())
        except RedisError:
            log.exception("home page cache not written")
    return value


def page_data(lang: str | None = None) -> dict[str, Any]:
    """Everything the home page shows, for the current visitor in `lang`
    (the page's language by default)."""
    lang = lang or tk.h.lang() or "fr"
    settings = _settings()
    redis, generation = None, "0"
    if config.home_cache_seconds() > 0:
        try:
            redis = connect_to_redis()
            generation = (redis.get(_GENERATION) or b"0").decode()
        except RedisError:
            log.exception("home page cache out of reach: computed")
            redis = None
    base_key = f"{_CACHE_PREFIX}{generation}:{lang}:{_digest(settings)}"
    site = _cached(redis, f"{base_key}:site", _site)
    catalogue = _cached(redis, f"{base_key}:{_audience()}", lambda: _catalogue(settings))
    themes = [{**theme, "count": catalogue["groups"].get(theme["name"], 0)}
              for theme in site["themes"]]
    communes = site["communes"]
    return {
        "intro": Markup(_intro(settings, lang)),
        "style": Markup(_style(settings)),
        "logo": _logo(settings),
        "themes": themes,
        "communes": communes,
        "figures": {"datasets": catalogue["count"], "levels": catalogue["levels"],
                    "communes": None if communes is None else len(communes),
                    "feeds": catalogue["feeds"]},
        "featured": catalogue["featured"],
        "recent": catalogue["recent"],
    }


def forget(sender: Any = None, **_kwargs: Any) -> None:
    """Drops every cached home page (after a write action: CKAN's
    `action_succeeded` signal, whose sender is the action's name)."""
    if sender is not None and not (isinstance(sender, str) and _WRITES.search(sender)):
        return
    try:
        connect_to_redis().incr(_GENERATION)
    except RedisError:
        log.exception("home page cache not dropped")


# --- the view -----------------------------------------------------------------------

def index() -> str:
    """The home page (replaces CKAN's `home.index`)."""
    user = tk.current_user
    if getattr(user, "is_authenticated", False) and not user.email:
        # CKAN's own notice, with its translations.
        url = tk.h.url_for("user.edit")
        tk.h.flash_notice(
            tk._('Please <a href="%s">update your profile</a> and add your email address. ')
            % url + tk._("%s uses your email address if you need to reset your password.")
            % tk.config.get("ckan.site_title"), allow_html=True)
    return base.render("home/index.html", extra_vars={"home": page_data()})


def install(app: Any) -> None:
    """Serves the home page with `index` and drops the cached pages after
    every write action."""
    if "home.index" in app.view_functions:
        app.view_functions["home.index"] = index
    signals.action_succeeded.connect(forget)
