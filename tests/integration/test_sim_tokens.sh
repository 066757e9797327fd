# vppsim kinds of token: read-only (a facilitator's token: every GET, no POST, 403/9637) and
# legacy (nothing but Service Config, 403/9647), set with POST /_sim/token or at location
# creation, returned to normal by restore, shown in the state dump and the locations list,
# kept across a restart with --state, and the migration of a state file that has no kinds.
. "$(dirname "$0")/lib_sim.sh"

GET_PATHS="/client/config /assets /assignments /users /status?eventId=x /subscriptions
/subscriptions/assignments /subscriptions/admins"
POST_PATHS="/client/config /assets/associate /assets/disassociate /assets/revoke /users/create
/users/update /users/retire /subscriptions/enable /subscriptions/disable
/subscriptions/associate /subscriptions/disassociate /subscriptions/admins/add
/subscriptions/admins/remove"
MSG_9637="This operation isn't allowed for facilitator accounts."
MSG_9647="This operation isn't supported for legacy tokens."
ASSOCIATE='{"assets":[{"adamId":"100"}],"clientUserIds":["alice"]}'

token() {
    ctl POST /_sim/token "{\"uId\":\"$LOC_UID\",\"action\":\"$1\"}"
}

# state_is JQ EXPECTED WHAT: the state dump of the location.
state_is() {
    assert_eq "$(ctl GET "/_sim/state?uId=$LOC_UID")" 200 "state dump"
    assert_json "$T/ctl" "$1" "$2" "$3"
}

sim_start --state "$T/state.db" --event-delay 0
recv_start
sim_location '{"orgName":"Facilitated"}'
assert_json "$T/ctl" .tokenKind '"normal"' "a new location's token is normal"
assert_eq "$(ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"100\",\"totalCount\":5}],\"users\":[{\"clientUserId\":\"alice\"}]}")" 200 "seed"
subscribe
state_is '.tokens | map(.kind)' '["normal"]' "the kind is in the state dump"
ok "normal token"

# read-only: every GET answers, every POST is 403/9637 and queues nothing.
assert_eq "$(token read-only)" 200 "read-only action"
assert_json "$T/ctl" '[.uId, .action]' "[\"$LOC_UID\",\"read-only\"]" "read-only answer"
state_is '.tokens | map(.kind)' '["read-only"]' "state dump shows read-only"
assert_eq "$(ctl GET /_sim/locations)" 200 "locations list"
assert_json "$T/ctl" ".locations[] | select(.uId == \"$LOC_UID\") | .tokenKind" '"read-only"' \
    "locations list shows read-only"
assert_eq "$(api GET /assets)" 200 "read-only: GET assets"
assert_json "$T/resp" '[.assets[].adamId, .uId]' "[\"100\",\"$LOC_UID\"]" "read-only: assets listed"
assert_eq "$(api GET /users)" 200 "read-only: GET users"
assert_json "$T/resp" '[.users[].clientUserId]' '["alice"]' "read-only: users listed"
assert_eq "$(api GET /assignments)" 200 "read-only: GET assignments"
assert_eq "$(api GET /client/config)" 200 "read-only: GET client config"
assert_json "$T/resp" .notificationUrl "\"$RECV_URL\"" "read-only: client config readable"
st=$(api GET '/status?eventId=none')
assert_apple_error "$st" 400 9708 "read-only: GET status reaches the endpoint"
notes_before=$(ctl GET "/_sim/notifications?uId=$LOC_UID" >/dev/null && jq '.notifications | length' "$T/ctl")
st=$(api POST /assets/associate "$ASSOCIATE")
assert_apple_error "$st" 403 9637 "read-only: associate"
assert_json "$T/resp" .errorMessage "\"$MSG_9637\"" "9637 message from apple_errors.c"
assert_json "$T/resp" 'has("eventId")' false "read-only: no eventId"
for p in $POST_PATHS; do
    st=$(api POST "$p" '{}')
    assert_apple_error "$st" 403 9637 "read-only: POST $p"
done
st=$(api POST /users/create 'not json')
assert_apple_error "$st" 403 9637 "read-only: the kind is checked before the body"
settle 10
state_is '[(.events | length), .assignments, .users[0].status]' '[0,[],"Registered"]' \
    "read-only: nothing queued, nothing changed"
ctl GET "/_sim/notifications?uId=$LOC_UID" >/dev/null
assert_json "$T/ctl" '.notifications | length' "$notes_before" "read-only: no notification"
ok "read-only token: GETs work, POSTs 403/9637, nothing queued"

# An expired or revoked read-only token answers 9621/9625 first; restore makes it normal.
token revoke >/dev/null
st=$(api GET /assets)
assert_apple_error "$st" 401 9625 "revoked read-only token"
assert_eq "$(token restore)" 200 "restore"
state_is '.tokens | map([.kind, .revoked])' '[["normal",false]]' "restore: normal again"
st=$(api POST /assets/associate "$ASSOCIATE")
assert_eq "$st" 200 "restored: associate (body $(head -c 200 "$T/resp"))"
ev=$(jq -r .eventId "$T/resp")
settle 10
assert_eq "$(api GET "/status?eventId=$ev")" 200 "status"
assert_json "$T/resp" '[.eventStatus, .numCompleted]' '["COMPLETE",1]' "restored: the event completes"
state_is '[.assignments[].clientUserId]' '["alice"]' "restored: assignment made"
ok "revoked read-only token, restore"

# legacy: nothing but Service Config.
assert_eq "$(token legacy)" 200 "legacy action"
state_is '.tokens | map(.kind)' '["legacy"]' "state dump shows legacy"
st=$(api GET /assets)
assert_apple_error "$st" 403 9647 "legacy: GET assets"
assert_json "$T/resp" .errorMessage "\"$MSG_9647\"" "9647 message from apple_errors.c"
for p in $GET_PATHS; do
    st=$(api GET "$p")
    assert_apple_error "$st" 403 9647 "legacy: GET $p"
done
for p in $POST_PATHS; do
    st=$(api POST "$p" '{}')
    assert_apple_error "$st" 403 9647 "legacy: POST $p"
done
assert_eq "$(api GET /service/config)" 200 "legacy: service config (token sent)"
assert_json "$T/resp" '.errorCodes | map(select(.errorNumber == 9647)) | length' 1 \
    "service config lists 9647"
ok "legacy token: 403/9647 everywhere but Service Config"

# The kind survives a restart with --state.
sim_stop
sim_start --state "$T/state.db" --event-delay 0
st=$(api GET /assets)
assert_apple_error "$st" 403 9647 "legacy after restart"
assert_eq "$(ctl GET /_sim/locations)" 200 "locations list after restart"
assert_json "$T/ctl" '[.locations[].tokenKind]' '["legacy"]' "locations list after restart"
token read-only >/dev/null
sim_stop
sim_start --state "$T/state.db" --event-delay 0
assert_eq "$(api GET /assets)" 200 "read-only after restart: GET"
st=$(api POST /assets/disassociate "$ASSOCIATE")
assert_apple_error "$st" 403 9637 "read-only after restart: POST"
state_is '.tokens | map(.kind)' '["read-only"]' "state dump after restart"
ok "the kind survives a restart"

# renew issues a normal token and revokes the read-only one.
assert_eq "$(token renew)" 200 "renew"
OLD=$STOKEN
STOKEN=$(jq -r .sToken "$T/ctl")
state_is '.tokens | map([.kind, .revoked])' '[["read-only",true],["normal",false]]' \
    "renew: old read-only token revoked, new one normal"
assert_eq "$(ctl GET /_sim/locations)" 200 "locations list"
assert_json "$T/ctl" '[.locations[].tokenKind]' '["normal"]' "the newest token's kind is listed"
st=$(api POST /assets/disassociate "$ASSOCIATE")
assert_eq "$st" 200 "renewed token may POST (body $(head -c 200 "$T/resp"))"
STOKEN=$OLD
st=$(api GET /assets)
assert_apple_error "$st" 401 9625 "the old read-only token is revoked"
ok "renew"

# tokenKind at location creation.
sim_location '{"tokenKind":"read-only"}'
assert_json "$T/ctl" .tokenKind '"read-only"' "created read-only"
assert_eq "$(api GET /users)" 200 "created read-only: GET"
st=$(api POST /users/create '{"users":[{"clientUserId":"bob"}]}')
assert_apple_error "$st" 403 9637 "created read-only: POST"
state_is '[(.tokens | map(.kind)), (.events | length)]' '[["read-only"],0]' "created read-only: state"
sim_location '{"tokenKind":"legacy"}'
assert_json "$T/ctl" .tokenKind '"legacy"' "created legacy"
st=$(api GET /users)
assert_apple_error "$st" 403 9647 "created legacy: GET"
assert_eq "$(ctl POST /_sim/locations '{"tokenKind":"facilitator"}')" 400 "unknown tokenKind"
assert_contains "$T/ctl" "tokenKind 'facilitator'" "the error names the value"
assert_eq "$(ctl GET /_sim/locations)" 200 "locations list"
assert_json "$T/ctl" '[.locations[].tokenKind]' '["normal","read-only","legacy"]' \
    "no location created by the bad request"
assert_eq "$(token readonly)" 400 "unknown token action"
assert_contains "$T/ctl" "read-only, legacy" "the error lists the new actions"
ok "tokenKind at location creation"

# A state file written before token kinds existed (schema 2) is migrated: its tokens are normal.
STATE_UID=$LOC_UID
sim_stop
sqlite3 "$T/state.db" "ALTER TABLE tokens DROP COLUMN kind;
    ALTER TABLE sub_assignments DROP COLUMN via_group;
    UPDATE meta SET value = '2' WHERE key = 'schema_version';"
assert_eq "$(sqlite3 "$T/state.db" "SELECT COUNT(*) FROM pragma_table_info('tokens') WHERE name = 'kind'")" 0 \
    "schema-2 file has no kind column"
sim_start --state "$T/state.db" --event-delay 0
assert_eq "$(sqlite3 "$T/state.db" "SELECT value FROM meta WHERE key = 'schema_version'")" 4 \
    "migrated to schema 4 (through 3: token kinds)"
assert_eq "$(api GET /users)" 200 "migrated legacy token is normal again"
LOC_UID=$STATE_UID
state_is '.tokens | map(.kind)' '["normal"]' "migrated tokens are normal"
sim_stop
recv_stop
ok "migration of a schema-2 state file"
