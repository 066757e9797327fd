#!/usr/bin/env bash
# --trusted-proxy (issue 12 item 5): behind a trusted proxy, logs and limits use the client
# that X-Forwarded-For names (its rightmost untrusted hop); from any other peer the header is
# ignored, so a client cannot choose the address it is logged or limited as. The proxy itself
# is not limited per address; each client behind it is, to --max-per-ip requests in flight.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
vn_serve_start --trusted-proxy 127.0.0.2 --trusted-proxy 10.0.0.0/8 --max-per-ip 2

# post_from ID PEER XFF: POST notification ID from PEER with that X-Forwarded-For (none if
# empty); prints the status.
post_from() {
    body_asset_count "$1" $UID1 3 1 >"$T/p.json"
    shift
    local xff=()
    [ -z "$2" ] || xff=(-H "X-Forwarded-For: $2")
    curl -sS -o "$T/resp" -w '%{http_code}' --interface "$1" -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" "${xff[@]}" \
        --data-binary @"$T/p.json"
}
# logged_as ID: the remote= and via= of the notification's log line.
logged_as() {
    grep "notification id=$1 " "$T/serve.log" | grep -o 'remote=[^ ]*\( via=[^ ]*\)\?'
}

assert_eq "$(post_from xff-1 127.0.0.2 203.0.113.7)" 200 "through the trusted proxy"
assert_eq "$(logged_as xff-1)" "remote=203.0.113.7 via=127.0.0.2" "the client from X-Forwarded-For"
assert_eq "$(post_from xff-2 127.0.0.2 '6.6.6.6, 203.0.113.9, 10.1.1.1')" 200 "through two proxies"
assert_eq "$(logged_as xff-2)" "remote=203.0.113.9 via=127.0.0.2" \
    "the rightmost untrusted hop, not what the client wrote left of it"
assert_eq "$(post_from xff-3 127.0.0.2 '')" 200 "the proxy without the header"
assert_eq "$(logged_as xff-3)" "remote=127.0.0.2 via=127.0.0.2" "no header: the proxy itself"
assert_eq "$(post_from xff-4 127.0.0.3 203.0.113.8)" 200 "from a peer that is not trusted"
assert_eq "$(logged_as xff-4)" "remote=127.0.0.3" "X-Forwarded-For ignored from an untrusted peer"
ok "X-Forwarded-For names the client behind a trusted proxy only; rightmost untrusted hop"

# Rejections use the client too.
code=$(curl -sS -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -X POST \
    "$VN_URL/notifications" -H 'X-Forwarded-For: 198.51.100.23' -H 'Authorization: Bearer nope' \
    -d '{}')
assert_eq "$code" 401 "a wrong token through the proxy"
grep 'request rejected status=401' "$T/serve.log" | grep -q 'remote=198.51.100.23 via=127.0.0.2' ||
    fail "the 401 is not logged with the client's address"
ok "a rejection behind the proxy is logged with the client's address"

# Limits: two slow requests of client A in flight through the proxy (3 connections from the
# proxy with B's below: over --max-per-ip 2, which does not apply to it); A's third is refused
# (429), B is served.
body_asset_count slow-a $UID1 3 1 >"$T/slow.json"
pids=()
for i in 1 2; do
    curl -sS -o /dev/null --interface 127.0.0.2 --limit-rate 10 -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
        -H 'X-Forwarded-For: 192.0.2.10' --data-binary @"$T/slow.json" 2>/dev/null &
    pids+=($!)
    VN_PIDS+=($!)
done
in_flight() { # the server's connections from the proxy
    [ "$(ss -Htn state established "( sport = :${VN_ADDR##*:} and dst 127.0.0.2 )" | wc -l)" -ge "$1" ]
}
wait_for 10 in_flight 2 || fail "the slow requests did not start"
# Poll until both are counted (their headers read): A's next request is then refused.
code=""
for i in $(seq 100); do
    code=$(post_from "a-$i" 127.0.0.2 192.0.2.10)
    [ "$code" = 429 ] && break
done
assert_eq "$code" 429 "a third request of the same client in flight"
assert_contains "$T/resp" "too many requests in progress from 192.0.2.10 (--max-per-ip 2)" \
    "the 429 names the client and the limit"
assert_eq "$(post_from b-1 127.0.0.2 192.0.2.11)" 200 "another client behind the proxy"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
ok "behind the proxy, each client is limited to --max-per-ip requests in flight; the proxy is not"

vn_serve_stop
