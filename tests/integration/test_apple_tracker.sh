#!/usr/bin/env bash
# The event tracker inside serve, with time-scaled durations (quiet 1 s, poll interval 1 s,
# stall 2.5 s): vppsim drops every notification of an event (250 serials from a file) -> Event Status after the quiet
# period, notificationsMissing, targeted re-sync, mirror equal to vppsim; a PENDING event is
# polled no more often than the interval and reported stalled; tracking survives a restart of
# serve; `events track` follows an event started by another program.
. "$(dirname "$0")/lib_apple.sh"

SERVE_ARGS=(--event-quiet 1s --event-poll-interval 1s --event-stall 2500ms)
apple_start "${SERVE_ARGS[@]}"
apple_location
apple_subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"100\",\"totalCount\":1000}]}" >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>&1 || fail "initial sync"

# Every notification of the event is lost.
ctl POST /_sim/faults '{"drop":1}' >/dev/null
ctl POST /_sim/requests '{"reset":true}' >/dev/null
seq -f 'M%04g' 1 250 >"$T/serials.txt"
EV=$(vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials-file "$T/serials.txt" 2>/dev/null)
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .numRequested, .numCompleted, .notifiedItems, .notificationsMissing]' \
    '["COMPLETE",250,250,0,true]' "notifications missing, Event Status complete"
assert_json "$T/ev.json" '.polls' 1 "one poll"
assert_json "$T/ev.json" '.resync | startswith("done: {\"kind\":\"targeted\"")' true "targeted re-sync"
assert_json "$T/ev.json" '.resync | ltrimstr("done: ") | fromjson | .assignments.added' 250 \
    "the re-sync added the 250 assignments"
quiet=$(($(ms_of "$(jq -r .lastPollAt "$T/ev.json")") - $(ms_of "$(jq -r .requestedAt "$T/ev.json")")))
[ "$quiet" -ge 1000 ] || fail "polled $quiet ms after the request, before the quiet period"
assert_eq "$(sim_count GET /mdm/v2/status 200)" 1 "vppsim saw one status request"
ctl GET "/_sim/notifications?eventId=$EV" >/dev/null
assert_json "$T/ctl" '[.notifications[].state] | unique' '["dropped"]' "vppsim dropped them all"
mirror_equals_sim "$LOC_UID" "assets assignments"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
ok "dropped notifications: Event Status after the quiet period, re-sync, mirror equals vppsim"

# A PENDING event: polled at most once per interval, stalled after 2.5 s, never re-sent.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
ctl POST /_sim/requests '{"reset":true}' >/dev/null
EV=$(vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials P1,P2,P3,P4,P5 2>/dev/null)
wait_for 10 bash -c "'$VPPNOTIFY' events --db '$VN_DB' --event-id $EV --json | jq_true '.[0].stalled'" ||
    fail "not reported stalled"
grep -q "event stalled.*eventId=$EV" "$T/serve.log" || fail "stall not logged"
sleep 1.2
ctl POST /_sim/processing '{"paused":false}' >/dev/null
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .stalled, .notificationsMissing, .notifiedItems]' \
    '["COMPLETE",true,false,5]' "completed after the stall, nothing missing"
polls=$(jq .polls "$T/ev.json")
span=$(($(ms_of "$(jq -r .completedAt "$T/ev.json")") - $(ms_of "$(jq -r .requestedAt "$T/ev.json")")))
max=$(((span - 1000) / 1000 + 1))
[ "$polls" -ge 2 ] || fail "only $polls polls while PENDING for $span ms"
[ "$polls" -le "$max" ] || fail "$polls polls in $span ms: more often than once a second"
assert_eq "$(sim_count GET /mdm/v2/status 200)" "$polls" "vppsim saw every poll, and no more"
assert_eq "$(sim_count POST /mdm/v2/assets/associate 200)" 1 "the request itself, never re-submitted"
ok "PENDING: $polls polls in $span ms (interval 1 s), stalled reported, not re-submitted"

# Tracking survives a restart of serve: stop it with the event PENDING, lose its notifications.
ctl POST /_sim/processing '{"paused":true}' >/dev/null
EV=$(vn_cli assets associate --uid "$LOC_UID" --assets 100 --serials R1,R2,R3 2>/dev/null)
vn_serve_stop
event_json "$EV"
assert_json "$T/ev.json" '[.tracked, .status, .completedAt]' '[true,null,null]' "tracked before the restart"
ctl POST /_sim/faults '{"drop":1}' >/dev/null
ctl POST /_sim/processing '{"paused":false}' >/dev/null
settle
vn_serve_start "${SERVE_ARGS[@]}"
wait_event "$EV"
assert_json "$T/ev.json" '[.status, .notificationsMissing, .polls >= 1]' '["COMPLETE",true,true]' \
    "resumed: polled, missing, re-synced"
vn_cli assignments --uid "$LOC_UID" --serial R2 --json >"$T/a.json"
assert_json "$T/a.json" 'length' 1 "the re-sync brought the assignment"
mirror_equals_sim "$LOC_UID" "assets assignments"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
ok "tracking resumes after a restart of serve"

# The restarted serve listens on another port: tell Apple (a rotation may move the URL).
vn_cli location rotate-token --uid "$LOC_UID" --public-url "$VN_URL/notifications" \
    >/dev/null 2>"$T/err" || fail "rotate-token --public-url: $(cat "$T/err")"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].notificationUrl' "\"$VN_URL/notifications\"" "the new URL is recorded"
ctl GET "/_sim/state?uId=$LOC_UID" >/dev/null
assert_json "$T/ctl" '.notificationUrl' "\"$VN_URL/notifications\"" "and Apple has it"
ok "rotate-token --public-url moves the subscription"

# An event another program started (curl straight at vppsim), tracked with events track.
assert_eq "$(api POST /assets/associate '{"assets":[{"adamId":"100"}],"serialNumbers":["X1","X2","X3"]}')" \
    200 "curl starts an event"
EV=$(jq -r .eventId "$T/resp")
vn_cli events track "$EV" --uid "$LOC_UID" >"$T/out" 2>"$T/err" || fail "events track: $(cat "$T/err")"
grep -Eq "^$EV (PENDING|COMPLETE)" "$T/out" || fail "events track printed: $(cat "$T/out")"
wait_event "$EV"
assert_json "$T/ev.json" '[.tracked, .status, .numRequested, .numCompleted, .notifiedItems, .notificationsMissing]' \
    '[true,"COMPLETE",3,3,3,false]' "followed to the end"
assert_json "$T/ev.json" '.polls >= 1' true "its status was polled"
rc=0
vn_cli events track no-such-event --uid "$LOC_UID" >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "an unknown event"
assert_contains "$T/err" "9708" "Apple's eventId not found"
ok "events track follows an event started by curl"

vn_serve_stop
sim_stop
