#!/usr/bin/env bash
# Issues 13 and 11: webhooks with three serve instances on one PostgreSQL database (contract
# sections 8 and 9). Every instance runs a webhook worker per endpoint; only the holder of the
# endpoint's lease "webhook:<id>" sends. Observed from outside:
#   - each instance's log ("lease taken ... webhook=<id>"),
#   - the receiver's log (tests/js/receiver.mjs on the official standardwebhooks library), in
#     arrival order, each message with the User-Agent "vppnotify/VERSION (instance ID)" of the
#     instance that sent it.
# A stream of notifications is posted across the instances; mid-stream the delivering instance
# is killed (-9) with a 2 s --lease-ttl. Then:
#   - every message verifies; the messages taken (2xx) are exactly the change log's entries
#     since the endpoint was added, first arrivals in sequence order (no gap, none reordered);
#   - the senders, in arrival order, are the first holder then the taker, never interleaved
#     (no two instances deliver to the endpoint at once), each in increasing sequence order;
#   - the only duplicates are the messages the killed holder sent at the end and the taker
#     sent again (same webhook-id): at most one batch, none before the kill.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_api.sh"
. "$(dirname "$0")/lib_fleet.sh" # fleet_stop (its fleet_serve runs Apple work this test has not)
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"

U=2049000000000777
TTL_MS=2000
tok=$(vn_new_location $U hooks)
TOKEN=$(cat "$tok")
start=$(vn_cli changes --json | tail -n 1 | jq .seq) # the endpoint gets what commits after it

# The receiver answers each message 15 ms late, so that deliveries lag behind the stream and
# some are pending when the holder is killed.
node "$VN_JS/receiver.mjs" --ready "$T/r.ready" --secret-file "$T/r.secret" --log "$T/r.jsonl" \
    --delay-ms 15 >>"$T/r.log" 2>&1 &
VN_PIDS+=($!)
wait_for 20 test -s "$T/r.ready" || fail "the receiver did not start"
H=$(vn_cli webhook add --url "http://$(cat "$T/r.ready")/hooks/r" --secret-file "$T/r.secret" \
    2>"$T/add.err") || fail "webhook add: $(cat "$T/add.err")"

# serve_n N: instance N on the test's database; URL[N] its notification endpoint, IID[N] its id.
declare -a URL PID IID
serve_n() {
    "$VPPNOTIFY" serve --db "$VN_DB" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$1" --lease-ttl ${TTL_MS}ms --webhook-timeout 900ms \
        --webhook-backoff 100ms >>"$T/serve.$1.log" 2>&1 &
    PID[$1]=$!
    VN_PIDS+=("${PID[$1]}")
    wait_for 20 test -s "$T/ready.$1" || fail "instance $1 did not become ready (see $T/serve.$1.log)"
    grep -q "store: postgresql " "$T/serve.$1.log" || fail "instance $1 is not on PostgreSQL"
    URL[$1]="http://$(head -n1 "$T/ready.$1")/notifications"
    wait_for 10 grep -q "leases: instance .*(webhook)" "$T/serve.$1.log" ||
        fail "instance $1 leases no webhook endpoint (see $T/serve.$1.log)"
    IID[$1]=$(sed -n 's/.*leases: instance [^ ]*:\([0-9a-f]\{12\}\),.*(webhook).*/\1/p' "$T/serve.$1.log" | head -n1)
    [ -n "${IID[$1]}" ] || fail "instance $1: no instance id in its log"
}
for n in 1 2 3; do serve_n $n; done

# post_stream FROM TO INSTANCES...: ASSET_COUNT notifications FROM..TO, round robin over the
# instances, one at a time; each must be answered 200.
post_stream() {
    local from=$1 to=$2 i n code
    shift 2
    local inst=("$@")
    for i in $(seq "$from" "$to"); do
        n=${inst[$((i % ${#inst[@]}))]}
        body_asset_count "wh-$i" $U "$((800 + i % 4))" 1 >"$T/b.$i"
        code=$(curl -sS -o "$T/resp.$i" -w '%{http_code}' -X POST "${URL[$n]}" \
            -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
            --data-binary "@$T/b.$i")
        [ "$code" = 200 ] || { echo "wh-$i on instance $n: $code $(cat "$T/resp.$i")"; return 1; }
    done
}
holders() { # the instances whose log says they took the endpoint's lease
    for n in 1 2 3; do
        if grep -q "lease taken.*webhook=$H" "$T/serve.$n.log"; then echo "$n"; fi
    done
}
taken_n() { jq -s '[.[] | select(.verified and .status < 300)] | length' "$T/r.jsonl"; }
has_taken() { [ "$(taken_n)" -ge "$1" ]; }
distinct_taken() { jq -s '[.[] | select(.verified and .status < 300) | .seq] | unique | length' "$T/r.jsonl"; }
has_all() { [ "$(distinct_taken)" -ge "$1" ]; }

# 1. One instance takes the endpoint's lease; a stream over the three instances is delivered
#    by it alone, in order.
wait_for 10 sh -c "[ -n \"\$(grep -l 'lease taken.*webhook=$H' '$T'/serve.*.log)\" ]" ||
    fail "no instance took the lease of webhook $H"
[ "$(holders | wc -l)" -eq 1 ] || fail "more than one instance took the lease: $(holders | tr '\n' ' ')"
A=$(holders)
post_stream 1 30 1 2 3 >"$T/post1.out" || fail "posting: $(cat "$T/post1.out")"
n1=$(vn_cli changes --after "$start" --json | wc -l)
wait_for 30 has_taken "$n1" || fail "the receiver got $(taken_n) of $n1 messages"
assert_eq "$(jq -s -c '[.[].userAgent] | unique' "$T/r.jsonl")" "[\"vppnotify/$("$VPPNOTIFY" --version | awk '{print $NF}') (instance ${IID[$A]})\"]" \
    "the sender of every message (instance $A holds the lease)"
ok "instance $A holds the lease of webhook $H and alone delivered the $n1 messages of a stream posted across 3 instances"

# 2. Mid-stream, the holder is killed: another instance takes the endpoint over within the
#    lease's bound (ttl + ttl / 4, plus slack for a loaded machine) and delivery resumes.
others=()
for n in 1 2 3; do if [ "$n" != "$A" ]; then others+=("$n"); fi; done
post_stream 31 90 "${others[@]}" >"$T/post2.out" 2>&1 &
POSTER=$!
VN_PIDS+=("$POSTER")
wait_for 30 has_taken $((n1 + 10)) || fail "the stream's deliveries did not start"
kill -9 "${PID[$A]}"
wait "${PID[$A]}" 2>/dev/null || true
killed_at=$(jq -s 'length' "$T/r.jsonl")
wait_for 10 sh -c "grep -l 'lease taken.*webhook=$H' '$T'/serve.*.log | grep -v 'serve.$A.log' | grep -q ." ||
    fail "no instance took webhook $H over after instance $A was killed"
B=$(holders | grep -v "^$A\$")
[ "$(echo "$B" | wc -l)" -eq 1 ] || fail "two instances took the lease over: $(echo "$B" | tr '\n' ' ')"
wait "$POSTER" || fail "posting: $(cat "$T/post2.out")"
vn_cli changes --after "$start" --json | jq -c .seq >"$T/all.seq"
total=$(wc -l <"$T/all.seq")
wait_for 30 has_all "$total" || fail "after the take-over the receiver has $(distinct_taken) of $total messages"
ok "instance $A killed -9 mid-stream (message $killed_at of the receiver's log); instance $B took webhook $H over"

# 3. What the receiver saw.
assert_eq "$(jq -s '[.[] | select(.verified | not)] | length' "$T/r.jsonl")" 0 \
    "messages the standardwebhooks library did not verify"
jq -s -c '[.[] | select(.status < 300) | .seq] | reduce .[] as $s ([]; if index([$s]) then . else . + [$s] end) | .[]' \
    "$T/r.jsonl" >"$T/first.seq"
cmp -s "$T/all.seq" "$T/first.seq" ||
    fail "first arrivals are not the change log in order: $(diff "$T/all.seq" "$T/first.seq" | head -5 | tr '\n' ' ')"
# Senders in arrival order, runs collapsed: the first holder, then the taker.
ua() { echo "vppnotify/$("$VPPNOTIFY" --version | awk '{print $NF}') (instance ${IID[$1]})"; }
assert_eq "$(jq -s -c '[.[].userAgent] | reduce .[] as $u ([]; if .[-1] == $u then . else . + [$u] end)' "$T/r.jsonl")" \
    "[\"$(ua "$A")\",\"$(ua "$B")\"]" "the senders in arrival order (never two at once)"
for n in "$A" "$B"; do
    jq -s -e --arg u "$(ua "$n")" '[.[] | select(.userAgent == $u) | .seq] as $s | $s == ($s | sort) and ($s | unique | length) == ($s | length)' \
        "$T/r.jsonl" >/dev/null || fail "instance $n did not send in increasing sequence order"
done
# Duplicates: only messages the killed holder sent last and the taker sent again first.
first_b=$(jq -s --arg u "$(ua "$B")" '[.[] | select(.userAgent == $u) | .seq][0]' "$T/r.jsonl")
dups=$(jq -s '[.[] | select(.status < 300) | .seq] | length - (unique | length)' "$T/r.jsonl")
resent=$(jq -s --arg u "$(ua "$A")" --argjson f "$first_b" '[.[] | select(.userAgent == $u and .seq >= $f)] | length' "$T/r.jsonl")
assert_eq "$dups" "$resent" "duplicates are exactly the holder's last messages sent again by the taker"
[ "$dups" -le 50 ] || fail "$dups duplicates: more than one batch sent again"
assert_eq "$(jq -s '[group_by(.seq)[] | map(.id) | unique | length] | max' "$T/r.jsonl")" 1 \
    "one webhook-id per message, whoever sent it"
vn_cli webhook list --id "$H" --json >"$T/l.json"
assert_json "$T/l.json" '.[0] | [.state, .cursor]' "[\"active\",$(tail -n1 "$T/all.seq")]" "the endpoint's state"
ok "$total messages: each verified, first arrivals in sequence order with no gap; $dups sent twice around the kill, none otherwise"

fleet_stop "${others[@]}"
ok "the other instances stopped cleanly"
