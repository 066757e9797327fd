#!/usr/bin/env bash
# location add --stoken-file: the subscribe flow against vppsim (contract section 5): the
# sToken file's permissions, 9728 explained when nobody answers at the public URL, the
# TEST_NOTIFICATION received by the running daemon, Client Config showing our URL, every type
# and our mdmInfo, the sToken sealed at rest, and another MDM's takeover.
. "$(dirname "$0")/lib_apple.sh"

apple_start
apple_location '{"locationName":"Main campus","orgName":"Example School"}'

# The sToken file obeys the secret-file rules.
chmod 644 "$STF"
rc=0
vn_cli location add --stoken-file "$STF" --public-url "$VN_URL/notifications" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a group-readable sToken file is refused"
assert_contains "$T/err" "chmod 600" "the error says how to fix it"
chmod 600 "$STF"
ok "the sToken file must be 0600"

# Nobody answers at the public URL: Apple (vppsim) refuses with 9728, and we say why.
rc=0
vn_cli location add --stoken-file "$STF" --public-url "http://127.0.0.1:1/notifications" \
    2>"$T/err" || rc=$?
assert_eq "$rc" 1 "9728: exit status"
assert_contains "$T/err" "9728" "9728: the error number"
assert_contains "$T/err" "TEST_NOTIFICATION" "9728: what Apple tried"
assert_contains "$T/err" "must already answer at that URL" "9728: what to do"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" 'length' 0 "9728: nothing of the location is left"
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
assert_json "$T/ctl" '.notificationUrl' 'null' "9728: vppsim kept no configuration"
ok "9728 explained, location removed"

# A URL Apple would refuse is refused before asking Apple.
rc=0
vn_cli location add --stoken-file "$STF" --public-url "http://example.com/n" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "plain http to a non-loopback host"
assert_contains "$T/err" "must use https" "https required"
rc=0
vn_cli location add --stoken-file "$STF" --public-url "$VN_URL/notifications?k=v" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "a query string"
ok "--public-url checked locally"

# The real thing.
apple_subscribe
assert_contains "$T/subscribe.out" "location $LOC_UID (Main campus) subscribed" "summary"
assert_not_contains "$T/subscribe.out" "$STOKEN" "the sToken is never printed"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.uId, .name, .orgName, .tokenStatus, .tokenCount]' \
    "[\"$LOC_UID\",\"Main campus\",\"Example School\",\"ok\",1]" "location list"
assert_json "$T/l.json" '.[0].notificationUrl' "\"$VN_URL/notifications\"" "subscribed URL"
assert_json "$T/l.json" '.[0].lastTestNotificationAt != null' 'true' "TEST_NOTIFICATION arrived"
api GET /service/config >/dev/null
jq -c '.notificationTypes' "$T/resp" >"$T/types.json"
assert_json "$T/l.json" '.[0].notificationTypes' "$(cat "$T/types.json")" "every type listed"
vn_cli notifications --type TEST_NOTIFICATION --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | [.uId, .state]]' "[[\"$LOC_UID\",\"applied\"]]" "in the ledger"
ctl GET "/_sim/deliveries?type=TEST_NOTIFICATION" >/dev/null
assert_json "$T/ctl" '[.deliveries[].status]' '[0,200]' "vppsim: refused URL, then 200"
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
assert_json "$T/ctl" '.notificationUrl' "\"$VN_URL/notifications\"" "Client Config: URL"
assert_json "$T/ctl" '.subscribedNotificationTypes' "$(cat "$T/types.json")" "Client Config: types"
assert_json "$T/ctl" '[.mdmName, .mdmMetadata]' '["vppnotify","vppnotify 0.1.0"]' \
    "Client Config: mdmInfo"
MDM_A=$(jq -r .mdmId "$T/ctl")
[[ $MDM_A =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
    fail "mdmInfo id '$MDM_A' is not a UUID"
ok "subscribed: TEST_NOTIFICATION received, Client Config has our URL, types and mdmInfo"

# At rest: sealed with a 0600 key file next to the database, nowhere in clear.
assert_eq "$(stat -c %a "$T/vn.db.key")" 600 "key file mode"
if grep -aqF "$STOKEN" "$T"/vn.db* "$T/serve.log"; then
    fail "the sToken is stored or logged in clear"
fi
ok "sToken sealed at rest, key file 0600, never logged"

rc=0
vn_cli location add --stoken-file "$STF" --public-url "$VN_URL/notifications" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a second add"
assert_contains "$T/err" "already exists" "a second add is refused"
ok "adding a location twice is refused"

# Another vppnotify (another database, so another mdmInfo id) wants the same location.
"$VPPNOTIFY" serve --db "$T/b.db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
    --ready-file "$T/b.ready" --sync-full-interval 0 --sync-delta-interval 0 >>"$T/serve-b.log" 2>&1 &
VN_PIDS+=($!)
B_PID=$!
wait_for 20 test -s "$T/b.ready" || fail "second serve did not start"
B_URL="http://$(head -n1 "$T/b.ready")/notifications"
rc=0
"$VPPNOTIFY" location add --db "$T/b.db" --stoken-file "$STF" --public-url "$B_URL" \
    2>"$T/err" || rc=$?
assert_eq "$rc" 1 "taking over without --take-over"
assert_contains "$T/err" "another MDM manages location '$LOC_UID'" "the refusal names the reason"
assert_contains "$T/err" "$MDM_A" "and the other MDM's mdmInfo"
"$VPPNOTIFY" location add --db "$T/b.db" --stoken-file "$STF" --public-url "$B_URL" \
    --take-over >/dev/null 2>"$T/err" || fail "--take-over: $(cat "$T/err")"
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
MDM_B=$(jq -r .mdmId "$T/ctl")
[ "$MDM_B" != "$MDM_A" ] || fail "the second instance has the same mdmInfo id"
ok "a second MDM needs --take-over"

# The first instance's next call sees the other mdmInfo: a takeover, shown and logged.
vn_cli sync --uid "$LOC_UID" >/dev/null 2>"$T/sync.err" || fail "sync: $(cat "$T/sync.err")"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.tokenStatus, .takeover.id, .takeover.name]' \
    "[\"takeover\",\"$MDM_B\",\"vppnotify\"]" "location list shows the takeover"
assert_contains "$T/sync.err" "takeover" "logged as a warning"
# The public /healthz names no location (issue 12): its status only.
curl -s "$VN_URL/healthz" >"$T/h.json"
assert_json "$T/h.json" '.' '{"status":"ok"}' "healthz is the status only"
ok "takeover detected and reported"

# Taking the location back needs --take-over too; Apple's next answer clears the takeover.
rc=0
vn_cli location rotate-token --uid "$LOC_UID" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "re-subscribing over another MDM without --take-over"
assert_contains "$T/err" "Pass --take-over" "the refusal says how"
vn_cli location rotate-token --uid "$LOC_UID" --take-over >/dev/null 2>"$T/err" ||
    fail "rotate-token --take-over: $(cat "$T/err")"
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
assert_json "$T/ctl" '[.mdmId, .notificationUrl]' "[\"$MDM_A\",\"$VN_URL/notifications\"]" \
    "Apple has our mdmInfo and URL again"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.tokenStatus, .takeover]' '["ok",null]' "the takeover is over"
ok "rotate-token --take-over takes the location back"

# A location that only received notifications gets an sToken, then a subscription.
apple_location
vn_cli location add --uid "$LOC_UID" --name "Annex" >/dev/null 2>&1 || fail "location add --uid"
vn_cli location set-stoken --uid "$LOC_UID" --stoken-file "$STF" >/dev/null 2>"$T/err" ||
    fail "set-stoken: $(cat "$T/err")"
vn_cli location list --uid "$LOC_UID" --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.tokenStatus, .notificationUrl]' '["ok",null]' "an sToken, no subscription"
vn_cli location rotate-token --uid "$LOC_UID" --public-url "$VN_URL/notifications" \
    >"$T/out" 2>"$T/err" || fail "rotate-token --public-url: $(cat "$T/err")"
assert_eq "$(wc -c <"$T/out")" 0 "the token handed to Apple is not printed"
vn_cli location list --uid "$LOC_UID" --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.notificationUrl, .lastTestNotificationAt != null]' \
    "[\"$VN_URL/notifications\",true]" "subscribed, TEST_NOTIFICATION received"
ok "set-stoken then rotate-token --public-url subscribes an existing location"

kill -TERM "$B_PID"
wait "$B_PID" || fail "second serve exited non-zero"
vn_serve_stop
sim_stop
