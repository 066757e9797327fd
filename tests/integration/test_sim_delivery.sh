# vppsim notification delivery: 500, 500, 200 -> exactly 3 attempts; a receiver that never
# answers 2xx gets 3 attempts and then nothing; time-scaled retries land in the scaled 1-5
# minute window; a redirect is a failure and is not followed; only subscribed types are sent;
# the bearer token is the notificationAuthToken; a slow receiver hits the delivery timeout.
. "$(dirname "$0")/lib_sim.sh"

SCALE=$SIM_SCALE
recv_start --script 500,500,200
sim_start --event-delay 0
sim_location
subscribe '["ASSET_COUNT"]'

ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"111\",\"count\":5}" >/dev/null
settle 30
ctl GET "/_sim/deliveries?type=ASSET_COUNT" >/dev/null
cp "$T/ctl" "$T/d1.json"
assert_json "$T/d1.json" '[.deliveries[] | [.attempt, .status]]' '[[1,500],[2,500],[3,200]]' "exactly 3 attempts, stop at 2xx"
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT"')" 3 "receiver saw 3 requests"
assert_eq "$(jq -s -c '[.[] | select(.notificationType == "ASSET_COUNT") | [.auth, .body.notification.countDelta, .body.notification.adamId]] | unique' "$RECV_LOG")" \
    '[["ok",5,"111"]]' "bearer token and payload on every attempt"
assert_eq "$(jq -s -c '[.[] | select(.notificationType == "ASSET_COUNT") | .notificationId] | unique | length' "$RECV_LOG")" 1 "same notificationId on retries"
# Retries: attempt 2 at 60-90 s, attempt 3 at 180-240 s after attempt 1 (scaled), plus slack.
jq -c --argjson s "$SCALE" '[.deliveries[].timeMs] | [(.[1] - .[0]) / $s / 1000, (.[2] - .[0]) / $s / 1000]' "$T/d1.json" >"$T/gaps.json"
echo "# retry offsets in unscaled seconds: $(cat "$T/gaps.json")"
assert_json "$T/gaps.json" '(.[0] >= 59) and (.[0] <= 100) and (.[1] >= 179) and (.[1] <= 300)' true "retries inside the scaled 1-5 minute window"
ok "500, 500, 200"

# Not subscribed: USER_ASSOCIATED is not sent at all.
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"users\":[{\"clientUserId\":\"u1\"}]}" >/dev/null
ctl POST /_sim/users/accept "{\"uId\":\"$LOC_UID\",\"clientUserIds\":[\"u1\"]}" >/dev/null
settle
assert_eq "$(recv_count '.notificationType == "USER_ASSOCIATED"')" 0 "unsubscribed type not sent"
ok "only subscribed types"

# A raw notification injected through the control API (e.g. UNLIMITED_ASSET, undocumented).
assert_eq "$(ctl POST /_sim/notifications "{\"uId\":\"$LOC_UID\",\"notificationType\":\"UNLIMITED_ASSET\",\"notification\":{\"adamId\":\"9\"}}")" 409 "not subscribed"
assert_eq "$(ctl POST /_sim/notifications "{\"uId\":\"$LOC_UID\",\"notificationType\":\"UNLIMITED_ASSET\",\"notification\":{\"adamId\":\"9\"},\"force\":true}")" 200 "forced"
settle
assert_eq "$(recv_count '.notificationType == "UNLIMITED_ASSET" and .body.notification.adamId == "9" and .status == 200')" 1 "raw notification delivered"
ok "raw injection"

# A receiver that never answers 2xx: 3 attempts, then nothing more.
recv_stop
recv_start --default 503
subscribe '["ASSET_COUNT"]'
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"222\",\"count\":1}" >/dev/null
settle 30
sleep "$(awk -v s="$SCALE" 'BEGIN { print s * 100 + 0.2 }')"
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT"')" 3 "3 attempts then given up"
ctl GET "/_sim/notifications?type=ASSET_COUNT&state=failed" >/dev/null
assert_json "$T/ctl" '[.notifications[] | [.attempts, .lastStatus, .body.notification.adamId]]' '[[3,503,"222"]]' "notification marked failed"
ok "never 2xx"

# Redirects are failures and are not followed.
recv_stop
recv_start --default 302
subscribe '["ASSET_COUNT"]'
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"333\",\"count\":1}" >/dev/null
settle 30
ctl GET "/_sim/deliveries?type=ASSET_COUNT" >/dev/null
assert_json "$T/ctl" '[.deliveries[] | select(.status == 302) | .error] | unique' '["HTTP 302 (redirect not followed)"]' "302 is a failure"
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT"')" 3 "302 retried 3 times, never followed"
ok "redirect"

# Wrong bearer: the receiver answers the TEST_NOTIFICATION 401, so the configuration is 9728.
recv_stop
RECV_TOKEN=other-token-abcdefghijklmnop recv_start
api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"wrong-token-abcdefghijkl\",\"notificationTypes\":[\"ASSET_COUNT\"]}" >/dev/null
assert_json "$T/resp" .errorNumber 9728 "a receiver that refuses the bearer"
assert_eq "$(recv_count '.notificationType == "TEST_NOTIFICATION" and .auth == "bad" and .status == 401')" 1 "the receiver saw the wrong bearer"
recv_stop

# Delivery timeout: a receiver slower than --delivery-timeout.
sim_stop
sim_start --delivery-timeout 300ms --event-delay 0
sim_location
# The receiver answers only after 60 s, so an attempt that was not cut at the timeout could not
# have ended before it did (an order, not a time: the machine's load cannot make it pass or fail).
recv_start --delay 60s
api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}" >/dev/null
assert_json "$T/resp" .errorNumber 9728 "a TEST_NOTIFICATION that times out is 9728"
ctl GET "/_sim/deliveries?type=TEST_NOTIFICATION" >/dev/null
assert_json "$T/ctl" '[.deliveries[-1] | .status, (.error | test("[Tt]imeout|timed out"))]' '[0,true]' "timeout recorded"
assert_json "$T/ctl" '.deliveries[-1].durationMs < 60000' true "the attempt was cut at the timeout"
assert_eq "$(recv_count '.notificationType == "TEST_NOTIFICATION"')" 0 "the receiver had not answered yet"
sim_stop
recv_stop # its answer is a minute away: stopped, vn_recv drops it unanswered
ok "bearer, timeout"
