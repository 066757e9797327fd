#!/usr/bin/env bash
# Issue 13, "Apple never sees two instances' requests for one location at once", for every
# request of a location, not only the lease holder's tracker and syncs: the manage routes of
# the instances that do NOT hold the lease (behind a load balancer any instance gets them, and
# none refuses) and the CLI's requests (`users create`, `sync`), made while the holder's
# scheduled syncs and tracker talk to Apple for the same location.
#
# Three serve instances on one PostgreSQL database (a schema of the shared test cluster), one
# vppsim location, a delta sync every second, and vppsim holding every answer 150 ms
# (--fault-latency), so that requests overlap in time unless something serialises them.
# Observed from outside: vppsim's request log (startMs/endMs per request, the User-Agent that
# names each serve instance; the CLI's names none) and the API's answers.
#
# Without the per-location lock (session.h, store.h vn_store_mutex_lock) this test fails:
# vppsim logs overlapping requests from two processes (maxConcurrent 2 or more).
. "$(dirname "$0")/../integration/lib_apple.sh"
. "$(dirname "$0")/../integration/lib_api.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
TTL_MS=2000

apple_api_start --fault-latency 150ms # an sToken, no subscription: Apple sends no notification
# What the CLI asked vppsim so far is before the test's window.
SINCE=$(curl -sS "$SIM/_sim/request-log?uId=$LOC_UID" | jq '[.entries[].id] | max // 0')
LOG_URL="$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE"

source "$(dirname "$0")/lib_fleet.sh"
for n in 1 2 3; do fleet_serve $n --event-quiet 1s --event-poll-interval 1s; done
wait_for 10 sh -c "[ -n \"\$(grep -l 'lease taken.*uId=$LOC_UID' '$T'/serve.*.log)\" ]" ||
    fail "no instance took the lease of $LOC_UID"
[ "$(fleet_holders | wc -l)" -eq 1 ] || fail "more than one instance took the lease: $(fleet_holders | tr '\n' ' ')"
A=$(fleet_holders)
wait_for 15 fleet_has_requests "${IID[$A]}" 1 || fail "instance $A (the holder) made no scheduled sync"
ok "instance $A holds the lease and syncs the location every second"

# 1. While the holder syncs: users/create through the API of both other instances, 4 rounds
#    of two at once, and the CLI's users create and sync beside them.
cli_work() {
    vn_cli users create --uid "$LOC_UID" --client-user-ids cli-u1,cli-u2 >"$T/cli.create" \
        2>"$T/cli.create.err" || echo "users create: $(cat "$T/cli.create.err")" >>"$T/cli.fail"
    vn_cli sync --uid "$LOC_UID" >"$T/cli.sync" 2>"$T/cli.sync.err" ||
        echo "sync: $(cat "$T/cli.sync.err")" >>"$T/cli.fail"
}
: >"$T/cli.fail"
cli_work &
cli=$!
others=$(for n in 1 2 3; do if [ "$n" != "$A" ]; then echo "$n"; fi; done)
tags=()
for round in 1 2 3 4; do
    pids=()
    for n in $others; do
        tag="api-$n-$round"
        tags+=("$tag")
        api_user_create "$tag" "${API[$n]}" >"$T/st.$tag" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
done
wait "$cli" || true
[ ! -s "$T/cli.fail" ] || fail "the CLI's requests failed: $(cat "$T/cli.fail")"
for tag in "${tags[@]}"; do
    assert_eq "$(cat "$T/st.$tag")" 200 "users/create $tag through a non-holder's API"
    assert_json "$T/c.$tag.json" '.events | length' 1 "$tag: one event sent"
done
ok "${#tags[@]} users/create through the two non-holders' API (200 each) and the CLI's users create and sync"

# 2. What vppsim saw: every process called Apple for the location (each instance's id, and
#    the CLI without one), and never two requests of the location at once.
wait_for 15 fleet_has_requests "${IID[$A]}" 4 || fail "the holder stopped syncing"
curl -sS "$LOG_URL" >"$T/log.json"
assert_json "$T/log.json" '.dropped' 0 "the request log kept every request"
for n in 1 2 3; do
    [ "$(jq --arg id "(instance ${IID[$n]})" '[.entries[] | select(.userAgent | endswith($id))] | length' \
        "$T/log.json")" -gt 0 ] || fail "instance $n made no request for the location"
done
[ "$(jq '[.entries[] | select(.userAgent | test("\\(instance ") | not)] | length' "$T/log.json")" -gt 0 ] ||
    fail "the CLI made no request for the location"
sim_log_one_at_a_time "$T/log.json"
ok "$(jq '.entries | length' "$T/log.json") requests of the location from 4 processes, one at a time"

fleet_stop 1 2 3
sim_stop
