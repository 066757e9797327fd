# vppsim users: create/update/retire validation (9720, 9714, 9715, 9717), async rules (9716,
# 9609), USER_MANAGEMENT notifications, Get Users pages and sinceVersionId, history rows,
# invitation acceptance (USER_ASSOCIATED), and a 5,000-user / 20,000-assignment seed.
. "$(dirname "$0")/lib_sim.sh"

recv_start
sim_start --page-size 3
sim_location
subscribe

st=$(api POST /users/create '{}')
assert_apple_error "$st" 400 9720 "users missing"
st=$(api POST /users/create '{"users":[]}')
assert_apple_error "$st" 400 9720 "users empty"
many=$(jq -nc '[range(101) | {clientUserId: "c\(.)"}]')
st=$(api POST /users/create "{\"users\":$many}")
assert_apple_error "$st" 400 9714 "too many users"
st=$(api POST /users/create '{"users":[{"clientUserId":"a"},{"clientUserId":"a"}]}')
assert_apple_error "$st" 400 9715 "duplicate users"
st=$(api POST /users/create '{"users":[{"clientUserId":"a","email":"not-an-email"}]}')
assert_apple_error "$st" 400 9717 "invalid email"
st=$(api POST /users/create '{"users":[{"email":"a@b.example"}]}')
assert_apple_error "$st" 400 9602 "clientUserId missing"
ok "users validation"

api GET /users >/dev/null
V0=$(jq -r .versionId "$T/resp")
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"alice","email":"alice@example.com"},{"clientUserId":"bob","managedAppleId":"bob@corp.example"}]}')" 200 "create"
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numRequested, .numCompleted]' '["COMPLETE","CREATE",2,2]' "create status"
jq -s --arg e "$EV" '[.[] | select(.eventId == $e) | .body.notification]' "$RECV_LOG" >"$T/n.json"
assert_json "$T/n.json" '[.[0].type, .[0].result, (.[0].users | length)]' '["CREATE","SUCCESS",2]' "USER_MANAGEMENT"
assert_json "$T/n.json" '.[0].users[] | select(.clientUserId == "alice") | [.status, .email, (.inviteCode | length)]' '["Registered","alice@example.com",32]' "registered user"
assert_json "$T/n.json" '.[0].users[] | select(.clientUserId == "bob") | [.status, has("idHash"), has("inviteCode")]' '["Associated",true,false]' "managed Apple ID user"

# Existing user: 9716; unknown user on update/retire: 9609.
api POST /users/create '{"users":[{"clientUserId":"alice"},{"clientUserId":"carol"}]}' >/dev/null
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .numCompleted, .failures[0].errorNumber, .failures[0].errorInfo.clientUserIds]' '["FAILED",1,9716,["alice"]]' "9716"
assert_eq "$(recv_count ".eventId == \"$EV\" and .body.notification.result == \"FAILURE\" and .body.notification.error.errorNumber == 9716")" 1 "FAILURE notification for 9716"
api POST /users/update '{"users":[{"clientUserId":"alice","email":"alice2@example.com"},{"clientUserId":"nobody"}]}' >/dev/null
EV=$(jq -r .eventId "$T/resp")
settle
api GET "/status?eventId=$EV" >/dev/null
assert_json "$T/resp" '[.eventStatus, .eventType, .numCompleted, .failures[0].errorNumber]' '["FAILED","UPDATE",1,9609]' "9609 on update"
ok "create, update, 9716, 9609"

# Retire keeps the row; creating again adds an active one.
api POST /users/retire '{"users":[{"clientUserId":"carol"}]}' >/dev/null
settle
api POST /users/create '{"users":[{"clientUserId":"carol","email":"carol@example.com"}]}' >/dev/null
settle
api GET '/users?clientUserId=carol' >/dev/null
assert_json "$T/resp" '[.users[].status]' '["Retired","Registered"]' "history rows"
api GET '/users?activeOnly=true' >/dev/null
assert_json "$T/resp" '[.users[].clientUserId] | sort' '["alice","bob","carol"]' "activeOnly"
api GET '/users?retiredOnly=true' >/dev/null
assert_json "$T/resp" '[.users[] | [.clientUserId, .status]]' '[["carol","Retired"]]' "retiredOnly"
api GET /users >/dev/null
assert_json "$T/resp" '[.totalPages, .size, .nextPageIndex]' '[2,3,1]' "users pages"
api GET "/users?sinceVersionId=$V0" >/dev/null
assert_json "$T/resp" '.totalPages' 2 "delta since the start has every row"
V1=$(jq -r .versionId "$T/resp")
api POST /users/update '{"users":[{"clientUserId":"bob","email":"bob@example.com"}]}' >/dev/null
settle
api GET "/users?sinceVersionId=$V1" >/dev/null
assert_json "$T/resp" '[.users[] | [.clientUserId, .email]]' '[["bob","bob@example.com"]]' "delta has only the change"
# Assignments of a retired user stay; excludeInactiveUsers hides them.
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"7\",\"totalCount\":5}]}" >/dev/null
api POST /assets/associate '{"assets":[{"adamId":"7"}],"clientUserIds":["alice","bob"]}' >/dev/null
settle
api POST /users/retire '{"users":[{"clientUserId":"bob"}]}' >/dev/null
settle
api GET '/assignments?adamId=7' >/dev/null
assert_json "$T/resp" '[.assignments[].clientUserId]' '["alice","bob"]' "retired user's assignment kept"
api GET '/assignments?adamId=7&excludeInactiveUsers=true&includeUserState=true' >/dev/null
assert_json "$T/resp" '[.assignments[] | [.clientUserId, .userStatus]]' '[["alice","Registered"]]' "excludeInactiveUsers"
api POST /users/create '{"users":[{"clientUserId":"bob","managedAppleId":"bob@corp.example"}]}' >/dev/null
settle
ok "retire, history, pages, deltas"

# Invitation acceptance: USER_ASSOCIATED.
assert_eq "$(ctl POST /_sim/users/accept '{"uId":"'"$LOC_UID"'","clientUserIds":["alice","bob","ghost"]}')" 200 "accept"
assert_json "$T/ctl" '[[.associatedUsers[].clientUserId], .skipped]' '[["alice"],["bob","ghost"]]' "accepted and skipped"
settle
jq -s '[.[] | select(.notificationType == "USER_ASSOCIATED") | .body.notification.associatedUsers[]]' "$RECV_LOG" >"$T/ua.json"
assert_json "$T/ua.json" '[.[] | [.clientUserId, .status, (.idHash | length > 0), .inviteCode != null]]' '[["alice","Associated",true,true]]' "USER_ASSOCIATED payload"
ok "invitation acceptance"

# A big seed in one call: 5,000 users, 20,000 assignments.
jq -nc --arg u "$LOC_UID" '{uId: $u,
  assets: [range(4) | {adamId: "\(900 + .)", totalCount: 5000}],
  users: [range(5000) | {clientUserId: "bulk-\(.)"}],
  assignments: [range(20000) | {adamId: "\(900 + (. % 4))", clientUserId: "bulk-\((. / 4) | floor)"}]}' >"$T/seed.json"
start=$(date +%s%N)
assert_eq "$(curl -sS -o "$T/ctl" -w '%{http_code}' -X POST "$SIM/_sim/seed" -H 'Content-Type: application/json' --data-binary "@$T/seed.json")" 200 "bulk seed"
assert_json "$T/ctl" '[.users, .assignments]' '[5000,20000]' "bulk seed counts"
echo "# bulk seed took $((($(date +%s%N) - start) / 1000000)) ms"
api GET '/assets?adamId=901' >/dev/null
assert_json "$T/resp" '.assets[0] | [.assignedCount, .availableCount]' '[5000,0]' "seeded licenses consumed"
bad=$(jq -nc --arg u "$LOC_UID" '{uId: $u, users: [{clientUserId: "zz"}], assignments: [{adamId: "901", clientUserId: "zz"}]}')
assert_eq "$(ctl POST /_sim/seed "$bad")" 400 "a seed that runs out of licenses"
assert_contains "$T/ctl" "no license" "seed error says why"
api GET '/users?clientUserId=zz' >/dev/null
assert_json "$T/resp" '.users' '[]' "a failed seed changes nothing"
sim_stop
ok "bulk seed"
