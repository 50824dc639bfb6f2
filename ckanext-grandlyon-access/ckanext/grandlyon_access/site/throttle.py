"""Throttles the doors to an account: logging in, asking for a password
reset, registering, asking for access to a dataset.

Counters live in Redis (`ckan.lib.redis.connect_to_redis`), so every web
worker and process of the portal shares them. Each door (`KINDS`) counts per
account and per client address, in a fixed window that starts at the first
counted attempt (`INCR`, then `EXPIRE` on a new key, in one Lua script):

- `login` counts *failures* (the login form, CKAN's old-password check
  on the profile form, second-factor codes: site/twofactor.py). Each
  attempt takes a slot before the password is
  checked, so a burst of parallel guesses cannot slip past the limit; an
  attempt that did not fail (no `failed_login` signal: right password, empty
  form...) gives its slots back, and a successful login clears the
  account's counter. Refused attempts are not counted, so an attacker
  hammering one account fills that account's counter only: the address's
  limit (higher) is reached only by failures spread over many accounts.
- `reset`, `register` and `request` count *requests*: every POST (from the
  form or, for registration and access requests, the action API).
  Sysadmins are not throttled there.

Past a limit the attempt is refused, even with the right password, until
the window ends: 429 with `Retry-After` and, in the user's language, when
to try again (a page for forms, JSON for the API). A sysadmin clears the
counters of an account or an address (`unlock`, the action
`grandlyon_access_throttle_unlock`, `ckan grandlyon-access unlock`).

The client's address is the connection's, or, from a trusted proxy
(`ckanext.grandlyon_access.throttle.trusted_proxies`), the last address of
`X-Forwarded-For` that is not one; IPv6 addresses count per /64 (what one
subscriber gets). If Redis cannot be reached, nothing is throttled and the
error is logged: logging in does not depend on the counters.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import logging
import math
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import signals
from ckan.lib.redis import connect_to_redis
from ckanext.grandlyon_access import config
from ckanext.grandlyon_access.site import twofactor
from flask import Response, request, session
from markupsafe import escape
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KINDS = ("login", "reset", "register", "request")
SCOPES = ("account", "address")

# The request's reservation (login) and whether a login failed in it.
_RESERVED = "grandlyon_access.throttle.reserved"
_FAILED = "grandlyon_access.throttle.failed"

# INCR, and a window on a key that has none; the new count.
_TAKE = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
# DECR a key that still exists (an expired window stays expired).
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""

# Web endpoint -> door; API actions -> door.
_FORM_DOORS = {
    "user.login": "login",
    "user.edit": "login",
    "grandlyon_access.two_factor_verify": "login",
    "grandlyon_access.two_factor_enrol": "login",
    "grandlyon_access.two_factor": "login",
    "user.request_reset": "reset",
    "user.register": "register",
    "grandlyon_access.request_access": "request",
}
_API_DOORS = {"user_create": "register", "grandlyon_access_request_create": "request"}


@dataclasses.dataclass
class Attempt:
    """One attempt at a door: its counters' keys, once taken."""

    kind: str
    account: str | None
    address: str
    keys: list[str] = dataclasses.field(default_factory=list)


# --- who is asking --------------------------------------------------------------------

def _networks(values: list[str]) -> list[Any]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            log.warning("throttle.trusted_proxies: not an address or network: %r", value)
    return networks


def _within(address: str, networks: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def normalise_address(address: str) -> str:
    """The counted form of an address: an IPv4 address as is, an IPv6
    address as its /64 network; anything else as given."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address() -> str:
    """The address of the client of this request: the connection's, or,
    through trusted proxies, the nearest hop of `X-Forwarded-For` that is
    not one of them."""
    peer = request.remote_addr or ""
    trusted = _networks(config.throttle_trusted_proxies())
    if not _within(peer, trusted):
        return normalise_address(peer)
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")
            if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return normalise_address(hop)
    return normalise_address(hops[0] if hops else peer)


def account_of(login: str) -> str:
    """The counted form of a login name: the user's name when it names a
    user (by name or e-mail address), so both count as one account; the
    text given, lower-cased, otherwise."""
    login = (login or "").strip()[:200]
    user = model.User.by_name(login) or (model.User.by_email(login) if "@" in login else None)
    return user.name if user is not None else login.lower()


# --- counters -------------------------------------------------------------------------

def _key(kind: str, scope: str, value: str) -> str:
    return f"{tk.config['ckan.site_id']}:grandlyon_access:throttle:{kind}:{scope}:{value}"


def _limit(attempt: Attempt, scope: str) -> int:
    return config.throttle_limit(attempt.kind, scope)


def _take(attempt: Attempt) -> int | None:
    """Counts the attempt on its account and address; None when it is
    within the limits, else the seconds until the fullest counter's window
    ends (the attempt is then not counted)."""
    redis = connect_to_redis()
    window = config.throttle_window(attempt.kind)
    take = redis.register_script(_TAKE)
    scopes = [("account", attempt.account), ("address", attempt.address)]
    over = []
    for scope, value in scopes:
        if not value:
            continue
        key = _key(attempt.kind, scope, value)
        attempt.keys.append(key)
        if int(take(keys=[key], args=[window])) > _limit(attempt, scope):
            over.append(key)
    if not over:
        return None
    wait = max(int(redis.ttl(key)) for key in over)
    _give_back(attempt)
    return max(wait, 1)


def _give_back(attempt: Attempt) -> None:
    give_back = connect_to_redis().register_script(_GIVE_BACK)
    for key in attempt.keys:
        give_back(keys=[key])
    attempt.keys = []


def unlock(account: str | None = None, address: str | None = None,
           kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Clears the counters of an account (a user name or e-mail address,
    or any login text) and/or an address, for the doors `kinds`; the
    counters that held something, as `door scope value`."""
    targets = []
    if account:
        targets.append(("account", account_of(account)))
    if address:
        targets.append(("address", normalise_address(address)))
    redis = connect_to_redis()
    cleared = []
    for kind in kinds:
        for scope, value in targets:
            if redis.delete(_key(kind, scope, value)):
                cleared.append(f"{kind} {scope} {value}")
    return cleared


def clear_all() -> int:
    """Clears every throttling counter of the site (`ckan.site_id`); how
    many there were."""
    redis = connect_to_redis()
    keys = list(redis.scan_iter(_key("*", "*", "*"), count=1000))
    return redis.delete(*keys) if keys else 0


# --- the doors ------------------------------------------------------------------------

def _posted(name: str) -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
    else:
        value = request.form.get(name)
    return value if isinstance(value, str) else ""


def _is_sysadmin() -> bool:
    return bool(getattr(tk.current_user, "sysadmin", False))


def _current_name() -> str | None:
    user = tk.current_user
    return user.name if getattr(user, "is_authenticated", False) else None


def _attempt() -> Attempt | None:
    """The throttled attempt this request makes, if it makes one."""
    if request.method != "POST":
        return None
    endpoint = request.endpoint or ""
    kind = _FORM_DOORS.get(endpoint)
    if endpoint == "api.action":
        kind = _API_DOORS.get((request.view_args or {}).get("logic_function", ""))
    if kind is None:
        return None
    if kind == "login":
        if endpoint == "user.edit":  # the old-password check of the profile form
            if not request.form.get("old_password") or _current_name() is None:
                return None
            return Attempt(kind, _current_name(), client_address())
        if endpoint.startswith("grandlyon_access.two_factor"):  # a second-factor code
            account = _current_name() or twofactor.pending_account(session)
            return Attempt(kind, account, client_address())
        return Attempt(kind, account_of(request.form.get("login", "")), client_address())
    if _is_sysadmin():
        return None
    if kind == "reset":
        account = account_of(request.form.get("user", ""))
    elif kind == "register":
        account = _posted("name").strip().lower()[:200]
    else:
        account = _current_name()
        if account is None:  # the view sends the visitor to the login page
            return None
    return Attempt(kind, account or None, client_address())


def guard() -> Response | None:
    """Before the view: counts a throttled attempt, or refuses it when a
    counter is full."""
    if not config.throttle_enabled():
        return None
    attempt = _attempt()
    if attempt is None:
        return None
    try:
        wait = _take(attempt)
    except RedisError as error:
        log.error("throttling skipped, Redis unreachable: %s", error)
        return None
    if wait is not None:
        log.warning("throttled: %s by %r from %s", attempt.kind, attempt.account, attempt.address)
        return refusal(wait)
    if attempt.kind == "login":
        request.environ[_RESERVED] = attempt
    return None


def settle(error: BaseException | None = None) -> None:
    """After the view: a login attempt that did not fail gives its slots
    back."""
    attempt = request.environ.pop(_RESERVED, None)
    if attempt is None or request.environ.get(_FAILED):
        return
    try:
        _give_back(attempt)
    except RedisError as problem:
        log.error("throttle counters not given back, Redis unreachable: %s", problem)


def _login_failed(sender: Any, **kwargs: Any) -> None:
    if request:
        request.environ[_FAILED] = True


def _logged_in(sender: Any, **kwargs: Any) -> None:
    """A successful login clears the account's failures (not the
    address's: another account's success says nothing about them)."""
    user = kwargs.get("user")
    name = getattr(user, "name", None)
    if not name or not request or not config.throttle_enabled():
        return
    try:
        connect_to_redis().delete(_key("login", "account", name))
    except RedisError as error:
        log.error("throttle counter not cleared, Redis unreachable: %s", error)


# --- the refusal ----------------------------------------------------------------------

def message(wait: int) -> str:
    """When to try again, in the user's language."""
    minutes = max(1, math.ceil(wait / 60))
    return tk.ungettext(
        "Too many attempts. For your security, try again in %(minutes)s minute.",
        "Too many attempts. For your security, try again in %(minutes)s minutes.",
        minutes, minutes=minutes)


def refusal(wait: int) -> Response:
    """429 with `Retry-After`: JSON for the API, a page for forms."""
    text = message(wait)
    headers = {"Retry-After": str(wait)}
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"__type": "Too Many Requests", "message": text,
                                            "retry_after": wait}}
        return Response(json.dumps(body), status=429, headers=headers,
                        content_type="application/json;charset=utf-8")
    page = tk.render("grandlyon_access/throttled.html", {"message": text})
    return Response(page, status=429, headers=headers, content_type="text/html; charset=utf-8")


_RESET_MAIL_FAILED = ("Error sending the email. Try again later or contact an administrator "
                      "for help")
_RESET_DONE = "A reset link has been emailed to you (unless the account specified does not exist)"


def _same_reset_answer(view: Any) -> Any:
    """CKAN's password reset request (`user.request_reset`) answers an
    account whose mail failed with its own error, and an unknown account
    with the generic message: with SMTP down that tells which accounts
    exist. Wrapped, both get the generic message and the same redirect; the
    failure is logged (CKAN logs MailerException; other errors of the
    mailer are caught here)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(*args, **kwargs)
        try:
            response = view(*args, **kwargs)
        except Exception:  # noqa: BLE001 - OSError, AttributeError... from the mailer
            log.exception("password reset for %r: e-mail not sent",
                          (request.form.get("user") or "")[:100])
            model.Session.rollback()
            tk.h.flash_success(tk._(_RESET_DONE))
            return tk.redirect_to(tk.config["ckan.user_reset_landing_page"])
        failed = str(escape(tk._(_RESET_MAIL_FAILED)))  # as flash_error stores it
        flashes = session.get("_flashes") or []
        kept = [(category, message) for category, message in flashes if str(message) != failed]
        if len(kept) < len(flashes):
            session["_flashes"] = kept
            tk.h.flash_success(tk._(_RESET_DONE))
        return response

    return wrapped


def install(app: Any) -> None:
    """Guards the doors of `app` and listens to CKAN's login signals; the
    password reset request answers the same whether its mail left or not."""
    if "user.request_reset" in app.view_functions:
        app.view_functions["user.request_reset"] = _same_reset_answer(
            app.view_functions["user.request_reset"])
    app.before_request(guard)
    app.teardown_request(settle)
    signals.failed_login.connect(_login_failed)
    signals.user_logged_in.connect(_logged_in)
