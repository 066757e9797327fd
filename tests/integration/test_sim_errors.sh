# Every Apple error number an MDM must handle can be produced (issue 14): through the business
# rule where Apple has one (9641, 9817), else through a fault of the control API (9623, 9634,
# 9635, 9644, 500/9603 with Retry-After); and the deviations from apple-api.md are gone:
# a notificationUrl with a query string is refused (9712), Get Assets refuses
# sinceVersionId (9602), USER_MANAGEMENT failure elements carry the user's status when the
# user exists, and a missing eventId on Event Status is 9602.
. "$(dirname "$0")/lib_sim.sh"

events_of() { ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null && jq '.events | length' "$T/ctl"; }

recv_start
sim_start --event-delay 0
sim_location
subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"1\",\"totalCount\":100}],
  \"users\":[{\"clientUserId\":\"ann\",\"managedAppleId\":\"ann@school.example\"},
             {\"clientUserId\":\"old\",\"status\":\"Retired\"}],
  \"subscriptions\":[{\"adamId\":500,\"total\":{\"renewing\":5,\"expiring\":0}}],
  \"subscriptionAssignments\":[{\"adamId\":500,\"clientUserId\":\"ann\",\"viaGroup\":true}]}" >/dev/null
assert_json "$T/ctl" .subscriptionAssignments 1 "seeded"

# 9623 (400) and 9634 (410, "Service removed."): forced by apiError, nothing is queued.
assert_eq "$(ctl POST /_sim/faults '{"apiError":{"errorNumber":9623,"count":1,"path":"/mdm/v2/users/create"}}')" 200 "set 9623"
before=$(events_of)
st=$(api POST /users/create '{"users":[{"clientUserId":"x"}]}')
assert_apple_error "$st" 400 9623 "forced 9623"
assert_json "$T/resp" .errorMessage '"The provided Apple Push Notification token is invalid."' "9623 message"
assert_eq "$(events_of)" "$before" "9623: nothing queued"
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"x"}]}')" 200 "count ran out"
ctl POST /_sim/faults '{"apiError":{"errorNumber":9634,"count":2,"path":null}}' >/dev/null
st=$(api GET /assets)
assert_apple_error "$st" 410 9634 "forced 9634"
assert_json "$T/resp" .errorMessage '"Service removed."' "9634 message"
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/users")
assert_apple_error "$st" 410 9634 "forced 9634 on any path"
assert_not_contains "$T/hdr" "Retry-After" "410 has no Retry-After"
assert_eq "$(api GET /assets)" 200 "9634 ran out"
assert_eq "$(ctl POST /_sim/faults '{"apiError":{"errorNumber":9644,"count":1}}')" 400 "9644 is not synchronous"
assert_contains "$T/ctl" "9644" "the error names the value"
ok "9623 and 9634"

# 500/9603 with Retry-After, from the control API and from --fault-500 (below).
ctl POST /_sim/faults '{"http500":{"count":1,"retryAfter":120}}' >/dev/null
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/assets")
assert_apple_error "$st" 500 9603 "forced 500"
assert_contains "$T/hdr" "Retry-After: 120" "500 Retry-After"
ctl GET /_sim/faults >/dev/null
assert_json "$T/ctl" '.http500 | [.count, .retryAfter]' '[0,120]' "the count ran out"
ok "500/9603 with Retry-After"

# 9635 and 9644 (async): asyncError fails the next tasks of an event with the number.
ctl POST /_sim/faults '{"asyncError":{"errorNumber":9635,"count":1,"kind":"users"}}' >/dev/null
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"u1","email":"u1@school.example"},{"clientUserId":"u2"}]}')" 200 "create"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted, [.failures[] | [.errorNumber, .errorInfo.clientUserIds]]]' \
    '["FAILED",1,[[9635,["u1"]]]]' "9635 in Event Status"
assert_json "$RECV_LOG" "select(.eventId == \"$EV\" and .body.notification.result == \"FAILURE\") | .body.notification | [.error.errorNumber, .users]" \
    '[9635,[{"clientUserId":"u1","email":"u1@school.example"}]]' "9635 FAILURE notification (the user does not exist: no status)"
ctl POST /_sim/faults '{"asyncError":{"errorNumber":9644,"probability":1,"kind":"assets"}}' >/dev/null
assert_eq "$(api POST /assets/associate '{"assets":[{"adamId":"1"}],"serialNumbers":["S1","S2"]}')" 200 "associate"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted, [.failures[] | [.errorNumber, .errorInfo.serialNumbers]]]' \
    '["FAILED",0,[[9644,["S1","S2"]]]]' "9644 in Event Status"
assert_json "$RECV_LOG" "select(.eventId == \"$EV\") | .body.notification | [.result, .error.errorNumber, (.assignments | length)]" \
    '["FAILURE",9644,2]' "9644 FAILURE notification"
api GET /assets >/dev/null
assert_json "$T/resp" '.assets[0].assignedCount' 0 "9644: no license consumed"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
ok "9635 and 9644"

# 9641: a managedAppleId that another active user holds (the business rule).
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"bob","managedAppleId":"ann@school.example"},{"clientUserId":"cid","managedAppleId":"cid@school.example"}]}')" 200 "create"
EV=$(jq -r .eventId "$T/resp")
assert_eq "$(api POST /users/update '{"users":[{"clientUserId":"u2","managedAppleId":"ann@school.example"}]}')" 200 "update"
EV2=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted, [.failures[] | [.errorNumber, .errorInfo.clientUserIds]]]' \
    '["FAILED",1,[[9641,["bob"]]]]' "9641 on create"
api GET "/status?eventId=$EV2" >/dev/null
assert_json "$T/resp" '[.failures[] | [.errorNumber, .errorInfo.clientUserIds]]' '[[9641,["u2"]]]' "9641 on update"
assert_json "$RECV_LOG" "select(.eventId == \"$EV2\") | .body.notification | [.error.errorNumber, (.users[0] | [.clientUserId, .status])]" \
    '[9641,["u2","Registered"]]' "9641 element: the existing user with its status"
api GET '/users?clientUserId=u2' >/dev/null
assert_json "$T/resp" '[.users[] | .status]' '["Registered"]' "u2 unchanged"
ok "9641"

# 9817: a seat held through group membership cannot be assigned, nor taken away, directly.
st=$(api POST /subscriptions/associate '{"adamIds":[500],"clientUserIds":["ann"]}')
assert_apple_error "$st" 400 9817 "associate a group seat"
assert_json "$T/resp" .errorInfo.clientUserIds '["ann"]' "9817 names the user"
st=$(api POST /subscriptions/disassociate '{"adamIds":[500],"clientUserIds":["ann"]}')
assert_apple_error "$st" 400 9817 "disassociate a group seat"
ok "9817"

# USER_MANAGEMENT failure elements: the user's row (with status) when it exists.
assert_eq "$(api POST /users/retire '{"users":[{"clientUserId":"old"},{"clientUserId":"never"}]}')" 200 "retire"
EV=$(jq -r .eventId "$T/resp")
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"ann"}]}')" 200 "create existing"
EV2=$(jq -r .eventId "$T/resp")
settle
assert_json "$RECV_LOG" "select(.eventId == \"$EV\") | .body.notification.users | map([.clientUserId, .status])" \
    '[["old","Retired"],["never",null]]' "9609: a retired user with its status; a never-known one without"
assert_json "$RECV_LOG" "select(.eventId == \"$EV2\") | .body.notification | [.error.errorNumber, .users[0].status]" \
    '[9716,"Associated"]' "9716: the existing user with its status"
ok "USER_MANAGEMENT failure elements"

# Deviations removed.
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL?key=1\",\"notificationAuthToken\":\"$RECV_TOKEN\"}")
assert_apple_error "$st" 400 9712 "a query string is refused"
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL#top\",\"notificationAuthToken\":\"$RECV_TOKEN\"}")
assert_apple_error "$st" 400 9712 "a fragment is refused"
api GET /client/config >/dev/null
assert_json "$T/resp" .notificationUrl "\"$RECV_URL\"" "the URL is unchanged"
st=$(api GET /assets)
V=$(jq -r .versionId "$T/resp")
st=$(api GET "/assets?sinceVersionId=$V")
assert_apple_error "$st" 400 9602 "Get Assets refuses sinceVersionId"
assert_json "$T/resp" '.errorMessage | test("sinceVersionId")' true "the message says which parameter"
st=$(api GET /status)
assert_apple_error "$st" 400 9602 "Event Status without eventId"
st=$(api GET '/status?eventId=nope')
assert_apple_error "$st" 400 9708 "an unknown eventId is still 9708"
ok "deviations"
sim_stop

# --fault-500 at start.
sim_start --fault-500 1 --fault-retry-after 30
sim_location
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/users")
assert_apple_error "$st" 500 9603 "--fault-500"
assert_contains "$T/hdr" "Retry-After: 30" "--fault-retry-after"
assert_eq "$(api GET /users)" 200 "only the next one"
sim_stop
recv_stop
ok "--fault-500"
