#!/usr/bin/env bash
# Contract §3.1, issue 10 item 1: notifications of two events that change one key in opposite
# ways arrive in the wrong order. serve cannot take the ASSOCIATE of serial X1 when Apple first
# delivers it (another process holds the database: 503); then the DISASSOCIATE of X1 is
# delivered at once; then Apple's retry of the ASSOCIATE arrives. vppnotify sent both requests,
# so their send order decides: X1 stays out of the mirror (before: it came back, assignedCount
# 1, nothing flagged, while Apple had none).
. "$(dirname "$0")/lib_apple.sh"

# Retries come 3-15 s after a failed delivery: well after serve is back and the DISASSOCIATE
# was delivered.
SIM_SCALE=0.05
apple_start --db-busy-timeout 200ms
apple_location
apple_subscribe
ctl POST /_sim/seed "{\"uId\":\"$LOC_UID\",\"assets\":[{\"adamId\":\"1000\",\"totalCount\":10}]}" >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>&1 || fail "initial sync"

db_lock
vn_cli assets associate --uid "$LOC_UID" --assets 1000 --serials X1 >"$T/ev1" 2>"$T/err" &
cli=$!
# first_attempt_failed: vppsim's first delivery of the ASSOCIATE's notification got a 503.
first_attempt_failed() {
    ctl GET "/_sim/notifications?uId=$LOC_UID&type=ASSET_MANAGEMENT" >/dev/null &&
        jq_true '[.notifications[] | select(.attempts >= 1 and .lastStatus == 503)] | length >= 1' \
            "$T/ctl" >/dev/null
}
wait_for 20 first_attempt_failed || fail "vppsim never tried to deliver the ASSOCIATE"
db_unlock
wait "$cli" || fail "associate: $(cat "$T/err")"
EV1=$(cat "$T/ev1")
EV2=$(vn_cli assets disassociate --uid "$LOC_UID" --assets 1000 --serials X1 2>"$T/err") ||
    fail "disassociate: $(cat "$T/err")"
wait_for 20 grep -q "event=$EV2 outcome=applied" "$T/serve.log" ||
    fail "the DISASSOCIATE was not delivered"
grep -q "event=$EV1 outcome=applied" "$T/serve.log" &&
    fail "the ASSOCIATE's retry came before the DISASSOCIATE: nothing reordered (slow machine?)"
settle # Apple's retry of the ASSOCIATE arrives now
grep -q "event=$EV1 outcome=applied" "$T/serve.log" || fail "the ASSOCIATE's retry never arrived"

vn_cli assignments --uid "$LOC_UID" --serial X1 --json >"$T/a.json"
assert_json "$T/a.json" 'length' 0 "X1 stays out of the mirror (vppnotify sent the DISASSOCIATE last)"
vn_cli assets --uid "$LOC_UID" --adam-id 1000 --json >"$T/as.json"
assert_json "$T/as.json" '.[0] | [.assignedCount, .needsSync]' '[0,false]' "counts right, nothing to sync"
mirror_equals_sim "$LOC_UID" "assets assignments"
ok "a late ASSOCIATE retry does not undo a later DISASSOCIATE that vppnotify sent"
