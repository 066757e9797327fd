#!/usr/bin/env bash
# Request smuggling and NUL bytes (issue 10 item 8), with raw bytes over a socket: requests a
# proxy and vppnotify could frame differently are refused with 400 (501 for an unknown
# Transfer-Encoding) and the connection is closed; a chunked body over the limit gets 413; a
# NUL byte in the path or a header is refused, not cut. The same requests without the fault
# are accepted, so each refusal is the fault's doing.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
vn_serve_start --max-body 4K
PORT=${VN_ADDR##*:}

# raw FILE: send FILE's bytes, read until the server closes (at most 5 s). Sets RAW_STATUS (the
# first response's status, or "none"), RAW_ANSWERS (how many responses) and RAW_CLOSED
# (yes: the server closed the connection; no: it kept it open).
raw() {
    local rc=0
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    cat "$1" >&3 2>/dev/null || true
    timeout 5 cat <&3 >"$T/raw.out" 2>/dev/null || rc=$?
    exec 3<&- 3>&-
    RAW_CLOSED=$([ "$rc" -eq 0 ] && echo yes || echo no)
    RAW_STATUS=$(head -n1 "$T/raw.out" | cut -d' ' -f2)
    RAW_STATUS=${RAW_STATUS:-none}
    RAW_ANSWERS=$(grep -ac '^HTTP/1.1 ' "$T/raw.out" || true)
}

# expect_refused FILE STATUS WHAT: STATUS, one answer only, connection closed.
expect_refused() {
    raw "$1"
    assert_eq "$RAW_STATUS" "$2" "$3: status"
    assert_eq "$RAW_ANSWERS" 1 "$3: answers (a second one would be a smuggled request)"
    assert_eq "$RAW_CLOSED" yes "$3: connection closed after the answer"
}

# A notification body, and the same request's head with CRLF line ends and Connection: close.
body_asset_count sm-ok $UID1 5 1 >"$T/body.json"
LEN=$(wc -c <"$T/body.json")
head_of() { # head_of PATH EXTRA-HEADER-LINES...
    printf 'POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n' "$1" "$TOKEN"
    printf 'Content-Type: application/json\r\nConnection: close\r\n'
    shift
    for h in "$@"; do printf '%s\r\n' "$h"; done
    printf '\r\n'
}

# The control: the raw request without any fault is applied.
{ head_of /notifications "Content-Length: $LEN"; cat "$T/body.json"; } >"$T/ok.req"
raw "$T/ok.req"
assert_eq "$RAW_STATUS" 200 "a well-formed raw request"
ok "control: a well-formed raw request is applied"

# Bare LF line ends and blanks around values are not faults.
{
    printf 'POST /notifications HTTP/1.1\nHost: x\nAuthorization:  \tBearer %s\n' "$TOKEN"
    printf 'Content-Type: application/json\nContent-Length: %d\nConnection: close\n\n' "$LEN"
    body_asset_count sm-lf $UID1 5 1
} >"$T/lf.req"
raw "$T/lf.req"
assert_eq "$RAW_STATUS" 200 "bare LF line ends, blanks after the colon"
ok "bare LF line ends and blanks after the colon are accepted"

# ---- Content-Length and Transfer-Encoding ------------------------------------------------
# Two different lengths: a proxy that takes the second forwards the smuggled GET as a request.
smuggled=$'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
{ head_of /notifications "Content-Length: $LEN" "Content-Length: $((LEN + ${#smuggled}))"
  cat "$T/body.json"; printf '%s' "$smuggled"; } >"$T/cl2.req"
expect_refused "$T/cl2.req" 400 "two different Content-Length headers"
assert_contains "$T/raw.out" "more than one Content-Length header" "the reason"
{ head_of /notifications "Content-Length: $LEN" "Content-Length: $LEN"; cat "$T/body.json"; } >"$T/cl2same.req"
expect_refused "$T/cl2same.req" 400 "the same Content-Length twice"
ok "400 and close for more than one Content-Length"

printf -v chunked '%x\r\n%s\r\n0\r\n\r\n' "$LEN" "$(cat "$T/body.json")"
{ head_of /notifications "Content-Length: 4" "Transfer-Encoding: chunked"; printf '%s' "$chunked"; } >"$T/clte.req"
expect_refused "$T/clte.req" 400 "Content-Length with Transfer-Encoding"
assert_contains "$T/raw.out" "Transfer-Encoding and Content-Length together" "the reason"
{ head_of /notifications "Transfer-Encoding: chunked" "Content-Length: 4"; printf '%s' "$chunked"; } >"$T/tecl.req"
expect_refused "$T/tecl.req" 400 "Transfer-Encoding with Content-Length"
ok "400 and close for Content-Length with Transfer-Encoding, in either order"

for te in gzip "gzip, chunked" "chunked, gzip" identity; do
    { head_of /notifications "Transfer-Encoding: $te"; printf '%s' "$chunked"; } >"$T/te.req"
    expect_refused "$T/te.req" 501 "Transfer-Encoding '$te'"
done
assert_contains "$T/raw.out" "not supported (only chunked)" "the reason"
{ head_of /notifications "Transfer-Encoding: chunked" "Transfer-Encoding: chunked"; printf '%s' "$chunked"; } >"$T/te2.req"
expect_refused "$T/te2.req" 400 "two Transfer-Encoding headers"
# The control: chunked alone is fine.
body_asset_count sm-chunked $UID1 5 1 >"$T/b2.json"
printf -v chunked2 '%x\r\n%s\r\n0\r\n\r\n' "$(wc -c <"$T/b2.json")" "$(cat "$T/b2.json")"
{ head_of /notifications "Transfer-Encoding: chunked"; printf '%s' "$chunked2"; } >"$T/te-ok.req"
raw "$T/te-ok.req"
assert_eq "$RAW_STATUS" 200 "Transfer-Encoding: chunked alone"
ok "501 and close for an unknown Transfer-Encoding, 400 for two; chunked alone is applied"

# A header continued on the next line (obs-fold).
{ head_of /notifications "Content-Length: $LEN" "X-Folded: a" " b"; cat "$T/body.json"; } >"$T/fold.req"
expect_refused "$T/fold.req" 400 "obs-fold"
ok "400 and close for a folded header"

# ---- a chunked body over the limit: 413, not a silent close ----------------------------------
for size in 5000 65536 4194304; do
    head -c "$size" /dev/zero | tr '\0' 'x' >"$T/big"
    code=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
        -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" 2>"$T/curl.err" || true)
    assert_eq "$code" 413 "chunked body of $size bytes over --max-body 4K ($(cat "$T/curl.err"))"
    assert_json "$T/resp" '.error' '"body is larger than the limit of 4096 bytes"' "413 says why"
done
ok "413 for chunked bodies of 5000 B, 64 KiB and 4 MiB over a 4 KiB limit"

# ---- NUL bytes: refused, not cut ---------------------------------------------------------------
body_asset_count sm-nul $UID1 6 1 >"$T/nul.json"
NLEN=$(wc -c <"$T/nul.json")
nul_req() { # nul_req PATH AUTH-VALUE [EXTRA-HEADER]: %b-escaped, so \0 is a NUL byte
    printf 'POST %b HTTP/1.1\r\nHost: x\r\nAuthorization: %b\r\n' "$1" "$2"
    printf 'Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n' "$NLEN"
    [ -z "${3:-}" ] || printf '%b\r\n' "$3"
    printf '\r\n'
    cat "$T/nul.json"
}
nul_req '/notifications\0/x' "Bearer $TOKEN" >"$T/n1.req"
expect_refused "$T/n1.req" 400 "a NUL byte in the path"
assert_contains "$T/raw.out" "NUL byte in the request line" "the reason"
nul_req '/notifications%00/x' "Bearer $TOKEN" >"$T/n2.req"
expect_refused "$T/n2.req" 400 "%00 in the path"
nul_req '/notifications' "Bearer $TOKEN\\0junk" >"$T/n3.req"
expect_refused "$T/n3.req" 400 "a NUL byte inside the Authorization header"
assert_contains "$T/raw.out" "NUL byte in header 'Authorization'" "the header is named"
nul_req '/notifications' "Bearer $TOKEN\\0" >"$T/n4.req"
expect_refused "$T/n4.req" 400 "a NUL byte at the end of the Authorization header"
nul_req '/notifications' "Bearer $TOKEN" 'X-Other: a\0b' >"$T/n5.req"
expect_refused "$T/n5.req" 400 "a NUL byte in another header"
nul_req '/notifications' "Bearer $TOKEN" >"$T/n-ok.req"
raw "$T/n-ok.req"
assert_eq "$RAW_STATUS" 200 "the same request without a NUL byte"
ok "400 for a NUL byte (raw or %00) in the path, in Authorization, in another header"

vn_serve_stop
# Only the controls were stored: sm-ok, sm-lf, sm-chunked and sm-nul (the last one's id, once).
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[].notificationId] | sort' '["sm-chunked","sm-lf","sm-nul","sm-ok"]' \
    "stored notifications"
assert_json "$T/n.json" '[.[] | select(.notificationId == "sm-nul") | .duplicates]' '[0]' \
    "no refused request reached the writer"
ok "nothing refused was stored"
