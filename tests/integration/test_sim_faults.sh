# vppsim fault injection: drop, duplicate, reorder, delay (probabilities, by flag and at run
# time), forced 429/503 with Retry-After (optionally for one path), HTTP 200 with an error
# body, and a versionId change mid-pagination (page index and cursors).
. "$(dirname "$0")/lib_sim.sh"

recv_start
sim_start --event-delay 0 --fault-drop 1 --seed 42
sim_location
subscribe '["ASSET_COUNT","ASSET_MANAGEMENT"]'

# --fault-drop 1: the notification is lost, no attempt at all.
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"10\",\"count\":400}" >/dev/null
settle
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT"')" 0 "dropped: never delivered"
ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
assert_json "$T/ctl" '[.notifications[] | [.state, .attempts]]' '[["dropped",0]]' "listed as dropped"
ctl GET /_sim/faults >/dev/null
assert_json "$T/ctl" .drop 1 "faults show the flag"
ok "drop"

# Duplicate delivery: every delivered notification arrives twice with one notificationId.
assert_eq "$(ctl POST /_sim/faults '{"drop":0,"duplicate":1}')" 200 "set duplicate"
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"11\",\"count\":1}" >/dev/null
settle
assert_eq "$(recv_count '.notificationType == "ASSET_COUNT"')" 2 "delivered twice"
assert_eq "$(jq -s -c '[.[] | select(.notificationType == "ASSET_COUNT") | .notificationId] | unique | length' "$RECV_LOG")" 1 "same notificationId"
ctl GET "/_sim/deliveries?type=ASSET_COUNT" >/dev/null
assert_json "$T/ctl" '[.deliveries[] | .duplicate]' '[false,true]' "the log marks the duplicate"
ok "duplicate"

# Reorder: the notifications of one event arrive in another order than they were built.
ctl POST /_sim/faults '{"duplicate":0,"reorder":1}' >/dev/null
seed=$(jq -nc --arg u "$LOC_UID" '{uId: $u, users: [range(500) | {clientUserId: "u\(.)"}]}')
ctl POST /_sim/seed "$seed" >/dev/null
users=$(jq -nc '[range(500) | "u\(.)"]')
assert_eq "$(api POST /assets/associate "{\"assets\":[{\"adamId\":\"10\"}],\"clientUserIds\":$users}")" 200 "associate 500"
EV=$(jq -r .eventId "$T/resp")
settle
ctl GET "/_sim/notifications?eventId=$EV" >/dev/null
jq -c '[.notifications[].notificationId]' "$T/ctl" >"$T/built.json"
jq -s -c --arg e "$EV" '[.[] | select(.eventId == $e) | .notificationId]' "$RECV_LOG" >"$T/arrived.json"
assert_eq "$(jq -c 'length' "$T/arrived.json")" 5 "5 notifications"
assert_eq "$(jq -c 'sort' "$T/arrived.json")" "$(jq -c 'sort' "$T/built.json")" "all arrived"
[ "$(cat "$T/arrived.json")" != "$(cat "$T/built.json")" ] || fail "reorder: arrival order equals build order"
ok "reorder"

# Delay: the first attempt waits delayByMs (scaled).
ctl POST /_sim/faults '{"reorder":0,"delay":1,"delayByMs":60000}' >/dev/null
t0=$(date +%s%3N)
ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"12\",\"count\":1}" >/dev/null
settle
t1=$(jq -s '[.[] | select(.notificationType == "ASSET_COUNT" and .body.notification.adamId == "12")][0].timeMs' "$RECV_LOG")
gap=$((t1 - t0))
echo "# delayed delivery after $gap ms (expected about $(awk -v s="$SIM_SCALE" 'BEGIN { print 60000 * s }') ms)"
[ "$gap" -ge 550 ] || fail "delay: delivered after $gap ms, expected at least 600 ms"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
assert_json "$T/ctl" '[.drop, .duplicate, .reorder, .delay, .http429.count]' '[0,0,0,0,0]' "reset"
ok "delay"

# Forced 503 and 429 with Retry-After, on one path only.
ctl POST /_sim/faults '{"http503":{"count":1,"retryAfter":120,"path":"/mdm/v2/assets"},"http429":{"count":2,"retryAfter":7,"path":"/mdm/v2/users"}}' >/dev/null
assert_eq "$(api GET /client/config)" 200 "forced faults only for their paths"
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/assets")
assert_apple_error "$st" 503 9729 "forced 503"
assert_contains "$T/hdr" "Retry-After: 120" "503 Retry-After"
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/users")
assert_apple_error "$st" 429 9646 "forced 429"
assert_contains "$T/hdr" "Retry-After: 7" "429 Retry-After"
st=$(api GET /users)
assert_apple_error "$st" 429 9646 "second forced 429"
assert_eq "$(api GET /users)" 200 "counts run out"
assert_eq "$(api GET /assets)" 200 "503 count ran out"
ok "forced 429/503"

# HTTP 200 with an error body.
ctl POST /_sim/faults '{"errorBody":1}' >/dev/null
st=$(api GET /assets)
assert_eq "$st" 200 "error body has status 200"
assert_json "$T/resp" '[.errorNumber, has("assets")]' '[9603,false]' "error body"
ok "200 with error body"

# versionId change mid-pagination: the next page sees another versionId and changed data.
sim_stop
sim_start --page-size 2 --event-delay 0
sim_location
subscribe '["ASSET_COUNT"]'
seed=$(jq -nc --arg u "$LOC_UID" '{uId: $u, assets: [range(5) | {adamId: "\(100 + .)", totalCount: 10}],
  users: [range(5) | {clientUserId: "u\(.)"}], subscriptionManagement: true,
  subscriptions: [range(5) | {adamId: (500 + .), total: {renewing: 1, expiring: 0}}]}')
ctl POST /_sim/seed "$seed" >/dev/null
api GET /assets >/dev/null
V1=$(jq -r .versionId "$T/resp")
ctl POST /_sim/faults '{"versionChange":1}' >/dev/null
api GET '/assets?pageIndex=1' >/dev/null
V2=$(jq -r .versionId "$T/resp")
[ "$V1" != "$V2" ] || fail "versionId did not change mid-pagination"
api GET '/assets?pageIndex=0' >/dev/null
assert_json "$T/resp" '.assets[0] | [.adamId, .totalCount]' '["100",11]' "the data changed too"
api GET '/assets?pageIndex=2' >/dev/null
assert_json "$T/resp" .versionId "\"$V2\"" "only one change"
api GET /users >/dev/null
U1=$(jq -r .versionId "$T/resp")
ctl POST /_sim/faults '{"versionChange":1}' >/dev/null
api GET '/users?pageIndex=1' >/dev/null
[ "$U1" != "$(jq -r .versionId "$T/resp")" ] || fail "users versionId did not change"
api GET "/users?sinceVersionId=$U1" >/dev/null
assert_json "$T/resp" '[.users[].clientUserId | startswith("vppsim-")]' '[true]' "a new user appeared"
api GET /subscriptions >/dev/null
S1=$(jq -r .versionId "$T/resp")
cur=$(jq -r .nextCursor "$T/resp")
ctl POST /_sim/faults '{"versionChange":1}' >/dev/null
api GET "/subscriptions?cursor=$cur" >/dev/null
[ "$S1" != "$(jq -r .versionId "$T/resp")" ] || fail "subscriptions versionId did not change"
settle
sim_stop
ok "versionId change mid-pagination"

# Probabilities of the API faults, and --seed: the same seed and the same requests give the
# same faults (which requests got 503, which notifications were dropped), another seed others.
fault_run() { # SEED OUT
    recv_start
    sim_start --seed "$1" --event-delay 0
    sim_location '{"uId":"2049000000000001"}'
    subscribe '["ASSET_COUNT"]'
    ctl POST /_sim/faults '{"drop":0.5,"http503":{"probability":0.3,"retryAfter":2}}' >/dev/null
    : >"$2"
    for i in $(seq 1 30); do echo "$(api GET /users)" >>"$2"; done
    for i in $(seq 1 20); do
        ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"$i\",\"count\":1}" >/dev/null
    done
    settle
    ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
    jq -c '[.notifications[] | [.notificationId, .state]]' "$T/ctl" >>"$2"
    sim_stop
    recv_stop
}
fault_run 11 "$T/run.a"
fault_run 11 "$T/run.b"
fault_run 12 "$T/run.c"
assert_eq "$(grep -c '^503$' "$T/run.a")" "$(grep -c '^503$' "$T/run.b")" "same seed, as many 503s"
[ "$(grep -c '^503$' "$T/run.a")" -gt 0 ] || fail "probability 0.3: no 503 in 30 requests"
[ "$(grep -c '^200$' "$T/run.a")" -gt 0 ] || fail "probability 0.3: every request got 503"
cmp -s "$T/run.a" "$T/run.b" || fail "the same seed gave other faults: $(diff "$T/run.a" "$T/run.b" | head -5)"
cmp -s "$T/run.a" "$T/run.c" && fail "another seed gave the very same faults"
tail -n1 "$T/run.a" >"$T/n.json"
assert_json "$T/n.json" '[.[] | .[1]] | unique' '["delivered","dropped"]' "drop 0.5: some dropped, some delivered"
ok "fault probabilities, reproducible by --seed"
