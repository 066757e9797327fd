#!/usr/bin/env bash
# On SQLite, a process killed while its request to Apple is in flight: Apple still answers that
# request, so the next caller for the location must wait for it. The process's lock on the
# location (a byte of "<database>-apple.lock") ends with it; the request's fence (a record in
# the same file, sqlite/mutex.c, written before each attempt for --apple-timeout + 2 s) does
# not, and keeps serve's API waiting until it expires.
#
# The CLI's users create is held 5 s by vppsim and killed with SIGKILL while in flight; then
# serve's API asks for the same location (its own request not held). vppsim's request log must show no two requests of the
# location overlapping (without the fence, the API's request starts at once, beside the dead
# process's).
. "$(dirname "$0")/lib_apple.sh"
. "$(dirname "$0")/lib_api.sh"

apple_api_start
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/sync.err" || fail "first sync: $(cat "$T/sync.err")"
vn_serve_start_quiet
assert_eq "$(api_user_create warm)" 200 "users/create through the API" # serve learns Service Config
SINCE=$(sim_log_last_id)
assert_eq "$(ctl POST /_sim/faults '{"latencyMs":5000}')" 200 "vppsim holds every answer 5 s"

# The CLI: its Service Config first (no location: no fence), then the location's request.
# (not through vn_cli: $! must be the process itself, not a subshell around it)
VPPNOTIFY_DB="$T/vn.db" "$VPPNOTIFY" users create --uid "$LOC_UID" --client-user-ids cli-killed \
    --apple-timeout 6s >"$T/a.out" 2>"$T/a.err" &
A_PID=$!
VN_PIDS+=("$A_PID")
wait_for 30 sim_cli_configs_at_least "$SINCE" 1 || fail "the CLI did not read Service Config"
wait_for 10 sim_in_flight || fail "the CLI's request of the location is not in flight"
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
# vppsim fixes a request's hold when it arrives: the killed request stays held its 5 s, and the
# API's request, once the fence lets it go, is answered at once (the proof is the order in the
# request log below, not the API's own wait).
assert_eq "$(ctl POST /_sim/faults '{"latencyMs":0}')" 200 "later answers not held"

assert_eq "$(api_user_create after-kill)" 200 "users/create through the API after the CLI was killed"
curl -sS "$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE" >"$T/log.json"
assert_json "$T/log.json" '.dropped' 0 "the request log kept every request"
assert_json "$T/log.json" '[.entries[] | select(.path | endswith("users/create"))] | length' 2 \
    "the killed process's and the API's users/create reached vppsim"
sim_log_one_at_a_time "$T/log.json"
ok "$(jq '.entries | length' "$T/log.json") requests of the location, one at a time, across a kill -9"
vn_serve_stop
