# Shared helpers of the integration tests: start the real binaries on 127.0.0.1, drive them
# with curl, assert what a user would observe. Sourced by tests/integration/test_*.sh, which
# CTest runs with VN_BUILD_DIR, VN_SOURCE_DIR and VN_FIXTURES set (tests/CMakeLists.txt).
#
# Conventions: every test works in its own temporary directory ($T), binds port 0 and reads
# the real address from --ready-file, so tests run in parallel. A daemon that exits non-zero
# at the end (a sanitizer report, a leak) fails the test.

set -euo pipefail

: "${VN_BUILD_DIR:?run through ctest, or set VN_BUILD_DIR}"
: "${VN_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${VN_FIXTURES:=$VN_SOURCE_DIR/tests/fixtures}"

VPPNOTIFY="$VN_BUILD_DIR/src/cli/vppnotify"
VPPSIM="$VN_BUILD_DIR/sim/vppsim"
VN_TOOLS="$VN_BUILD_DIR/tests"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=66}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=67}"

T=$(mktemp -d "${TMPDIR:-/tmp}/vn-it.XXXXXX")
# Under CTest's pg.integration.* tests VN_TEST_PG is a PostgreSQL store URL (tests/pg/): the
# test's database is then a schema of its own in that cluster instead of $T/vn.db.
# The sToken key is then a file of the test's own (with SQLite it lies beside the database).
if [ -n "${VN_TEST_PG:-}" ] && [ -z "${VN_DB:-}" ]; then
    VN_DB="$VN_TEST_PG&schema=it$$_$(basename "$T" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
    export VPPNOTIFY_KEY_FILE="${VPPNOTIFY_KEY_FILE:-$T/vn.key}"
fi
VN_DB=${VN_DB:-$T/vn.db} # the test's store (a test may point it elsewhere before using it)
VN_PIDS=()
VN_FAILED=0
VN_TEST_NAME=$(basename "$0" .sh)

vn_cleanup() {
    local rc=$?
    for pid in "${VN_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] || [ "$VN_FAILED" -ne 0 ]; then
        echo "# $VN_TEST_NAME failed; logs in $T:" >&2
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "# ---- $f (last 40 lines)" >&2
            tail -n 40 "$f" >&2
        done
    else
        rm -rf "$T"
    fi
}
trap vn_cleanup EXIT

fail() {
    echo "not ok - $*" >&2
    VN_FAILED=1
    exit 1
}

ok() {
    echo "ok - $*"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
    if [ "$1" != "$2" ]; then
        fail "$3: expected '$2', got '$1'"
    fi
}

# assert_json FILE JQ_EXPR EXPECTED [WHAT]: jq -c of the expression must equal EXPECTED.
assert_json() {
    local got
    got=$(jq -c "$2" "$1") || fail "${4:-$2}: jq failed on $1: $(head -c 300 "$1")"
    if [ "$got" != "$3" ]; then
        fail "${4:-$2}: expected $3, got $got (file $1)"
    fi
}

# assert_contains FILE TEXT WHAT
assert_contains() {
    grep -qF -- "$2" "$1" || fail "$3: '$2' not found in $1"
}

assert_not_contains() {
    if grep -qF -- "$2" "$1"; then
        fail "$3: '$2' found in $1"
    fi
}

# wait_for SECONDS COMMAND...: poll until the command succeeds.
# jq_true [JQ ARGS...]: what `jq -e` should be: true when jq printed something and its last
# value is neither false nor null. jq 1.6 (Debian 12) exits 0 with -e when no input came, so
# `cmd | jq -e FILTER` passed when cmd printed nothing. Exported for `bash -c` strings.
jq_true() {
    local out
    out=$(jq -c "$@") || return 1
    [ -n "$out" ] || return 1
    out=${out##*$'\n'}
    [ "$out" != false ] && [ "$out" != null ]
}
export -f jq_true

wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.05
    done
}

# lines_at_least FILE N: true once FILE exists with at least N lines (for wait_for).
lines_at_least() {
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# db_lock [DB]: another process holds the database's write lock until db_unlock; returns once
# the lock is held. SQLite: sqlite3 holds an exclusive lock. PostgreSQL: psql holds the writer
# lock of the test's schema (the advisory lock of src/lib/store/pg/handle.c, VN_PG_LOCK_WRITER).
# Either reads its commands from a FIFO this shell keeps open (fd 9), so it also ends, rolling
# back, when the test exits early.
VN_PG_LOCK_WRITER=1986950002

# pg_own_cluster: a PostgreSQL cluster of the test's own (tests/pg/cluster.sh, $CLUSTER) in
# $PG, removed at exit, for tests that stop or crash it without disturbing the others; sets
# VN_DB to it (busy_timeout 1 s). Not in $T: the server's user must reach the directory.
pg_own_cluster() {
    PG=$(mktemp -d "${TMPDIR:-/tmp}/vn-pg.XXXXXX")
    VN_DB="$(bash "$CLUSTER" start "$PG")&busy_timeout=1s"
    trap 'bash "$CLUSTER" stop "$PG" >/dev/null 2>&1 || true; vn_cleanup' EXIT
}
db_lock() {
    local db=${1:-${VN_DB:-$T/vn.db}}
    rm -f "$T/db_lock.fifo"
    mkfifo "$T/db_lock.fifo"
    exec 9<>"$T/db_lock.fifo"
    VN_LOCK_DB=$db
    case $db in
    postgres*)
        local conn=${db%%&schema=*} schema=${db##*&schema=}
        local held="SELECT NOT pg_try_advisory_xact_lock($VN_PG_LOCK_WRITER, hashtext(coalesce(current_schema(), '')))"
        psql -qX "$conn" <"$T/db_lock.fifo" >/dev/null &
        VN_LOCK_PID=$!
        VN_PIDS+=("$VN_LOCK_PID")
        printf '%s\n' "SET search_path = $schema;" 'BEGIN;' \
            "SELECT pg_advisory_xact_lock($VN_PG_LOCK_WRITER, hashtext(coalesce(current_schema(), '')));" >&9
        wait_for 10 bash -c "psql -qtAX '$conn' -c 'SET search_path = $schema' -c \"$held\" | grep -qx t" ||
            fail "the test could not lock the database $db"
        ;;
    *)
        sqlite3 "$db" <"$T/db_lock.fifo" >/dev/null &
        VN_LOCK_PID=$!
        VN_PIDS+=("$VN_LOCK_PID")
        # With a busy timeout: without one, BEGIN EXCLUSIVE fails at once ("database is
        # locked") when it meets one of serve's own transactions, and the lock is never held.
        printf '.timeout 5000\nBEGIN EXCLUSIVE;\n' >&9
        wait_for 10 bash -c "! sqlite3 '$db' 'BEGIN IMMEDIATE; ROLLBACK;'" ||
            fail "the test could not lock the database $db"
        ;;
    esac
}
db_unlock() {
    case $VN_LOCK_DB in
    postgres*) printf 'COMMIT;\n\\q\n' >&9 ;;
    *) printf 'COMMIT;\n.quit\n' >&9 ;;
    esac
    wait "$VN_LOCK_PID"
    exec 9>&-
}

# db_sql SQL: run SQL on the test's store, whichever it is ($VN_DB: an SQLite file, or the test's
# schema of a PostgreSQL cluster); prints the rows, columns separated by '|'. For what no
# command can do (a state left by a crash); the SQL must suit the backend it runs on.
db_sql() {
    local db=${VN_DB:-$T/vn.db}
    case $db in
    postgres*)
        psql -qtAX -v ON_ERROR_STOP=1 "${db%%&schema=*}" -c "SET search_path = ${db##*&schema=}" \
            -c "$1"
        ;;
    *) sqlite3 "$db" "$1" ;;
    esac
}

# Start `vppnotify serve` in the background. Sets VN_URL (http://127.0.0.1:PORT), VN_SERVE_PID
# and, when the integration API listens (it does, on port 0, unless the test says
# --api-listen off), VN_API_URL from the ready file's second line.
# Extra arguments go to serve, after those of $VN_SERVE_ARGS (words; set by a test's second
# run in tests/CMakeLists.txt, e.g. "--event-loop epoll"). The database defaults to $T/vn.db;
# logs go to $T/serve.log.
vn_serve_start() {
    local extra=()
    [ -z "${VN_SERVE_ARGS:-}" ] || read -ra extra <<<"$VN_SERVE_ARGS"
    rm -f "$T/ready"
    "$VPPNOTIFY" serve --db "${VN_DB:-$T/vn.db}" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready" "${extra[@]}" "$@" >>"$T/serve.log" 2>&1 &
    VN_SERVE_PID=$!
    VN_PIDS+=("$VN_SERVE_PID")
    if ! wait_for 20 test -s "$T/ready"; then
        fail "vppnotify serve did not become ready (see $T/serve.log)"
    fi
    if [ -n "${VN_EVENT_LOOP:-}" ] && ! grep -q "event loop $VN_EVENT_LOOP," "$T/serve.log"; then
        fail "serve does not say it runs the $VN_EVENT_LOOP event loop (see $T/serve.log)"
    fi
    VN_ADDR=$(head -n1 "$T/ready")
    VN_URL="${VN_SCHEME:-http}://$VN_ADDR"
    VN_API_ADDR=$(sed -n 2p "$T/ready")
    VN_API_URL="${VN_API_SCHEME:-http}://$VN_API_ADDR"
    case "${VN_DB:-}" in
    postgres*)
        grep -q "store: postgresql " "$T/serve.log" ||
            fail "serve was given PostgreSQL but does not say it runs on it (see $T/serve.log)"
        ;;
    esac
}

# vn_api KEY METHOD PATH [CURL ARGS...]: call the integration API; prints the status, the
# body is saved in $T/api.json.
vn_api() {
    local key=$1 method=$2 path=$3
    shift 3
    curl -sS -o "$T/api.json" -w '%{http_code}' -X "$method" "$VN_API_URL$path" \
        ${key:+-H "Authorization: Bearer $key"} "$@"
}

# Stop serve with SIGTERM and require a clean exit (0): leaks and sanitizer reports fail.
vn_serve_stop() {
    local rc=0
    kill -TERM "$VN_SERVE_PID" 2>/dev/null || true
    wait "$VN_SERVE_PID" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "vppnotify serve exited with status $rc after SIGTERM (see $T/serve.log)"
    fi
}

# vn_cli ARGS...: run a store-touching vppnotify command against the test database.
vn_cli() {
    VPPNOTIFY_DB="${VN_DB:-$T/vn.db}" "$VPPNOTIFY" "$@"
}

# vn_post FILE TOKEN [CURL ARGS...]: POST a body; prints the status; body saved in $T/resp.
vn_post() {
    local file=$1 token=$2
    shift 2
    curl -sS -o "$T/resp" -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
        --data-binary "@$file" "$@"
}

# vn_new_location UID NAME: create a location with a token file; prints the token file path.
vn_new_location() {
    local uid=$1 name=${2:-test} tf="$T/token.$1"
    (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$tf")
    vn_cli location add --uid "$uid" --name "$name" --token-file "$tf" >/dev/null 2>&1
    echo "$tf"
}

# ---- notification bodies -------------------------------------------------------------------

# body_asset_count ID UID ADAMID DELTA
body_asset_count() {
    printf '{"notificationId":"%s","notificationType":"ASSET_COUNT","uId":"%s","notification":{"adamId":"%s","pricingParam":"STDQ","countDelta":%s}}' \
        "$1" "$2" "$3" "$4"
}

# body_associate ID UID EVENTID ADAMID SERIAL...: ASSET_MANAGEMENT ASSOCIATE SUCCESS for serials
body_associate() {
    local id=$1 uid=$2 ev=$3 adam=$4 sep="" items=""
    shift 4
    for s in "$@"; do
        items+="$sep{\"adamId\":\"$adam\",\"pricingParam\":\"STDQ\",\"serialNumber\":\"$s\"}"
        sep=","
    done
    printf '{"notificationId":"%s","notificationType":"ASSET_MANAGEMENT","uId":"%s","notification":{"type":"ASSOCIATE","result":"SUCCESS","eventId":"%s","assignments":[%s]}}' \
        "$id" "$uid" "$ev" "$items"
}

# body_test ID UID
body_test() {
    printf '{"notificationId":"%s","notificationType":"TEST_NOTIFICATION","uId":"%s","notification":{}}' "$1" "$2"
}

# cfg_add CFG URL BODYFILE TOKEN OUTPUT WRITEOUT: append one POST to a curl -K config for
# `curl --parallel -K CFG` (each transfer is its own operation, separated by "next").
cfg_add() {
    [ -s "$1" ] && echo "next" >>"$1"
    cat >>"$1" <<CFG
url = "$2"
data-binary = "@$3"
header = "Content-Type: application/json"
header = "Authorization: Bearer $4"
output = "$5"
write-out = "$6\\n"
CFG
}
