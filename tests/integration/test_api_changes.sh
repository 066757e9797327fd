#!/usr/bin/env bash
# The change feed (contract section 8): a consumer long-polling GET /v1/changes from 0 while
# notifications, syncs (another process) and requests to Apple (vppsim) run at once sees every
# change exactly once, in order, and its replay of the feed rebuilds the mirror exactly (the
# read routes at the end). `vppnotify changes` is the same feed. A consumer behind the
# retention gets 410.
. "$(dirname "$0")/lib_apple.sh"
. "$(dirname "$0")/lib_api.sh"

SIM_ARGS="--page-size 100"
apple_start
apple_location
apple_subscribe
ctl POST /_sim/seed "$(jq -nc --arg u "$LOC_UID" '{uId: $u,
  assets: [range(6) | {adamId: "\(500 + .)", totalCount: 400}],
  users: [range(150) | {clientUserId: "u\(.)", email: "u\(.)@example.com"}],
  assignments: [range(300) | {adamId: "\(500 + (. % 6))", serialNumber: "OLD\(.)"}],
  subscriptions: [{adamId: 7000, total: {renewing: 20, expiring: 5}}],
  subscriptionAssignments: [range(8) | {adamId: 7000, clientUserId: "u\(.)", renewing: true}]}')" \
    >/dev/null || fail "seed"
api_keys

# The consumer, from 0, long-polling.
node "$VN_JS/feed.mjs" --url "$VN_API_URL" --key "$READ_KEY" --out "$T/feed.jsonl" \
    --stop-file "$T/stop" --deadline 240 >"$T/feed.log" 2>&1 &
FEED_PID=$!
VN_PIDS+=("$FEED_PID")

# Three writers at once: a full sync (another process), requests to Apple whose notifications
# vppsim delivers to serve, and notifications posted straight to serve.
(vn_cli sync --uid "$LOC_UID" --full >"$T/sync1.out" 2>&1 &&
    vn_cli sync --uid "$LOC_UID" --full >"$T/sync2.out" 2>&1) &
SYNC_PID=$!
for i in 1 2 3 4 5; do echo "new$i,new$i@example.com"; done >"$T/users.txt"
(for i in 1 2 3 4; do
    vn_cli assets associate --uid "$LOC_UID" --assets "50$i" \
        --serials "$(seq -s, -f "NEW$i-%03g" 1 40)" 2>>"$T/req.err" || exit 1
done
vn_cli users create --uid "$LOC_UID" --users-file "$T/users.txt" 2>>"$T/req.err" || exit 1) \
    >"$T/events.txt" &
REQ_PID=$!
tok=$(vn_new_location 2049000000000001 direct)
: >"$T/cfg"
for i in $(seq 1 60); do
    body_asset_count "direct-$i" 2049000000000001 "$((900 + i % 7))" 1 >"$T/d.$i.json"
    cfg_add "$T/cfg" "$VN_URL/notifications" "$T/d.$i.json" "$(cat "$tok")" /dev/null '%{http_code}'
done
curl -sS --parallel --parallel-max 8 -K "$T/cfg" >"$T/direct.st" || fail "direct notifications"
[ "$(grep -c '^200$' "$T/direct.st")" = 60 ] || fail "direct notifications: $(sort "$T/direct.st" | uniq -c)"
wait "$SYNC_PID" || fail "sync: $(tail -n 3 "$T"/sync*.out)"
wait "$REQ_PID" || fail "requests: $(cat "$T/req.err")"
while read -r ev; do wait_event "$ev" 60; done <"$T/events.txt"
[ "$(wc -l <"$T/events.txt")" -ge 5 ] || fail "the requests named no events: $(cat "$T/req.err")"
settle 30
# A sync that ran while notifications of the same rows arrived may leave the mirror behind
# (contract 3.1, the writer's convergence work); one more sync, alone, brings it to Apple's
# state, and its corrections are changes too.
vn_cli sync --uid "$LOC_UID" --full >"$T/sync3.out" 2>&1 || fail "last sync: $(tail -n 3 "$T/sync3.out")"
mirror_equals_sim "$LOC_UID"

# Traffic is over: the consumer reads what is left, then stops.
touch "$T/stop"
wait "$FEED_PID" || fail "the consumer failed: $(tail -n 5 "$T/feed.log")"
ok "a consumer long-polled through syncs, requests and notifications: $(tail -n 1 "$T/feed.log")"

# Exactly once, in order: the consumer's changes are the log's, change for change.
vn_cli changes --json >"$T/log.jsonl" || fail "vppnotify changes --json"
[ -s "$T/log.jsonl" ] || fail "the log is empty"
jq -c . "$T/feed.jsonl" >"$T/a" && jq -c . "$T/log.jsonl" >"$T/b"
cmp -s "$T/a" "$T/b" ||
    fail "the consumer's feed differs from the log: $(diff "$T/a" "$T/b" | head -c 600)"
n=$(wc -l <"$T/feed.jsonl")
[ "$(jq -s '[.[].seq] | (. == (sort | unique))' "$T/feed.jsonl")" = true ] ||
    fail "seq does not only grow"
for kind in asset assignment user subscription subscriptionAssignment event location; do
    [ "$(jq -s --arg k "$kind" '[.[] | select(.kind == $k)] | length' "$T/feed.jsonl")" -gt 0 ] ||
        fail "no $kind change in the feed"
done
[ "$(jq -s '[.[] | select(.kind == "event" and .op == "completed")] | length' "$T/feed.jsonl")" -ge 5 ] ||
    fail "fewer than 5 event completions in the feed"
ok "the consumer saw each of the $n changes exactly once, in order: the log, change for change"

node "$VN_JS/replay.mjs" --url "$VN_API_URL" --key "$READ_KEY" --changes "$T/feed.jsonl" \
    >"$T/replay.out" 2>&1 || fail "replay: $(head -n 12 "$T/replay.out")"
ok "$(tail -n 1 "$T/replay.out")"

# The same feed on the command line, from a point.
mid=$(sed -n "$((n / 2))p" "$T/feed.jsonl" | jq .seq)
vn_cli changes --after "$mid" --json | jq -c . >"$T/c"
tail -n "$((n - n / 2))" "$T/a" >"$T/d"
cmp -s "$T/c" "$T/d" || fail "vppnotify changes --after $mid is not the rest of the feed"
vn_cli changes --after "$mid" --limit 3 >"$T/t" || fail "changes as a table"
[ "$(wc -l <"$T/t")" = 4 ] || fail "--limit 3: a header and 3 lines: $(cat "$T/t")"
ok "vppnotify changes --after SEQ is the rest of the same feed"

# ---- answers against docs/openapi.yaml, bad parameters, 410 -----------------------------------------
[ "$(api_get "$READ_KEY" "/v1/changes?after=$mid&limit=5")" = 200 ] || fail "a page of changes"
assert_json "$T/a.json" '.changes | length' 5 "limit 5"
assert_json "$T/a.json" '.lastSeq == .changes[-1].seq' true "lastSeq is the last change's seq"
[ "$(api_get "$READ_KEY" "/v1/changes?after=$(tail -n1 "$T/feed.jsonl" | jq .seq)&wait=1")" = 200 ] ||
    fail "a long poll that times out"
assert_json "$T/a.json" '.changes' '[]' "nothing newer within the wait"
# A long poll that finds a few changes there already is answered in the feed's next round (5
# ms), not when its wait ends; one waiting is answered when a change commits. Bounded by
# --max-time far below the wait: a lost answer fails, it does not pass slowly.
near=$(sed -n "$((n - 3))p" "$T/feed.jsonl" | jq .seq)
curl -sS --max-time 15 -o "$T/near.json" -H "Authorization: Bearer $READ_KEY" \
    "$VN_API_URL/v1/changes?after=$near&limit=1000&wait=60" || fail "a long poll with changes there"
assert_json "$T/near.json" '.changes | length' 3 "the 3 changes after $near, before the wait ends"
head_seq=$(jq .lastSeq "$T/near.json")
curl -sS --max-time 15 -o "$T/woken.json" -H "Authorization: Bearer $READ_KEY" \
    "$VN_API_URL/v1/changes?after=$head_seq&wait=60" &
CURL_PID=$!
vn_cli location add --uid 2049000000000003 --name woken >/dev/null 2>&1 || fail "a change"
wait "$CURL_PID" || fail "a waiting long poll was not answered when a change committed"
assert_json "$T/woken.json" '.changes[0].key.uId' '"2049000000000003"' "the waiting poll got the change"
[ "$(api_get "$READ_KEY" "/v1/changes?wait=61")" = 400 ] || fail "wait 61"
assert_contains "$T/a.json" "wait '61' must be an integer from 0 to 60" "wait bound"
[ "$(api_get "$READ_KEY" "/v1/changes?since=3")" = 400 ] || fail "unknown parameter"
[ "$(api_get "" /v1/changes)" = 401 ] || fail "no key"
[ "$(api_get "$READ_KEY" "/v1/changes?after=999999999")" = 410 ] || fail "after beyond the log"
# Retention: the log keeps its newest change only after a commit that finds the rest too old.
db_sql "UPDATE change_meta SET retention_ms = 1" || fail "retention"
vn_cli location add --uid 2049000000000002 --name later >/dev/null 2>&1 || fail "a later change"
[ "$(api_get "$READ_KEY" "/v1/changes?after=0")" = 410 ] || fail "a consumer behind the retention"
assert_contains "$T/a.json" "read the mirror again, then follow from lastSeq" "410 says what to do"
last=$(jq .lastSeq "$T/a.json")
[ "$(api_get "$READ_KEY" "/v1/changes?after=$last")" = 200 ] || fail "following from lastSeq"
rc=0; vn_cli changes --after 0 2>"$T/err" >/dev/null || rc=$?
assert_eq "$rc" 1 "vppnotify changes behind the retention"
assert_contains "$T/err" "are gone" "the CLI says so"
api_validate
ok "pages, a long poll that times out, 400 and 401, 410 behind the retention; answers match docs/openapi.yaml"
vn_serve_stop
