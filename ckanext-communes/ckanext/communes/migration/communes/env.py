"""Alembic environment of this plugin's migrations (run by `ckan db upgrade`).

The version table carries the plugin's name, so each plugin migrates on its own.
"""

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
version_table = "{}_alembic_version".format(os.path.basename(os.path.dirname(__file__)))

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, version_table=version_table)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
