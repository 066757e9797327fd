#!/usr/bin/env bash
# Issue 13, "a stream spread over three instances while one is kill -9ed and PostgreSQL is
# restarted mid-stream": every 2xx is in the ledger once, nothing is applied twice, 503 with
# Retry-After only while the database is down, and service comes back without restarting
# serve. The test runs its own cluster, so that restarting it disturbs no other test.
source "$(dirname "$0")/../integration/lib.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
CLUSTER=${VN_PG_CLUSTER:-$(dirname "$0")/cluster.sh}

pg_own_cluster
UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

declare -a URL PID
serve_n() {
    "$VPPNOTIFY" serve --db "$VN_DB" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$1" \
        --retry-after 7s >>"$T/serve.$1.log" 2>&1 &
    PID[$1]=$!
    VN_PIDS+=("${PID[$1]}")
    wait_for 20 test -s "$T/ready.$1" || fail "instance $1 did not become ready (see $T/serve.$1.log)"
    URL[$1]="http://$(head -n1 "$T/ready.$1")/notifications"
}
for n in 1 2 3; do serve_n $n; done

# post ID N: post notification ID to instance N; prints the HTTP status (000: no answer).
# Headers in $T/h.ID, body in $T/r.ID.
post() {
    [ -f "$T/b.$1" ] || body_asset_count "$1" $UID1 9 1 >"$T/b.$1"
    curl -sS -o "$T/r.$1" -D "$T/h.$1" -w '%{http_code}' --max-time 20 -X POST "${URL[$2]}" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
        --data-binary "@$T/b.$1" 2>/dev/null || true
}
# deliver ID N...: what Apple does: post to the first instance that answers; 2xx or fail.
deliver() {
    local id=$1 code
    shift
    for n in "$@"; do
        code=$(post "$id" "$n")
        case "$code" in
        2*) echo "$id $code $(jq -r .status "$T/r.$id")" >>"$T/delivered"; return 0 ;;
        000) continue ;; # no answer: the next instance (a load balancer would)
        *) fail "$id on instance $n: HTTP $code $(cat "$T/r.$id")" ;;
        esac
    done
    fail "$id: no instance answered"
}

# 1. A stream spread over the three.
for i in $(seq 1 60); do deliver "s$i" $((i % 3 + 1)); done
ok "60 notifications over 3 instances"

# 2. Instance 3 is killed while a stream to it is in flight; what it did not answer goes to
#    the others (some of it may have been committed before the kill: then it is a duplicate).
: >"$T/to3.cfg"
for i in $(seq 61 160); do
    body_asset_count "s$i" $UID1 9 1 >"$T/b.s$i"
    cfg_add "$T/to3.cfg" "${URL[3]}" "$T/b.s$i" "$TOKEN" "$T/r3.s$i" "s$i %{http_code}"
done
# One after the other at 100 a second (about 1 s), so that the kill lands mid-stream.
curl -sS --rate 100/s -K "$T/to3.cfg" >"$T/codes3" 2>/dev/null &
stream=$!
# (curl's own report is buffered until it ends: each transfer's body file shows progress)
wait_for 20 test -s "$T/r3.s70" || fail "the stream to instance 3 did not start"
kill -9 "${PID[3]}"
wait "$stream" || true
wait "${PID[3]}" 2>/dev/null || true
answered3=$(awk '$2 == 200' "$T/codes3" | wc -l)
for i in $(seq 61 160); do
    if ! grep -q "^s$i 200$" "$T/codes3"; then deliver "s$i" 1 2; fi
done
[ "$answered3" -lt 100 ] || fail "instance 3 answered everything before it was killed"
ok "instance 3 killed mid-stream after $answered3 answers; the rest went to 1 and 2"

# 3. PostgreSQL goes away: 503 with Retry-After, never a 2xx for what is not on disk.
bash "$CLUSTER" kill "$PG"
for i in $(seq 161 170); do
    code=$(post "s$i" $((i % 2 + 1)))
    assert_eq "$code" 503 "s$i while PostgreSQL is down"
    grep -qi '^Retry-After: 7' "$T/h.s$i" || fail "s$i: 503 without Retry-After: 7"
done
ok "while PostgreSQL is down: 503 + Retry-After"

# 4. PostgreSQL is back: the same instances serve again at once, the refused ones included.
bash "$CLUSTER" restart "$PG"
for i in $(seq 161 220); do
    code=$(post "s$i" $((i % 2 + 1)))
    [ "${code:0:1}" = 2 ] || fail "s$i after PostgreSQL came back: HTTP $code $(cat "$T/r.s$i")"
    echo "s$i $code $(jq -r .status "$T/r.s$i")" >>"$T/delivered"
done
ok "PostgreSQL back: every answer 2xx again, serve not restarted"

for n in 1 2; do
    VN_SERVE_PID=${PID[$n]}
    vn_serve_stop
done
# Every notification was acknowledged (2xx) at least once; each is in the ledger once and
# counted once in the mirror, whichever instance took it and however often it was sent.
delivered=$(awk '{print $1}' "$T/delivered" | sort -u | wc -l)
assert_eq "$((delivered + answered3))" 220 "ids acknowledged"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'length' 220 "ledger rows"
assert_json "$T/n.json" '[.[].notificationId] | unique | length' 220 "distinct ids in the ledger"
vn_cli assets --adam-id 9 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' 220 "each notification applied exactly once"
ok "220 acknowledged, 220 in the ledger, 220 counted: nothing lost, nothing applied twice"
