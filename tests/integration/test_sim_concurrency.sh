# vppsim never makes an HTTP thread wait: with 2 HTTP threads, six /_sim/settle requests and a
# Client Config whose TEST_NOTIFICATION the receiver answers slowly all wait inside vppsim's
# engine while other requests (Apple's API and the control API) are answered; then each
# waiting request gets its own answer.
. "$(dirname "$0")/lib_sim.sh"

waiting_is() { # SETTLES TESTS: the engine holds that many waiting requests
    ctl GET /_sim/processing >/dev/null &&
        [ "$(jq -c '[.waiting.settle, .waiting.testNotifications]' "$T/ctl")" = "[$1,$2]" ]
}

recv_start
sim_start --http-threads 2 --event-delay 0
sim_location
subscribe '["USER_MANAGEMENT"]'

# Six settles wait for an event that processing holds PENDING.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"a"}]}')" 200 "create"
pids=()
for i in 1 2 3 4 5 6; do
    curl -sS --max-time 60 -o "$T/settle.$i" -w '%{http_code}' -X POST \
        "$SIM/_sim/settle?timeout=60" >"$T/settle.$i.code" &
    pids+=($!)
done
wait_for 20 waiting_is 6 0 || fail "six settles are not waiting: $(cat "$T/ctl")"

# Meanwhile both HTTP threads answer everything else.
for i in $(seq 1 10); do
    assert_eq "$(api GET /assets)" 200 "Apple API answered while settles wait ($i)"
    assert_eq "$(ctl GET /_sim/faults)" 200 "control API answered while settles wait ($i)"
done
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$SIM/mdm/v2/service/config")" 200 "service config"
waiting_is 6 0 || fail "the settles stopped waiting before the event was processed: $(cat "$T/ctl")"
for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "a settle answered while the event was still PENDING"
done
ok "six settles wait, other requests are answered"

ctl POST /_sim/processing '{"paused":false}' >/dev/null
for i in 1 2 3 4 5 6; do
    wait "${pids[$((i - 1))]}" || fail "settle $i: curl failed"
    assert_eq "$(cat "$T/settle.$i.code")" 200 "settle $i answered once settled"
    assert_json "$T/settle.$i" .settled true "settle $i: settled"
done
waiting_is 0 0 || fail "requests still waiting: $(cat "$T/ctl")"
ok "each settle answered once the event completed"

# A settle that times out while others are served: 504 with what is pending.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
api POST /users/create '{"users":[{"clientUserId":"b"}]}' >/dev/null
assert_eq "$(ctl POST '/_sim/settle?timeout=1')" 504 "settle times out"
assert_json "$T/ctl" '[.settled, .pendingEvents]' '[false,1]' "what is pending"
ctl POST /_sim/processing '{"paused":false}' >/dev/null
settle
ok "settle timeout"

# A TEST_NOTIFICATION that the receiver answers only once the test lets it (an order, not a
# time: a fixed delay was outrun by the requests below under load): the Client Config request
# waits in the engine; the HTTP threads go on answering.
touch "$T/hold"
recv_start --hold-while-file "$T/hold"
curl -sS --max-time 60 -o "$T/cc" -w '%{http_code}' -X POST "$SIM/mdm/v2/client/config" \
    -H "Authorization: Bearer $STOKEN" -H 'Content-Type: application/json' \
    --data-binary "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}" \
    >"$T/cc.code" &
cc=$!
wait_for 20 waiting_is 0 1 || fail "the Client Config is not waiting for its test: $(cat "$T/ctl")"
for i in $(seq 1 5); do
    assert_eq "$(api GET /users)" 200 "answered while a TEST_NOTIFICATION is out ($i)"
done
kill -0 "$cc" 2>/dev/null || fail "the Client Config answered before its TEST_NOTIFICATION did"
rm "$T/hold"
wait "$cc" || fail "client config: curl failed"
assert_eq "$(cat "$T/cc.code")" 200 "Client Config accepted after the slow test"
assert_json "$T/cc" .notificationUrl "\"$RECV_URL\"" "the new URL is stored"
assert_eq "$(recv_count '.notificationType == "TEST_NOTIFICATION"')" 1 "one TEST_NOTIFICATION"
ok "a slow TEST_NOTIFICATION holds no HTTP thread"

sim_stop
recv_stop
