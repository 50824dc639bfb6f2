"""XSS probes: script and markup in every user-supplied field the suite
renders (commune fields, dataset titles in the white-label view and the widget
pages, signature details on the sysadmins' page, saved map titles and
descriptions, chart view titles, embeds) come out escaped, never as markup."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

SCRIPT = '<script>alert("xss-probe")</script>'
IMG = '"><img src=x onerror=alert("xss-probe")>'
PAYLOAD = f"Titre {SCRIPT} {IMG}"


def assert_escaped(html: str, where: str, shown: bool = True) -> None:
    if shown:  # the probe is on the page (as text), so the check is not vacuous
        assert "xss-probe" in html, f"{where}: the probed field is not shown"
    assert SCRIPT not in html, f"{where}: <script> rendered as markup"
    assert "<img src=x onerror" not in html, f"{where}: an attribute injection rendered as markup"


@pytest.fixture
def world(clean_db, clean_index):
    sysadmin = make_actor(sysadmin=True)
    ctx = {"user": sysadmin.name, "ignore_auth": False}
    commune = helpers.call_action("organization_create", dict(ctx), name="probe-commune", title=PAYLOAD,
                                  description=PAYLOAD, is_commune="true", insee_code="99999",
                                  primary_color="#123456", secondary_color="#abcdef",
                                  introduction=f"# {PAYLOAD}\n\n[lien](javascript:alert(1)) {SCRIPT}",
                                  contact_email="mairie@example.org")
    dataset = helpers.call_action(
        "package_create", dict(ctx), name="probe-dataset", title=PAYLOAD, notes=PAYLOAD,
        owner_org=commune["id"], access_level="open", license_id="lo-2.0", tags=[{"name": "probe"}],
        resources=[{"name": PAYLOAD, "url": "https://example.org/probe.geojson", "format": "GeoJSON"}])
    resource_id = dataset["resources"][0]["id"]
    saved = helpers.call_action("dataviz_map_create", dict(ctx), title=PAYLOAD, description=PAYLOAD,
                                owner_org=commune["id"],
                                layers=[{"resource_id": resource_id, "title": PAYLOAD,
                                         "style": {"mode": "simple", "color": "#336699",
                                                   "popup_fields": "nom"}}])
    return {"ctx": ctx, "commune": commune, "dataset": dataset, "map": saved,
            "token": sysadmin.token, "resource_id": resource_id}


def test_commune_and_dataset_fields_are_escaped_everywhere_they_show(app, world):
    name, ds = world["commune"]["name"], world["dataset"]["name"]
    for url in (f"/commune/{name}", "/commune/", f"/commune/{name}/dataset/{ds}",
                f"/commune/{name}/widget", f"/commune/{name}/widget-builder", f"/dataset/{ds}",
                f"/organization/{name}", "/dataset/?q=probe"):
        res = app.get(url, status=None)
        assert res.status_code == 200, (url, res.status_code)
        assert_escaped(res.get_data(as_text=True), url)
    intro = app.get(f"/commune/{name}").get_data(as_text=True)
    assert 'href="javascript:' not in intro


def test_saved_map_and_its_embed_are_escaped(app, world):
    saved = world["map"]
    for url in (f"/dataviz/map/{saved['name']}", f"/dataviz/embed/map/{saved['id']}",
                f"/dataset/{world['dataset']['name']}"):
        res = app.get(url, headers={"Authorization": world["token"]}, status=None)
        assert res.status_code == 200, (url, res.status_code)
        assert_escaped(res.get_data(as_text=True), url)


def test_chart_view_title_is_escaped_in_the_view_and_the_embed(app, world):
    view = helpers.call_action("resource_view_create", dict(world["ctx"]), resource_id=world["resource_id"],
                               view_type="dataviz_map", title=PAYLOAD)
    ds = world["dataset"]["name"]
    for url in (f"/dataset/{ds}/resource/{world['resource_id']}",
                f"/dataset/{ds}/resource/{world['resource_id']}/view/{view['id']}",
                f"/dataviz/embed/view/{view['id']}"):
        res = app.get(url, headers={"Authorization": world["token"]}, status=None)
        assert res.status_code == 200, (url, res.status_code)
        assert_escaped(res.get_data(as_text=True), url)
    # The iframe code to copy carries the title escaped for its attribute: pasted
    # into another page, it cannot close the attribute or the element.
    page = app.get(f"/dataset/{ds}/resource/{world['resource_id']}/view/{view['id']}",
                   headers={"Authorization": world["token"]}).get_data(as_text=True)
    assert "title=&#34;Titre &amp;lt;script&amp;gt;" in page or \
        "title=&quot;Titre &amp;lt;script&amp;gt;" in page, "the copied code's title is not escaped"


def test_signature_details_are_escaped_on_the_sysadmin_page(app, world):
    signer = factories.User()
    licence = next(lic for lic in helpers.call_action("grandlyon_licence_list")
                   if lic.get("signature_required"))
    details = {d["name"] if isinstance(d, dict) else d: PAYLOAD
               for d in helpers.call_action("grandlyon_licence_show", id=licence["id"]).get("signer_details", [])}
    helpers.call_action("grandlyon_licence_sign", {"user": signer["name"], "ignore_auth": False},
                        licence_id=licence["id"], **details)
    res = app.get("/ckan-admin/licence-signatures", headers={"Authorization": world["token"]})
    html = res.get_data(as_text=True)
    assert "xss-probe" in html  # the details are shown...
    assert_escaped(html, "/ckan-admin/licence-signatures")  # ...as text
