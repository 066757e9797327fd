#!/usr/bin/env bash
# Issue 13, "the tracker/sync holder is killed; another instance takes over within the
# configured time; a vppsim request log shows no overlapping requests for one location".
#
# Three serve instances on one PostgreSQL database (a schema of the shared test cluster), one
# vppsim location with an sToken, a scheduled delta sync every second and a 2 s lease. What is
# observed from outside: each instance's log ("lease taken"), the lease row in the database,
# and vppsim's request log, whose entries carry each instance's id in the User-Agent
# ("vppnotify/VERSION (instance ID)").
#
# Overlap, precisely: two request-log entries of the location overlap when one starts before
# the other ends (startMs < other's endMs and other's startMs < endMs, vppsim's monotonic clock,
# both inside the client's own interval). No two entries of different instances may overlap;
# and with no tracked event only the sync thread calls Apple, so maxConcurrent must be 1.
. "$(dirname "$0")/../integration/lib_apple.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
CLUSTER=${VN_PG_CLUSTER:-$(dirname "$0")/cluster.sh}
PGDIR=${VN_TEST_PG#*host=}
PGDIR=$(dirname "${PGDIR%%&*}")
SCHEMA=${VN_DB##*schema=}
TTL_MS=2000

sim_start --event-delay 0
export VPPNOTIFY_APPLE_URL="$SIM/mdm/v2"
apple_location
apple_import # an sToken, no subscription: only the scheduled syncs call Apple
# What the CLI asked vppsim so far is not the instances' (its User-Agent names none).
SINCE=$(curl -sS "$SIM/_sim/request-log?uId=$LOC_UID" | jq '[.entries[].id] | max // 0')
LOG_URL="$SIM/_sim/request-log?uId=$LOC_UID&afterId=$SINCE"

source "$(dirname "$0")/lib_fleet.sh"
for n in 1 2 3; do fleet_serve $n; done

lease_row() {
    bash "$CLUSTER" psql "$PGDIR" -At -c \
        "SELECT holder FROM \"$SCHEMA\".leases WHERE name = 'location:$LOC_UID'" >"$T/lease"
}

# 1. One instance takes the lease and does the syncs; the others make no request.
wait_for 10 sh -c "[ -n \"\$(grep -l 'lease taken.*uId=$LOC_UID' '$T'/serve.*.log)\" ]" ||
    fail "no instance took the lease of $LOC_UID"
[ "$(fleet_holders | wc -l)" -eq 1 ] || fail "more than one instance took the lease: $(fleet_holders | tr '\n' ' ')"
A=$(fleet_holders)
lease_row
assert_contains "$T/lease" ":${IID[$A]}" "the lease row names instance $A"
wait_for 15 fleet_has_requests "${IID[$A]}" 3 || fail "instance $A made no scheduled sync (see $T/sim.log)"
for n in 1 2 3; do
    [ "$n" = "$A" ] && continue
    [ "$(fleet_requests_by "${IID[$n]}")" -eq 0 ] || fail "instance $n called Apple without the lease"
done
ok "instance $A holds the lease (log, lease row) and alone syncs the location"

# 2. The holder is killed: no release, the lease runs out; another instance takes it over and
#    its scheduled sync reaches vppsim. Bound: the lease (2 s) plus a renewal period (0.5 s),
#    plus slack for a loaded machine.
start=$SECONDS
kill -9 "${PID[$A]}"
wait "${PID[$A]}" 2>/dev/null || true
wait_for 10 sh -c "grep -l 'lease taken.*uId=$LOC_UID' '$T'/serve.*.log | grep -v 'serve.$A.log' | grep -q ." ||
    fail "no instance took the lease over after instance $A was killed"
took=$((SECONDS - start))
B=$(fleet_holders | grep -v "^$A\$")
[ "$(echo "$B" | wc -l)" -eq 1 ] || fail "two instances took the lease over: $(echo "$B" | tr '\n' ' ')"
lease_row
assert_contains "$T/lease" ":${IID[$B]}" "the lease row names instance $B"
wait_for 15 fleet_has_requests "${IID[$B]}" 2 || fail "instance $B took the lease but made no sync"
ok "instance $B took over ~${took}s after instance $A was killed (lease ${TTL_MS} ms) and syncs"

# 3. A clean stop gives the lease up: the third instance takes it and syncs.
# (an if, not an && list: the loop's status must not depend on which instance is the last)
C=$(for n in 1 2 3; do if [ "$n" != "$A" ] && [ "$n" != "$B" ]; then echo "$n"; fi; done)
before=$(fleet_requests_by "${IID[$C]}")
[ "$before" -eq 0 ] || fail "instance $C called Apple without the lease"
kill -TERM "${PID[$B]}"
rc=0
wait "${PID[$B]}" || rc=$?
[ "$rc" -eq 0 ] || fail "instance $B exited with $rc after SIGTERM (see $T/serve.$B.log)"
wait_for 10 grep -q "lease taken.*uId=$LOC_UID" "$T/serve.$C.log" ||
    fail "instance $C did not take the lease instance $B gave up"
wait_for 15 fleet_has_requests "${IID[$C]}" 2 || fail "instance $C took the lease but made no sync"
ok "instance $B stopped cleanly and gave the lease up; instance $C took it and syncs"

# 4. vppsim never saw two requests for the location at once, from two instances or any.
curl -sS "$LOG_URL" >"$T/log.json"
assert_json "$T/log.json" '.dropped' 0 "the request log kept every request"
assert_json "$T/log.json" '[.entries[] | select(.userAgent | test("\\(instance [0-9a-f]{12}\\)$") | not)] | length' 0 \
    "every request of the location names its instance"
assert_json "$T/log.json" '[.entries[] | .userAgent] | unique | length' 3 "three instances called Apple in turn"
assert_json "$T/log.json" '[.entries as $e | range($e | length) as $i | range($i + 1; $e | length) as $j
    | select($e[$i].userAgent != $e[$j].userAgent and $e[$i].startMs < $e[$j].endMs
             and $e[$j].startMs < $e[$i].endMs)] | length' 0 "no overlap between two instances' requests"
assert_json "$T/log.json" '.maxConcurrent' 1 "never two requests of the location at once"
ok "$(jq '.entries | length' "$T/log.json") requests of the location, one instance at a time"

kill -TERM "${PID[$C]}"
rc=0
wait "${PID[$C]}" || rc=$?
[ "$rc" -eq 0 ] || fail "instance $C exited with $rc after SIGTERM (see $T/serve.$C.log)"
