"""Static checks of the production deployment in docker/.

Reads docker/docker-compose.yml, docker/.env.example, docker/Dockerfile,
docker/nginx/default.conf and portal.conf, docker/ckan/uwsgi.ini and
docker/postgres/init-db.sh, and checks them against each other, against the
repository and against the production run of scripts/stack.sh (`./portal
prod`), which must use the very same files. No Docker engine, no CKAN:
plain pytest and PyYAML, so it runs in the same session as the CKAN tests.

Each check is a function that returns a list of problems (empty when all is
well); the tests assert on those lists, and the negative tests at the end feed
broken inputs to the same functions to show that each check can fail.
"""

from __future__ import annotations

import configparser
import glob
import ipaddress
import json
import posixpath
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
DOCKERIGNORE = DOCKER_DIR / "Dockerfile.dockerignore"
PRODUCTION_INI = DOCKER_DIR / "ckan" / "production.ini"
PORTAL_INI = REPO_ROOT / "config" / "portal.ini"
IMAGE_CKAN_INI = "/srv/app/ckan.ini"
NGINX_CONF = DOCKER_DIR / "nginx" / "default.conf"
# The portal's server, shared by the nginx container and `./portal prod`.
NGINX_PORTAL_CONF = DOCKER_DIR / "nginx" / "portal.conf"
UWSGI_INI = DOCKER_DIR / "ckan" / "uwsgi.ini"
WSGI_ENTRY = DOCKER_DIR / "ckan" / "wsgi.py"
STACK_SCRIPT = REPO_ROOT / "scripts" / "stack.sh"
INIT_DB = DOCKER_DIR / "postgres" / "init-db.sh"

SUITE_PLUGINS = ("grandlyon_access", "grandlyon_licence", "communes", "history", "dataviz")
REQUIRED_PLUGINS = (
    "activity",
    "scheming_datasets",
    "scheming_organizations",
    "datastore",
    "harvest",
    "communes_ckan_harvester",
    "spatial_metadata",
    "spatial_query",
) + SUITE_PLUGINS
SUITE_DISTRIBUTIONS = (
    "ckanext-grandlyon-access",
    "ckanext-grandlyon-licence",
    "ckanext-communes",
    "ckanext-history",
    "ckanext-dataviz",
)
PINNED_EXTENSIONS = ("ckanext-scheming==3.1.0", "ckanext-harvest==1.6.3", "ckanext-spatial==2.3.2")

# service -> words its command must contain (None: no command check)
REQUIRED_SERVICES: dict[str, tuple[str, ...] | None] = {
    "ckan": None,
    "ckan-worker": ("ckan", "jobs", "worker"),
    "harvest-gather": ("ckan", "harvester", "gather-consumer"),
    "harvest-fetch": ("ckan", "harvester", "fetch-consumer"),
    "harvest-run": ("ckan", "harvester", "run", "sleep"),
    "history-ingest": ("ckan", "history", "ingest"),
    "history-compact": ("ckan", "history", "compact", "sleep"),
    "db": None,
    "solr": None,
    "redis": None,
    "nginx": None,
}
REQUIRED_IMAGES = {
    "db": "postgres:15",
    "solr": "ckan/ckan-solr:2.11-solr9-spatial",
    "redis": "redis:7",
    "nginx": "nginx:1.27",
}
REQUIRED_VOLUME_MOUNTS = {  # service -> (volume, target)
    "db": ("pg_data", "/var/lib/postgresql/data"),
    "solr": ("solr_data", "/var/solr"),
    "ckan": ("ckan_storage", "/var/lib/ckan"),
    "ckan-worker": ("history_archive", "/var/lib/ckan-history"),
}
CKAN_BASE_IMAGE = re.compile(
    r"^(?:docker\.io/)?ckan/ckan-base:2\.11(?:\.\d+)?(?:-py3\.\d+)?(?:@sha256:[0-9a-f]{64})?$"
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET", re.IGNORECASE)
PLACEHOLDER = "change-me"


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a Compose .env file; comments and blanks ignored."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"line {number} is not KEY=VALUE: {raw!r}")
        values[name] = value.strip().strip("'\"")
    return values


def env_file_duplicates(text: str) -> list[str]:
    seen: set[str] = set()
    problems = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name = line.split("=", 1)[0].removeprefix("export ").strip()
        if name in seen:
            problems.append(f"{name} is defined twice")
        seen.add(name)
    return problems


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and (current or not stripped.startswith("# syntax")):
            continue
        if not stripped and not current:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
        current = ""
    if current.strip():
        keyword, _, args = current.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


# --------------------------------------------------------------------------
# Compose checks
# --------------------------------------------------------------------------


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose.get("services") or {}


def check_no_version_key(compose: dict[str, Any]) -> list[str]:
    return ["the obsolete top-level `version:` key is present"] if "version" in compose else []


def check_required_services(compose: dict[str, Any]) -> list[str]:
    services = _services(compose)
    problems = []
    for name, words in REQUIRED_SERVICES.items():
        if name not in services:
            problems.append(f"service {name} is missing")
            continue
        if words:
            command = services[name].get("command") or ""
            text = command if isinstance(command, str) else " ".join(map(str, command))
            missing = [w for w in words if w not in text.split() and w not in text]
            if missing:
                problems.append(f"service {name}: command {text!r} lacks {missing}")
    for name, image in REQUIRED_IMAGES.items():
        if name in services and services[name].get("image") != image:
            problems.append(
                f"service {name}: image is {services[name].get('image')!r}, expected {image}"
            )
    return problems


def check_service_basics(compose: dict[str, Any]) -> list[str]:
    """Every service has an image or a build, a healthcheck and a restart policy."""
    problems = []
    for name, service in _services(compose).items():
        service = service or {}
        if not service.get("image") and not service.get("build"):
            problems.append(f"service {name} has neither image nor build")
        healthcheck = service.get("healthcheck")
        if not healthcheck or healthcheck.get("disable") or not healthcheck.get("test"):
            problems.append(f"service {name} has no healthcheck")
        elif healthcheck["test"] in (["NONE"], "NONE"):
            problems.append(f"service {name} disables its healthcheck")
        restart = service.get("restart")
        policy = ((service.get("deploy") or {}).get("restart_policy") or {}).get("condition")
        ok_restart = restart in ("always", "unless-stopped") or str(restart).startswith(
            "on-failure"
        )
        if not ok_restart and policy not in ("any", "on-failure"):
            problems.append(f"service {name} has no restart policy (restart: {restart!r})")
    return problems


def check_depends_on(compose: dict[str, Any]) -> list[str]:
    """depends_on targets exist, have a healthcheck, and are waited for healthy."""
    services = _services(compose)
    problems = []
    for name, service in services.items():
        depends_on = (service or {}).get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {target: {} for target in depends_on}
        for target, options in depends_on.items():
            if target not in services:
                problems.append(f"service {name} depends on undefined service {target}")
                continue
            condition = (options or {}).get("condition")
            if condition != "service_healthy":
                problems.append(
                    f"service {name} depends on {target} with condition {condition!r},"
                    " expected service_healthy"
                )
            if not (services[target] or {}).get("healthcheck"):
                problems.append(f"service {name} waits for {target}, which has no healthcheck")
    return problems


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def iter_mounts(compose: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(service, type, source) of each mount: type is volume, bind or other."""
    for name, service in _services(compose).items():
        for mount in (service or {}).get("volumes") or []:
            if isinstance(mount, str):
                parts = mount.split(":")
                if len(parts) < 2:
                    continue  # anonymous volume
                source = parts[0]
                yield name, "bind" if _is_path(source) else "volume", source
            elif isinstance(mount, dict):
                kind = mount.get("type", "volume")
                source = mount.get("source")
                if kind in ("volume", "bind") and source:
                    yield name, kind, source


def check_named_volumes(compose: dict[str, Any]) -> list[str]:
    declared = set((compose.get("volumes") or {}).keys())
    return [
        f"service {service} uses volume {source}, not declared under top-level volumes:"
        for service, kind, source in iter_mounts(compose)
        if kind == "volume" and source not in declared
    ]


def check_bind_mounts(compose: dict[str, Any], base_dir: Path, repo_root: Path) -> list[str]:
    """Bind-mounted host paths exist and lie inside the repository."""
    problems = []
    for service, kind, source in iter_mounts(compose):
        if kind != "bind":
            continue
        path = (base_dir / Path(source).expanduser()).resolve()
        if not path.is_relative_to(repo_root):
            problems.append(f"service {service} binds {source}, outside the repository")
        elif not path.exists():
            problems.append(f"service {service} binds {source}: {path} does not exist")
    return problems


def check_build_contexts(compose: dict[str, Any], base_dir: Path) -> list[str]:
    problems = []
    for name, service in _services(compose).items():
        build = (service or {}).get("build")
        if not build:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (base_dir / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if not context.is_dir():
            problems.append(f"service {name}: build context {context} does not exist")
        elif not dockerfile.is_file():
            problems.append(f"service {name}: Dockerfile {dockerfile} does not exist")
    return problems


# Compose interpolation: $$ is a literal $, ${NAME}, ${NAME:-default},
# ${NAME-default}, ${NAME:?err}, ${NAME?err}, ${NAME:+alt}, ${NAME+alt}, $NAME.
# Any other $ is an error for Compose.
_TEMPLATE = re.compile(
    r"""\$(?:
        (?P<escaped>\$)
      | \{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-?+][^}]*)?\}
      | (?P<named>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<invalid>)
    )""",
    re.VERBOSE,
)


def _strings(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}[{index}]")
    elif isinstance(node, str):
        yield where, node


def compose_variables(compose: dict[str, Any]) -> tuple[dict[str, set[str]], list[str]]:
    """Variables referenced by the compose file (name -> where), and bad templates."""
    used: dict[str, set[str]] = {}
    invalid = []
    for where, text in _strings(compose):
        for match in _TEMPLATE.finditer(text):
            name = match.group("braced") or match.group("named")
            if name:
                used.setdefault(name, set()).add(where)
            elif match.group("invalid") is not None:
                invalid.append(
                    f"{where}: invalid interpolation in {text!r} (write $$ for a literal $)"
                )
    return used, invalid


def check_variables_defined(compose: dict[str, Any], env: dict[str, str]) -> list[str]:
    used, invalid = compose_variables(compose)
    problems = list(invalid)
    for name in sorted(set(used) - set(env)):
        problems.append(
            f"${{{name}}} (used in {', '.join(sorted(used[name]))}) is not defined in .env.example"
        )
    return problems


def check_variables_used(compose: dict[str, Any], env: dict[str, str]) -> list[str]:
    used, _ = compose_variables(compose)
    return [
        f"{name} in .env.example is used nowhere in the compose file"
        for name in sorted(set(env) - set(used))
    ]


def check_env_placeholders(env: dict[str, str]) -> list[str]:
    """Secrets in the example file are placeholders, never real values."""
    return [
        f"{name} has a value that is not a {PLACEHOLDER} placeholder"
        for name, value in env.items()
        if SECRET_NAME.search(name) and not value.startswith(PLACEHOLDER)
    ]


def check_database_urls(compose: dict[str, Any], init_script: str) -> list[str]:
    """Every PostgreSQL role and database that CKAN connects to is created by init-db.sh."""
    problems = []
    url = re.compile(
        r"postgresql://(?P<user>[^:@/]+)(?::[^@]*)?@(?P<host>[^/:]+)(?::\d+)?/(?P<db>[A-Za-z0-9_]+)"
    )
    services = _services(compose)
    for where, text in _strings(compose):
        for match in url.finditer(text):
            if match.group("host") not in services:
                problems.append(f"{where}: database host {match.group('host')} is not a service")
            if not re.search(rf"CREATE ROLE\s+{match.group('user')}\b", init_script):
                problems.append(f"{where}: role {match.group('user')} is not created by init-db.sh")
            if not re.search(rf"CREATE DATABASE\s+{match.group('db')}\b", init_script):
                problems.append(
                    f"{where}: database {match.group('db')} is not created by init-db.sh"
                )
    return problems


def check_nginx(conf: str, compose: dict[str, Any]) -> list[str]:
    """nginx proxies to the ckan service, gzips, and never caches /api."""
    problems = []
    services = _services(compose)
    if not re.search(r"^\s*gzip\s+on\s*;", conf, re.MULTILINE):
        problems.append("nginx: gzip is not on")
    api = re.search(r"location\s+(?:\^~\s+)?/api/?\s*\{(?P<body>[^}]*)\}", conf)
    if not api or not re.search(r"proxy_cache\s+off\s*;", api.group("body")):
        problems.append("nginx: no `location /api` with `proxy_cache off`")
    servers = re.findall(r"^\s*server\s+([A-Za-z0-9_.-]+):(\d+)", conf, re.MULTILINE)
    if not any(host == "ckan" and port == "5000" for host, port in servers):
        problems.append("nginx: no upstream server ckan:5000")
    for host, _ in servers:
        if host not in services:
            problems.append(f"nginx: upstream host {host} is not a compose service")
    nginx_env = set((services.get("nginx") or {}).get("environment") or {})
    for name in sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", conf)) - nginx_env):
        problems.append(
            f"nginx: template variable {name} is not in the nginx service's environment"
        )
    return problems


# --------------------------------------------------------------------------
# Dockerfile checks
# --------------------------------------------------------------------------


def _split_args(args: str) -> list[str]:
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def dockerfile_copy_sources(instructions: list[tuple[str, str]]) -> list[str]:
    """Sources of COPY/ADD taken from the build context (not --from, not URLs)."""
    sources = []
    for keyword, args in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        words = _split_args(args)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources.extend(w for w in words[:-1] if not re.match(r"^[a-z]+://", w))
    return sources


def check_copy_sources(instructions: list[tuple[str, str]], context: Path) -> list[str]:
    problems = []
    for source in dockerfile_copy_sources(instructions):
        pattern = str(context / source.lstrip("/"))
        if not glob.glob(pattern.rstrip("/")):
            problems.append(f"COPY source {source} does not exist in the build context ({context})")
    return problems


def final_base_image(instructions: list[tuple[str, str]]) -> str | None:
    stages: dict[str, str] = {}
    image = None
    for keyword, args in instructions:
        if keyword != "FROM":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        image = words[0]
        image = stages.get(image.lower(), image)
        if len(words) >= 3 and words[1].upper() == "AS":
            stages[words[2].lower()] = image
    return image


def check_base_image(instructions: list[tuple[str, str]]) -> list[str]:
    image = final_base_image(instructions)
    if image is None:
        return ["Dockerfile has no FROM"]
    if not CKAN_BASE_IMAGE.match(image):
        return [f"Dockerfile FROM {image} is not a CKAN 2.11 image (ckan/ckan-base:2.11[.N])"]
    return []


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword != "ENV":
            continue
        words = shlex.split(args)
        if words and "=" not in words[0]:  # legacy form: ENV KEY value...
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def plugin_lists(instructions: list[tuple[str, str]], compose: dict[str, Any]) -> dict[str, str]:
    """Every CKAN__PLUGINS setting: in the Dockerfile and in the compose services."""
    lists = {}
    if "CKAN__PLUGINS" in dockerfile_env(instructions):
        lists["Dockerfile"] = dockerfile_env(instructions)["CKAN__PLUGINS"]
    for name, service in _services(compose).items():
        environment = (service or {}).get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        if "CKAN__PLUGINS" in environment:
            lists[f"service {name}"] = str(environment["CKAN__PLUGINS"])
    return lists


def check_plugins(lists: dict[str, str]) -> list[str]:
    if not lists:
        return ["no CKAN__PLUGINS setting found"]
    problems = []
    for where, plugins in lists.items():
        missing = [p for p in REQUIRED_PLUGINS if p not in plugins.split()]
        if missing:
            problems.append(f"{where}: CKAN__PLUGINS lacks {missing}")
    return problems


def _pip_install_commands(instructions: list[tuple[str, str]]) -> list[list[str]]:
    commands = []
    for keyword, args in instructions:
        if keyword != "RUN":
            continue
        for part in re.split(r"&&|\|\||;", args):
            words = shlex.split(part)
            for index in range(len(words) - 1):
                if (
                    re.fullmatch(r"pip3?|pip3\.\d+", Path(words[index]).name)
                    and words[index + 1] == "install"
                ):
                    commands.append(words[index + 2 :])
                    break
    return commands


def check_pip_installs(instructions: list[tuple[str, str]]) -> list[str]:
    """Pinned extensions installed, the five local distributions non-editable, with constraints."""
    problems = []
    commands = _pip_install_commands(instructions)
    all_words = [w for command in commands for w in command]
    for requirement in PINNED_EXTENSIONS:
        if requirement not in all_words:
            problems.append(f"pip does not install {requirement}")
    copied = {s.rstrip("/") for s in dockerfile_copy_sources(instructions)}
    for dist in SUITE_DISTRIBUTIONS:
        if dist not in copied:
            problems.append(f"{dist}/ is not copied into the image")
        installed = [
            (command, i)
            for command in commands
            for i, w in enumerate(command)
            if Path(w.rstrip("/")).name == dist
        ]
        if not installed:
            problems.append(f"pip does not install {dist}")
        for command, i in installed:
            if i > 0 and command[i - 1] in ("-e", "--editable"):
                problems.append(f"{dist} is installed editable")
    for command in commands:
        has_constraints = any(
            w in ("-c", "--constraint")
            and i + 1 < len(command)
            and re.search(r"constraints[^/]*\.txt$", command[i + 1])
            for i, w in enumerate(command)
        )
        if not has_constraints:
            problems.append(f"pip install {' '.join(command)} does not use -c constraints.txt")
    return problems


def read_ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # keep the case of keys such as SECRET_KEY
    parser.read_string(text)
    return parser


def check_plugins_match_portal(plugins: str | None, portal_ini: str) -> list[str]:
    """The image's CKAN__PLUGINS is config/portal.ini's ckan.plugins, plus envvars at the end."""
    portal = read_ini(portal_ini).get("app:main", "ckan.plugins", fallback="").split()
    expected = portal + ["envvars"]
    if plugins is None:
        return ["the Dockerfile sets no CKAN__PLUGINS"]
    if plugins.split() != expected:
        return [
            f"Dockerfile CKAN__PLUGINS {plugins.split()} differs from"
            f" config/portal.ini + envvars {expected}"
        ]
    return []


def copies(instructions: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY/ADD from the build context."""
    result = []
    for keyword, args in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        words = _split_args(args)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        result.append((words[:-1], words[-1]))
    return result


def image_path_source(
    instructions: list[tuple[str, str]], image_path: str, context: Path
) -> Path | None:
    """The file of the build context that ends up at image_path (last COPY wins)."""
    found = None
    for sources, destination in copies(instructions):
        for source in sources:
            source_path = context / source.lstrip("/")
            if destination.endswith("/") and source_path.is_dir():
                prefix = destination.rstrip("/") + "/"
                if image_path.startswith(prefix):
                    found = source_path / image_path[len(prefix) :]
            elif destination.endswith("/"):
                if image_path == destination + Path(source).name:
                    found = source_path
            elif image_path == destination:
                found = source_path
    return found


def check_image_config(instructions: list[tuple[str, str]], context: Path) -> list[str]:
    """ckan.ini of the image comes from the repo and chains to a portal.ini copied into the image,
    whose %(here)s files are there too."""
    ini = image_path_source(instructions, IMAGE_CKAN_INI, context)
    if ini is None or not ini.is_file():
        return [f"no COPY puts a file of the repository at {IMAGE_CKAN_INI}"]
    problems = []
    use = read_ini(ini.read_text(encoding="utf-8")).get("app:main", "use", fallback="")
    if not use.startswith("config:"):
        return [f"{ini.name}: `use = {use}` does not chain to the portal's config file"]
    chained = posixpath.normpath(
        posixpath.join(posixpath.dirname(IMAGE_CKAN_INI), use[len("config:") :])
    )
    portal = image_path_source(instructions, chained, context)
    if portal is None or not portal.is_file():
        return [f"{ini.name} chains to {chained}, which no COPY provides"]
    here = posixpath.dirname(chained)
    for key, value in read_ini(portal.read_text(encoding="utf-8")).items("app:main"):
        for match in re.finditer(r"%\(here\)s(/[^\s,;]*)", value):
            target = image_path_source(instructions, here + match.group(1), context)
            if target is None or not target.exists():
                problems.append(
                    f"{portal.name}: {key} names {here}{match.group(1)}, missing from the image"
                )
    return problems


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------
# The deployment as it is
# --------------------------------------------------------------------------


def test_compose_has_no_version_key(compose):
    assert check_no_version_key(compose) == []


def test_required_services_commands_and_images(compose):
    assert check_required_services(compose) == []


def test_every_service_has_image_healthcheck_and_restart(compose):
    assert check_service_basics(compose) == []


def test_depends_on_targets_are_defined_and_healthy(compose):
    assert check_depends_on(compose) == []


def test_named_volumes_are_declared(compose):
    assert check_named_volumes(compose) == []


def test_required_data_volumes_are_mounted(compose):
    mounts = {
        (service, source) for service, kind, source in iter_mounts(compose) if kind == "volume"
    }
    missing = [
        f"{service}: {volume}"
        for service, (volume, _) in REQUIRED_VOLUME_MOUNTS.items()
        if (service, volume) not in mounts
    ]
    assert missing == []


def test_bind_mounted_paths_exist_in_repo(compose):
    assert check_bind_mounts(compose, COMPOSE_FILE.parent, REPO_ROOT) == []


def test_build_contexts_exist_and_are_the_repo_root(compose):
    assert check_build_contexts(compose, COMPOSE_FILE.parent) == []
    contexts = {
        (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
        for service in _services(compose).values()
        if service.get("build")
    }
    assert contexts == {REPO_ROOT}


def test_web_service_scales(compose):
    ckan = _services(compose)["ckan"]
    assert "replicas" in (ckan.get("deploy") or {}), "ckan should set deploy.replicas"
    assert "container_name" not in ckan, "a fixed container_name prevents scaling"


def test_compose_variables_are_defined_in_env_example(compose, env_example):
    assert check_variables_defined(compose, env_example) == []


def test_env_example_variables_are_all_used(compose, env_example):
    assert check_variables_used(compose, env_example) == []


def test_env_example_has_placeholders_only(env_example):
    assert check_env_placeholders(env_example) == []
    assert env_file_duplicates(ENV_EXAMPLE.read_text(encoding="utf-8")) == []


def test_database_urls_match_init_script(compose):
    assert check_database_urls(compose, INIT_DB.read_text(encoding="utf-8")) == []


def docker_nginx_conf() -> str:
    """What the nginx container runs: both templates (conf.d/*.conf)."""
    return NGINX_CONF.read_text(encoding="utf-8") + NGINX_PORTAL_CONF.read_text(encoding="utf-8")


def test_nginx_proxies_to_ckan_with_gzip_and_no_api_cache(compose):
    assert check_nginx(docker_nginx_conf(), compose) == []


def nginx_templates(compose: dict[str, Any]) -> dict[str, Path]:
    """Template name in the nginx container -> the repository file mounted there."""
    found = {}
    for mount in (_services(compose).get("nginx") or {}).get("volumes") or []:
        if isinstance(mount, str) and ":" in mount:
            source, target = mount.split(":")[:2]
            if target.startswith("/etc/nginx/templates/") and target.endswith(".template"):
                found[posixpath.basename(target)] = (COMPOSE_FILE.parent / source).resolve()
    return found


def test_nginx_container_and_prod_run_share_the_portal_conf(compose):
    """The container mounts both templates; the shared one holds every rule
    but where CKAN and the cache are; `./portal prod` substitutes it."""
    templates = nginx_templates(compose)
    assert templates.get("default.conf.template") == NGINX_CONF
    assert templates.get("portal.conf.template") == NGINX_PORTAL_CONF
    portal = NGINX_PORTAL_CONF.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(upstream|resolver|proxy_cache_path)\b", portal, re.MULTILINE)
    assert re.search(r"^\s*server\s*\{", portal, re.MULTILINE)
    assert not re.search(r"^\s*server\s*\{", NGINX_CONF.read_text(encoding="utf-8"), re.MULTILINE)
    # uWSGI's http-socket closes after each answer: a kept connection would fail.
    assert not re.search(r"^\s*keepalive\s", docker_nginx_conf(), re.MULTILINE)
    # The local run substitutes exactly the container's template variables.
    variables = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", portal))
    stack = STACK_SCRIPT.read_text(encoding="utf-8")
    envsubst = re.search(
        r"envsubst '([^']*)'\s*\\?\s*<\s*\"\$ROOT/docker/nginx/portal\.conf\"", stack
    )
    assert envsubst, "scripts/stack.sh does not envsubst docker/nginx/portal.conf"
    assert set(re.findall(r"\$\{(\w+)\}", envsubst.group(1))) == variables
    assert variables <= set(_services(compose)["nginx"].get("environment") or {})


def test_image_and_prod_run_share_the_uwsgi_config(dockerfile):
    """The image's web server runs docker/ckan/uwsgi.ini and wsgi.py (not the
    base image's built-in options), and `./portal prod` runs the same files."""
    env = dockerfile_env(dockerfile)
    options = shlex.split(env.get("UWSGI_OPTS", ""))
    assert options[:1] == ["--ini"], f"UWSGI_OPTS {options} does not name an ini file"
    image_ini = options[1]
    assert image_path_source(dockerfile, image_ini, REPO_ROOT) == UWSGI_INI
    wsgi_file = re.search(r"^wsgi-file\s*=\s*(\S+)", UWSGI_INI.read_text(), re.MULTILINE).group(1)
    assert wsgi_file == "%d/wsgi.py"  # beside the ini, in the image as here
    wsgi_in_image = posixpath.dirname(image_ini) + "/wsgi.py"
    assert image_path_source(dockerfile, wsgi_in_image, REPO_ROOT) == WSGI_ENTRY
    # The CMD is still the base image's start script, which passes UWSGI_OPTS.
    cmd = [args for keyword, args in dockerfile if keyword == "CMD"][-1]
    assert _split_args(cmd) == ["/srv/app/start_ckan.sh"]
    stack = STACK_SCRIPT.read_text(encoding="utf-8")
    assert '"$VENV/bin/uwsgi" --ini "$ROOT/docker/ckan/uwsgi.ini"' in stack
    assert '"$ROOT/docker/ckan/entrypoint.sh"' in stack
    assert '"$ROOT/docker/ckan/production.ini"' in stack
    assert '"$ROOT/docker/ckan/healthcheck.py" web' in stack


def test_uwsgi_config_runs_several_workers_with_harakiri():
    text = UWSGI_INI.read_text(encoding="utf-8")
    for option in ("master", "lazy-apps", "die-on-term", "need-app", "strict"):
        assert re.search(rf"^{option}\s*=\s*true", text, re.MULTILINE), option
    default_processes = re.search(r"if-not-env = UWSGI_PROCESSES\nprocesses = (\d+)", text)
    default_threads = re.search(r"if-not-env = UWSGI_THREADS\nthreads = (\d+)", text)
    assert int(default_processes.group(1)) > 1 and int(default_threads.group(1)) > 1
    # The defaults never override the environment (uWSGI reads UWSGI_<OPTION>):
    # each is set only under `if-not-env` of its own variable.
    lines = text.splitlines()
    for number, line in enumerate(lines):
        option = line.split("=")[0].strip()
        if option in ("processes", "threads", "harakiri", "http-socket"):
            variable = "UWSGI_" + option.upper().replace("-", "_")
            assert lines[number - 1].replace(" ", "") == f"if-not-env={variable}", line
    assert "if-not-env = UWSGI_HTTP_SOCKET\nhttp-socket = :5000" in text  # the image's port


def test_dockerfile_base_image_is_ckan_2_11(dockerfile):
    assert check_base_image(dockerfile) == []


def test_dockerfile_copy_sources_exist(dockerfile):
    assert check_copy_sources(dockerfile, REPO_ROOT) == []


def test_dockerfile_installs_extensions(dockerfile):
    assert check_pip_installs(dockerfile) == []


def test_plugin_lists_name_every_plugin(dockerfile, compose):
    assert check_plugins(plugin_lists(dockerfile, compose)) == []


def test_image_plugins_are_the_portal_plugins(dockerfile):
    plugins = dockerfile_env(dockerfile).get("CKAN__PLUGINS")
    assert check_plugins_match_portal(plugins, PORTAL_INI.read_text(encoding="utf-8")) == []


def test_production_trusts_nginx_for_the_client_address():
    """Throttling counts per client address: behind nginx, CKAN must read it
    from X-Forwarded-For, or every visitor counts as nginx's one address
    (Docker gives the compose network a private range)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(PRODUCTION_INI)
    networks = [ipaddress.ip_network(item) for item in
                ini["app:main"]["ckanext.grandlyon_access.throttle.trusted_proxies"].split()]
    for docker_default in ("172.17.0.2", "172.18.0.5", "192.168.16.3", "10.0.1.4"):
        assert any(ipaddress.ip_address(docker_default) in net for net in networks)
    assert not any(ipaddress.ip_address("203.0.113.7") in net for net in networks)
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in docker_nginx_conf()


def test_image_config_chains_to_portal_ini(dockerfile):
    assert check_image_config(dockerfile, REPO_ROOT) == []


def test_build_context_keeps_secrets_out():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "docker/.env" in patterns


# --------------------------------------------------------------------------
# The checks can fail
# --------------------------------------------------------------------------


def _broken_compose() -> dict[str, Any]:
    return {
        "version": "3",
        "services": {
            "web": {  # no image nor build
                "restart": "unless-stopped",
                "healthcheck": {"test": ["CMD", "true"]},
                "depends_on": {"ghost": {"condition": "service_healthy"}},
                "volumes": [
                    "undeclared_data:/data",
                    {"type": "volume", "source": "undeclared_long", "target": "/long"},
                    "./no/such/dir:/etc/conf:ro",
                    "/etc:/host-etc",
                    "declared:/ok",
                ],
                "environment": {
                    "A": "${NOT_IN_ENV}",
                    "B": "${ALSO_MISSING:-fallback}",
                    "C": "$BARE_MISSING",
                    "D": "$${ESCAPED_IS_FINE}",
                    "E": "costs 5$ a month",
                    "F": "${DEFINED}",
                    "DB": "postgresql://nobody:${DEFINED}@database:5432/nowhere",
                    "CKAN__PLUGINS": "activity datastore",
                },
            },
            "bare": {"image": "redis:7"},  # no healthcheck, no restart
            "lazy": {
                "image": "busybox",
                "restart": "no",
                "healthcheck": {"test": ["NONE"]},
                "depends_on": ["bare"],  # no condition, target without healthcheck
            },
            "disabled": {
                "image": "busybox",
                "restart": "always",
                "healthcheck": {"disable": True},
            },
        },
        "volumes": {"declared": None},
    }


def test_compose_checks_report_problems():
    broken = _broken_compose()
    env = {"DEFINED": "x", "UNUSED": "y"}

    assert check_no_version_key(broken)

    missing_services = check_required_services(broken)
    assert "service ckan is missing" in missing_services
    assert "service harvest-fetch is missing" in missing_services

    basics = "\n".join(check_service_basics(broken))
    assert "service web has neither image nor build" in basics
    assert "service bare has no healthcheck" in basics
    assert "service bare has no restart policy" in basics
    assert "service lazy disables its healthcheck" in basics
    assert "service lazy has no restart policy" in basics
    assert "service disabled has no healthcheck" in basics

    depends = "\n".join(check_depends_on(broken))
    assert "service web depends on undefined service ghost" in depends
    assert "service lazy depends on bare with condition None" in depends
    assert "service lazy waits for bare, which has no healthcheck" in depends

    volumes = "\n".join(check_named_volumes(broken))
    assert "undeclared_data" in volumes and "undeclared_long" in volumes
    assert "declared:" not in volumes

    binds = "\n".join(check_bind_mounts(broken, COMPOSE_FILE.parent, REPO_ROOT))
    assert "./no/such/dir" in binds and "does not exist" in binds
    assert "/etc, outside the repository" in binds

    variables = "\n".join(check_variables_defined(broken, env))
    assert "${NOT_IN_ENV}" in variables
    assert "${ALSO_MISSING}" in variables
    assert "${BARE_MISSING}" in variables
    assert "ESCAPED_IS_FINE" not in variables
    assert "invalid interpolation in 'costs 5$ a month'" in variables
    assert "${DEFINED}" not in variables
    assert check_variables_used(broken, env) == [
        "UNUSED in .env.example is used nowhere in the compose file"
    ]

    urls = "\n".join(check_database_urls(broken, "CREATE ROLE ckan_default;"))
    assert "database host database is not a service" in urls
    assert "role nobody is not created" in urls
    assert "database nowhere is not created" in urls

    nginx = "\n".join(
        check_nginx(
            "upstream u { server web:8000; }\nlocation /api/ { proxy_pass http://u; }\n"
            "client_max_body_size ${MAX_BODY};",
            broken,
        )
    )
    assert "gzip is not on" in nginx
    assert "no `location /api` with `proxy_cache off`" in nginx
    assert "no upstream server ckan:5000" in nginx
    assert "template variable MAX_BODY" in nginx

    plugins = check_plugins(plugin_lists([], broken))
    assert len(plugins) == 1 and all(p in plugins[0] for p in SUITE_PLUGINS)
    assert check_plugins({}) == ["no CKAN__PLUGINS setting found"]


def test_env_checks_report_problems():
    text = "DB_PASSWORD=hunter2\nAPI_SECRET=change-me-later\nDB_PASSWORD=change-me\n"
    assert check_env_placeholders(parse_env_file(text)) == []  # last value wins
    assert check_env_placeholders({"DB_PASSWORD": "hunter2"}) == [
        "DB_PASSWORD has a value that is not a change-me placeholder"
    ]
    assert env_file_duplicates(text) == ["DB_PASSWORD is defined twice"]
    with pytest.raises(ValueError):
        parse_env_file("not a setting\n")


def test_dockerfile_checks_report_problems():
    broken = parse_dockerfile(
        "FROM ckan/ckan-base:2.11 AS builder\n"
        "FROM python:3.11-slim\n"
        "COPY no-such-dir/ /srv/app/\n"
        "COPY --from=builder /srv/app /srv/app\n"
        'ENV CKAN__PLUGINS="activity datastore"\n'
        "RUN pip install ckanext-scheming==3.1.0 \\\n"
        "    && pip install -e /tmp/build/ckanext-history\n"
    )
    assert check_base_image(broken) == [
        "Dockerfile FROM python:3.11-slim is not a CKAN 2.11 image (ckan/ckan-base:2.11[.N])"
    ]
    assert check_base_image(parse_dockerfile("FROM ckan/ckan-base:2.10\n"))
    assert check_base_image(parse_dockerfile("FROM ckan/ckan-dev:2.11\n"))
    assert (
        check_base_image(parse_dockerfile("FROM ckan/ckan-base:2.11.6 AS base\nFROM base\n")) == []
    )

    assert dockerfile_copy_sources(broken) == ["no-such-dir/"]
    copies = check_copy_sources(broken, REPO_ROOT)
    assert len(copies) == 1 and "no-such-dir/" in copies[0]

    pip = "\n".join(check_pip_installs(broken))
    assert "pip does not install ckanext-harvest==1.6.3" in pip
    assert "ckanext-history is installed editable" in pip
    assert "pip does not install ckanext-dataviz" in pip
    assert "ckanext-communes/ is not copied into the image" in pip
    assert "does not use -c constraints.txt" in pip

    plugins = check_plugins(plugin_lists(broken, {}))
    assert len(plugins) == 1 and "Dockerfile" in plugins[0]
    assert all(p in plugins[0] for p in SUITE_PLUGINS)

    portal = "[app:main]\nckan.plugins = activity\n    datastore history\n"
    assert check_plugins_match_portal("activity datastore history envvars", portal) == []
    assert check_plugins_match_portal("activity datastore envvars", portal)
    assert check_plugins_match_portal(None, portal) == ["the Dockerfile sets no CKAN__PLUGINS"]

    assert check_image_config(broken, REPO_ROOT) == [
        f"no COPY puts a file of the repository at {IMAGE_CKAN_INI}"
    ]
    chained_nowhere = parse_dockerfile(
        f"FROM ckan/ckan-base:2.11\nCOPY docker/ckan/production.ini {IMAGE_CKAN_INI}\n"
    )
    assert check_image_config(chained_nowhere, REPO_ROOT) == [
        "production.ini chains to /srv/app/config/portal.ini, which no COPY provides"
    ]


def test_image_config_check_reports_missing_files(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "ckan.ini").write_text("[app:main]\nuse = config:conf/portal.ini\n")
    (tmp_path / "conf" / "portal.ini").write_text(
        "[app:main]\nuse = egg:ckan\nscheming.dataset_schemas = file://%(here)s/schemas/missing.yaml\n"
    )
    instructions = parse_dockerfile(
        f"FROM ckan/ckan-base:2.11\nCOPY conf/ /srv/app/conf/\nCOPY ckan.ini {IMAGE_CKAN_INI}\n"
    )
    assert check_image_config(instructions, tmp_path) == [
        "portal.ini: scheming.dataset_schemas names /srv/app/conf/schemas/missing.yaml,"
        " missing from the image"
    ]
    (tmp_path / "conf" / "schemas").mkdir()
    (tmp_path / "conf" / "schemas" / "missing.yaml").write_text("{}")
    assert check_image_config(instructions, tmp_path) == []
