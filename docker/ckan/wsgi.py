"""WSGI entry of the portal for uWSGI (docker/ckan/uwsgi.ini: `wsgi-file`).

Reads the CKAN configuration named by the CKAN_INI environment variable, as
the ckan-base image's own entry does (the image runs this file in its place:
docker/Dockerfile copies it to /srv/app/wsgi.py), sets up logging from the
same file, and exposes `application`. The same file serves the production
run on a development machine (`./portal prod`).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from ckan.cli import load_config
from ckan.config.middleware import make_app

_ini = os.environ.get("CKAN_INI", "/srv/app/ckan.ini")
fileConfig(
    _ini, defaults={"here": os.path.dirname(os.path.abspath(_ini))}, disable_existing_loggers=False
)
application = make_app(load_config(_ini))
