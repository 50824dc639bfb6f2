"""Web pages of two-factor sign-in (site/twofactor.py), on the access
plugin's blueprint (`add_routes`, called by views.py):

- `/user/<id>/two-factor`: the user's own page: switch it on (QR code,
  secret, first code, recovery codes shown once), regenerate the recovery
  codes, switch it off (refused when it is required of the user).
- `/user/two-factor/verify`: the code (or a recovery code) after a right
  password, for a pending sign-in.
- `/user/two-factor/enrol`: the enrolment a required user goes through
  after a right password, before being logged in.
- `/user/<id>/two-factor/reset`: a sysadmin removes a user's factor.
- `require_enrolment`, before every request: a session of a user the
  configuration requires a factor of, without one (logged in before the
  requirement), reaches only the user's two-factor page and logging out.

`password_step` is the login form's IAuthenticator hook: it checks the
password and, for a user with (or required to have) a second factor,
keeps a pending sign-in instead of logging in.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import ckan.lib.base as base
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.config.middleware.flask_app import csrf
from ckan.lib import authenticator, signals
from ckan.views.user import regenerate_session, rotate_token
from ckanext.grandlyon_access import config
from ckanext.grandlyon_access.site import sessions, twofactor
from flask import Blueprint, Response, current_app, g, request, session


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path of this site (no scheme, no host, no
    `//` or `/\\` that browsers read as another host), else None."""
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if any(ord(char) < 32 for char in target) or not tk.h.url_is_local(target):
        return None
    return target


def _complete_login(user: model.User, remember: str | None, next_url: str | None,
                    redirect: bool = True, second_factor: bool = False) -> Response | None:
    """Logs `user` in as CKAN's login view does (new session, new CSRF token);
    `second_factor`: the sign-in passed a code, which the session remembers."""
    twofactor.drop_pending(session)
    regenerate_session()
    if remember and str(remember).isdigit():
        tk.login_user(user, remember=True,
                      duration=datetime.timedelta(milliseconds=int(remember)))
    else:
        tk.login_user(user)
    rotate_token()
    if second_factor:
        session[_DONE] = user.id
    if not redirect:
        return None
    target = safe_next(next_url)
    return tk.redirect_to(target) if target else tk.redirect_to("user.read", id=user.name)


def password_step() -> Response | None:
    """The login form's first step (IAuthenticator.login): None lets CKAN
    show the form; a right password logs in, or, when the user has (or
    must have) a second factor, starts a pending sign-in."""
    if request.method != "POST" or tk.current_user.is_authenticated:
        return None
    identity = {"login": request.form.get("login"), "password": request.form.get("password")}
    user = authenticator.ckan_authenticator(identity)  # sends `failed_login` on failure
    if not user:
        if tk.config.get("ckan.recaptcha.privatekey"):
            tk.h.flash_error(tk._("Login failed. Bad username or password or CAPTCHA."))
        else:
            tk.h.flash_error(tk._("Login failed. Bad username or password."))
        return base.render("user/login.html", {})
    next_url = safe_next(request.args.get("next", request.args.get("came_from")))
    remember = request.form.get("remember")
    if twofactor.is_enabled(user.id):
        twofactor.start_pending(session, user, "verify", next_url, remember)
        return tk.redirect_to("grandlyon_access.two_factor_verify")
    if twofactor.is_required(user):
        twofactor.start_pending(session, user, "enrol", next_url, remember)
        return tk.redirect_to("grandlyon_access.two_factor_enrol")
    return _complete_login(user, remember, next_url)


def _pending_user(purpose: str) -> tuple[dict[str, Any] | None, model.User | None]:
    state = twofactor.pending(session, purpose)
    user = model.User.get(state["user_id"]) if state else None
    if user is None or user.state != "active":
        twofactor.drop_pending(session)
        return None, None
    return state, user


def _expired() -> Response:
    tk.h.flash_error(tk._("Your sign-in has expired or was not started. Log in again."))
    return tk.redirect_to("user.login")


def _wrong_code(user: model.User) -> None:
    """A refused code. An empty or malformed one is a form error, not
    counted; a real code that is wrong or replayed counts as a failed login
    (throttling, CKAN's signal)."""
    code = request.form.get("code", "")
    if not twofactor.well_formed(code):
        tk.h.flash_error(tk._("Enter the 6-digit code from your app, or a recovery code."))
        return None
    signals.failed_login.send(user.name)
    if twofactor.was_used(user.id, code):
        tk.h.flash_error(tk._("This code was already used: wait for the next code of your "
                              "app."))
    else:
        tk.h.flash_error(tk._("This code is not valid. Check your authentication app's clock "
                              "and try again with a new code."))
    return None


def _check_csrf_token() -> None:
    """CKAN exempts from CSRF protection every request not authenticated by
    its session (it takes them for API-token calls: `identify_user` sets
    `g.login_via_auth_header` whenever the session has no user), so the
    pages of a pending sign-in, whose visitor is not logged in yet, check
    the token themselves (a 400 without it, as for other forms)."""
    if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED"):
        csrf.protect()


def verify() -> Any:
    _check_csrf_token()
    state, user = _pending_user("verify")
    if user is None:
        return _expired()
    if request.method == "POST":
        code = request.form.get("code", "")
        if twofactor.check_code_or_recovery(user.id, code):
            return _complete_login(user, state.get("remember"), state.get("next"),
                                   second_factor=True)
        _wrong_code(user)
    return base.render("grandlyon_access/two_factor/verify.html", {"pending_user": user})


def _setup_vars(user: model.User, action_url: str) -> dict[str, Any]:
    secret = twofactor.start_enrolment(user.id)
    uri = twofactor.provisioning_uri(user, secret)
    return {"the_user": user, "secret": secret, "qr_svg": tk.literal(twofactor.qr_svg(uri)),
            "action_url": action_url}


def _codes_page(user: model.User, codes: list[str], next_url: str | None) -> str:
    return base.render("grandlyon_access/two_factor/codes.html", {
        "the_user": user, "codes": codes,
        "continue_url": safe_next(next_url) or tk.h.url_for("user.read", id=user.name)})


def enrol() -> Any:
    _check_csrf_token()
    state, user = _pending_user("enrol")
    if user is None:
        return _expired()
    if twofactor.is_enabled(user.id):  # switched on meanwhile: a code, not its secret
        twofactor.start_pending(session, user, "verify", state.get("next"), state.get("remember"))
        return tk.redirect_to("grandlyon_access.two_factor_verify")
    if request.method == "POST":
        if twofactor.check_code(user.id, request.form.get("code", ""), enabling=True):
            codes = twofactor.enable(user.id)
            _complete_login(user, state.get("remember"), None, redirect=False,
                            second_factor=True)
            return _codes_page(user, codes, state.get("next"))
        _wrong_code(user)
    extra = _setup_vars(user, tk.h.url_for("grandlyon_access.two_factor_enrol"))
    return base.render("grandlyon_access/two_factor/enrol.html", extra)


def _myself(id: str) -> model.User:
    user = tk.current_user
    if not getattr(user, "is_authenticated", False) or id not in (user.name, user.id):
        return tk.abort(404, tk._("User not found"))
    return model.User.get(user.id)


def account(id: str) -> Any:
    user = _myself(id)
    enabled = twofactor.is_enabled(user.id)
    required = twofactor.is_required(user)
    if request.method == "POST":
        done = _account_post(user, enabled, required, request.form.get("do", ""))
        if done is not None:
            return done
        enabled = twofactor.is_enabled(user.id)
    extra: dict[str, Any] = {"the_user": user, "enabled": enabled, "required": required}
    if not enabled:
        extra.update(_setup_vars(user, tk.h.url_for("grandlyon_access.two_factor", id=user.name)))
    return base.render("grandlyon_access/two_factor/account.html", extra)


def _account_post(user: model.User, enabled: bool, required: bool, do: str) -> Any:
    code = request.form.get("code", "")
    if do == "enable" and not enabled:
        if twofactor.check_code(user.id, code, enabling=True):
            session[_DONE] = user.id  # this session has just given a code
            return _codes_page(user, twofactor.enable(user.id), None)
        return _wrong_code(user)
    if do == "disable" and enabled:
        if required:
            tk.h.flash_error(tk._("Two-factor sign-in is required for your account: it cannot "
                                  "be switched off."))
            return None
        if twofactor.check_code_or_recovery(user.id, code):
            twofactor.remove(user.id)
            sessions.bump(user.id)  # other sessions end; this one goes on, stamped again
            session[sessions.KEY] = sessions.stamp(user)
            tk.h.flash_success(tk._("Two-factor sign-in is switched off."))
            return tk.redirect_to("grandlyon_access.two_factor", id=user.name)
        return _wrong_code(user)
    if do == "regenerate" and enabled:
        if twofactor.check_code_or_recovery(user.id, code):
            return _codes_page(user, twofactor.new_recovery_codes(user.id), None)
        return _wrong_code(user)
    return None


def reset(id: str) -> Any:
    context = {"user": tk.current_user.name, "auth_user_obj": tk.current_user}
    try:
        result = tk.get_action("grandlyon_access_two_factor_reset")(context, {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("User not found"))
    except tk.NotAuthorized:
        if not tk.current_user.is_authenticated:
            return tk.abort(404, tk._("User not found"))
        return tk.abort(403, tk._("Only sysadmins reset a user's two-factor sign-in"))
    if result["reset"]:
        tk.h.flash_success(tk._("Two-factor sign-in of this user was reset; they were told by "
                                "e-mail."))
    else:
        tk.h.flash_notice(tk._("This user has no two-factor sign-in."))
    return tk.redirect_to("user.read", id=id)


# The id of the user whose session passed the second factor (a code at
# sign-in, or the first code when switching it on).
_DONE = "grandlyon_access_two_factor_done"
_ALLOWED_ENDPOINTS = ("grandlyon_access.two_factor", "user.logout", "user.logged_out_page",
                      "user.logged_out_redirect", "static", "webassets.index")


def _creates_a_token() -> bool:
    """Whether the request creates an API token (the API action or the
    account's tokens form)."""
    if request.endpoint == "api.action":
        return (request.view_args or {}).get("logic_function") == "api_token_create"
    return request.endpoint == "user.api_tokens" and request.method == "POST"


def _refuse(text: str, target: Response) -> Response:
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"__type": "Authorization Error", "message": text}}
        return Response(json.dumps(body), status=403, content_type="application/json")
    tk.h.flash_notice(text)
    return target


def require_enrolment() -> Response | None:
    """Before every request made with a session cookie (not an API token),
    checked afresh each time so that a role given a minute ago bites on
    the next request:

    - a user the configuration requires a factor of, without one, reaches
      only their two-factor page and logging out (JSON 403 on the API);
    - such a user with a factor, whose session never gave a code (logged in
      before the factor or the requirement), is logged out to sign in again;
    - a session that has not given a code of the user's factor creates no
      API token (a user without a factor, not required to have one, may).

    A session that gave a code costs one query (is the factor still on);
    others: the factor, then the roles (one query each, sysadmin is a column).
    """
    user = tk.current_user
    if (not getattr(user, "is_authenticated", False) or g.get("login_via_auth_header")
            or (request.endpoint or "") in _ALLOWED_ENDPOINTS
            or request.path.startswith(("/webassets/", "/api/i18n/", "/base/"))):
        return None
    enabled = twofactor.is_enabled(user.id)
    if enabled and session.get(_DONE) == user.id:
        return None
    required = bool(config.two_factor_required_for()) and twofactor.is_required(user)
    if enabled and (required or _creates_a_token()):
        tk.logout_user()
        return _refuse(tk._("Your account uses two-factor sign-in: log in again with your "
                            "code to go on."), tk.redirect_to("user.login"))
    if required:
        return _refuse(tk._("Two-factor sign-in is required for your account: set it up to "
                            "go on."),
                       tk.redirect_to("grandlyon_access.two_factor", id=user.name))
    return None


def add_routes(blueprint: Blueprint) -> None:
    """The pages of two-factor sign-in, on the plugin's blueprint."""
    both = ["GET", "POST"]
    blueprint.add_url_rule("/user/two-factor/verify", "two_factor_verify", verify, methods=both)
    blueprint.add_url_rule("/user/two-factor/enrol", "two_factor_enrol", enrol, methods=both)
    blueprint.add_url_rule("/user/<id>/two-factor", "two_factor", account, methods=both)
    blueprint.add_url_rule("/user/<id>/two-factor/reset", "two_factor_reset", reset,
                           methods=["POST"])
    blueprint.before_app_request(require_enrolment)
