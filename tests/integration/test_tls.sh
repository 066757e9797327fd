#!/usr/bin/env bash
# Native TLS with a throwaway certificate; a TLS key readable by others is refused.
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

chmod 644 "$T/key.pem"
rc=0
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" \
    --tls-key "$T/key.pem" >"$T/refused.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with a world-readable key"
assert_contains "$T/refused.log" "mode 0644" "the message gives the mode"
assert_contains "$T/refused.log" "chmod 600" "the message says how to fix it"
ok "a TLS key readable by others is refused with a clear message"
