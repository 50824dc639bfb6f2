"""The history page of a resource and its feed form, as a browser uses them
(cookie logins, CSRF tokens), in French (the portal's default language) and
in English; what each reader sees at each access level."""

from __future__ import annotations

import datetime
import html
import re

import ckan.model as model
import pytest
from ckan.tests import helpers
from ckanext.history import store
from ckanext.history.model import Feed, Gap

from .feed_world import ACCESS, FEED_URL, FIELDS, LEVELS, PASSWORD, World

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')


@pytest.fixture
def world(clean_db, clean_index):
    return World()


@pytest.fixture
def browser(app):
    return app.test_client()


def login(client, name: str) -> None:
    token = TOKEN.search(client.get("/user/login").get_data(as_text=True)).group(1)
    res = client.post("/user/login", data={"login": name, "password": PASSWORD,
                                           "_csrf_token": token}, follow_redirects=False)
    assert res.status_code == 302, "login failed"


def page_url(world: World, level: str) -> str:
    return f"/dataset/ds-{level}/resource/{world.rid(level)}/history"


def fill(world: World, level: str) -> None:
    """A feed with rows over two months and a closed gap."""
    rid = world.rid(level)
    world.declare(level)
    store.write_rows(rid, [
        {"feature": "1", "time": datetime.datetime(2026, 2, 27, 10), "values": {"available_bikes": 4}},
        {"feature": "1", "time": datetime.datetime(2026, 3, 1, 9), "values": {"available_bikes": 5}},
        {"feature": "2", "time": datetime.datetime(2026, 3, 1, 9), "values": {"available_bikes": 1}},
    ])
    model.Session.add(Gap(resource_id=rid, start=datetime.datetime(2026, 2, 28, 6),
                          end=datetime.datetime(2026, 2, 28, 7), reason="HTTP 503"))
    model.Session.commit()


def text(res) -> str:
    return html.unescape(res.get_data(as_text=True))


def test_editor_declares_the_feed_from_the_history_page(browser, world):
    login(browser, "org-editor")
    resource_page = text(browser.get(f"/dataset/ds-open/resource/{world.rid('open')}"))
    assert page_url(world, "open") in resource_page and "Historique" in resource_page
    page = browser.get(page_url(world, "open"))
    assert page.status_code == 200
    body = text(page)
    assert "Déclarer un flux temps réel" in body
    token = TOKEN.search(body).group(1)
    form = {"_csrf_token": token, "url": "http://169.254.169.254/latest/", "format": "geojson",
            "feature_id_field": "number", "time_field": "", "fields": "available_bikes:int, bad name:int",
            "interval_seconds": "60", "hot_retention_days": "", "store_mode": "changes",
            "enabled": "on"}
    res = browser.post(page_url(world, "open") + "/feed", data=form)
    assert res.status_code == 400
    body = text(res)
    assert 'data-field="url"' in body and 'data-field="fields"' in body
    assert "bad name" in body                       # the form keeps what was typed
    assert model.Session.query(Feed).count() == 0

    form.update(url=FEED_URL.format("open"),
                fields="available_bikes:int, available_bike_stands:int, status:text")
    res = browser.post(page_url(world, "open") + "/feed", data=form, follow_redirects=False)
    assert res.status_code == 302, text(res)[:2000]
    feed = model.Session.query(Feed).one()
    assert (feed.url, feed.fields, feed.enabled) == (FEED_URL.format("open"), FIELDS, True)
    body = text(browser.get(page_url(world, "open")))
    assert FEED_URL.format("open") in body and "Flux temps réel" in body

    # Disabled from the form (the checkbox unticked).
    form.pop("enabled")
    form["_csrf_token"] = TOKEN.search(body).group(1)
    assert browser.post(page_url(world, "open") + "/feed", data=form).status_code in (200, 302)
    model.Session.expire_all()
    assert model.Session.query(Feed).one().enabled is False


def test_the_feed_form_keeps_field_titles_units_and_across(browser, world):
    """Fields with titles, a unit or `across` show as JSON in the form, so
    that saving the form as it is keeps them."""
    fields = [{"name": "available_bikes", "type": "int", "title_fr": "Vélos disponibles",
               "title_en": "Available bikes", "unit": "vélos", "across": "sum"}]
    helpers.call_action("history_feed_create", context={"user": "org-editor"},
                        resource_id=world.rid("open"), url=FEED_URL.format("open"),
                        format="json", feature_id_field="number", fields=fields)
    login(browser, "org-editor")
    body = text(browser.get(page_url(world, "open")))
    shown = re.search(r'<textarea[^>]*name="fields"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    form = {"_csrf_token": TOKEN.search(body).group(1), "url": FEED_URL.format("open"),
            "format": "json", "feature_id_field": "number", "time_field": "",
            "fields": shown, "interval_seconds": "60", "hot_retention_days": "",
            "store_mode": "changes", "enabled": "on"}
    res = browser.post(page_url(world, "open") + "/feed", data=form, follow_redirects=False)
    assert res.status_code == 302, text(res)[:2000]
    model.Session.expire_all()
    assert model.Session.query(Feed).one().fields == fields


def test_the_page_shows_coverage_gaps_downloads_and_the_chart_link(browser, world):
    fill(world, "open")
    body = text(browser.get(page_url(world, "open"), headers={"Accept-Language": "fr"}))
    assert "Historique de stations" in body
    assert 'class="history-rows">3<' in body
    # A gap recorded without a problem: its words are the worker's, for the
    # editors; a reader reads that the source could not be read.
    assert "HTTP 503" not in body and "La source n'a pas pu être lue." in body
    assert f"/dataset/ds-open/resource/{world.rid('open')}/history/download" in body
    # The period's dates are days of the portal's zone, sent with it.
    assert "Début (Europe/Paris)" in body and 'name="tz" value="Europe/Paris"' in body
    for month in ("2026-02", "2026-03"):
        assert f"/history/month/{month}.parquet" in body and f"/history/month/{month}.csv" in body
    assert FEED_URL.format("open") not in body      # a reader: no source URL
    assert "history-feed-form" not in body          # and no form
    assert "Pas encore de graphique" in body


def test_the_page_is_in_english_too(browser, world):
    fill(world, "open")
    body = text(browser.get("/en" + page_url(world, "open")))
    assert "History of stations" in body and "Monthly files" in body and "Gaps" in body
    assert "Start (Europe/Paris)" in body and "End, excluded (Europe/Paris)" in body


def test_each_reader_sees_what_the_policy_gives(app, world):
    """D: the page, without the source URL unless an editor; M: 403 naming
    nothing of the feed; -: the same 404 as a resource that does not exist."""
    for level in LEVELS:
        fill(world, level)
    failures = []
    for who, levels in ACCESS.items():
        headers = world.actors[who].headers
        missing = app.get(f"/dataset/ds-open/resource/{'0' * 8}-0000-4000-8000-{'0' * 12}/history",
                          headers=headers)
        assert missing.status_code == 404
        for level, access in levels.items():
            res = app.get(page_url(world, level), headers=headers)
            # A page names its own URL (language links): not a leak.
            body = text(res).replace(page_url(world, level), "")
            editor = who in ("editor", "admin", "sysadmin")
            if access == "D":
                ok = res.status_code == 200 and (FEED_URL.format(level) in body) == editor
                ok = ok and ("history-feed-form" in body) == editor
            elif access == "M":
                ok = res.status_code == 403 and FEED_URL.format(level) not in body \
                    and "HTTP 503" not in body
            else:
                ok = res.status_code == 404 and FEED_URL.format(level) not in body \
                    and f"Dataset {level}" not in body and world.rid(level) not in body \
                    and "HTTP 503" not in body
            if not ok:
                failures.append((who, level, res.status_code))
    assert failures == []


def test_the_resource_page_links_the_history_to_those_who_may_read_it(app, world):
    for level in ("open", "restricted"):
        fill(world, level)
    link = "/history\""

    def resource_page(who: str, level: str) -> str:
        return app.get(f"/dataset/ds-{level}/resource/{world.rid(level)}",
                       headers=world.actors[who].headers).get_data(as_text=True)

    assert link in resource_page("anonymous", "open")
    assert link not in resource_page("anonymous", "restricted")   # metadata only
    assert link in resource_page("editor", "restricted")
    # No feed, no history: only the editors get the link (to declare one).
    assert link not in resource_page("outsider", "licensed")
    assert link in resource_page("editor", "licensed")


def test_only_editors_post_the_form(app, world):
    world.declare("open")
    for who in ("anonymous", "outsider", "member"):
        headers = world.actors[who].headers
        res = app.post(page_url(world, "open") + "/feed", headers=headers,
                       data={"url": "http://127.0.0.1:9/x", "enabled": ""})
        assert res.status_code in (400, 403), who     # 400: no CSRF token (anonymous)
        res = app.post(page_url(world, "open") + "/feed/delete", headers=headers)
        assert res.status_code in (400, 403), who
    for who in ("anonymous", "outsider"):
        res = app.post(page_url(world, "hidden") + "/feed/delete", headers=world.actors[who].headers)
        assert res.status_code in (400, 404), who
    assert model.Session.query(Feed).one().enabled is True
    res = app.post(page_url(world, "open") + "/feed/delete", headers=world.actors["editor"].headers,
                   follow_redirects=False)
    assert res.status_code == 302
    assert model.Session.query(Feed).count() == 0


def test_a_deleted_dataset_has_no_history_page(app, world):
    """Its sysadmins still see the dataset; its history page is missing, as
    its history actions are, and offers no feed to declare."""
    fill(world, "open")
    helpers.call_action("package_delete", context={"user": world.actors["sysadmin"].name},
                        id="ds-open")
    for who in ("sysadmin", "editor"):
        res = app.get(page_url(world, "open"), headers=world.actors[who].headers)
        assert res.status_code == 404, who
        assert "history-feed-form" not in text(res)
