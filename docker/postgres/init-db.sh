#!/bin/bash
# Creates the portal's databases and roles. Run once by the postgres image
# (/docker-entrypoint-initdb.d), as the superuser, on the first start with an
# empty data volume; it does not run again, so a password changed later in
# docker/.env must also be changed with ALTER ROLE.
#
#   ckan_default     owns the ckan_default database (catalogue, suite tables)
#   datastore_write  owns the datastore_default database (DataStore tables)
#   datastore_read   may only connect to datastore_default and read it; it is
#                    the role behind datastore_search_sql, so it must not reach
#                    the catalogue database.
#
# The DataStore's own script (`ckan datastore set-permissions`: the
# _table_metadata view, the full-text trigger, default privileges) is applied
# by the CKAN web container at start-up, connected as datastore_write, which
# is why datastore_write owns datastore_default and may connect to
# ckan_default (it holds no privilege on its tables).
#
# The image may source this file instead of executing it: no `exit`, no
# shell options changed.

: "${CKAN_DB_PASSWORD:?CKAN_DB_PASSWORD must be set}"
: "${DATASTORE_WRITE_PASSWORD:?DATASTORE_WRITE_PASSWORD must be set}"
: "${DATASTORE_READ_PASSWORD:?DATASTORE_READ_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" \
    --set=ckan_password="${CKAN_DB_PASSWORD}" \
    --set=write_password="${DATASTORE_WRITE_PASSWORD}" \
    --set=read_password="${DATASTORE_READ_PASSWORD}" <<'EOSQL'
CREATE ROLE ckan_default LOGIN PASSWORD :'ckan_password';
CREATE ROLE datastore_write LOGIN PASSWORD :'write_password';
CREATE ROLE datastore_read LOGIN PASSWORD :'read_password';

CREATE DATABASE ckan_default
    OWNER ckan_default ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE datastore_default
    OWNER datastore_write ENCODING 'UTF8' TEMPLATE template0;

-- Catalogue database: CKAN itself, plus datastore_write so that it can run
-- the DataStore permission script (its REVOKE on this database is a no-op).
REVOKE ALL ON DATABASE ckan_default FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ckan_default TO ckan_default;
GRANT CONNECT ON DATABASE ckan_default TO datastore_write;

-- DataStore database: the writer owns it, the reader only connects and reads.
REVOKE ALL ON DATABASE datastore_default FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE datastore_default TO datastore_write;
GRANT CONNECT ON DATABASE datastore_default TO datastore_read, ckan_default;

\connect datastore_default
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO datastore_write, ckan_default;
GRANT USAGE ON SCHEMA public TO datastore_read;
ALTER DEFAULT PRIVILEGES FOR ROLE datastore_write IN SCHEMA public
    GRANT SELECT ON TABLES TO datastore_read;
EOSQL
