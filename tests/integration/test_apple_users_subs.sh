#!/usr/bin/env bash
# Users and subscriptions from the command line against vppsim: users create -> USER_MANAGEMENT
# -> invitation accepted -> USER_ASSOCIATED; update and retire; a subscription associate, and
# a deferred disassociate that stays PENDING (never stalled) until the billing period ends.
. "$(dirname "$0")/lib_apple.sh"

apple_start --event-stall 1s --event-deferred-poll 1s
apple_location
apple_subscribe

printf 'u1,u1@example.com\n# u9 left\nu2\n' >"$T/users.txt"
EV=$(vn_cli users create --uid "$LOC_UID" --users-file "$T/users.txt" --client-user-ids u3 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .notificationType, .type, .succeeded, .polls]' \
    '["COMPLETE","USER_MANAGEMENT","CREATE",3,0]' "users created"
vn_cli users --uid "$LOC_UID" --json >"$T/u.json"
assert_json "$T/u.json" '[.[] | [.clientUserId, .email, .status, (.inviteCode | length > 0)]]' \
    '[["u1","u1@example.com","Registered",true],["u2",null,"Registered",true],["u3",null,"Registered",true]]' \
    "Registered with an invitation code"
ctl POST /_sim/users/accept "{\"uId\":\"$LOC_UID\",\"clientUserIds\":[\"u1\",\"u2\"]}" >/dev/null
wait_for 10 bash -c "'$VPPNOTIFY' users --db '$VN_DB' --client-user-id u2 --json | jq_true '.[0].status == \"Associated\"'" ||
    fail "USER_ASSOCIATED not applied"
vn_cli users --uid "$LOC_UID" --client-user-id u1 --json >"$T/u.json"
assert_json "$T/u.json" '.[0] | [.status, (.idHash | length > 0)]' '["Associated",true]' \
    "Associated with an idHash"
mirror_equals_sim "$LOC_UID" users
ok "users create -> USER_MANAGEMENT, invitation accepted -> USER_ASSOCIATED"

EV=$(vn_cli users update --uid "$LOC_UID" --users-file <(echo "u3,new@example.com") 2>/dev/null)
wait_event "$EV"
EV=$(vn_cli users retire --uid "$LOC_UID" --client-user-ids u2 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .type]' '["COMPLETE","RETIRE"]' "retired"
vn_cli users --uid "$LOC_UID" --json >"$T/u.json"
assert_json "$T/u.json" '[.[] | [.clientUserId, .email, .status]]' \
    '[["u1","u1@example.com","Associated"],["u2",null,"Retired"],["u3","new@example.com","Registered"]]' \
    "update and retire applied"
mirror_equals_sim "$LOC_UID" users
ok "users update and retire"

# Subscriptions: seats for associated users.
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"subscriptions\":[{\"adamId\":5000,\"parentAdamId\":100,
  \"total\":{\"renewing\":5,\"expiring\":2}}]}" >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>&1 || fail "sync"
EV=$(vn_cli subscriptions associate --uid "$LOC_UID" --adam-ids 5000 --client-user-ids u1 --renewing 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .notificationType, .type, .succeeded, .polls]' \
    '["COMPLETE","SUBSCRIPTION_MANAGEMENT","ASSOCIATE",1,0]' "seat given"
vn_cli subscription-assignments --uid "$LOC_UID" --json >"$T/s.json"
assert_json "$T/s.json" '[.[] | [.adamId, .clientUserId, .renewing]]' '[["5000","u1",true]]' "seat mirrored"
mirror_equals_sim "$LOC_UID" subscription-assignments
ok "subscriptions associate --renewing"

# Deferred: PENDING until the billing period ends, polled, never stalled.
EV=$(vn_cli subscriptions disassociate --uid "$LOC_UID" --adam-ids 5000 --client-user-ids u1 --deferred 2>/dev/null)
sleep 2.5
event_json "$EV"
assert_json "$T/ev.json" '[.status, .deferred, .stalled, .completedAt]' '["PENDING",true,false,null]' \
    "PENDING past the stall time, not stalled"
assert_json "$T/ev.json" '.polls >= 1' true "its status was polled"
vn_cli subscription-assignments --uid "$LOC_UID" --json >"$T/s.json"
assert_json "$T/s.json" 'length' 1 "the seat stays until the period ends"
ctl POST /_sim/period-end "{\"uId\":\"$LOC_UID\"}" >/dev/null
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .stalled, .notifiedItems, .notificationsMissing]' \
    '["COMPLETE",false,1,false]' "completed at the period end"
vn_cli subscription-assignments --uid "$LOC_UID" --json >"$T/s.json"
assert_json "$T/s.json" 'length' 0 "the seat is gone"
wait_for 5 bash -c "'$VPPNOTIFY' subscriptions --db '$VN_DB' --json | jq_true '.[0].counts.total.expiring == 0'" ||
    fail "SUBSCRIPTION_COUNT at the period end not applied"
mirror_equals_sim "$LOC_UID" "subscriptions subscription-assignments"
ok "subscriptions disassociate --deferred completes at the billing-period end"

vn_serve_stop
sim_stop
