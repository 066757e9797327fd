#!/usr/bin/env bash
# Re-sync against vppsim: a full sync of an organization of 20,000 assignments and 5,000 users
# over several pages, with the data changing under the walk (a new versionId mid-walk): the
# mirror equals vppsim's state dump exactly. Then a delta (sinceVersionId) moves only the rows
# that changed; removals wait for the next full sync; serve's schedule runs syncs by itself.
. "$(dirname "$0")/lib_apple.sh"

SIM_ARGS="--page-size 1000"
apple_start
apple_location
apple_import # an sToken without a subscription: vppsim sends no notification, only syncs count

jq -nc --arg u "$LOC_UID" '{uId: $u,
  assets: ([range(20) | {adamId: "\(1000 + .)", totalCount: 2000}]
    + [{adamId: "2000", pricingParam: "PLUS", totalCount: 10, productType: "Book"}]),
  users: [range(5000) | {clientUserId: "user\(.)", email: "user\(.)@example.com"}
    + (if . % 5 == 0 then {managedAppleId: "m\(.)@example.com"} else {} end)],
  assignments: ([range(15000) | {adamId: "\(1000 + (. % 20))", serialNumber: "SN\(.)"}]
    + [range(5000) | {adamId: "\(1000 + (. % 7))", clientUserId: "user\(.)"}]),
  subscriptions: ([range(3) | {adamId: (7000 + .), total: {renewing: 50, expiring: 10}}]
    + [{adamId: 7100, parentAdamId: 1000, total: {renewing: 5, expiring: 0}}]),
  subscriptionAssignments: [range(40) | {adamId: (7000 + (. % 3)), clientUserId: "user\(. * 5)",
    renewing: (. % 2 == 0)}]}' >"$T/seed.json"
seed_file "$T/seed.json"
assert_json "$T/ctl" '[.assignments, .users]' '[20000,5000]' "seeded"
ok "seeded 20,000 assignments, 5,000 users, 4 subscriptions with 40 seats"

# Two next-page requests see the data change (a new versionId): the walk starts over.
ctl POST /_sim/faults '{"versionChange":2}' >/dev/null
vn_cli sync --uid "$LOC_UID" --full --json >"$T/r.json" 2>"$T/err" || fail "full sync: $(cat "$T/err")"
assert_json "$T/r.json" '.[0] | [.kind, .restarts]' '["full",2]' "restarted after each versionId change"
curl -s "$SIM/_sim/state?uId=$LOC_UID" >"$T/st.json"
assert_json "$T/st.json" '.assignments | length' 19998 "each change removed an assignment under the walk"
assert_json "$T/r.json" '.[0] | [.assets.added, .assignments.added - .assignments.removed, .users.added, .subscriptions.added, .subscriptionAssignments.added]' \
    '[21,19998,5000,4,40]' "every record added (net of what the sweep removed), as vppsim has it after the changes"
assert_json "$T/r.json" '.[0].pages > 30' true "several pages per table"
mirror_equals_sim "$LOC_UID"
ok "full sync over pages with versionId changes mid-walk: the mirror equals vppsim exactly"

# Nothing changed: a second full sync finds no drift.
vn_cli sync --uid "$LOC_UID" --full --json >"$T/r.json" 2>/dev/null || fail "second full sync"
assert_json "$T/r.json" '[.[0] | .assets, .assignments, .users, .subscriptions, .subscriptionAssignments | .added + .removed + .changed] | add' \
    0 "no drift"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.lastFullSyncAt != null, .lastSyncDrift.kind]' '[true,"full"]' \
    "location list shows the last sync"
ok "a full sync without changes finds no drift"

# Changes on Apple's side that vppnotify was not told about.
api POST /assets/associate '{"assets":[{"adamId":"1001"}],"serialNumbers":["NEW1","NEW2","NEW3","NEW4","NEW5","NEW6","NEW7","NEW8","NEW9","NEW10"]}' >/dev/null
api POST /users/create '{"users":[{"clientUserId":"n1"},{"clientUserId":"n2"},{"clientUserId":"n3"},{"clientUserId":"n4"},{"clientUserId":"n5"}]}' >/dev/null
api POST /users/update '{"users":[{"clientUserId":"user1","email":"changed@example.com"}]}' >/dev/null
settle
ctl POST /_sim/requests '{"reset":true}' >/dev/null
vn_cli sync --uid "$LOC_UID" --json >"$T/r.json" 2>"$T/err" || fail "delta sync: $(cat "$T/err")"
assert_json "$T/r.json" '.[0] | [.kind, .assignments.fetched, .assignments.added, .assignments.changed]' \
    '["delta",10,10,0]' "delta: only the 10 new assignments"
assert_json "$T/r.json" '.[0] | [.users.fetched, .users.added, .users.changed]' '[6,5,1]' \
    "delta: 5 new users, 1 changed"
assert_json "$T/r.json" '.[0] | [.assets.fetched, .assets.changed, .assets.added, .assets.removed]' \
    '[21,1,0,0]' "assets walked whole: one changed"
assert_eq "$(sim_count GET /mdm/v2/assignments 200)" 2 "one page of assignments + its versionId check"
assert_eq "$(sim_count GET /mdm/v2/users 200)" 2 "one page of users + its versionId check"
mirror_equals_sim "$LOC_UID" "assets assignments users"
ok "a delta sync moves only the changed rows"

# A removal: deltas do not carry it; the next full sync does.
api POST /assets/disassociate '{"assets":[{"adamId":"1001"}],"serialNumbers":["NEW1","NEW2","NEW3"]}' >/dev/null
settle
vn_cli sync --uid "$LOC_UID" --json >"$T/r.json" 2>/dev/null || fail "delta after a removal"
assert_json "$T/r.json" '.[0].assignments | [.removed, .added]' '[0,0]' "a delta sees no removal"
vn_cli assignments --uid "$LOC_UID" --serial NEW1 --json >"$T/a.json"
assert_json "$T/a.json" 'length' 1 "still mirrored after the delta"
vn_cli sync --uid "$LOC_UID" --full --json >"$T/r.json" 2>/dev/null || fail "full after a removal"
assert_json "$T/r.json" '.[0].assignments.removed' 3 "the full sync removes them"
mirror_equals_sim "$LOC_UID"
ok "removals come with the full sync"

# A progress line on a terminal (script(1) gives the command one).
script -qec "env VPPNOTIFY_DB='$VN_DB' '$VPPNOTIFY' sync --uid $LOC_UID --full" /dev/null \
    >"$T/tty.out" 2>&1 || fail "sync on a terminal: $(tail -3 "$T/tty.out")"
grep -q "sync $LOC_UID: assignments page 20, 20000 records" "$T/tty.out" ||
    fail "no progress line: $(head -c 300 "$T/tty.out")"
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/err"
if grep -q "assignments page" "$T/err"; then
    fail "a progress line without a terminal"
fi
ok "progress line on a terminal only"

# serve's schedule: a delta every second (the full one was just done).
vn_serve_stop
api POST /assets/associate '{"assets":[{"adamId":"1002"}],"serialNumbers":["SCHED1"]}' >/dev/null
settle
vn_serve_start --sync-full-interval 1h --sync-delta-interval 1s
wait_for 15 bash -c "'$VPPNOTIFY' assignments --db '$VN_DB' --serial SCHED1 --json | jq_true 'length == 1'" ||
    fail "the scheduled delta did not bring SCHED1"
# (vppsim's retry of the request's notification may bring SCHED1 first: wait for the delta.)
wait_for 15 bash -c "VPPNOTIFY_DB='$VN_DB' '$VPPNOTIFY' location list --json | jq_true '.[0].lastSyncDrift.kind == \"delta\"'" ||
    true
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].lastSyncDrift.kind' '"delta"' "the schedule ran a delta"
mirror_equals_sim "$LOC_UID" "assets assignments users"
ok "serve runs the scheduled delta sync"

vn_serve_stop
sim_stop
