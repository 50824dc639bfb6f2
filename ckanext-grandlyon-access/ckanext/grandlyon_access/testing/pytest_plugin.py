"""The suite's shared test fixtures, as a pytest plugin.

Registered with the `pytest11` entry point of ckanext-grandlyon-access, so
every pytest run in an environment where the access extension is installed
(each extension of the suite depends on it) has them; a conftest fixture of
the same name overrides one of these. They stand on CKAN's own pytest plugin
(`clean_db`, `reset_index`, `ckan_config`...) and, for `portal_for_module`,
on `reset_portal_db` from the suite's root conftest.

What is here:

- `Actor`: a user with an API token (or the anonymous visitor) that tests
  call actions and pages as; `make_actor` / the `actor_factory` fixture
  create one, `actor_of` gives an existing user a token.
- `World`: the five-level world, an organisation with its admin, editor and
  member, users around it, and a dataset at each access level (`LEVELS`,
  the fields from `level_fields`), each with an external file and a
  DataStore table; parameters and small hooks let each test module add what
  it needs. `portal_for_module` loads the plugins and empties the database
  and index once, for a world built once per module.
- `LivePortal` / the `live_portal` fixture: a real `ckan run` server on the
  test ini, on a free loopback port, with workers started alongside it.
- Each test starts with no throttling counter (site/throttle.py): tests
  log in, register and ask for access from one address, run after run.

Example::

    @pytest.fixture(scope="module")
    def world(portal_for_module):
        return World(datasets=("open", "restricted"))

    def test_outsider_reads_metadata_only(app, world):
        res = app.get("/dataset/ds-restricted", headers=world.outsider.headers)
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
import requests
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.site import throttle
from redis.exceptions import RedisError

PASSWORD = "Correct-Horse-42"
"""The password of every user the fixtures create (for cookie logins)."""

LEVELS = ("open", "licensed", "restricted", "hidden", "private")
"""The five levels a dataset can be at, as tests see them: the access
levels of policy.py, `restricted` with `access_hidden`, and CKAN's
`private` flag (which wins over the level)."""

LICENCE_OPEN = "lo-2.0"
"""A licence of the registry that need not be signed."""

LICENCE_SIGNED = "mobilites"
"""A licence of the registry that must be signed (the `licensed` level)."""

ORIGIN = "https://origin.example.org/secret/{}.csv"
"""The origin URL of a world dataset's external file (`{}`: its key)."""

USERS = {"outsider": "outsider", "member": "org-member", "editor": "org-editor",
         "admin": "org-admin", "sysadmin": "root"}
"""A world's default actors: key -> user name. `admin`, `editor` and
`member` belong to the organisation with that capacity; `sysadmin` is one."""

CAPACITIES = ("admin", "editor", "member")


@pytest.fixture(autouse=True)
def _no_throttling_counters() -> None:
    """Clears the throttling counters before each test: tests log in,
    register and ask for access from one address, many times within the
    window, run after run (CKAN's own tests too, in tests/ckan_core)."""
    try:
        throttle.clear_all()
    except RedisError:  # a session without Redis throttles nothing either
        pass


# --- actors ---------------------------------------------------------------------------

@dataclasses.dataclass
class Actor:
    """Someone tests act as: a user with an API token, or the anonymous
    visitor (no name, no token).

    `key` is the actor's role in a world ("outsider", "editor", ...) or its
    user name; `headers` authenticate an HTTP request with the token (empty
    for the anonymous visitor); `password` is set when the user was created
    with a known one, for a cookie login through the login form.
    """

    key: str
    name: str | None = None
    id: str | None = None
    token: str | None = None
    password: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that act as this user over HTTP."""
        return {"Authorization": self.token} if self.token else {}

    def call(self, action: str, **params: Any) -> Any:
        """Calls an action as this user would, authorisation checked (CKAN's
        `helpers.call_action` skips it unless told)."""
        return helpers.call_action(action, context={"user": self.name or "",
                                                    "ignore_auth": False}, **params)


def actor_of(user: Mapping[str, Any], key: str | None = None,
             password: str | None = None) -> Actor:
    """An existing user (a dict as `user_show` gives it) as an Actor, with a
    new API token."""
    token = factories.APIToken(user=user["name"])["token"]
    return Actor(key or user["name"], user["name"], user["id"], token, password)


def make_actor(name: str | None = None, *, key: str | None = None, sysadmin: bool = False,
               password: str = PASSWORD, **fields: Any) -> Actor:
    """Creates a user (through CKAN's factories: `user_create`) and an API
    token for it. `fields` go to the factory (`email`, `fullname`...); a
    name is made up when none is given."""
    factory = factories.Sysadmin if sysadmin else factories.User
    if name is not None:
        fields["name"] = name
    return actor_of(factory(password=password, **fields), key, password)


@pytest.fixture
def actor_factory() -> Callable[..., Actor]:
    """`make_actor`: creates a user with an API token, e.g.
    `actor_factory("signer")` or `actor_factory(sysadmin=True)`. Request
    `clean_db` (or a world) first: the users stay in the database."""
    return make_actor


# --- the five-level world -------------------------------------------------------------

def auth_context(user: str = "", *, anonymous_object: bool = False) -> dict[str, Any]:
    """A context for `call_auth` as `user` (a user name; "" for a visitor
    not logged in). `anonymous_object` adds CKAN's `AnonymousUser` as the
    user object, as CKAN's views give it (API calls without a token give
    none)."""
    context: dict[str, Any] = {"model": model, "user": user}
    if anonymous_object:
        context["auth_user_obj"] = model.AnonymousUser()
    return context


def auth_allows(auth_name: str, context: dict[str, Any], **data: Any) -> bool:
    """Does the auth function `auth_name` allow it (`call_auth`)?"""
    try:
        helpers.call_auth(auth_name, context, **data)
    except tk.NotAuthorized:
        return False
    return True


def level_fields(level: str) -> dict[str, Any]:
    """The dataset fields that put a dataset at `level` (one of LEVELS): its
    access level and a licence (the one to sign for `licensed`)."""
    fields: dict[str, Any] = {"access_level": "open", "license_id": LICENCE_OPEN}
    if level == "licensed":
        fields = {"access_level": "licensed", "license_id": LICENCE_SIGNED}
    elif level == "restricted":
        fields["access_level"] = "restricted"
    elif level == "hidden":
        fields.update(access_level="restricted", access_hidden="true")
    elif level == "private":
        fields["private"] = True
    elif level != "open":
        raise ValueError(f"not a level: {level!r} (one of {LEVELS})")
    return fields


class World:
    """Users, an organisation and datasets at the access levels, created
    through CKAN's actions.

    - `users`: actor key -> user name (default `USERS`). Actors `admin`,
      `editor` and `member` are members of the organisation with that
      capacity; `sysadmin` is a sysadmin. `actors` holds them with
      `anonymous`; `world.outsider` is `world.actors["outsider"]`.
    - `datasets`: the keys of the datasets to create, each a level of
      LEVELS, or a mapping key -> level (for two datasets at one level).
      Each is named `ds-<key>` (`name`), titled `Dataset <key>` (`title`),
      created by the actor `creator`, with `resources(key)` (one external
      file at `ORIGIN.format(key)`) and, when `table`, a DataStore table
      (`table_of(key)`: one row whose station is `secret-<key>`). `world.datasets[key]` is the
      dataset as `package_show` gives it, plus `file_id` and `table_id`.
    - `org`: fields of the organisation (default name `publisher`).
    - `email`: a format of the users' e-mail address (`"{name}@example.org"`);
      CKAN's factory makes one up by default.

    A module that needs more overrides `prepare` (called after the users
    and the organisation, before the datasets), `resources`, `table_of`,
    `make_dataset` (called once per dataset) or adds to `__init__`.
    """

    def __init__(self, *, users: Mapping[str, str] = USERS,
                 datasets: Sequence[str] | Mapping[str, str] = LEVELS,
                 org: Mapping[str, Any] | None = None, creator: str = "editor",
                 name: str = "ds-{key}", title: str = "Dataset {key}", table: bool = True,
                 email: str | None = None, password: str = PASSWORD) -> None:
        self.creator = creator
        self.name_format, self.title_format, self.table = name, title, table
        self.actors: dict[str, Actor] = {"anonymous": Actor("anonymous")}
        for key, user_name in users.items():
            extra = {"email": email.format(name=user_name)} if email else {}
            self.actors[key] = make_actor(user_name, key=key, sysadmin=key == "sysadmin",
                                          password=password, **extra)
        members = [{"name": users[key], "capacity": key} for key in CAPACITIES if key in users]
        self.org = factories.Organization(**{"name": "publisher", **(org or {})}, users=members)
        self.prepare()
        levels = datasets if isinstance(datasets, Mapping) else {key: key for key in datasets}
        self.datasets: dict[str, Any] = {}
        for key, level in levels.items():
            self.datasets[key] = self.make_dataset(key, **level_fields(level))

    def __getattr__(self, name: str) -> Actor:
        actors = self.__dict__.get("actors", {})
        if name in actors:
            return actors[name]
        raise AttributeError(name)

    def prepare(self) -> None:
        """What the datasets need besides the users and the organisation
        (a group, a circle...): nothing by default."""

    def call(self, action: str, who: str = "sysadmin", **params: Any) -> Any:
        """Calls an action in the name of the actor `who` (a key of
        `actors`), authorisation skipped as CKAN's `helpers.call_action`
        does: for setting the world up, not for testing a decision."""
        return helpers.call_action(action, context={"user": self.actors[who].name or ""},
                                   **params)

    def make_dataset(self, key: str, **fields: Any) -> dict[str, Any]:
        """Creates the dataset `key` with `fields` (its level's by default:
        an open one under an open licence), its `resources` and, when the
        world has tables, its DataStore table (`table_of`)."""
        fields.setdefault("license_id", LICENCE_OPEN)
        dataset = self.call(
            "package_create", self.creator, name=self.name_format.format(key=key),
            title=self.title_format.format(key=key), owner_org=self.org["id"],
            resources=self.resources(key), **fields)
        table_id = None
        if self.table:
            table = self.table_of(key)
            table["resource"] = {"package_id": dataset["id"], **table.get("resource", {})}
            table_id = self.call("datastore_create", self.creator, force=True,
                                 **table)["resource_id"]
        dataset = helpers.call_action("package_show", id=dataset["id"])
        dataset["file_id"] = dataset["resources"][0]["id"] if dataset["resources"] else None
        dataset["table_id"] = table_id
        return dataset

    def resources(self, key: str) -> list[dict[str, Any]]:
        """The resources the dataset `key` is created with: one external
        CSV file at `ORIGIN.format(key)`."""
        return [{"name": "file", "url": ORIGIN.format(key), "format": "CSV"}]

    def table_of(self, key: str) -> dict[str, Any]:
        """The `datastore_create` parameters of the dataset `key`'s table
        (its `resource` gets the dataset's id): a resource named `table`
        with one row, station `secret-<key>`."""
        return {"resource": {"name": "table"},
                "fields": [{"id": "station", "type": "text"}, {"id": "bikes", "type": "int"}],
                "records": [{"station": f"secret-{key}", "bikes": 7}]}

    def grant(self, key: str, who: str, by: str = "admin", **params: Any) -> Any:
        """Grants the actor `who` the dataset `key`, in the name of `by`."""
        return self.call("grandlyon_access_grant_create", by,
                         package_id=self.name_format.format(key=key),
                         user=self.actors[who].name, **params)

    def sign(self, who: str, licence_id: str = LICENCE_SIGNED, **details: Any) -> Any:
        """The actor `who` signs the current version of a licence."""
        return self.call("grandlyon_licence_sign", who, licence_id=licence_id, **details)


@pytest.fixture(scope="module")
def portal_for_module(reset_portal_db, reset_index) -> Iterator[None]:
    """The configured plugins loaded, the database and the search index
    emptied, once for the test module: what a world built once per module
    (`scope="module"`) stands on. The module also replaces the root
    conftest's per-test `_portal_plugins` with a fixture that does nothing.
    The plugins are unloaded after the module."""
    plugins.load_all()
    reset_portal_db()
    reset_index()
    try:
        yield
    finally:
        plugins.unload_all()


# --- the live portal ------------------------------------------------------------------

def ckan_bin() -> str:
    """The `ckan` command of this environment."""
    return os.path.join(os.path.dirname(sys.executable), "ckan")


def free_port() -> int:
    """A TCP port free on the loopback interface (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ini_with(ini: str, settings: Mapping[str, str], path: str) -> str:
    """Writes to `path` the ini file `ini` with `settings` set in
    [app:main] (its other sections kept); returns `path`."""
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(ini)
    for key, value in settings.items():
        parser.set("app:main", key, value)
    with open(path, "w") as f:
        parser.write(f)
    return path


@dataclasses.dataclass
class LivePortal:
    """A live portal: its URL, its ini, the environment of its processes,
    the folder of their logs, and the processes started for it (the web
    server first)."""

    url: str
    ini: str
    env: dict
    logs: str
    processes: list = dataclasses.field(default_factory=list)

    def ckan(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Runs `ckan -c <ini> ARGS` to completion (what a sysadmin would do
        on the server), with stdout and stderr as text."""
        return subprocess.run([ckan_bin(), "-c", self.ini, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Starts `ckan -c <ini> ARGS` in the background (the web server, a
        worker), logging to `<logs>/<name>.log`; stopped with the portal."""
        log = open(os.path.join(self.logs, f"{name}.log"), "w")
        process = subprocess.Popen([ckan_bin(), "-c", self.ini, *args], env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((name, process, log))
        return process

    def log(self, name: str) -> str:
        """What the process `name` wrote so far."""
        with open(os.path.join(self.logs, f"{name}.log")) as f:
            return f.read()

    def wait_until_up(self, attempts: int = 240) -> None:
        """Waits until the web server answers `status_show`; fails the test
        with its log if it exits or does not answer in time."""
        web = self.processes[0][1]
        for _ in range(attempts):
            try:
                if requests.get(f"{self.url}/api/3/action/status_show", timeout=10).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert web.poll() is None, self.log("web")
            time.sleep(0.5)
        pytest.fail("the portal did not start: " + self.log("web")[-2000:])

    def stop(self) -> None:
        """Stops every process, the last started first."""
        for _name, process, log in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


@pytest.fixture(scope="session")
def ckan_ini(request) -> str:
    """Absolute path of the ini file the test session runs with."""
    return os.path.abspath(request.config.getoption("--ckan-ini"))


@pytest.fixture
def live_portal_settings() -> dict[str, str]:
    """Settings the live portal adds to the test ini; a test module
    overrides this fixture, e.g. to let the outbound guard reach a local
    server: {"ckanext.grandlyon_access.outbound.allow": "127.0.0.1"}."""
    return {}


@pytest.fixture
def live_portal(ckan_ini, tmp_path, live_portal_settings, ckan_config,
                monkeypatch) -> Iterator[LivePortal]:
    """A real CKAN web server (`ckan run`) on the test ini plus
    `live_portal_settings`, on a free loopback port, serving this test's
    database and index (request `clean_db`/`clean_index` or a world before
    it). `ckan.site_url` is its own address, in the server and in the test
    process (setup made here stores URLs, and the search index keeps them as
    indexed), so links and e-mails point at it. Workers started with
    `live_portal.start(...)` share its ini and stop with it."""
    ini = ckan_ini
    if live_portal_settings:
        ini = ini_with(ckan_ini, live_portal_settings, str(tmp_path / "portal.ini"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setitem(ckan_config, "ckan.site_url", url)
    portal = LivePortal(url=url, ini=ini, env=dict(os.environ, CKAN_SITE_URL=url),
                        logs=str(tmp_path))
    portal.start("web", "run", "-H", "127.0.0.1", "-p", str(port), "-r", "-t")
    try:
        portal.wait_until_up()
        yield portal
    finally:
        portal.stop()
