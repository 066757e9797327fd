# shellcheck shell=bash
# lib_fleet.sh - several serve instances on one PostgreSQL schema, for the lease tests
# (test_pg_lease*.sh). Sourced after lib_apple.sh; needs LOC_UID (apple_location) and TTL_MS.
#
# fleet_serve N [SERVE OPTION...]   start instance N on $VN_DB with a lease of TTL_MS, the
#                                   public and API listeners on port 0, debug logging to
#                                   $T/serve.N.log; sets PID[N], IID[N] (the instance id its
#                                   User-Agent carries) and API[N] (the API's base URL)
# fleet_holders                     the instances whose log says they took LOC_UID's lease
# fleet_requests_by ID              the location's requests in vppsim's log ($LOG_URL) that
#                                   carry instance ID in their User-Agent
# fleet_has_requests ID N           more than N of them (for wait_for)
# fleet_stop N...                   SIGTERM to each instance N; each must exit 0
declare -a PID IID API

fleet_serve() {
    local n=$1
    shift
    "$VPPNOTIFY" serve --db "$VN_DB" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$n" --lease-ttl "${TTL_MS}ms" --apple-timeout 900ms \
        --sync-full-interval 1h --sync-delta-interval 1s --log-level debug "$@" \
        >>"$T/serve.$n.log" 2>&1 &
    PID[n]=$!
    VN_PIDS+=("${PID[n]}")
    wait_for 20 test -s "$T/ready.$n" || fail "instance $n did not become ready (see $T/serve.$n.log)"
    # "leases: instance HOST:PID:ID, ...": ID is what the User-Agent carries.
    wait_for 10 grep -q "leases: instance " "$T/serve.$n.log" || fail "instance $n names no lease holder"
    IID[n]=$(grep -m1 "leases: instance " "$T/serve.$n.log" |
        sed -n 's/.*leases: instance [^ ]*:\([0-9a-f]\{12\}\),.*/\1/p')
    [ -n "${IID[n]}" ] || fail "instance $n: no instance id in its log"
    wait_for 10 sh -c "[ \$(wc -l <'$T/ready.$n') -ge 2 ]" || fail "instance $n: no API address"
    API[n]="http://$(sed -n 2p "$T/ready.$n")"
}

fleet_holders() {
    local n
    for n in "${!PID[@]}"; do
        if grep -q "lease taken.*uId=$LOC_UID" "$T/serve.$n.log"; then echo "$n"; fi
    done
}

fleet_requests_by() {
    curl -sS "$LOG_URL" | jq --arg id "(instance $1)" '[.entries[] | select(.userAgent | endswith($id))] | length'
}

fleet_has_requests() { [ "$(fleet_requests_by "$1")" -gt "$2" ]; }

fleet_stop() {
    local n rc
    for n in "$@"; do
        kill -TERM "${PID[n]}"
        rc=0
        wait "${PID[n]}" || rc=$?
        [ "$rc" -eq 0 ] || fail "instance $n exited with $rc after SIGTERM (see $T/serve.$n.log)"
    done
}
