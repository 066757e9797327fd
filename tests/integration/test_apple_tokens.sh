#!/usr/bin/env bash
# Tokens of a subscribed location: rotate-token POSTs the new notification token and keeps the
# old one for the grace window (a notification Apple queued with the old token is accepted
# inside it and refused with 401 after it); the sToken's expiry warning, expiry (9621) and
# revocation (9625) shown by location list with no more calls; set-stoken.
. "$(dirname "$0")/lib_apple.sh"

apple_start --auth-refresh 200ms
apple_location
apple_subscribe
FIRST=$LOC_UID

# Two notifications queued with the current (old) token, delivered late: B after 6 s, A after
# 1 s (vppsim's --time-scale 0.01). Then the rotation, with a grace window of 3 s.
ctl POST /_sim/faults '{"delay":1,"delayByMs":600000}' >/dev/null
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"900\",\"count\":1}" >/dev/null
ctl POST /_sim/faults '{"delay":1,"delayByMs":100000}' >/dev/null
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"901\",\"count\":1}" >/dev/null
ctl POST /_sim/faults '{"reset":true}' >/dev/null
vn_cli location rotate-token --uid "$LOC_UID" --grace 3s >"$T/rot.out" 2>"$T/rot.err" ||
    fail "rotate-token: $(cat "$T/rot.err")"
assert_eq "$(wc -c <"$T/rot.out")" 0 "the token handed to Apple is not printed"
assert_contains "$T/rot.err" "Apple has its new notification token" "rotation confirmed"
ctl GET "/_sim/deliveries?type=TEST_NOTIFICATION" >/dev/null
assert_json "$T/ctl" '[.deliveries[].status]' '[200,200]' "vppsim delivered with the new token"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenCount' 2 "two tokens valid during the grace window"
settle 30
ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
NA=$(jq -r '.notifications[] | select(.body.notification.adamId == "901") | .notificationId' "$T/ctl")
NB=$(jq -r '.notifications[] | select(.body.notification.adamId == "900") | .notificationId' "$T/ctl")
ctl GET "/_sim/deliveries?notificationId=$NA" >/dev/null
assert_json "$T/ctl" '[.deliveries[].status]' '[200]' "old token inside the grace window: 200"
ctl GET "/_sim/deliveries?notificationId=$NB" >/dev/null
assert_json "$T/ctl" '[.deliveries[].status]' '[401,401,401]' "old token after the window: 401"
vn_cli assets --json >"$T/a.json"
assert_json "$T/a.json" '[.[].adamId]' '["901"]' "only the accepted one was applied"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenCount' 1 "one token after the grace window"
ok "rotation: new token POSTed; old one accepted inside the grace window, 401 after it"

# An sToken that expires in 10 days: expiring, warned about in serve's log.
apple_location "{\"expDate\":\"$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%S+0000)\"}"
SOON=$LOC_UID
apple_subscribe
vn_cli location list --uid "$SOON" --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenStatus' '"expiring"' "location list: expiring"
wait_for 5 grep -q "expires within 30 days.*uId=$SOON" "$T/serve.log" ||
    fail "no expiry warning in the log"
ok "an sToken expiring within 30 days is warned about"

# Apple says the token expired (9621): recorded, shown, and no more calls for it.
ctl POST /_sim/token "{\"uId\":\"$FIRST\",\"action\":\"expire\"}" >/dev/null
rc=0
vn_cli sync --uid "$FIRST" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "sync with an expired token"
assert_contains "$T/err" "9621 TOKEN_EXPIRED" "the error names 9621"
vn_cli location list --uid "$FIRST" --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenStatus' '"expired"' "location list: expired"
ctl POST /_sim/requests '{"reset":true}' >/dev/null
for i in 1 2 3; do
    rc=0
    vn_cli sync --uid "$FIRST" 2>"$T/err" || rc=$?
    assert_eq "$rc" 1 "sync $i after expiry"
done
assert_contains "$T/err" "location set-stoken --uid $FIRST" "the error says what to do"
ctl GET /_sim/requests >/dev/null
assert_json "$T/ctl" '[.requests[] | select(.path | startswith("/mdm/v2/") and . != "/mdm/v2/service/config")] | length' 0 \
    "no call is made with an expired token"
ok "expired token (9621): shown in location list, calls stop"

# A new sToken (vppsim renews: the old one is revoked) brings the location back.
ctl POST /_sim/token "{\"uId\":\"$FIRST\",\"action\":\"renew\"}" >/dev/null
(umask 077 && jq -r .sToken "$T/ctl" >"$T/new.stoken")
vn_cli location set-stoken --uid "$FIRST" --stoken-file "$T/new.stoken" >"$T/out" 2>"$T/err" ||
    fail "set-stoken: $(cat "$T/err")"
assert_contains "$T/out" "new sToken installed" "set-stoken confirms"
vn_cli location list --uid "$FIRST" --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenStatus' '"ok"' "ok again"
vn_cli sync --uid "$FIRST" >/dev/null 2>"$T/err" || fail "sync after set-stoken: $(cat "$T/err")"
rc=0
vn_cli location set-stoken --uid "$SOON" --stoken-file "$T/new.stoken" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "an sToken of another location"
assert_contains "$T/err" "belongs to location '$FIRST'" "set-stoken checks the uId"
ok "set-stoken installs a new sToken after Apple checked it"

# Revoked (9625).
ctl POST /_sim/token "{\"uId\":\"$FIRST\",\"action\":\"revoke\"}" >/dev/null
rc=0
vn_cli sync --uid "$FIRST" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "sync with a revoked token"
assert_contains "$T/err" "9625 TOKEN_REVOKED" "the error names 9625"
vn_cli location list --uid "$FIRST" --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenStatus' '"revoked"' "location list: revoked"
ok "revoked token (9625) shown in location list"

vn_serve_stop
sim_stop
