#!/usr/bin/env bash
# Issue 13, item 3: "the change feed keeps its no-miss guarantee across instances". Three serve
# instances on one PostgreSQL database take notifications at the same time; a consumer long-polls
# the feed of one of them. It sees every change exactly once, in order, the log change for
# change (seq grows in commit order across instances: one writer at a time, docs/STORE.md), and
# the replay of the feed equals the read routes.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/lib_api.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"

api_keys
tok=$(vn_new_location 2049000000000001 feed)
TOKEN=$(cat "$tok")

declare -a URL PID
serve_n() {
    "$VPPNOTIFY" serve --db "$VN_DB" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$1" >>"$T/serve.$1.log" 2>&1 &
    PID[$1]=$!
    VN_PIDS+=("${PID[$1]}")
    wait_for 20 test -s "$T/ready.$1" || fail "instance $1 did not become ready (see $T/serve.$1.log)"
    URL[$1]="http://$(head -n1 "$T/ready.$1")/notifications"
}
for n in 1 2 3; do serve_n $n; done
VN_API_URL="http://$(sed -n 2p "$T/ready.1")"

node "$VN_JS/feed.mjs" --url "$VN_API_URL" --key "$READ_KEY" --out "$T/feed.jsonl" \
    --stop-file "$T/stop" --deadline 120 >"$T/feed.log" 2>&1 &
FEED_PID=$!
VN_PIDS+=("$FEED_PID")

# 3 x 80 notifications, each instance its own stream, all at once, over 12 assets and
# assignments that appear and go.
for n in 1 2 3; do
    : >"$T/cfg.$n"
    for i in $(seq 1 80); do
        if [ $((i % 4)) = 0 ]; then
            body_associate "i$n-$i" 2049000000000001 "ev-$n-$i" "$((700 + i % 12))" "S$n-$i" >"$T/b.$n.$i"
        else
            body_asset_count "i$n-$i" 2049000000000001 "$((700 + i % 12))" 1 >"$T/b.$n.$i"
        fi
        cfg_add "$T/cfg.$n" "${URL[$n]}" "$T/b.$n.$i" "$TOKEN" /dev/null '%{http_code}'
    done
    curl -sS --parallel --parallel-max 6 -K "$T/cfg.$n" >"$T/st.$n" 2>"$T/curl.$n" &
done
wait_for 60 sh -c "[ \$(cat '$T'/st.* 2>/dev/null | grep -c '^200\$') -ge 240 ]" ||
    fail "notifications: $(cat "$T"/st.* | sort | uniq -c)"
touch "$T/stop"
wait "$FEED_PID" || fail "the consumer failed: $(tail -n 5 "$T/feed.log")"
ok "a consumer long-polled one of 3 instances taking 240 notifications at once: $(tail -n 1 "$T/feed.log")"

vn_cli changes --json >"$T/log.jsonl" || fail "vppnotify changes --json"
jq -c . "$T/feed.jsonl" >"$T/a" && jq -c . "$T/log.jsonl" >"$T/b"
cmp -s "$T/a" "$T/b" || fail "the consumer's feed differs from the log: $(diff "$T/a" "$T/b" | head -c 600)"
[ "$(jq -s '[.[].seq] | (. == (sort | unique))' "$T/feed.jsonl")" = true ] || fail "seq does not only grow"
[ "$(jq -s '[.[] | select(.kind == "asset")] | length' "$T/feed.jsonl")" -gt 12 ] || fail "too few asset changes"
ok "each of $(wc -l <"$T/feed.jsonl") changes seen exactly once, in order, the log change for change"

node "$VN_JS/replay.mjs" --url "$VN_API_URL" --key "$READ_KEY" --changes "$T/feed.jsonl" \
    >"$T/replay.out" 2>&1 || fail "replay: $(head -n 12 "$T/replay.out")"
ok "$(tail -n 1 "$T/replay.out")"
for n in 1 2 3; do
    VN_SERVE_PID=${PID[$n]}
    vn_serve_stop
done
