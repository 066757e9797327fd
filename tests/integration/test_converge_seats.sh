#!/usr/bin/env bash
# Contract §3.1, issue 10 item 3: seats that do not renew lapse at the end of the billing
# period with no SUBSCRIPTION_MANAGEMENT notification, only a SUBSCRIPTION_COUNT. Its counts
# disagree with the mirror's seats, so serve re-reads that subscription's seats at Apple: the
# lapsed seat leaves the mirror (before: it stayed until the daily full sync).
. "$(dirname "$0")/lib_apple.sh"

apple_start
apple_location
apple_subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"subscriptionManagement\":true,
  \"users\":[{\"clientUserId\":\"u1\",\"managedAppleId\":\"u1@example.com\"},
             {\"clientUserId\":\"u2\",\"managedAppleId\":\"u2@example.com\"}],
  \"subscriptions\":[{\"adamId\":5000,\"total\":{\"renewing\":5,\"expiring\":0}}]}" >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>&1 || fail "initial sync"

EV=$(vn_cli subscriptions associate --uid "$LOC_UID" --adam-ids 5000 --client-user-ids u1 2>/dev/null)
wait_event "$EV"
EV=$(vn_cli subscriptions associate --uid "$LOC_UID" --adam-ids 5000 --client-user-ids u2 --renewing 2>/dev/null)
wait_event "$EV"
vn_cli subscription-assignments --uid "$LOC_UID" --json >"$T/s.json"
assert_json "$T/s.json" '[.[] | [.clientUserId, .renewing]]' '[["u1",false],["u2",true]]' \
    "a seat that expires (the default) and one that renews"

st=$(ctl POST /_sim/period-end "{\"uId\":\"$LOC_UID\",\"adamId\":5000}")
assert_eq "$st" 200 "period end"
settle
# seats_equal_sim: the mirror's seats are vppsim's (u1's lapsed seat gone).
seats_equal_sim() { (mirror_equals_sim "$LOC_UID" "subscriptions subscription-assignments") >/dev/null 2>&1; }
wait_for 20 seats_equal_sim || fail "the lapsed seat stayed in the mirror: $(vn_cli subscription-assignments --uid "$LOC_UID" --json)"
vn_cli subscription-assignments --uid "$LOC_UID" --json >"$T/s.json"
assert_json "$T/s.json" '[.[] | .clientUserId]' '["u2"]' "only the renewing seat is left"
mirror_equals_sim "$LOC_UID"
ok "a SUBSCRIPTION_COUNT that disagrees with the mirror's seats re-reads them: the lapsed seat goes"
