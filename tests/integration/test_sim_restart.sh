# vppsim restarted with the same --state, after SIGTERM and after kill -9, loses nothing:
# a retry that was scheduled happens on its schedule, an event still PENDING completes and
# notifies, a delivery cut short is made again (at worst a duplicate, never a loss), and ids
# drawn from the same --seed do not repeat those of the previous run.
. "$(dirname "$0")/lib_sim.sh"

SIM_SCALE=0.05 # attempt 2 comes 3-4.5 s after attempt 1 (time to stop vppsim between them)

stop_sim() { # TERM or KILL
    if [ "$1" = TERM ]; then
        sim_stop
    else
        kill -9 "$SIM_PID"
        wait "$SIM_PID" 2>/dev/null || true
    fi
}

db_value() { sqlite3 "$1" "$2"; }

# 1. A scheduled retry survives the stop, with its attempt count and schedule.
retry_across() {
    local mode=$1 db="$T/retry.$1.db" nid
    recv_start --script 500,200
    sim_start --state "$db" --event-delay 0 --seed 7
    sim_location '{"uId":"2049000000000001"}'
    subscribe '["ASSET_COUNT"]'
    ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"1\",\"count\":1}" >/dev/null
    ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
    nid=$(jq -r '.notifications[0].notificationId' "$T/ctl")
    wait_for 20 lines_at_least "$RECV_LOG" 2 || fail "$mode: attempt 1 never came"
    wait_for 20 test "$(db_value "$db" "SELECT attempts FROM notifications WHERE notification_id = '$nid'")" = 1 ||
        fail "$mode: attempt 1 not recorded"
    stop_sim "$mode"
    assert_eq "$(db_value "$db" "SELECT state || ' ' || attempts FROM notifications WHERE notification_id = '$nid'")" \
        "scheduled 1" "$mode: stopped between attempt 1 and attempt 2"
    # Restarted at a smaller time scale: attempt 2 still comes on the schedule the first run
    # stored (the gap below), and the purchase after the restart retries sooner.
    SIM_SCALE=0.01 sim_start --state "$db" --event-delay 0 --seed 7
    settle 60
    jq -s -c --arg n "$nid" '[.[] | select(.notificationId == $n) | [.attempt, .status]]' "$RECV_LOG" >"$T/got"
    assert_eq "$(cat "$T/got")" '[[1,500],[2,200]]' "$mode: attempt 2 after the restart"
    gap=$(jq -s --arg n "$nid" '[.[] | select(.notificationId == $n) | .timeMs] | .[1] - .[0]' "$RECV_LOG")
    [ "$gap" -ge 3000 ] || fail "$mode: attempt 2 came $gap ms after attempt 1, before its schedule (3000)"
    ctl GET "/_sim/deliveries?notificationId=$nid" >/dev/null
    assert_json "$T/ctl" '[.deliveries[] | [.attempt, .status]]' '[[1,500],[2,200]]' \
        "$mode: the delivery log kept attempt 1"
    # Regression: the stream of ids restarted with the seed, so a location created first after
    # the restart drew the first run's sToken: its insert failed without a word and the new
    # sToken opened the first location.
    sim_location '{"uId":"2049000000000002"}'
    assert_eq "$(api GET /client/config)" 200 "$mode: the new location's sToken"
    assert_json "$T/resp" .uId '"2049000000000002"' "$mode: it opens the new location, not the first"
    LOC_UID=2049000000000001
    ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"2\",\"count\":1}" >/dev/null
    assert_eq "$(jq -r .countDelta "$T/ctl")" 1 "$mode: purchase after the restart"
    settle 60
    ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
    assert_json "$T/ctl" '[.notifications[].notificationId] | unique | length' 2 \
        "$mode: a new notificationId after the restart with the same --seed"
    assert_json "$T/ctl" '[.notifications[].state]' '["delivered","delivered"]' "$mode: both delivered"
    sim_stop
    recv_stop
    ok "$mode: a scheduled retry and the seed's ids across a restart"
}
retry_across TERM
retry_across KILL

# 2. An event still PENDING at the stop is processed after the restart and notifies.
event_across() {
    local mode=$1 db="$T/event.$1.db" ev
    SIM_SCALE=0.01
    recv_start
    sim_start --state "$db" --event-delay 0
    sim_location
    subscribe '["USER_MANAGEMENT"]'
    ctl POST /_sim/processing '{"paused":true}' >/dev/null
    assert_eq "$(api POST /users/create '{"users":[{"clientUserId":"a"},{"clientUserId":"b"}]}')" 200 "$mode: create"
    ev=$(jq -r .eventId "$T/resp")
    stop_sim "$mode"
    assert_eq "$(db_value "$db" "SELECT status FROM events WHERE event_id = '$ev'")" PENDING "$mode: stopped while PENDING"
    # On the same address, as a client configured with it (vppnotify's --apple-url) needs.
    local addr=${SIM#http://}
    sim_start --state "$db" --event-delay 0 --listen "$addr"
    assert_eq "${SIM#http://}" "$addr" "$mode: restarted on the same address at once"
    settle 60
    api GET "/status?eventId=$ev" >/dev/null
    assert_json "$T/resp" '[.eventStatus, .numCompleted]' '["COMPLETE",2]' "$mode: completed after the restart"
    assert_json "$RECV_LOG" "select(.eventId == \"$ev\") | .body.notification | [.type, .result, (.users | length)]" \
        '["CREATE","SUCCESS",2]' "$mode: its notification arrived"
    sim_stop
    recv_stop
    SIM_SCALE=0.05
    ok "$mode: a PENDING event completes after the restart"
}
event_across TERM
event_across KILL

# 3. A delivery in flight at the stop is not lost: made again after the restart. The receiver
# holds its answer (after the subscription's TEST_NOTIFICATION) until vppsim was stopped: the
# delivery is in flight at the stop whatever the machine's load.
flight_across() {
    local mode=$1 db="$T/flight.$1.db" nid
    recv_start --hold-while-file "$T/hold"
    sim_start --state "$db" --event-delay 0
    sim_location
    subscribe '["ASSET_COUNT"]'
    touch "$T/hold"
    ctl POST /_sim/purchase "{\"uId\":\"$LOC_UID\",\"adamId\":\"1\",\"count\":1}" >/dev/null
    ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
    nid=$(jq -r '.notifications[0].notificationId' "$T/ctl")
    wait_for 20 test "$(db_value "$db" "SELECT in_flight FROM notifications WHERE notification_id = '$nid'")" = 1 ||
        fail "$mode: the delivery never started"
    stop_sim "$mode"
    assert_eq "$(db_value "$db" "SELECT state || ' ' || attempts FROM notifications WHERE notification_id = '$nid'")" \
        "scheduled 0" "$mode: stopped with the delivery in flight"
    rm "$T/hold"
    sim_start --state "$db" --event-delay 0
    settle 60
    ctl GET "/_sim/notifications?type=ASSET_COUNT" >/dev/null
    assert_json "$T/ctl" '[.notifications[] | [.notificationId, .state]]' "[[\"$nid\",\"delivered\"]]" \
        "$mode: delivered after the restart"
    ctl GET "/_sim/deliveries?notificationId=$nid" >/dev/null
    assert_json "$T/ctl" '[.deliveries[] | [.attempt, .status]]' '[[1,200]]' \
        "$mode: the cut attempt is not counted; the next one is attempt 1"
    wait_for 20 test "$(recv_count ".notificationId == \"$nid\"")" -ge 1 || fail "$mode: never received"
    n=$(recv_count ".notificationId == \"$nid\" and .status == 200")
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "$mode: received $n times (expected once, at worst twice)"
    sim_stop
    recv_stop
    ok "$mode: a delivery in flight is made again ($n received)"
}
flight_across TERM
flight_across KILL
