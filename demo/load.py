#!/usr/bin/env python3
"""Load a demo catalogue into a running CKAN 2.11 through its action API.

    python demo/load.py --url http://127.0.0.1:5000 --token TOKEN \
        --data demo/lyon --password-file PATH
    python demo/load.py --check --data demo/lyon

The data folder holds organizations.json, groups.json, users.json,
datasets.json and files/ (uploads and DataStore CSV files).  The token must
belong to a sysadmin (it creates users and organisations).

Idempotent: every object is looked up first (*_show) and then created,
patched (only when something differs) or left alone.  Resources are matched
by name inside their dataset.  Objects present in CKAN but absent from the
data files are left untouched.

Depends on `requests` and PyYAML (to read the licence registry); it never imports ckan.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

# The licences a dataset may name: those the portal offers (config/licences.yaml).
LICENCES_FILE = Path(__file__).resolve().parent.parent / "config" / "licences.yaml"


def known_licences() -> tuple[str, ...]:
    """Ids of the licences of the portal's licence registry."""
    import yaml  # PyYAML: installed with CKAN

    with open(LICENCES_FILE, encoding="utf-8") as f:
        return tuple(licence["id"] for licence in yaml.safe_load(f)["licences"])


FREQUENCIES = ("continuous", "daily", "weekly", "monthly", "annual",
               "irregular")
ACCESS_LEVELS = ("open", "licensed", "restricted")
ORG_ROLES = ("admin", "editor", "member")

GROUP_KEYS = {"name", "title", "description", "image_url"}
# A commune's identity (ckanext-communes; config/schemas/organization.yaml).
# `logo` names a file under files/ uploaded as the organisation's image.
COMMUNE_KEYS = {"is_commune", "insee_code", "primary_color", "secondary_color",
                "banner_url", "introduction", "website", "contact_email",
                "host_names", "boundary", "logo"}
USER_KEYS = {"name", "fullname", "email", "about", "organizations"}
DATASET_KEYS = {
    "name", "title", "notes", "owner_org", "license_id", "tags", "groups",
    "url", "version", "author", "author_email", "maintainer",
    "maintainer_email", "spatial", "frequency", "access_level", "access_hidden",
    "resources",
}
RESOURCE_KEYS = {"name", "description", "format", "url", "upload",
                 "datastore", "fields", "charts", "history_feed"}
# A resource's "history_feed": the real-time feed whose history the portal
# keeps (ckanext-history). Its url may start with {feed_base}, the address of
# the demo feed server (--feed-base); without --feed-base no feed is declared.
HISTORY_FEED_KEYS = {"url", "format", "feature_id_field", "time_field",
                     "fields", "interval_seconds", "hot_retention_days",
                     "store_mode", "enabled"}
HISTORY_FIELD_TYPES = ("int", "float", "text", "bool", "timestamp")
RESOURCE_SOURCES = ("url", "upload", "datastore")

# Dataset fields that stock CKAN's package schema knows. Any other field of
# datasets.json is sent as a top-level key when the running CKAN's scheming
# schema declares it, and as an `extras` entry otherwise.
CORE_PACKAGE_FIELDS = {
    "name", "title", "notes", "owner_org", "license_id", "tags", "groups",
    "url", "version", "author", "author_email", "maintainer",
    "maintainer_email", "private", "state", "type", "extras",
}

# DataStore column types accepted in a resource's "fields", with the
# PostgreSQL type name datastore_info reports for them.
DATASTORE_TYPES = {
    "text": "text", "int": "int4", "int4": "int4", "integer": "int4",
    "bigint": "int8", "int8": "int8", "numeric": "numeric",
    "float": "float8", "float8": "float8", "bool": "bool",
    "date": "date", "timestamp": "timestamp",
}

NAME_RE = re.compile(r"^[a-z0-9_\-]{2,100}$")
TAG_RE = re.compile(r"^[\w \-.]{2,100}$", re.UNICODE)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString",
                  "Polygon", "MultiPolygon", "GeometryCollection"}


class Fatal(Exception):
    """Stops the loader with a message."""


# ---------------------------------------------------------------- data files

def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def load_data(data_dir: Path) -> dict[str, list]:
    data = {}
    for key in ("organizations", "groups", "users", "datasets"):
        path = data_dir / f"{key}.json"
        if not path.is_file():
            raise Fatal(f"missing data file {path}")
        try:
            value = read_json(path)
        except ValueError as exc:
            raise Fatal(f"{path}: invalid JSON: {exc}") from exc
        if not isinstance(value, list):
            raise Fatal(f"{path}: expected a JSON list of objects")
        data[key] = value
    # Optional: circles, grants and access requests (grandlyon_access).
    access = data_dir / "access.json"
    data["access"] = read_json(access) if access.is_file() else {}
    if not isinstance(data["access"], dict):
        raise Fatal(f"{access}: expected a JSON object")
    # Optional: map views and saved maps (dataviz_map).
    maps = data_dir / "maps.json"
    data["maps"] = read_json(maps) if maps.is_file() else {}
    if not isinstance(data["maps"], dict):
        raise Fatal(f"{maps}: expected a JSON object")
    # Optional: editorial pages and news (grandlyon_access).
    editorial = data_dir / "editorial.json"
    data["editorial"] = read_json(editorial) if editorial.is_file() else []
    if not isinstance(data["editorial"], list):
        raise Fatal(f"{editorial}: expected a JSON list of objects")
    # Optional: settings of /ckan-admin/config (the home page's, grandlyon_access).
    site = data_dir / "site.json"
    data["site"] = read_json(site) if site.is_file() else {}
    if not isinstance(data["site"], dict):
        raise Fatal(f"{site}: expected a JSON object")
    return data


def convert_value(raw: str, ftype: str) -> Any:
    """CSV cell -> JSON value for datastore_create (None for empty)."""
    if raw is None or raw == "":
        return None
    pg = DATASTORE_TYPES.get(ftype, ftype)
    if pg in ("int4", "int8"):
        return int(raw)
    if pg == "numeric":
        Decimal(raw)  # validates
        return float(raw) if _float_exact(raw) else raw
    if pg == "float8":
        return float(raw)
    if pg == "bool":
        low = raw.strip().lower()
        if low in ("true", "t", "1", "oui", "yes"):
            return True
        if low in ("false", "f", "0", "non", "no"):
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    return raw


def _float_exact(raw: str) -> bool:
    try:
        return Decimal(repr(float(raw))) == Decimal(raw)
    except (ValueError, InvalidOperation):
        return False


def read_datastore_csv(path: Path, fields: list[dict] | None
                       ) -> tuple[list[dict], list[dict]]:
    """Return (datastore fields, records) for a CSV file.

    Without a "fields" list in the resource, every column is text."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = list(reader)
    if not header:
        raise ValueError("empty CSV file")
    if fields is None:
        fields = [{"id": h, "type": "text"} for h in header]
    ids = [f.get("id") for f in fields]
    if ids != header:
        raise ValueError(f"columns {header} do not match fields {ids}")
    ds_fields = []
    for f in fields:
        if f.get("type") not in DATASTORE_TYPES:
            raise ValueError(f"field {f.get('id')!r}: unknown type "
                             f"{f.get('type')!r}, use one of "
                             f"{sorted(DATASTORE_TYPES)}")
        d = {"id": f["id"], "type": f["type"]}
        info = {k: f[k] for k in ("label", "notes") if f.get(k)}
        if info:
            d["info"] = info
        ds_fields.append(d)
    records = []
    for lineno, row in enumerate(rows, start=2):
        if None in row:
            raise ValueError(f"line {lineno}: too many cells")
        rec = {}
        for f in fields:
            try:
                rec[f["id"]] = convert_value(row.get(f["id"]), f["type"])
            except (ValueError, InvalidOperation) as exc:
                raise ValueError(f"line {lineno}, column {f['id']!r}: "
                                 f"{exc}") from exc
        records.append(rec)
    return ds_fields, records


def check_access(data: dict, problems: list[str]) -> None:
    """References of access.json to datasets, users and circles."""
    access = data.get("access") or {}
    datasets = {d.get("name"): d for d in data["datasets"] if isinstance(d, dict)}
    users = {u.get("name") for u in data["users"] if isinstance(u, dict)}
    circles = {c.get("name") for c in access.get("circles", [])}
    for circle in access.get("circles", []):
        for member in circle.get("members", []):
            if member not in users:
                problems.append(f"circle {circle.get('name')!r}: unknown member {member!r}")
    for grant in access.get("grants", []):
        if grant.get("dataset") not in datasets:
            problems.append(f"grant: unknown dataset {grant.get('dataset')!r}")
        if bool(grant.get("circle")) == bool(grant.get("user")):
            problems.append(f"grant on {grant.get('dataset')!r}: give a circle or a user")
        elif grant.get("circle") and grant["circle"] not in circles:
            problems.append(f"grant: unknown circle {grant['circle']!r}")
        elif grant.get("user") and grant["user"] not in users:
            problems.append(f"grant: unknown user {grant['user']!r}")
    for req in access.get("requests", []):
        ds = datasets.get(req.get("dataset"))
        if ds is None or ds.get("access_level") != "restricted":
            problems.append(f"request: {req.get('dataset')!r} is not a restricted dataset")
        if req.get("user") not in users:
            problems.append(f"request: unknown user {req.get('user')!r}")
        if not req.get("message"):
            problems.append(f"request on {req.get('dataset')!r}: a message is required")


def resource_source(res: dict) -> str | None:
    found = [k for k in RESOURCE_SOURCES if res.get(k)]
    return found[0] if len(found) == 1 else None


def check_history_feed(feed: Any) -> list[str]:
    """Problems of a resource's history_feed declaration."""
    if not isinstance(feed, dict):
        return ["must be an object"]
    problems = [f"unexpected keys {sorted(set(feed) - HISTORY_FEED_KEYS)}"] \
        if set(feed) - HISTORY_FEED_KEYS else []
    url = str(feed.get("url", ""))
    if not re.match(r"^(\{feed_base\}|https?://)", url):
        problems.append("url must start with {feed_base} or http(s)://")
    if feed.get("format") not in ("geojson", "json", "csv"):
        problems.append("format must be geojson, json or csv")
    if not feed.get("feature_id_field"):
        problems.append("missing feature_id_field")
    fields = feed.get("fields")
    if not isinstance(fields, list) or not fields or not all(
            isinstance(f, dict) and f.get("name")
            and f.get("type") in HISTORY_FIELD_TYPES for f in fields):
        problems.append("fields must be a non-empty list of {name, type} "
                        f"with a type among {HISTORY_FIELD_TYPES}")
    return problems


def check_data(data: dict[str, list], data_dir: Path) -> list[str]:
    """Validate the data files; return a list of problems."""
    problems: list[str] = []
    files_dir = data_dir / "files"

    def named(kind: str, items: list, allowed: set[str]) -> set[str]:
        names: set[str] = set()
        for i, item in enumerate(items):
            where = f"{kind}[{i}]"
            if not isinstance(item, dict):
                problems.append(f"{where}: not an object")
                continue
            name = item.get("name")
            where = f"{kind} {name!r}"
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems.append(f"{where}: name must be 2-100 chars of "
                                "a-z, 0-9, '-' or '_'")
            elif name in names:
                problems.append(f"{where}: duplicate name")
            else:
                names.add(name)
            extra = set(item) - allowed
            if extra:
                problems.append(f"{where}: unexpected keys {sorted(extra)}")
            if kind != "user" and not item.get("title"):
                problems.append(f"{where}: missing title")
        return names

    orgs = named("organization", data["organizations"], GROUP_KEYS | COMMUNE_KEYS)
    for org in data["organizations"]:
        logo = org.get("logo") if isinstance(org, dict) else None
        if logo and not (files_dir / logo).is_file():
            problems.append(f"organization {org.get('name')!r}: logo file {logo!r} "
                            "not found in files/")
    groups = named("group", data["groups"], GROUP_KEYS)
    named("dataset", data["datasets"], DATASET_KEYS)
    named("user", data["users"], USER_KEYS)

    for user in data["users"]:
        if not isinstance(user, dict):
            continue
        where = f"user {user.get('name')!r}"
        if not EMAIL_RE.match(str(user.get("email", ""))):
            problems.append(f"{where}: missing or invalid email")
        if not user.get("fullname"):
            problems.append(f"{where}: missing fullname")
        memberships = user.get("organizations", [])
        if not isinstance(memberships, list):
            problems.append(f"{where}: organizations must be a list")
            continue
        for m in memberships:
            if not isinstance(m, dict) or set(m) != {"organization", "role"}:
                problems.append(f"{where}: membership must be "
                                f"{{organization, role}}: {m!r}")
                continue
            if m["organization"] not in orgs:
                problems.append(f"{where}: unknown organization "
                                f"{m['organization']!r}")
            if m["role"] not in ORG_ROLES:
                problems.append(f"{where}: role {m['role']!r} not in "
                                f"{ORG_ROLES}")

    for ds in data["datasets"]:
        if not isinstance(ds, dict):
            continue
        where = f"dataset {ds.get('name')!r}"
        if ds.get("owner_org") not in orgs:
            problems.append(f"{where}: unknown owner_org "
                            f"{ds.get('owner_org')!r}")
        if ds.get("license_id") not in known_licences():
            problems.append(f"{where}: license_id {ds.get('license_id')!r} "
                            f"not in {LICENCES_FILE.name}")
        if "frequency" in ds and ds["frequency"] not in FREQUENCIES:
            problems.append(f"{where}: frequency {ds['frequency']!r} not in "
                            f"{FREQUENCIES}")
        if "access_level" in ds and ds["access_level"] not in ACCESS_LEVELS:
            problems.append(f"{where}: access_level {ds['access_level']!r} "
                            f"not in {ACCESS_LEVELS}")
        for key in ("author_email", "maintainer_email"):
            if ds.get(key) and not EMAIL_RE.match(ds[key]):
                problems.append(f"{where}: invalid {key}")
        if ds.get("url") and not re.match(r"^https?://", ds["url"]):
            problems.append(f"{where}: url must be http(s)")
        for key in ("title", "notes", "url", "version", "author",
                    "maintainer", "spatial"):
            if key in ds and not isinstance(ds[key], str):
                problems.append(f"{where}: {key} must be a string")
        tags = ds.get("tags", [])
        if not isinstance(tags, list):
            problems.append(f"{where}: tags must be a list of strings")
            tags = []
        for tag in tags:
            if not isinstance(tag, str) or not TAG_RE.match(tag):
                problems.append(f"{where}: invalid tag {tag!r} (2-100 "
                                "letters, digits, spaces, '-', '_', '.')")
        if len(set(tags)) != len(tags):
            problems.append(f"{where}: duplicate tags")
        dgroups = ds.get("groups", [])
        if not isinstance(dgroups, list):
            problems.append(f"{where}: groups must be a list of names")
            dgroups = []
        for g in dgroups:
            if g not in groups:
                problems.append(f"{where}: unknown group {g!r}")
        if ds.get("spatial"):
            try:
                geom = json.loads(ds["spatial"])
                if geom.get("type") not in GEOMETRY_TYPES:
                    raise ValueError("not a GeoJSON geometry")
                if geom["type"] != "GeometryCollection" and \
                        not geom.get("coordinates"):
                    raise ValueError("no coordinates")
            except (ValueError, AttributeError, TypeError) as exc:
                problems.append(f"{where}: spatial is not a GeoJSON "
                                f"geometry string: {exc}")
        resources = ds.get("resources", [])
        if not isinstance(resources, list):
            problems.append(f"{where}: resources must be a list")
            continue
        rnames: set[str] = set()
        for res in resources:
            if not isinstance(res, dict):
                problems.append(f"{where}: resource is not an object")
                continue
            rwhere = f"{where}, resource {res.get('name')!r}"
            if not res.get("name"):
                problems.append(f"{rwhere}: missing name")
            elif res["name"] in rnames:
                problems.append(f"{rwhere}: duplicate resource name")
            rnames.add(res.get("name"))
            extra = set(res) - RESOURCE_KEYS
            if extra:
                problems.append(f"{rwhere}: unexpected keys {sorted(extra)}")
            if not res.get("format"):
                problems.append(f"{rwhere}: missing format")
            source = resource_source(res)
            if source is None:
                problems.append(f"{rwhere}: needs exactly one of "
                                f"{RESOURCE_SOURCES}")
                continue
            feed = res.get("history_feed")
            if feed is not None:
                problems.extend(f"{rwhere}: history_feed: {p}"
                                for p in check_history_feed(feed))
            if "fields" in res and source != "datastore":
                problems.append(f"{rwhere}: 'fields' only applies to "
                                "datastore resources")
            if source == "url":
                if not re.match(r"^https?://", res["url"]):
                    problems.append(f"{rwhere}: url must be http(s)")
                continue
            path = files_dir / res[source]
            if Path(res[source]).name != res[source]:
                problems.append(f"{rwhere}: file must be a plain name "
                                "inside files/")
                continue
            if not path.is_file():
                problems.append(f"{rwhere}: missing file {path}")
                continue
            if source == "datastore":
                try:
                    _, records = read_datastore_csv(path, res.get("fields"))
                    if not records:
                        problems.append(f"{rwhere}: {path.name} has no rows")
                except (ValueError, KeyError, TypeError,
                        UnicodeDecodeError, csv.Error) as exc:
                    problems.append(f"{rwhere}: {path.name}: {exc}")
            elif path.suffix.lower() in (".json", ".geojson"):
                try:
                    doc = read_json(path)
                except ValueError as exc:
                    problems.append(f"{rwhere}: {path.name}: invalid JSON: "
                                    f"{exc}")
                    continue
                if path.suffix.lower() == ".geojson" and (
                        not isinstance(doc, dict) or doc.get("type") not in
                        {"FeatureCollection", "Feature"} | GEOMETRY_TYPES):
                    problems.append(f"{rwhere}: {path.name} is not GeoJSON")
    check_access(data, problems)
    return problems


# ----------------------------------------------------------------- API client

class Client:
    def __init__(self, url: str, token: str, timeout: float = 120):
        import requests  # only needed when talking to CKAN
        self.requests = requests
        self.base = url.rstrip("/") + "/api/3/action/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = token
        self.session.headers["User-Agent"] = "demo-loader/1.0"
        self.timeout = timeout

    def call(self, action: str, data: dict | None = None, *, obj: str = "",
             files: dict | None = None, missing_ok: bool = False,
             decimals: bool = False) -> Any:
        """POST an action; return its result.

        missing_ok: return None on CKAN's "Not Found Error".
        Any other failure raises Fatal with CKAN's error dict."""
        url = self.base + action
        try:
            if files:
                form = {k: v if isinstance(v, str) else json.dumps(v)
                        for k, v in (data or {}).items() if v is not None}
                resp = self.session.post(url, data=form, files=files,
                                         timeout=self.timeout)
            else:
                resp = self.session.post(url, json=data or {},
                                         timeout=self.timeout)
        except self.requests.RequestException as exc:
            raise Fatal(f"{action} {obj}: cannot reach CKAN at {url}: "
                        f"{exc}") from exc
        try:
            body = json.loads(resp.text,
                              parse_float=Decimal if decimals else float)
        except ValueError:
            raise Fatal(f"{action} {obj}: HTTP {resp.status_code}, "
                        f"response is not JSON: {resp.text[:500]!r}")
        if isinstance(body, dict) and body.get("success") is True:
            return body.get("result")
        error = body.get("error", body) if isinstance(body, dict) else body
        if missing_ok and isinstance(error, dict) and \
                error.get("__type") == "Not Found Error":
            return None
        raise Fatal(f"{action} {obj}: HTTP {resp.status_code}, CKAN error: "
                    + json.dumps(error, ensure_ascii=False, default=str))


# ------------------------------------------------------------------- loading

def same_text(a: Any, b: Any) -> bool:
    return ("" if a is None else str(a)) == ("" if b is None else str(b))


def same_geojson(a: Any, b: Any) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except (TypeError, ValueError):
        return same_text(a, b)


class Loader:
    def __init__(self, client: Client, data: dict[str, list], data_dir: Path,
                 password_file: Path, feed_base: str = ""):
        self.ckan = client
        self.feed_base = feed_base.rstrip("/")
        self.data = data
        self.files_dir = data_dir / "files"
        self.password_file = password_file
        self.counts: dict[str, dict[str, int]] = {}
        self.org_ids: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        self.new_passwords: set[str] = set()
        self.schema_fields: set[str] = set()

    # -- bookkeeping
    def report(self, kind: str, name: str, outcome: str, detail: str = ""):
        self.counts.setdefault(kind, {}).setdefault(outcome, 0)
        self.counts[kind][outcome] += 1
        line = f"{kind:<13} {name:<45} {outcome}"
        print(line + (f" ({detail})" if detail else ""), flush=True)

    # -- environment
    def preflight(self):
        status = self.ckan.call("status_show", obj="(site)")
        extensions = set(status.get("extensions") or [])
        print(f"CKAN {status.get('ckan_version')} at "
              f"{status.get('site_url')}; plugins: "
              f"{', '.join(sorted(extensions))}")
        needs_ds = any(resource_source(r) == "datastore"
                       for d in self.data["datasets"]
                       for r in d.get("resources", []))
        if needs_ds and "datastore" not in extensions:
            raise Fatal("the data has DataStore resources but the "
                        "'datastore' plugin is not enabled in CKAN")
        if "scheming_datasets" in extensions:
            schema = self.ckan.call("scheming_dataset_schema_show",
                                    {"type": "dataset"}, obj="dataset",
                                    missing_ok=True)
            if schema:
                self.schema_fields = {f["field_name"] for f in
                                      schema.get("dataset_fields", [])}
                print("scheming dataset schema fields: "
                      + ", ".join(sorted(self.schema_fields)))

    # -- organisations and groups
    @staticmethod
    def commune_value(key: str, value: Any) -> Any:
        """A commune field as the API takes it."""
        if key == "is_commune":
            return "true" if value else "false"
        if key == "host_names" and isinstance(value, list):
            return ",".join(value)
        if key == "boundary" and not isinstance(value, str):
            return json.dumps(value, separators=(",", ":"))
        return value

    @staticmethod
    def same_commune_value(key: str, shown: Any, wanted: Any) -> bool:
        if key == "is_commune":
            return str(shown).lower() == wanted
        if key == "boundary":
            try:
                return json.loads(shown or "null") == json.loads(wanted or "null")
            except ValueError:
                return False
        return same_text(shown, wanted)

    def upload_logo(self, item: dict, shown: dict) -> dict:
        """Uploads the organisation's logo file unless it is already its image."""
        path = self.files_dir / item["logo"]
        if (shown.get("image_url") or "").endswith(path.name):
            return shown
        with open(path, "rb") as fh:
            shown = self.ckan.call("organization_patch", {"id": shown["id"]},
                                   files={"image_upload": (path.name, fh)}, obj=item["name"])
        self.report("organization", item["name"], "updated", f"logo {path.name}")
        return shown

    def load_groups(self, kind: str):
        items = self.data["organizations" if kind == "organization"
                          else "groups"]
        for item in items:
            name = item["name"]
            wanted = {k: item.get(k, "") or "" for k in
                      ("title", "description", "image_url")}
            if kind == "organization":
                if item.get("logo"):
                    wanted.pop("image_url")
                wanted.update({k: self.commune_value(k, item[k]) for k in COMMUNE_KEYS
                               if k in item and k != "logo"})
            shown = self.ckan.call(
                f"{kind}_show",
                {"id": name, "include_datasets": False,
                 "include_users": False, "include_extras": kind == "organization",
                 "include_groups": False, "include_tags": False,
                 "include_followers": False},
                obj=name, missing_ok=True)
            if shown is None:
                shown = self.ckan.call(f"{kind}_create",
                                       dict(wanted, name=name), obj=name)
                self.report(kind, name, "created")
            else:
                diff = {k: v for k, v in wanted.items()
                        if not self.same_commune_value(k, shown.get(k), v)}
                if shown.get("state") != "active":
                    diff["state"] = "active"
                if diff:
                    shown = self.ckan.call(f"{kind}_patch",
                                           dict(diff, id=shown["id"]),
                                           obj=name)
                    self.report(kind, name, "updated", ", ".join(diff))
                else:
                    self.report(kind, name, "unchanged")
            if kind == "organization":
                if item.get("logo"):
                    shown = self.upload_logo(item, shown)
                self.org_ids[name] = shown["id"]

    # -- users
    def read_passwords(self):
        if self.password_file.exists():
            for lineno, line in enumerate(
                    self.password_file.read_text(encoding="utf-8")
                    .splitlines(), start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, sep, password = line.partition(":")
                if not sep or not password:
                    raise Fatal(f"{self.password_file}:{lineno}: expected "
                                "'name:password'")
                self.passwords[name] = password
        missing = [u["name"] for u in self.data["users"]
                   if u["name"] not in self.passwords]
        if not missing:
            return
        for name in missing:
            self.passwords[name] = secrets.token_urlsafe(12)
            self.new_passwords.add(name)
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        exists = self.password_file.exists()
        fd = os.open(self.password_file,
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            if not exists:
                fh.write("# demo users: name:password (written by "
                         "demo/load.py)\n")
            for name in missing:
                fh.write(f"{name}:{self.passwords[name]}\n")
        print(f"wrote {len(missing)} new password(s) to "
              f"{self.password_file}")

    def load_users(self):
        for user in self.data["users"]:
            name = user["name"]
            wanted = {k: user.get(k, "") or "" for k in
                      ("fullname", "email", "about")}
            shown = self.ckan.call("user_show", {"id": name}, obj=name,
                                   missing_ok=True)
            if shown is None:
                self.ckan.call("user_create",
                               dict(wanted, name=name,
                                    password=self.passwords[name]),
                               obj=name)
                self.report("user", name, "created")
                continue
            diff = {k: v for k, v in wanted.items()
                    if not same_text(shown.get(k), v)}
            if shown.get("state") != "active":
                diff["state"] = "active"
            changes = list(diff)
            if name in self.new_passwords:
                # the user exists but its password was not in the file:
                # set the one just written so that the file is right
                diff["password"] = self.passwords[name]
                changes.append("password reset")
            if diff:
                self.ckan.call("user_patch", dict(diff, id=shown["id"]),
                               obj=name)
                self.report("user", name, "updated", ", ".join(changes))
            else:
                self.report("user", name, "unchanged")

    def load_memberships(self):
        wanted: dict[str, dict[str, str]] = {}
        for user in self.data["users"]:
            for m in user.get("organizations", []):
                wanted.setdefault(m["organization"], {})[user["name"]] = \
                    m["role"]
        for org, members in wanted.items():
            shown = self.ckan.call(
                "organization_show",
                {"id": org, "include_datasets": False, "include_users": True,
                 "include_extras": False, "include_groups": False,
                 "include_tags": False, "include_followers": False},
                obj=org)
            current = {u.get("name"): u.get("capacity")
                       for u in shown.get("users", [])}
            for username, role in members.items():
                label = f"{username}@{org}"
                if current.get(username) == role:
                    self.report("membership", label, "unchanged", role)
                    continue
                self.ckan.call("organization_member_create",
                               {"id": org, "username": username,
                                "role": role}, obj=label)
                self.report("membership", label,
                            "created" if username not in current
                            else "updated", role)

    # -- datasets
    def wanted_package(self, ds: dict, shown: dict | None) -> dict:
        pkg: dict[str, Any] = {"private": False}
        extras: dict[str, str] = {}
        for key, value in ds.items():
            if key in ("resources",):
                continue
            if key == "tags":
                pkg["tags"] = [{"name": t} for t in value]
            elif key == "groups":
                pkg["groups"] = [{"name": g} for g in value]
            elif key in CORE_PACKAGE_FIELDS or key in self.schema_fields:
                pkg[key] = value
            else:
                extras[key] = value if isinstance(value, str) \
                    else json.dumps(value, ensure_ascii=False)
        if extras or (shown and shown.get("extras")):
            kept = [e for e in (shown or {}).get("extras", [])
                    if e.get("key") not in extras
                    and e.get("key") not in pkg]
            pkg["extras"] = kept + [{"key": k, "value": v}
                                    for k, v in extras.items()]
        return pkg

    def package_diff(self, wanted: dict, shown: dict) -> dict:
        diff = {}
        for key, value in wanted.items():
            have = shown.get(key)
            if key == "tags":
                same = sorted(t["name"] for t in value) == \
                    sorted(t.get("name") for t in have or [])
            elif key == "groups":
                same = sorted(g["name"] for g in value) == \
                    sorted(g.get("name") for g in have or [])
            elif key == "owner_org":
                same = have in (self.org_ids.get(value), value)
            elif key == "private":
                same = bool(have) == bool(value)
            elif key == "extras":
                mine = {e["key"]: e["value"] for e in value}
                theirs = {e.get("key"): e.get("value") for e in have or []}
                same = all(k in theirs and (same_geojson(v, theirs[k])
                                            if k == "spatial" else
                                            same_text(v, theirs[k]))
                           for k, v in mine.items())
            elif key == "spatial":
                same = same_geojson(value, have)
            else:
                same = same_text(have, value)
            if not same:
                diff[key] = value
        if shown.get("state") != "active":
            diff["state"] = "active"
        return diff

    def load_datasets(self):
        for ds in self.data["datasets"]:
            name = ds["name"]
            shown = self.ckan.call("package_show", {"id": name}, obj=name,
                                   missing_ok=True)
            wanted = self.wanted_package(ds, shown)
            if shown is None:
                pkg = self.ckan.call("package_create", wanted, obj=name)
                self.report("dataset", name, "created")
            else:
                diff = self.package_diff(wanted, shown)
                if diff:
                    pkg = self.ckan.call("package_patch",
                                         dict(diff, id=shown["id"]),
                                         obj=name)
                    self.report("dataset", name, "updated", ", ".join(diff))
                else:
                    pkg = shown
                    self.report("dataset", name, "unchanged")
            for res in ds.get("resources", []):
                self.load_resource(pkg, res)
            if any("history_feed" in res for res in ds.get("resources", [])):
                self.load_history_feeds(ds)

    # -- history feeds (ckanext-history)
    def load_history_feeds(self, ds: dict):
        if not self.feed_base:
            print(f"note: {ds['name']}: no --feed-base, its history feed is "
                  "not declared")
            return
        pkg = self.ckan.call("package_show", {"id": ds["name"]}, obj=ds["name"])
        for res in ds.get("resources", []):
            if "history_feed" not in res:
                continue
            label = f"{ds['name']}/{res['name']}"
            current = next((r for r in pkg.get("resources", [])
                            if r.get("name") == res["name"]), None)
            if current is None:
                raise Fatal(f"{label}: resource missing after loading")
            wanted = dict(res["history_feed"])
            wanted["url"] = wanted["url"].replace("{feed_base}", self.feed_base)
            shown = self.ckan.call("history_feed_show",
                                   {"resource_id": current["id"]},
                                   obj=label, missing_ok=True)
            if shown is None:
                self.ckan.call("history_feed_create",
                               dict(wanted, resource_id=current["id"]),
                               obj=label)
                self.report("history feed", label, "created")
                continue
            diff = {k: v for k, v in wanted.items() if shown.get(k) != v}
            if diff:
                self.ckan.call("history_feed_update",
                               dict(diff, resource_id=current["id"]),
                               obj=label)
                self.report("history feed", label, "updated", ", ".join(diff))
            else:
                self.report("history feed", label, "unchanged")

    # -- resources
    def load_resource(self, pkg: dict, res: dict):
        existing = [r for r in pkg.get("resources", [])
                    if r.get("name") == res["name"]]
        current = existing[0] if existing else None
        label = f"{pkg['name']}/{res['name']}"
        if len(existing) > 1:
            print(f"warning: {label}: {len(existing)} resources share this "
                  "name; using the first one")
        source = resource_source(res)
        meta = {k: res.get(k, "") for k in ("name", "description", "format")}
        if source == "url":
            meta["url"] = res["url"]
        meta_diff = {}
        if current:
            for key, value in meta.items():
                have = current.get(key)
                same = (str(have or "").lower() == value.lower()
                        if key == "format" else same_text(have, value))
                if not same:
                    meta_diff[key] = value
        if source == "url":
            self.load_url_resource(pkg, current, meta, meta_diff, label)
        elif source == "upload":
            self.load_upload_resource(pkg, current, meta, meta_diff, res,
                                      label)
        else:
            self.load_datastore_resource(pkg, current, meta, meta_diff, res,
                                         label)
        if res.get("charts"):
            self.load_charts(pkg, res, label)

    def load_charts(self, pkg: dict, res: dict, label: str):
        """Chart views of a resource (dataviz_chart on a DataStore table, or
        the view_type given, e.g. dataviz_history on a real-time feed),
        created through resource_view_create when no view has their title."""
        shown = self.ckan.call("package_show", {"id": pkg["id"]}, obj=label)
        resource = [r for r in shown["resources"] if r.get("name") == res["name"]][0]
        titles = {v["title"] for v in self.ckan.call(
            "resource_view_list", {"id": resource["id"]}, obj=label)}
        for chart in res["charts"]:
            if chart["title"] in titles:
                self.report("chart", f"{label}/{chart['title']}", "unchanged")
                continue
            self.ckan.call("resource_view_create",
                           dict(chart, resource_id=resource["id"],
                                view_type=chart.get("view_type", "dataviz_chart")),
                           obj=label)
            self.report("chart", f"{label}/{chart['title']}", "created")

    def load_url_resource(self, pkg, current, meta, meta_diff, label):
        if current is None:
            self.ckan.call("resource_create",
                           dict(meta, package_id=pkg["id"]), obj=label)
            self.report("resource", label, "created")
        elif meta_diff:
            self.ckan.call("resource_patch", dict(meta_diff,
                                                  id=current["id"]),
                           obj=label)
            self.report("resource", label, "updated", ", ".join(meta_diff))
        else:
            self.report("resource", label, "unchanged")

    def load_upload_resource(self, pkg, current, meta, meta_diff, res, label):
        path = self.files_dir / res["upload"]
        size = path.stat().st_size
        if current is None:
            with path.open("rb") as fh:
                self.ckan.call("resource_create",
                               dict(meta, package_id=pkg["id"]),
                               files={"upload": (path.name, fh)}, obj=label)
            self.report("resource", label, "created", f"upload {path.name}")
            return
        same_file = (current.get("url_type") == "upload"
                     and str(current.get("size")) == str(size)
                     and str(current.get("url", "")).rsplit("/", 1)[-1]
                     == path.name)
        if same_file and not meta_diff:
            self.report("resource", label, "unchanged")
        elif same_file:
            self.ckan.call("resource_patch",
                           dict(meta_diff, id=current["id"]), obj=label)
            self.report("resource", label, "updated", ", ".join(meta_diff))
        else:
            with path.open("rb") as fh:
                self.ckan.call("resource_patch", dict(meta, id=current["id"]),
                               files={"upload": (path.name, fh)}, obj=label)
            self.report("resource", label, "updated",
                        f"re-uploaded {path.name}")

    def load_datastore_resource(self, pkg, current, meta, meta_diff, res,
                                label):
        path = self.files_dir / res["datastore"]
        fields, records = read_datastore_csv(path, res.get("fields"))
        if current is None:
            # creates the resource (url_type "datastore") and its table
            self.write_table({"resource": dict(meta, package_id=pkg["id"])},
                             fields, records, label)
            self.report("resource", label, "created",
                        f"datastore, {len(records)} rows")
            return
        changes = []
        if meta_diff:
            self.ckan.call("resource_patch",
                           dict(meta_diff, id=current["id"]), obj=label)
            changes.append(", ".join(meta_diff))
        if not self.datastore_matches(current, fields, records, label):
            if current.get("datastore_active"):
                self.ckan.call("datastore_delete",
                               {"resource_id": current["id"], "force": True},
                               obj=label)
            self.write_table({"resource_id": current["id"]}, fields,
                             records, label)
            changes.append(f"datastore reloaded, {len(records)} rows")
        if changes:
            self.report("resource", label, "updated", "; ".join(changes))
        else:
            self.report("resource", label, "unchanged")

    def write_table(self, target: dict, fields: list[dict],
                    records: list[dict], label: str, chunk: int = 1000):
        """datastore_create the table with its fields and first rows, then
        append the other rows (target: {"resource": {...}} to create the
        resource with url_type "datastore", or {"resource_id": ...})."""
        first = True
        start = 0
        while first or start < len(records):
            batch = records[start:start + chunk]
            start += chunk
            payload = dict(target, force=True, records=batch,
                           calculate_record_count=start >= len(records))
            if first:
                payload["fields"] = fields
            result = self.ckan.call("datastore_create", payload, obj=label)
            if first:
                target = {"resource_id": result["resource_id"]}
                first = False

    def datastore_matches(self, current: dict, fields: list[dict],
                          records: list[dict], label: str) -> bool:
        if not current.get("datastore_active"):
            return False
        info = self.ckan.call("datastore_info", {"id": current["id"]},
                              obj=label, missing_ok=True)
        if not info or not info.get("meta"):
            return False
        if info["meta"].get("count") != len(records):
            return False
        have = [f for f in info.get("fields", [])
                if not f["id"].startswith("_")]
        if [f["id"] for f in have] != [f["id"] for f in fields]:
            return False
        for mine, theirs in zip(fields, have):
            if DATASTORE_TYPES[mine["type"]] != theirs.get("type"):
                return False
            their_info = theirs.get("info") or {}
            for k, v in (mine.get("info") or {}).items():
                if their_info.get(k) != v:
                    return False
        if not records:
            return True
        result = self.ckan.call(
            "datastore_search",
            {"resource_id": current["id"], "limit": len(records) + 1,
             "sort": "_id", "include_total": False},
            obj=label, decimals=True)
        rows = result.get("records", [])
        if len(rows) != len(records):
            return False
        for row, rec in zip(rows, records):
            for f in fields:
                if not same_cell(row.get(f["id"]), rec[f["id"]]):
                    return False
        return True

    # -- all
    # -- circles, grants and access requests (grandlyon_access)
    def load_access(self):
        access = self.data.get("access") or {}
        if not access:
            return
        status = self.ckan.call("status_show", obj="(site)")
        if "grandlyon_access" not in (status.get("extensions") or []):
            raise Fatal("access.json needs the grandlyon_access plugin")
        for circle in access.get("circles", []):
            shown = self.ckan.call("grandlyon_access_circle_show", {"id": circle["name"]},
                                   obj=circle["name"], missing_ok=True)
            fields = {"title": circle["title"], "description": circle.get("description", "")}
            if shown is None:
                self.ckan.call("grandlyon_access_circle_create",
                               {"name": circle["name"], **fields}, obj=circle["name"])
                self.report("circle", circle["name"], "created")
            elif any(shown.get(k) != v for k, v in fields.items()):
                self.ckan.call("grandlyon_access_circle_update", {"id": circle["name"], **fields},
                               obj=circle["name"])
                self.report("circle", circle["name"], "updated")
            else:
                self.report("circle", circle["name"], "unchanged")
            for member in circle.get("members", []):
                self.ckan.call("grandlyon_access_circle_member_create",
                               {"circle_id": circle["name"], "user": member},
                               obj=f"{member} in {circle['name']}")
        for grant in access.get("grants", []):
            grantee = {"circle_id": grant["circle"]} if grant.get("circle") else {"user": grant["user"]}
            self.ckan.call("grandlyon_access_grant_create",
                           {"package_id": grant["dataset"], **grantee}, obj=grant["dataset"])
            self.report("grant", grant["dataset"], "granted",
                        grant.get("circle") or grant.get("user"))
        for req in access.get("requests", []):
            self.load_request(req)

    def load_request(self, req: dict):
        """A request is made by its user: with a token created for them."""
        token = self.ckan.call("api_token_create", {"user": req["user"], "name": "demo-loader"},
                               obj=req["user"])["token"]
        as_user = Client(self.ckan.base.rsplit("/api/3/action/", 1)[0], token)
        try:
            package_id = self.ckan.call("package_show", {"id": req["dataset"]},
                                        obj=req["dataset"])["id"]
            mine = as_user.call("grandlyon_access_request_list", {}, obj=req["user"])
            if any(r["package_id"] == package_id for r in mine):
                self.report("request", req["dataset"], "unchanged", req["user"])
                return
            as_user.call("grandlyon_access_request_create",
                         {"package_id": req["dataset"], "message": req["message"]},
                         obj=req["dataset"])
            self.report("request", req["dataset"], "created", req["user"])
        finally:
            for t in as_user.call("api_token_list", {"user_id": req["user"]}, obj=req["user"]):
                if t.get("name") == "demo-loader":
                    self.ckan.call("api_token_revoke", {"jti": t["id"]}, obj=req["user"])

    # -- maps (dataviz_map): views of resources and saved maps, idempotent
    def _resource_id(self, dataset: str, resource: str) -> str:
        shown = self.ckan.call("package_show", {"id": dataset}, obj=dataset)
        for res in shown.get("resources", []):
            if res.get("name") == resource:
                return res["id"]
        raise Fatal(f"maps.json: no resource {resource!r} in {dataset}")

    def load_maps(self):
        maps = self.data.get("maps") or {}
        if not maps:
            return
        status = self.ckan.call("status_show", obj="(site)")
        if "dataviz_map" not in (status.get("extensions") or []):
            raise Fatal("maps.json needs the dataviz_map plugin")
        for view in maps.get("views", []):
            config = {k: v for k, v in view.items() if k not in ("dataset", "resource")}
            rid = self._resource_id(view["dataset"], view["resource"])
            have = [v for v in self.ckan.call("resource_view_list", {"id": rid}, obj=rid)
                    if v.get("view_type") == "dataviz_map" and v.get("title") == view["title"]]
            if have:
                self.ckan.call("resource_view_update", {**have[0], **config}, obj=view["title"])
                self.report("map view", view["title"], "updated")
            else:
                self.ckan.call("resource_view_create", {"resource_id": rid,
                               "view_type": "dataviz_map", **config}, obj=view["title"])
                self.report("map view", view["title"], "created")
        for saved in maps.get("maps", []):
            fields = {k: v for k, v in saved.items() if k != "layers"}
            fields["layers"] = [{"resource_id": self._resource_id(lay["dataset"], lay["resource"]),
                                 **{k: v for k, v in lay.items() if k not in ("dataset", "resource")}}
                                for lay in saved["layers"]]
            shown = self.ckan.call("dataviz_map_show", {"id": saved["name"]}, obj=saved["name"],
                                   missing_ok=True)
            if shown is None:
                self.ckan.call("dataviz_map_create", fields, obj=saved["name"])
                self.report("map", saved["name"], "created")
            else:
                self.ckan.call("dataviz_map_update", {"id": shown["id"], **fields},
                               obj=saved["name"])
                self.report("map", saved["name"], "updated")

    # -- editorial pages and news (grandlyon_access), idempotent
    def load_editorial(self):
        for item in self.data.get("editorial") or []:
            label = f"{item['kind']}/{item['name']}"
            shown = self.ckan.call("grandlyon_access_editorial_show",
                                   {"kind": item["kind"], "name": item["name"]}, obj=label,
                                   missing_ok=True)
            if shown is None:
                self.ckan.call("grandlyon_access_editorial_create", item, obj=label)
                self.report("editorial", label, "created")
            elif any(not same_text(shown.get(k), v) for k, v in item.items()):
                fields = {k: v for k, v in item.items() if k != "kind"}
                self.ckan.call("grandlyon_access_editorial_update",
                               {"id": shown["id"], **fields}, obj=label)
                self.report("editorial", label, "updated")
            else:
                self.report("editorial", label, "unchanged")

    # -- settings of /ckan-admin/config (site.json), after the datasets they name
    def load_site(self):
        settings = self.data.get("site") or {}
        if not settings:
            return
        if all(same_text(self.ckan.call("config_option_show", {"key": key}, obj=key), value)
               for key, value in settings.items()):
            self.report("settings", "site", "unchanged")
        else:
            self.ckan.call("config_option_update", settings, obj="site")
            self.report("settings", "site", "updated")

    def run(self):
        self.preflight()
        self.read_passwords()
        self.load_groups("organization")
        self.load_groups("group")
        self.load_users()
        self.load_memberships()
        self.load_datasets()
        self.load_access()
        self.load_maps()
        self.load_editorial()
        self.load_site()
        print("\nSummary")
        for kind, outcomes in self.counts.items():
            total = sum(outcomes.values())
            parts = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
            print(f"  {kind:<13} {total:>3}: {parts}")
        print(f"\nDemo users (passwords in {self.password_file}):")
        for user in self.data["users"]:
            roles = ", ".join(f"{m['role']} of {m['organization']}"
                              for m in user.get("organizations", []))
            print(f"  {user['name']:<22} {self.passwords[user['name']]:<20} "
                  f"{roles or '(no organization)'}")


def same_cell(have: Any, want: Any) -> bool:
    if have is None or want is None:
        return have is None and want is None
    if isinstance(want, bool) or isinstance(have, bool):
        return have == want
    if isinstance(want, (int, float)) or isinstance(have, (int, Decimal)):
        try:
            return Decimal(str(have)) == Decimal(str(want))
        except InvalidOperation:
            return False
    return str(have) == str(want)


# ------------------------------------------------- demo commune portal harvest

COMMUNE_PORTAL = Path(__file__).resolve().parent / "commune-portal" / "source.json"


def load_commune_portal(client: Client, portal_url: str) -> None:
    """Creates (or updates) the harvest source of the demo commune portal
    (commune-portal/source.json, served at `portal_url`) and, when it has
    harvested nothing yet, starts a job (the gather and fetch consumers run
    it through Redis)."""
    spec = read_json(COMMUNE_PORTAL)
    org = client.call("organization_show", {"id": spec["organization"]},
                      obj=spec["organization"])
    wanted = {"name": spec["name"], "title": spec["title"], "url": portal_url,
              "source_type": spec["source_type"], "owner_org": org["id"],
              "frequency": spec.get("frequency", "MANUAL"),
              "config": json.dumps(spec.get("config") or {})}
    source = client.call("harvest_source_show", {"id": spec["name"]}, obj=spec["name"],
                         missing_ok=True)
    if source is None:
        source = client.call("harvest_source_create", wanted, obj=spec["name"])
        print(f"{'harvest source':<13} {spec['name']:<45} created")
    elif source.get("url") != portal_url or source.get("config") != wanted["config"]:
        source = client.call("harvest_source_update", dict(wanted, id=source["id"]),
                             obj=spec["name"])
        print(f"{'harvest source':<13} {spec['name']:<45} updated")
    jobs = client.call("harvest_job_list", {"source_id": source["id"]}, obj=spec["name"])
    if not jobs:
        client.call("harvest_job_create", {"source_id": source["id"], "run": True},
                    obj=spec["name"])
        print(f"{'harvest job':<13} {spec['name']:<45} started")


# ---------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load (or --check) a demo catalogue into CKAN.")
    parser.add_argument("--data", required=True, type=Path,
                        help="folder with organizations.json, groups.json, "
                             "users.json, datasets.json and files/")
    parser.add_argument("--check", action="store_true",
                        help="only validate the data files, do not contact "
                             "CKAN")
    parser.add_argument("--url", help="CKAN site URL, e.g. "
                                      "http://127.0.0.1:5000")
    parser.add_argument("--token", default=os.environ.get("CKAN_API_TOKEN"),
                        help="sysadmin API token (default: $CKAN_API_TOKEN)")
    parser.add_argument("--feed-base",
                        default=os.environ.get("PORTAL_FEED_URL", ""),
                        help="address of the demo feed server (demo/velov.py), "
                             "e.g. http://127.0.0.1:5090: declares the "
                             "resources' history feeds (default: "
                             "$PORTAL_FEED_URL; empty: none)")
    parser.add_argument("--password-file", type=Path,
                        help="file of 'name:password' lines for the demo "
                             "users; created if missing, reused afterwards")
    parser.add_argument("--commune-portal", metavar="URL",
                        help="address of the demo commune portal "
                             "(commune-portal/serve.py): create its harvest "
                             "source and harvest it")
    args = parser.parse_args(argv)

    try:
        data = load_data(args.data)
        problems = check_data(data, args.data)
        if problems:
            print(f"{len(problems)} problem(s) in {args.data}:",
                  file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            return 1
        if args.check:
            n_res = sum(len(d.get("resources", [])) for d in data["datasets"])
            print(f"{args.data}: OK ({len(data['organizations'])} "
                  f"organizations, {len(data['groups'])} groups, "
                  f"{len(data['users'])} users, {len(data['datasets'])} "
                  f"datasets, {n_res} resources)")
            return 0
        missing = [opt for opt, val in (("--url", args.url),
                                        ("--token", args.token),
                                        ("--password-file",
                                         args.password_file)) if not val]
        if missing:
            parser.error("loading needs " + ", ".join(missing))
        client = Client(args.url, args.token)
        Loader(client, data, args.data, args.password_file, args.feed_base).run()
        if args.commune_portal:
            load_commune_portal(client, args.commune_portal)
        return 0
    except Fatal as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
