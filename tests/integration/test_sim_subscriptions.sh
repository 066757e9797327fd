# vppsim subscriptions: enable/disable (9818), seat purchase (SUBSCRIPTION_COUNT), cursor
# pagination (9812), associate/disassociate validation (9811, 9813, 9814, 9815, 9816), seat
# counting with renewing/expiring, 9709, deferred disassociation finished at period end, and
# admins add/remove/get.
. "$(dirname "$0")/lib_sim.sh"

recv_start
sim_start --page-size 2
sim_location
subscribe

assert_eq "$(ctl POST /_sim/subscriptions/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":12345,\"renewing\":2}")" 409 "purchase needs enable"
st=$(api POST /subscriptions/associate '{"adamIds":[12345],"clientUserIds":["a"]}')
assert_apple_error "$st" 400 9811 "associate before enable"
assert_eq "$(api POST /subscriptions/enable)" 200 "enable"
assert_json "$T/resp" '[.subscriptionManagement, .uId]' "[true,\"$LOC_UID\"]" "enabled"
assert_eq "$(api POST /subscriptions/disable)" 200 "disable without subscriptions"
assert_json "$T/resp" .subscriptionManagement false "disabled"
api POST /subscriptions/enable >/dev/null

for a in 11 12 13 14 15; do
    assert_eq "$(ctl POST /_sim/subscriptions/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":$a,\"parentAdamId\":99,\"renewing\":2,\"expiring\":1}")" 200 "purchase $a"
done
settle
st=$(api POST /subscriptions/disable)
assert_apple_error "$st" 400 9818 "disable with subscriptions"
assert_eq "$(recv_count '.notificationType == "SUBSCRIPTION_COUNT"')" 5 "one SUBSCRIPTION_COUNT per purchase"
# Purchase 11's (deliveries are concurrent: the receiver may log another purchase's first).
jq -s '[.[] | select(.notificationType == "SUBSCRIPTION_COUNT" and .body.notification.adamId == 11)][0].body.notification' "$RECV_LOG" >"$T/sc.json"
assert_json "$T/sc.json" '[.adamId, .parentAdamId, .counts]' '[11,99,{"available":{"renewing":2,"expiring":1},"total":{"renewing":2,"expiring":1}}]' "SUBSCRIPTION_COUNT has no assigned"
ok "enable, disable, purchase"

# Cursor pagination: 5 subscriptions, 2 per page.
api GET /subscriptions >/dev/null
assert_json "$T/resp" '[[.subscriptions[].adamId], has("nextCursor"), (.versionId | length)]' '[[11,12],true,36]' "page 1"
assert_json "$T/resp" '.subscriptions[0] | [.status, (.periodEndDate | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")), .counts.assigned]' '["ACTIVE",true,{"renewing":0,"expiring":0}]' "subscription shape"
seen=$(jq -c '[.subscriptions[].adamId]' "$T/resp")
cur=$(jq -r .nextCursor "$T/resp")
while [ -n "$cur" ] && [ "$cur" != null ]; do
    api GET "/subscriptions?cursor=$cur" >/dev/null
    seen=$(jq -c --argjson s "$seen" '$s + [.subscriptions[].adamId]' "$T/resp")
    cur=$(jq -r '.nextCursor // empty' "$T/resp")
done
assert_eq "$seen" '[11,12,13,14,15]' "every subscription once across pages"
st=$(api GET '/subscriptions?cursor=garbage')
assert_apple_error "$st" 400 9812 "invalid cursor"
api GET '/subscriptions?adamId=13,14' >/dev/null
assert_json "$T/resp" '[.subscriptions[].adamId]' '[13,14]' "adamId filter"
st=$(api GET '/subscriptions?adamId=x')
assert_apple_error "$st" 400 9813 "bad adamId filter"
ok "cursor pagination"

# Users: only associated registered users can take seats.
seed=$(jq -nc --arg u "$LOC_UID" '{uId: $u, users: [{clientUserId: "m1", managedAppleId: "m1@x.example"},
  {clientUserId: "m2", managedAppleId: "m2@x.example"}, {clientUserId: "m3", managedAppleId: "m3@x.example"},
  {clientUserId: "m4", managedAppleId: "m4@x.example"}, {clientUserId: "reg"}]}')
assert_eq "$(ctl POST /_sim/seed "$seed")" 200 "seed users"
st=$(api POST /subscriptions/associate '{"adamIds":[12345],"clientUserIds":["m1"]}')
assert_apple_error "$st" 400 9813 "unknown subscription"
st=$(api POST /subscriptions/associate '{"adamIds":[11],"clientUserIds":["reg"]}')
assert_apple_error "$st" 400 9814 "user not associated"
st=$(api POST /subscriptions/associate '{"adamIds":[11]}')
assert_apple_error "$st" 400 9811 "clientUserIds missing"
many=$(jq -nc '[range(26) | 1000 + .]')
st=$(api POST /subscriptions/associate "{\"adamIds\":$many,\"clientUserIds\":[\"m1\"]}")
assert_apple_error "$st" 400 9816 "too many subscriptions"
st=$(api POST /subscriptions/disassociate '{"adamIds":[11],"clientUserIds":["m1"]}')
assert_apple_error "$st" 400 9815 "not assigned"
ok "subscription validation"

# Seats: 2 renewing + 1 expiring. m1 renewing, m2 expiring, m3 expiring (takes a renewing
# license), m4 -> 9709.
assert_eq "$(api POST /subscriptions/associate '{"adamIds":[11],"clientUserIds":["m1"],"renewing":true}')" 200 "associate m1"
settle
assert_eq "$(api POST /subscriptions/associate '{"adamIds":[11],"clientUserIds":["m2","m3","m4"],"renewing":false}')" 200 "associate m2-m4"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numRequested, .numCompleted, .failures[0].errorNumber, .failures[0].errorInfo.clientUserIds]' '["FAILED","ASSOCIATE",3,2,9709,["m4"]]' "9709 when seats run out"
api GET '/subscriptions?adamId=11' >/dev/null
assert_json "$T/resp" '.subscriptions[0].counts' '{"assigned":{"renewing":1,"expiring":2},"available":{"renewing":0,"expiring":0},"total":{"renewing":2,"expiring":1}}' "counts after associate"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e) | .body.notification] | sort_by(.result)' "$RECV_LOG" >"$T/sm.json"
assert_json "$T/sm.json" '[.[] | [.result, ([.assignments[] | [.adamId, .clientUserId, .renewing]])]]' \
    '[["FAILURE",[[11,"m4",false]]],["SUCCESS",[[11,"m2",false],[11,"m3",false]]]]' "SUBSCRIPTION_MANAGEMENT payloads"
api GET '/subscriptions/assignments?adamId=11' >/dev/null
assert_json "$T/resp" '[.assignments[] | [.clientUserId, .renewing]]' '[["m1",true],["m2",false]]' "assignments page 1"
cur=$(jq -r .nextCursor "$T/resp")
api GET "/subscriptions/assignments?cursor=$cur" >/dev/null
assert_json "$T/resp" '[[.assignments[] | [.clientUserId, .renewing]], has("nextCursor")]' '[[["m3",false]],false]' "assignments page 2"
ok "seat counting"

# Immediate disassociation frees the seat; a deferred one waits for period end.
assert_eq "$(api POST /subscriptions/disassociate '{"adamIds":[11],"clientUserIds":["m3"]}')" 200 "disassociate m3"
settle
api GET '/subscriptions?adamId=11' >/dev/null
assert_json "$T/resp" '.subscriptions[0].counts.available' '{"renewing":1,"expiring":0}' "m3's renewing license is back"
assert_eq "$(api POST /subscriptions/disassociate '{"adamIds":[11],"clientUserIds":["m1"],"deferred":true}')" 200 "deferred disassociate m1"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted]' '["PENDING",0]' "deferred stays pending"
assert_eq "$(recv_count ".eventId == \"$EV\"")" 0 "no notification before period end"
assert_eq "$(ctl POST /_sim/period-end "{\"uId\":\"$LOC_UID\",\"adamId\":11}")" 200 "period end"
assert_json "$T/ctl" '.subscriptions[0] | [.deferredDisassociations, .expiredAssignments]' '[1,1]' "period end summary"
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted]' '["COMPLETE",1]' "deferred complete"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e) | .body.notification]' "$RECV_LOG" >"$T/def.json"
assert_json "$T/def.json" '[.[] | [.type, .result, .assignments]]' '[["DISASSOCIATE","SUCCESS",[{"adamId":11,"clientUserId":"m1","renewing":true}]]]' "deferred notification"
api GET '/subscriptions?adamId=11' >/dev/null
assert_json "$T/resp" '.subscriptions[0].counts' '{"assigned":{"renewing":0,"expiring":0},"available":{"renewing":2,"expiring":0},"total":{"renewing":2,"expiring":0}}' "after period end"
ok "disassociate, deferred, period end"

# Admins.
assert_eq "$(api POST /subscriptions/admins/add '{"adamIds":[11,12],"clientUserIds":["m1","m2"]}')" 200 "admins add"
assert_json "$T/resp" '[(.versionId | length), .uId]' "[36,\"$LOC_UID\"]" "admins add response"
api POST /subscriptions/admins/remove '{"adamIds":[12],"clientUserIds":["m2"]}' >/dev/null
api GET '/subscriptions/admins?includeUserState=true' >/dev/null
assert_json "$T/resp" '[.admins[] | [.adamId, .clientUserId, .userStatus, (.idHash | length > 0)]]' '[[11,"m1","Associated",true],[11,"m2","Associated",true]]' "admins page 1"
cur=$(jq -r .nextCursor "$T/resp")
api GET "/subscriptions/admins?cursor=$cur" >/dev/null
assert_json "$T/resp" '[[.admins[] | [.adamId, .clientUserId, has("userStatus")]], has("nextCursor")]' '[[[12,"m1",false]],false]' "admins page 2"
st=$(api GET "/subscriptions/assignments?cursor=$cur")
assert_apple_error "$st" 400 9812 "a cursor of another endpoint"
sim_stop
ok "admins"
