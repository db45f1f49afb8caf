#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the `sql` plugin's tests, benchmarks and
# end-to-end pipelines.
#
#   tests/sql/pg-cluster.sh start   # create (or reuse) and start; prints exports
#   tests/sql/pg-cluster.sh env     # prints `export PG_URL=...` for a running cluster
#   tests/sql/pg-cluster.sh stop    # stop it and delete its directory
#   tests/sql/pg-cluster.sh status  # exit 0 when running
#
# Use it as:   eval "$(tests/sql/pg-cluster.sh start)"
#
# The cluster lives under $SQL_PG_DIR (default /tmp/runtime-sql-pg), listens on
# 127.0.0.1 only, on a free port, with scram-sha-256 password authentication
# for the test user `runtime_test` (random password) and database
# `runtime_test`. Durability is switched off: it is for tests only. As root, the
# server runs as the `postgres` system user (created if missing), and
# PostgreSQL is installed from Debian's packages if no server binaries are found.
set -euo pipefail

DIR="${SQL_PG_DIR:-/tmp/runtime-sql-pg}"
DATA="$DIR/data"
ENV_FILE="$DIR/env"
LOG="$DIR/server.log"
USER_NAME=runtime_test
DB_NAME=runtime_test

log() { echo "pg-cluster: $*" >&2; }

find_bindir() {
    local d
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ] && [ "$(id -u)" = 0 ] && [ "${1:-}" = start ]; then
    log "no PostgreSQL server binaries found; installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir || true)"
fi

# Runs a command as the server's owner: `postgres` when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -n "$BINDIR" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

print_env() {
    if [ ! -f "$ENV_FILE" ]; then
        log "no cluster under $DIR; run: $0 start"
        return 1
    fi
    cat "$ENV_FILE"
}

free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
    if [ -z "$BINDIR" ]; then
        log "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql"
        exit 1
    fi
    if running; then
        print_env
        return
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    fi
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
    chmod 700 "$DIR"
    if [ -f "$DATA/PG_VERSION" ] && [ -f "$ENV_FILE" ]; then
        log "restarting the existing cluster under $DIR"
        if as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >&2; then
            print_env
            return
        fi
        log "restart failed; creating a new cluster"
    fi
    rm -rf "$DATA" "$ENV_FILE"
    local port password
    port="$(free_port)"
    password="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        exit 1
    }
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 128MB
max_wal_size = 2GB
CONF
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >&2
    as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres -d postgres >&2 <<SQL
CREATE ROLE $USER_NAME LOGIN PASSWORD '$password';
CREATE DATABASE $DB_NAME OWNER $USER_NAME;
SQL
    umask 077
    cat >"$ENV_FILE" <<ENV
export PG_URL='postgresql://$USER_NAME:$password@127.0.0.1:$port/$DB_NAME'
export PG_ADDRESS='127.0.0.1:$port'
ENV
    if [ "$(id -u)" = 0 ]; then chown postgres "$ENV_FILE"; chmod 644 "$ENV_FILE"; fi
    log "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $DATA)"
    print_env
}

stop() {
    if running; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
status) running ;;
*)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
