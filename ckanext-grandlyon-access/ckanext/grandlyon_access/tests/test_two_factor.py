"""Two-factor sign-in (site/twofactor.py, site/twofactor_views.py), through
the real stack with real TOTP codes computed by pyotp: enrolment, sign-in,
throttling of wrong codes, replay, recovery codes, the pending state,
redirects, roles that must use it, the sysadmin's reset, CSRF, escaping and
both languages.

A TOTP code is valid for its time step and one step either way, once: the
tests use the steps before, at and after the current one (`code`), and
wait out the last seconds of a step so that none slips out of the window.
"""

from __future__ import annotations

import html
import re
import time

import ckan.model as model
import pyotp
import pytest
import sqlalchemy as sa
from ckan.cli.cli import ckan as ckan_command
from ckan.lib import signals
from ckan.lib.redis import connect_to_redis
from ckanext.grandlyon_access.model import AccountLog, TwoFactor, TwoFactorRecoveryCode
from ckanext.grandlyon_access.site import throttle, twofactor
from ckanext.grandlyon_access.testing.pytest_plugin import (
    PASSWORD,
    World,
    auth_allows,
    auth_context,
    make_actor,
)

TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')
SECRET = re.compile(r'id="two-factor-secret">([A-Z2-7]+)<')
CODES = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>")
LOGIN_PER_ACCOUNT = 5
REQUIRED = "ckanext.grandlyon_access.two_factor.required_for"


class TwoFactorWorld(World):
    """An organisation with its admin and a member, a sysadmin, users of
    their own, a restricted dataset granted to one user personally and to
    a circle with one member."""

    def __init__(self) -> None:
        super().__init__(users={"admin": "tf-orgadmin", "member": "tf-member",
                                "sysadmin": "tf-root", "grantee": "tf-grantee",
                                "circle": "tf-circle", "plain": "tf-plain"},
                         datasets=("restricted", "open"), creator="sysadmin", table=False,
                         email="{name}@example.org")
        self.grant("restricted", "grantee", by="sysadmin")
        circle = self.call("grandlyon_access_circle_create", name="tf-partners",
                           title="Partners")
        self.call("grandlyon_access_circle_member_create", circle_id=circle["id"],
                  user=self.circle.name)
        self.call("grandlyon_access_grant_create", package_id="ds-restricted",
                  circle_id=circle["id"])


@pytest.fixture(scope="module")
def world(portal_for_module):
    return TwoFactorWorld()


def page(res) -> str:
    return html.unescape(res.get_data(as_text=True))


def csrf(client, url: str) -> str:
    return TOKEN.search(client.get(url).get_data(as_text=True)).group(1)


def wait_for_a_fresh_step() -> None:
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.2)


def code(secret: str, step_offset: int = 0) -> str:
    """The code of the time step `step_offset` away from now."""
    return pyotp.TOTP(secret).at(time.time() + 30 * step_offset)


def log_in(client, login: str, password: str = PASSWORD, next_url: str = "",
           address: str = "10.60.0.1", lang: str = ""):
    query = f"?next={next_url}" if next_url else ""
    environ = {"REMOTE_ADDR": address}
    token = TOKEN.search(client.get(f"{lang}/user/login", environ_base=environ)
                         .get_data(as_text=True)).group(1)
    return client.post(f"{lang}/user/login{query}", environ_base=environ,
                       follow_redirects=False,
                       data={"login": login, "password": password, "_csrf_token": token})


def give_code(client, value: str, address: str = "10.60.0.1", url: str = "/user/two-factor/verify"):
    environ = {"REMOTE_ADDR": address}
    token = TOKEN.search(client.get(url, environ_base=environ).get_data(as_text=True))
    return client.post(url, environ_base=environ, follow_redirects=False,
                       data={"code": value, "_csrf_token": token.group(1) if token else ""})


def logged_in_as(client, name: str) -> bool:
    return client.get(f"/user/{name}/two-factor").status_code == 200


def enrol(app, name: str) -> tuple[str, list[str]]:
    """Switches two-factor sign-in on for `name` through its page (code of
    the previous step); its secret and recovery codes."""
    wait_for_a_fresh_step()
    client = app.test_client()
    assert log_in(client, name).status_code == 302
    res = client.get(f"/user/{name}/two-factor")
    secret = SECRET.search(page(res)).group(1)
    url = f"/user/{name}/two-factor"
    res = client.post(url, data={"do": "enable", "code": code(secret, -1),
                                 "_csrf_token": csrf(client, url)})
    assert res.status_code == 200
    return secret, CODES.findall(page(res))


@pytest.fixture
def failed_logins():
    seen = []

    def receive(sender, **kwargs):
        seen.append(sender)

    signals.failed_login.connect(receive)
    yield seen
    signals.failed_login.disconnect(receive)


# --- enrolment ------------------------------------------------------------------------

def test_enrolment_needs_a_right_first_code_and_shows_recovery_codes_once(app, world):
    client = app.test_client()
    assert log_in(client, "tf-member").status_code == 302
    url = "/user/tf-member/two-factor"
    res = client.get(url)
    assert res.status_code == 200
    text = page(res)
    assert "<svg" in text and "grandlyon-two-factor-qr-svg" in text
    secret = SECRET.search(text).group(1)
    assert "La double authentification est désactivée" in text

    res = client.post(url, data={"do": "enable", "code": "000000",
                                 "_csrf_token": csrf(client, url)})
    assert "Ce code n'est pas valide" in page(res)
    assert not twofactor.is_enabled(world.member.id)

    wait_for_a_fresh_step()
    res = client.post(url, data={"do": "enable", "code": code(secret),
                                 "_csrf_token": csrf(client, url)})
    codes = CODES.findall(page(res))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert twofactor.is_enabled(world.member.id)

    # shown once: the page now says it is on, with no code and no secret
    again = page(client.get(url))
    assert "La double authentification est activée" in again
    assert not CODES.findall(again) and secret not in again

    # stored: the secret encrypted, the recovery codes hashed
    row = model.Session.execute(sa.select(TwoFactor.__table__)
                                .where(TwoFactor.user_id == world.member.id)).one()
    assert secret not in row.secret and secret.lower() not in row.secret.lower()
    hashes = model.Session.execute(sa.select(TwoFactorRecoveryCode.code_hash)
                                   .where(TwoFactorRecoveryCode.user_id == world.member.id)
                                   ).scalars().all()
    assert len(hashes) == 10
    stored = " ".join(hashes)
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)


# --- signing in -----------------------------------------------------------------------

def test_password_alone_does_not_log_in_and_the_right_code_does(app, world, failed_logins):
    secret, _ = enrol(app, "tf-plain")
    client = app.test_client()
    res = log_in(client, "tf-plain", next_url="/dataset/")
    assert res.status_code == 302 and res.headers["Location"].endswith("/user/two-factor/verify")
    assert not logged_in_as(client, "tf-plain")
    assert "Saisissez le code à 6 chiffres" in page(client.get("/user/two-factor/verify"))

    res = give_code(client, "123456")
    assert res.status_code == 200 and "Ce code n'est pas valide" in page(res)
    assert failed_logins == ["tf-plain"]
    assert not logged_in_as(client, "tf-plain")

    res = give_code(client, code(secret))
    assert res.status_code == 302 and res.headers["Location"].endswith("/dataset/")
    assert logged_in_as(client, "tf-plain")

    # the same code (time step) again, in another sign-in: refused
    other = app.test_client()
    assert log_in(other, "tf-plain").status_code == 302
    res = give_code(other, code(secret))
    assert res.status_code == 200 and not logged_in_as(other, "tf-plain")
    # the next step's code is accepted (one step of drift)
    assert give_code(other, code(secret, 1)).status_code == 302
    assert logged_in_as(other, "tf-plain")


def test_wrong_codes_are_throttled_like_wrong_passwords(app, world, failed_logins):
    secret, _ = enrol(app, "tf-grantee")
    client = app.test_client()
    address = "10.61.0.1"
    assert log_in(client, "tf-grantee", address=address).status_code == 302
    for _ in range(LOGIN_PER_ACCOUNT):
        assert give_code(client, "999999", address=address).status_code == 200
    assert failed_logins.count("tf-grantee") == LOGIN_PER_ACCOUNT
    assert int(connect_to_redis().get(throttle._key("login", "account", "tf-grantee"))) \
        == LOGIN_PER_ACCOUNT
    assert int(connect_to_redis().get(throttle._key("login", "address", address))) \
        == LOGIN_PER_ACCOUNT
    res = give_code(client, code(secret, 1), address=address)
    assert res.status_code == 429
    assert "Trop de tentatives" in page(res)
    assert not logged_in_as(client, "tf-grantee")


def test_an_empty_or_malformed_code_is_a_form_error_not_a_failed_login(app, world,
                                                                         failed_logins):
    """Slips (empty, letters, five digits) are not counted: more of them than
    the limit still leave the right code working."""
    user = make_actor()
    secret, _ = enrol(app, user.name)
    client = app.test_client()
    address = "10.62.0.1"
    assert log_in(client, user.name, address=address).status_code == 302
    for value in ("", "   ", "abc", "12345", "1234567", "12345a", "", ""):
        res = give_code(client, value, address=address)
        assert res.status_code == 200
        assert "Saisissez le code à 6 chiffres de votre application" in page(res)
    assert failed_logins == []
    res = give_code(client, "123456", address=address)
    assert "Ce code n'est pas valide" in page(res) and failed_logins == [user.name]
    assert give_code(client, code(secret, 1), address=address).status_code == 302


def test_a_replayed_code_says_it_was_used(app, world, failed_logins):
    user = make_actor()
    secret, _ = enrol(app, user.name)
    first = app.test_client()
    assert log_in(first, user.name).status_code == 302
    used = code(secret, 1)
    assert give_code(first, used).status_code == 302
    again = app.test_client()
    assert log_in(again, user.name).status_code == 302
    res = give_code(again, used)
    assert res.status_code == 200 and "Ce code a déjà été utilisé" in page(res)
    assert failed_logins == [user.name]
    assert not logged_in_as(again, user.name)


def test_a_recovery_code_logs_in_once(app, world):
    secret, codes = enrol(app, "tf-circle")
    client = app.test_client()
    assert log_in(client, "tf-circle").status_code == 302
    assert give_code(client, codes[3].upper()).status_code == 302
    assert logged_in_as(client, "tf-circle")
    again = app.test_client()
    assert log_in(again, "tf-circle").status_code == 302
    assert give_code(again, codes[3]).status_code == 200
    assert not logged_in_as(again, "tf-circle")


@pytest.mark.ckan_config("ckanext.grandlyon_access.two_factor.pending_seconds", "1")
def test_the_pending_sign_in_expires(app, world):
    secret, _ = enrol(app, "tf-orgadmin")
    client = app.test_client()
    assert log_in(client, "tf-orgadmin").status_code == 302
    time.sleep(2.1)
    res = give_code(client, code(secret))
    assert res.status_code == 302 and res.headers["Location"].endswith("/user/login")
    assert not logged_in_as(client, "tf-orgadmin")
    # and the code is still good for a new sign-in
    assert log_in(client, "tf-orgadmin").status_code == 302
    assert give_code(client, code(secret, 1)).status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_next_to_another_site_is_not_followed(app, world, target):
    user = make_actor()
    secret, _ = enrol(app, user.name)
    client = app.test_client()
    assert log_in(client, user.name, next_url=target).status_code == 302
    res = give_code(client, code(secret))
    assert res.status_code == 302
    assert "evil.example" not in res.headers["Location"]
    assert "javascript" not in res.headers["Location"]


def test_a_user_without_two_factor_logs_in_with_the_password(app, world):
    user = make_actor()
    client = app.test_client()
    res = log_in(client, user.name)
    assert res.status_code == 302 and "two-factor" not in res.headers["Location"]
    assert logged_in_as(client, user.name)


# --- required by configuration --------------------------------------------------------

@pytest.mark.ckan_config(REQUIRED, "sysadmin org_admin restricted")
def test_who_must_use_it(world, ckan_config):
    required = {name: twofactor.is_required(model.User.get(name))
                for name in ("tf-root", "tf-orgadmin", "tf-grantee", "tf-circle", "tf-member")}
    assert required == {"tf-root": True, "tf-orgadmin": True, "tf-grantee": True,
                        "tf-circle": True, "tf-member": False}


def test_nobody_must_by_default(world):
    assert not twofactor.is_required(model.User.get("tf-root"))


@pytest.mark.ckan_config(REQUIRED, "sysadmin org_admin restricted")
def test_a_required_user_enrols_before_being_logged_in(app, world):
    root = make_actor(sysadmin=True)
    client = app.test_client()
    res = log_in(client, root.name, next_url="/dataset/")
    assert res.status_code == 302 and res.headers["Location"].endswith("/user/two-factor/enrol")
    assert not logged_in_as(client, root.name)
    assert client.get("/ckan-admin/").status_code != 200
    res = client.get("/user/two-factor/enrol")
    text = page(res)
    assert "La double authentification est obligatoire pour le compte" in text
    secret = SECRET.search(text).group(1)
    assert "Ce code n'est pas valide" in page(give_code(client, "000000",
                                                         url="/user/two-factor/enrol"))
    wait_for_a_fresh_step()
    res = give_code(client, code(secret), url="/user/two-factor/enrol")
    assert res.status_code == 200 and len(CODES.findall(page(res))) == 10
    assert 'href="/dataset/"' in res.get_data(as_text=True)
    assert logged_in_as(client, root.name)
    # required: it cannot be switched off
    url = f"/user/{root.name}/two-factor"
    res = client.post(url, data={"do": "disable", "code": code(secret, 1),
                                 "_csrf_token": csrf(client, url)})
    assert "ne peut pas être désactivée" in page(res)
    assert twofactor.is_enabled(root.id)
    # a plain user is not asked
    plain = make_actor()
    assert "two-factor" not in log_in(app.test_client(), plain.name).headers["Location"]


@pytest.mark.ckan_config(REQUIRED, "sysadmin")
def test_a_session_from_before_the_requirement_must_enrol_first(app, world):
    """Logged in before the requirement applied (here: made sysadmin since):
    only the two-factor page and logging out until the factor is on."""
    user = make_actor()
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302  # not required yet
    model.User.get(user.id).sysadmin = True
    model.Session.commit()
    res = client.get("/dataset/", follow_redirects=False)
    assert res.status_code == 302
    assert res.headers["Location"].endswith(f"/user/{user.name}/two-factor")
    assert client.get("/api/3/action/package_list").status_code == 403
    text = page(client.get(f"/user/{user.name}/two-factor"))
    assert "La double authentification est obligatoire pour votre compte : configurez-la" in text
    # an API token is not affected, nor are visitors
    assert app.get("/api/3/action/package_list", headers=user.headers).status_code == 200
    assert app.test_client().get("/dataset/").status_code == 200
    # once enrolled, the session goes on
    wait_for_a_fresh_step()
    url = f"/user/{user.name}/two-factor"
    secret = SECRET.search(text).group(1)
    client.post(url, data={"do": "enable", "code": code(secret),
                           "_csrf_token": csrf(client, url)})
    assert client.get("/dataset/", follow_redirects=False).status_code == 200


PROMOTIONS = {
    "sysadmin": lambda world, user: world.call("user_patch", id=user.name, sysadmin=True),
    "org_admin": lambda world, user: world.call("organization_member_create",
                                                id=world.org["id"], username=user.name,
                                                role="admin"),
    "restricted": lambda world, user: world.call("grandlyon_access_grant_create",
                                                 package_id="ds-restricted", user=user.name),
}


@pytest.mark.ckan_config(REQUIRED, "sysadmin org_admin restricted")
@pytest.mark.parametrize("role", sorted(PROMOTIONS))
def test_a_promotion_bites_on_the_very_next_request(app, world, role):
    """The session was in use before the promotion (no "checked" grace):
    the next page and the next API call with the cookie are refused, and
    no token or user change is made in between."""
    user, victim = make_actor(), make_actor()
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302
    assert client.get("/dataset/", follow_redirects=False).status_code == 200
    token = csrf(client, "/dataset/")
    PROMOTIONS[role](world, user)
    res = client.get("/dataset/", follow_redirects=False)
    assert res.status_code == 302
    assert res.headers["Location"].endswith(f"/user/{user.name}/two-factor")
    headers = {"X-CSRFToken": token}
    res = client.post("/api/3/action/api_token_create", headers=headers,
                      json={"user": user.name, "name": "window"})
    assert res.status_code == 403
    res = client.post("/api/3/action/user_patch", headers=headers,
                      json={"id": victim.name, "sysadmin": True})
    assert res.status_code == 403
    assert not model.Session.query(model.ApiToken).filter_by(user_id=user.id).filter(
        model.ApiToken.name == "window").count()
    assert not model.User.get(victim.id).sysadmin


def test_a_session_without_the_code_creates_no_token(app, world):
    """A session opened with the password alone, before the user switched
    the factor on elsewhere, makes no API token; one that gave a code does."""
    user = make_actor()
    old = app.test_client()
    assert log_in(old, user.name).status_code == 302
    token = csrf(old, "/dataset/")
    secret, _ = enrol(app, user.name)
    res = old.post("/api/3/action/api_token_create", headers={"X-CSRFToken": token},
                   json={"user": user.name, "name": "old-session"})
    assert res.status_code == 403
    assert not logged_in_as(old, user.name)
    fresh = app.test_client()
    assert log_in(fresh, user.name).status_code == 302
    assert give_code(fresh, code(secret, 1)).status_code == 302
    res = fresh.post("/api/3/action/api_token_create",
                     headers={"X-CSRFToken": csrf(fresh, "/dataset/")},
                     json={"user": user.name, "name": "fresh-session"})
    assert res.status_code == 200 and res.json["result"]["token"]
    # a user without a factor, not required to have one, still makes tokens
    plain = make_actor()
    client = app.test_client()
    assert log_in(client, plain.name).status_code == 302
    res = client.post("/api/3/action/api_token_create",
                      headers={"X-CSRFToken": csrf(client, "/dataset/")},
                      json={"user": plain.name, "name": "plain"})
    assert res.status_code == 200


@pytest.mark.ckan_config(REQUIRED, "sysadmin")
def test_a_pending_enrolment_never_shows_a_factor_switched_on_meanwhile(app, world):
    root = make_actor(sysadmin=True)
    client = app.test_client()
    assert log_in(client, root.name).headers["Location"].endswith("/user/two-factor/enrol")
    # the user switches it on elsewhere (another sign-in) while this one waits
    wait_for_a_fresh_step()
    secret = twofactor.start_enrolment(root.id)
    assert twofactor.check_code(root.id, code(secret), enabling=True)
    twofactor.enable(root.id)
    res = client.get("/user/two-factor/enrol", follow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"].endswith("/user/two-factor/verify")
    assert secret not in res.get_data(as_text=True)
    assert secret not in client.get("/user/two-factor/verify").get_data(as_text=True)
    assert twofactor.start_enrolment(root.id) is None
    assert give_code(client, code(secret, 1)).status_code == 302
    assert logged_in_as(client, root.name)


def test_switching_off_needs_a_code(app, world):
    user = make_actor()
    secret, codes = enrol(app, user.name)
    client = app.test_client()
    log_in(client, user.name)
    give_code(client, codes[0])
    url = f"/user/{user.name}/two-factor"
    client.post(url, data={"do": "disable", "code": "000000", "_csrf_token": csrf(client, url)})
    assert twofactor.is_enabled(user.id)
    res = client.post(url, data={"do": "disable", "code": codes[1],
                                 "_csrf_token": csrf(client, url)}, follow_redirects=False)
    assert res.status_code == 302 and not twofactor.is_enabled(user.id)


def test_new_recovery_codes_replace_the_old_ones(app, world):
    user = make_actor()
    secret, codes = enrol(app, user.name)
    client = app.test_client()
    log_in(client, user.name)
    give_code(client, codes[0])
    url = f"/user/{user.name}/two-factor"
    res = client.post(url, data={"do": "regenerate", "code": code(secret, 1),
                                 "_csrf_token": csrf(client, url)})
    new = CODES.findall(page(res))
    assert len(new) == 10 and not set(new) & set(codes)
    assert not twofactor.use_recovery_code(user.id, codes[1])
    assert twofactor.use_recovery_code(user.id, new[0])


# --- the sysadmin's reset -------------------------------------------------------------

def test_a_sysadmin_resets_a_user_who_is_told(app, world, mailbox):
    user = make_actor(email="tf-reset@example.org")
    enrol(app, user.name)
    client = app.test_client()
    log_in(client, "tf-root")
    res = client.get(f"/user/{user.name}")
    assert 'id="two-factor-reset"' in res.get_data(as_text=True)
    res = client.post(f"/user/{user.name}/two-factor/reset",
                      data={"_csrf_token": csrf(client, f"/user/{user.name}")},
                      follow_redirects=False)
    assert res.status_code == 302
    assert not twofactor.is_enabled(user.id)
    message = mailbox.wait_for("tf-reset@example.org")
    assert user.name in mailbox.text(message) or "double authentification" in mailbox.text(message)
    logged = model.Session.execute(sa.select(AccountLog.__table__)
                                   .where(AccountLog.user_id == user.id)).one()
    assert logged.event == "two_factor_reset" and logged.actor_id == world.sysadmin.id
    # the user logs in with the password alone again
    assert "two-factor" not in log_in(app.test_client(), user.name).headers["Location"]


@pytest.mark.ckan_config("smtp.server", "127.0.0.1:1")
def test_a_reset_stands_when_the_mail_fails(app, world, monkeypatch):
    """SMTP down (or any error of the mailer): 200 and the factor removed,
    from the API and the page; a user without a factor: {"reset": false}."""
    user = make_actor(email="tf-nomail@example.org")
    enrol(app, user.name)
    res = app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": user.name},
                   headers=world.sysadmin.headers)
    assert res.json["result"] == {"reset": True} and not twofactor.is_enabled(user.id)
    res = app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": user.name},
                   headers=world.sysadmin.headers)
    assert res.json["result"] == {"reset": False}
    import ckan.lib.mailer as mailer

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'encode'")

    monkeypatch.setattr(mailer, "mail_user", broken)
    enrol(app, user.name)
    client = app.test_client()
    log_in(client, "tf-root")
    res = client.post(f"/user/{user.name}/two-factor/reset",
                      data={"_csrf_token": csrf(client, f"/user/{user.name}")},
                      follow_redirects=False)
    assert res.status_code == 302 and not twofactor.is_enabled(user.id)


def test_only_sysadmins_reset(app, world):
    user = make_actor()
    enrol(app, user.name)
    anonymous = app.test_client()
    token = csrf(anonymous, "/user/login")
    assert anonymous.post(f"/user/{user.name}/two-factor/reset",
                          data={"_csrf_token": token}).status_code == 404
    other = app.test_client()
    assert log_in(other, make_actor().name).status_code == 302
    res = other.get(f"/user/{user.name}")
    assert 'id="two-factor-reset"' not in res.get_data(as_text=True)
    assert other.post(f"/user/{user.name}/two-factor/reset",
                      data={"_csrf_token": csrf(other, "/dataset/")}).status_code == 403
    assert twofactor.is_enabled(user.id)
    res = app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": user.name},
                   headers=world.member.headers, status=403)
    assert twofactor.is_enabled(user.id)
    res = app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": user.name},
                   headers=world.sysadmin.headers)
    assert res.json["result"] == {"reset": True}


def test_the_reset_action_answers_visitors_403_whoever_is_named(app, world):
    """As the README says: the same 403 for an existing and an unknown user."""
    for name in ("tf-member", "nobody-by-that-name"):
        res = app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": name},
                       status=403)
        assert res.json["error"]["__type"] == "Authorization Error"


def test_the_reset_from_the_command_line(app, world, cli):
    user = make_actor()
    enrol(app, user.name)
    result = cli.invoke(ckan_command, ["grandlyon-access", "two-factor-reset", user.name])
    assert result.exit_code == 0, result.output
    assert "reset" in result.output
    assert not twofactor.is_enabled(user.id)


def test_the_reset_auth_function_is_sysadmin_only(world):
    name = "grandlyon_access_two_factor_reset"
    assert not auth_allows(name, auth_context(world.admin.name), id=world.member.name)
    assert not auth_allows(name, auth_context(world.member.name), id=world.member.name)
    assert not auth_allows(name, auth_context("", anonymous_object=True), id=world.member.name)
    assert auth_allows(name, auth_context(world.sysadmin.name), id=world.member.name)


# --- sessions that end -----------------------------------------------------------------

def alive(client, name: str) -> bool:
    """Whether the client's cookies still log `name` in (an ended session is
    sent to the login page)."""
    return client.get(f"/user/{name}/two-factor", follow_redirects=False).status_code == 200


def copy_of(client, app):
    """Another browser holding the same cookies (a copied or stolen cookie)."""
    return cookies_of(client, app, ("ckan", "remember_token", "grandlyon_access_remember"))


def cookies_of(client, app, names):
    other = app.test_client()
    for cookie in list(client._cookies.values()):
        if cookie.key in names:
            other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def test_a_copied_cookie_ends_with_logging_out(app, world):
    user = make_actor()
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302
    copy = copy_of(client, app)
    assert alive(copy, user.name)
    client.get("/user/_logout")
    assert not alive(copy, user.name)
    res = copy.get("/dashboard/datasets", follow_redirects=False)
    assert res.status_code == 302 and "/user/login" in res.headers["Location"]
    # a new login works
    assert log_in(client, user.name).status_code == 302 and alive(client, user.name)


def test_a_copied_remember_me_cookie_ends_with_logging_out(app, world):
    user = make_actor()
    client = app.test_client()
    token = TOKEN.search(client.get("/user/login").get_data(as_text=True)).group(1)
    client.post("/user/login", data={"login": user.name, "password": PASSWORD,
                                     "remember": "63072000", "_csrf_token": token})
    names = ("remember_token", "grandlyon_access_remember")
    assert {cookie.key for cookie in client._cookies.values()} >= set(names)
    remembered = cookies_of(client, app, names)  # the remember-me cookies alone
    stolen = cookies_of(client, app, names)
    assert alive(remembered, user.name)
    client.get("/user/_logout")
    assert not alive(stolen, user.name)


def test_a_copied_cookie_ends_with_a_password_change(app, world):
    user = make_actor()
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302
    copy = copy_of(client, app)
    world.call("user_patch", id=user.name, password="An0ther-Passw0rd!")
    assert not alive(copy, user.name)
    assert not alive(client, user.name)


def test_a_copied_cookie_ends_with_a_two_factor_reset(app, world):
    user = make_actor()
    secret, _ = enrol(app, user.name)
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302
    assert give_code(client, code(secret, 1)).status_code == 302
    copy = copy_of(client, app)
    assert alive(copy, user.name)
    app.post("/api/3/action/grandlyon_access_two_factor_reset", json={"id": user.name},
             headers=world.sysadmin.headers)
    assert not alive(copy, user.name)
    res = copy.post("/api/3/action/api_token_create", json={"user": user.name, "name": "x"})
    assert res.status_code == 403


# --- forms, escaping, languages -------------------------------------------------------

def test_the_forms_refuse_a_post_without_csrf_token(app, world):
    user = make_actor()
    client = app.test_client()
    log_in(client, user.name)
    res = client.post(f"/user/{user.name}/two-factor", data={"do": "enable", "code": "1"})
    assert res.status_code == 400
    res = client.post(f"/user/{user.name}/two-factor/reset", data={})
    assert res.status_code == 400


def test_the_code_and_enrolment_forms_need_the_csrf_token(app, world):
    """A pending sign-in is not logged in, which CKAN exempts from CSRF
    protection: the code and enrolment forms check the token themselves."""
    user = make_actor()
    secret, _ = enrol(app, user.name)
    client = app.test_client()
    assert log_in(client, user.name).status_code == 302
    res = client.post("/user/two-factor/verify", data={"code": code(secret, 1)},
                      headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert res.status_code == 400 and not logged_in_as(client, user.name)
    res = client.post("/user/two-factor/enrol", data={"code": "123456"},
                      follow_redirects=False)
    assert res.status_code == 400
    assert give_code(client, code(secret, 1)).status_code == 302
    assert logged_in_as(client, user.name)


def test_another_users_page_is_missing(app, world):
    client = app.test_client()
    log_in(client, make_actor().name)
    assert client.get("/user/tf-member/two-factor").status_code == 404
    assert app.test_client().get("/user/tf-member/two-factor").status_code == 404


def test_a_name_with_markup_is_escaped(app, world):
    user = make_actor(fullname='<script>alert("tf")</script><img src=x onerror=alert(1)>')
    client = app.test_client()
    log_in(client, user.name)
    body = client.get(f"/user/{user.name}/two-factor").get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in body
    # the sign-in's code page and the recovery codes page name the user too
    secret, _ = enrol(app, user.name)
    other = app.test_client()
    log_in(other, user.name)
    body = other.get("/user/two-factor/verify").get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;" in body


def test_the_pages_in_english(app, world):
    user = make_actor()
    client = app.test_client()
    log_in(client, user.name)
    text = page(client.get(f"/en/user/{user.name}/two-factor"))
    assert "Two-factor sign-in is off" in text and "Code from the app" in text
    text = page(client.get(f"/user/{user.name}/two-factor"))
    assert "Code de l'application" in text


def test_the_users_own_page_links_to_it_and_only_theirs(app, world):
    user = make_actor()
    client = app.test_client()
    log_in(client, user.name)
    assert f'href="/user/{user.name}/two-factor"' in client.get(f"/user/{user.name}").get_data(
        as_text=True)
    assert 'href="/user/tf-member/two-factor"' not in client.get("/user/tf-member").get_data(
        as_text=True)
