#!/usr/bin/env bash
# Contract §3.1, issue 10 item 4: a sync and notifications interleave. A change Apple notifies
# after the sync's walk of assignments (and its last versionId check) but before the sweep must
# not be swept away: the notification is newer than the walk. The walk is slowed by vppsim's
# rate limit (2 requests/s, which the client respects), and the change is made right after the
# walk's last check of assignments (seen in vppsim's request log).
. "$(dirname "$0")/lib_apple.sh"

SIM_ARGS="--page-size 5 --limit maxRequestPerSecond=2"
apple_start
apple_location
apple_subscribe
jq -nc --arg u "$LOC_UID" '{uId: $u, assets: [{adamId: "1000", totalCount: 100}],
  assignments: [range(20) | {adamId: "1000", serialNumber: "SN\(.)"}]}' >"$T/seed.json"
seed_file "$T/seed.json"
ctl POST /_sim/requests '{"reset":true}' >/dev/null

# assignment_gets N: vppsim answered at least N GET /assignments (4 pages, then the check).
assignment_gets() { [ "$(sim_count GET /mdm/v2/assignments 200)" -ge "$1" ]; }

vn_cli sync --uid "$LOC_UID" --full --json >"$T/sync.json" 2>"$T/sync.err" &
sync_pid=$!
wait_for 60 assignment_gets 5 || fail "the sync never checked assignments again"
EV=$(vn_cli assets associate --uid "$LOC_UID" --assets 1000 --serials LATE1 2>"$T/err") ||
    fail "associate: $(cat "$T/err")"
wait_event "$EV"
wait "$sync_pid" || fail "the sync failed: $(cat "$T/sync.err")"
assert_json "$T/sync.json" '.[0].kind' '"full"' "a full sync ran"
vn_cli assignments --uid "$LOC_UID" --serial LATE1 --json >"$T/a.json"
assert_json "$T/a.json" 'length' 1 "the assignment notified during the sync is still mirrored"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "a notification applied while a sync walks is not swept by the sync"
