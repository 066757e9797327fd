# Helpers of the vppsim integration tests (tests/integration/test_sim_*.sh). Sources lib.sh.
#
#   sim_start [ARGS]        start vppsim on port 0; sets SIM (http://host:port), SIM_API
#                           ($SIM/mdm/v2, what vppnotify's --apple-url takes), SIM_PID
#   sim_stop                SIGTERM, and require exit status 0 (leaks fail under ASan)
#   recv_start [ARGS]       start the scripted receiver vn_recv; sets RECV_URL, RECV_LOG, RECV_PID
#   recv_stop               SIGTERM the receiver, require exit status 0
#   sim_location [JSON]     create a location; sets LOC_UID and STOKEN
#   api METHOD PATH [BODY]  call /mdm/v2 with the sToken; body in $T/resp; prints the status
#   ctl METHOD PATH [BODY]  call the control API; body in $T/ctl; prints the status
#   subscribe [TYPES_JSON]  Client Config POST to $RECV_URL with every type (or TYPES_JSON)
#   settle [SECONDS]        POST /_sim/settle; fails the test on a timeout
#   assert_apple_error STATUS HTTP NUMBER WHAT   the last api answer was that Apple error
#
# Time: every test runs vppsim with --time-scale ${SIM_SCALE:-0.01} (Apple's 1-5 minutes of
# retries become 0.6-3 s) and lifts the rate limit unless it passes its own --limit.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VN_RECV="$VN_TOOLS/vn_recv"
SIM_SCALE=${SIM_SCALE:-0.01}
RECV_TOKEN=${RECV_TOKEN:-recv-secret-token-0123456789}
ALL_TYPES='["ASSET_MANAGEMENT","USER_MANAGEMENT","USER_ASSOCIATED","ASSET_COUNT","SUBSCRIPTION_MANAGEMENT","SUBSCRIPTION_COUNT"]'

sim_start() {
    rm -f "$T/sim.ready"
    "$VPPSIM" serve --listen 127.0.0.1:0 --ready-file "$T/sim.ready" --time-scale "$SIM_SCALE" \
        --limit maxRequestPerSecond=100000 "$@" >>"$T/sim.log" 2>&1 &
    SIM_PID=$!
    VN_PIDS+=("$SIM_PID")
    wait_for 20 test -s "$T/sim.ready" || fail "vppsim did not become ready (see $T/sim.log)"
    SIM="http://$(head -n1 "$T/sim.ready")"
    SIM_API="$SIM/mdm/v2"
}

sim_stop() {
    local rc=0
    kill -TERM "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "vppsim exited with status $rc after SIGTERM (see $T/sim.log)"
}

recv_start() {
    rm -f "$T/recv.ready"
    RECV_LOG="$T/recv.$((${RECV_N:-0} + 1)).jsonl"
    RECV_N=$((${RECV_N:-0} + 1))
    "$VN_RECV" --listen 127.0.0.1:0 --ready-file "$T/recv.ready" --log "$RECV_LOG" \
        --token "$RECV_TOKEN" "$@" >>"$T/recv.log" 2>&1 &
    RECV_PID=$!
    VN_PIDS+=("$RECV_PID")
    wait_for 20 test -s "$T/recv.ready" || fail "vn_recv did not become ready"
    RECV_URL="http://$(head -n1 "$T/recv.ready")/notify"
    touch "$RECV_LOG"
}

recv_stop() {
    local rc=0
    kill -TERM "$RECV_PID" 2>/dev/null || true
    wait "$RECV_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "vn_recv exited with status $rc"
}

ctl() {
    local method=$1 path=$2
    if [ $# -ge 3 ]; then
        curl -sS --max-time 60 -o "$T/ctl" -w '%{http_code}' -X "$method" "$SIM$path" \
            -H 'Content-Type: application/json' --data-binary "$3"
    else
        curl -sS --max-time 60 -o "$T/ctl" -w '%{http_code}' -X "$method" "$SIM$path"
    fi
}

api() {
    local method=$1 path=$2
    if [ $# -ge 3 ]; then
        curl -sS --max-time 30 -o "$T/resp" -w '%{http_code}' -X "$method" "$SIM/mdm/v2$path" \
            -H "Authorization: Bearer $STOKEN" -H 'Content-Type: application/json' \
            --data-binary "$3"
    else
        curl -sS --max-time 30 -o "$T/resp" -w '%{http_code}' -X "$method" "$SIM/mdm/v2$path" \
            -H "Authorization: Bearer $STOKEN"
    fi
}

sim_location() {
    local st
    st=$(ctl POST /_sim/locations "${1:-{\}}")
    [ "$st" = 200 ] || fail "cannot create a location: $st $(cat "$T/ctl")"
    LOC_UID=$(jq -r .uId "$T/ctl")
    STOKEN=$(jq -r .sToken "$T/ctl")
}

subscribe() {
    local st
    st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\",\"notificationTypes\":${1:-$ALL_TYPES}}")
    [ "$st" = 200 ] || fail "client config failed: $st $(cat "$T/resp")"
}

settle() {
    local st
    st=$(ctl POST "/_sim/settle?timeout=${1:-30}")
    [ "$st" = 200 ] || fail "vppsim did not settle: $st $(cat "$T/ctl")"
}

assert_apple_error() {
    assert_eq "$1" "$2" "$4: HTTP status (body $(head -c 200 "$T/resp"))"
    assert_json "$T/resp" .errorNumber "$3" "$4: errorNumber"
}

# recv_count JQ_FILTER: number of logged requests matching a jq select expression.
recv_count() {
    jq -c "select($1)" "$RECV_LOG" | wc -l | tr -d ' '
}
