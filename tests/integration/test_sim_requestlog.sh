# The request log (GET /_sim/request-log): every /mdm/v2 request with its location, method,
# path, status and its start and end on the monotonic clock, filtered by uId, bounded
# (--request-log entries, the older ones dropped and counted); maxConcurrent says whether
# two requests of one location were in progress at once.
. "$(dirname "$0")/lib_sim.sh"

recv_start
sim_start --request-log 40 --event-delay 0
sim_location '{"uId":"2049000000000001"}'
A_TOKEN=$STOKEN
sim_location '{"uId":"2049000000000002"}'
B_TOKEN=$STOKEN

# Location A: one request after the other.
STOKEN=$A_TOKEN
for i in $(seq 1 5); do api GET /assets >/dev/null; done
api GET /nowhere >/dev/null
assert_eq "$(ctl GET '/_sim/request-log?uId=2049000000000001')" 200 "log of A"
assert_json "$T/ctl" '[(.entries | length), .maxConcurrent, .capacity, .dropped]' '[5,1,40,0]' \
    "five requests of A, never two at once"
assert_json "$T/ctl" '[.entries[] | [.method, .path, .status, .uId]] | unique' \
    '[["GET","/mdm/v2/assets",200,"2049000000000001"]]' "what each entry says"
assert_json "$T/ctl" '[.entries[] | .endMs > .startMs] | unique' '[true]' "start before end"
assert_json "$T/ctl" '[.entries[] | .startMs] as $s | $s == ($s | sort)' true "in order"
ctl GET '/_sim/request-log' >/dev/null
assert_json "$T/ctl" '[.entries[] | select(.uId == "") | .path]' '["/mdm/v2/nowhere"]' \
    "a request without a location is logged with uId \"\""
ok "sequential requests"

# Location B: a Client Config request waits for its slow TEST_NOTIFICATION while another
# request of B comes and goes: two requests of B in progress at once.
recv_start --delay 1s
STOKEN=$B_TOKEN
curl -sS --max-time 60 -o /dev/null -X POST "$SIM/mdm/v2/client/config" \
    -H "Authorization: Bearer $STOKEN" -H 'Content-Type: application/json' \
    --data-binary "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}" &
cc=$!
wait_for 20 bash -c "curl -sS '$SIM/_sim/processing' | jq_true '.waiting.testNotifications == 1'" ||
    fail "the Client Config is not waiting"
assert_eq "$(api GET /users)" 200 "B: another request meanwhile"
wait "$cc"
ctl GET '/_sim/request-log?uId=2049000000000002' >/dev/null
assert_json "$T/ctl" '[.maxConcurrent, [.entries[] | .path]]' \
    '[2,["/mdm/v2/users","/mdm/v2/client/config"]]' "B: two at once, in the order they ended"
ctl GET '/_sim/request-log?uId=2049000000000001' >/dev/null
assert_json "$T/ctl" .maxConcurrent 1 "A is still never two at once"
ok "overlapping requests of one location"

# Bounded: 40 entries kept; afterId pages on.
STOKEN=$A_TOKEN
for i in $(seq 1 40); do api GET /users >/dev/null; done
ctl GET '/_sim/request-log' >/dev/null
assert_json "$T/ctl" '[(.entries | length), (.dropped > 0)]' '[40,true]' "a ring of 40"
last=$(jq '.entries[-1].id' "$T/ctl")
api GET /assets >/dev/null
ctl GET "/_sim/request-log?afterId=$last" >/dev/null
assert_json "$T/ctl" '[.entries[] | .path]' '["/mdm/v2/assets"]' "afterId: only what came after"
assert_eq "$(ctl GET '/_sim/request-log?limit=0')" 400 "limit 0 is refused"
assert_contains "$T/ctl" "limit '0'" "the error names the parameter"
sim_stop
recv_stop
ok "bounded request log"
