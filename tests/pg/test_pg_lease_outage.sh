#!/usr/bin/env bash
# Issue 13: the database unavailable for longer than half a lease while the holder works.
# The holder stops acting for the location (no request of the location starts later than
# ttl / 2 after the database went away: every request needs the location's lock in the
# database, session.h), the non-holders' API answers 503 without calling Apple, and once the
# database is back the fleet resumes without restarting serve: scheduled syncs reach vppsim
# again, the API answers 200, and still no two requests of the location overlap.
#
# Three serve instances, their own PostgreSQL cluster (restarting it disturbs no other test),
# vppsim holding every answer 100 ms (--fault-latency), a delta sync every second, a 2 s lease.
# vppsim's clock for "when the database went away / came back": an unauthenticated request
# (Service Config) sent right after, whose request-log entry has startMs on that clock.
source "$(dirname "$0")/../integration/lib_apple.sh"
source "$(dirname "$0")/../integration/lib_api.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
CLUSTER=${VN_PG_CLUSTER:-$(dirname "$0")/cluster.sh}
TTL_MS=2000

pg_own_cluster

apple_api_start --fault-latency 100ms
SINCE=$(sim_log_last_id)
LOG_URL="$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE"

source "$(dirname "$0")/lib_fleet.sh"
for n in 1 2 3; do fleet_serve $n; done
wait_for 10 sh -c "[ -n \"\$(grep -l 'lease taken.*uId=$LOC_UID' '$T'/serve.*.log)\" ]" ||
    fail "no instance took the lease of $LOC_UID"
A=$(fleet_holders)
[ "$(echo "$A" | wc -l)" -eq 1 ] || fail "more than one instance took the lease: $(echo "$A" | tr '\n' ' ')"
B= # a non-holder (no pipe into head: with pipefail its early exit could fail the script)
for n in 1 2 3; do if [ "$n" != "$A" ] && [ -z "$B" ]; then B=$n; fi; done
count_after() { # MS: requests of the location vppsim logged that started after MS
    curl -sS "$LOG_URL" | jq --argjson t "$1" '[.entries[] | select(.startMs > $t)] | length'
}
started_after() { [ "$(count_after "$1")" -gt "$2" ]; }
wait_for 15 started_after 0 2 || fail "instance $A (the holder) made no scheduled sync"
ok "instance $A holds the lease and syncs the location every second"

# sim_now: vppsim's clock now (ms), from the entry of an unauthenticated request.
sim_now() {
    curl -sS -o /dev/null "$SIM/mdm/v2/service/config"
    curl -sS "$SIM/_sim/request-log?afterId=$SINCE" |
        jq '[.entries[] | select(.path | startswith("/mdm/v2/service/config"))] | last | .startMs'
}
create() { # N TAG: POST users/create to instance N; prints the status, the answer in $T/c.TAG.json
    curl -sS -o "$T/c.$2.json" -w '%{http_code}' --max-time 30 -X POST \
        "${API[$1]}/v1/locations/$LOC_UID/users/create" -H "Authorization: Bearer $MANAGE_KEY" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"users\":[{\"clientUserId\":\"$2\",\"email\":\"$2@example.com\"}]}" || true
}

# 1. The database goes away while the holder syncs, for longer than the lease (the outage is
#    the stimulus: it lasts until every instance has failed to renew, and at least ttl).
bash "$CLUSTER" kill "$PG"
down=$(sim_now)
start=$SECONDS
renew_failed() {
    for n in 1 2 3; do grep -qE "cannot renew it|cannot list the location keys" "$T/serve.$n.log" || return 1; done
}
wait_for 20 renew_failed || fail "an instance did not notice the database went away"
st=$(create "$B" outage)
assert_eq "$st" 503 "users/create through instance $B while the database is down"
outage_long() { [ $((SECONDS - start)) -ge $((TTL_MS / 1000 + 1)) ]; }
wait_for 10 outage_long || fail "the outage did not last $((TTL_MS / 1000 + 1)) s"
up=$(sim_now)
late=$(curl -sS "$LOG_URL" | jq --argjson d "$down" --argjson h $((TTL_MS / 2)) --argjson u "$up" \
    '[.entries[] | select(.startMs > $d + $h and .startMs < $u)] | length')
assert_eq "$late" 0 "requests of the location started later than ttl/2 into the outage"
ok "database down $(jq -n "$up - $down | floor") ms: no request of the location after ttl/2, the API answered 503"

# 2. The database is back: the fleet resumes without restarting serve.
bash "$CLUSTER" restart "$PG"
wait_for 20 started_after "$up" 1 || fail "no scheduled sync reached vppsim after the database came back"
api_ok() { [ "$(create "$B" "back-$SECONDS")" = 200 ]; }
wait_for 20 api_ok || fail "instance $B's API did not come back: $(cat "$T"/c.back-*.json | tail -c 300)"
for n in 1 2 3; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail "instance $n exited during the outage (see $T/serve.$n.log)"
done
# An outage is one warning per thread, not one per tick (the sync thread polls every 100 ms).
for n in 1 2 3; do
    lines=$(grep -c "sync: cannot list the locations" "$T/serve.$n.log" || true)
    [ "$lines" -le 2 ] || fail "instance $n logged the sync's failure $lines times in one outage"
done
ok "after the restart: scheduled syncs again, users/create through instance $B answered 200"

# 3. Never two requests of the location at once, before, during or after the outage.
curl -sS "$LOG_URL" >"$T/log.json"
assert_json "$T/log.json" '.dropped' 0 "the request log kept every request"
sim_log_one_at_a_time "$T/log.json"
ok "$(jq '.entries | length' "$T/log.json") requests of the location, one at a time"

fleet_stop 1 2 3
sim_stop
