#!/usr/bin/env bash
# The read routes of the integration API (contract section 8): the same objects as the CLI's
# --json, the same filters, cursor pages that are stable while the mirror changes, 400/401/404
# with words, and every answer checked against docs/openapi.yaml by a JSON Schema validator.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

U1=2049025000431439 # the uId of Apple's examples
U2=2049025000999999
tok1=$(vn_new_location $U1 examples)
tok2=$(vn_new_location $U2 second)
api_keys
vn_serve_start

# Apple's examples for U1; for U2 several products, devices and a user.
for f in "$VN_FIXTURES"/seed/*.json; do
    case "$(basename "$f")" in envelope-schematic.json) continue ;; esac
    vn_post "$f" "$(cat "$tok1")" >/dev/null
done
for a in 9 10 408709785 11 2; do
    body_asset_count "ac-$a" $U2 "$a" 5 >"$T/b.json"
    vn_post "$T/b.json" "$(cat "$tok2")" >/dev/null
done
body_associate "as-1" $U2 ev-u2 10 S1 S2 S3 S4 S5 S6 S7 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$(cat "$tok2")")" 200 "associate for U2"
# Apple's SUBSCRIPTION_COUNT example reuses its ASSET_COUNT example's id: send it for U2.
sed "s/4a7801be-53f0-42e1-9505-81c0d1dc9da3/sc-1/; s/$U1/$U2/" \
    "$VN_FIXTURES/seed/subscription_count.json" >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$(cat "$tok2")")" 200 "a subscription for U2"
for u in seat-a seat-b seat-c; do
    sed "s/7b3c92a1-4e5f-4d8a-b6c7-9e1f2a3b4c5d/sa-$u/; s/$U1/$U2/; s/vpp-user/$u/" \
        "$VN_FIXTURES/seed/subscription_management-associate.json" >"$T/b.json"
    assert_eq "$(vn_post "$T/b.json" "$(cat "$tok2")")" 200 "a seat for U2"
done
printf '{"notificationId":"unk-1","notificationType":"SOMETHING_NEW","uId":"%s","notification":{}}' \
    $U2 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$(cat "$tok2")")" 202 "an unknown type is stored"

# ---- every route: the CLI's objects, whole and page by page -------------------------------------
check_route() { # PATH CLI-COMMAND... : the API's items equal `CLI --json`, in one page and in pages of 2
    local path=$1
    shift
    vn_cli "$@" --json | jq -S -c . >"$T/cli.json" || fail "vppnotify $* --json"
    [ "$(api_get "$READ_KEY" "$path")" = 200 ] || fail "GET $path: $(head -c 300 "$T/a.json")"
    jq -S -c .items "$T/a.json" >"$T/api.items"
    cmp -s "$T/cli.json" "$T/api.items" ||
        fail "GET $path differs from 'vppnotify $* --json': $(diff "$T/cli.json" "$T/api.items" | head -c 400)"
    api_walk "$READ_KEY" "$path" 2 "$T/walk.json"
    jq -S -c . "$T/walk.json" >"$T/walk.items"
    cmp -s "$T/cli.json" "$T/walk.items" || fail "GET $path in pages of 2 differs from one page"
    n=$(jq length "$T/cli.json")
    [ "$n" -gt 0 ] || fail "GET $path: the test needs objects to compare, got none"
    want=$(((n + 1) / 2)); [ "$n" -gt 0 ] && [ $((n % 2)) = 0 ] && want=$((n / 2))
    [ "$PAGES" = "$want" ] || fail "GET $path: $n objects in $PAGES pages of 2 (expected $want)"
}
check_route /v1/locations location list
check_route /v1/assets assets
check_route /v1/assignments assignments
check_route /v1/users users
check_route /v1/subscriptions subscriptions
check_route /v1/subscription-assignments subscription-assignments
check_route /v1/events events
check_route /v1/notifications notifications
ok "every read route shows the CLI's --json objects, in one page and in pages of 2"

# ---- filters ---------------------------------------------------------------------------------
check_route "/v1/locations?uId=$U2" location list --uid $U2
check_route "/v1/assets?uId=$U2" assets --uid $U2
check_route "/v1/assets?adamId=408709785" assets --adam-id 408709785
check_route "/v1/assignments?uId=$U2&adamId=10" assignments --uid $U2 --adam-id 10
check_route "/v1/assignments?serialNumber=S3" assignments --serial S3
check_route "/v1/users?clientUserId=client-100" users --client-user-id client-100
check_route "/v1/subscriptions?adamId=12345" subscriptions --adam-id 12345
check_route "/v1/subscription-assignments?uId=$U2&clientUserId=seat-b" subscription-assignments --uid $U2 --client-user-id seat-b
ev=$(vn_cli events --uid $U2 --json | jq -r '.[0].eventId')
check_route "/v1/events?eventId=$ev" events --event-id "$ev"
check_route "/v1/events?notificationType=USER_MANAGEMENT" events --type USER_MANAGEMENT
check_route "/v1/notifications?state=stored" notifications --state stored
check_route "/v1/notifications?uId=$U1&notificationType=ASSET_COUNT" notifications --uid $U1 --type ASSET_COUNT
[ "$(api_get "$READ_KEY" "/v1/notifications?eventId=ev-u2")" = 200 ] || fail "notifications by eventId"
assert_json "$T/a.json" '[.items[].notificationId]' '["as-1"]' "notifications of one event"
ok "filters select what the CLI's flags select"

# ---- one event -------------------------------------------------------------------------------
[ "$(api_get "$READ_KEY" "/v1/events/$ev" "/v1/events/{eventId}")" = 200 ] || fail "GET /v1/events/$ev"
vn_cli events --event-id "$ev" --json | jq -S -c '.[0]' >"$T/cli.json"
[ "$(jq -S -c . "$T/a.json")" = "$(cat "$T/cli.json")" ] || fail "GET /v1/events/{eventId} is not the event"
[ "$(api_get "$READ_KEY" /v1/events/no-such-event "/v1/events/{eventId}")" = 404 ] || fail "unknown event"
assert_json "$T/a.json" '.error' '"no event '"'"'no-such-event'"'"'"' "404 names the event"
ok "GET /v1/events/{eventId}: the event, or 404 naming it"

# ---- a walk is stable while the mirror changes ---------------------------------------------------
before=$(vn_cli assets --json | jq -c '[.[] | [.uId, .adamId]]')
[ "$(api_get "$READ_KEY" "/v1/assets?limit=3")" = 200 ] || fail "first page"
cursor=$(jq -r .nextCursor "$T/a.json")
jq -c '[.items[] | [.uId, .adamId]]' "$T/a.json" >"$T/seen.json"
# New products on both sides of the cursor, and one page read after them.
for a in 1 999999999; do
    body_asset_count "ac-new-$a" $U2 "$a" 1 >"$T/b.json"
    vn_post "$T/b.json" "$(cat "$tok2")" >/dev/null
done
while [ -n "$cursor" ]; do
    [ "$(api_get "$READ_KEY" "/v1/assets?limit=3&cursor=$cursor" /v1/assets)" = 200 ] ||
        fail "a later page: $(head -c 300 "$T/a.json")"
    jq -c -s '.[0] + [.[1].items[] | [.uId, .adamId]]' "$T/seen.json" "$T/a.json" >"$T/s2.json"
    mv "$T/s2.json" "$T/seen.json"
    cursor=$(jq -r '.nextCursor // empty' "$T/a.json")
done
cp "$T/seen.json" "$T/walked.json"
jq -e -n --argjson b "$before" --argjson w "$(cat "$T/walked.json")" \
    '($b - $w) == [] and ($w | length) == ($w | unique | length)' >/dev/null ||
    fail "a walk while products were added missed or repeated some: before $before, walked $(cat "$T/walked.json")"
ok "a walk sees every object that existed throughout exactly once while others are added"

# ---- bad requests, keys ------------------------------------------------------------------------
bad() { # PATH EXPECTED-STATUS TEXT-IN-ERROR
    local st
    st=$(api_get "$READ_KEY" "$1")
    [ "$st" = "$2" ] || fail "GET $1: expected $2, got $st: $(head -c 300 "$T/a.json")"
    assert_contains "$T/a.json" "$3" "GET $1 says why"
}
bad "/v1/assets?limit=0" 400 "limit '0' must be an integer from 1 to 1000"
bad "/v1/assets?limit=1001" 400 "limit '1001'"
bad "/v1/assets?limit=ten" 400 "limit 'ten'"
bad "/v1/assets?uid=$U1" 400 "unknown query parameter 'uid' (this route takes uId, adamId, limit, cursor)"
bad "/v1/assets?cursor=bm90LWEtY3Vyc29y" 400 "cursor 'bm90LWEtY3Vyc29y' is not one this route handed out"
bad "/v1/notifications?state=lost" 400 "state 'lost' must be applied or stored"
[ "$(api_get "$READ_KEY" "/v1/users?limit=1")" = 200 ] || fail "users page"
ucur=$(jq -r .nextCursor "$T/a.json")
bad "/v1/assets?cursor=$ucur" 400 "is not one this route handed out"
for path in /v1/locations /v1/assets /v1/assignments /v1/users /v1/subscriptions \
    /v1/subscription-assignments /v1/events /v1/notifications; do
    [ "$(api_get "" "$path")" = 401 ] || fail "GET $path without a key"
    [ "$(api_get "vnk_unknown" "$path")" = 401 ] || fail "GET $path with an unknown key"
    [ "$(api_get "$MANAGE_KEY" "$path")" = 200 ] || fail "GET $path with a manage key"
done
ok "bad parameters get 400 quoting the value; no key or an unknown key 401; manage keys read"

# ---- every answer above against docs/openapi.yaml ---------------------------------------------------
VN_REDOCLY_ENV=(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1)
env "${VN_REDOCLY_ENV[@]}" "$VN_JS/node_modules/.bin/redocly" lint --format stylish "$VN_OPENAPI" \
    >"$T/lint.out" 2>&1 || fail "redocly lint docs/openapi.yaml: $(tail -n 20 "$T/lint.out")"
ok "docs/openapi.yaml passes redocly lint (recommended rules)"
api_validate
# The validator is not a rubber stamp: a wrong answer is refused.
assets_answer=$(jq -r 'select(.path == "/v1/assets" and .status == 200) | .file' "$T/cases.jsonl" | head -n1)
jq '.items[0].totalCount = "12"' "$assets_answer" >"$T/wrong.json"
printf '{"method":"get","path":"/v1/assets","status":200,"file":"%s"}\n' "$T/wrong.json" >"$T/wrong.jsonl"
if node "$VN_JS/validate.mjs" "$VN_OPENAPI" "$T/wrong.jsonl" >"$T/wrong.out" 2>&1; then
    fail "the validator accepted an asset whose totalCount is a string"
fi
assert_contains "$T/wrong.out" "totalCount" "the validator names the field"
ok "every answer of this test matches docs/openapi.yaml; a wrong one does not"
vn_serve_stop
