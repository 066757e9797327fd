#!/usr/bin/env bash
# The manage routes (contract section 8) against vppsim: associate through the API, split at
# Service Config's limits and tracked as on the command line; the event completes and a
# webhook receiver (standardwebhooks) gets event.completed; Idempotency-Key gives the first
# answer again and sends nothing twice; 403 for a read key, 400/404/415/422 with words; a
# sync and every other manage route through the API; every answer checked against
# docs/openapi.yaml.
. "$(dirname "$0")/lib_apple.sh"
. "$(dirname "$0")/lib_api.sh"

apple_start --apple-config-refresh 1s --webhook-backoff 100ms
apple_location
apple_subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"100\",\"totalCount\":500},
  {\"adamId\":\"200\",\"totalCount\":5}],\"users\":[{\"clientUserId\":\"u1\",\"email\":\"u1@example.com\"}]}" \
    >/dev/null || fail "seed"
api_keys
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/err" || fail "initial sync: $(cat "$T/err")"

# A receiver of event messages only.
rm -f "$T/r.ready"
node "$VN_JS/receiver.mjs" --ready "$T/r.ready" --secret-file "$T/r.secret" --log "$T/r.jsonl" \
    >"$T/r.log" 2>&1 &
VN_PIDS+=($!)
wait_for 20 test -s "$T/r.ready" || fail "receiver"
vn_cli webhook add --url "http://$(cat "$T/r.ready")/events" --secret-file "$T/r.secret" \
    --kinds event.completed,event.failed,event.stalled >/dev/null 2>&1 || fail "webhook add"

# post KEY PATH BODY [HEADER]: POST to the API; prints the status; the answer in $T/a.json.
post() {
    local key=$1 path=$2 body=$3 st file
    shift 3
    file=$(mktemp "$T/a.XXXXXXXX")
    st=$(curl -sS -o "$file" -w '%{http_code}' -X POST "$VN_API_URL$path" \
        ${key:+-H "Authorization: Bearer $key"} -H 'Content-Type: application/json' \
        --data-binary "$body" "$@")
    cp "$file" "$T/a.json"
    printf '{"method":"post","path":"%s","status":%s,"file":"%s"}\n' \
        "$(echo "$path" | sed "s|/v1/locations/[^/]*/|/v1/locations/{uId}/|")" "$st" "$file" \
        >>"$T/cases.jsonl"
    echo "$st"
}
A=/v1/locations/$LOC_UID

# ---- associate through the API: tracked, completed, event.completed delivered --------------------
body='{"assets":[{"adamId":"100"}],"serialNumbers":["S1","S2","S3"]}'
assert_eq "$(post "$READ_KEY" "$A/assets/associate" "$body")" 403 "a read key"
assert_contains "$T/a.json" "this route needs manage" "403 names the scope"
assert_eq "$(post "$MANAGE_KEY" "$A/assets/associate" "$body")" 200 "associate"
assert_json "$T/a.json" '[.uId, .kind, .type, .requests, (.events | length), .events[0].expectedItems]' \
    "[\"$LOC_UID\",\"assets\",\"ASSOCIATE\",1,1,3]" "the answer names the event"
EV=$(jq -r '.events[0].eventId' "$T/a.json")
wait_event "$EV"
[ "$(api_get "$READ_KEY" "/v1/events/$EV" "/v1/events/{eventId}")" = 200 ] || fail "GET the event"
assert_json "$T/a.json" '[.tracked, .status, .numRequested, .notifiedItems]' '[true,"COMPLETE",3,3]' \
    "tracked and complete"
got_completed() { jq_true --arg e "$EV" 'select(.verified and .type == "event.completed" and
    ((.body | fromjson).data.key.eventId == $e))' "$T/r.jsonl" >/dev/null; }
wait_for 20 got_completed || fail "no event.completed webhook for $EV: $(cut -c1-200 "$T/r.jsonl")"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "associate through the API: event $EV tracked to COMPLETE, webhook event.completed received"

# ---- split at the limits, as the command line does ------------------------------------------------
ctl POST /_sim/limits '{"maxSerialNumbers":10}' >/dev/null
# serve re-reads Service Config every second here: wait until it has read it twice since.
reads=$(sim_count GET /mdm/v2/service/config 200)
config_read() { [ "$(sim_count GET /mdm/v2/service/config 200)" -ge $((reads + 2)) ]; }
wait_for 20 config_read || fail "serve did not read Service Config again"
serials=$(seq -f '"P%03g"' 1 25 | paste -sd,)
assert_eq "$(post "$MANAGE_KEY" "$A/assets/associate" \
    "{\"assets\":[{\"adamId\":100}],\"serialNumbers\":[$serials]}")" 200 "25 serials"
assert_json "$T/a.json" '[.requests, [.events[].expectedItems]]' '[3,[10,10,5]]' "25 serials in 3 requests"
for e in $(jq -r '.events[].eventId' "$T/a.json"); do wait_event "$e"; done
ctl POST /_sim/limits '{"maxSerialNumbers":1000}' >/dev/null
ok "25 serials at a limit of 10: 3 requests, 3 events, as on the command line"

# ---- Idempotency-Key ----------------------------------------------------------------------------
before=$(sim_count POST /mdm/v2/assets/associate 200)
body='{"assets":[{"adamId":"100","pricingParam":"STDQ"}],"clientUserIds":["u1"]}'
assert_eq "$(post "$MANAGE_KEY" "$A/assets/associate" "$body" -H 'Idempotency-Key: k-1')" 200 "first"
cp "$T/a.json" "$T/first.json"
assert_eq "$(post "$MANAGE_KEY" "$A/assets/associate" "$body" -H 'Idempotency-Key: k-1')" 200 "retry"
cmp -s "$T/first.json" "$T/a.json" || fail "the retry's answer differs: $(cat "$T/a.json")"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 200)" "$((before + 1))" "sent to Apple once"
assert_eq "$(post "$MANAGE_KEY" "$A/assets/associate" '{"assets":[{"adamId":"200"}],"clientUserIds":["u1"]}' \
    -H 'Idempotency-Key: k-1')" 422 "the same key, another body"
assert_contains "$T/a.json" "'k-1' was used for another request" "422 says why"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 200)" "$((before + 1))" "still once"
wait_event "$(jq -r '.events[0].eventId' "$T/first.json")"
# A request that was running when serve died (kill -9 between its record and its answer): as
# serve leaves it, then the client's retry: 409, and nothing sent.
hash=$(printf '%s\0%s' "$A/assets/revoke" '{"serialNumbers":["S1"]}' | sha256sum | cut -c1-64)
case $VN_DB in
postgres*) lost="decode('$hash', 'hex'), 'running', NULL, NULL, now()" ;;
*) lost="x'$hash', 'running', NULL, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')" ;;
esac
db_sql "INSERT INTO api_idempotency VALUES ('manager', 'k-lost', $lost)" || fail "a lost request"
revokes=$(sim_count POST /mdm/v2/assets/revoke 200)
assert_eq "$(post "$MANAGE_KEY" "$A/assets/revoke" '{"serialNumbers":["S1"]}' -H 'Idempotency-Key: k-lost')" \
    409 "a retry of a request whose outcome is unknown"
assert_contains "$T/a.json" "outcome is unknown" "409 says why"
assert_eq "$(sim_count POST /mdm/v2/assets/revoke 200)" "$revokes" "not sent to Apple"
ok "Idempotency-Key: the first answer again, sent to Apple once; another request with it is 422; a retry of one lost in a crash is 409, never sent twice"

# ---- bad requests ------------------------------------------------------------------------------
bad() { # PATH BODY STATUS TEXT [CURL ARGS]
    local st
    st=$(post "$MANAGE_KEY" "$1" "$2" "${@:5}")
    [ "$st" = "$3" ] || fail "POST $1 $2: expected $3, got $st: $(cat "$T/a.json")"
    assert_contains "$T/a.json" "$4" "POST $1 says why"
}
bad "$A/assets/associate" '{"assets":[{"adamId":"x1"}],"serialNumbers":["S"]}' 400 "assets[0].adamId"
bad "$A/assets/associate" '{"assets":[{"adamId":"1","pricingParam":"GOLD"}]}' 400 "assets[0].pricingParam"
bad "$A/assets/associate" '{"assets":[],"serialNumbers":["S"],"users":[]}' 400 "member 'users' does not belong"
bad "$A/assets/associate" '{"assets":[{"adamId":"100"}],"serialNumbers":["S9","S9"]}' 400 "S9"
bad "$A/users/create" '{"users":[{"email":"x@example.com"}]}' 400 "users[0].clientUserId"
bad "$A/users/create" '[1,2]' 400 "must be a JSON object"
bad "$A/users/create" '{"users":' 400 "invalid JSON"
bad "$A/subscriptions/associate" '{"adamIds":[7],"clientUserIds":["u1"],"renewing":"yes"}' 400 "renewing"
st=$(curl -sS -o "$T/a.json" -w '%{http_code}' -X POST "$VN_API_URL$A/assets/associate" \
    -H "Authorization: Bearer $MANAGE_KEY" -H 'Content-Type: text/plain' \
    --data-binary '{"assets":[{"adamId":"100"}],"serialNumbers":["S"]}')
assert_eq "$st" 415 "a body that is not application/json"
assert_contains "$T/a.json" "Content-Type must be application/json" "415 says why"
bad "/v1/locations/2049000000009999/assets/associate" '{"assets":[{"adamId":"100"}],"serialNumbers":["S"]}' 404 "2049000000009999"
assert_eq "$(post "" "$A/sync" '{}')" 401 "no key"
ok "bad bodies: 400 naming the member and value; 415; 404 for an unknown location; 401 without a key"

# ---- users and a sync through the API -------------------------------------------------------------
assert_eq "$(post "$MANAGE_KEY" "$A/users/create" '{"users":[{"clientUserId":"api-u","email":"api-u@example.com"}]}')" \
    200 "users create"
wait_event "$(jq -r '.events[0].eventId' "$T/a.json")"
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"300\",\"totalCount\":7}]}" >/dev/null
assert_eq "$(post "$MANAGE_KEY" "$A/sync" '{"full":true}')" 200 "sync"
assert_json "$T/a.json" '[.uId, .kind, .assets.added]' "[\"$LOC_UID\",\"full\",1]" "the sync's report"
mirror_equals_sim "$LOC_UID"
ok "users create and a full sync through the API; the mirror equals vppsim"

# ---- every other manage route: 200 in the documented shape, its event completes ----------------
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"subscriptions\":[{\"adamId\":5000,\"parentAdamId\":100,
  \"total\":{\"renewing\":5,\"expiring\":2}}]}" >/dev/null || fail "seed a subscription"
assert_eq "$(post "$MANAGE_KEY" "$A/sync" '{"full":true}')" 200 "sync the subscription"
manage_ok() { # ROUTE BODY: 200, then wait for each of its events
    local e st
    st=$(post "$MANAGE_KEY" "$A/$1" "$2")
    [ "$st" = 200 ] || fail "POST $1 $2: $st: $(cat "$T/a.json")"
    for e in $(jq -r '.events[].eventId' "$T/a.json"); do wait_event "$e"; done
}
manage_ok users/update '{"users":[{"clientUserId":"api-u","email":"api-u2@example.com"}]}'
ctl POST /_sim/users/accept "{\"uId\":\"$LOC_UID\",\"clientUserIds\":[\"api-u\"]}" >/dev/null ||
    fail "the user accepts the invitation"
manage_ok subscriptions/associate '{"adamIds":[5000],"clientUserIds":["api-u"],"renewing":true}'
manage_ok subscriptions/disassociate '{"adamIds":[5000],"clientUserIds":["api-u"]}'
manage_ok assets/disassociate '{"assets":[{"adamId":"100"}],"serialNumbers":["S1"]}'
manage_ok assets/revoke '{"serialNumbers":["S2"]}'
manage_ok users/retire '{"users":[{"clientUserId":"api-u"}]}'
mirror_equals_sim "$LOC_UID"
ok "users update and retire, subscriptions associate and disassociate, assets disassociate and revoke through the API; the mirror equals vppsim"

api_validate
vn_serve_stop
