#!/usr/bin/env bash
# Contract §3.1, issue 10 item 2: a FAILURE element names its item only partly (Apple's REVOKE
# of a clientUserId it never knew carries {clientUserId} alone, no adamId). It is recorded on
# its event and the notification is applied (200), not stored as invalid (202): the event shows
# its notification and its error, nothing is reported missing, no re-sync runs.
. "$(dirname "$0")/lib_apple.sh"

apple_start
apple_location
apple_subscribe

EV=$(vn_cli assets revoke --uid "$LOC_UID" --client-user-ids ghost 2>"$T/err") ||
    fail "assets revoke: $(cat "$T/err")"
wait_event "$EV"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | select(.notificationType == "ASSET_MANAGEMENT") | .state]' '["applied"]' \
    "the REVOKE FAILURE notification is applied, not stored"
grep -q "event=$EV outcome=applied status=200" "$T/serve.log" || fail "not answered 200 applied"
event_json "$EV"
assert_json "$T/ev.json" '[.notifications, .failed, .notificationsMissing, .resync]' '[1,1,false,null]' \
    "the event counts its notification and failed item; nothing missing, no re-sync"
assert_json "$T/ev.json" '[.errors[] | [.errorNumber, .count]]' '[[9609,1]]' "the error by number"
ok "a REVOKE failure naming only a clientUserId is recorded on its event (200 applied)"
