#!/usr/bin/env bash
# kill -9 during a stream of posts: every id that got a 2xx is present and applied once, and
# no id is applied twice, whatever instant the kill hit. Repeated a few times.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
N=600
ROUNDS=3

for i in $(seq $N); do
    body_associate "k-$i" $UID1 ev-kill 777 "K$i" >"$T/b.$i.json"
done

acked_total=0
for round in $(seq $ROUNDS); do
    vn_serve_start
    : >"$T/curl.cfg"
    for i in $(seq $N); do
        cfg_add "$T/curl.cfg" "$VN_URL/notifications?id=k-$i" "$T/b.$i.json" "$TOKEN" /dev/null "%{url_effective} %{http_code}"
    done
    curl -sS --no-progress-meter --parallel --parallel-max 16 -K "$T/curl.cfg" >"$T/codes.$round" 2>/dev/null &
    cpid=$!
    # Kill at a different instant each round: after some answers have come back.
    want=$((round * 60))
    wait_for 30 lines_at_least "$T/codes.$round" "$want" || fail "no progress before kill"
    kill -9 "$VN_SERVE_PID"
    wait "$VN_SERVE_PID" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    acked=$(grep -cE ' 200$' "$T/codes.$round" || true)
    echo "# round $round: $acked acknowledged before kill -9"
    [ "$acked" -gt 0 ] || fail "round $round: nothing was acknowledged"
done

# Restart on the same database (WAL recovery) and check every acknowledgement.
vn_serve_start
vn_cli notifications --json >"$T/n.json"
vn_cli assignments --adam-id 777 --json >"$T/as.json"
vn_cli assets --adam-id 777 --json >"$T/a.json"
vn_serve_stop
jq -r '.[].notificationId' "$T/n.json" | sort >"$T/present"
sed -n 's/.*id=\(k-[0-9]*\) 200$/\1/p' "$T"/codes.* | sort -u >"$T/acked"
missing=$(comm -23 "$T/acked" "$T/present" | wc -l)
assert_eq "$missing" 0 "acknowledged ids missing after kill -9"
present=$(wc -l <"$T/present")
assert_json "$T/as.json" 'length' "$present" "one assignment per stored notification"
assert_json "$T/a.json" '.[0].assignedCount' "$present" "assignedCount counts each once"
assert_json "$T/n.json" '[.[] | select(.state != "applied")] | length' '0' "all applied"
ok "$(wc -l <"$T/acked") acknowledged ids over $ROUNDS kill -9 rounds: all present, each applied once"
