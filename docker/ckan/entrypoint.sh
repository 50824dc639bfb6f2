#!/bin/bash
# Entrypoint of every container built from docker/Dockerfile (web and workers).
#
# Before the command starts, writes into ckan.ini what must be identical in
# every process of the deployment:
#   - ckan.plugins, from CKAN__PLUGINS, so that the CLI commands of the plugins
#     (`ckan harvester ...`, `ckan history ...`) exist in the worker containers;
#   - SECRET_KEY and the API token secret: left empty, each web replica would
#     generate its own, and a session or an API token would only work on the
#     replica that issued it.
# Then runs the command (exec: it gets the signals, as PID 1).
set -euo pipefail

CKAN_INI="${CKAN_INI:-/srv/app/ckan.ini}"

settings=()
if [[ -n "${CKAN__PLUGINS:-}" ]]; then
    settings+=("ckan.plugins = ${CKAN__PLUGINS}")
fi
if [[ -n "${CKAN_SECRET_KEY:-}" ]]; then
    settings+=("SECRET_KEY = ${CKAN_SECRET_KEY}"
               "WTF_CSRF_SECRET_KEY = ${CKAN_SECRET_KEY}")
fi
if [[ -n "${CKAN_API_TOKEN_SECRET:-}" ]]; then
    settings+=("api_token.jwt.encode.secret = string:${CKAN_API_TOKEN_SECRET}"
               "api_token.jwt.decode.secret = string:${CKAN_API_TOKEN_SECRET}")
fi

if (( ${#settings[@]} > 0 )); then
    ckan config-tool "${CKAN_INI}" "${settings[@]}" > /dev/null
fi

exec "$@"
