"""The commune fields of the organisation schema, through the HTTP API: bad
values answer 409 naming the field (in French and English) and are never
stored; good values are stored normalised."""

from __future__ import annotations

import io
import json

import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
       b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
SQUARE = {"type": "Polygon", "coordinates": [[[4.8, 45.7], [4.9, 45.7], [4.9, 45.8],
                                               [4.8, 45.8], [4.8, 45.7]]]}


@pytest.fixture
def sysadmin(clean_db):
    return make_actor(sysadmin=True).headers


def create(app, headers, prefix="", files=None, **fields):
    data = {"name": "ville-test", "title": "Ville de Test", "is_commune": "true", **fields}
    if files:
        return app.post(f"{prefix}/api/3/action/organization_create", headers=headers,
                        data={**data, **files}, content_type="multipart/form-data")
    return app.post(f"{prefix}/api/3/action/organization_create", headers=headers, json=data)


def refused(res, field: str) -> str:
    assert res.status_code == 409, res.get_data(as_text=True)[:500]
    error = res.get_json()["error"]
    assert field in error, error
    return " ".join(error[field])


def not_stored(app, headers, name="ville-test"):
    res = app.get(f"/api/3/action/organization_show?id={name}", headers=headers)
    assert res.status_code == 404


@pytest.mark.parametrize("field,value", [
    ("primary_color", "red"), ("primary_color", "#12345"), ("secondary_color", "#ggg"),
    ("primary_color", "#fff;background:url(x)"), ("insee_code", "6926"), ("insee_code", "ABCDE"),
    ("host_names", "not a host"), ("host_names", "data.ville-test.fr, -bad-.fr"),
    ("host_names", "localhost"), ("image_url", "http://example.org/logo.png"),
    ("image_url", "javascript:alert(1)"), ("image_url", "https://example.org/logo.svg"),
    ("banner_url", "https://example.org/b.SVG?x=1"), ("website", "javascript:alert(1)"),
    ("boundary", "not json"), ("boundary", json.dumps({"type": "Point", "coordinates": [4, 45]})),
    ("boundary", json.dumps({"type": "Polygon", "coordinates": [[[4, 45], [5, 45], [5, 46]]]})),
    ("boundary", json.dumps({"type": "Polygon", "coordinates": [[[400, 45], [5, 45], [5, 46],
                                                                  [400, 45]]]})),
])
def test_a_bad_value_is_refused_naming_its_field(app, sysadmin, field, value):
    refused(create(app, sysadmin, **{field: value}), field)
    not_stored(app, sysadmin)


def test_errors_are_in_french_and_in_english(app, sysadmin):
    french = refused(create(app, sysadmin, prefix="/fr", primary_color="rouge"), "primary_color")
    english = refused(create(app, sysadmin, prefix="/en", primary_color="rouge"),
                      "primary_color")
    assert "Une couleur" in french
    assert "A colour" in english


def test_good_values_are_stored_normalised(app, sysadmin):
    res = create(app, sysadmin, primary_color="#C8102E", secondary_color="#abc",
                 insee_code="69266", host_names="Data.Ville-Test.fr,  open.ville-test.fr",
                 boundary=json.dumps({"type": "Feature", "properties": {}, "geometry": SQUARE}),
                 image_url="https://example.org/logo.png", website="https://www.ville-test.fr",
                 contact_email="data@ville-test.fr", introduction="**Bienvenue**")
    assert res.status_code == 200, res.get_data(as_text=True)
    org = res.get_json()["result"]
    assert org["is_commune"] is True
    assert org["primary_color"] == "#c8102e"
    assert org["host_names"] == "data.ville-test.fr,open.ville-test.fr"
    assert json.loads(org["boundary"]) == SQUARE
    assert org["insee_code"] == "69266"


def test_a_host_name_belongs_to_one_commune(app, sysadmin):
    assert create(app, sysadmin, host_names="data.ville-test.fr").status_code == 200
    res = create(app, sysadmin, name="autre-ville", host_names="www.autre.fr,DATA.ville-test.fr")
    assert "data.ville-test.fr" in refused(res, "host_names")
    not_stored(app, sysadmin, "autre-ville")
    # The commune itself may save its own host names again.
    res = app.post("/api/3/action/organization_patch", headers=sysadmin,
                   json={"id": "ville-test", "host_names": "data.ville-test.fr",
                         "primary_color": "#000"})
    assert res.status_code == 200, res.get_data(as_text=True)


def test_the_portal_own_host_name_is_refused(app, sysadmin, ckan_config):
    from urllib.parse import urlparse

    host = urlparse(ckan_config["ckan.site_url"]).hostname
    refused(create(app, sysadmin, host_names=f"{host}.example.org,{host}"), "host_names")


def test_an_uploaded_png_logo_and_banner_are_stored(app, sysadmin):
    res = create(app, sysadmin, files={"image_upload": (io.BytesIO(PNG), "logo.png"),
                                       "banner_upload": (io.BytesIO(PNG), "banner.png")})
    assert res.status_code == 200, res.get_data(as_text=True)
    org = res.get_json()["result"]
    assert org["image_url"].endswith("logo.png") and "/" not in org["image_url"]
    assert org["banner_url"].endswith("banner.png") and "/" not in org["banner_url"]
    served = app.get(f"/uploads/group/{org['banner_url']}")
    assert served.status_code == 200 and served.data == PNG


def test_webp_gif_and_jpeg_logos_are_accepted(app, sysadmin):
    webp = (b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07"
            b"\x10\x11\x11\x88\x88\xfe\x07\x00")
    gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01"
           b"\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    for n, (content, filename) in enumerate([(webp, "logo.webp"), (gif, "logo.gif")]):
        res = create(app, sysadmin, name=f"ville-{n}",
                     files={"image_upload": (io.BytesIO(content), filename)})
        assert res.status_code == 200, res.get_data(as_text=True)
        assert res.get_json()["result"]["image_url"].endswith(filename)


@pytest.mark.parametrize("upload", ["image_upload", "banner_upload"])
@pytest.mark.parametrize("content,filename", [
    (SVG, "logo.svg"), (SVG, "logo.png"), (b"<html><script>alert(1)</script>", "logo.png"),
    (b"MZ\x90\x00 not an image", "logo.gif"),
])
def test_an_upload_that_is_not_an_image_is_refused(app, sysadmin, upload, content, filename):
    res = create(app, sysadmin, files={upload: (io.BytesIO(content), filename)})
    refused(res, upload)
    not_stored(app, sysadmin)


@pytest.mark.ckan_config("ckanext.communes.image.max_bytes", "100")
@pytest.mark.parametrize("upload", ["image_upload", "banner_upload"])
def test_an_oversized_image_is_refused(app, sysadmin, upload):
    res = create(app, sysadmin, files={upload: (io.BytesIO(PNG + b"\x00" * 200), "big.png")})
    assert "100" in refused(res, upload)
    not_stored(app, sysadmin)


def test_script_in_the_introduction_is_not_run(app, sysadmin):
    res = create(app, sysadmin, introduction="Bonjour <script>alert('x')</script> "
                                             "<img src=x onerror=alert(2)> **gras**")
    assert res.status_code == 200
    page = app.get("/commune/ville-test").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "onerror" not in page
    assert "<strong>gras</strong>" in page


def test_the_organisation_form_shows_the_errors(app, sysadmin):
    res = app.post("/organization/new", headers=sysadmin, data={
        "name": "ville-form", "title": "Ville Form", "is_commune": "true",
        "primary_color": "red", "host_names": "not a host", "save": "1"})
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "Une couleur s&#39;écrit #rgb ou #rrggbb" in html
    assert "Nom d&#39;hôte non valide" in html
    not_stored(app, sysadmin, "ville-form")
