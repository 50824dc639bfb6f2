"""The demo catalogue: its files are consistent, and its loader builds the
catalogue through the HTTP API of a real CKAN server (the shared
`live_portal`), idempotently."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import ckan.model as model
import pytest
import requests
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADER = os.path.join(REPO, "demo", "load.py")
DATA = os.path.join(REPO, "demo", "lyon")


def check(data_dir: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, LOADER, "--check", "--data", data_dir],
        capture_output=True, text=True, timeout=60,
    )


def test_demo_files_are_consistent():
    result = check(DATA)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_a_dataset_of_an_unknown_organisation(tmp_path):
    broken = tmp_path / "data"
    shutil.copytree(DATA, broken)
    datasets = json.loads((broken / "datasets.json").read_text(encoding="utf-8"))
    datasets[0]["owner_org"] = "no-such-organisation"
    (broken / "datasets.json").write_text(json.dumps(datasets), encoding="utf-8")

    result = check(str(broken))
    assert result.returncode != 0
    assert "no-such-organisation" in result.stdout + result.stderr


def catalogue(url: str, token: str) -> dict:
    """What the API shows of the catalogue, to compare two loads."""

    def call(action, **params):
        res = requests.get(f"{url}/api/3/action/{action}", params=params,
                           headers={"Authorization": token}, timeout=30)
        res.raise_for_status()
        return res.json()["result"]

    datasets = call("package_search", rows=1000, include_private="true")["results"]
    resources = [r for d in datasets for r in d["resources"]]
    datastore_rows = {
        r["name"]: call("datastore_search", resource_id=r["id"], limit=0)["total"]
        for r in resources if r.get("datastore_active")
    }
    return {
        "datasets": sorted(d["name"] for d in datasets),
        "resources": sorted((r["package_id"], r["name"]) for r in resources),
        "organizations": sorted(call("organization_list")),
        "groups": sorted(call("group_list")),
        "datastore_rows": datastore_rows,
    }


def access_state(url: str, token: str) -> dict:
    """Circles, grants, requests and levels of the demo, as the API shows them."""

    def call(action, **params):
        res = requests.post(f"{url}/api/3/action/{action}", json=params,
                            headers={"Authorization": token}, timeout=30)
        res.raise_for_status()
        return res.json()["result"]

    circle = call("grandlyon_access_circle_show", id="partenaires-mobilite")
    grants = call("grandlyon_access_grant_list", package_id="parcs-relais-occupation")
    requests_ = call("grandlyon_access_request_list", package_id="parcs-relais-occupation")
    datasets = call("package_search", rows=1000, include_private=True)["results"]
    return {
        "members": sorted(m["user"] for m in circle["members"]),
        "grants": [(g["circle"], g["user"]) for g in grants],
        "requests": [(r["user"], r["status"]) for r in requests_],
        "levels": {d["name"]: d["access_level"] for d in datasets},
    }


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_loader_builds_the_catalogue_and_a_second_run_changes_nothing(live_portal, tmp_path):
    with open(os.path.join(DATA, "datasets.json"), encoding="utf-8") as f:
        expected = json.load(f)
    token = make_actor(sysadmin=True).token
    live_ckan = live_portal.url
    passwords = tmp_path / "passwords"
    load = [sys.executable, LOADER, "--url", live_ckan, "--token", token,
            "--data", DATA, "--password-file", str(passwords)]

    first = subprocess.run(load, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = catalogue(live_ckan, token)

    assert after_first["datasets"] == sorted(d["name"] for d in expected)
    assert len(after_first["resources"]) == sum(len(d["resources"]) for d in expected)
    assert after_first["datastore_rows"] and all(after_first["datastore_rows"].values())

    second = subprocess.run(load, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert catalogue(live_ckan, token) == after_first
    assert access_state(live_ckan, token) == {
        "members": ["partenaire-tcl"],
        "grants": [("partenaires-mobilite", None)],
        "requests": [("reutilisateur", "pending")],
        "levels": {d["name"]: d.get("access_level", "open") for d in expected},
    }

    lines = [ln for ln in passwords.read_text().splitlines() if ln and not ln.startswith("#")]
    users = dict(line.split(":", 1) for line in lines)
    assert len(users) == 4
    model.Session.remove()
    for name, password in users.items():
        assert model.User.by_name(name).validate_password(password), name
        assert not model.User.by_name(name).validate_password(password + "x")
