#!/usr/bin/env bash
# assets associate / disassociate / revoke from the command line against vppsim: 250 serials
# from a file complete without a status poll, 9709 failures, splitting at lowered limits,
# duplicates refused locally, and the mirror equal to vppsim's state afterwards.
. "$(dirname "$0")/lib_apple.sh"

apple_start
apple_location
apple_subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"100\",\"totalCount\":300},
  {\"adamId\":\"200\",\"totalCount\":10},{\"adamId\":\"300\",\"totalCount\":400},
  {\"adamId\":\"301\",\"totalCount\":400},{\"adamId\":\"302\",\"totalCount\":400,\"pricingParam\":\"PLUS\"},
  {\"adamId\":\"400\",\"totalCount\":5,\"productType\":\"Book\"}]}" >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/err" || fail "initial sync: $(cat "$T/err")"
mirror_equals_sim "$LOC_UID" assets
ok "initial full sync: the mirror has vppsim's assets"

# 250 serial numbers from a file (with a comment and blank lines), one request.
{
    echo "# devices of building A"
    seq -f 'C02A%04g' 1 125
    echo
    seq -f 'C02B%04g' 1 125
} >"$T/serials.txt"
ctl POST /_sim/requests '{"reset":true}' >/dev/null
vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials-file "$T/serials.txt" \
    >"$T/ev.txt" 2>"$T/err" || fail "associate: $(cat "$T/err")"
assert_eq "$(wc -l <"$T/ev.txt")" 1 "one request, one eventId"
EV=$(cat "$T/ev.txt")
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .numRequested, .numCompleted, .notifiedItems, .polls, .notificationsMissing]' \
    '["COMPLETE",250,250,250,0,false]' "complete from the notifications alone"
assert_eq "$(sim_count GET /mdm/v2/status 200)" 0 "no Event Status request"
vn_cli assignments --uid "$LOC_UID" --adam-id 100 --json >"$T/a.json"
assert_json "$T/a.json" 'length' 250 "250 assignments in the mirror"
vn_cli assets --uid "$LOC_UID" --adam-id 100 --json >"$T/a.json"
assert_json "$T/a.json" '.[0] | [.totalCount, .assignedCount, .availableCount, .needsSync]' \
    '[300,250,50,false]' "the counts moved by 250"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "250 serials from a file: 250 assignments, right counts, COMPLETE without a poll"

# Not enough licenses (9709): 15 serials for 10 licenses.
EV=$(vn_cli assets associate --uid "$LOC_UID" --assets 200 --serials "$(seq -s, -f 'D%03g' 1 15)" 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .numRequested, .numCompleted, .succeeded, .failed, .polls]' \
    '["FAILED",15,10,10,5,0]' "FAILED: 10 done, 5 failed"
assert_json "$T/ev.json" '[.errors[] | [.errorNumber, .count]]' '[[9709,5]]' "5 items failed with 9709"
vn_cli assets --uid "$LOC_UID" --adam-id 200 --json >"$T/a.json"
assert_json "$T/a.json" '.[0] | [.assignedCount, .availableCount]' '[10,0]' "10 assigned, none left"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "9709: the event is FAILED with the failures, the mirror has the 10 that worked"

# Lower Service Config limits: 3 assets x 250 serials become 2 x 3 = 6 requests.
ctl POST /_sim/limits '{"maxAssets":2,"maxSerialNumbers":100}' >/dev/null
seq -f 'E%04g' 1 250 >"$T/e.txt"
ctl POST /_sim/requests '{"reset":true}' >/dev/null
vn_cli assets associate --uid "$LOC_UID" --assets 300,301 --assets 302:PLUS \
    --serials-file "$T/e.txt" --json >"$T/evs.json" 2>"$T/err" || fail "split: $(cat "$T/err")"
assert_contains "$T/err" "6 requests" "the split is announced"
assert_json "$T/evs.json" '[.[].expectedItems]' '[200,200,100,100,100,50]' "6 requests, items each"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 200)" 6 "vppsim saw 6 requests"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 400)" 0 "none over the limits"
for ev in $(jq -r '.[].eventId' "$T/evs.json"); do
    wait_event "$ev"
    assert_json "$T/ev.json" '.status' '"COMPLETE"' "event $ev"
done
vn_cli assignments --uid "$LOC_UID" --json >"$T/a.json"
assert_json "$T/a.json" '[.[] | select(.adamId == "300" or .adamId == "301" or .adamId == "302")] | length' 750 \
    "750 assignments"
mirror_equals_sim "$LOC_UID" "assets assignments"
ctl POST /_sim/limits '{"maxAssets":25,"maxSerialNumbers":1000}' >/dev/null
ok "a request over the limits is split at them"

# Duplicates are refused before anything is sent.
ctl POST /_sim/requests '{"reset":true}' >/dev/null
printf 'F1\nF2\nF1\n' >"$T/dup.txt"
rc=0
vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials-file "$T/dup.txt" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "duplicates refused"
assert_contains "$T/err" "1 duplicate serialNumbers ('F1')" "the duplicate is named"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 200)" 0 "nothing was sent"
rc=0
vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials-file "$T/none.txt" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "a missing file is a usage error"
assert_contains "$T/err" "none.txt" "the file is named"
ok "duplicates and bad files refused locally"

# Disassociate and revoke.
EV=$(vn_cli assets disassociate --uid "$LOC_UID" --assets 100 --serials C02A0001,C02A0002 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .type, .succeeded]' '["COMPLETE","DISASSOCIATE",2]' "disassociate"
EV=$(vn_cli assets revoke --uid "$LOC_UID" --serials C02A0003 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .type, .succeeded, .expectedItems]' '["COMPLETE","REVOKE",1,null]' \
    "revoke (items unknown beforehand: finished by Event Status)"
vn_cli assets --uid "$LOC_UID" --adam-id 100 --json >"$T/a.json"
assert_json "$T/a.json" '.[0] | [.assignedCount, .availableCount]' '[247,53]' "counts moved back"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "disassociate and revoke"

vn_serve_stop
sim_stop
