#!/usr/bin/env bash
# --apple-lock-wait: how long a command waits for its location's lock while another process
# calls Apple for the location (session.c; SQLite: a byte of "<database>-apple.lock",
# PostgreSQL: an advisory lock; pg.integration.test_apple_lock_wait runs this on PostgreSQL).
#
# Process A (the CLI's users create) holds the location's lock through a Retry-After: vppsim
# answers its first users/create 503 with Retry-After 4 s, and A waits that out holding the
# lock (session.h: retries and their backoff included). Meanwhile:
#   B (--apple-lock-wait 0) fails at once, exit 1, saying which location, that another
#     process or instance calls Apple for it, how long it waited and what to do; it sends no
#     users/create;
#   C (--apple-lock-wait 30s) says that it waits, waits, and succeeds once A is done.
# Then serve (--apple-lock-wait 1h) whose API request waits for the lock another process holds
# stops at once on SIGTERM (503, no request sent), not after the wait.
# Bad values of the option are refused, quoting the value and the limits.
. "$(dirname "$0")/lib_apple.sh"
. "$(dirname "$0")/lib_api.sh"

users_creates() { # SINCE: the users/create requests vppsim logged after entry SINCE
    curl -sS "$SIM/_sim/request-log?afterId=$1" |
        jq '[.entries[] | select(.path | endswith("users/create"))] | length'
}
users_creates_at_least() { [ "$(users_creates "$1")" -ge "$2" ]; }
# A is still in its Retry-After wait: its first users/create answered, its second not begun.
a_waits() {
    curl -sS "$SIM/_sim/request-log?afterId=$1" | jq_true '.inFlight == 0 and
        ([.entries[] | select(.path | endswith("users/create"))] | length) == 1' >/dev/null
}
# hold_lock SINCE RETRY_AFTER CLIENT_USER_ID: the CLI's users create in the background (A_PID)
# holds the location's lock through a Retry-After of RETRY_AFTER seconds; returns once it does.
hold_lock() {
    assert_eq "$(ctl POST /_sim/faults \
        "{\"http503\":{\"count\":1,\"retryAfter\":$2,\"path\":\"/mdm/v2/users/create\"}}")" 200 \
        "vppsim answers the next users/create 503 with Retry-After $2 s"
    # (not through vn_cli: $! must be the process itself, not a subshell around it)
    VPPNOTIFY_DB="$VN_DB" "$VPPNOTIFY" users create --uid "$LOC_UID" --client-user-ids "$3" \
        >"$T/a.out" 2>"$T/a.err" &
    A_PID=$!
    VN_PIDS+=("$A_PID")
    wait_for 20 users_creates_at_least "$1" 1 || fail "A's first users/create did not reach vppsim"
    a_waits "$1" || fail "A is not waiting out its Retry-After"
}

for bad in -1s 2h abc; do
    rc=0
    vn_cli users create --uid X --client-user-ids u --apple-lock-wait "$bad" >"$T/o" 2>"$T/e" || rc=$?
    assert_eq "$rc" 2 "--apple-lock-wait $bad is a usage error"
    assert_contains "$T/e" "'--apple-lock-wait' value '$bad'" "the error quotes the value"
    assert_contains "$T/e" "0s..1h" "the error names the limits"
done
ok "--apple-lock-wait -1s, 2h and abc are refused, quoting the value and the limits"

apple_api_start
SINCE=$(sim_log_last_id)
hold_lock "$SINCE" 4 holder

rc=0
vn_cli users create --uid "$LOC_UID" --client-user-ids no-wait --apple-lock-wait 0 \
    >"$T/b.out" 2>"$T/b.err" || rc=$?
a_waits "$SINCE" || fail "A's Retry-After ended before B was done: the test proves nothing"
assert_eq "$rc" 1 "B's exit status (a failure: try again later): $(cat "$T/b.err")"
assert_contains "$T/b.err" "location $LOC_UID: another process or instance is calling Apple for it" \
    "B names the location and why"
assert_contains "$T/b.err" "waited 0s" "B says how long it waited"
assert_contains "$T/b.err" "try again later, or allow a longer wait with --apple-lock-wait" \
    "B says what to do"
assert_eq "$(users_creates "$SINCE")" 1 "B sent no users/create"
ok "with --apple-lock-wait 0 a command fails at once while another process holds the location"

VPPNOTIFY_DB="$VN_DB" "$VPPNOTIFY" users create --uid "$LOC_UID" --client-user-ids waited \
    --apple-lock-wait 30s >"$T/c.out" 2>"$T/c.err" &
C_PID=$!
VN_PIDS+=("$C_PID")
# C's Service Config read (no lock) is logged, then C asks for the lock, which A holds.
wait_for 20 sim_cli_configs_at_least "$SINCE" 3 || fail "C did not read Service Config"
a_waits "$SINCE" || fail "A's Retry-After ended before C asked for the lock: the test proves nothing"
rc=0
wait "$A_PID" || rc=$?
assert_eq "$rc" 0 "A's users create: $(cat "$T/a.err")"
rc=0
wait "$C_PID" || rc=$?
assert_eq "$rc" 0 "C's users create, after waiting for the lock: $(cat "$T/c.err")"
assert_contains "$T/c.err" "location $LOC_UID: another process or instance is calling Apple for it; waiting up to 30s for its lock" \
    "C said why it waited"
# (a forced fault is answered before authentication: its entry has no uId)
curl -sS "$SIM/_sim/request-log?afterId=$SINCE" >"$T/all.json"
assert_json "$T/all.json" '[.entries[] | select(.path | endswith("users/create")) | .status]' \
    '[503,200,200]' "A's 503 and its retry, then C's request"
curl -sS "$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE" >"$T/log.json"
sim_log_one_at_a_time "$T/log.json"
assert_eq "$(ctl POST '/_sim/settle?timeout=30')" 200 "vppsim processed the users' events"
assert_eq "$(curl -sS "$SIM/_sim/state?uId=$LOC_UID" | jq -c '[.users[].clientUserId]')" \
    '["holder","waited"]' "A's user was created, then C's (and none of B's)"
ok "with --apple-lock-wait 30s a command waits for the other process and then succeeds"

vn_serve_start_quiet --apple-lock-wait 1h --shutdown-timeout 1s
SINCE=$(sim_log_last_id)
hold_lock "$SINCE" 60 holder2
api_user_create in-serve >"$T/st.in-serve" &
API_PID=$!
VN_PIDS+=("$API_PID")
wait_for 20 grep -qF "waiting up to 1h for its lock" "$T/serve.log" ||
    fail "serve's API request did not wait for the lock"
kill -TERM "$VN_SERVE_PID"
wait_for 20 bash -c "! kill -0 $VN_SERVE_PID" || fail "serve did not stop while its API request waited for the lock"
a_waits "$SINCE" || fail "A's Retry-After ended before serve stopped: the test proves nothing"
vn_serve_stop
wait "$API_PID" || fail "the API request got no answer"
assert_eq "$(cat "$T/st.in-serve")" 503 "the API request waiting for the lock: $(cat "$T/c.in-serve.json")"
assert_contains "$T/c.in-serve.json" "stopped while waiting for its lock" "the API's answer says why"
assert_eq "$(users_creates "$SINCE")" 1 "serve sent no users/create"
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
ok "serve waiting for a location's lock (--apple-lock-wait 1h) stops at once on SIGTERM"
