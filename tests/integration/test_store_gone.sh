#!/usr/bin/env bash
# The database's directory is deleted while serve runs (issue 10, item 7): SQLite would go on
# writing into the unlinked files and every POST would get 200 for nothing kept. The store
# notices that its file is gone: POSTs get 503 with Retry-After, /healthz 503, serve stays up.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
mkdir "$T/dbdir"
export VN_DB="$T/dbdir/vn.db"
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

vn_serve_start --retry-after 17s
body_asset_count before-1 $UID1 1 1 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$TOKEN")" 200 "POST while the database is there"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$VN_URL/healthz")" 200 "healthz before"

rm -rf "$T/dbdir"
body_asset_count gone-1 $UID1 1 1 >"$T/g.json"
code=$(curl -sS -o "$T/resp" -D "$T/h" -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/g.json")
assert_eq "$code" 503 "POST after the database directory was deleted"
grep -qi '^Retry-After: 17' "$T/h" || fail "503 without Retry-After: 17"
assert_json "$T/resp" '.notificationId' '"gone-1"' "the 503 names the notification"
code=$(curl -sS -o "$T/hz" -w '%{http_code}' "$VN_URL/healthz")
assert_eq "$code" 503 "healthz after the database directory was deleted"
assert_json "$T/hz" '.status' '"unavailable"' "healthz says unavailable"
assert_json "$T/hz" '.' '{"status":"unavailable"}' "healthz says no more (it is public)"
# A second POST: still refused (nothing was written into the deleted files meanwhile).
assert_eq "$(vn_post "$T/b.json" "$TOKEN")" 503 "a repeat after the deletion"
kill -0 "$VN_SERVE_PID" || fail "serve exited: an unavailable database is not a reason to stop"
vn_serve_stop
assert_contains "$T/serve.log" "is gone" "the log says the database is gone"
assert_contains "$T/serve.log" "healthz: unavailable:" "the log says why healthz was 503"
ok "deleted database directory: 503 + Retry-After and healthz 503, serve stays up"
