#!/usr/bin/env bash
# The front door's explicit limits: header memory (431), JSON nesting depth (400), idle and
# read timeouts (connection closed), connections per IP; and SIGTERM finishing in-flight work.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
vn_serve_start --max-header 4K --max-depth 8 --idle-timeout 1s --read-timeout 1500ms \
    --max-per-ip 4
PORT=${VN_ADDR##*:}

big=$(head -c 6000 /dev/zero | tr '\0' 'a')
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
    -H "Authorization: Bearer $TOKEN" -H "X-Padding: $big" -d '{}')
assert_eq "$code" 431 "headers over --max-header"
ok "431 for headers over --max-header"

printf '{"notificationId":"deep","notificationType":"ASSET_COUNT","uId":"%s","notification":{"a":[[[[[[[[[1]]]]]]]]]}}' $UID1 >"$T/deep.json"
assert_eq "$(vn_post "$T/deep.json" "$TOKEN")" 400 "nesting deeper than --max-depth"
assert_json "$T/resp" '.error' '"JSON nested deeper than 8 levels"' "the limit is quoted"
ok "400 for JSON nested deeper than --max-depth"

# An idle connection is closed after --idle-timeout.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
start=$SECONDS
if read -r -t 10 _ <&3; then :; fi
elapsed=$((SECONDS - start))
exec 3>&-
[ "$elapsed" -lt 8 ] || fail "idle connection still open after ${elapsed}s"
ok "an idle connection is closed by --idle-timeout"

# A body that trickles in slower than --read-timeout is cut off, and nothing is stored.
body_asset_count slow-1 $UID1 1 1 >"$T/slow.json"
len=$(wc -c <"$T/slow.json")
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
{
    printf 'POST /notifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n' "$TOKEN"
    printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' "$len"
    head -c 20 "$T/slow.json"
} >&3
# One byte each 0.3 s (under --idle-timeout, 1 s) until serve ends the request (an answer, or
# the connection closed), bounded; the whole body would take far longer than --read-timeout.
off=21
deadline=$((SECONDS + 20))
while [ $off -le "$len" ] && [ $SECONDS -lt $deadline ]; do
    tail -c +$off "$T/slow.json" | head -c 1 >&3 2>/dev/null || break
    off=$((off + 1))
    if read -r -t 0.3 -u 3 line; then
        printf '%s\n' "$line" >>"$T/slow.out"
        break
    fi
done
timeout 5 cat <&3 >>"$T/slow.out" 2>/dev/null || true
exec 3>&-
[ $off -le "$len" ] || fail "serve took the whole trickled body ($len bytes) without cutting it off"
if grep -q '" 200\|HTTP/1.1 200' "$T/slow.out"; then
    fail "a body slower than --read-timeout was accepted"
fi
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | select(.notificationId == "slow-1")] | length' '0' "nothing stored"
assert_contains "$T/serve.log" "body not received within the read timeout" "cut by the read timeout"
ok "a body slower than --read-timeout is cut off, nothing stored"

# --max-per-ip: the 5th simultaneous connection from one address is refused.
for i in 1 2 3 4; do
    eval "exec $((10 + i))<>/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /notifications HTTP/1.1\r\nHost: x\r\n' >&$((10 + i))
done
# Once serve has taken the four, a fifth is refused (bounded: it never is if the limit fails).
refused() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "$VN_URL/healthz" 2>/dev/null)" != 200 ]; }
wait_for 10 refused || fail "a 5th connection was served with --max-per-ip 4"
for i in 1 2 3 4; do eval "exec $((10 + i))>&-"; done
wait_for 5 curl -fsS -o /dev/null "$VN_URL/healthz" || fail "service did not come back"
ok "--max-per-ip refuses the connection over the limit"
vn_serve_stop

# A full ingest queue answers 503 with Retry-After at once, and keeps none of those.
vn_serve_start --queue-max 1 --batch-max 1 --retry-after 3s
: >"$T/qcfg"
for i in $(seq 200); do
    body_asset_count "qf-$i" $UID1 3 1 >"$T/q.$i.json"
    cfg_add "$T/qcfg" "$VN_URL/notifications?id=qf-$i" "$T/q.$i.json" "$TOKEN" /dev/null "%{url_effective} %{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max 64 -K "$T/qcfg" >"$T/qcodes"
full=$(grep -c ' 503$' "$T/qcodes" || true)
acked=$(grep -c ' 200$' "$T/qcodes" || true)
assert_eq "$((full + acked))" 200 "every request answered 200 or 503"
[ "$full" -gt 0 ] || fail "no 503 with a queue of 1 and 64 concurrent posts"
assert_contains "$T/serve.log" "ingest queue full" "the reason is logged"
vn_serve_stop
sed -n 's/.*id=\(qf-[0-9]*\) 503$/\1/p' "$T/qcodes" | sort >"$T/q503"
vn_cli notifications --json | jq -r '.[].notificationId' | grep '^qf-' | sort >"$T/qpresent"
assert_eq "$(comm -12 "$T/q503" "$T/qpresent" | wc -l)" 0 "notifications answered 503 but stored"
assert_eq "$(wc -l <"$T/qpresent")" "$acked" "stored = acknowledged"
ok "a full queue: $full of 200 answered 503 at once, none of them kept"

# SIGTERM during a stream: in-flight notifications are finished, exit status 0, every 2xx kept.
vn_serve_start
: >"$T/cfg"
for i in $(seq 300); do
    body_asset_count "term-$i" $UID1 2 1 >"$T/t.$i.json"
    cfg_add "$T/cfg" "$VN_URL/notifications?id=term-$i" "$T/t.$i.json" "$TOKEN" /dev/null "%{url_effective} %{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-max 16 -K "$T/cfg" >"$T/codes" 2>/dev/null &
cpid=$!
wait_for 20 lines_at_least "$T/codes" 50 || fail "no progress"
vn_serve_stop
wait "$cpid" 2>/dev/null || true
sed -n 's/.*id=\(term-[0-9]*\) 200$/\1/p' "$T/codes" | sort >"$T/acked"
vn_cli notifications --json | jq -r '.[].notificationId' | grep '^term-' | sort >"$T/present"
assert_eq "$(comm -23 "$T/acked" "$T/present" | wc -l)" 0 "acknowledged but missing after SIGTERM"
vn_cli assets --adam-id 2 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' "$(wc -l <"$T/present")" "each applied once"
assert_contains "$T/serve.log" "finishing requests in progress" "shutdown logged"
ok "SIGTERM: $(wc -l <"$T/acked") acknowledged before the stop, all kept; exit status 0"
