"""Sessions that can be revoked. CKAN keeps the session in a signed cookie
(`SESSION_TYPE = cookie`) and Flask-Login's `remember_token` is the user's id
signed: neither is ever revoked, so a copied cookie worked after logging
out, a password change or a two-factor reset.

Each session (and each remember-me cookie, through a companion cookie
`COOKIE`) is stamped at login with the user's *stamp*: a generation counter
kept in the user's `plugin_extras` and a keyed fingerprint of the password
hash. Before every request made with the session cookie, a stamp that no
longer matches the user's logs the session out (a redirect to the login
page, a JSON 403 on the API). It costs no query: the user row is loaded
already.

- A password change (any path: form, reset link, API, command line) changes
  the fingerprint;
- logging out (`/user/_logout`), a two-factor reset or switching the factor
  off bump the generation: every session of the user ends, on every
  device (with sessions in a signed cookie, ending this one alone would
  need a server-side list of ended sessions).

Sessions and remember-me cookies made before this module have no stamp:
they count as generation 0 and end at the first bump.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
import flask_login
from ckan.lib import signals
from flask import Response, after_this_request, g, request, session
from itsdangerous import BadSignature, URLSafeSerializer

KEY = "grandlyon_access_session_stamp"
COOKIE = "grandlyon_access_remember"
EXTRAS = "grandlyon_access"
GENERATION = "session_generation"


def _secret() -> str:
    return tk.config.get("SECRET_KEY") or tk.config.get("beaker.session.secret") or ""


def stamp(user: model.User) -> list[Any]:
    """The user's current stamp: [generation, password fingerprint]."""
    extras = (user.plugin_extras or {}).get(EXTRAS) or {}
    fingerprint = hmac.new(_secret().encode(), (user.password or "").encode(),
                           hashlib.sha256).hexdigest()[:32]
    return [int(extras.get(GENERATION, 0)), fingerprint]


def bump(user_id: str) -> None:
    """Ends every session and remember-me cookie of the user."""
    user = model.User.get(user_id)
    if user is None:
        return
    extras = dict(user.plugin_extras or {})
    mine = dict(extras.get(EXTRAS) or {})
    mine[GENERATION] = int(mine.get(GENERATION, 0)) + 1
    extras[EXTRAS] = mine
    user.plugin_extras = extras
    model.Session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(_secret(), salt="grandlyon_access.remember")


def _logged_in(sender: Any, user: model.User | None = None, **kwargs: Any) -> None:
    """Flask-Login's `user_logged_in`: the session, and the remember-me
    cookie if one is set, get the user's stamp."""
    if user is None or not hasattr(user, "plugin_extras"):
        return
    current = stamp(user)
    session[KEY] = current
    if session.get("_remember") == "set":
        seconds = int(session.get("_remember_seconds") or 365 * 86400)
        value = _serializer().dumps([user.id, current])

        @after_this_request
        def set_cookie(response: Response) -> Response:
            response.set_cookie(COOKIE, value, max_age=seconds, httponly=True,
                                secure=request.is_secure, samesite="Lax")
            return response


def _loaded_from_cookie(sender: Any, user: model.User | None = None, **kwargs: Any) -> None:
    """A remember-me login: the session takes the companion cookie's stamp
    (none: generation 0)."""
    if user is None:
        return
    try:
        user_id, remembered = _serializer().loads(request.cookies.get(COOKIE, ""))
    except (BadSignature, ValueError, TypeError):
        user_id, remembered = None, None
    session[KEY] = remembered if user_id == user.id else [0, stamp(user)[1]]


def _logged_out(sender: Any, user: Any = None, **kwargs: Any) -> None:
    """Logging out from CKAN's logout page ends all the user's sessions."""
    if request and request.endpoint == "user.logout" and getattr(user, "id", None):
        bump(user.id)


def check() -> Response | None:
    """Before a request made with the session cookie: a stamp that does not
    match the user's ends the session."""
    user = tk.current_user
    if not getattr(user, "is_authenticated", False) or g.get("login_via_auth_header"):
        return None
    current = stamp(user)
    stamped = session.get(KEY) or [0, current[1]]  # unstamped: from before this module
    if list(stamped) == current:
        return None
    flask_login.logout_user()
    session.pop(KEY, None)
    text = tk._("Your session has ended (you logged out, or your password or two-factor "
                "sign-in changed). Log in again.")
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"__type": "Authorization Error", "message": text}}
        return Response(json.dumps(body), status=403, content_type="application/json")
    tk.h.flash_notice(text)
    return tk.redirect_to("user.login")


def install(app: Any) -> None:
    """Stamps sessions at login and checks them before every request."""
    flask_login.user_logged_in.connect(_logged_in)
    flask_login.user_loaded_from_cookie.connect(_loaded_from_cookie)
    signals.user_logged_out.connect(_logged_out)
    app.before_request(check)
