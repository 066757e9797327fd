#!/usr/bin/env bash
# The change feed across a kill -9 of serve mid-stream: a consumer long-polling while
# notifications stream in (and are retried, as Apple does, while serve is down) ends with
# exactly the log: no committed change missing, none reported that was not committed; every
# acknowledged notification's change is in it, and the replay rebuilds the mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

U=2049000000000777
tok=$(cat "$(vn_new_location $U kill9)")
api_keys
vn_serve_start

node "$VN_JS/feed.mjs" --url "$VN_API_URL" --key "$READ_KEY" --out "$T/feed.jsonl" \
    --stop-file "$T/stop" --ready-file "$T/ready" --deadline 120 >"$T/feed.log" 2>&1 &
FEED_PID=$!
VN_PIDS+=("$FEED_PID")

# Four posters, 60 notifications each (ASSET_COUNT +1 on 5 products, and a device associated
# per notification), each retried until serve answers 2xx, as Apple retries.
post_until_2xx() { # ID BODYFILE
    local st deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
        st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
            "http://$(head -n1 "$T/ready" 2>/dev/null)/notifications" \
            -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" \
            --data-binary "@$2" 2>/dev/null) || st=000
        case $st in 2??) echo "$1" >>"$T/acked.$BASHPID"; return 0 ;; esac
        sleep 0.02 # serve is down or restarting: Apple would retry too
    done
    return 1
}
for p in 1 2 3 4; do
    (for i in $(seq 1 60); do
        if [ $((i % 2)) = 0 ]; then
            body_asset_count "k-$p-$i" $U "$((300 + i % 5))" 1 >"$T/b.$p.$i"
        else
            body_associate "k-$p-$i" $U "ev-$p" "$((300 + i % 5))" "SN-$p-$i" >"$T/b.$p.$i"
        fi
        post_until_2xx "k-$p-$i" "$T/b.$p.$i" || exit 1
    done) &
    POSTERS+=($!)
done

# Mid-stream: kill -9 once the consumer has read something, and start serve again.
wait_for 60 lines_at_least "$T/feed.jsonl" 40 || fail "the consumer read nothing"
kill -9 "$VN_SERVE_PID"
wait "$VN_SERVE_PID" 2>/dev/null || true
before=$(wc -l <"$T/feed.jsonl")
vn_serve_start
for pid in "${POSTERS[@]}"; do wait "$pid" || fail "a poster gave up"; done
touch "$T/stop"
wait "$FEED_PID" || fail "the consumer failed: $(tail -n 5 "$T/feed.log")"
ok "killed -9 after the consumer had read $before changes; it went on: $(tail -n 1 "$T/feed.log")"

vn_cli changes --json | jq -c . >"$T/log" && jq -c . "$T/feed.jsonl" >"$T/got"
cmp -s "$T/log" "$T/got" || fail "the consumer's feed is not the log: $(diff "$T/log" "$T/got" | head -c 600)"
acked=$(cat "$T"/acked.* | sort -u | wc -l)
assert_eq "$acked" 240 "every notification acknowledged once in the end"
# Every acknowledged notification's change is in the feed: 120 devices, and the counts.
assert_eq "$(jq -s '[.[] | select(.kind == "assignment" and .op == "insert")] | length' "$T/feed.jsonl")" \
    120 "an insert per associated device"
vn_cli assets --uid $U --json >"$T/assets.json"
assert_json "$T/assets.json" '[.[].totalCount] | add' 120 "ASSET_COUNT +1 each, counted once"
node "$VN_JS/replay.mjs" --url "$VN_API_URL" --key "$READ_KEY" --changes "$T/feed.jsonl" \
    >"$T/replay.out" 2>&1 || fail "replay: $(head -n 12 "$T/replay.out")"
ok "no committed change missing, none that was not committed; $(tail -n 1 "$T/replay.out")"

# `vppnotify changes --follow` (another process, polling the log) prints a change as it
# commits, and ends with 0 on SIGTERM.
last=$(tail -n 1 "$T/feed.jsonl" | jq .seq)
VPPNOTIFY_DB="$VN_DB" "$VPPNOTIFY" changes --follow --json --after "$last" >"$T/follow.jsonl" 2>"$T/follow.err" &
FOLLOW_PID=$!
VN_PIDS+=("$FOLLOW_PID")
body_asset_count "after-follow" $U 4242 7 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$tok")" 200 "a notification while following"
followed() { jq_true 'select(.kind == "asset" and .key.adamId == "4242" and .row.totalCount == 7)' "$T/follow.jsonl" >/dev/null 2>&1; }
wait_for 10 followed || fail "changes --follow did not print the new change: $(cat "$T/follow.jsonl" "$T/follow.err")"
kill -TERM "$FOLLOW_PID"
rc=0; wait "$FOLLOW_PID" || rc=$?
assert_eq "$rc" 0 "changes --follow ends with 0 on SIGTERM"
ok "vppnotify changes --follow prints a change as it commits"
vn_serve_stop
