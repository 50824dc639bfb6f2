"""What a page or an article shows in a language, its Markdown rendered
through CKAN's sanitiser (`h.render_markdown`: bleach keeps a short list of
tags and attributes, no script, no event attribute, links only to http(s)
and mailto), and the Atom 1.0 feed of the news."""

from __future__ import annotations

import datetime
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.editorial import images
from ckanext.grandlyon_access.editorial.model import LANGUAGES
from markupsafe import Markup

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ENDPOINTS = {"page": "grandlyon_access.editorial_page",
             "news": "grandlyon_access.editorial_article"}


def language(lang: str) -> str:
    """The record language for a UI language (English for any but French)."""
    return "fr" if str(lang).startswith("fr") else "en"


def _in(item: dict[str, Any], field: str, lang: str) -> str:
    """A field in a language, else in the other one."""
    first = language(lang)
    for code in (first, *(other for other in LANGUAGES if other != first)):
        if (item.get(f"{field}_{code}") or "").strip():
            return item[f"{field}_{code}"]
    return ""


def markdown(text: str) -> Markup:
    """Sanitised HTML of a Markdown text (no CKAN `dataset:` auto-links)."""
    return tk.h.render_markdown(text, auto_link=False)


def localised(item: dict[str, Any], lang: str) -> dict[str, Any]:
    """The record as a page in `lang`: title, sanitised HTML body, a plain
    summary, the image's address and the page's address."""
    body = _in(item, "body", lang)
    return {
        **item,
        "title": _in(item, "title", lang),
        "html": markdown(body),
        "summary": tk.h.markdown_extract(body, extract_length=240),
        "image_url": images.url(item.get("image") or ""),
        "url": tk.h.url_for(ENDPOINTS[item["kind"]], name=item["name"]),
    }


def _locale(code: str) -> str:
    """The `locale` argument of url_for: none in the URL for the default."""
    return "default" if code == tk.config["ckan.locale_default"] else code


def _rfc3339(value: str) -> str:
    return datetime.datetime.fromisoformat(value).replace(microsecond=0).isoformat() + "Z"


def _sub(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text:
        element.text = text
    return element


def entry_id(item: dict[str, Any], lang: str) -> str:
    """A stable id per article and language (an address may be renamed)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"editorial:{item['id']}:{language(lang)}").urn


def atom_feed(items: list[dict[str, Any]], lang: str) -> bytes:
    """The Atom 1.0 document of published articles in `lang`: its own
    address (rel=self), the news page (rel=alternate), one entry per
    article with its id, title, dates, address, summary and HTML content."""
    ET.register_namespace("", ATOM)
    site = tk.config.get("ckan.site_title") or "CKAN"
    code = language(lang)
    self_url = tk.h.url_for("grandlyon_access.editorial_feed", locale=_locale(code), qualified=True)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: code})
    _sub(feed, "id", self_url)
    _sub(feed, "title", f"{site} — {tk._('News')}")
    updated = max((i["modified"] for i in items), default=None)
    _sub(feed, "updated", _rfc3339(updated) if updated else
         datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
         .replace("+00:00", "Z"))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", hreflang=code,
         href=tk.h.url_for("grandlyon_access.editorial_news", locale=_locale(code), qualified=True))
    _sub(_sub(feed, "author"), "name", site)
    for item in items:
        shown = localised(item, code)
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(item, code))
        _sub(entry, "title", shown["title"])
        _sub(entry, "updated", _rfc3339(item["modified"]))
        if item.get("published"):
            _sub(entry, "published", _rfc3339(item["published"]))
        _sub(entry, "link", rel="alternate", type="text/html", hreflang=code,
             href=tk.h.url_for(ENDPOINTS["news"], name=item["name"], locale=_locale(code),
                               qualified=True))
        if shown["summary"]:
            _sub(entry, "summary", str(shown["summary"]))
        _sub(entry, "content", str(shown["html"]), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
