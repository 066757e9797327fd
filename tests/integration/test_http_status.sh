#!/usr/bin/env bash
# Every row of the status table of contract.md section 2, against the real daemon.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
UID2=1111111111111111
tok1=$(vn_new_location $UID1 first)
tok2=$(vn_new_location $UID2 second)
vn_serve_start --max-body 4K --retry-after 7s
T1=$(cat "$tok1")
T2=$(cat "$tok2")

# 200 applied, then 200 duplicate for the same id (any body).
body_asset_count n-1 $UID1 408709785 5 >"$T/a.json"
assert_eq "$(vn_post "$T/a.json" "$T1")" 200 "first delivery"
assert_json "$T/resp" '.' '{"notificationId":"n-1","status":"applied"}' "applied body"
assert_eq "$(vn_post "$T/a.json" "$T1")" 200 "repeat delivery"
assert_json "$T/resp" '.status' '"duplicate"' "duplicate body"
body_asset_count n-1 $UID1 408709785 99 >"$T/a2.json"
assert_eq "$(vn_post "$T/a2.json" "$T1")" 200 "repeat with another body"
assert_json "$T/resp" '.status' '"duplicate"' "conflicting duplicate is still a duplicate"
ok "200 applied; 200 duplicate, also with another body"

# The answer of an applied or a duplicate notification is jansson's dump of the object, byte
# for byte, whatever the id holds (httpd.c writes it by hand): every escape jansson makes
# (quote, backslash, control characters, \u00XX in upper case) and none it does not ('/',
# DEL, UTF-8 as it came).
body_asset_count 'q\"b\\s\t\u0001\u001f\u007f/\u00e9' $UID1 408709785 1 >"$T/esc.json"
printf '{"notificationId":"q\\"b\\\\s\\t\\u0001\\u001F\177/\303\251","status":"%s"}' applied >"$T/esc.applied"
printf '{"notificationId":"q\\"b\\\\s\\t\\u0001\\u001F\177/\303\251","status":"%s"}' duplicate >"$T/esc.duplicate"
assert_eq "$(vn_post "$T/esc.json" "$T1")" 200 "id with escapes"
cmp "$T/resp" "$T/esc.applied" || fail "applied answer: $(od -c "$T/resp")"
assert_eq "$(vn_post "$T/esc.json" "$T1")" 200 "id with escapes, again"
cmp "$T/resp" "$T/esc.duplicate" || fail "duplicate answer: $(od -c "$T/resp")"
ok "applied and duplicate answers are jansson's bytes for an id with escapes"

# 202 stored: unknown type, and a known type whose payload does not validate.
printf '{"notificationId":"n-2","notificationType":"UNLIMITED_ASSET","uId":"%s","notification":{"x":1}}' $UID1 >"$T/u.json"
assert_eq "$(vn_post "$T/u.json" "$T1")" 202 "unknown type"
assert_json "$T/resp" '.status' '"stored"' "unknown type body"
printf '{"notificationId":"n-3","notificationType":"ASSET_COUNT","uId":"%s","notification":{"adamId":true}}' $UID1 >"$T/i.json"
assert_eq "$(vn_post "$T/i.json" "$T1")" 202 "invalid payload"
assert_json "$T/resp" '.reason | test("adamId")' 'true' "stored reason names the field"
ok "202 stored for an unknown type and an invalid payload"

# 400 + quarantine: not JSON; envelope without a string notificationId; notification not an object.
printf 'this is not json' >"$T/bad.json"
assert_eq "$(vn_post "$T/bad.json" "$T1")" 400 "not JSON"
assert_json "$T/resp" '.error | test("invalid JSON")' 'true' "400 says why"
printf '{"notificationId":7,"notificationType":"ASSET_COUNT","uId":"%s","notification":{}}' $UID1 >"$T/b2.json"
assert_eq "$(vn_post "$T/b2.json" "$T1")" 400 "numeric notificationId"
assert_json "$T/resp" '.error' '"notificationId: expected string, got number"' "field named"
printf '{"notificationId":"n-4","notificationType":"ASSET_COUNT","uId":"%s","notification":[]}' $UID1 >"$T/b3.json"
assert_eq "$(vn_post "$T/b3.json" "$T1")" 400 "notification not an object"
vn_cli quarantine --json >"$T/q.json"
assert_json "$T/q.json" 'length' '3' "three bodies quarantined"
lens=$(for f in bad b2 b3; do wc -c <"$T/$f.json"; done | sort -n | paste -sd, -)
assert_json "$T/q.json" '[.[].bodyLength] | sort' "[$lens]" "quarantined lengths"
ok "400 for non-notifications, each kept in quarantine"

# 401: no header, wrong scheme, two spaces, unknown token; WWW-Authenticate: Bearer.
code=$(curl -sS -o /dev/null -w '%{http_code}' -D "$T/h" -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' --data-binary @"$T/a.json")
assert_eq "$code" 401 "no Authorization"
grep -qi '^WWW-Authenticate: Bearer' "$T/h" || fail "401 without WWW-Authenticate: Bearer"
for h in "Basic $T1" "Bearer  $T1" "Bearer $T1 x" "Bearer wrong-token-0123456789" "Bearer"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: $h" --data-binary @"$T/a.json")
    assert_eq "$code" 401 "Authorization '${h:0:12}...'"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' -H "Authorization: bEaReR $T1" --data-binary @"$T/a.json")
assert_eq "$code" 200 "scheme name is case-insensitive"
ok "401 for missing, malformed and unknown tokens"

# 403: a valid token of location 2 with an envelope of location 1: nothing applied.
body_asset_count n-5 $UID1 408709785 1000 >"$T/x.json"
assert_eq "$(vn_post "$T/x.json" "$T2")" 403 "uId of another location"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | select(.notificationId == "n-5")] | length' '0' "403 stores nothing"
ok "403 for the uId of another location"

# 405 and 404.
code=$(curl -sS -o /dev/null -w '%{http_code}' -D "$T/h" "$VN_URL/notifications")
assert_eq "$code" 405 "GET on the notification path"
grep -qi '^Allow: POST' "$T/h" || fail "405 without Allow: POST"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/elsewhere" -H "Authorization: Bearer $T1")
assert_eq "$code" 404 "unknown path"
ok "405 wrong method, 404 unknown path"

# 413: declared too big, and too big while reading (chunked, no Content-Length).
head -c 5000 /dev/zero | tr '\0' 'x' >"$T/big.json"
assert_eq "$(vn_post "$T/big.json" "$T1")" 413 "Content-Length over --max-body"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $T1" \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json")
assert_eq "$code" 413 "chunked body over --max-body"
assert_json "$T/resp" '.error' '"body is larger than the limit of 4096 bytes"' "413 quotes the limit"
ok "413 on Content-Length and while reading"

# 415: another Content-Type; parameters are allowed.
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: text/plain' -H "Authorization: Bearer $T1" --data-binary @"$T/a.json")
assert_eq "$code" 415 "text/plain"
body_asset_count n-6 $UID1 408709785 1 >"$T/c.json"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json; charset=utf-8' -H "Authorization: Bearer $T1" --data-binary @"$T/c.json")
assert_eq "$code" 200 "application/json with a charset parameter"
ok "415 for another Content-Type, parameters allowed"

# healthz: 200 and JSON while the store is writable; public, so the status only (no counters,
# no location uIds: issue 12).
code=$(curl -sS -o "$T/hz" -w '%{http_code}' "$VN_URL/healthz")
assert_eq "$code" 200 "healthz"
assert_json "$T/hz" '.' '{"status":"ok"}' "healthz: the status only"

# The mirror moved exactly once per applied notification: 5 (n-1) + 1 (the escaped id) + 1
# (n-6); n-5 refused.
vn_cli assets --json >"$T/assets.json"
assert_json "$T/assets.json" '[.[] | {uId, adamId, totalCount}]' \
    "[{\"uId\":\"$UID1\",\"adamId\":\"408709785\",\"totalCount\":7}]" "mirror after the table"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | select(.notificationId == "n-1") | .duplicates, .conflicts]' '[3,1]' \
    "n-1 counted 3 repeats, 1 of them with another body"
ok "mirror and ledger match what was acknowledged"

vn_serve_stop
