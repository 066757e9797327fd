#!/usr/bin/env bash
# `vppnotify backup --to FILE` while serve runs: the copy is a whole database (same mirror,
# same ledger), mode 0600, and a restore from it keeps dedupe: a known id stays a duplicate.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

vn_serve_start
for i in 1 2 3 4 5; do
    body_asset_count "bk-$i" $UID1 408709785 2 >"$T/b$i.json"
    assert_eq "$(vn_post "$T/b$i.json" "$TOKEN")" 200 "notification $i"
done

vn_cli backup --to "$T/copy.db" >"$T/backup.out" 2>&1 || fail "backup failed: $(cat "$T/backup.out")"
assert_contains "$T/backup.out" "to '$T/copy.db'" "backup says where the copy went"
assert_eq "$(stat -c %a "$T/copy.db")" 600 "the copy is readable by its owner only"

# A second backup to the same file is refused with the reason.
if vn_cli backup --to "$T/copy.db" 2>"$T/again.err"; then
    fail "a backup over an existing file was not refused"
fi
assert_contains "$T/again.err" "exists" "the refusal says the file exists"

# Traffic after the backup is not in the copy; everything before it is.
body_asset_count "bk-after" $UID1 408709785 100 >"$T/after.json"
assert_eq "$(vn_post "$T/after.json" "$TOKEN")" 200 "a notification after the backup"
vn_serve_stop

VPPNOTIFY_DB="$T/copy.db" "$VPPNOTIFY" assets --json >"$T/copy-assets.json"
assert_json "$T/copy-assets.json" '.[0].totalCount' '10' "the copy holds the five notifications' effect"
VPPNOTIFY_DB="$T/copy.db" "$VPPNOTIFY" notifications --json >"$T/copy-n.json"
assert_json "$T/copy-n.json" '[.[].notificationId] | sort' '["bk-1","bk-2","bk-3","bk-4","bk-5"]' \
    "the copy's ledger"
ok "the backup is a consistent copy of what was committed before it"

# Restore: the copy becomes the database of a new serve; the ledger still dedupes.
mkdir "$T/restored"
cp "$T/copy.db" "$T/restored/vn.db"
VN_DB="$T/restored/vn.db" vn_serve_start
assert_eq "$(vn_post "$T/b3.json" "$TOKEN")" 200 "a known id after the restore"
assert_json "$T/resp" '.status' '"duplicate"' "a restored ledger still dedupes"
vn_serve_stop
VPPNOTIFY_DB="$T/restored/vn.db" "$VPPNOTIFY" assets --json >"$T/r.json"
assert_json "$T/r.json" '.[0].totalCount' '10' "nothing applied twice after the restore"
ok "restore from the backup"
