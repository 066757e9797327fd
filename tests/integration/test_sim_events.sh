# vppsim async events processed in steps (--event-batch): progress while PENDING
# (numCompleted grows), failures accumulated across steps, notifications per step with one
# eventId, and an event that survives a restart half-way (--state).
. "$(dirname "$0")/lib_sim.sh"

recv_start
# Steps of 100 tasks, 1 s apart (100 s scaled by 0.01).
sim_start --event-delay 0 --event-batch 100 --event-step 100s --state "$T/state.db"
sim_location
subscribe '["ASSET_MANAGEMENT"]'
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"1\",\"totalCount\":150}]}" >/dev/null

serials=$(jq -nc '[range(250) | "SN\(.)"]')
assert_eq "$(api POST /assets/associate "{\"assets\":[{\"adamId\":\"1\"}],\"serialNumbers\":$serials}")" 200 "associate"
EV=$(jq -r .eventId "$T/resp")
progress() {
    api GET "/status?eventId=$EV" >/dev/null
    [ "$(jq .numCompleted "$T/resp")" != 0 ]
}
wait_for 10 progress || fail "no progress"
assert_json "$T/resp" '[.eventStatus, .numRequested, .numCompleted, has("failures")]' '["PENDING",250,100,false]' "after the first step"

# Restart half-way: the event goes on from where it was.
sim_stop
sim_start --event-delay 0 --event-batch 100 --event-step 1s --state "$T/state.db"
settle 30
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numRequested, .numCompleted]' '["FAILED",250,150]' "final status"
assert_json "$T/resp" '[.failures[] | [.errorNumber, (.errorInfo.serialNumbers | length)]]' '[[9709,100]]' "9709 for the last 100 serials, across steps"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e) | .body.notification]' "$RECV_LOG" >"$T/n.json"
assert_json "$T/n.json" '[.[] | [.result, (.assignments | length)]] | sort' '[["FAILURE",50],["FAILURE",50],["SUCCESS",50],["SUCCESS",100]]' "steps 1-3: 100 ok; 50 ok + 50 failed; 50 failed"
assert_json "$T/n.json" '[.[] | select(.result == "SUCCESS") | .assignments[].serialNumber] | unique | length' 150 "150 distinct successes"
api GET '/assets?adamId=1' >/dev/null
assert_json "$T/resp" '.assets[0] | [.assignedCount, .availableCount]' '[150,0]' "no task processed twice"
sim_stop
ok "stepwise processing, restart half-way"
