#!/usr/bin/env bash
# The mirror's queries answer what was asked of them (issue 14, items 4 and 5):
#   - an --adam-id filter finds an asset by the adamId as Apple sent it ("00000000", "0042"),
#     because ids are stored in canonical decimal form and the filter is normalised the same way;
#   - an ASSET_COUNT without pricingParam is applied to the STDQ asset (docs/SCHEMA.md), not
#     stored as invalid.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1 queries)
vn_serve_start
TOKEN=$(cat "$tok")

body_asset_count n-zero $UID1 00000000 5 >"$T/zero.json"
assert_eq "$(vn_post "$T/zero.json" "$TOKEN")" 200 "ASSET_COUNT for adamId 00000000"
assert_json "$T/resp" '.status' '"applied"' "adamId 00000000 applied"
body_asset_count n-lead $UID1 0042 7 >"$T/lead.json"
assert_eq "$(vn_post "$T/lead.json" "$TOKEN")" 200 "ASSET_COUNT for adamId 0042"

for q in 00000000 0 000; do
    vn_cli assets --adam-id "$q" --json >"$T/o.json"
    assert_json "$T/o.json" '[.[] | [.adamId, .totalCount]]' '[["0",5]]' "assets --adam-id $q"
done
for q in 0042 42; do
    vn_cli assets --adam-id "$q" --json >"$T/o.json"
    assert_json "$T/o.json" '[.[] | [.adamId, .totalCount]]' '[["42",7]]' "assets --adam-id $q"
done
ok "--adam-id finds an asset by the adamId as Apple sent it"

rc=0
vn_cli assets --adam-id 4x2 >"$T/o.txt" 2>"$T/err.txt" || rc=$?
assert_eq "$rc" 2 "exit status of a non-numeric --adam-id"
assert_contains "$T/err.txt" "'4x2' is not a string of digits" "the error quotes the value"
ok "a non-numeric --adam-id is a usage error that quotes the value"

printf '{"notificationId":"n-nopp","notificationType":"ASSET_COUNT","uId":"%s","notification":{"adamId":"408709785","countDelta":3}}' \
    $UID1 >"$T/nopp.json"
assert_eq "$(vn_post "$T/nopp.json" "$TOKEN")" 200 "ASSET_COUNT without pricingParam"
assert_json "$T/resp" '.status' '"applied"' "ASSET_COUNT without pricingParam is applied"
vn_cli assets --adam-id 408709785 --json >"$T/o.json"
assert_json "$T/o.json" '[.[] | [.pricingParam, .totalCount, .availableCount]]' '[["STDQ",3,3]]' \
    "the delta went to the STDQ asset"
vn_cli notifications --json >"$T/o.json"
assert_json "$T/o.json" '[.[] | select(.notificationId == "n-nopp") | .state]' '["applied"]' \
    "ledger state of the notification without pricingParam"
ok "an ASSET_COUNT without pricingParam is applied to the STDQ asset"
vn_serve_stop
