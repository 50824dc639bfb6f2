"""Each extension of the suite installs alone with CKAN and starts.

For every `ckanext-*` folder (a distribution with its own pyproject.toml):
a fresh virtual environment receives CKAN as the stack pins it
(`ckan[requirements]` under constraints.txt) and that one distribution, built
as a wheel from a copy of its folder, with what its pyproject.toml declares
and no other part of the suite (the suite's distributions are not on PyPI:
those it declares are given as the wheels built here, found by following the
declared names). Then, in that environment:

- `uv pip check`: every declared requirement is installed and compatible;
- the installed part of the suite is exactly the distribution and what it
  declares, nothing more;
- a probe run by the environment's own interpreter, outside the source tree:
  every module of the distribution imports (so each third-party package it
  imports is declared; tests, migrations and modules that another package
  loads through its own entry-point group are left out), CKAN starts
  (`make_app`) with the distribution's plugins as `ckan.plugins` and nothing
  else, each plugin is loaded from the installed wheel, its config
  declaration is CKAN's, and every command its plugins add to the `ckan`
  command line answers `--help`.

Why `make_app` with a stand-in for the database: it is the strongest check
CKAN offers short of serving requests (config declarations and their
validation, IConfigurer and IConfigurable, blueprints, helpers, actions,
auth functions, validators, middleware), and its start-up reads PostgreSQL
in exactly two places: `model.init_model` reflects `alembic_version`, and
`app_globals.reset` reads `system_info`. The probe answers both as an empty
database would (no such table, no such row); nothing listens at the
configured database, so a plugin that queries it while CKAN starts still
fails. Solr and Redis are unreachable too; CKAN's start-up only logs that.

Speed: environments are made by uv from its cache (hard links), offline
first: on a warm cache each one is ready in about a second; on a cold cache
(a first run in CI) the offline attempt fails at once and uv fetches from
PyPI.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from uv import find_uv_bin

REPO = pathlib.Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints.txt"
INSTALL_TIMEOUT = 900  # seconds; a cold cache downloads CKAN, pyarrow and DuckDB
PROBE_TIMEOUT = 300
# Not copied to build a wheel: built assets' sources, the editable install's
# metadata, caches. The copy keeps the build from writing into the tree.
NOT_COPIED = shutil.ignore_patterns("node_modules", "*.egg-info", "build", "dist",
                                    "__pycache__", "*.pyc")
# Packages of a distribution that are not imported by the probe: tests need
# the test tools, and an alembic env.py runs a migration when imported.
NOT_IMPORTED = ("tests", "migration")


@dataclasses.dataclass(frozen=True)
class Extension:
    folder: pathlib.Path
    name: str  # canonical distribution name
    requires: tuple[str, ...]
    plugins: tuple[str, ...]  # entry points of the group ckan.plugins
    # modules named by entry points of other groups: their host loads them
    # (e.g. ckanext-dcat its `ckan.rdf.profiles`), so it is there when they are
    hosted: tuple[str, ...]
    build_requires: tuple[str, ...] = ()

    @property
    def config_declarations(self) -> list[pathlib.Path]:
        return sorted(self.folder.glob("ckanext/*/**/config_declaration.yaml"))


def _read(pyproject: pathlib.Path) -> Extension:
    toml = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = toml["project"]
    entry_points = project.get("entry-points", {})
    hosted = tuple(target.split(":")[0] for group, points in entry_points.items()
                   if group != "ckan.plugins" for target in points.values())
    return Extension(folder=pyproject.parent, name=canonicalize_name(project["name"]),
                     requires=tuple(project.get("dependencies", [])),
                     plugins=tuple(entry_points.get("ckan.plugins", {})), hosted=hosted,
                     build_requires=tuple(toml["build-system"]["requires"]))


def _ckan_requirement() -> str:
    """CKAN as requirements.txt pins it, with its `requirements` extra only
    (the `dev` extra is the test tools of the stack)."""
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("ckan["):
            return f"ckan[requirements]{Requirement(line).specifier}"
    raise LookupError("requirements.txt names no ckan[...]")


CKAN = _ckan_requirement()
EXTENSIONS = {e.name: e for e in map(_read, sorted(REPO.glob("ckanext-*/pyproject.toml")))}


def suite_closure(name: str, extensions: dict[str, Extension] = EXTENSIONS) -> list[str]:
    """The distribution and the suite's distributions it declares, directly
    or through them, in that order."""
    found: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop(0)
        if current in found:
            continue
        found.append(current)
        declared = (canonicalize_name(Requirement(r).name) for r in extensions[current].requires)
        pending += [dep for dep in declared if dep in extensions]
    return found


def declared_keys(extension: Extension) -> list[str]:
    keys = []
    for path in extension.config_declarations:
        declaration = yaml.safe_load(path.read_text(encoding="utf-8"))
        keys += [o["key"] for group in declaration["groups"] for o in group["options"]]
    return keys


# --- uv ---------------------------------------------------------------------------------

def _environment() -> dict[str, str]:
    """This process's environment less what would leak the stack into the
    fresh environments: its virtual environment, Python paths, and the
    CKAN_* variables that CKAN reads over its ini file. uv's own settings
    (an index, a cache folder) are kept; it never downloads a Python."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CKAN_", "PYTHON", "VIRTUAL_ENV"))}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def uv(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([find_uv_bin(), *args], capture_output=True, text=True, cwd=cwd,
                          env=_environment(), timeout=INSTALL_TIMEOUT)


def uv_from_cache_first(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """`uv ARGS --offline`, and without --offline when the cache lacks
    something (a cold cache: the first run on a machine)."""
    done = uv(*args, "--offline", cwd=cwd)
    return done if done.returncode == 0 else uv(*args, cwd=cwd)


# --- the probe ----------------------------------------------------------------------------

def _probe(asked_json: str) -> dict:
    """Runs in a fresh environment's interpreter (so it imports there, not
    at this module's top): starts CKAN with the distribution's plugins,
    imports the distribution's modules, and reports what it found.

    asked_json: {"dist", "ini", "keys" (the options the distribution
    declares), "skip_packages", "skip_modules" (not imported)}."""
    import importlib
    import inspect
    import json
    from importlib.metadata import distribution

    import ckan.model as model

    def init_model(engine):  # as CKAN's, less the reflection of alembic_version
        model.meta.Session.remove()
        model.meta.Session.configure(bind=engine)
        model.meta.create_local_session.configure(bind=engine)
        model.meta.engine = engine

    model.init_model = init_model
    model.get_system_info = lambda key, default=None: default  # an empty system_info

    import ckan.plugins as p
    from ckan.cli import load_config
    from ckan.common import config_declaration
    from ckan.config.middleware import make_app
    from click.testing import CliRunner

    asked = json.loads(asked_json)
    dist = distribution(asked["dist"])
    make_app(load_config(asked["ini"]))

    plugins = {}
    for ep in dist.entry_points:
        if ep.group == "ckan.plugins":
            cls = ep.load()
            plugins[ep.name] = {"loaded": p.plugin_loaded(ep.name),
                                "is_entry_point": isinstance(p.get_plugin(ep.name), cls),
                                "file": inspect.getfile(cls)}

    def helps(command, path):
        """The exit code of `--help` of a command and of each subcommand."""
        answers = {" ".join([command.name, *path]):
                   CliRunner().invoke(command, [*path, "--help"]).exit_code}
        group = command
        for part in path:
            group = group.commands[part]
        for sub in sorted(getattr(group, "commands", {})):
            answers.update(helps(command, [*path, sub]))
        return answers

    commands = {}
    for plugin in p.PluginImplementations(p.IClick):
        if plugin.name in plugins:
            for command in plugin.get_commands():
                commands.update(helps(command, []))

    modules = sorted(
        str(f).removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for f in dist.files if str(f).startswith("ckanext/") and str(f).endswith(".py"))
    failed_imports = {}
    for name in modules:
        if name in asked["skip_modules"] or set(name.split(".")) & set(asked["skip_packages"]):
            continue
        try:
            importlib.import_module(name)
        except Exception as e:  # reported with the missing module's name
            failed_imports[name] = f"{type(e).__name__}: {e}"

    return {"plugins": plugins, "commands": commands, "failed_imports": failed_imports,
            "declared_keys": [key for key in asked["keys"] if key in config_declaration]}


PROBE = (f"from __future__ import annotations\n{inspect.getsource(_probe)}\n"
         "import json, sys\nprint(json.dumps(_probe(*sys.argv[1:])))\n")

INI = """\
[app:main]
use = egg:ckan
ckan.site_url = http://127.0.0.1:5000
# Nothing listens on port 1: no service of the stack is used.
sqlalchemy.url = postgresql://install:install@127.0.0.1:1/install
solr_url = http://127.0.0.1:1/solr/install
ckan.redis.url = redis://127.0.0.1:1/0
SECRET_KEY = install-test
ckan.storage_path = {storage}
ckan.plugins = {plugins}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = ERROR
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, pathlib.Path]:
    """A wheel of each distribution of the suite, built from a copy of its
    folder (as it is in the work tree, committed or not). One environment
    holds what all of them need to build (half the time of an isolated
    build environment each)."""
    root = tmp_path_factory.mktemp("install")
    builder = root / "build-env" / "bin" / "python"
    made = uv("venv", "--quiet", "--python", sys.executable, str(builder.parent.parent), cwd=root)
    assert made.returncode == 0, made.stderr
    build_requires = sorted({r for e in EXTENSIONS.values() for r in e.build_requires})
    ready = uv_from_cache_first("pip", "install", "--quiet", "--python", str(builder),
                                *build_requires, cwd=root)
    assert ready.returncode == 0, ready.stderr
    out = root / "wheels"
    built = {}
    for name, extension in EXTENSIONS.items():
        source = root / "src" / extension.folder.name
        shutil.copytree(extension.folder, source, ignore=NOT_COPIED)
        done = uv_from_cache_first("build", "--wheel", "--quiet", "--no-build-isolation",
                                   "--python", str(builder), "--out-dir", str(out), str(source),
                                   cwd=root)
        assert done.returncode == 0, f"{name} does not build:\n{done.stderr}"
        built[name] = next(out.glob(f"{name.replace('-', '_')}-*.whl"))
    return built


@dataclasses.dataclass(frozen=True)
class Installed:
    extension: Extension
    root: pathlib.Path
    python: pathlib.Path
    install: subprocess.CompletedProcess


@pytest.fixture(scope="module", params=sorted(EXTENSIONS))
def installed(request, wheels, tmp_path_factory) -> Installed:
    """A fresh environment with CKAN and one distribution of the suite."""
    extension = EXTENSIONS[request.param]
    root = tmp_path_factory.mktemp(request.param)
    venv = root / "venv"
    made = uv("venv", "--quiet", "--python", sys.executable, str(venv), cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    install = uv_from_cache_first(
        "pip", "install", "--quiet", "--python", str(python), "-c", str(CONSTRAINTS), CKAN,
        *(str(wheels[name]) for name in suite_closure(extension.name)), cwd=root)
    return Installed(extension, root, python, install)


@pytest.fixture(scope="module")
def probed(installed) -> dict:
    assert installed.install.returncode == 0, installed.install.stderr
    extension = installed.extension
    ini = installed.root / "ckan.ini"
    ini.write_text(INI.format(storage=installed.root / "storage",
                              plugins=" ".join(extension.plugins)), encoding="utf-8")
    asked = {"dist": extension.name, "ini": str(ini), "keys": declared_keys(extension),
             "skip_packages": NOT_IMPORTED, "skip_modules": extension.hosted}
    done = subprocess.run(
        [str(installed.python), "-c", PROBE, json.dumps(asked)],
        capture_output=True, text=True, cwd=installed.root, env=_environment(),
        timeout=PROBE_TIMEOUT)
    assert done.returncode == 0, f"CKAN does not start with {extension.name} alone:\n{done.stderr}"
    return json.loads(done.stdout.splitlines()[-1])


# --- tests ---------------------------------------------------------------------------------

def test_every_extension_is_found_with_its_plugins():
    assert len(EXTENSIONS) == 5
    assert all(extension.plugins for extension in EXTENSIONS.values())


def test_the_suite_closure_follows_declared_names_only():
    def extension(name: str, *requires: str) -> Extension:
        return Extension(REPO, name, requires, (name,), ())

    suite = {"a": extension("a", "B>=1", "pyarrow"), "b": extension("b", "c"),
             "c": extension("c", "a"), "d": extension("d")}
    assert suite_closure("a", suite) == ["a", "b", "c"]
    assert suite_closure("d", suite) == ["d"]


def test_it_installs_with_what_it_declares(installed):
    assert installed.install.returncode == 0, (
        f"{installed.extension.name} does not install with CKAN:\n{installed.install.stderr}")
    checked = uv("pip", "check", "--python", str(installed.python), cwd=installed.root)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_only_what_it_declares_of_the_suite_is_installed(installed):
    listed = uv("pip", "list", "--format", "json", "--python", str(installed.python),
                cwd=installed.root)
    assert listed.returncode == 0, listed.stderr
    present = {canonicalize_name(d["name"]) for d in json.loads(listed.stdout)}
    assert present & set(EXTENSIONS) == set(suite_closure(installed.extension.name))


def test_every_module_imports_with_what_it_declares(probed):
    assert probed["failed_imports"] == {}


def test_its_plugins_load_from_the_installed_wheel(installed, probed):
    plugins = probed["plugins"]
    assert sorted(plugins) == sorted(installed.extension.plugins)
    venv = str(installed.root / "venv")
    for name, plugin in plugins.items():
        assert plugin["loaded"] and plugin["is_entry_point"], name
        assert plugin["file"].startswith(venv), (name, plugin["file"])


def test_its_config_declaration_is_loaded(installed, probed):
    assert probed["declared_keys"] == declared_keys(installed.extension)


def test_its_commands_answer_help(installed, probed):
    if any(installed.extension.folder.glob("ckanext/*/cli.py")):
        assert probed["commands"], "cli.py is there, but the plugins add no command"
    assert all(code == 0 for code in probed["commands"].values()), probed["commands"]
