#!/usr/bin/env bash
# Native TLS with a throwaway certificate; a TLS key readable by others is refused; only
# forward-secret AEAD suites by default (--tls-priorities widens it); a chunked body over the
# limit gets 413 through TLS too; certbot's symlinked live/ layout; SIGHUP replaces the
# certificate for new handshakes while a request in flight completes, and keeps it when the
# new pair is bad.
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

# ---- certbot's layout and SIGHUP ----------------------------------------------------------
# new_pair N: archive/certN.pem and archive/privkeyN.pem (0600), as certbot writes them.
mkdir -p "$T/le/archive" "$T/le/live"
new_pair() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
        -keyout "$T/le/archive/privkey$1.pem" -out "$T/le/archive/cert$1.pem" 2>/dev/null
    chmod 600 "$T/le/archive/privkey$1.pem"
}
# point_live N [KEY-N]: live/ symlinks to pair N (certbot's renewal swaps them).
point_live() {
    ln -sfn "../archive/cert$1.pem" "$T/le/live/cert.pem"
    ln -sfn "../archive/privkey${2:-$1}.pem" "$T/le/live/privkey.pem"
}
fp_of_file() {
    openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2
}
fp_served() {
    echo | openssl s_client -connect "$VN_ADDR" 2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
        cut -d= -f2
}
serves() { [ "$(fp_served)" = "$1" ]; }
new_pair 1
new_pair 2
new_pair 3
point_live 1
FP1=$(fp_of_file "$T/le/archive/cert1.pem")
FP2=$(fp_of_file "$T/le/archive/cert2.pem")
VN_SCHEME=https vn_serve_start --tls-cert "$T/le/live/cert.pem" --tls-key "$T/le/live/privkey.pem"
assert_eq "$(fp_served)" "$FP1" "the certificate behind the live/ symlinks"
ok "certbot's symlinked live/ key and certificate are accepted (the final files checked)"

# A request in flight (a body sent at 40 bytes/s) across the renewal.
body_test tls-slow $UID1 >"$T/slow.json"
cp "$T/le/archive/cert1.pem" "$T/ca.pem"
cat "$T/le/archive/cert2.pem" >>"$T/ca.pem"
curl -sS -o "$T/slow.out" -w '%{http_code}' --cacert "$T/ca.pem" --limit-rate 40 -X POST \
    "$VN_URL/notifications" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary @"$T/slow.json" >"$T/slow.code" 2>&1 &
slow=$!
VN_PIDS+=("$slow")
in_flight() { [ "$(ss -Htn state established "( sport = :${VN_ADDR##*:} )" | wc -l)" -ge 1 ]; }
wait_for 10 in_flight || fail "the slow request did not connect"
point_live 2
kill -HUP "$VN_SERVE_PID"
wait_for 10 serves "$FP2" || fail "new handshakes still present $(fp_served), not the renewed $FP2"
assert_contains "$T/serve.log" "reload: TLS certificate subject" "the reload names the new certificate"
kill -0 "$VN_SERVE_PID" || fail "serve died of SIGHUP"
wait "$slow" || true
assert_eq "$(cat "$T/slow.code")" 200 "the request in flight across the reload"
ok "SIGHUP: new handshakes present the renewed certificate; a request in flight completed"

# A bad new pair (the key of another certificate; then a key readable by others): refused,
# the current certificate stays and the log says why.
point_live 3 2
kill -HUP "$VN_SERVE_PID"
wait_for 10 grep -q "does not belong to the certificate" "$T/serve.log" || fail "no refusal logged"
assert_contains "$T/serve.log" "the current one stays" "the log says the certificate stays"
assert_eq "$(fp_served)" "$FP2" "still the good certificate"
point_live 3
chmod 644 "$T/le/archive/privkey3.pem"
kill -HUP "$VN_SERVE_PID"
wait_for 10 grep -q "privkey.pem' is accessible by group or others (mode 0644)" "$T/serve.log" ||
    fail "a world-readable key behind a symlink was not refused"
assert_eq "$(fp_served)" "$FP2" "still the good certificate"
vn_serve_stop
ok "SIGHUP with a bad certificate or key: refused with the reason, the current one stays"
