"""Options of the grandlyon_access plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def default_level() -> str:
    """Access level of a dataset whose publisher chose none."""
    return tk.config["ckanext.grandlyon_access.default_level"]


def api_token_max_lifetime_days() -> int:
    """Longest lifetime of a new API token, in days (tokens.py)."""
    return tk.config["ckanext.grandlyon_access.api_token.max_lifetime_days"]


def api_token_notify_before_days() -> int:
    """Days before its expiry that a token's owner is e-mailed."""
    return tk.config["ckanext.grandlyon_access.api_token.notify_before_days"]


def outbound_allow() -> list[str]:
    """Hosts, addresses or networks fetched from even when private."""
    return tk.config["ckanext.grandlyon_access.outbound.allow"]


def outbound_max_bytes() -> int:
    """Largest remote body read, in bytes."""
    return tk.config["ckanext.grandlyon_access.outbound.max_bytes"]


def outbound_deadline() -> int:
    """Seconds a remote request may take in all."""
    return tk.config["ckanext.grandlyon_access.outbound.deadline"]


def headers_embed_endpoints() -> list[str]:
    """Endpoints of the pages other sites may frame (site/headers.py)."""
    return tk.config["ckanext.grandlyon_access.headers.embed_endpoints"]


def headers_embed_origins() -> list[str]:
    """Origins that may frame the embed pages (`*`: any)."""
    return tk.config["ckanext.grandlyon_access.headers.embed_origins"]


def headers_hsts_max_age() -> int:
    """max-age of Strict-Transport-Security, in seconds (0: not sent)."""
    return tk.config["ckanext.grandlyon_access.headers.hsts_max_age"]


def headers_img_src() -> list[str]:
    """Image sources the pages may load besides the portal."""
    return tk.config["ckanext.grandlyon_access.headers.img_src"]


def headers_connect_src() -> list[str]:
    """Origins the pages' scripts may connect to besides the portal."""
    return tk.config["ckanext.grandlyon_access.headers.connect_src"]


def headers_frame_src() -> list[str]:
    """Origins the pages may frame besides the portal."""
    return tk.config["ckanext.grandlyon_access.headers.frame_src"]


def headers_csp_report_only() -> bool:
    """Whether the Content-Security-Policy only reports (blocks nothing)."""
    return tk.config["ckanext.grandlyon_access.headers.csp_report_only"]


def throttle_enabled() -> bool:
    """Whether the doors to accounts are throttled (site/throttle.py)."""
    return tk.config["ckanext.grandlyon_access.throttle.enabled"]


def throttle_trusted_proxies() -> list[str]:
    """Reverse proxies whose `X-Forwarded-For` names the client."""
    return tk.config["ckanext.grandlyon_access.throttle.trusted_proxies"]


def throttle_limit(kind: str, scope: str) -> int:
    """Attempts counted at the door `kind` (login, reset, register,
    request) per `scope` (account, address) before refusing."""
    return tk.config[f"ckanext.grandlyon_access.throttle.{kind}.per_{scope}"]


def throttle_window(kind: str) -> int:
    """Seconds the attempts at the door `kind` are counted for."""
    return tk.config[f"ckanext.grandlyon_access.throttle.{kind}.window"]


def two_factor_required_for() -> list[str]:
    """Roles that must use two-factor sign-in (site/twofactor.py):
    `sysadmin`, `org_admin`, `restricted`; other words are ignored."""
    roles = tk.config["ckanext.grandlyon_access.two_factor.required_for"]
    return [role for role in roles if role in ("sysadmin", "org_admin", "restricted")]


def two_factor_pending_seconds() -> int:
    """Seconds a sign-in waits for its second factor."""
    return tk.config["ckanext.grandlyon_access.two_factor.pending_seconds"]


def editorial_image_max_bytes() -> int:
    """Largest image uploaded with a page or a news article, in bytes."""
    return tk.config["ckanext.grandlyon_access.editorial.image.max_bytes"]


def home_intro(lang: str) -> str:
    """The home page's introduction in `lang` (fr or en), Markdown; "" if
    none (site/home.py). A sysadmin may change it at /ckan-admin/config."""
    key = f"ckanext.grandlyon_access.home.intro_{lang}"
    return (tk.config[key] or "") if key in tk.config else ""


def home_featured() -> str:
    """Names of the home page's featured datasets, separated by spaces."""
    value = tk.config["ckanext.grandlyon_access.home.featured"]
    return " ".join(value) if isinstance(value, (list, tuple)) else (value or "")


def home_primary_colour() -> str:
    """The home page's primary colour (#rgb or #rrggbb), or ""."""
    return tk.config["ckanext.grandlyon_access.home.primary_colour"] or ""


def home_secondary_colour() -> str:
    """The home page's secondary colour (#rgb or #rrggbb), or ""."""
    return tk.config["ckanext.grandlyon_access.home.secondary_colour"] or ""


def home_cache_seconds() -> int:
    """Seconds the home page's data is kept in Redis (0: not kept)."""
    return tk.config["ckanext.grandlyon_access.home.cache_seconds"]


def proxy_levels() -> list[str]:
    """Access levels whose linked files the download route streams itself
    (proxy.py) instead of redirecting to their origin."""
    return tk.config["ckanext.grandlyon_access.proxy.levels"]


def proxy_origin_names() -> list[str]:
    """Names of the origins the data proxy knows (with their credentials)."""
    return tk.config["ckanext.grandlyon_access.proxy.origins"]


PROXY_ORIGIN_FIELDS = ("url_prefix", "auth", "header", "username", "secret")


def proxy_origin(name: str) -> dict[str, str]:
    """The settings of the proxy origin `name` (PROXY_ORIGIN_FIELDS, "" when
    unset): `ckanext.grandlyon_access.proxy.origin.<name>.<field>`, declared
    as dynamic options."""
    prefix = f"ckanext.grandlyon_access.proxy.origin.{name}."
    return {field: str(tk.config.get(prefix + field) or "").strip()
            for field in PROXY_ORIGIN_FIELDS}


def proxy_connect_timeout() -> int:
    """Seconds the data proxy waits to connect to an origin."""
    return tk.config["ckanext.grandlyon_access.proxy.connect_timeout"]


def proxy_read_timeout() -> int:
    """Seconds the data proxy waits for each piece of an origin's answer."""
    return tk.config["ckanext.grandlyon_access.proxy.read_timeout"]


def proxy_deadline() -> int:
    """Seconds one proxied download may last in all."""
    return tk.config["ckanext.grandlyon_access.proxy.deadline"]


def proxy_max_bytes() -> int:
    """Largest answer, in bytes, the data proxy passes on."""
    return tk.config["ckanext.grandlyon_access.proxy.max_bytes"]
