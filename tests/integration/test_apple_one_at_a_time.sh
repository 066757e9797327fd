#!/usr/bin/env bash
# On SQLite, the CLI beside serve: Apple never sees two requests of one location at once. The
# store's mutex there is a lock on one byte of "<database>-apple.lock" (sqlite/mutex.c), held
# by the handle that calls, so serve's API and the CLI take turns. vppsim holds every answer
# 1 s; the CLI's users create and serve's API users/create start together, twice; vppsim's
# request log shows no two requests of the location overlapping (without the lock: two pairs).
. "$(dirname "$0")/lib_apple.sh"
. "$(dirname "$0")/lib_api.sh"

apple_api_start
vn_serve_start_quiet
api_user_create warm >/dev/null # serve and the CLI learn Service Config before requests are slowed down
vn_cli users create --uid "$LOC_UID" --client-user-ids warm-cli >/dev/null 2>&1 || fail "users create"
SINCE=$(sim_log_last_id)
assert_eq "$(ctl POST /_sim/faults '{"latencyMs":1000}')" 200 "vppsim holds every answer 1 s"
# The CLI's Service Config comes first (no location: no fence); the API's request is sent the
# moment it is answered, so that the two requests of the location start together.
for round in 1 2; do
    vn_cli users create --uid "$LOC_UID" --client-user-ids "cli-$round" >"$T/cli.$round" \
        2>"$T/cli.$round.err" &
    cli=$!
    wait_for 10 sim_cli_configs_at_least "$SINCE" "$round" || fail "the CLI did not read Service Config"
    api_user_create "api-$round" >"$T/st.api-$round"
    wait "$cli" || fail "the CLI's users create: $(cat "$T/cli.$round.err")"
    assert_eq "$(cat "$T/st.api-$round")" 200 "users/create through the API beside the CLI"
done
curl -sS "$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE" >"$T/log.json"
assert_json "$T/log.json" '[.entries[] | select(.path | endswith("users/create"))] | length' 4 \
    "every users/create reached vppsim"
sim_log_one_at_a_time "$T/log.json"
ok "$(jq '.entries | length' "$T/log.json") requests of the location from serve and the CLI, one at a time"
vn_serve_stop
