#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (contract section 9: nothing outside the
# machine): Debian's postgresql package, initdb as an unprivileged user (postgres when run as
# root), a Unix socket in the cluster's own directory and no TCP port, removed afterwards.
#
#   tests/pg/cluster.sh start DIR     create and start a cluster in DIR (a leftover one is
#                                     removed first); prints the store URL of database 'vn'
#   tests/pg/cluster.sh url DIR       the store URL again
#   tests/pg/cluster.sh stop DIR      stop it (immediate) and remove DIR
#   tests/pg/cluster.sh kill DIR      stop it the hard way (immediate), keep DIR
#   tests/pg/cluster.sh restart DIR   start it again after kill (same socket, same data)
#   tests/pg/cluster.sh bounce DIR    restart it with a fast shutdown (pg_ctl restart -m fast)
#   tests/pg/cluster.sh psql DIR ...  psql on the database 'vn'
#
# Durability is as in production: fsync=on, synchronous_commit=on (never relaxed).
set -euo pipefail

cmd=${1:?usage: cluster.sh start|url|stop|kill|restart|bounce|psql DIR}
dir=${2:?usage: cluster.sh $cmd DIR}
shift 2

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || {
    echo "cluster.sh: no PostgreSQL server found (scripts/deps.sh test installs it)" >&2
    exit 1
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    echo "postgresql://vn@/vn?host=$dir/sock"
}

pg_start() {
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

case "$cmd" in
start)
    if [ -e "$dir" ]; then # left over by an interrupted run: ours to remove
        [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    mkdir -p "$dir/sock"
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U vn --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/sock'
unix_socket_permissions = 0777
port = 5432
max_connections = 200
shared_buffers = 64MB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
    pg_start
    as_owner "$bindir/createdb" -h "$dir/sock" -U vn vn
    url
    ;;
url) url ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
kill) as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null ;;
restart) pg_start ;;
bounce)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart \
        >/dev/null
    ;;
psql) "$bindir/psql" -X -q -h "$dir/sock" -U vn -d vn "$@" ;;
*) echo "cluster.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
