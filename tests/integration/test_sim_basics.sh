# vppsim basics: options, Service Config, authentication (9601, 9722, 9621, 9625), 404, 405,
# 415, Client Config validation and the synchronous TEST_NOTIFICATION (9728 keeps the old
# configuration), the envelope, the rate limit (429/9646), and --state across a restart.
. "$(dirname "$0")/lib_sim.sh"

"$VPPSIM" help >"$T/help.txt"
assert_contains "$T/help.txt" "--time-scale" "help lists --time-scale"
"$VPPSIM" help --markdown >"$T/help.md"
assert_contains "$T/help.md" '| `--listen HOST:PORT` |' "markdown help lists --listen"
# docs/VPPSIM.md carries the options table: every generated row must be in it, verbatim.
while IFS= read -r row; do
    grep -qxF -- "$row" "$VN_SOURCE_DIR/docs/VPPSIM.md" ||
        fail "docs/VPPSIM.md lacks or differs from: $row (see 'vppsim help --markdown')"
done < <(grep '^| `--' "$T/help.md")
rc=0; "$VPPSIM" serve --time-scale nope 2>"$T/err.txt" || rc=$?
assert_eq "$rc" 2 "bad --time-scale exits 2"
assert_contains "$T/err.txt" "--time-scale" "the error names the option"
ok "options"

recv_start
sim_start --state "$T/state.db"

# Service Config needs no token.
st=$(curl -sS -o "$T/sc" -w '%{http_code}' "$SIM/mdm/v2/service/config")
assert_eq "$st" 200 "service config"
assert_json "$T/sc" .limits.maxAssets 25 "limit maxAssets"
assert_json "$T/sc" .limits.maxRequestPerSecond 100000 "limit overridden by --limit"
assert_json "$T/sc" '[.errorCodes[] | select(.errorNumber == 9728)] | length' 1 "errorCodes has 9728"
assert_json "$T/sc" '.notificationTypes | index("SUBSCRIPTION_COUNT") != null' true "types"
assert_json "$T/sc" '.urls.getAssets | endswith("/mdm/v2/assets")' true "urls"
ok "service config"

sim_location '{"orgName":"Acme","locationName":"HQ"}'
# The sToken is Base64 of {token, expDate, orgName}.
echo "$STOKEN" | base64 -d >"$T/tok.json"
assert_json "$T/tok.json" '.orgName' '"Acme"' "sToken orgName"
assert_json "$T/tok.json" '.expDate | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\+0000$")' true "expDate form"
assert_json "$T/tok.json" '.token | length > 10' true "inner token"

# Authentication errors.
st=$(curl -sS -o "$T/resp" -w '%{http_code}' "$SIM/mdm/v2/assets")
assert_apple_error "$st" 401 9601 "no Authorization"
st=$(curl -sS -o "$T/resp" -w '%{http_code}' -H "Authorization: Basic $STOKEN" "$SIM/mdm/v2/assets")
assert_apple_error "$st" 401 9722 "not Bearer"
st=$(curl -sS -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer" "$SIM/mdm/v2/assets")
assert_apple_error "$st" 401 9722 "empty Bearer"
bogus=$(printf '{"token":"nope","expDate":"2030-01-01T00:00:00+0000","orgName":"x"}' | base64 -w0)
st=$(curl -sS -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $bogus" "$SIM/mdm/v2/assets")
assert_apple_error "$st" 401 9601 "unknown token"
ctl POST /_sim/token "{\"uId\":\"$LOC_UID\",\"action\":\"expire\"}" >/dev/null
st=$(api GET /assets)
assert_apple_error "$st" 401 9621 "expired token"
ctl POST /_sim/token "{\"uId\":\"$LOC_UID\",\"action\":\"revoke\"}" >/dev/null
st=$(api GET /assets)
assert_apple_error "$st" 401 9625 "revoked token"
ctl POST /_sim/token "{\"uId\":\"$LOC_UID\",\"action\":\"restore\"}" >/dev/null
st=$(api GET /assets)
assert_eq "$st" 200 "restored token works"
OLD=$STOKEN
assert_eq "$(ctl POST /_sim/token "{\"uId\":\"$LOC_UID\",\"action\":\"renew\"}")" 200 "renew"
STOKEN=$(jq -r .sToken "$T/ctl")
assert_eq "$(api GET /assets)" 200 "renewed token works"
STOKEN=$OLD
st=$(api GET /assets)
assert_apple_error "$st" 401 9625 "the old token is revoked by a renewal"
STOKEN=$(jq -r .sToken "$T/ctl")
ok "authentication"

# Routing: 404, 405, 415, invalid JSON.
st=$(api GET /nowhere)
assert_eq "$st" 404 "unknown path"
st=$(api DELETE /assets)
assert_apple_error "$st" 405 9726 "wrong method"
st=$(api GET /assets/associate)
assert_apple_error "$st" 405 9726 "GET on a POST endpoint"
st=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST "$SIM/mdm/v2/assets/associate" \
    -H "Authorization: Bearer $STOKEN" -H 'Content-Type: text/plain' --data '{}')
assert_apple_error "$st" 415 9727 "text/plain body"
st=$(api POST /users/create '{"users": [')
assert_apple_error "$st" 400 9602 "invalid JSON"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big.json"
st=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST "$SIM/mdm/v2/users/create" \
    -H "Authorization: Bearer $STOKEN" -H 'Content-Type: application/json' --data-binary "@$T/big.json")
assert_eq "$st" 413 "body over --max-body"
st=$(ctl GET /_sim/nothing)
assert_eq "$st" 404 "unknown control path"
ok "routing"

# Client Config validation.
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL\"}")
assert_apple_error "$st" 400 9710 "URL without token"
st=$(api POST /client/config '{"notificationAuthToken":"abcdefghijklmnopqrstuvwxyz"}')
assert_apple_error "$st" 400 9710 "token without URL"
long=$(head -c 600 /dev/zero | tr '\0' 'a')
st=$(api POST /client/config "{\"notificationUrl\":\"https://x.example/$long\",\"notificationAuthToken\":\"t0123456789abcdef\"}")
assert_apple_error "$st" 400 9711 "URL too long"
st=$(api POST /client/config '{"notificationUrl":"http://mdm.example.com/n","notificationAuthToken":"t0123456789abcdef"}')
assert_apple_error "$st" 400 9712 "plain http off loopback"
st=$(api POST /client/config '{"notificationUrl":"not a url","notificationAuthToken":"t0123456789abcdef"}')
assert_apple_error "$st" 400 9712 "not a URL"
st=$(api POST /client/config '{"mdmInfo":{"id":"a","name":"b"}}')
assert_apple_error "$st" 400 9723 "mdmInfo without metadata"
st=$(api POST /client/config "{\"mdmInfo\":{\"id\":\"$long\",\"name\":\"b\",\"metadata\":\"c\"}}")
assert_apple_error "$st" 400 9724 "mdmInfo id too long"
st=$(api POST /client/config "{\"mdmInfo\":{\"id\":\"a\",\"name\":\"$long\",\"metadata\":\"c\"}}")
assert_apple_error "$st" 400 9725 "mdmInfo name too long"
st=$(api POST /client/config "{\"mdmInfo\":{\"id\":\"a\",\"name\":\"b\",\"metadata\":\"$long\"}}")
assert_apple_error "$st" 400 9713 "mdmInfo metadata too long"
st=$(api POST /client/config '{"notificationTypes":["NOPE"]}')
assert_apple_error "$st" 400 9602 "unknown notification type"
ok "client config validation"

# A working receiver: TEST_NOTIFICATION delivered synchronously with the bearer token.
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\",\"notificationTypes\":[\"ASSET_COUNT\",\"TEST_NOTIFICATION\"],\"mdmInfo\":{\"id\":\"mdm-1\",\"name\":\"My MDM\",\"metadata\":\"1.0\"}}")
assert_eq "$st" 200 "client config accepted"
assert_json "$T/resp" .notificationUrl "\"$RECV_URL\"" "stored URL"
assert_json "$T/resp" .subscribedNotificationTypes '["ASSET_COUNT"]' "types (TEST_NOTIFICATION is not stored)"
assert_json "$T/resp" .mdmInfo.name '"My MDM"' "mdmInfo echoed"
assert_eq "$(recv_count '.notificationType == "TEST_NOTIFICATION" and .auth == "ok"')" 1 "one TEST_NOTIFICATION, right bearer"
assert_json "$RECV_LOG" ".body.uId" "\"$LOC_UID\"" "TEST_NOTIFICATION uId"
assert_json "$RECV_LOG" ".body.notification" '{}' "TEST_NOTIFICATION payload"
# Every later response carries the envelope with mdmInfo.
st=$(api GET /assets)
assert_json "$T/resp" '[.uId, .mdmInfo.id, (.tokenExpirationDate | test("\\+0000$"))]' "[\"$LOC_UID\",\"mdm-1\",true]" "envelope"
ok "client config and TEST_NOTIFICATION"

# A receiver that fails the TEST_NOTIFICATION: 9728, and the old configuration stays.
GOOD_URL=$RECV_URL
recv_start --test-status 500
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}")
assert_apple_error "$st" 400 9728 "failing receiver"
recv_stop
st=$(api POST /client/config "{\"notificationUrl\":\"$RECV_URL\",\"notificationAuthToken\":\"$RECV_TOKEN\"}")
assert_apple_error "$st" 400 9728 "receiver not listening"
api GET /client/config >/dev/null
assert_json "$T/resp" .notificationUrl "\"$GOOD_URL\"" "old URL kept after 9728"
ctl GET "/_sim/deliveries?type=TEST_NOTIFICATION" >/dev/null
assert_json "$T/ctl" '[.deliveries[].status]' '[200,500,0]' "every TEST_NOTIFICATION attempt is logged"
ok "9728"

# Rate limit: maxRequestPerSecond per token, then 429/9646 with Retry-After.
assert_eq "$(ctl POST /_sim/limits '{"maxRequestPerSecond":3}')" 200 "set limit"
codes=""
for _ in 1 2 3 4 5 6; do codes="$codes $(api GET /client/config)"; done
case "$codes" in *429*) ;; *) fail "no 429 in six fast requests:$codes" ;; esac
# The bucket refills while requests go out, so a slow machine may be let through once or
# twice more: look at the first 429 of a burst (never a timing).
for _ in $(seq 1 20); do
    st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" "$SIM/mdm/v2/client/config")
    [ "$st" = 429 ] && break
done
assert_apple_error "$st" 429 9646 "rate limited"
assert_contains "$T/hdr" "Retry-After:" "429 has Retry-After"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$SIM/mdm/v2/service/config")" 200 "service config is not rate-limited"
ctl POST /_sim/limits '{"maxRequestPerSecond":100000}' >/dev/null
sleep 1.1
ctl GET /_sim/requests >/dev/null
assert_json "$T/ctl" '[.requests[] | select(.path == "/mdm/v2/client/config" and .status == 429)] | length > 0' true "counters see the 429s"
ok "rate limit"

# --state FILE keeps locations, tokens and configuration across a restart.
sim_stop
sim_start --state "$T/state.db"
st=$(api GET /client/config)
assert_eq "$st" 200 "token still valid after restart"
assert_json "$T/resp" .notificationUrl "\"$GOOD_URL\"" "config kept across restart"
sim_stop
ok "state across restart, clean SIGTERM"

# --seed makes ids reproducible: the same requests give the same uId, sToken and eventId.
for run in 1 2; do
    sim_start --seed 7 --event-delay 0
    sim_location
    ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"users\":[{\"clientUserId\":\"x\"}]}" >/dev/null
    api POST /users/retire '{"users":[{"clientUserId":"x"}]}' >/dev/null
    echo "$LOC_UID $(echo "$STOKEN" | base64 -d | jq -r .token) $(jq -r .eventId "$T/resp")" >"$T/seed.$run"
    sim_stop
done
assert_eq "$(cat "$T/seed.1")" "$(cat "$T/seed.2")" "same seed, same uId, token and eventId"
ok "--seed"

# --token-expiration-field within-15-days: a far expiry is not reported.
sim_start --token-expiration-field within-15-days
sim_location
api GET /client/config >/dev/null
assert_json "$T/resp" 'has("tokenExpirationDate")' false "far expiry omitted"
sim_location "{\"expDate\":\"$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%S+0000)\"}"
api GET /client/config >/dev/null
assert_json "$T/resp" 'has("tokenExpirationDate")' true "near expiry reported"
sim_stop
ok "--token-expiration-field"
