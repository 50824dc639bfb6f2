#!/usr/bin/env bash
# The local stack: installs and runs everything the portal needs on this
# machine, with all state in one folder (.stack/ by default) and every service
# bound to 127.0.0.1. Called through ./portal; see `./portal help`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${PORTAL_STATE_DIR:-$ROOT/.stack}
PG_PORT=${PORTAL_PG_PORT:-5433}
REDIS_PORT=${PORTAL_REDIS_PORT:-6380}
SOLR_PORT=${PORTAL_SOLR_PORT:-8983}
CKAN_PORT=${PORTAL_CKAN_PORT:-5000}
FEED_PORT=${PORTAL_FEED_PORT:-5090} # the demo's simulated real-time feed (demo/velov.py)
SOLR_HEAP=${PORTAL_SOLR_HEAP:-512m}
PG_BIN=${PORTAL_PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PORTAL_PYTHON:-python3.11}
DEMO_DATA=${PORTAL_DEMO_DATA:-$ROOT/demo/lyon}
COMMUNE_PORTAL_PORT=${PORTAL_COMMUNE_PORTAL_PORT:-5092}
WIDGET_DEMO_PORT=${PORTAL_WIDGET_DEMO_PORT:-5091}
SMTP_TEST_PORT=${PORTAL_SMTP_TEST_PORT:-2525} # the tests' SMTP catcher
# The production run (./portal prod): nginx, uWSGI behind it, and the name of
# its databases (ckan_<name>, datastore_<name>), Solr core and site id.
PROD_PORT=${PORTAL_PROD_PORT:-5180}
PROD_UWSGI_PORT=${PORTAL_PROD_UWSGI_PORT:-5181}
PROD_NAME=${PORTAL_PROD_NAME:-prod}
PROD_REDIS_DB=${PORTAL_PROD_REDIS_DB:-10}
# Where it reaches PostgreSQL, Solr and Redis (host:port; default the stack's
# own): the production fault tests put a forwarder they can cut in between.
PROD_PG_ADDRESS=${PORTAL_PROD_PG_ADDRESS:-127.0.0.1:$PG_PORT}
PROD_SOLR_ADDRESS=${PORTAL_PROD_SOLR_ADDRESS:-127.0.0.1:$SOLR_PORT}
PROD_REDIS_ADDRESS=${PORTAL_PROD_REDIS_ADDRESS:-127.0.0.1:$REDIS_PORT}

VENV=$STATE/venv
LOG=$STATE/log
RUN=$STATE/run
PGROOT=$STATE/pg # a symbolic link when the postgres user cannot enter $STATE
SITE_URL=http://127.0.0.1:$CKAN_PORT

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "installing system packages needs root: run as root or install sudo"
  fi
}

# --- stamps: a step is redone only when its inputs change -------------------
stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$STATE/stamps/$1" ] && [ "$(cat "$STATE/stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STATE/stamps"; printf '%s' "$2" >"$STATE/stamps/$1"; }

# --- processes ----------------------------------------------------------------
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() { # port variable service
  if port_busy "$1"; then
    die "port $1 on 127.0.0.1, wanted for $3, is already in use by another program. Stop that program, or choose another port: $2=<port> ./portal ..."
  fi
}

wait_for() { # description seconds command...
  local what=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not answer within ${secs}s; see the logs in $LOG"
}

spawn() { # name logfile command...
  local name=$1 logfile=$2; shift 2
  mkdir -p "$RUN" "$LOG"
  setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

stop_pid() {
  local name=$1 pid i
  [ -f "$RUN/$name.pid" ] || return 0
  pid=$(cat "$RUN/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

# --- installation ---------------------------------------------------------------
# chromium: the browser the tests drive (widgets, views, embeds, journeys).
# nginx and gettext-base (envsubst): the production run (./portal prod).
SYSTEM_PACKAGES=(postgresql-15 redis-server libpq-dev gcc curl openjdk-17-jdk-headless maven ca-certificates
  chromium fonts-dejavu-core nginx gettext-base)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

install_system() {
  local wanted=("${SYSTEM_PACKAGES[@]}") missing=() pkg
  # Debian's own Python needs its venv module and headers (psycopg2 builds
  # from source); another Python (e.g. pyenv's) brings both.
  case "$(command -v "$PYTHON" || echo /usr/bin/missing)" in
    /usr/bin/*) wanted+=(python3.11 python3.11-venv python3.11-dev) ;;
  esac
  # Front-end assets are built with Node.js and npm; Debian's own when none is installed.
  command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
  for pkg in "${wanted[@]}"; do installed "$pkg" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_python() {
  local stamp
  stamp=$(stamp_of "$ROOT/requirements.txt" "$ROOT/constraints.txt" "$ROOT"/ckanext-*/pyproject.toml)
  stamp_ok venv "$stamp" && [ -x "$VENV/bin/ckan" ] && return 0
  say "installing CKAN, its extensions and the suite into $VENV (first time: a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" \
    || die "could not create a virtual environment with $PYTHON (Debian: apt-get install python3.11-venv)"
  (cd "$ROOT" && "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r requirements.txt -c constraints.txt)
  stamp_set venv "$stamp"
}

install_solr() {
  local stamp
  stamp=$(stamp_of "$ROOT/config/solr/pom.xml" "$ROOT/config/solr/Launcher.java")
  stamp_ok solr "$stamp" && [ -d "$STATE/solr/classes" ] && return 0
  say "fetching Solr 9.10.1 from Maven Central (first time: a minute)"
  rm -rf "$STATE/solr/lib" "$STATE/solr/classes"
  mkdir -p "$STATE/solr/lib" "$STATE/solr/classes"
  mkdir -p "$LOG"
  mvn -B --no-transfer-progress -f "$ROOT/config/solr/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$STATE/solr/lib" >"$LOG/maven.log" 2>&1 \
    || { tail -20 "$LOG/maven.log" >&2; die "fetching Solr from Maven Central failed; see $LOG/maven.log"; }
  javac -nowarn -cp "$STATE/solr/lib/*" -d "$STATE/solr/classes" "$ROOT/config/solr/Launcher.java"
  stamp_set solr "$stamp"
}

# The tests' S3-compatible server (moto), in a virtual environment of its own:
# the history archive is tested on object storage as well as on a local disk.
install_s3_test_server() {
  local stamp
  stamp=$(stamp_of "$ROOT/config/s3-test.txt")
  stamp_ok s3-test "$stamp" && [ -x "$STATE/s3-test/bin/moto_server" ] && return 0
  say "installing the tests' S3-compatible server (moto) into $STATE/s3-test"
  [ -x "$STATE/s3-test/bin/python" ] || "$PYTHON" -m venv "$STATE/s3-test"
  "$STATE/s3-test/bin/pip" install -q --disable-pip-version-check -r "$ROOT/config/s3-test.txt"
  stamp_set s3-test "$stamp"
}

# Builds each extension's front-end assets from npm packages pinned by its lockfile
# (ckanext-*/package.json, `npm run build` writes into the package's assets; not in git).
install_assets() {
  local dir stamp name
  # Each extension builds its assets; the browser journeys only install theirs
  # (axe-core, injected into the pages they visit).
  for dir in "$ROOT"/ckanext-*/ "$ROOT"/tests/journeys/; do
    [ -f "$dir/package.json" ] || continue
    name=assets-$(basename "$dir")
    stamp=$(cd "$dir" && { cat package.json package-lock.json; { find assets/src -type f 2>/dev/null || true; } | sort | xargs cat 2>/dev/null; } \
      | sha256sum | cut -c1-16)
    stamp_ok "$name" "$stamp" && [ -d "$dir/node_modules" ] && continue
    say "installing the front-end packages of $(basename "$dir") (npm ci, npm run build)"
    mkdir -p "$LOG"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && npm run build --if-present) >"$LOG/$name.log" 2>&1 \
      || { tail -20 "$LOG/$name.log" >&2; die "building the assets of $(basename "$dir") failed; see $LOG/$name.log"; }
    stamp_set "$name" "$stamp"
  done
}

# Compiles each extension's translations (.po, in git) into .mo files (not in git).
compile_translations() {
  local stamp dir po
  stamp=$(cd "$ROOT" && { find ckanext-*/ckanext/*/i18n -name '*.po' 2>/dev/null || true; } \
    | sort | xargs cat 2>/dev/null | sha256sum | cut -c1-16)
  stamp_ok translations "$stamp" && return 0
  for po in "$ROOT"/ckanext-*/ckanext/*/i18n/*/LC_MESSAGES/*.po; do
    [ -f "$po" ] || continue
    rm -f "${po%.po}.mo"
    "$VENV/bin/pybabel" -q compile -i "$po" -o "${po%.po}.mo" && [ -f "${po%.po}.mo" ] \
      || die "translation catalogue $po does not compile (a catalogue marked fuzzy is not compiled)"
  done
  stamp_set translations "$stamp"
}

secrets() {
  local f=$STATE/secrets.env
  if [ ! -f "$f" ]; then
    mkdir -p "$STATE"
    (
      umask 077
      for k in PG_CKAN_PASSWORD PG_READ_PASSWORD SESSION_SECRET JWT_SECRET; do
        printf '%s=%s\n' "$k" "$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')"
      done >"$f"
    )
  fi
  # shellcheck disable=SC1090
  . "$f"
}

# --- configuration ----------------------------------------------------------------
write_ini() { # target base_ini ckan_db datastore_db redis_db solr_core site_id [extra app:main lines]
  local target=$1 base=$2 db=$3 dsdb=$4 rdb=$5 core=$6 site_id=$7 extra=${8:-}
  cat >"$target" <<EOF
# Written by scripts/stack.sh from the local stack's ports and secrets; do not
# edit: change $base or the PORTAL_* environment variables instead.
[app:main]
use = config:$base
ckan.site_id = $site_id
ckan.site_url = $SITE_URL
sqlalchemy.url = postgresql://ckan_default:$PG_CKAN_PASSWORD@127.0.0.1:$PG_PORT/$db
ckan.datastore.write_url = postgresql://ckan_default:$PG_CKAN_PASSWORD@127.0.0.1:$PG_PORT/$dsdb
ckan.datastore.read_url = postgresql://datastore_read:$PG_READ_PASSWORD@127.0.0.1:$PG_PORT/$dsdb
solr_url = http://127.0.0.1:$SOLR_PORT/solr/$core
ckan.redis.url = redis://127.0.0.1:$REDIS_PORT/$rdb
ckan.storage_path = $STATE/storage/$site_id
beaker.session.secret = $SESSION_SECRET
SECRET_KEY = $SESSION_SECRET
WTF_CSRF_SECRET_KEY = $SESSION_SECRET
api_token.jwt.encode.secret = string:$JWT_SECRET
api_token.jwt.decode.secret = string:$JWT_SECRET
$extra

[loggers]
keys = root, ckan, ckanext, werkzeug

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_werkzeug]
level = WARNING
handlers = console
qualname = werkzeug
propagate = 0

[logger_ckan]
level = INFO
handlers = console
qualname = ckan
propagate = 0

[logger_ckanext]
level = INFO
handlers = console
qualname = ckanext
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
EOF
}

write_config() {
  mkdir -p "$STATE/storage"
  # Development only: the demo's real-time feed is served on loopback, which
  # the outbound guard refuses unless allowed (production leaves it empty).
  # Its mail has a sender (CKAN fails on a missing one before it even tries the
  # server) but no server: mail is refused and the portal says so, as in
  # production when the SMTP relay is down.
  write_ini "$STATE/ckan.ini" "$ROOT/config/portal.ini" ckan datastore 0 ckan portal \
    "ckanext.grandlyon_access.outbound.allow = 127.0.0.1
smtp.mail_from = portail@localhost"
  # The tests' SMTP catcher listens where the test ini says (stacks side by side
  # choose their own port).
  write_ini "$STATE/test.ini" "$ROOT/config/test.ini" ckan_test datastore_test 1 ckan_test portal_test \
    "smtp.server = 127.0.0.1:$SMTP_TEST_PORT"
  # The benchmark: the suite and stock CKAN on the same databases and index.
  # Its history feed (bench/load.py) is declared on loopback and never polled.
  write_ini "$STATE/bench-suite.ini" "$ROOT/config/bench-suite.ini" ckan_bench datastore_bench 2 ckan_bench portal_bench \
    "ckanext.grandlyon_access.outbound.allow = 127.0.0.1"
  write_ini "$STATE/bench-stock.ini" "$ROOT/config/bench-stock.ini" ckan_bench datastore_bench 2 ckan_bench portal_bench
}

ckan_cli() { "$VENV/bin/ckan" -c "$STATE/ckan.ini" "$@"; }
ckan_quiet() { ckan_cli "$@" 2>>"$LOG/cli.log"; }

# --- PostgreSQL ---------------------------------------------------------------------
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The PostgreSQL folder, its cluster, socket and log, with links resolved.
pg_paths() {
  [ -e "$PGROOT" ] && PGROOT=$(readlink -f "$PGROOT")
  PGDATA=$PGROOT/data
  PGSOCK=$PGROOT/run
  PGLOG=$PGROOT/postgresql.log
}

# PostgreSQL refuses to run as root: as root the cluster belongs to the
# "postgres" user that Debian's package creates. When that user cannot enter
# the state folder (a parent folder such as /root is closed to others), the
# cluster lives in the postgres user's home and $STATE/pg links to it.
pg_make_root() {
  mkdir -p "$STATE"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STATE"; then
    local home
    home=/var/lib/postgresql/portal-stack-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)
    mkdir -p "$home"
    chown postgres:postgres "$home"
    ln -sfn "$home" "$PGROOT"
    say "the postgres user cannot enter $STATE: its cluster lives in $home ($PGROOT links to it)"
  fi
  mkdir -p "$PGROOT"
  pg_paths
}

psql_admin() { # database, then psql arguments
  local db=$1; shift
  "$PG_BIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qAtX "$@"
}

start_postgres() {
  pg_paths
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    pg_make_root
    say "creating the PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA" "$PGSOCK"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGROOT"
    chmod 700 "$PGDATA" "$PGSOCK"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$PGROOT/initdb.log"
    cat >>"$PGDATA/postgresql.conf" <<EOF
# local stack
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGSOCK'
shared_buffers = 128MB
max_connections = 100
EOF
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then return 0; fi
  require_free_port "$PG_PORT" PORTAL_PG_PORT PostgreSQL
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  mkdir -p "$LOG"
  ln -sfn "$PGLOG" "$LOG/postgresql.log"
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -o "-p $PG_PORT" -w -t 60 start >/dev/null \
    || die "PostgreSQL did not start; see $PGLOG"
}

create_databases() {
  psql_admin postgres <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ckan_default') THEN CREATE ROLE ckan_default LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'datastore_read') THEN CREATE ROLE datastore_read LOGIN; END IF;
END \$\$;
ALTER ROLE ckan_default PASSWORD '$PG_CKAN_PASSWORD';
ALTER ROLE datastore_read PASSWORD '$PG_READ_PASSWORD';
EOF
  local db
  for db in ckan datastore ckan_test datastore_test ckan_bench datastore_bench; do
    if [ -z "$(psql_admin postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      psql_admin postgres -c "CREATE DATABASE $db OWNER ckan_default ENCODING 'UTF8'"
    fi
  done
}

migrate() { # ini datastore_db
  "$VENV/bin/ckan" -c "$1" datastore set-permissions 2>>"$LOG/migrations.log" | psql_admin "$2" >/dev/null
  "$VENV/bin/ckan" -c "$1" db upgrade >>"$LOG/migrations.log" 2>&1 \
    || die "database migrations failed; see $LOG/migrations.log"
}

migrate_all() {
  local stamp
  stamp=$(cd "$ROOT" && { stamp_of "$STATE/secrets.env" config/portal.ini config/test.ini config/bench-suite.ini;
    find ckanext-*/ckanext/*/migration -name '*.py' | sort | xargs cat 2>/dev/null | sha256sum; } | sha256sum | cut -c1-16)
  stamp_ok migrations "$stamp" && return 0
  say "migrating the databases"
  migrate "$STATE/ckan.ini" datastore
  migrate "$STATE/test.ini" datastore_test
  migrate "$STATE/bench-suite.ini" datastore_bench
  stamp_set migrations "$stamp"
}

# --- Redis -----------------------------------------------------------------------------
redis_ready() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  if pid_alive redis && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  require_free_port "$REDIS_PORT" PORTAL_REDIS_PORT Redis
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$STATE/redis" "$RUN" "$LOG"
  cat >"$STATE/redis/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
dir $STATE/redis
daemonize yes
pidfile $RUN/redis.pid
logfile $LOG/redis.log
appendonly yes
maxmemory 256mb
maxmemory-policy noeviction
EOF
  redis-server "$STATE/redis/redis.conf"
  # Until it answers PONG: a restarted Redis answers LOADING while it reads
  # its append-only file back, and clients then fail.
  wait_for Redis 60 redis_ready
}

# --- Solr ------------------------------------------------------------------------------
solr_home() {
  local home=$STATE/solr/home core
  mkdir -p "$home"
  cp "$ROOT/config/solr/solr.xml" "$home/solr.xml"
  for core in ckan ckan_test ckan_bench; do
    mkdir -p "$home/$core/conf"
    printf 'name=%s\n' "$core" >"$home/$core/core.properties"
    cp "$ROOT/config/solr/solrconfig.xml" "$home/$core/conf/"
    : >"$home/$core/conf/synonyms.txt"
    : >"$home/$core/conf/protwords.txt"
    "$VENV/bin/python" "$ROOT/scripts/solr_schema.py" \
      "$("$VENV/bin/python" -c 'import ckan, os; print(os.path.join(os.path.dirname(ckan.__file__), "config/solr/schema.xml"))')" \
      "$home/$core/conf/schema.xml"
  done
}

solr_ready() { curl -fsS "http://127.0.0.1:$SOLR_PORT/solr/$1/select?q=*:*&rows=0" >/dev/null 2>&1; }

start_solr() {
  if pid_alive solr && solr_ready ckan && solr_ready ckan_bench; then return 0; fi
  stop_pid solr
  require_free_port "$SOLR_PORT" PORTAL_SOLR_PORT Solr
  solr_home
  say "starting Solr on 127.0.0.1:$SOLR_PORT (heap $SOLR_HEAP)"
  spawn solr "$LOG/solr.out" java -Xms"$SOLR_HEAP" -Xmx"$SOLR_HEAP" \
    -Dlog4j2.configurationFile="file:$ROOT/config/solr/log4j2.xml" \
    -Dsolr.log.file="$LOG/solr.log" -Dsolr.log.dir="$LOG" -Dsolr.data.home="$STATE/solr/data" \
    -Dsolr.install.dir="$STATE/solr" -Djetty.host=127.0.0.1 \
    -cp "$STATE/solr/classes:$STATE/solr/lib/*" Launcher "$STATE/solr/home" "$SOLR_PORT"
  local i
  for ((i = 0; i < 240; i++)); do
    solr_ready ckan && solr_ready ckan_test && solr_ready ckan_bench && return 0
    pid_alive solr || { tail -20 "$LOG/solr.out" >&2; die "Solr stopped while starting; see $LOG/solr.out"; }
    sleep 0.5
  done
  die "Solr did not answer within 120s; see $LOG/solr.out and $LOG/solr.log"
}

# --- CKAN and its workers --------------------------------------------------------------
web_ready() { curl -fsS "$SITE_URL/api/3/action/status_show" >/dev/null 2>&1; }

start_ckan() {
  if ! pid_alive web; then
    require_free_port "$CKAN_PORT" PORTAL_CKAN_PORT "the CKAN web server"
    say "starting CKAN on $SITE_URL"
    spawn web "$LOG/ckan.log" "$VENV/bin/ckan" -c "$STATE/ckan.ini" run -H 127.0.0.1 -p "$CKAN_PORT" -r -t
  fi
  local worker
  for worker in "jobs worker" "harvester gather-consumer" "harvester fetch-consumer" "history ingest"; do
    local name=${worker// /-}
    # Restarted when they exit (ckanext-harvest's consumers exit when Redis
    # restarts), as docker/'s restart policy does in production.
    # shellcheck disable=SC2086,SC2016
    pid_alive "$name" || spawn "$name" "$LOG/$name.log" bash -c \
      'while :; do "$@"; echo "worker exited ($?); restarting in 2 s" >&2; sleep 2; done' \
      _ "$VENV/bin/ckan" -c "$STATE/ckan.ini" $worker
  done
  wait_for "CKAN on $SITE_URL" 120 web_ready
}

sysadmin_token() {
  local f=$STATE/admin.token
  if [ -s "$f" ] && curl -fsS -H "Authorization: $(cat "$f")" "$SITE_URL/api/3/action/dashboard_activity_list?limit=1" >/dev/null 2>&1; then
    cat "$f"; return 0
  fi
  (umask 077; ckan_quiet user token add admin local-stack -q | tail -1 >"$f")
  cat "$f"
}

ensure_sysadmin() {
  local pwfile=$STATE/demo-passwords
  touch "$pwfile"; chmod 600 "$pwfile"
  if ! grep -q '^admin:' "$pwfile"; then
    printf 'admin:%s\n' "$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(12))')" >>"$pwfile"
  fi
  if ! ckan_quiet user show admin | grep -q "name=admin"; then
    ckan_quiet user add admin email=admin@example.org fullname="Administrateur" \
      password="$(grep '^admin:' "$pwfile" | cut -d: -f2-)" >/dev/null
  fi
  ckan_quiet sysadmin add admin >/dev/null
}

# The widget demo: a commune's web site on another origin (demo/widget/) that
# embeds the portal's widgets (script and iframe).
start_widget_demo() {
  pid_alive widget-demo && return 0
  require_free_port "$WIDGET_DEMO_PORT" PORTAL_WIDGET_DEMO_PORT "the widget demo page"
  mkdir -p "$STATE/widget-demo"
  sed "s|__PORTAL__|$SITE_URL|g" "$ROOT/demo/widget/index.html" >"$STATE/widget-demo/index.html"
  spawn widget-demo "$LOG/widget-demo.log" "$VENV/bin/python" -m http.server "$WIDGET_DEMO_PORT" \
    --bind 127.0.0.1 --directory "$STATE/widget-demo"
  wait_for "the widget demo page" 30 curl -fsS "http://127.0.0.1:$WIDGET_DEMO_PORT/index.html"
}

# The demo commune portal: recorded OpenDataSoft answers (demo/commune-portal),
# harvested by the demo's harvest source.
start_commune_portal() {
  pid_alive commune-portal && return 0
  require_free_port "$COMMUNE_PORTAL_PORT" PORTAL_COMMUNE_PORTAL_PORT "the demo commune portal"
  spawn commune-portal "$LOG/commune-portal.log" "$VENV/bin/python" "$ROOT/demo/commune-portal/serve.py" \
    --port "$COMMUNE_PORTAL_PORT"
  wait_for "the demo commune portal" 30 curl -fsS "http://127.0.0.1:$COMMUNE_PORTAL_PORT/api/explore/v2.1/catalog/datasets?limit=3&offset=0&order_by=dataset_id"
}

feed_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$FEED_PORT/velov/disponibilites.geojson"; }

start_demo_feed() {
  if ! pid_alive velov-feed; then
    require_free_port "$FEED_PORT" PORTAL_FEED_PORT "the demo's real-time feed"
    say "serving the demo's real-time Vélo'v feed on 127.0.0.1:$FEED_PORT"
    spawn velov-feed "$LOG/velov-feed.log" "$VENV/bin/python" "$ROOT/demo/velov.py" \
      --host 127.0.0.1 --port "$FEED_PORT"
  fi
  wait_for "the demo feed on 127.0.0.1:$FEED_PORT" 30 feed_ready
}

load_demo() {
  ensure_sysadmin
  say "loading the demo catalogue from $DEMO_DATA"
  "$VENV/bin/python" "$ROOT/demo/load.py" --url "$SITE_URL" --token "$(sysadmin_token)" \
    --data "$DEMO_DATA" --password-file "$STATE/demo-passwords" \
    --commune-portal "http://127.0.0.1:$COMMUNE_PORTAL_PORT" \
    --feed-base "http://127.0.0.1:$FEED_PORT" >>"$LOG/demo.log" 2>&1 \
    || { tail -20 "$LOG/demo.log" >&2; die "loading the demo catalogue failed; see $LOG/demo.log"; }
}

# The demo's synthetic past: a year of the Vélo'v feed, hourly (demo/velov.py
# --year-csv), imported once into the history of the demo's real-time
# resource with `ckan history import` (resumable, never a row twice).
load_demo_history() {
  # (-v3: with the stations' names and coordinates, as the feed declares them)
  local rid file=$STATE/storage/demo-velov-year-v3.csv
  rid=$(curl -fsS "$SITE_URL/api/3/action/package_show?id=stations-velov-temps-reel" \
    | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["result"]["resources"][0]["id"])') \
    || { say "no real-time Vélo'v dataset in the demo: no history imported"; return 0; }
  if [ ! -f "$file" ]; then
    say "generating a year of Vélo'v history (hourly) for the demo"
    "$VENV/bin/python" "$ROOT/demo/velov.py" --year-csv "$file" 2>>"$LOG/demo.log"
  fi
  say "importing the demo's year of Vélo'v history (first time: a minute or two)"
  ckan_cli history import "$rid" "$file" --feature-field number --time-field last_update \
    >>"$LOG/demo.log" 2>&1 || { tail -5 "$LOG/demo.log" >&2; die "importing the demo history failed; see $LOG/demo.log"; }
  # Months past the hot retention move into the Parquet archive (production:
  # the history-compact service does this on a schedule).
  say "compacting the demo's history into the Parquet archive"
  ckan_cli history compact --resource "$rid" >>"$LOG/demo.log" 2>&1 \
    || { tail -5 "$LOG/demo.log" >&2; die "compacting the demo history failed; see $LOG/demo.log"; }
}

# --- production, run on this machine (./portal prod) ---------------------------------
# The image's way (docker/): docker/ckan/entrypoint.sh writes the plugins and
# the secrets into a copy of docker/ckan/production.ini, the start-up steps of
# the base image follow (migrations, DataStore permissions, sysadmin), then
# uWSGI with docker/ckan/uwsgi.ini (pyuwsgi, from PyPI) behind nginx (Debian's)
# with docker/nginx/portal.conf. Only where CKAN and the cache are differs from
# docker/nginx/default.conf. Its own databases, Solr core and Redis database:
# the development portal and the tests are never touched.
prod_settings() {
  case $PROD_NAME in *[!a-z0-9_]* | "") die "PORTAL_PROD_NAME must be lower-case letters, digits and _" ;; esac
  PROD_DIR=$STATE/$PROD_NAME
  PROD_URL=http://127.0.0.1:$PROD_PORT
}

prod_user() {
  PROD_USER= PROD_NGINX_USER=
  [ "$(id -u)" = 0 ] || return 0
  # As root, uWSGI and nginx's workers run as nobody: they cannot write the
  # code or the configuration (the image runs as its "ckan" user). When
  # nobody cannot reach them (e.g. a Python or a state folder under /root),
  # they run as root, as the rest of the stack.
  if runuser -u nobody -- test -x "$PROD_DIR" 2>/dev/null; then
    PROD_NGINX_USER="nobody nogroup"
    if (cd / && runuser -u nobody -- "$VENV/bin/python" -c 'import threading, ckan, ckanext.grandlyon_access') >/dev/null 2>&1; then
      PROD_USER=nobody
    fi
  else
    PROD_NGINX_USER=root
  fi
}

# The environment the compose file gives the ckan service (x-ckan-environment).
prod_env() {
  # Nothing writes under the code, not even Python's bytecode cache.
  export PATH="$VENV/bin:$PATH" CKAN_INI=$PROD_DIR/ckan.ini PYTHONDONTWRITEBYTECODE=1
  export CKAN_SITE_URL=$PROD_URL CKAN_SITE_ID=portal_$PROD_NAME
  export CKAN_SQLALCHEMY_URL=postgresql://ckan_default:$PG_CKAN_PASSWORD@$PROD_PG_ADDRESS/ckan_$PROD_NAME
  export CKAN_DATASTORE_WRITE_URL=postgresql://ckan_default:$PG_CKAN_PASSWORD@$PROD_PG_ADDRESS/datastore_$PROD_NAME
  export CKAN_DATASTORE_READ_URL=postgresql://datastore_read:$PG_READ_PASSWORD@$PROD_PG_ADDRESS/datastore_$PROD_NAME
  export CKAN_SOLR_URL=http://$PROD_SOLR_ADDRESS/solr/ckan_$PROD_NAME
  export CKAN_REDIS_URL=redis://$PROD_REDIS_ADDRESS/$PROD_REDIS_DB
  export CKAN_STORAGE_PATH=$PROD_DIR/storage CKAN_MAX_UPLOAD_SIZE_MB=${CKAN_MAX_UPLOAD_SIZE_MB:-100}
  export CKAN_SECRET_KEY=$SESSION_SECRET CKAN_API_TOKEN_SECRET=$JWT_SECRET
  export CKAN_SYSADMIN_NAME=admin CKAN_SYSADMIN_EMAIL=admin@example.org
  export UWSGI_HARAKIRI=${UWSGI_HARAKIRI:-60} UWSGI_HTTP_SOCKET=127.0.0.1:$PROD_UWSGI_PORT
  export NGINX_LISTEN=127.0.0.1:$PROD_PORT
  # The image's plugin list, without envvars (not installed here: the
  # settings it would read from CKAN___ variables are written below).
  CKAN__PLUGINS=$(sed -n 's/^ *CKAN__PLUGINS="\([^"]*\)".*/\1/p' "$ROOT/docker/Dockerfile" | sed 's/ *envvars//')
  [ -n "$CKAN__PLUGINS" ] || die "no CKAN__PLUGINS in docker/Dockerfile"
  export CKAN__PLUGINS
}

prod_ready() { curl -fsS -o /dev/null "$PROD_URL/api/3/action/status_show"; }

prod_databases() {
  local db
  for db in "ckan_$PROD_NAME" "datastore_$PROD_NAME"; do
    if [ -z "$(psql_admin postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      psql_admin postgres -c "CREATE DATABASE $db OWNER ckan_default ENCODING 'UTF8'"
    fi
  done
}

# A Solr core of its own, added to the running Solr (CoreAdmin) and found again
# by a restarted one (its core.properties).
prod_solr_core() {
  local core=ckan_$PROD_NAME home=$STATE/solr/home
  solr_ready "$core" && return 0
  mkdir -p "$home/$core"
  rm -f "$home/$core/core.properties"
  rm -rf "$home/$core/conf"
  cp -r "$home/ckan/conf" "$home/$core/conf"
  curl -fsS -o /dev/null "http://127.0.0.1:$SOLR_PORT/solr/admin/cores?action=CREATE&name=$core&instanceDir=$core" \
    || die "Solr did not create the core $core; see $LOG/solr.log"
  wait_for "the Solr core $core" 60 solr_ready "$core"
}

# The image's ckan.ini: docker/ckan/production.ini, beside config/ (it chains
# to config/portal.ini), then what the entrypoint writes. Read-only at the end.
prod_ini() {
  mkdir -p "$PROD_DIR/storage" "$PROD_DIR/history"
  rm -f "$CKAN_INI"
  cp "$ROOT/docker/ckan/production.ini" "$CKAN_INI"
  ln -sfn "$ROOT/config" "$PROD_DIR/config"
  # What the compose file's CKAN___ variables would set: the archive, and
  # nginx on loopback as the proxy whose X-Forwarded-For is trusted.
  ckan config-tool "$CKAN_INI" \
    "ckanext.history.archive.path = $PROD_DIR/history" \
    "ckanext.grandlyon_access.throttle.trusted_proxies = 127.0.0.1/32" >/dev/null
  bash "$ROOT/docker/ckan/entrypoint.sh" true
  chmod 444 "$CKAN_INI"
  if [ -n "$PROD_USER" ]; then chown -R "$PROD_USER" "$PROD_DIR/storage" "$PROD_DIR/history"; fi
}

# The base image's start-up steps (its prerun): migrations of CKAN and every
# plugin, DataStore permissions, the sysadmin from CKAN_SYSADMIN_*.
prod_prerun() {
  local pwfile=$PROD_DIR/sysadmin-password
  ckan -c "$CKAN_INI" db init >>"$LOG/$PROD_NAME-prerun.log" 2>&1 \
    || die "database migrations failed; see $LOG/$PROD_NAME-prerun.log"
  ckan -c "$CKAN_INI" datastore set-permissions 2>>"$LOG/$PROD_NAME-prerun.log" \
    | psql_admin "datastore_$PROD_NAME" >/dev/null
  [ -s "$pwfile" ] || (umask 077; "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(16))' >"$pwfile")
  if ! ckan -c "$CKAN_INI" user show "$CKAN_SYSADMIN_NAME" 2>>"$LOG/$PROD_NAME-prerun.log" | grep -q "name=$CKAN_SYSADMIN_NAME"; then
    ckan -c "$CKAN_INI" user add "$CKAN_SYSADMIN_NAME" "email=$CKAN_SYSADMIN_EMAIL" \
      "password=$(cat "$pwfile")" >>"$LOG/$PROD_NAME-prerun.log" 2>&1
  fi
  ckan -c "$CKAN_INI" sysadmin add "$CKAN_SYSADMIN_NAME" >>"$LOG/$PROD_NAME-prerun.log" 2>&1
}

# nginx.conf of this run: what the nginx image's own nginx.conf and
# docker/nginx/default.conf give, on loopback, with every path under $PROD_DIR.
prod_nginx_conf() {
  local dir=$PROD_DIR/nginx
  rm -rf "$dir/conf"
  mkdir -p "$dir/conf" "$dir/temp" "$dir/cache"
  # The nginx image's envsubst step: the variables the compose file gives
  # the nginx service, nothing else (nginx's own $variables stay).
  envsubst '${CKAN_MAX_UPLOAD_SIZE_MB} ${UWSGI_HARAKIRI} ${NGINX_LISTEN}' \
    <"$ROOT/docker/nginx/portal.conf" >"$dir/conf/portal.conf"
  cat >"$dir/conf/nginx.conf" <<CONF
# Written by scripts/stack.sh (./portal prod); the portal's rules are in
# portal.conf, from docker/nginx/portal.conf.
${PROD_NGINX_USER:+user $PROD_NGINX_USER;}
worker_processes 2;
pid $dir/nginx.pid;
error_log $LOG/$PROD_NAME-nginx-error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    access_log $LOG/$PROD_NAME-nginx-access.log;
    client_body_temp_path $dir/temp/client;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    proxy_cache_path $dir/cache levels=1:2 keys_zone=ckan:20m max_size=256m inactive=60m use_temp_path=off;
    # As docker/nginx/default.conf: no keepalive to uWSGI's http-socket.
    upstream ckan_web {
        server 127.0.0.1:$PROD_UWSGI_PORT;
    }
    include $dir/conf/portal.conf;
}
CONF
  # -e: not even the test opens the packaged /var/log/nginx/error.log.
  nginx -p "$dir" -e "$LOG/$PROD_NAME-nginx-error.log" -c "$dir/conf/nginx.conf" -t -q 2>>"$LOG/$PROD_NAME-nginx-error.log" \
    || { tail -5 "$LOG/$PROD_NAME-nginx-error.log" >&2; die "nginx -t refused $dir/conf/nginx.conf"; }
}

cmd_prod_start() {
  install_system
  install_python
  install_assets
  compile_translations
  secrets
  mkdir -p "$STATE/$PROD_NAME"
  prod_settings
  prod_user
  prod_env
  if pid_alive "$PROD_NAME-uwsgi" && pid_alive "$PROD_NAME-nginx" && prod_ready; then
    say "the production run is already serving $PROD_URL"; return 0
  fi
  cmd_prod_stop 2>/dev/null
  start_postgres
  start_redis
  start_solr
  require_free_port "$PROD_PORT" PORTAL_PROD_PORT "nginx of the production run"
  require_free_port "$PROD_UWSGI_PORT" PORTAL_PROD_UWSGI_PORT "uWSGI of the production run"
  mkdir -p "$LOG" "$RUN"
  say "production run: databases ckan_$PROD_NAME, datastore_$PROD_NAME, Solr core ckan_$PROD_NAME, Redis db $PROD_REDIS_DB"
  prod_databases
  prod_solr_core
  prod_ini
  prod_prerun
  say "starting uWSGI (docker/ckan/uwsgi.ini) on 127.0.0.1:$PROD_UWSGI_PORT${PROD_USER:+ as $PROD_USER}"
  spawn "$PROD_NAME-uwsgi" "$LOG/$PROD_NAME-uwsgi.log" "$VENV/bin/uwsgi" --ini "$ROOT/docker/ckan/uwsgi.ini" \
    ${PROD_USER:+--uid "$PROD_USER" --gid nogroup}
  local i
  for ((i = 0; i < 240; i++)); do
    "$VENV/bin/python" "$ROOT/docker/ckan/healthcheck.py" web "$PROD_UWSGI_PORT" 2>/dev/null && break
    pid_alive "$PROD_NAME-uwsgi" || { tail -20 "$LOG/$PROD_NAME-uwsgi.log" >&2; die "uWSGI stopped while starting; see $LOG/$PROD_NAME-uwsgi.log"; }
    sleep 0.5
  done
  "$VENV/bin/python" "$ROOT/docker/ckan/healthcheck.py" web "$PROD_UWSGI_PORT" \
    || die "uWSGI did not answer within 120s; see $LOG/$PROD_NAME-uwsgi.log"
  prod_nginx_conf
  say "starting nginx (docker/nginx/portal.conf) on $PROD_URL"
  # In the foreground of its own process group: stop_pid stops it with the rest.
  spawn "$PROD_NAME-nginx" "$LOG/$PROD_NAME-nginx-error.log" nginx -p "$PROD_DIR/nginx" \
    -e "$LOG/$PROD_NAME-nginx-error.log" -c "$PROD_DIR/nginx/conf/nginx.conf" -g 'daemon off;'
  wait_for "nginx on $PROD_URL" 30 curl -fsS -o /dev/null "$PROD_URL/nginx-health"
  wait_for "CKAN through nginx on $PROD_URL" 30 prod_ready
  cat <<MSG

The production run is served at $PROD_URL (nginx -> uWSGI on 127.0.0.1:$PROD_UWSGI_PORT)
  Sysadmin:  $CKAN_SYSADMIN_NAME, password in $PROD_DIR/sysadmin-password
  Config:    $CKAN_INI (read-only)
  Logs:      $LOG/$PROD_NAME-*.log
  Stop it:   $([ "$PROD_NAME" = prod ] || printf 'PORTAL_PROD_NAME=%s ' "$PROD_NAME")./portal prod stop
MSG
}

cmd_prod_stop() {
  prod_settings
  stop_pid "$PROD_NAME-nginx"
  stop_pid "$PROD_NAME-uwsgi"
}

cmd_prod() {
  case ${1:-start} in
    start) cmd_prod_start ;;
    stop) cmd_prod_stop; say "stopped the production run ($PROD_NAME)" ;;
    status)
      prod_settings
      local name
      for name in "$PROD_NAME-uwsgi" "$PROD_NAME-nginx"; do
        if pid_alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
      done ;;
    ckan)
      # A ckan command against the production run's configuration and
      # environment (docker: `docker compose exec ckan ckan ...`).
      shift
      secrets; prod_settings; prod_env
      [ -f "$CKAN_INI" ] || die "the production run has not started yet: ./portal prod"
      "$VENV/bin/ckan" -c "$CKAN_INI" "$@" ;;
    *) die "usage: ./portal prod [start|stop|status|ckan ARGS]" ;;
  esac
}

# --- commands ----------------------------------------------------------------------------
cmd_up() {
  install_system
  install_python
  install_solr
  install_assets
  compile_translations
  secrets
  write_config
  start_postgres
  create_databases
  start_redis
  start_solr
  migrate_all
}

cmd_run() {
  cmd_up
  start_demo_feed
  start_ckan
  start_commune_portal
  load_demo
  start_widget_demo
  load_demo_history
  cat <<EOF

The portal is served at $SITE_URL
  Communes:            $SITE_URL/commune/  (by host name: http://villeurbanne.localhost:$CKAN_PORT/)
  Widget demo:         http://127.0.0.1:$WIDGET_DEMO_PORT/  (a commune's site embedding the widgets)
  Demo logins (user:password), also in $STATE/demo-passwords:
$(sed 's/^/    /' "$STATE/demo-passwords")
  Sysadmin API token:  ./portal token
  CKAN command line:   ./portal ckan <command>   (e.g. ./portal ckan search-index rebuild)
  Real-time feed:      http://127.0.0.1:$FEED_PORT/velov/disponibilites.geojson (history: \`ckan history ingest\` worker)
  Logs:                $LOG
  Stop everything:     ./portal stop
EOF
}

cmd_test() {
  cmd_up
  install_s3_test_server
  say "running the tests"
  cd "$ROOT"
  local rc=0
  # The fault tests stop and start services of this very stack (./portal service).
  PORTAL_S3_TEST_SERVER=$STATE/s3-test/bin/moto_server \
  PORTAL_STATE_DIR=$STATE PORTAL_PG_PORT=$PG_PORT PORTAL_REDIS_PORT=$REDIS_PORT PORTAL_SOLR_PORT=$SOLR_PORT \
    PORTAL_CKAN_PORT=$CKAN_PORT "$VENV/bin/pytest" --ckan-ini="$STATE/test.ini" "$@" || rc=$?
  if [ "${CI:-}" = true ]; then cmd_stop; fi
  return $rc
}

# CKAN 2.11's own tests of the surfaces the suite wraps (actions, DataStore,
# activity), from the installed package, with the suite on and the portal's
# configuration: tests/ckan_core/ckan_core_harness.py adapts CKAN's fixtures,
# tests/ckan_core/known-failures.txt lists the expected failures and why.
# Long (see the README): not part of ./portal test.
cmd_test_ckan() {
  cmd_up
  say "running CKAN's own tests with the suite on"
  cd "$ROOT"
  local site arg named_path=false
  site=$("$VENV/bin/python" -c 'import ckan, os; print(os.path.dirname(os.path.dirname(ckan.__file__)))')
  # ARGS go to pytest; without a test path among them, the three folders run.
  for arg in "$@"; do
    if [ -e "${arg%%::*}" ]; then named_path=true; fi
  done
  if [ "$named_path" = false ]; then
    set -- "$site/ckan/tests/logic/action" "$site/ckanext/datastore/tests" "$site/ckanext/activity/tests" "$@"
  fi
  PYTHONPATH="$ROOT/tests/ckan_core${PYTHONPATH:+:$PYTHONPATH}" \
    "$VENV/bin/pytest" --rootdir="$ROOT" -c "$ROOT/pyproject.toml" -p ckan_core_harness \
    --ckan-ini="$STATE/test.ini" "$@"
}

# The README's illustrated tour: the browser journeys, then their screenshots
# into docs/tour/ and the README (scripts/tour.py).
cmd_tour() {
  cmd_test tests/journeys
  "$VENV/bin/python" "$ROOT/scripts/tour.py"
}

cmd_bench() {
  cmd_up
  cd "$ROOT"
  case "${1:-}" in
    load)
      shift
      local arg args=() prod=false rc=0
      for arg in "$@"; do
        if [ "$arg" = --prod ]; then prod=true; else args+=("$arg"); fi
      done
      if [ "$prod" = false ]; then
        say "load scenario: the suite against stock CKAN, concurrent clients on loopback"
        "$VENV/bin/python" bench/load.py --state "$STATE" ${args[@]+"${args[@]}"}
        return
      fi
      # --prod: a third side, the production run (nginx -> uWSGI) on the
      # benchmark's own databases, Solr core and Redis database.
      PROD_NAME=bench PROD_REDIS_DB=2
      PROD_PORT=${PORTAL_BENCH_PROD_PORT:-5085} PROD_UWSGI_PORT=${PORTAL_BENCH_PROD_UWSGI_PORT:-5086}
      cmd_prod_start
      say "load scenario: stock CKAN, the suite with ckan run, the suite behind nginx and uWSGI"
      "$VENV/bin/python" bench/load.py --state "$STATE" --prod-url "$PROD_URL" ${args[@]+"${args[@]}"} || rc=$?
      cmd_prod_stop
      return $rc ;;
    *)
      say "benchmark: the suite against stock CKAN on the same datasets"
      "$VENV/bin/python" bench/run.py --state "$STATE" "$@" ;;
  esac
}

cmd_bench_dataviz() {
  cmd_up
  say "benchmark: a chart view of a large DataStore table against DataTables"
  cd "$ROOT"
  "$VENV/bin/python" bench/dataviz.py --state "$STATE" "$@"
}

# The restore drill (scripts/restore_drill.py): the demo portal's web and
# workers stop (a restore starts from a stopped portal), then its databases
# and files are backed up as docker/README.md says, wiped, restored, checked.
cmd_drill() {
  local name folder
  cmd_up
  [ -f "$STATE/ckan.ini" ] || die "no portal to back up yet: ./portal run first"
  for name in history-ingest harvester-fetch-consumer harvester-gather-consumer jobs-worker web; do
    stop_pid "$name"
  done
  folder=$STATE/backup/drill-$(date -u +%Y%m%dT%H%M%SZ)
  cd "$ROOT"
  PORTAL_PG_BIN=$PG_BIN "$VENV/bin/python" scripts/restore_drill.py --ini "$STATE/ckan.ini" \
    --backup "$folder" "$@"
  say "the backup is in $folder; ./portal run starts the portal again"
}

cmd_stop() {
  local name
  cmd_prod_stop
  for name in history-ingest velov-feed widget-demo commune-portal harvester-fetch-consumer harvester-gather-consumer jobs-worker web solr; do stop_pid "$name"; done
  if pid_alive redis; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || stop_pid redis; fi
  rm -f "$RUN/redis.pid"
  pg_paths
  if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  say "stopped"
}

cmd_wipe() {
  cmd_stop
  if [ "${1:-}" = --all ]; then
    [ -L "$STATE/pg" ] && rm -rf "$(readlink -f "$STATE/pg")"
    rm -rf "$STATE"
    say "removed $STATE"
  else
    [ -L "$STATE/pg" ] && rm -rf "$(readlink -f "$STATE/pg")"
    rm -rf "$STATE/pg" "$STATE/redis" "$STATE/solr/data" "$STATE/solr/home" "$STATE/storage" \
      "$STATE/secrets.env" "$STATE/admin.token" "$STATE/demo-passwords" "$STATE/stamps/migrations" \
      "$STATE"/*.ini "$LOG" "$RUN"
    say "removed the data in $STATE (kept the installed software; --all removes it too)"
  fi
}

# Stops, starts or restarts one service of the stack (the fault tests use it).
cmd_service() {
  local action=${1:-} service=${2:-}
  case "$action:$service" in
    stop:solr) stop_pid solr ;;
    start:solr) start_solr ;;
    stop:redis)
      # Redis keeps its queues in an append-only file: they survive a restart.
      if pid_alive redis; then redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || stop_pid redis; fi
      rm -f "$RUN/redis.pid" ;;
    start:redis) start_redis ;;
    stop:postgres)
      pg_paths
      as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null ;;
    start:postgres) start_postgres ;;
    restart:solr | restart:redis | restart:postgres) cmd_service stop "$service"; cmd_service start "$service" ;;
    *) die "usage: ./portal service stop|start|restart solr|redis|postgres" ;;
  esac
}

cmd_status() {
  local name
  for name in solr web jobs-worker harvester-gather-consumer harvester-fetch-consumer history-ingest velov-feed; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
  done
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then echo "redis: running on $REDIS_PORT"; else echo "redis: stopped"; fi
  pg_paths
  if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "postgresql: running on $PG_PORT"; else echo "postgresql: stopped"; fi
}

usage() {
  cat <<EOF
usage: ./portal COMMAND

  run            install everything, start the services, load the demo, serve $SITE_URL
  test [ARGS]    install everything, start the services, run pytest (ARGS go to pytest)
  test-ckan [ARGS]  CKAN's own tests (actions, DataStore, activity) with the suite on (long)
  tour           run the browser journeys, then rebuild the README's illustrated tour from them
  bench [ARGS]   the benchmark: the suite against stock CKAN, side by side (bench/run.py --help)
  bench load [--prod]  the load scenario, concurrent clients, side by side (bench/load.py --help);
                 --prod adds the production run (nginx -> uWSGI) as a third side
  bench-dataviz  a chart of a 1,000,000-row DataStore table against DataTables (bench/dataviz.py)
  prod [stop|status|ckan ARGS]  the production run: uWSGI (docker/ckan/uwsgi.ini) behind nginx
                 (docker/nginx/portal.conf), the image's start-up steps, on http://127.0.0.1:$PROD_PORT
  bench-history  the history store against the DataStore on bike-share rows (bench/history.py --help)
  drill          the restore drill: back the demo portal up (docker/README.md's steps), wipe it,
                 restore it, check everything is back (scripts/restore_drill.py)
  up             install everything and start PostgreSQL, Redis and Solr only
  stop           stop every process of the stack
  wipe [--all]   stop, then delete the data (--all: the installed software too)
  status         which processes run
  service ACTION NAME  stop, start or restart one service: solr, redis or postgres
  token          print a sysadmin API token (needs ./portal run first)
  ckan ARGS      run a ckan command against the local instance

State folder: $STATE. Ports: PORTAL_CKAN_PORT=$CKAN_PORT PORTAL_PG_PORT=$PG_PORT
PORTAL_REDIS_PORT=$REDIS_PORT PORTAL_SOLR_PORT=$SOLR_PORT PORTAL_FEED_PORT=$FEED_PORT
PORTAL_PROD_PORT=$PROD_PORT PORTAL_PROD_UWSGI_PORT=$PROD_UWSGI_PORT (environment variables).
EOF
}

main() {
  local cmd=${1:-help}
  [ $# -gt 0 ] && shift
  case $cmd in
    run) cmd_run ;;
    test) cmd_test "$@" ;;
    test-ckan) cmd_test_ckan "$@" ;;
    tour) cmd_tour ;;
    bench) cmd_bench "$@" ;;
    bench-dataviz) cmd_bench_dataviz "$@" ;;
    prod) cmd_prod "$@" ;;
    drill) cmd_drill "$@" ;;
    bench-history) cmd_up; cd "$ROOT"; "$VENV/bin/python" bench/history.py --ini "$STATE/bench-suite.ini" "$@" ;;
    up) cmd_up ;;
    stop) cmd_stop ;;
    wipe) cmd_wipe "$@" ;;
    status) cmd_status ;;
    service) cmd_service "$@" ;;
    token) secrets; web_ready || die "CKAN is not running: ./portal run"; sysadmin_token ;;
    ckan) ckan_cli "$@" ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
