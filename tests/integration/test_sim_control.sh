# vppsim control API: index, locations list, bad input (400/404/405/409), settle timing out
# (504) while processing is paused, request counters and their reset, limits, the state dump
# of every location.
. "$(dirname "$0")/lib_sim.sh"

sim_start --event-delay 0
assert_eq "$(ctl GET /_sim/)" 200 "index"
assert_json "$T/ctl" '[.endpoints[].path] | index("/_sim/settle") != null' true "index lists settle"
sim_location '{"uId":"2049000000000001","orgName":"A"}'
assert_eq "$(ctl POST /_sim/locations '{"uId":"2049000000000001"}')" 409 "duplicate uId"
assert_eq "$(ctl POST /_sim/locations '{"uId":"abc"}')" 400 "uId must be digits"
assert_eq "$(ctl POST /_sim/locations '{"expDate":"soon"}')" 400 "bad expDate"
sim_location '{"orgName":"B","expDate":"2020-01-01T00:00:00+0000"}'
st=$(api GET /assets)
assert_apple_error "$st" 401 9621 "a location created with a past expDate"
assert_eq "$(ctl GET /_sim/locations)" 200 "list locations"
assert_json "$T/ctl" '[.locations[].orgName]' '["A","B"]' "both locations"
assert_eq "$(ctl POST /_sim/token '{"uId":"2049000000000001","action":"explode"}')" 400 "unknown token action"
assert_eq "$(ctl POST /_sim/token '{"uId":"999","action":"revoke"}')" 404 "unknown uId"
assert_eq "$(ctl DELETE /_sim/seed)" 405 "wrong method"
assert_eq "$(ctl POST /_sim/seed '{"uId":"2049000000000001","assets":[{"adamId":"x"}]}')" 400 "bad seed"
assert_contains "$T/ctl" "assets[0]" "seed error names the element"
assert_eq "$(ctl POST /_sim/seed 'not json')" 400 "seed needs JSON"
assert_eq "$(ctl POST /_sim/faults '{"drop":2}')" 400 "probability out of range"
assert_eq "$(ctl POST /_sim/faults '{"explode":1}')" 400 "unknown fault"
assert_eq "$(ctl POST /_sim/limits '{"maxNothing":1}')" 400 "unknown limit"
assert_eq "$(ctl POST /_sim/limits '{"maxUsers":2}')" 200 "set a limit"
assert_json "$T/ctl" .maxUsers 2 "limit set"
curl -sS -o "$T/sc" "$SIM/mdm/v2/service/config"
assert_json "$T/sc" .limits.maxUsers 2 "service config shows it"
LOC_UID=2049000000000001
ctl POST /_sim/token '{"uId":"2049000000000001","action":"renew"}' >/dev/null
STOKEN=$(jq -r .sToken "$T/ctl")
st=$(api POST /users/create '{"users":[{"clientUserId":"a"},{"clientUserId":"b"},{"clientUserId":"c"}]}')
assert_apple_error "$st" 400 9714 "the new limit is enforced"
ok "control input errors"

# settle times out (504) while processing is paused, and succeeds after resuming.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"a"}]}')" 200 "create"
assert_eq "$(ctl POST '/_sim/settle?timeout=1')" 504 "settle times out"
assert_json "$T/ctl" '[.settled, .pendingEvents]' '[false,1]' "what is pending"
ctl POST /_sim/processing '{"paused":false}' >/dev/null
settle 10
ok "settle"

# Request counters.
ctl POST /_sim/requests '{"reset":true}' >/dev/null
api GET /users >/dev/null
api GET /users >/dev/null
api GET /nowhere >/dev/null
ctl GET /_sim/requests >/dev/null
assert_json "$T/ctl" '[.total, ([.requests[] | select(.path == "/mdm/v2/users") | .count] | add)]' '[4,2]' "counters after reset (the reset request itself counts)"
ok "request counters"

# The state dump of every location.
assert_eq "$(ctl GET /_sim/state)" 200 "state of all"
assert_json "$T/ctl" '[.locations[] | .uId] | length' 2 "two locations"
assert_json "$T/ctl" '.locations[0] | [.users[0].clientUserId, .events[0].eventStatus, .tokens[-1].revoked]' '["a","COMPLETE",false]' "state content"
assert_eq "$(ctl GET /_sim/state?uId=42)" 404 "unknown uId"
sim_stop
ok "state of all"

# Regression: a query that failed used to answer a default as if it had worked (Event Status
# said 9708 "not found" for an event that exists, settle said "settled", the state dump left
# the events out). Now a failed state is a 500 (9603 with Retry-After on /mdm/v2) and a logged
# message naming the cause.
sim_start --state "$T/broken.db" --event-delay 0
sim_location
assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"u"}]}')" 200 "create"
EV=$(jq -r .eventId "$T/resp")
settle
assert_eq "$(api GET "/status?eventId=$EV")" 200 "status before"
sqlite3 "$T/broken.db" "DROP TABLE events"
st=$(curl -sS -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $STOKEN" \
    "$SIM/mdm/v2/status?eventId=$EV")
assert_apple_error "$st" 500 9603 "a failed query is a 500, not 9708"
assert_contains "$T/hdr" "Retry-After: 1" "500 has Retry-After"
assert_eq "$(ctl POST '/_sim/settle?timeout=1')" 500 "settle: 500, not settled"
assert_json "$T/ctl" '.error | test("state failed")' true "control API error says why"
assert_eq "$(ctl GET "/_sim/state?uId=$LOC_UID")" 500 "state dump: 500, not a dump without events"
assert_eq "$(api GET /users)" 200 "what does not need the table still works"
assert_contains "$T/sim.log" "no such table: events" "the cause is logged"
sim_stop
ok "a failed state is a 500 with a logged cause"
