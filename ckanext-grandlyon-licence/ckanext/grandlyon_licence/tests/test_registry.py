"""Loading the licence registry file, and its errors."""

from __future__ import annotations

import textwrap

import ckan.plugins as plugins
import pytest
from ckan import model
from ckanext.grandlyon_licence import registry
from ckanext.grandlyon_licence.tests.conftest import PORTAL_REGISTRY, empty_registry

VALID = textwrap.dedent(
    """\
    licences:
      - id: sign-me
        version: "1.0"
        title: {fr: Licence à signer, en: Licence to sign}
        text: {fr: "Texte", en: "Text"}
        url: https://example.org/licence
        signature_required: true
        signer_details:
          - name: organisation
            label: {fr: Organisation, en: Organisation}
            required: true
        od_conformance: not reviewed
    """
)


def write(tmp_path, content: str, name: str = "licences.yaml") -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def problems_of(tmp_path, content: str) -> str:
    path = write(tmp_path, content)
    with pytest.raises(registry.RegistryError) as error:
        registry.parse(path)
    message = str(error.value)
    assert path in message
    return message


def test_the_portal_registry_holds_the_three_licences():
    portal = registry.parse(str(PORTAL_REGISTRY))
    assert [licence.id for licence in portal.licences] == ["lo-2.0", "odbl-1.0", "mobilites"]

    mobilites = portal.get("mobilites")
    assert mobilites.version == "1.0"
    assert mobilites.signature_required is True
    assert mobilites.title["fr"] == "Licence Mobilités"
    assert mobilites.title["en"]
    assert set(mobilites.text) == {"fr", "en"}
    assert [(d.name, d.required) for d in mobilites.signer_details] == [
        ("organisation", True),
        ("intended_use", True),
        ("contact_phone", False),
    ]
    assert all(set(d.label) == {"fr", "en"} for d in mobilites.signer_details)
    for open_licence in ("lo-2.0", "odbl-1.0"):
        assert portal.get(open_licence).signature_required is False
        assert portal.get(open_licence).ckan_fields["od_conformance"] == "approved"


def test_a_valid_file_loads(tmp_path):
    loaded = registry.parse(write(tmp_path, VALID))
    licence = loaded.get("sign-me")
    assert licence.url == "https://example.org/licence"
    assert licence.ckan_fields == {"od_conformance": "not reviewed"}
    assert licence.detail("organisation").required is True
    assert loaded.get("missing") is None


def test_an_unknown_key_is_named_with_its_licence(tmp_path):
    message = problems_of(
        tmp_path,
        VALID.replace("signature_required:", "signature_requird: true\n    signature_required:"),
    )
    assert "licence 'sign-me': unknown key 'signature_requird'" in message


@pytest.mark.parametrize("key", ["version", "title", "text", "signature_required"])
def test_a_missing_field_is_named_with_its_licence(tmp_path, key):
    lines = [line for line in VALID.splitlines() if not line.strip().startswith(f"{key}:")]
    message = problems_of(tmp_path, "\n".join(lines) + "\n")
    assert f"licence 'sign-me': missing key '{key}'" in message


def test_a_missing_id_names_the_licence_by_its_position(tmp_path):
    message = problems_of(tmp_path, VALID.replace("  - id: sign-me\n    version", "  - version"))
    assert "licence #1: missing key 'id'" in message


def test_duplicate_ids_are_refused(tmp_path):
    second = VALID.split("licences:\n", 1)[1]
    message = problems_of(tmp_path, VALID + second)
    assert "licence 'sign-me': duplicate id (licences #1 and #2)" in message


def test_an_unquoted_version_is_refused_with_the_fix(tmp_path):
    message = problems_of(tmp_path, VALID.replace('version: "1.0"', "version: 1.0"))
    assert "licence 'sign-me': 'version' must be a non-empty text; write it in quotes" in message


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("title: {fr: Licence à signer, en: Licence to sign}", "title: Licence"),
            "'title' must be a mapping of language codes",
        ),
        (
            ("signature_required: true", "signature_required: yes please"),
            "'signature_required' must be true or false",
        ),
        (
            ("od_conformance: not reviewed", "od_conformance: maybe"),
            "'od_conformance' must be one of approved, not reviewed, rejected",
        ),
        (
            ("url: https://example.org/licence", "url: javascript:alert(1)"),
            "'url' must be an http(s) address or empty",
        ),
        (("id: sign-me", "id: Sign Me"), "'id' must be lower-case letters"),
        (("id: sign-me", "id: mine"), "'id' may not be 'mine'"),
        (("name: organisation", "name: version"), "'name' may not be 'version'"),
        (
            ("    required: true", "    required: sometimes"),
            "signer detail #1: 'required' must be true or false",
        ),
        (
            ("    required: true", "    required: true\n        widget: textarea"),
            "signer detail #1: unknown key 'widget'",
        ),
    ],
)
def test_invalid_values_are_explained(tmp_path, change, expected):
    message = problems_of(tmp_path, VALID.replace(*change))
    assert expected in message


def test_a_duplicate_signer_detail_is_refused(tmp_path):
    detail = "\n      - name: organisation\n        label: {fr: O, en: O}\n        required: false"
    message = problems_of(
        tmp_path, VALID.replace("    required: true", "    required: true" + detail)
    )
    assert "licence 'sign-me', signer detail #2: duplicate name 'organisation'" in message


def test_every_problem_is_listed_at_once(tmp_path):
    second = (
        VALID.split("licences:\n", 1)[1].replace("sign-me", "other").replace("  text:", "  txt:")
    )
    message = problems_of(tmp_path, VALID.replace('version: "1.0"', "version: 2") + second)
    assert "licence 'sign-me': 'version' must be" in message
    assert "licence 'other': unknown key 'txt'" in message
    assert "licence 'other': missing key 'text'" in message


@pytest.mark.parametrize(
    "content, expected",
    [
        ("licences: [unclosed", "not valid YAML"),
        ("- id: a-list-at-the-top\n", "must be a mapping with a 'licences' list"),
        ("licences: []\nlicenses: []\n", "unknown top-level key 'licenses'"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path, content, expected):
    assert expected in problems_of(tmp_path, content)


def test_a_missing_file_is_named(tmp_path):
    path = str(tmp_path / "nowhere.yaml")
    with pytest.raises(registry.RegistryError, match=f"licence registry {path}: cannot be read"):
        registry.load(path)


def test_start_up_stops_on_an_invalid_registry(tmp_path, ckan_config, monkeypatch):
    path = write(tmp_path, VALID.replace("text:", "texte:"))
    monkeypatch.setitem(ckan_config, "ckanext.grandlyon_licence.registry", path)
    plugin = plugins.get_plugin("grandlyon_licence")
    with pytest.raises(registry.RegistryError) as error:
        plugin.configure(ckan_config)
    assert path in str(error.value) and "licence 'sign-me': unknown key 'texte'" in str(error.value)


def test_the_registry_becomes_ckans_licence_register(tmp_path, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.grandlyon_licence.registry", write(tmp_path, VALID))
    plugins.get_plugin("grandlyon_licence").configure(ckan_config)
    empty_registry()  # seeded from this file on first use
    register = model.Package.get_license_register()
    assert register.keys() == ["sign-me"]
    assert register["sign-me"].title == "Licence à signer"
    assert register["sign-me"].isopen() is False


@pytest.mark.ckan_config("ckanext.grandlyon_licence.registry", "")
def test_without_a_registry_ckan_keeps_its_own_licences(app):
    result = app.get("/api/3/action/license_list").get_json()["result"]
    assert "cc-by" in [licence["id"] for licence in result]
    assert "mobilites" not in [licence["id"] for licence in result]
    assert app.get("/api/3/action/grandlyon_licence_list").get_json()["result"] == []


@pytest.mark.parametrize(
    "language, expected",
    [("fr", "Licence à signer"), ("en", "Licence to sign"), ("de", "Licence à signer")],
)
def test_localize_falls_back_to_the_default_language(language, expected):
    # ckan.locale_default is fr in config/portal.ini
    assert (
        registry.localize({"fr": "Licence à signer", "en": "Licence to sign"}, language) == expected
    )
