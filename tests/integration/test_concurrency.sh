#!/usr/bin/env bash
# The same notificationId posted 50 times at once applies exactly once; a burst of distinct
# ids from many connections is applied each exactly once (group commit).
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
# Two HTTP threads whatever the machine (the default on 2 CPUs is one): a group commit's
# connections are then resumed across threads, each thread's first by the writer.
vn_serve_start --threads 2
TOKEN=$(cat "$tok")
# The HTTP threads' event loop: poll by default (tests/CMakeLists.txt runs this test with
# epoll too, and vn_serve_start checks the loop then).
[ -n "${VN_EVENT_LOOP:-}" ] || grep -q "event loop poll, 2 HTTP threads)" "$T/serve.log" ||
    fail "serve does not say it runs the poll event loop (by default) with 2 threads (see $T/serve.log)"

body_asset_count same-id $UID1 408709785 -3 >"$T/same.json"
: >"$T/curl.cfg"
for i in $(seq 50); do
    cfg_add "$T/curl.cfg" "$VN_URL/notifications?try=$i" "$T/same.json" "$TOKEN" "$T/out.$i" "%{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max 50 -K "$T/curl.cfg" >"$T/codes"
assert_eq "$(sort "$T/codes" | uniq -c | awk '{print $1":"$2}')" "50:200" "50 answers, all 200"
applied=$(cat "$T"/out.* | jq -r .status | grep -c '^applied$' || true)
dups=$(cat "$T"/out.* | jq -r .status | grep -c '^duplicate$' || true)
assert_eq "$applied/$dups" "1/49" "applied/duplicate answers"
vn_cli assets --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' '-3' "countDelta applied once"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '[.[] | [.notificationId, .duplicates, .conflicts]]' '[["same-id",49,0]]' "ledger"
ok "50 concurrent deliveries of one id: 1 applied, 49 duplicates"

# 400 distinct notifications over 32 connections; every one applied once.
: >"$T/curl2.cfg"
for i in $(seq 400); do
    body_associate "burst-$i" $UID1 ev-burst 555 "SER$i" >"$T/b.$i.json"
    cfg_add "$T/curl2.cfg" "$VN_URL/notifications?i=$i" "$T/b.$i.json" "$TOKEN" /dev/null "%{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-max 32 -K "$T/curl2.cfg" >"$T/codes2"
assert_eq "$(sort "$T/codes2" | uniq -c | awk '{print $1":"$2}')" "400:200" "400 answers, all 200"
vn_cli assets --adam-id 555 --json >"$T/a.json"
assert_json "$T/a.json" '[.[0].assignedCount, .[0].availableCount]' '[400,-400]' "400 rows counted once"
vn_cli assignments --adam-id 555 --json >"$T/as.json"
assert_json "$T/as.json" 'length' '400' "400 assignments"
vn_cli events --event-id ev-burst --json >"$T/e.json"
assert_json "$T/e.json" '[.[0].notifications, .[0].succeeded]' '[400,400]' "event counters"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'map(select(.state == "applied")) | length' '401' "401 notifications applied"
ok "400 distinct notifications over 32 connections, each applied once"

vn_serve_stop
# Group commit: fewer commits than notifications were needed (logged at shutdown).
commits=$(sed -n 's/.* \([0-9]*\) commits$/\1/p' "$T/serve.log" | tail -n1)
[ -n "$commits" ] || fail "no shutdown summary in the log"
echo "# 451 requests in $commits commits"
