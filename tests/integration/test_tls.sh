#!/usr/bin/env bash
# Native TLS with a throwaway certificate; a TLS key readable by others is refused; only
# forward-secret AEAD suites by default (--tls-priorities widens it); a chunked body over the
# limit gets 413 through TLS too.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
chmod 600 "$T/key.pem"

VN_SCHEME=https vn_serve_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
body_test tls-1 $UID1 >"$T/t.json"
code=$(vn_post "$T/t.json" "$TOKEN" --cacert "$T/cert.pem")
assert_eq "$code" 200 "POST over HTTPS, certificate verified"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" --tlsv1.2 --tls-max 1.2 "$VN_URL/healthz")
assert_eq "$code" 200 "TLS 1.2 accepted"
if curl -sS -o /dev/null --cacert "$T/cert.pem" --tls-max 1.1 "$VN_URL/healthz" 2>/dev/null; then
    fail "TLS 1.1 must be refused"
fi
if curl -sS -o /dev/null "http://$VN_ADDR/healthz" 2>/dev/null; then
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$VN_ADDR/healthz" || true)
    [ "$code" != 200 ] || fail "plain HTTP answered 200 on the TLS port"
fi
vn_serve_stop
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].lastTestNotificationAt | type' '"string"' "TEST_NOTIFICATION over TLS recorded"
ok "HTTPS with a throwaway certificate; TLS 1.0/1.1 refused"

# suite CIPHER: the TLS 1.2 suite negotiated when the client offers only CIPHER ("(NONE)" if
# the server refuses it).
suite() {
    echo | openssl s_client -connect "$VN_ADDR" -tls1_2 -cipher "$1" 2>&1 |
        sed -n 's/^New, [^,]*, Cipher is //p' | head -n1
}
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/rsa.key" -out "$T/rsa.pem" 2>/dev/null
chmod 600 "$T/rsa.key"
VN_SCHEME=https vn_serve_start --tls-cert "$T/rsa.pem" --tls-key "$T/rsa.key" --max-body 4K
for c in AES128-GCM-SHA256 AES256-SHA AES128-SHA ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 \
    DHE-RSA-AES128-GCM-SHA256; do
    assert_eq "$(suite $c)" "(NONE)" "TLS 1.2 suite $c (RSA key exchange, CBC or no ECDHE)"
done
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
    assert_eq "$(suite $c)" "$c" "TLS 1.2 suite $c (ECDHE, AEAD)"
done
v=$(echo | openssl s_client -connect "$VN_ADDR" 2>&1 | sed -n 's/^New, \([^,]*\),.*/\1/p' | head -n1)
assert_eq "$v" "TLSv1.3" "a client that can speak TLS 1.3 gets it"
ok "default suites: RSA key exchange and CBC refused, ECDHE with AEAD accepted, TLS 1.3 first"

# A chunked body over the limit: 413 through TLS as well (written while the body arrives).
head -c 65536 /dev/zero | tr '\0' 'x' >"$T/big"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' --cacert "$T/rsa.pem" -X POST "$VN_URL/notifications" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" 2>"$T/curl.err" || true)
assert_eq "$code" 413 "chunked 64 KiB body over 4K through TLS ($(cat "$T/curl.err"))"
assert_json "$T/resp" '.error' '"body is larger than the limit of 4096 bytes"' "413 says why"
ok "413 for a chunked body over the limit, through TLS"
vn_serve_stop

VN_SCHEME=https vn_serve_start --tls-cert "$T/rsa.pem" --tls-key "$T/rsa.key" --tls-priorities NORMAL
assert_eq "$(suite AES128-GCM-SHA256)" "AES128-GCM-SHA256" "--tls-priorities NORMAL widens"
vn_serve_stop
rc=0
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --tls-cert "$T/rsa.pem" \
    --tls-key "$T/rsa.key" --tls-priorities 'NORMAL:+NO-SUCH-THING' >"$T/prio.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a priority string GnuTLS cannot read was accepted"
assert_contains "$T/prio.log" "--tls-priorities 'NORMAL:+NO-SUCH-THING'" "the bad string is quoted"
assert_contains "$T/prio.log" "at '+NO-SUCH-THING'" "where it stops is quoted"
ok "--tls-priorities widens the suites; a bad priority string is refused with where it fails"

chmod 644 "$T/key.pem"
rc=0
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" >"$T/refused.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with a world-readable key"
assert_contains "$T/refused.log" "mode 0644" "the message gives the mode"
assert_contains "$T/refused.log" "chmod 600" "the message says how to fix it"
ok "a TLS key readable by others is refused with a clear message"
