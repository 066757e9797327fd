#!/usr/bin/env bash
# The integration API's listener and its keys (contract section 8): `api-key add|list|revoke`,
# a key printed once and stored as a digest only, 401/403, a key added or revoked by the CLI
# while serve runs, the listener apart from the notification endpoint, TLS, and secrets kept
# out of logs.
. "$(dirname "$0")/lib.sh"

# ---- the command line ----------------------------------------------------------------------
vn_cli api-key add --name ci-reader --scope read >"$T/key.r" 2>"$T/add.err" || fail "api-key add"
READ_KEY=$(cat "$T/key.r")
[[ "$READ_KEY" =~ ^vnk_[A-Za-z0-9_-]{43}$ ]] || fail "the key has the documented form: '$READ_KEY'"
assert_contains "$T/add.err" "shown only now" "add says the key is shown once"
MANAGE_KEY=$(vn_cli api-key add --name mdm --scope manage 2>/dev/null)
ok "api-key add prints a key once, on stdout alone"

rc=0; vn_cli api-key add --name ci-reader --scope read >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a second key of the same name"
assert_contains "$T/err" "'ci-reader' exists already" "the message names the key"
rc=0; vn_cli api-key add --name x --scope admin 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "an unknown scope is a usage error"
assert_contains "$T/err" "'admin'" "the message quotes the value"
rc=0; vn_cli api-key add --scope read 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "--name is required"
rc=0; vn_cli api-key add --name 'two words' --scope read 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "a name with a space"
assert_contains "$T/err" "'two words'" "the message quotes the name"
ok "bad keys are refused with the value quoted"

vn_cli api-key list --json >"$T/list.json"
assert_json "$T/list.json" '[.[] | {name, scope}]' \
    '[{"name":"ci-reader","scope":"read"},{"name":"mdm","scope":"manage"}]' "api-key list"
assert_json "$T/list.json" '.[0].key' "\"${READ_KEY:0:10}...\"" "the list shows the key's start only"
for k in "$READ_KEY" "$MANAGE_KEY"; do
    if grep -qaF "$k" "$T/vn.db" "$T/list.json"; then
        fail "a key is stored or listed in clear"
    fi
    digest=$(printf '%s' "$k" | sha256sum | cut -c1-64)
    got=$(sqlite3 "$T/vn.db" "SELECT count(*) FROM api_keys WHERE hex(digest) = upper('$digest')")
    assert_eq "$got" 1 "the key's SHA-256 digest is what is stored"
done
ok "keys are stored as SHA-256 digests only"

# ---- serve: its own listener -----------------------------------------------------------------
vn_serve_start
[ -n "$VN_API_ADDR" ] || fail "the ready file names the API's address on its second line"
[ "$VN_API_ADDR" != "$VN_ADDR" ] || fail "the API listens apart from the notification endpoint"
assert_contains "$T/serve.log" "integration API on http://$VN_API_ADDR" "the start-up line"

st=$(vn_api "" GET /v1 -D "$T/h")
assert_eq "$st" 401 "no key"
grep -qi '^WWW-Authenticate: Bearer' "$T/h" || fail "401 carries WWW-Authenticate: Bearer"
assert_json "$T/api.json" '.error | type' '"string"' "401 has an error message"
assert_eq "$(vn_api "vnk_wrong" GET /v1)" 401 "an unknown key"
assert_eq "$(vn_api "" GET /v1 -H 'Authorization: Basic abc')" 401 "another scheme"
assert_eq "$(vn_api "$READ_KEY" GET /v1)" 200 "a read key"
assert_json "$T/api.json" '{keyName, scope}' '{"keyName":"ci-reader","scope":"read"}' "GET /v1"
assert_eq "$(vn_api "" GET /v1 -H "authorization: bearer $MANAGE_KEY")" 200 \
    "the scheme name in any case"
assert_json "$T/api.json" '.scope' '"manage"' "a manage key"
assert_eq "$(vn_api "$READ_KEY" GET /v2/nothing)" 404 "an unknown path"
assert_eq "$(vn_api "$READ_KEY" DELETE /v1)" 405 "a wrong method"
# The notification endpoint does not know the API, and the API does not take notifications.
st=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READ_KEY" "$VN_URL/v1")
assert_eq "$st" 404 "/v1 on the notification endpoint"
assert_eq "$(vn_api "$READ_KEY" POST /notifications -d '{}')" 404 "notifications on the API"
ok "401 without a valid key, 200 with one, 404/405 as elsewhere"

# A key added while serve runs works on its first request; a revoked one stops within
# --auth-refresh (1 s by default): polled, bounded.
NEW_KEY=$(vn_cli api-key add --name late --scope read 2>/dev/null)
assert_eq "$(vn_api "$NEW_KEY" GET /v1)" 200 "a key added by the CLI while serve runs"
vn_cli api-key revoke --name late 2>"$T/rev.err" || fail "api-key revoke"
refused() { [ "$(vn_api "$NEW_KEY" GET /v1)" = 401 ]; }
wait_for 10 refused || fail "a revoked key is still accepted after 10 s"
assert_eq "$(vn_api "$READ_KEY" GET /v1)" 200 "other keys still work"
rc=0; vn_cli api-key revoke --name late 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "revoking twice"
assert_contains "$T/err" "no API key named 'late'" "the message names the key"
vn_cli api-key list --json >"$T/list.json"
assert_json "$T/list.json" '[.[] | select(.name == "late") | .revokedAt | type]' '["string"]' \
    "the revoked key stays listed with revokedAt"
ok "keys added and revoked by the CLI take effect while serve runs"

vn_serve_stop
for k in "$READ_KEY" "$MANAGE_KEY" "$NEW_KEY"; do
    assert_not_contains "$T/serve.log" "$k" "a key in serve's log"
done
assert_contains "$T/serve.log" "key=ci-reader" "requests are logged with the key's name"
ok "keys never appear in the log; their names do"

# ---- the listener's options --------------------------------------------------------------------
vn_serve_start --api-listen off
[ -z "$VN_API_ADDR" ] || fail "--api-listen off: no API address in the ready file"
vn_serve_stop
rc=0
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:99999 \
    2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a bad --api-listen"
assert_contains "$T/err" "'127.0.0.1:99999'" "the message quotes the address"
ok "--api-listen off, and a bad address refused with its value"

# TLS: the API over HTTPS with a throwaway certificate.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
chmod 600 "$T/key.pem"
VN_API_SCHEME=https vn_serve_start --api-tls-cert "$T/cert.pem" --api-tls-key "$T/key.pem"
assert_eq "$(vn_api "$READ_KEY" GET /v1 --cacert "$T/cert.pem")" 200 "GET /v1 over TLS"
st=$(curl -sS -o /dev/null -w '%{http_code}' "http://$VN_API_ADDR/v1" 2>/dev/null) || true
[ "$st" != 200 ] || fail "plain HTTP answered 200 on the TLS listener"
vn_serve_stop
ok "the API over HTTPS with --api-tls-cert/--api-tls-key"
