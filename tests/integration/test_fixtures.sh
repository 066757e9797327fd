#!/usr/bin/env bash
# Apple's example notifications (tests/fixtures/seed), posted in file-name order to the real
# daemon; then every read command's --json output is checked field by field.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1 fixtures)
vn_serve_start
TOKEN=$(cat "$tok")

declare -A want=(
    [asset_count]=200 [asset_management-associate]=200 [asset_management-disassociate]=200
    [asset_management-revoke]=200 [envelope-schematic]=202 [subscription_count]=200
    [subscription_management-associate]=200 [subscription_management-disassociate]=200
    [test_notification]=200 [user_associated]=200 [user_management-create]=200
    [user_management-retire]=200 [user_management-update]=200
)
n=0
for f in "$VN_FIXTURES"/seed/*.json; do
    name=$(basename "$f" .json)
    [ -n "${want[$name]:-}" ] || fail "fixture $name has no expected status in this test"
    code=$(vn_post "$f" "$TOKEN")
    assert_eq "$code" "${want[$name]}" "POST $name"
    n=$((n + 1))
done
assert_eq "$n" 13 "fixtures posted"
# subscription_count.json reuses asset_count.json's notificationId: a duplicate, not applied.
ok "all 13 fixtures accepted with the expected status"

vn_cli assets --json >"$T/o.json"
assert_json "$T/o.json" 'map(del(.updatedAt))' "[{\"uId\":\"$UID1\",\"adamId\":\"408709785\",\"pricingParam\":\"STDQ\",\"totalCount\":-12,\"assignedCount\":3,\"availableCount\":-15,\"needsSync\":true}]" "assets"
assert_json "$T/o.json" '[.[].updatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")] | all' 'true' "updatedAt is ISO-8601 UTC"

vn_cli assignments --json >"$T/o.json"
assert_json "$T/o.json" '[.[] | [.uId, .adamId, .pricingParam, .serialNumber, .clientUserId]] | sort' \
    "[[\"$UID1\",\"408709785\",\"STDQ\",\"495622d3-76f1-4fd3-8647-3f0365159170\",null],[\"$UID1\",\"408709785\",\"STDQ\",\"97c42a74-c30e-4172-a65f-6e5a5ba3d477\",null],[\"$UID1\",\"408709785\",\"STDQ\",\"eabcbb89-8213-4185-afb4-30cae931ea37\",null]]" "assignments"
assert_json "$T/o.json" '[.[] | keys] | unique' '[["adamId","pricingParam","serialNumber","uId","updatedAt"]]' "assignment keys"

vn_cli users --json >"$T/o.json"
assert_json "$T/o.json" 'map(del(.updatedAt))' "[{\"uId\":\"$UID1\",\"clientUserId\":\"client-100\",\"email\":\"client-100@apple.com\",\"inviteCode\":\"f551b37da07146628e8dcbe0111f0364\",\"idHash\":\"leSKk3IaE2vk2KLmv2k3/200D3=\",\"status\":\"Registered\"}]" "users (update came last)"

vn_cli subscriptions --json >"$T/o.json"
assert_json "$T/o.json" '.' '[]' "no subscription: its SUBSCRIPTION_COUNT was a duplicate id"
vn_cli subscription-assignments --json >"$T/o.json"
assert_json "$T/o.json" '.' '[]' "the seat was associated, then disassociated"

vn_cli events --json >"$T/o.json"
assert_json "$T/o.json" '[.[] | [.eventId, .notificationType, .type, .notifications, .succeeded, .failed, .errors]] | sort' \
    '[["4bd7371e-6482-4933-8e97-c29f25b7f5f5","ASSET_MANAGEMENT","DISASSOCIATE",2,3,0,[]],["87cbc650-16cc-4f9e-a833-e622f377a9f7","ASSET_MANAGEMENT","ASSOCIATE",1,3,0,[]],["c3f990d3-d8c5-41c6-8394-edb1f759a9d2","SUBSCRIPTION_MANAGEMENT","ASSOCIATE",1,1,0,[]],["d4ea01e4-e9d6-52d7-9405-f5c2fa6ab0e3","SUBSCRIPTION_MANAGEMENT","DISASSOCIATE",1,1,0,[]],["e0def1f8-9158-4343-9c52-8dd32da50b9b","USER_MANAGEMENT","CREATE",3,3,0,[]]]' "events"
assert_json "$T/o.json" "[.[].uId] | unique" "[\"$UID1\"]" "events uId"

vn_cli notifications --json >"$T/o.json"
assert_json "$T/o.json" 'length' '12' "12 distinct notificationIds"
assert_json "$T/o.json" '[.[] | select(.state == "stored") | .notificationId]' '["01654971-0d81-467a-9e62-bf8e15e8dabd"]' "only the schematic envelope is stored"
assert_json "$T/o.json" '[.[] | select(.notificationId == "4a7801be-53f0-42e1-9505-81c0d1dc9da3") | [.notificationType, .state, .duplicates, .conflicts]]' '[["ASSET_COUNT","applied",1,1]]' "same id, other body: one duplicate, one conflict"
assert_json "$T/o.json" '[.[] | keys] | unique' '[["conflicts","duplicates","notificationId","notificationType","receivedAt","state","uId"]]' "notification keys"
assert_json "$T/o.json" '[.[].receivedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")] | all' 'true' "receivedAt is ISO-8601 UTC"

vn_cli location list --json >"$T/o.json"
assert_json "$T/o.json" '[.[] | [.uId, .name, .tokenCount, (.lastTestNotificationAt | type)]]' "[[\"$UID1\",\"fixtures\",1,\"string\"]]" "location list"
ok "every read command shows exactly what the fixtures say"

# The conflict was logged.
assert_contains "$T/serve.log" "conflict=yes" "conflict log line"
vn_serve_stop
