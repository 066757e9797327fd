# Helpers of the integration tests of talking to Apple (tests/integration/test_apple_*.sh):
# vppsim plays Apple, vppnotify serve receives its notifications. Sources lib_sim.sh (and so
# lib.sh).
#
#   apple_start [SERVE ARGS]   vppsim (with $SIM_ARGS) and serve wired to it; exports
#                              VPPNOTIFY_APPLE_URL; scheduled syncs off, tracker durations 1s
#   apple_location [JSON]      a vppsim location: LOC_UID, STOKEN, and STF (the sToken file)
#   apple_subscribe            location add --stoken-file $STF --public-url $VN_URL/notifications
#   apple_import               location add --uid + set-stoken: an sToken, no subscription
#   seed_file FILE             POST /_sim/seed with a body from a file (large seeds)
#   wait_event EVENTID         until the event's tracking is over (completedAt set)
#   event_json EVENTID         the event's row of `events --json` in $T/ev.json
#   mirror_equals_sim UID [TABLES]   the mirror equals vppsim's state dump, table by table
#   sim_count METHOD PATH STATUS     requests vppsim answered so (GET /_sim/requests)
#   ms_of ISO_TIME             milliseconds since the epoch

# shellcheck source=lib_sim.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_sim.sh"

apple_start() {
    # shellcheck disable=SC2086
    sim_start --event-delay 0 ${SIM_ARGS:-}
    export VPPNOTIFY_APPLE_URL="$SIM/mdm/v2"
    vn_serve_start --sync-full-interval 0 --sync-delta-interval 0 --event-quiet 1s \
        --event-poll-interval 1s "$@"
}

apple_location() {
    sim_location "${1:-{\}}"
    STF="$T/stoken.$LOC_UID"
    (umask 077 && printf '%s\n' "$STOKEN" >"$STF")
}

apple_subscribe() {
    vn_cli location add --stoken-file "$STF" --public-url "$VN_URL/notifications" \
        >"$T/subscribe.out" 2>"$T/subscribe.err" ||
        fail "location add --stoken-file: $(cat "$T/subscribe.err")"
}

apple_import() {
    vn_cli location add --uid "$LOC_UID" >/dev/null 2>&1 || fail "location add --uid $LOC_UID"
    vn_cli location set-stoken --uid "$LOC_UID" --stoken-file "$STF" >/dev/null 2>"$T/set.err" ||
        fail "set-stoken: $(cat "$T/set.err")"
}

seed_file() {
    local st
    st=$(curl -sS --max-time 120 -o "$T/ctl" -w '%{http_code}' -X POST "$SIM/_sim/seed" \
        -H 'Content-Type: application/json' --data-binary "@$1")
    [ "$st" = 200 ] || fail "seed failed: $st $(head -c 300 "$T/ctl")"
}

event_json() {
    vn_cli events --event-id "$1" --json | jq '.[0]' >"$T/ev.json"
}

event_done() {
    event_json "$1" && [ "$(jq -r '.completedAt // empty' "$T/ev.json")" != "" ]
}

wait_event() {
    wait_for "${2:-30}" event_done "$1" || fail "event $1 not done: $(cat "$T/ev.json")"
}

ms_of() {
    date -d "$1" +%s%3N
}

sim_count() {
    ctl GET /_sim/requests >/dev/null
    jq --arg m "$1" --arg p "$2" --argjson s "$3" \
        '[.requests[] | select(.method == $m and .path == $p and .status == $s) | .count] | add // 0' \
        "$T/ctl"
}

# The five mirror tables in a form both sides share (adamIds as text, NULLs left out).
_norm_sim() {
    case $1 in
    assets) jq -S '[.assets[] | {adamId, pricingParam, totalCount, assignedCount, availableCount}] | sort_by(.adamId, .pricingParam)' ;;
    assignments) jq -S '[.assignments[] | {adamId, pricingParam, clientUserId, serialNumber} | with_entries(select(.value != null))] | sort_by(.adamId, .pricingParam, .clientUserId // "", .serialNumber // "")' ;;
    # Apple keeps a retired user's record beside the one created again with the same
    # clientUserId; the mirror keeps one row per clientUserId: the active record, else the later.
    users) jq -S '[.users | group_by(.clientUserId)[] | ((map(select(.status != "Retired")) | last) // last)
        | {clientUserId, email, inviteCode, idHash, status} | with_entries(select(.value != null))] | sort_by(.clientUserId)' ;;
    subscriptions) jq -S '[.subscriptions[] | {adamId: (.adamId | tostring), parentAdamId: (if .parentAdamId == null then null else (.parentAdamId | tostring) end), counts: {available: .counts.available, total: .counts.total}} | with_entries(select(.value != null))] | sort_by(.adamId)' ;;
    subscription-assignments) jq -S '[.subscriptionAssignments[] | {adamId: (.adamId | tostring), clientUserId, renewing}] | sort_by(.adamId, .clientUserId)' ;;
    esac
}

_norm_vn() {
    case $1 in
    assets) jq -S '[.[] | {adamId, pricingParam, totalCount, assignedCount, availableCount}] | sort_by(.adamId, .pricingParam)' ;;
    assignments) jq -S '[.[] | del(.uId, .updatedAt)] | sort_by(.adamId, .pricingParam, .clientUserId // "", .serialNumber // "")' ;;
    users) jq -S '[.[] | del(.uId, .updatedAt)] | sort_by(.clientUserId)' ;;
    subscriptions) jq -S '[.[] | del(.uId, .updatedAt)] | sort_by(.adamId)' ;;
    subscription-assignments) jq -S '[.[] | del(.uId, .updatedAt)] | sort_by(.adamId, .clientUserId)' ;;
    esac
}

mirror_equals_sim() {
    local uid=$1 tables=${2:-assets assignments users subscriptions subscription-assignments}
    curl -sS --max-time 120 -o "$T/state.json" "$SIM/_sim/state?uId=$uid" || fail "state dump"
    for t in $tables; do
        _norm_sim "$t" <"$T/state.json" >"$T/want.$t.json"
        vn_cli "$t" --uid "$uid" --json | _norm_vn "$t" >"$T/got.$t.json"
        if ! cmp -s "$T/want.$t.json" "$T/got.$t.json"; then
            diff "$T/want.$t.json" "$T/got.$t.json" | head -20 >&2
            fail "mirror $t of $uid differs from vppsim's state ($(jq length "$T/want.$t.json") vs $(jq length "$T/got.$t.json") rows)"
        fi
    done
}

# vn_serve_start_quiet [SERVE OPTION...]: serve with no scheduled Apple work during the test
# (syncs and Event Status polls an hour away), so that vppsim's request log holds only the
# requests the test makes.
vn_serve_start_quiet() {
    vn_serve_start --sync-full-interval 1h --sync-delta-interval 1h --event-quiet 1h \
        --event-poll-interval 1h "$@"
}

# sim_log_last_id: the id of vppsim's last request-log entry now (0: none), for afterId= later.
sim_log_last_id() {
    curl -sS "$SIM/_sim/request-log" | jq '[.entries[].id] | max // 0'
}

# sim_cli_configs SINCE: how many Service Config reads vppsim logged after entry SINCE from the
# CLI (a User-Agent without "(instance ", which serve's carries).
sim_cli_configs() {
    curl -sS "$SIM/_sim/request-log?afterId=$1" |
        jq '[.entries[] | select((.path | endswith("service/config")) and
             (.userAgent | test("\\(instance ") | not))] | length'
}
sim_cli_configs_at_least() { [ "$(sim_cli_configs "$1")" -ge "$2" ]; }

# sim_in_flight: vppsim holds at least one /mdm/v2 request unanswered now (e.g. latencyMs).
sim_in_flight() {
    curl -sS "$SIM/_sim/request-log" | jq_true '.inFlight >= 1' >/dev/null
}

# sim_log_one_at_a_time LOG.json: vppsim's request log (GET /_sim/request-log of one location)
# shows no two requests overlapping in time (each entry's startMs..endMs); else fail, naming a
# pair (userAgent and path of each).
sim_log_one_at_a_time() {
    jq '[.entries as $e | range($e | length) as $i | range($i + 1; $e | length) as $j
        | select($e[$i].startMs < $e[$j].endMs and $e[$j].startMs < $e[$i].endMs)
        | [$e[$i].userAgent, $e[$i].path, $e[$j].userAgent, $e[$j].path]]' "$1" >"$T/overlaps.json"
    [ "$(jq length "$T/overlaps.json")" -eq 0 ] ||
        fail "$(jq length "$T/overlaps.json") pairs of requests overlapped, e.g. $(jq -c '.[0]' "$T/overlaps.json")"
    assert_json "$1" '.maxConcurrent' 1 "never two requests of the location at once"
}
