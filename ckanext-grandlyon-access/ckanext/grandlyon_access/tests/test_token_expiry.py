"""API tokens expire (CKAN's expire_api_token, on in config/portal.ini, and
the access plugin's tokens.py): the default lifetime when none is asked,
the maximum, the expiry on the tokens page, the refusal of an expired
token, the e-mail before expiry and the backfill of older tokens; through
the API, the web form with a cookie login, real SMTP and the CLI."""

from __future__ import annotations

import configparser
import datetime
import html
import re
from email.header import decode_header, make_header
from pathlib import Path
from zoneinfo import ZoneInfo

import ckan.lib.api_token as api_token
import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.cli.cli import ckan
from ckan.plugins import IApiToken, PluginImplementations
from ckan.tests import helpers
from ckanext.grandlyon_access import cli, tokens
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, make_actor
from click.testing import CliRunner
from freezegun import freeze_time

DAY = datetime.timedelta(days=1)
CSRF = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')


def _plugins_with_expiry_last() -> str:
    """The portal's plugin list (config/portal.ini) with expire_api_token
    moved after the access plugin."""
    portal = configparser.RawConfigParser(strict=False)
    portal.read(Path(__file__).resolve().parents[4] / "config" / "portal.ini")
    names = portal.get("app:main", "ckan.plugins").split()
    return " ".join([n for n in names if n != tokens.EXPIRE_PLUGIN] + [tokens.EXPIRE_PLUGIN])


@pytest.fixture
def partner(reset_portal_db):
    reset_portal_db()
    return make_actor("partner", email="partner@example.org")


def _create(app, actor, status: int = 200, **params):
    """api_token_create over HTTP as the actor."""
    return app.post("/api/3/action/api_token_create", headers=actor.headers,
                    json={"user": actor.name, "name": "script", **params}, status=status)


def _token_row(name: str = "script") -> model.ApiToken:
    model.Session.expire_all()
    return model.Session.query(model.ApiToken).filter_by(name=name).one()


def _days_left(token: model.ApiToken) -> float:
    return (tokens.expiry_of(token) - datetime.datetime.utcnow()) / DAY


def _legacy_token(actor, name: str = "legacy") -> str:
    """A token as CKAN made it before expire_api_token was on: no expiry
    recorded, no `exp` in its JWT."""
    row = model.ApiToken(user_id=actor.id, name=name)
    model.Session.add(row)
    model.Session.commit()
    return api_token.encode({"jti": row.id, "iat": api_token.into_seconds(row.created_at)})


def _set_expiry(name: str, when: datetime.datetime) -> None:
    row = _token_row(name)
    row.set_extra(tokens.EXPIRY_KEY, {"exp": when.isoformat()}, True)


def _whoami(app, token: str, status: int):
    """api_token_list of the partner's tokens: only the partner may call it."""
    return app.get("/api/3/action/api_token_list?user=partner", headers={"Authorization": token},
                   status=status)


# --- lifetime -------------------------------------------------------------------------

def test_token_asked_without_lifetime_gets_the_default(app, partner):
    result = _create(app, partner).json["result"]
    assert 89.9 < _days_left(_token_row()) <= 90
    claims = api_token.decode(result["token"])
    assert 89.9 < (claims["exp"] - claims["iat"]) / 86400 <= 90


def test_token_lifetime_beyond_the_maximum_is_refused(app, partner):
    refused = _create(app, partner, status=409, expires_in=366, unit=86400).json["error"]
    assert "365" in refused["expires_in"][0]
    assert not model.Session.query(model.ApiToken).filter_by(name="script").count()
    _create(app, partner, expires_in=365, unit=86400)
    assert 364.9 < _days_left(_token_row()) <= 365


@pytest.mark.parametrize("field", ["expires_in", "unit"])
def test_a_boolean_lifetime_is_refused(app, partner, field):
    params = {"expires_in": 3, "unit": 86400, field: True}
    res = _create(app, partner, status=409, **params)
    assert field in res.json["error"]
    assert not model.Session.query(model.ApiToken).filter_by(name="script").count()


def test_a_lifetime_without_unit_counts_in_days(app, partner):
    _create(app, partner, expires_in=10)
    assert 9.9 < _days_left(_token_row()) <= 10


@pytest.mark.ckan_config("ckan.plugins", _plugins_with_expiry_last())
def test_lifetime_rules_hold_whatever_the_plugin_order(app, partner):
    order = [plugin.name for plugin in PluginImplementations(IApiToken)]
    assert order.index("grandlyon_access") < order.index(tokens.EXPIRE_PLUGIN)
    _create(app, partner, status=409, expires_in=400, unit=86400)
    _create(app, partner)
    assert 89.9 < _days_left(_token_row()) <= 90
    page = app.get(f"/user/{partner.name}/api-tokens", headers=partner.headers).body
    assert 'name="expires_in" value="90"' in page and "Expire le" in page


@pytest.mark.ckan_config("ckanext.grandlyon_access.api_token.max_lifetime_days", "30")
def test_default_lifetime_never_exceeds_the_maximum(app, partner):
    _create(app, partner)
    assert 29.9 < _days_left(_token_row()) <= 30


def test_expiry_is_still_enforced_for_an_explicit_lifetime(app, partner):
    _create(app, partner, expires_in=2, unit=3600)
    assert 0.08 < _days_left(_token_row()) <= 2 / 24


# --- the tokens page --------------------------------------------------------------------

@pytest.fixture
def browser(app, partner):
    """A client logged in as the partner with a cookie, as a browser."""
    user = model.User.get(partner.name)
    user.password = PASSWORD
    model.Session.commit()
    client = app.test_client()
    token = CSRF.search(client.get("/user/login").body).group(1)
    res = client.post("/user/login", data={"login": partner.name, "password": PASSWORD,
                                            "_csrf_token": token}, follow_redirects=False)
    assert res.status_code == 302, "login failed"
    return client


def test_form_offers_the_default_and_applies_it_when_left_empty(browser, partner):
    url = f"/user/{partner.name}/api-tokens"
    page = browser.get(url).body
    assert 'name="expires_in" value="90"' in page
    assert '<option value="86400" selected>jours</option>' in page
    assert "Laissé vide, un jeton vit 90 jours. Au plus 365 jours." in page
    res = browser.post(url, data={"name": "form", "expires_in": "", "unit": "86400",
                                  "_csrf_token": CSRF.search(page).group(1)},
                       follow_redirects=False)
    assert res.status_code == 302
    assert 89.9 < _days_left(_token_row("form")) <= 90


def test_form_says_the_maximum_in_french(browser, partner):
    url = f"/user/{partner.name}/api-tokens"
    page = browser.get(url).body
    res = browser.post(url, data={"name": "form", "expires_in": "2", "unit": "31536000",
                                  "_csrf_token": CSRF.search(page).group(1)})
    assert "Un jeton d'API peut vivre au plus 365 jours" in html.unescape(res.body)
    assert not model.Session.query(model.ApiToken).filter_by(name="form").count()


def test_the_error_summary_names_the_fields_in_french(browser, partner):
    url = f"/user/{partner.name}/api-tokens"
    page = browser.get(url).body
    res = browser.post(url, data={"name": "form", "expires_in": "abc", "unit": "x",
                                  "_csrf_token": CSRF.search(page).group(1)})
    text = html.unescape(res.body)
    assert "Durée de vie" in text and "Unité de la durée de vie" in text
    assert "Expires in" not in text, re.findall(r".{80}Expires in.{40}", text)
    assert ">Unit:" not in text


def test_tokens_page_shows_the_expiry_in_local_time(app, browser, partner):
    _create(app, partner)
    _set_expiry("script", datetime.datetime(2027, 1, 20, 10, 0))  # 11:00 in Paris
    _legacy_token(partner, "old-script")
    french = browser.get(f"/user/{partner.name}/api-tokens").body
    assert "Expire le" in french and "20 janvier 2027, 11:00" in french
    english = browser.get(f"/en/user/{partner.name}/api-tokens").body
    assert "Expires" in english and "January 20, 2027, 11:00" in english
    assert "Never" in english  # the token made before tokens expired


def test_tokens_page_says_a_token_has_expired(app, browser, partner):
    _create(app, partner)
    _set_expiry("script", datetime.datetime(2026, 11, 2, 9, 30))
    french = browser.get(f"/user/{partner.name}/api-tokens").body
    assert "Expiré le 2 novembre 2026, 10:30" in french
    english = browser.get(f"/en/user/{partner.name}/api-tokens").body
    assert "Expired on November 2, 2026, 10:30" in english


# --- expired tokens --------------------------------------------------------------------

def test_expired_token_is_refused(app, partner):
    with freeze_time(datetime.datetime.utcnow() - 100 * DAY):
        old = helpers.call_action("api_token_create", context={"user": partner.name},
                                  user=partner.name, name="old")["token"]
    assert api_token.decode(old) is None  # its JWT's exp is past
    _whoami(app, old, 403)
    fresh = _create(app, partner).json["result"]["token"]
    _whoami(app, fresh, 200)


def test_token_past_its_recorded_expiry_is_refused_without_exp_claim(app, partner):
    legacy = _legacy_token(partner)
    _whoami(app, legacy, 200)
    _set_expiry("legacy", datetime.datetime.utcnow() - DAY)
    _whoami(app, legacy, 403)


# --- backfill ---------------------------------------------------------------------------

def test_backfill_gives_older_tokens_the_default_lifetime_once(app, partner):
    legacy = _legacy_token(partner)
    _create(app, partner, expires_in=10, unit=86400)
    first = CliRunner().invoke(cli.grandlyon_access, ["backfill-token-expiry"])
    assert first.exit_code == 0, first.output
    assert "tokens given an expiry: 1" in first.output
    assert 89.9 < _days_left(_token_row("legacy")) <= 90
    assert 9.9 < _days_left(_token_row("script")) <= 10
    again = CliRunner().invoke(cli.grandlyon_access, ["backfill-token-expiry"])
    assert "tokens given an expiry: 0" in again.output
    _whoami(app, legacy, 200)
    with freeze_time(datetime.datetime.utcnow() + 91 * DAY):
        _whoami(app, legacy, 403)


# --- notices ----------------------------------------------------------------------------

def _notify(app) -> str:
    with app.flask_app.test_request_context():
        result = CliRunner().invoke(cli.grandlyon_access, ["notify-expiring-tokens"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _body(message) -> str:
    return message.get_payload(decode=True).decode()


def test_owner_is_mailed_once_before_expiry(app, partner, mailbox):
    _create(app, partner, name="nightly-sync")
    expiry = datetime.datetime.utcnow().replace(microsecond=0) + 3 * DAY
    _set_expiry("nightly-sync", expiry)
    assert "notices sent: 1" in _notify(app)
    assert len(mailbox) == 1
    message = mailbox[0]
    assert "partner@example.org" in message["To"]
    subject = str(make_header(decode_header(message["Subject"])))
    assert "Votre jeton d'API « nightly-sync » expire bientôt" in subject
    body = _body(message)
    french, english = body.index("Votre jeton d'API"), body.index("Your API token")
    assert french < english  # the portal's language first
    assert f"{tk.config['ckan.site_url']}/user/partner/api-tokens" in body
    local = expiry.replace(tzinfo=datetime.timezone.utc).astimezone(ZoneInfo("Europe/Paris"))
    assert local.strftime("%H:%M") in body and str(local.year) in body
    assert "notices sent: 0" in _notify(app)
    assert len(mailbox) == 1


def test_no_notice_for_tokens_far_from_expiry_or_expired(app, partner, mailbox):
    _create(app, partner, name="far")
    _create(app, partner, name="gone")
    _set_expiry("gone", datetime.datetime.utcnow() - DAY)
    assert "notices sent: 0" in _notify(app)
    assert len(mailbox) == 0


def test_owner_without_email_is_skipped_and_counted(app, partner, mailbox):
    _create(app, partner)
    _set_expiry("script", datetime.datetime.utcnow() + 2 * DAY)
    model.User.get(partner.name).email = None
    model.Session.commit()
    assert "owners without e-mail: 1" in _notify(app)
    assert len(mailbox) == 0


def test_no_notice_for_a_deleted_account(app, partner, mailbox):
    _create(app, partner)
    _set_expiry("script", datetime.datetime.utcnow() + 2 * DAY)
    model.User.get(partner.name).state = "deleted"
    model.Session.commit()
    assert "notices sent: 0, owners without e-mail: 0" in _notify(app)
    assert len(mailbox) == 0


def test_notice_refused_by_the_server_is_tried_again(app, partner):
    _create(app, partner)
    _set_expiry("script", datetime.datetime.utcnow() + 2 * DAY)
    assert "failed (tried again next run): 1" in _notify(app)  # no SMTP server
    assert tokens.NOTICE_KEY not in (_token_row().plugin_extras or {})


def test_notice_of_a_crashed_run_is_not_sent_again(app, partner, mailbox):
    _create(app, partner)
    expiry = datetime.datetime.utcnow() + 2 * DAY
    _set_expiry("script", expiry)
    _token_row().set_extra(tokens.NOTICE_KEY, {"exp": expiry.isoformat(), "state": "sending"}, True)
    assert "notices sent: 0" in _notify(app)
    assert len(mailbox) == 0


def test_notice_through_the_ckan_command(app, partner, mailbox, cli):
    """As production runs it: `ckan grandlyon-access notify-expiring-tokens`,
    outside any request (the command makes its own for links and languages)."""
    _create(app, partner)
    _set_expiry("script", datetime.datetime.utcnow() + 2 * DAY)
    result = cli.invoke(ckan, ["grandlyon-access", "notify-expiring-tokens"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "notices sent: 1" in result.output
    assert len(mailbox) == 1
    assert f"{tk.config['ckan.site_url']}/user/partner/api-tokens" in _body(mailbox[0])
