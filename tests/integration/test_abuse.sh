#!/usr/bin/env bash
# The endpoint under abuse (issue 10): slow-header (slowloris), idle and half-closed connections
# from several loopback addresses while a legitimate client keeps being served; and the
# capacity comes back when the attack ends (no socket left in CLOSE-WAIT).
#
# The bound: every legitimate request must be answered 200 within 10 s (curl --max-time) while
# the attack runs; docs/RELIABILITY.md reports the latencies measured.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
ABUSE="$VN_TOOLS/vn_abuse"
ATTACKERS=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9

# close_wait PORT: how many of the server's sockets on PORT are in CLOSE-WAIT.
close_wait() {
    ss -Htn state close-wait "( sport = :$1 )" | wc -l
}
no_close_wait() {
    [ "$(close_wait "$1")" -eq 0 ]
}
# established PORT: the server's established connections on PORT.
established() {
    ss -Htn state established "( sport = :$1 )" | wc -l
}
at_most_established() {
    [ "$(established "$1")" -le "$2" ]
}

# ---- half-closed connections are closed at once, not left in CLOSE-WAIT -------------------
vn_serve_start --header-timeout 20s --idle-timeout 60s
PORT=${VN_ADDR##*:}
"$ABUSE" --connect "$VN_ADDR" --from 127.0.0.2,127.0.0.3 --fin 100 --duration 3s >"$T/fin.json"
assert_json "$T/fin.json" '.opened' '100' "every half-closing connection was accepted"
assert_json "$T/fin.json" '.closed' '100' "the server closed every half-closed connection"
wait_for 5 no_close_wait "$PORT" || fail "$(close_wait "$PORT") sockets still in CLOSE-WAIT"
ok "100 connections closed by the client mid-headers: all closed by the server, none in CLOSE-WAIT"
vn_serve_stop
# stat NAME: a counter of serve's last "connections since start" line.
stat() {
    grep 'connections since start' "$T/serve.log" | tail -n1 | grep -o " $1=[0-9]*" | cut -d= -f2
}
# Who closed them: libmicrohttpd's poll loop sees the FIN itself; its epoll loop does not in the
# middle of headers, and the reaper (conn.c) closes them (tests/CMakeLists.txt runs this test
# with each loop).
if [ "${VN_EVENT_LOOP:-poll}" = epoll ]; then
    [ "$(stat half_closed)" -gt 0 ] || fail "half_closed=$(stat half_closed) in the summary"
fi

# ---- the header deadline and the per-address limit, one at a time ---------------------------
# 60 connections from one address with --max-per-ip 40: 20 refused at once; the 40 others send
# a header byte every 300 ms (far below --idle-timeout) or nothing, and are closed by the
# 1 s header deadline.
vn_serve_start --header-timeout 1s --idle-timeout 60s --max-per-ip 40
"$ABUSE" --connect "$VN_ADDR" --from 127.0.0.2 --slow 30 --idle 30 --interval 300ms \
    --duration 3s >"$T/slow.json"
assert_json "$T/slow.json" '.closed' '60' "the server closed every slow or idle connection"
vn_serve_stop
ht=$(stat header_timeout)
rp=$(stat refused_per_ip)
[ "$ht" -gt 0 ] && [ "$rp" -gt 0 ] || fail "header_timeout=$ht refused_per_ip=$rp"
assert_eq "$((ht + rp))" 60 "closed by the header deadline + refused over --max-per-ip"
ok "slow headers: $ht closed by --header-timeout, $rp refused by --max-per-ip"

# ---- slowloris, idle and half-closed from 8 addresses while a client keeps being served -----
# 480 connections, 60 from each of 8 addresses: over --max-per-ip 40 from each, and 8 x 40 =
# 320 > --max-connections 256, so the per-address limit alone
# would not save a slot; the header deadline and the headroom (7/8) must.
vn_serve_start --header-timeout 1s --idle-timeout 30s --max-per-ip 40 --max-connections 256 \
    --threads 2
PORT=${VN_ADDR##*:}
"$ABUSE" --connect "$VN_ADDR" --from "$ATTACKERS" --slow 300 --idle 120 --fin 60 \
    --interval 300ms --duration 8s --reopen --reopen-delay 200ms --ready-file "$T/attack.ready" \
    >"$T/attack.json" &
apid=$!
VN_PIDS+=("$apid")
wait_for 10 test -s "$T/attack.ready" || fail "the attack did not start"

sent=0
good=0
: >"$T/legit.times"
deadline=$((SECONDS + 6))
while [ $SECONDS -lt $deadline ]; do
    sent=$((sent + 1))
    body_asset_count "legit-$sent" $UID1 7 1 >"$T/l.json"
    r=$(curl -sS -o "$T/resp" -w '%{http_code} %{time_total}' --max-time 10 -X POST \
        "$VN_URL/notifications" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $TOKEN" --data-binary "@$T/l.json" 2>>"$T/curl.err" || true)
    echo "${r#* }" >>"$T/legit.times"
    if [ "${r%% *}" = 200 ]; then
        good=$((good + 1))
    else
        echo "legit-$sent: '${r:-no answer}'" >>"$T/legit.failed"
    fi
done
wait "$apid"
[ "$sent" -ge 5 ] || fail "only $sent legitimate requests sent in 6 s"
assert_eq "$good" "$sent" "legitimate requests answered 200 under attack ($(cat "$T/legit.failed" 2>/dev/null | head -3))"
assert_json "$T/attack.json" '.opened > 480' 'true' "the attackers reconnected"
assert_json "$T/attack.json" '.closed > 300' 'true' "the server closed attacking connections"
max=$(sort -g "$T/legit.times" | tail -n1)
ok "$good of $sent legitimate requests answered 200 (slowest ${max}s) while $(jq .held_max "$T/attack.json") hostile connections were held"

# Capacity comes back: nothing in CLOSE-WAIT, the attack's connections gone.
wait_for 5 no_close_wait "$PORT" || fail "$(close_wait "$PORT") sockets in CLOSE-WAIT after the attack"
wait_for 5 at_most_established "$PORT" 0 || fail "$(established "$PORT") connections still open"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$VN_URL/healthz")
assert_eq "$code" 200 "healthz after the attack"
ok "after the attack: no CLOSE-WAIT, no connection left, healthz 200"
assert_contains "$T/serve.log" "connections closed or refused to keep slots free" "attack logged"
vn_serve_stop
[ "$(stat evicted)" -gt 0 ] || fail "evicted=$(stat evicted): the headroom did not act"
ok "summary at stop: $(grep 'connections since start' "$T/serve.log" | tail -n1 | cut -d' ' -f5-)"

# Every acknowledged notification is in the mirror exactly once.
vn_cli assets --adam-id 7 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' "$good" "each acknowledged notification applied once"
ok "the mirror counts every acknowledged notification once"
