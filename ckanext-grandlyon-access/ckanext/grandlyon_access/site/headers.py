"""Security headers on every response of the portal.

After every request (`add_security_headers`, installed by the plugin's
make_middleware) the response carries:

- `X-Content-Type-Options: nosniff` and
  `Referrer-Policy: strict-origin-when-cross-origin`;
- a `Content-Security-Policy` whose `script-src` is `'self'` plus a nonce
  made for the request: no inline script runs unless the template gave it
  the nonce (`csp_nonce`, the `grandlyon_access_csp_nonce` helper), and no
  inline event handler runs at all. Styles may be inline (`'unsafe-inline'`
  in `style-src`): CKAN's templates and JavaScript modules set `style=`
  attributes, and a style cannot run code. Images, XHR and frames come from
  the portal, plus the origins configured (and the basemap's tile server,
  and Gravatar unless CKAN's `ckan.gravatar_default` is `disabled`);
- framing: `frame-ancestors 'none'` and `X-Frame-Options: DENY`, except
  for the pages meant to be embedded (`ckanext.grandlyon_access.headers.
  embed_endpoints`: chart, map and history embeds, the commune widget
  frame), which the portal itself and the origins of `...embed_origins`
  (any by default) may frame, and for CKAN's resource view pages, which the
  portal frames in its own resource pages (`'self'`, `SAMEORIGIN`);
- `Strict-Transport-Security` when the request came over HTTPS or the
  portal's `ckan.site_url` is https (`...hsts_max_age`, 0: never).

With `...csp_report_only` the policy is sent as
`Content-Security-Policy-Report-Only`: browsers report violations and block
nothing (for trying a new policy in production).
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Any
from urllib.parse import urlparse

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access import config
from flask import Response, g, request
from markupsafe import Markup

TEMPLATES_FIRST = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates_first")
REFERRER_POLICY = "strict-origin-when-cross-origin"
TILE_URL_KEY = "ckanext.dataviz.basemap.tile_url"

# A CSP source as configured: `*`, a scheme (`https:`), or a host with an
# optional scheme, `*.` wildcard and port. Anything else (quotes, `;`, paths)
# is dropped.
_SOURCE = re.compile(r"^(\*|[a-z][a-z0-9+.-]*:|([a-z][a-z0-9+.-]*://)?[a-z0-9*.\[\]-]+(:[0-9*]+)?)$",
                     re.I)
# An inline <script> (no src) as written by a template.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)", re.I)


def csp_nonce() -> str:
    """The nonce of this request's Content-Security-Policy: an inline
    `<script nonce="...">` with it runs, any other inline script does not."""
    nonce = getattr(g, "grandlyon_access_csp_nonce", None)
    if nonce is None:
        nonce = g.grandlyon_access_csp_nonce = secrets.token_urlsafe(18)
    return nonce


def nonce_inline_scripts(html: str, drop_handlers: tuple[str, ...] = ()) -> Markup:
    """A template's own output with this request's nonce on its inline
    scripts and without the inline event handlers named (exact attribute
    text, e.g. `onclick="fitColText()"`: an asset binds them instead).

    For the output of CKAN's template blocks that write an inline script
    (`{{ h.grandlyon_access_csp_markup(super()) }}`): user text in them is
    escaped, so every `<script` left in them is the template's own."""
    out = _INLINE_SCRIPT.sub(f'<script nonce="{csp_nonce()}"', str(html))
    for handler in drop_handlers:
        out = out.replace(f" {handler}", "")
    return Markup(out)


def put_templates_first(config_: Any) -> None:
    """Puts templates_first/ before every plugin's templates: overrides of
    templates of plugins listed before this one in `ckan.plugins` (CKAN's
    DataTables view), which `add_template_directory` cannot override. Run
    from IConfigurable.configure, after CKAN computed the template paths."""
    paths = [path for path in config_.get("computed_template_paths") or []
             if path != TEMPLATES_FIRST]
    config_["computed_template_paths"] = [TEMPLATES_FIRST, *paths]


def _sources(values: list[str]) -> list[str]:
    return [value for value in values if _SOURCE.match(value)]


def _tile_source() -> list[str]:
    """The origin of the basemap's tiles, when the dataviz plugin has one
    (`{s}.tiles.example` becomes `*.tiles.example`)."""
    url = tk.config.get(TILE_URL_KEY) or ""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return []
    netloc = re.sub(r"\{[a-z]+\}", "*", parsed.netloc)
    return _sources([f"{parsed.scheme}://{netloc}"])


def _gravatar_source() -> list[str]:
    """CKAN shows users without a picture their Gravatar, from
    `//gravatar.com` (the page's scheme), unless `ckan.gravatar_default` is
    `disabled`."""
    return [] if tk.config.get("ckan.gravatar_default") == "disabled" else ["gravatar.com"]


def content_security_policy(frame_ancestors: str) -> str:
    """The policy of a response, with this request's nonce."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{csp_nonce()}'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *_tile_source(), *_gravatar_source(),
                    *_sources(config.headers_img_src())],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", *_sources(config.headers_connect_src())],
        "frame-src": ["'self'", *_sources(config.headers_frame_src())],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": [frame_ancestors],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}"
                     for name, values in directives.items())


def _is_embed() -> bool:
    return request.endpoint in config.headers_embed_endpoints()


def _is_resource_view() -> bool:
    """CKAN's resource view page (`<type>_resource.view`), framed by the
    portal's resource page."""
    endpoint = request.endpoint or ""
    return endpoint == "resource.view" or endpoint.endswith("_resource.view")


def _frame_ancestors() -> str:
    if _is_embed():
        origins = _sources(config.headers_embed_origins())
        if "*" in origins:
            return "*"
        return " ".join(["'self'", *origins])
    if _is_resource_view():
        return "'self'"
    return "'none'"


def _hsts_applies() -> bool:
    if config.headers_hsts_max_age() <= 0:
        return False
    site_url = tk.config.get("ckan.site_url") or ""
    return request.scheme == "https" or site_url.startswith("https://")


def add_security_headers(response: Response) -> Response:
    """After every request: the headers of the module docstring, replacing
    whatever a view set for them."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = REFERRER_POLICY
    ancestors = _frame_ancestors()
    if ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"
    elif ancestors == "'self'":
        headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        headers.pop("X-Frame-Options", None)
    policy = content_security_policy(ancestors)
    headers.pop("Content-Security-Policy", None)
    headers.pop("Content-Security-Policy-Report-Only", None)
    if config.headers_csp_report_only():
        # frame-ancestors is ignored in a report-only policy: enforce it alone.
        headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        headers["Content-Security-Policy-Report-Only"] = policy
    else:
        headers["Content-Security-Policy"] = policy
    if _hsts_applies():
        headers["Strict-Transport-Security"] = f"max-age={config.headers_hsts_max_age()}"
    return response
