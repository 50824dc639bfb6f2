"""Web pages of editorial content, added to the access plugin's blueprint
(`add_routes`):

- `/pages/`, `/pages/<name>`: the static pages;
- `/news/`, `/news/<name>`: the news, newest first, ten a page;
- `/news/feed.atom`: the Atom feed of the news, in the page's language
  (`/en/news/feed.atom` in English);
- `/ckan-admin/editorial`, `.../new`, `.../<id>/edit`, `.../<id>/delete`:
  the sysadmins' list (drafts included) and forms (CSRF-protected, as every
  CKAN form).

A draft is a 404 to anyone but sysadmins, as an address that does not exist.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.editorial import images, render
from flask import Blueprint, Response, request

PER_PAGE = 10
FORM_FIELDS = ("name", "state", "title_fr", "title_en", "body_fr", "body_en")


def _context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def _may_write() -> bool:
    return tk.h.check_access("grandlyon_access_editorial_create")


def _list(kind: str, limit: int, offset: int = 0, drafts: bool = False) -> dict[str, Any]:
    return tk.get_action("grandlyon_access_editorial_list")(
        _context(), {"kind": kind, "limit": limit, "offset": offset, "include_drafts": drafts})


def _show(kind: str, name: str) -> dict[str, Any]:
    try:
        item = tk.get_action("grandlyon_access_editorial_show")(
            _context(), {"kind": kind, "name": name})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Page not found"))
    return render.localised(item, tk.h.lang())


def pages() -> str:
    result = _list("page", 100, drafts=_may_write())
    return tk.render("editorial/pages.html", {
        "items": [render.localised(i, tk.h.lang()) for i in result["results"]],
        "may_write": _may_write()})


def page(name: str) -> str:
    return tk.render("editorial/item.html", {"item": _show("page", name),
                                             "may_write": _may_write()})


def news() -> str:
    number = max(1, tk.h.get_page_number(request.args))
    result = _list("news", PER_PAGE, (number - 1) * PER_PAGE, drafts=_may_write())
    return tk.render("editorial/news.html", {
        "items": [render.localised(i, tk.h.lang()) for i in result["results"]],
        "page_number": number, "more": result["count"] > number * PER_PAGE,
        "may_write": _may_write()})


def article(name: str) -> str:
    return tk.render("editorial/item.html", {"item": _show("news", name),
                                             "may_write": _may_write()})


def feed() -> Response:
    items = tk.get_action("grandlyon_access_editorial_list")(
        {"user": "", "auth_user_obj": None}, {"kind": "news", "limit": 20})["results"]
    return Response(render.atom_feed(items, tk.h.lang()),
                    content_type="application/atom+xml; charset=utf-8")


def _only_sysadmins() -> None:
    if not _may_write():
        tk.abort(403, tk._("Only sysadmins write pages and news"))


def admin() -> str:
    _only_sysadmins()
    lang = tk.h.lang()
    return tk.render("editorial/admin.html", {
        key: [render.localised(i, lang) for i in _list(kind, 100, drafts=True)["results"]]
        for key, kind in (("pages", "page"), ("news", "news"))})


def _form_data() -> dict[str, Any]:
    data: dict[str, Any] = {f: request.form.get(f, "") for f in FORM_FIELDS}
    data["name"] = data["name"].strip()
    if request.form.get("clear_image"):
        data["clear_image"] = True
    image = request.files.get("image_upload")
    if image is not None and image.filename:
        data["image_upload"] = image
    return data


def _form(item: dict[str, Any], errors: dict[str, Any]) -> str:
    return tk.render("editorial/form.html", {"data": item, "errors": errors,
                                             "image_url": images.url(item.get("image", ""))})


def _saved(item: dict[str, Any]) -> Any:
    tk.h.flash_success(tk._("Saved."))
    return tk.redirect_to(render.ENDPOINTS[item["kind"]], name=item["name"])


def new() -> Any:
    _only_sysadmins()
    kind = request.values.get("kind", "page")
    data: dict[str, Any] = {"kind": kind if kind in render.ENDPOINTS else "page",
                            "state": "draft"}
    if request.method == "POST":
        data.update(_form_data())
        try:
            return _saved(tk.get_action("grandlyon_access_editorial_create")(_context(), data))
        except tk.ValidationError as error:
            data.pop("image_upload", None)
            return _form(data, error.error_dict)
    return _form(data, {})


def edit(id: str) -> Any:
    _only_sysadmins()
    try:
        item = tk.get_action("grandlyon_access_editorial_show")(_context(), {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Page not found"))
    if request.method == "POST":
        data = {**_form_data(), "id": id}
        try:
            return _saved(tk.get_action("grandlyon_access_editorial_update")(_context(), data))
        except tk.ValidationError as error:
            data.pop("image_upload", None)
            return _form({**item, **data}, error.error_dict)
    return _form(item, {})


def delete(id: str) -> Any:
    _only_sysadmins()
    try:
        tk.get_action("grandlyon_access_editorial_delete")(_context(), {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Page not found"))
    tk.h.flash_success(tk._("Deleted."))
    return tk.redirect_to("grandlyon_access.editorial_admin")


def add_routes(blueprint: Blueprint) -> None:
    """Adds the editorial pages to a blueprint (the access plugin's)."""
    for rule, view, methods in (
        ("/pages/", pages, ["GET"]),
        ("/pages/<name>", page, ["GET"]),
        ("/news/", news, ["GET"]),
        ("/news/feed.atom", feed, ["GET"]),
        ("/news/<name>", article, ["GET"]),
        ("/ckan-admin/editorial", admin, ["GET"]),
        ("/ckan-admin/editorial/new", new, ["GET", "POST"]),
        ("/ckan-admin/editorial/<id>/edit", edit, ["GET", "POST"]),
        ("/ckan-admin/editorial/<id>/delete", delete, ["POST"]),
    ):
        blueprint.add_url_rule(rule, f"editorial_{view.__name__}", view, methods=methods)
