#!/usr/bin/env python3
"""Health checks of the containers built from docker/Dockerfile.

    portal-healthcheck web [PORT]
        CKAN answers /api/action/status_show on PORT (default: the
        HEALTHCHECK_WEB_PORT environment variable, else 5000, the image's
        uWSGI port; `./portal prod` passes its own).
    portal-healthcheck process PATTERN [--redis]
        A process whose command line contains PATTERN is running (the worker
        has not died) and, with --redis, Redis answers a PING at
        CKAN_REDIS_URL (the queues the worker consumes are reachable).

Exit status 0 when healthy, 1 otherwise, as Docker expects. Standard library
only, plus the redis client that CKAN already installs.
"""

from __future__ import annotations

import os
import sys
import urllib.request

SELF_MARKER = "portal-healthcheck"


def check_web(port: str | None = None) -> str | None:
    port = port or os.environ.get("HEALTHCHECK_WEB_PORT") or "5000"
    url = f"http://localhost:{int(port)}/api/action/status_show"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status != 200:
                return f"{url} answered {response.status}"
    except OSError as error:
        return f"{url}: {error}"
    return None


def running_command_lines() -> list[str]:
    lines = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        line = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        if line and SELF_MARKER not in line:
            lines.append(line)
    return lines


def check_process(pattern: str) -> str | None:
    if any(pattern in line for line in running_command_lines()):
        return None
    return f"no running process matches {pattern!r}"


def check_redis() -> str | None:
    import redis

    url = os.environ.get("CKAN_REDIS_URL", "redis://redis:6379/0")
    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as error:
        return f"Redis at {url}: {error}"
    return None


def main(argv: list[str]) -> int:
    if argv[:1] == ["web"] and len(argv) <= 2:
        problems = [check_web(*argv[1:])]
    elif len(argv) >= 2 and argv[0] == "process":
        problems = [check_process(argv[1])]
        if "--redis" in argv[2:]:
            problems.append(check_redis())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    problems = [p for p in problems if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
