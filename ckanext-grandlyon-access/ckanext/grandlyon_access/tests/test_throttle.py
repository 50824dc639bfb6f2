"""Throttling of the doors to accounts (site/throttle.py), through the real
stack: the login form, password reset requests, registration and access
requests, per account and per client address, with counters in Redis
shared by every web process (two live `ckan run` processes).

The shared test plugin clears the counters before each test; each test
also comes from its own client address (`REMOTE_ADDR`).
"""

from __future__ import annotations

import html
import re
import time

import ckan.plugins.toolkit as tk
import pytest
import requests
from ckan.lib.redis import connect_to_redis
from ckan.tests import helpers
from ckanext.grandlyon_access.site import throttle
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, free_port, make_actor

LOGIN_PER_ACCOUNT = 5  # the defaults (config_declaration.yaml)
LOGIN_PER_ADDRESS = 30
TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')


@pytest.fixture(scope="module")
def people(portal_for_module):
    """Users with the fixtures' password, and a sysadmin."""
    people = {name: make_actor(f"thr-{name}", email=f"thr-{name}@example.org")
              for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")}
    people["root"] = make_actor("thr-root", sysadmin=True)
    yield people
    throttle.clear_all()


def log_in(client, login: str, password: str, address: str, lang: str = ""):
    """Posts the login form as a browser from `address` would."""
    environ = {"REMOTE_ADDR": address}
    page = client.get(f"{lang}/user/login", environ_base=environ)
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    return client.post(f"{lang}/user/login", environ_base=environ, follow_redirects=False,
                       data={"login": login, "password": password, "_csrf_token": token})


def fail(app, login: str, address: str, times: int) -> None:
    client = app.test_client()
    for _ in range(times):
        res = log_in(client, login, "wrong-password", address)
        assert res.status_code == 200 and "Authentification échouée" in page_text(res)


def page_text(res) -> str:
    return html.unescape(res.get_data(as_text=True))


# --- logging in -----------------------------------------------------------------------

def test_failed_logins_lock_the_account_even_with_the_right_password(app, people):
    fail(app, "thr-alice", "10.1.0.1", LOGIN_PER_ACCOUNT)
    res = log_in(app.test_client(), "thr-alice", PASSWORD, "10.1.0.2")
    assert res.status_code == 429
    wait = int(res.headers["Retry-After"])
    assert 0 < wait <= 900
    assert ("Trop de tentatives. Par sécurité, réessayez dans 15 minutes."
            in page_text(res)), page_text(res)[:3000]
    # by e-mail address: the same account
    res = log_in(app.test_client(), "thr-alice@example.org", PASSWORD, "10.1.0.3")
    assert res.status_code == 429


def test_the_refusal_is_in_english_on_english_pages(app, people):
    fail(app, "thr-carol", "10.2.0.1", LOGIN_PER_ACCOUNT)
    res = log_in(app.test_client(), "thr-carol", PASSWORD, "10.2.0.1", lang="/en")
    assert res.status_code == 429 and res.headers["Retry-After"]
    assert "Too many attempts. For your security, try again in 15 minutes." in page_text(res)


def test_an_attacker_hammering_one_account_does_not_block_another_user(app, people):
    attacker = app.test_client()
    for _ in range(LOGIN_PER_ADDRESS + 10):
        log_in(attacker, "thr-dave", "guess", "10.3.0.1")
    assert log_in(attacker, "thr-dave", PASSWORD, "10.3.0.1").status_code == 429
    res = log_in(app.test_client(), "thr-bob", PASSWORD, "10.3.0.1")
    assert res.status_code == 302


def test_failures_spread_over_many_accounts_lock_the_address(app, people):
    client = app.test_client()
    for number in range(LOGIN_PER_ADDRESS):
        res = log_in(client, f"nobody-{number}", "guess", "10.4.0.1")
        assert res.status_code == 200
    res = log_in(client, "thr-bob", PASSWORD, "10.4.0.1")
    assert res.status_code == 429
    assert log_in(client, "thr-bob", PASSWORD, "10.4.0.2").status_code == 302


def test_a_successful_login_clears_the_account_failures(app, people):
    fail(app, "thr-bob", "10.5.0.1", LOGIN_PER_ACCOUNT - 1)
    assert log_in(app.test_client(), "thr-bob", PASSWORD, "10.5.0.1").status_code == 302
    fail(app, "thr-bob", "10.5.0.1", LOGIN_PER_ACCOUNT - 1)
    assert log_in(app.test_client(), "thr-bob", PASSWORD, "10.5.0.1").status_code == 302


@pytest.mark.ckan_config("ckanext.grandlyon_access.throttle.login.window", "2")
def test_the_lock_ends_with_the_window(app, people):
    fail(app, "thr-frank", "10.6.0.1", LOGIN_PER_ACCOUNT)
    assert connect_to_redis().ttl(throttle._key("login", "account", "thr-frank")) <= 2
    res = log_in(app.test_client(), "thr-frank", PASSWORD, "10.6.0.2")
    assert res.status_code == 429 and res.headers["Retry-After"] in ("1", "2")
    time.sleep(2.5)
    assert log_in(app.test_client(), "thr-frank", PASSWORD, "10.6.0.2").status_code == 302


def test_a_wrong_old_password_on_the_profile_form_counts_as_a_failure(app, people):
    client = app.test_client()
    assert log_in(client, "thr-erin", PASSWORD, "10.12.0.1").status_code == 302
    environ = {"REMOTE_ADDR": "10.12.0.1"}
    for _ in range(LOGIN_PER_ACCOUNT):
        page = client.get("/user/edit/thr-erin", environ_base=environ)
        res = client.post("/user/edit/thr-erin", environ_base=environ, data={
            "name": "thr-erin", "email": "thr-erin@example.org", "old_password": "guess",
            "password1": "New-Password-2026", "password2": "New-Password-2026", "save": "",
            "_csrf_token": TOKEN.search(page.get_data(as_text=True)).group(1)})
        assert res.status_code == 200 and "incorrect" in page_text(res)
    assert log_in(app.test_client(), "thr-erin", PASSWORD, "10.12.0.2").status_code == 429


# --- unlocking ------------------------------------------------------------------------

def test_a_sysadmin_unlocks_an_account_through_the_api(app, people):
    fail(app, "thr-grace", "10.7.0.1", LOGIN_PER_ACCOUNT)
    assert log_in(app.test_client(), "thr-grace", PASSWORD, "10.7.0.2").status_code == 429
    url = "/api/3/action/grandlyon_access_throttle_unlock"
    res = app.post(url, json={"account": "thr-grace"}, headers=people["bob"].headers)
    assert res.status_code == 403
    res = app.post(url, json={"account": "thr-grace", "kinds": ["login"]},
                   headers=people["root"].headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.get_json()["result"]["cleared"] == ["login account thr-grace"]
    assert log_in(app.test_client(), "thr-grace", PASSWORD, "10.7.0.2").status_code == 302


def test_a_sysadmin_unlocks_an_address(app, people):
    client = app.test_client()
    for number in range(LOGIN_PER_ADDRESS):
        log_in(client, f"nobody-{number}", "guess", "10.8.0.1")
    assert log_in(client, "thr-bob", PASSWORD, "10.8.0.1").status_code == 429
    result = helpers.call_action("grandlyon_access_throttle_unlock", address="10.8.0.1")
    assert result["cleared"] == ["login address 10.8.0.1"]
    assert log_in(client, "thr-bob", PASSWORD, "10.8.0.1").status_code == 302


def test_unlocking_needs_an_account_or_an_address(people):
    with pytest.raises(tk.ValidationError):
        helpers.call_action("grandlyon_access_throttle_unlock")
    with pytest.raises(tk.ValidationError):
        helpers.call_action("grandlyon_access_throttle_unlock", account="x", kinds=["lunch"])


@pytest.mark.parametrize("who, allowed", [("", False), ("thr-bob", False), ("thr-root", True)])
def test_only_sysadmins_may_unlock(people, who, allowed):
    try:
        helpers.call_auth("grandlyon_access_throttle_unlock", {"user": who, "model": None})
    except tk.NotAuthorized:
        assert not allowed
    else:
        assert allowed


# --- the other doors ----------------------------------------------------------------

def test_password_reset_requests_are_throttled_per_account(app, people):
    client = app.test_client()
    for number in range(3):
        res = client.post("/user/reset", data={"user": "nobody-reset"}, follow_redirects=False,
                          environ_base={"REMOTE_ADDR": f"10.9.0.{number + 1}"})
        assert res.status_code == 302
    res = client.post("/user/reset", data={"user": "NOBODY-reset"}, follow_redirects=False,
                      environ_base={"REMOTE_ADDR": "10.9.0.9"})
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 3000
    assert "réessayez dans 60 minutes" in page_text(res)


def reset_answer(app, login: str, address: str) -> tuple[str, str]:
    """Where a password reset request for `login` sends the browser, and the
    message shown there."""
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    token = TOKEN.search(client.get("/user/reset", environ_base=environ)
                         .get_data(as_text=True)).group(1)
    res = client.post("/user/reset", data={"user": login, "_csrf_token": token},
                      environ_base=environ, follow_redirects=False)
    assert res.status_code == 302
    shown = page_text(client.get(res.headers["Location"], environ_base=environ))
    messages = re.findall(r'class="alert[^"]*"[^>]*>(.*?)<', shown, re.S)
    return res.headers["Location"], " ".join(m.strip() for m in messages)


@pytest.mark.ckan_config("smtp.server", "127.0.0.1:1")
def test_a_reset_request_says_the_same_when_the_mail_fails(app, people):
    """SMTP down: an existing account (whose mail fails) and an unknown one
    get the same redirect and message (CKAN alone shows an error for the
    first, telling which accounts exist)."""
    known = reset_answer(app, "thr-grace", "10.9.1.1")
    unknown = reset_answer(app, "nobody-at-all", "10.9.1.2")
    assert known == unknown
    assert "lien de réinitialisation" in known[1] or "reset link" in known[1], known


def test_a_reset_request_says_the_same_when_the_mailer_breaks(app, people, monkeypatch):
    """An error CKAN's view does not catch (here an OSError) is no 500."""
    import ckan.lib.mailer as mailer

    def broken(user, *args, **kwargs):
        raise OSError("no route to the mail server")

    monkeypatch.setattr(mailer, "send_reset_link", broken)
    assert reset_answer(app, "thr-grace", "10.9.2.1") == reset_answer(app, "nobody-at-all",
                                                                        "10.9.2.2")


def test_registrations_are_throttled_per_address(app, people):
    client = app.test_client()
    for number in range(10):
        res = client.post("/user/register", environ_base={"REMOTE_ADDR": "10.10.0.1"},
                          data={"name": f"thr-new-{number}", "email": "not-an-address"})
        assert res.status_code == 200
    res = client.post("/user/register", environ_base={"REMOTE_ADDR": "10.10.0.1"},
                      data={"name": "thr-new-last", "email": "not-an-address"})
    assert res.status_code == 429


def test_access_requests_are_throttled_with_json_on_the_api(app, people):
    url = "/api/3/action/grandlyon_access_request_create"
    for _ in range(10):
        res = app.post(url, json={"package_id": "no-such-dataset"}, headers=people["carol"].headers,
                       environ_base={"REMOTE_ADDR": "10.11.0.1"})
        assert res.status_code == 409  # no such dataset, still counted
    res = app.post(url, json={"package_id": "no-such-dataset"}, headers=people["carol"].headers,
                   environ_base={"REMOTE_ADDR": "10.11.0.2"})
    assert res.status_code == 429 and res.headers["Retry-After"]
    body = res.get_json()
    assert body["success"] is False and body["error"]["__type"] == "Too Many Requests"
    assert "réessayez dans 60 minutes" in body["error"]["message"]


# --- the client's address -------------------------------------------------------------

@pytest.mark.parametrize("peer, forwarded, expected", [
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),        # not a proxy: its header is ignored
    ("172.18.0.5", "198.51.100.1", "198.51.100.1"),        # nginx: the client it names
    ("172.18.0.5", "6.6.6.6, 198.51.100.1, 172.18.0.9", "198.51.100.1"),  # forged first hop
    ("2001:db8::1", "", "2001:db8::/64"),                 # IPv6 counts per /64
])
def test_the_client_address_through_trusted_proxies(app, monkeypatch, peer, forwarded, expected):
    monkeypatch.setitem(tk.config, "ckanext.grandlyon_access.throttle.trusted_proxies",
                        ["172.16.0.0/12"])
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.flask_app.test_request_context("/", headers=headers,
                                            environ_base={"REMOTE_ADDR": peer}):
        assert throttle.client_address() == expected


# --- across web processes -----------------------------------------------------------

def live_log_in(session: requests.Session, url: str, login: str, password: str):
    page = session.get(f"{url}/user/login", timeout=30)
    token = TOKEN.search(page.text).group(1)
    return session.post(f"{url}/user/login", allow_redirects=False, timeout=30,
                        data={"login": login, "password": password, "_csrf_token": token})


def second_web_process(live_portal) -> str:
    """Another `ckan run` on the same ini (same database and Redis); its URL."""
    port = free_port()
    live_portal.start("web2", "run", "-H", "127.0.0.1", "-p", str(port), "-r", "-t")
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(f"{url}/api/3/action/status_show", timeout=10).ok:
                return url
        except (requests.ConnectionError, requests.Timeout):
            pass
        assert live_portal.processes[-1][1].poll() is None, live_portal.log("web2")
        time.sleep(0.5)
    pytest.fail("the second web process did not start: " + live_portal.log("web2")[-2000:])


def test_the_lock_holds_across_web_processes_until_a_sysadmin_unlocks(people, live_portal):
    urls = [live_portal.url, second_web_process(live_portal)]
    henry = make_actor("thr-henry")
    for attempt in range(LOGIN_PER_ACCOUNT):  # the failures alternate between the processes
        res = live_log_in(requests.Session(), urls[attempt % 2], henry.name, "guess")
        assert res.status_code == 200, res.status_code
    for url in urls:  # refused by both, right password or not
        res = live_log_in(requests.Session(), url, henry.name, PASSWORD)
        assert res.status_code == 429 and int(res.headers["Retry-After"]) > 800
        assert "réessayez dans 15 minutes" in html.unescape(res.text)
    # another user from the same address still logs in
    assert live_log_in(requests.Session(), urls[1], "thr-bob", PASSWORD).status_code == 302

    done = live_portal.ckan("grandlyon-access", "unlock", "--account", henry.name)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"cleared: login account {henry.name}" in done.stdout
    assert live_log_in(requests.Session(), urls[1], henry.name, PASSWORD).status_code == 302
