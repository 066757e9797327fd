#!/usr/bin/env bash
# Issue 13, "Apple never sees two processes' requests for one location at once", when the
# database connection of the process whose request is in flight breaks. Its lock in the
# database (a session advisory lock, store.h vn_store_mutex_lock) ends with the connection, so
# the next caller gets the lock at once; the request's fence (session.c: a lease row written
# before each attempt, given up after the answer) keeps that caller waiting until the request
# in flight has been answered.
#
# Process A (the CLI's users create) has its request held 5 s by vppsim; while it is in flight
# PostgreSQL is stopped the hard way and started again; then serve's API (process B, whose
# Service Config is already known, so its first request is the location's) asks for the same
# location. vppsim's request log must show no two requests of the location overlapping.
# Without the fence, B's request starts while A's is still held (checked when it was written).
source "$(dirname "$0")/../integration/lib_apple.sh"
source "$(dirname "$0")/../integration/lib_api.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
CLUSTER=${VN_PG_CLUSTER:-$(dirname "$0")/cluster.sh}

pg_own_cluster

apple_api_start
# No scheduled Apple work during the test: the location synced just now (serve's first sync
# would be due at once otherwise), no Event Status polls (no subscription: its events complete
# only by polling).
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/sync.err" || fail "first sync: $(cat "$T/sync.err")"
vn_serve_start_quiet --apple-timeout 10s

# serve learns Service Config before requests are slowed down.
assert_eq "$(api_user_create warm)" 200 "users/create through the API"
SINCE=$(sim_log_last_id)
assert_eq "$(ctl POST /_sim/faults '{"latencyMs":5000}')" 200 "vppsim holds every answer 5 s"

# A: the CLI. Its Service Config first (no lock: no location), then the location's request.
vn_cli users create --uid "$LOC_UID" --client-user-ids cli-a >"$T/a.out" 2>"$T/a.err" &
A_PID=$!
VN_PIDS+=("$A_PID")
wait_for 20 sim_cli_configs_at_least "$SINCE" 1 || fail "the CLI did not read Service Config"
wait_for 10 sim_in_flight || fail "the CLI's request of the location is not in flight"

# The database goes away and comes back while A's request is held.
bash "$CLUSTER" kill "$PG"
bash "$CLUSTER" restart "$PG"
sim_in_flight || fail "A's request ended before the database was back: the test proves nothing; slower vppsim needed"
# vppsim fixes a request's hold when it arrives: A's stays held its 5 s, B's is answered at once
# (the proof is the order in the request log below, not B's own wait).
assert_eq "$(ctl POST /_sim/faults '{"latencyMs":0}')" 200 "later answers not held"

# B: serve's API, for the same location, while A's request may still be in flight: answered at
# the first try (its reads find the connection the restart broke and reconnect: pg/exec.c).
assert_eq "$(api_user_create during)" 200 \
    "users/create through the API after the restart: $(cat "$T/c.during.json" 2>/dev/null)"
rc=0
wait "$A_PID" || rc=$?
assert_eq "$rc" 0 "the CLI's users create succeeded: $(cat "$T/a.err")"
assert_contains "$T/a.err" "lock in the database ended during a request" \
    "the CLI's lock ended with its connection while its request was in flight"

curl -sS "$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE" >"$T/log.json"
assert_json "$T/log.json" '.dropped' 0 "the request log kept every request"
assert_json "$T/log.json" '[.entries[] | select(.path | endswith("users/create"))] | length' 2 \
    "both processes' users/create reached vppsim"
sim_log_one_at_a_time "$T/log.json"
ok "$(jq '.entries | length' "$T/log.json") requests of the location, one at a time, across a database restart"
vn_serve_stop
