# vppsim assets: Get Assets (filters, page-index pagination, 9650), Get Assignments (pages,
# sinceVersionId deltas, 9721), associate/disassociate/revoke validation (9700-9707,
# 9718, 9719), async processing (PENDING then COMPLETE/FAILED, 9709, 9609), notifications
# (250 serials -> 3 notifications, one eventId, 250 assignments; FAILURE with 9709), and the
# state dump against what the API reports.
. "$(dirname "$0")/lib_sim.sh"

recv_start
sim_start --page-size 2
sim_location
subscribe

seed=$(jq -nc --arg u "$LOC_UID" '{uId: $u,
  assets: [{adamId: "100", totalCount: 300}, {adamId: "200", totalCount: 2},
           {adamId: "300", totalCount: 5, productType: "Book"},
           {adamId: "400", pricingParam: "PLUS", totalCount: 1, revocable: false},
           {adamId: "500", unlimited: true}],
  users: [{clientUserId: "u1", email: "u1@example.com"}, {clientUserId: "u2"}, {clientUserId: "u3"}]}')
assert_eq "$(ctl POST /_sim/seed "$seed")" 200 "seed"
assert_json "$T/ctl" '[.assets, .users]' '[5,3]' "seed counts"

# Get Assets: pages of 2, filters.
api GET /assets >/dev/null
assert_json "$T/resp" '[.currentPageIndex, .nextPageIndex, .size, .totalPages]' '[0,1,2,3]' "first page"
assert_json "$T/resp" '.assets[0] | [.adamId, .totalCount, .availableCount, .assignedCount, .deviceAssignable, .revocable]' '["100",300,300,0,true,true]' "asset shape"
V0=$(jq -r .versionId "$T/resp")
api GET '/assets?pageIndex=2' >/dev/null
assert_json "$T/resp" '[.currentPageIndex, .nextPageIndex, .size, .assets[0].adamId, .assets[0].totalCount]' '[2,null,1,"500",2147483647]' "last page, unlimited asset"
st=$(api GET '/assets?pageIndex=3')
assert_apple_error "$st" 400 9650 "page index out of range"
st=$(api GET '/assets?pageIndex=x')
assert_apple_error "$st" 400 9602 "bad page index"
api GET '/assets?productType=Book' >/dev/null
assert_json "$T/resp" '[.assets[].adamId]' '["300"]' "productType filter"
api GET '/assets?pricingParam=PLUS&revocable=false' >/dev/null
assert_json "$T/resp" '[.assets[].adamId]' '["400"]' "pricingParam + revocable filter"
api GET '/assets?unlimited=true' >/dev/null
assert_json "$T/resp" '[.unlimitedAssets[].adamId, (.assets | map(.adamId) | index("500"))]' '["500",null]' "unlimited=true"
api GET '/assets?minAvailableCount=3&maxAvailableCount=300' >/dev/null
assert_json "$T/resp" '[.assets[].adamId]' '["100","300"]' "available count bounds"
ok "get assets"

# Synchronous validation of associate/disassociate/revoke.
st=$(api POST /assets/associate '{"clientUserIds":["u1"]}')
assert_apple_error "$st" 400 9718 "assets missing"
st=$(api POST /assets/associate '{"assets":[{"adamId":"100"}]}')
assert_apple_error "$st" 400 9719 "no users or serials"
many=$(jq -nc '[range(26) | {adamId: "\(1000 + .)"}]')
st=$(api POST /assets/associate "{\"assets\":$many,\"clientUserIds\":[\"u1\"]}")
assert_apple_error "$st" 400 9700 "too many assets"
ids=$(jq -nc '[range(1001) | "x\(.)"]')
st=$(api POST /assets/associate "{\"assets\":[{\"adamId\":\"100\"}],\"clientUserIds\":$ids}")
assert_apple_error "$st" 400 9701 "too many clientUserIds"
st=$(api POST /assets/associate "{\"assets\":[{\"adamId\":\"100\"}],\"serialNumbers\":$ids}")
assert_apple_error "$st" 400 9702 "too many serialNumbers"
st=$(api POST /assets/associate '{"assets":[{"adamId":"100"},{"adamId":"100","pricingParam":"STDQ"}],"clientUserIds":["u1"]}')
assert_apple_error "$st" 400 9703 "duplicate assets"
st=$(api POST /assets/associate '{"assets":[{"adamId":"100"}],"clientUserIds":["u1","u1"]}')
assert_apple_error "$st" 400 9704 "duplicate clientUserIds"
st=$(api POST /assets/associate '{"assets":[{"adamId":"100"}],"serialNumbers":["S","S"]}')
assert_apple_error "$st" 400 9705 "duplicate serialNumbers"
st=$(api POST /assets/disassociate '{"assets":[{"adamId":"400","pricingParam":"PLUS"}],"clientUserIds":["u1"]}')
assert_apple_error "$st" 400 9706 "not revocable"
assert_json "$T/resp" '.errorInfo.assets' '[{"adamId":"400","pricingParam":"PLUS"}]' "9706 errorInfo"
st=$(api POST /assets/associate '{"assets":[{"adamId":"300"}],"serialNumbers":["S1"]}')
assert_apple_error "$st" 400 9707 "book on a device"
st=$(api POST /assets/revoke '{}')
assert_apple_error "$st" 400 9719 "revoke needs users or serials"
ids=$(jq -nc '[range(101) | "x\(.)"]')
st=$(api POST /assets/revoke "{\"clientUserIds\":$ids}")
assert_apple_error "$st" 400 9701 "revoke limit maxRevokeClientUserIds"
st=$(api POST /assets/revoke "{\"serialNumbers\":$ids}")
assert_apple_error "$st" 400 9702 "revoke limit maxRevokeSerialNumbers"
ctl GET /_sim/state?uId="$LOC_UID" >/dev/null
assert_json "$T/ctl" '.events | length' 0 "no event was created by a rejected request"
ok "synchronous validation"

# Associate 250 serials: PENDING while paused, then COMPLETE and 3 notifications.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
serials=$(jq -nc '[range(250) | "SN\(.)"]')
assert_eq "$(api POST /assets/associate "{\"assets\":[{\"adamId\":\"100\"}],\"serialNumbers\":$serials}")" 200 "associate"
EV=$(jq -r .eventId "$T/resp")
assert_json "$T/resp" '[.uId, (.eventId | length)]' "[\"$LOC_UID\",36]" "EventResponse"
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numRequested, .numCompleted]' '["PENDING","ASSOCIATE",250,0]' "pending"
ctl POST /_sim/processing '{"paused":false}' >/dev/null
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numRequested, .numCompleted, has("failures")]' '["COMPLETE",250,250,false]' "complete"
assert_eq "$(recv_count ".eventId == \"$EV\"")" 3 "3 notifications"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e)]' "$RECV_LOG" >"$T/n250.json"
assert_json "$T/n250.json" '[.[].body.notification.assignments | length] | add' 250 "250 assignments in all"
assert_json "$T/n250.json" '[.[].body.notification.assignments | length] | max' 100 "at most 100 per notification"
assert_json "$T/n250.json" '[.[].body.notification | .type, .result] | unique' '["ASSOCIATE","SUCCESS"]' "type and result"
assert_json "$T/n250.json" '[.[].body.notification.assignments[].serialNumber] | unique | length' 250 "every serial once"
assert_json "$T/n250.json" '[.[].body.notificationId] | unique | length' 3 "distinct notificationIds"
assert_json "$T/n250.json" '[.[].body.notification.assignments[0] | keys] | unique' '[["adamId","pricingParam","serialNumber"]]' "assignment element keys"
api GET '/assets?adamId=100' >/dev/null
assert_json "$T/resp" '.assets[0] | [.assignedCount, .availableCount]' '[250,50]' "licenses consumed"
ok "associate 250 serials"

# 9709 when licenses run out, and 9609 for an unknown user: FAILED with grouped failures,
# one SUCCESS and FAILURE notifications per error number.
assert_eq "$(api POST /assets/associate '{"assets":[{"adamId":"200"}],"clientUserIds":["u1","u2","u3","ghost"]}')" 200 "associate"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numRequested, .numCompleted]' '["FAILED",4,2]' "failed with 2 of 4"
assert_json "$T/resp" '[.failures[] | [.errorNumber, .errorInfo.clientUserIds]]' '[[9609,["ghost"]],[9709,["u3"]]]' "failures grouped"
assert_json "$T/resp" '[.failures[].errorInfo.assets[0].adamId] | unique' '["200"]' "errorInfo assets"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e) | .body.notification]' "$RECV_LOG" >"$T/n9709.json"
assert_json "$T/n9709.json" '[.[] | [.result, .error.errorNumber, (.assignments | map(.clientUserId))]] | sort' \
    '[["FAILURE",9609,["ghost"]],["FAILURE",9709,["u3"]],["SUCCESS",null,["u1","u2"]]]' "notifications per result"
ok "9709 and 9609"

# Get Assignments: pages, filters, sinceVersionId.
api GET /assignments >/dev/null
assert_json "$T/resp" '[.totalPages, .size, .currentPageIndex, .nextPageIndex]' '[126,2,0,1]' "assignment pages"
VA=$(jq -r .versionId "$T/resp")
api GET '/assignments?pageIndex=125' >/dev/null
assert_json "$T/resp" '[.size, has("nextPageIndex"), .assignments[].clientUserId]' '[2,false,"u1","u2"]' "last assignment page"
api GET '/assignments?clientUserId=u1&includeUserState=true' >/dev/null
assert_json "$T/resp" '.assignments' '[{"adamId":"200","pricingParam":"STDQ","clientUserId":"u1","userStatus":"Registered"}]' "includeUserState"
api GET "/assignments?sinceVersionId=$VA" >/dev/null
assert_json "$T/resp" '[.size, .totalPages]' '[0,1]' "empty delta"
st=$(api GET '/assignments?sinceVersionId=not-a-version')
assert_apple_error "$st" 400 9721 "invalid version"
st=$(api GET "/assignments?sinceVersionId=$V0")
assert_apple_error "$st" 400 9721 "a versionId of another collection"

# Disassociate u1 (releases a license); revoke serials SN0, SN1 and the unknown user.
assert_eq "$(api POST /assets/disassociate '{"assets":[{"adamId":"200"}],"clientUserIds":["u1"]}')" 200 "disassociate"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numCompleted]' '["COMPLETE","DISASSOCIATE",1]' "disassociated"
api GET "/assignments?sinceVersionId=$VA" >/dev/null
assert_json "$T/resp" '.size' 0 "removals are not in deltas (documented)"
assert_eq "$(api POST /assets/associate '{"assets":[{"adamId":"200"}],"clientUserIds":["u3"]}')" 200 "associate u3"
settle
api GET "/assignments?sinceVersionId=$VA" >/dev/null
assert_json "$T/resp" '[.assignments[] | .clientUserId]' '["u3"]' "delta has the new assignment"
assert_eq "$(api POST /assets/revoke '{"serialNumbers":["SN0","SN1"],"clientUserIds":["ghost"]}')" 200 "revoke"
EV=$(jq -r .eventId "$T/resp")
assert_json "$T/resp" '.eventId | length' 36 "revoke eventId"
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numRequested, .numCompleted, .failures[0].errorNumber]' '["FAILED","REVOKE",3,2,9609]' "revoke status"
assert_json "$T/resp" '.failures[0].errorInfo.clientUserIds' '["ghost"]' "revoke failure info"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e and .body.notification.result == "SUCCESS") | .body.notification]' "$RECV_LOG" >"$T/nrev.json"
assert_json "$T/nrev.json" '[.[0].type, ([.[0].assignments[].serialNumber] | sort)]' '["REVOKE",["SN0","SN1"]]' "REVOKE notification"
st=$(api GET '/status?eventId=nope')
assert_apple_error "$st" 400 9708 "unknown eventId"
ok "assignments, disassociate, revoke"

# Purchases, refunds and transfers: ASSET_COUNT with a signed countDelta to each location.
FIRST_UID=$LOC_UID FIRST_TOKEN=$STOKEN
sim_location '{"orgName":"Other"}'
subscribe '["ASSET_COUNT"]'
SECOND_UID=$LOC_UID
LOC_UID=$FIRST_UID STOKEN=$FIRST_TOKEN
assert_eq "$(ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"300\",\"count\":10}")" 200 "purchase"
assert_eq "$(ctl POST /_sim/refund "{\"uId\":\"$LOC_UID\",\"adamId\":\"300\",\"count\":4}")" 200 "refund"
assert_eq "$(ctl POST /_sim/refund "{\"uId\":\"$LOC_UID\",\"adamId\":\"100\",\"count\":60}")" 409 "refund of assigned licenses"
assert_eq "$(ctl POST /_sim/transfer "{\"uId\":\"$LOC_UID\",\"toUId\":\"$SECOND_UID\",\"adamId\":\"300\",\"count\":5}")" 200 "transfer"
settle
jq -s -c '[.[] | select(.notificationType == "ASSET_COUNT") | [.body.uId, .body.notification.adamId, .body.notification.countDelta]] | sort' "$RECV_LOG" >"$T/ac.json"
assert_eq "$(cat "$T/ac.json")" "$(jq -nc --arg a "$FIRST_UID" --arg b "$SECOND_UID" '[[$a,"300",10],[$a,"300",-4],[$a,"300",-5],[$b,"300",5]] | sort')" "ASSET_COUNT deltas (deliveries are concurrent: any order)"
api GET '/assets?adamId=300' >/dev/null
assert_json "$T/resp" '.assets[0] | [.totalCount, .availableCount]' '[6,6]' "counts after purchase, refund, transfer"
ok "purchase, refund, transfer"

# The state dump is what the API reports.
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
cp "$T/ctl" "$T/state.json"
all_assets='[]'
for p in 0 1 2; do
    api GET "/assets?pageIndex=$p" >/dev/null
    all_assets=$(jq -c --argjson a "$all_assets" '$a + .assets' "$T/resp")
done
assert_json "$T/state.json" '[.assets[] | del(.unlimited)]' "$all_assets" "state assets = Get Assets"
pages=$(api GET /assignments >/dev/null; jq .totalPages "$T/resp")
: >"$T/asg.jsonl"
for ((p = 0; p < pages; p++)); do
    api GET "/assignments?pageIndex=$p" >/dev/null
    jq -c '.assignments[]' "$T/resp" >>"$T/asg.jsonl"
done
assert_eq "$(jq -s -c 'sort_by(.adamId, .clientUserId, .serialNumber)' "$T/asg.jsonl")" \
    "$(jq -c '.assignments | sort_by(.adamId, .clientUserId, .serialNumber)' "$T/state.json")" "state assignments = Get Assignments"
assert_json "$T/state.json" '[.events[] | .eventStatus] | length' 5 "state lists the events"
assert_json "$T/state.json" '[.assets[] | select(.adamId == "300") | .totalCount]' '[6]' "state after transfer"
assert_json "$T/state.json" ".versionIds.assignments" "\"$(api GET /assignments >/dev/null; jq -r .versionId "$T/resp")\"" "versionIds"
sim_stop
ok "state dump"
