#!/usr/bin/env bash
# Store locked or full: 503 with Retry-After, never a 2xx for what is not on disk; /healthz
# says so; service comes back by itself once the cause is gone.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

# 1. Another process holds the write lock longer than --db-busy-timeout.
vn_serve_start --db-busy-timeout 300ms --retry-after 42s
db_lock
body_asset_count locked-1 $UID1 1 1 >"$T/l.json"
code=$(curl -sS -o "$T/resp" -D "$T/h" -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/l.json")
assert_eq "$code" 503 "POST while the database is locked"
grep -qi '^Retry-After: 42' "$T/h" || fail "503 without Retry-After: 42"
code=$(curl -sS -o "$T/hz" -w '%{http_code}' "$VN_URL/healthz")
assert_eq "$code" 503 "healthz while locked"
db_unlock
assert_eq "$(vn_post "$T/l.json" "$TOKEN")" 200 "the retry after the lock is gone"
assert_json "$T/resp" '.status' '"applied"' "applied on retry (the 503 stored nothing)"
code=$(curl -sS -o "$T/hz" -w '%{http_code}' "$VN_URL/healthz")
assert_eq "$code" 200 "healthz recovered"
vn_serve_stop
ok "locked database: 503 + Retry-After, nothing kept, recovered without restart"

# 2. The database is full (--max-db-size behaves like a full disk): room for some notifications
# above what the schema takes, whatever its size.
empty=$(stat -c %s "$T/vn.db")
vn_serve_start --max-db-size $((empty + 160 * 1024))
serials=()
# Notifications of 20 devices (a few pages each): the one refused needed less room than the
# 64 KiB /healthz proves, whatever room a new database leaves under the cap.
for j in $(seq 20); do serials+=("SERIAL-PADDING-PADDING-PADDING-PADDING-$j"); done
i=0
code=200
while [ "$code" = 200 ] && [ $i -lt 400 ]; do
    i=$((i + 1))
    body_associate "full-$i" $UID1 ev-full 9 "${serials[@]/#/$i-}" >"$T/f.json"
    code=$(curl -sS -o "$T/resp" -D "$T/h" -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/f.json")
done
assert_eq "$code" 503 "a POST once the database is full"
grep -qi '^Retry-After:' "$T/h" || fail "503 without Retry-After"
refused="full-$i"
# What room is left may still take a small notification (each large one also writes its 200
# changes to the change log, so the one refused needed more than a small one does): fill it
# with small ones until they too are refused; then /healthz must say the store is full.
k=0
small=200
while [ "$small" = 200 ] && [ $k -lt 2000 ]; do
    k=$((k + 1))
    body_asset_count "small-$k" $UID1 9 0 >"$T/s.json"
    small=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/s.json")
done
assert_eq "$small" 503 "a small POST once the last room is taken"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$VN_URL/healthz")
assert_eq "$code" 503 "healthz while full"
vn_serve_stop
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" "[.[] | select(.notificationId == \"$refused\")] | length" '0' "the refused notification is not stored"
accepted=$((i - 1))
vn_cli assets --adam-id 9 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].assignedCount' "$((accepted * 20))" "every acknowledged one applied"

vn_serve_start
assert_eq "$(vn_post "$T/f.json" "$TOKEN")" 200 "Apple's retry after space was made"
assert_json "$T/resp" '.status' '"applied"' "applied on retry"
vn_serve_stop
ok "full database: 503 + Retry-After after $accepted notifications, nothing half-stored"
