"""API tokens that expire: CKAN's `expire_api_token` plugin, made fit for
partners who hold restricted data.

With `expire_api_token` loaded (config/portal.ini), through the access
plugin's IApiToken hooks (whatever the order of the two plugins):

- `create_schema`: a token asked for without `expires_in` gets the default
  lifetime (`expire_api_token.default_lifetime`, seconds) instead of a 409;
  `expires_in` alone counts in days; a boolean `expires_in` or `unit` is a
  409 naming it (not 1);
  one asked for beyond `ckanext.grandlyon_access.api_token.max_lifetime_days`
  is refused with a 409 naming `expires_in`;
- `refuse_expired`: a token whose recorded expiry
  (`plugin_extras["expire_api_token"]["exp"]`, UTC) has passed identifies
  nobody, even if its JWT has no `exp` (tokens made before the plugin was
  on, given an expiry by `backfill`).

`notify_expiring` e-mails the owner of each token that expires within
`...api_token.notify_before_days`, once per token: the notice is recorded in
the token's `plugin_extras` (`NOTICE_KEY`) and committed before the mail
leaves, so neither a rerun nor a crash sends it twice (a mail the server
refused is forgotten and tried again on the next run).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import ckan.lib.mailer as mailer
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.navl.dictization_functions import missing
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey, Schema
from ckanext.grandlyon_access import config
from flask_babel import force_locale

log = logging.getLogger(__name__)

EXPIRE_PLUGIN = "expire_api_token"
EXPIRY_KEY = "expire_api_token"  # expire_api_token's {"exp": ISO time, UTC}
NOTICE_KEY = "grandlyon_access_expiry_notice"
DAY = 86400


def utcnow() -> datetime.datetime:
    """Now, naive UTC, as CKAN stores times."""
    return datetime.datetime.utcnow()


def enabled() -> bool:
    """Whether tokens expire (CKAN's expire_api_token plugin is loaded)."""
    return p.plugin_loaded(EXPIRE_PLUGIN)


def max_lifetime() -> int:
    """Longest lifetime of a new token, in seconds."""
    return config.api_token_max_lifetime_days() * DAY


def default_lifetime() -> int:
    """Seconds a token lives when its creator asks for no lifetime."""
    return min(tk.config[f"{EXPIRE_PLUGIN}.default_lifetime"], max_lifetime())


def default_lifetime_field() -> dict[str, int]:
    """The default lifetime as the token form offers it: whole days when it
    is, otherwise seconds (`expires_in` times `unit` seconds)."""
    seconds = default_lifetime()
    if seconds % DAY == 0:
        return {"expires_in": seconds // DAY, "unit": DAY}
    return {"expires_in": seconds, "unit": 1}


def expiry_from_extras(plugin_extras: dict[str, Any] | None) -> datetime.datetime | None:
    """When a token with these plugin_extras expires (naive UTC), or None
    when it never does."""
    recorded = (plugin_extras or {}).get(EXPIRY_KEY) or {}
    try:
        return datetime.datetime.fromisoformat(recorded["exp"])
    except (KeyError, TypeError, ValueError):
        return None


def expiry_of(token: model.ApiToken) -> datetime.datetime | None:
    """When the token expires (naive UTC), or None when it never does."""
    return expiry_from_extras(token.plugin_extras)


# --- creation -----------------------------------------------------------------------

def _fill_default_lifetime(key: FlattenKey, data: FlattenDataDict,
                           errors: FlattenErrorDict, context: Context) -> None:
    """No `expires_in`: the default lifetime; `expires_in` without `unit`:
    days; a boolean (`true` would be read as 1) is refused."""
    for field in ("expires_in", "unit"):
        if isinstance(data.get((field,)), bool):
            errors.setdefault((field,), []).append(tk._("Enter a whole number."))
            data[(field,)] = missing
    if errors.get(("expires_in",)) or errors.get(("unit",)):
        return
    if data.get(("expires_in",)) in (missing, None, ""):
        data[("expires_in",)] = default_lifetime()
        data[("unit",)] = 1
    elif data.get(("unit",)) in (missing, None, ""):
        data[("unit",)] = DAY


def _cap_lifetime(key: FlattenKey, data: FlattenDataDict,
                  errors: FlattenErrorDict, context: Context) -> None:
    expires_in, unit = data.get(("expires_in",)), data.get(("unit",))
    if errors.get(("expires_in",)) or errors.get(("unit",)):
        return
    if not isinstance(expires_in, int) or not isinstance(unit, int):
        return
    if expires_in * unit > max_lifetime():
        errors.setdefault(("expires_in",), []).append(tk._(
            "An API token may live at most {days} days: ask for a shorter lifetime."
        ).format(days=config.api_token_max_lifetime_days()))


def create_schema(schema: Schema) -> Schema:
    """IApiToken.create_api_token_schema: the default lifetime when none is
    asked for, the maximum enforced. `__before`/`__after` keep working
    whether expire_api_token's own hook (it makes both fields required)
    runs before or after this one."""
    if enabled():
        schema.setdefault("__before", []).append(_fill_default_lifetime)
        schema.setdefault("__after", []).append(_cap_lifetime)
    return schema


# --- use ----------------------------------------------------------------------------

def refuse_expired(data: Any) -> Any:
    """IApiToken.preprocess_api_token: a token past its recorded expiry
    identifies nobody (CKAN then treats the request as anonymous)."""
    if not data or "jti" not in data:
        return data
    token = model.ApiToken.get(data["jti"])
    expiry = expiry_of(token) if token else None
    if expiry is not None and expiry <= utcnow():
        log.info("refused API token %s of user %s: expired at %s",
                 token.id, token.user_id, expiry.isoformat())
        return {}
    return data


# --- upgrade ------------------------------------------------------------------------

def backfill(now: datetime.datetime | None = None) -> int:
    """Gives every token without an expiry the default lifetime from `now`;
    returns how many it changed (0 on a second run)."""
    expiry = (now or utcnow()) + datetime.timedelta(seconds=default_lifetime())
    count = 0
    for token in model.Session.query(model.ApiToken).order_by(model.ApiToken.created_at):
        if expiry_of(token) is None:
            token.set_extra(EXPIRY_KEY, {"exp": expiry.isoformat()})
            count += 1
    model.Session.commit()
    return count


# --- notices ------------------------------------------------------------------------

def _due_token_ids(now: datetime.datetime) -> list[str]:
    """Tokens expiring within the notice period, not yet noticed for that
    expiry (an expiry changed by hand is noticed again)."""
    horizon = now + datetime.timedelta(days=config.api_token_notify_before_days())
    due = []
    for token in model.Session.query(model.ApiToken).order_by(model.ApiToken.created_at):
        expiry = expiry_of(token)
        if expiry is None or not now < expiry <= horizon:
            continue
        notice = (token.plugin_extras or {}).get(NOTICE_KEY) or {}
        if notice.get("exp") != expiry.isoformat():
            due.append(token.id)
    return due


def _locked(token_id: str) -> model.ApiToken | None:
    """The token, re-read under a row lock (None if another run holds it)."""
    return (model.Session.query(model.ApiToken).filter_by(id=token_id)
            .populate_existing().with_for_update(skip_locked=True).first())


def _locales() -> list[str]:
    """The portal's default language first, then the others offered."""
    default = tk.config["ckan.locale_default"]
    offered = tk.aslist(tk.config.get("ckan.locales_offered")) or [default]
    return [default] + [locale for locale in offered if locale != default]


def _message(token: model.ApiToken, expiry: datetime.datetime) -> tuple[str, str]:
    """Subject and body of the notice, in every language of the portal,
    the default one first."""
    user = token.owner
    url = tk.url_for("user.api_tokens", id=user.name, _external=True)
    subjects, bodies = [], []
    for locale in _locales():
        with force_locale(locale):
            when = tk.h.render_datetime(expiry, with_hours=True)
            subjects.append(tk._("Your API token \"{name}\" expires soon").format(name=token.name))
            bodies.append(tk._(
                "Your API token \"{name}\" on {site} expires on {date}. After that, "
                "programs that use it are refused.\n\n"
                "To keep access, create a new token and put it in their place: {url}"
            ).format(name=token.name, site=tk.config["ckan.site_title"], date=when, url=url))
    return " / ".join(dict.fromkeys(subjects)), "\n\n----\n\n".join(bodies)


def _record(token: model.ApiToken, notice: dict[str, str] | None) -> None:
    extras = dict(token.plugin_extras or {})
    if notice is None:
        extras.pop(NOTICE_KEY, None)
        token.plugin_extras = extras
    else:
        token.set_extra(NOTICE_KEY, notice)
    model.Session.commit()


def _notify_one(token_id: str, now: datetime.datetime) -> str | None:
    """Mails the notice of one token; the outcome counted (None: nothing
    to do any more)."""
    token = _locked(token_id)
    expiry = token and expiry_of(token)
    if token is None or expiry is None or not expiry > now:
        model.Session.rollback()
        return None
    notice = (token.plugin_extras or {}).get(NOTICE_KEY) or {}
    if notice.get("exp") == expiry.isoformat():
        model.Session.rollback()
        return None
    user = token.owner
    if user is None or user.state != "active":  # a deleted or pending account
        model.Session.rollback()
        return None
    if not user.email:
        model.Session.rollback()
        return "without_email"
    subject, body = _message(token, expiry)
    _record(token, {"exp": expiry.isoformat(), "state": "sending", "at": now.isoformat()})
    try:
        mailer.mail_user(user, subject, body)
    except Exception:  # the server refused it: forget the notice, try on the next run
        log.exception("could not e-mail the expiry of API token %s to %s", token_id, user.name)
        _record(model.ApiToken.get(token_id), None)
        return "failed"
    _record(model.ApiToken.get(token_id), {"exp": expiry.isoformat(), "state": "sent",
                                           "at": now.isoformat()})
    return "sent"


def notify_expiring(now: datetime.datetime | None = None) -> dict[str, int]:
    """E-mails the owners of the tokens that expire soon, once per token.
    Needs a request context (links, languages). Returns the counts of
    `sent`, `without_email` (skipped) and `failed` notices."""
    now = now or utcnow()
    counts = {"sent": 0, "without_email": 0, "failed": 0}
    for token_id in _due_token_ids(now):
        outcome = _notify_one(token_id, now)
        if outcome:
            counts[outcome] += 1
    return counts

