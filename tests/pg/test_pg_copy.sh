#!/usr/bin/env bash
# Issue 13, item 4: `vppnotify store copy --from URL --to URL` moves an installation between
# SQLite and PostgreSQL, verified table by table; what a user sees is the same on both sides,
# and serve on the copy goes on where the original stopped (a notification delivered before is
# still a duplicate).
source "$(dirname "$0")/../integration/lib.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"

PGDB=$VN_DB              # lib.sh gave this test a schema of its own
SQLITE="$T/vn.db"
VN_DB=$SQLITE
UID1=2049025000431439
tok=$(vn_new_location $UID1 "Main campus")
TOKEN=$(cat "$tok")

# An installation with something in it: counts, assignments, a duplicate, an invalid
# notification kept as stored, a quarantined body.
vn_serve_start
for i in 1 2 3; do
    body_asset_count "c-$i" $UID1 408709785 5 >"$T/c.$i"
    assert_eq "$(vn_post "$T/c.$i" "$TOKEN")" 200 "c-$i"
done
assert_eq "$(vn_post "$T/c.1" "$TOKEN")" 200 "a duplicate"
body_associate a-1 $UID1 ev-1 408709785 SER-1 SER-2 >"$T/a.1"
assert_eq "$(vn_post "$T/a.1" "$TOKEN")" 200 "associate"
printf '{"notificationId":"bad-1","notificationType":"ASSET_COUNT","uId":"%s","notification":{"adamId":"1"}}' \
    $UID1 >"$T/bad"
vn_post "$T/bad" "$TOKEN" >/dev/null
printf 'not json' >"$T/junk"
vn_post "$T/junk" "$TOKEN" >/dev/null
vn_serve_stop

views() { # views DB OUT: what a user reads, as JSON
    for cmd in assets assignments users subscriptions subscription-assignments events \
        notifications quarantine "location list"; do
        # shellcheck disable=SC2086
        VPPNOTIFY_DB="$1" "$VPPNOTIFY" $cmd --json
    done >"$2"
}

# SQLite -> PostgreSQL.
"$VPPNOTIFY" store copy --from "$SQLITE" --to "$PGDB" >"$T/copy1" 2>"$T/copy1.err" ||
    fail "store copy to PostgreSQL: $(cat "$T/copy1.err")"
assert_contains "$T/copy1" "verified: every table equal" "the copy says it was verified"
assert_contains "$T/copy1" "notifications                       5 rows" "rows per table"
views "$SQLITE" "$T/v.sqlite"
views "$PGDB" "$T/v.pg"
diff -u "$T/v.sqlite" "$T/v.pg" >"$T/diff" || fail "views differ after the copy: $(head -20 "$T/diff")"
ok "SQLite -> PostgreSQL: every table verified, every view the same"

# A copy never merges: into a store that has data it refuses, and changes nothing.
rc=0
"$VPPNOTIFY" store copy --from "$SQLITE" --to "$PGDB" >/dev/null 2>"$T/again.err" || rc=$?
assert_eq "$rc" 1 "a copy into a non-empty store"
assert_contains "$T/again.err" "not empty" "it says why"

# serve on the copy goes on: the ledger came along (c-2 is a duplicate), the mirror too.
VN_DB=$PGDB vn_serve_start
assert_eq "$(vn_post "$T/c.2" "$TOKEN")" 200 "a repeat delivered to the copy"
assert_json "$T/resp" '.status' '"duplicate"' "known on the copy"
body_asset_count c-4 $UID1 408709785 5 >"$T/c.4"
assert_eq "$(vn_post "$T/c.4" "$TOKEN")" 200 "a new one on the copy"
assert_json "$T/resp" '.status' '"applied"' "applied on the copy"

# backup of a PostgreSQL store while serve writes: a SQLite file from one snapshot. Each
# ASSET_COUNT here adds 5 to the one asset, so in a consistent copy totalCount is 5 times the
# applied ASSET_COUNTs in its ledger, whichever instant it was taken at.
(i=5
while [ ! -e "$T/bk.done" ] && [ $i -le 400 ]; do
    body_asset_count "c-$i" $UID1 408709785 5 >"$T/w.$i"
    vn_post "$T/w.$i" "$TOKEN" >/dev/null
    touch "$T/w.posted.$i"
    i=$((i + 1))
done) &
writer=$!
wait_for 30 test -e "$T/w.posted.7" || fail "the writer posted nothing"
"$VPPNOTIFY" backup --db "$PGDB" --to "$T/backup.db" >"$T/bk" 2>"$T/bk.err" ||
    fail "backup of PostgreSQL: $(cat "$T/bk.err")"
n=$(find "$T" -maxdepth 1 -name 'w.posted.*' | wc -l) # the last one posted: c-$((n + 4))
wait_for 30 test -e "$T/w.posted.$((n + 6))" || fail "the writer stopped"
touch "$T/bk.done"
wait $writer
vn_serve_stop
assert_eq "$(stat -c %a "$T/backup.db")" 600 "the backup is 0600"
[ ! -e "$T/backup.db.partial" ] || fail "a .partial file was left"
VPPNOTIFY_DB="$T/backup.db" "$VPPNOTIFY" assets --json >"$T/bk.assets"
VPPNOTIFY_DB="$T/backup.db" "$VPPNOTIFY" notifications --json --limit 1000 >"$T/bk.notes"
total=$(jq '.[0].totalCount' "$T/bk.assets")
counted=$(jq '[.[] | select(.notificationType == "ASSET_COUNT" and .state == "applied")] | length' \
    "$T/bk.notes")
assert_eq "$total" "$((5 * counted))" "the backup's counts match its ledger ($counted applied)"
[ "$counted" -ge 7 ] || fail "the backup lacks the notifications before it ($counted)"
VPPNOTIFY_DB="$PGDB" "$VPPNOTIFY" notifications --json --limit 1000 >"$T/now.notes"
later=$(jq '[.[] | select(.notificationType == "ASSET_COUNT" and .state == "applied")] | length' \
    "$T/now.notes")
[ "$later" -gt "$counted" ] || fail "no write after the snapshot ($counted, $later): not a test"
rc=0
"$VPPNOTIFY" backup --db "$PGDB" --to "$T/backup.db" >/dev/null 2>"$T/bk2.err" || rc=$?
assert_eq "$rc" 1 "a backup onto an existing file"
assert_contains "$T/bk2.err" "exists" "it says why"
# Restored with store copy into an empty schema: what a user reads is the backup's.
"$VPPNOTIFY" store copy --from "$T/backup.db" --to "${PGDB}r" >"$T/restore" 2>"$T/restore.err" ||
    fail "restore of the backup: $(cat "$T/restore.err")"
views "$T/backup.db" "$T/v.bk"
views "${PGDB}r" "$T/v.restored"
diff -u "$T/v.bk" "$T/v.restored" >"$T/diff3" || fail "the restore differs: $(head -20 "$T/diff3")"
ok "backup of PostgreSQL under writes: one snapshot (counts match the ledger), 0600, restored"

VPPNOTIFY_DB="$PGDB" "$VPPNOTIFY" assets --json >"$T/assets.json"
VPPNOTIFY_DB="$PGDB" "$VPPNOTIFY" notifications --json --limit 1000 >"$T/notes.json"
counted=$(jq '[.[] | select(.notificationType == "ASSET_COUNT" and .state == "applied")] | length' \
    "$T/notes.json")
[ "$counted" -ge 5 ] || fail "c-4 and what came after it were applied ($counted)"
assert_json "$T/assets.json" '.[0].totalCount' "$((5 * counted))" \
    "the counts went on from the copied ones"
ok "serve on the PostgreSQL copy: duplicates known, counts going on"

# PostgreSQL -> a new SQLite file.
"$VPPNOTIFY" store copy --from "$PGDB" --to "sqlite:$T/back.db" >"$T/copy2" 2>"$T/copy2.err" ||
    fail "store copy back to SQLite: $(cat "$T/copy2.err")"
assert_contains "$T/copy2" "verified: every table equal" "the copy back was verified"
views "$PGDB" "$T/v.pg2"
views "$T/back.db" "$T/v.back"
diff -u "$T/v.pg2" "$T/v.back" >"$T/diff2" || fail "views differ after the copy back: $(head -20 "$T/diff2")"
ok "PostgreSQL -> SQLite: every table verified, every view the same"
