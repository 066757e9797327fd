#!/usr/bin/env bash
# replay: stored notifications go through today's parser and apply rules, once each.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
vn_serve_start
# Stored by today's daemon: an unknown type, and a payload that does not validate.
printf '{"notificationId":"u-1","notificationType":"UNLIMITED_ASSET","uId":"%s","notification":{}}' $UID1 >"$T/u.json"
assert_eq "$(vn_post "$T/u.json" "$TOKEN")" 202 "unknown type stored"
printf '{"notificationId":"i-1","notificationType":"ASSET_COUNT","uId":"%s","notification":{"adamId":"5"}}' $UID1 >"$T/i.json"
assert_eq "$(vn_post "$T/i.json" "$TOKEN")" 202 "invalid payload stored"
vn_serve_stop

# Stored by an older release that did not know SUBSCRIPTION_COUNT or USER_ASSOCIATED yet: the
# ledger rows an older daemon would have written (docs/SCHEMA.md), state 'stored'.
sub=$(printf '{"notificationId":"old-1","notificationType":"SUBSCRIPTION_COUNT","uId":"%s","notification":{"adamId":12345,"parentAdamId":54321,"counts":{"available":{"renewing":15,"expiring":5},"total":{"renewing":100,"expiring":20}}}}' $UID1)
usr=$(printf '{"notificationId":"old-2","notificationType":"USER_ASSOCIATED","uId":"%s","notification":{"associatedUsers":[{"clientUserId":"c-1","idHash":"h1","status":"Associated"}]}}' $UID1)
for pair in "old-1|SUBSCRIPTION_COUNT|$sub" "old-2|USER_ASSOCIATED|$usr"; do
    IFS='|' read -r id type body <<<"$pair"
    sqlite3 "$T/vn.db" "INSERT INTO notifications(notification_id, uid, notification_type, state, error, body, body_sha256, body_length, received_at)
        VALUES ('$id', '$UID1', '$type', 'stored', 'unknown notificationType', CAST('$body' AS BLOB), randomblob(32), length('$body'), '2026-01-01T00:00:00.000Z');"
done

vn_cli replay >"$T/r1" 2>"$T/r1.err"
assert_contains "$T/r1" "4 stored notification(s): 2 applied, 2 still stored, 0 failed" "first replay"
vn_cli subscriptions --json >"$T/s.json"
assert_json "$T/s.json" 'map(del(.updatedAt))' "[{\"uId\":\"$UID1\",\"adamId\":\"12345\",\"parentAdamId\":\"54321\",\"counts\":{\"available\":{\"renewing\":15,\"expiring\":5},\"total\":{\"renewing\":100,\"expiring\":20}}}]" "subscription applied by replay"
vn_cli users --json >"$T/users.json"
assert_json "$T/users.json" '[.[] | [.clientUserId, .status, .idHash]]' '[["c-1","Associated","h1"]]' "user applied by replay"
vn_cli notifications --state stored --json >"$T/n.json"
assert_json "$T/n.json" '[.[].notificationId] | sort' '["i-1","u-1"]' "still stored"
ok "replay applies what today's parser accepts and leaves the rest stored"

vn_cli replay >"$T/r2" 2>/dev/null
assert_contains "$T/r2" "2 stored notification(s): 0 applied, 2 still stored, 0 failed" "second replay"
vn_cli users --json >"$T/users2.json"
cmp -s "$T/users.json" "$T/users2.json" || fail "a second replay changed the mirror"
ok "replay is idempotent"

# Two replays at once still apply each notification once (the state change is a transition).
sqlite3 "$T/vn.db" "UPDATE notifications SET state = 'stored' WHERE notification_id = 'old-1';
    DELETE FROM subscriptions;"
vn_cli replay >"$T/r3" 2>/dev/null &
vn_cli replay >"$T/r4" 2>/dev/null &
wait
n3=$(sed -n 's/.*: \([0-9]*\) applied.*/\1/p' "$T/r3")
n4=$(sed -n 's/.*: \([0-9]*\) applied.*/\1/p' "$T/r4")
applied=$((n3 + n4))
assert_eq "$applied" 1 "applied by two concurrent replays"
ok "concurrent replays apply a notification once"
