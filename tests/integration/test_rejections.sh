#!/usr/bin/env bash
# Rejected requests (issue 8 item 4): every 401 and 403 is recorded with its time, the client's
# address, the uId claimed (403: the envelope's) and the reason; `vppnotify rejections` lists
# them (table, --json, --since, --limit); a flood is summed up, not written one row each, its
# log lines are capped, and the table keeps at most --rejections-max rows.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
UID2=1111111111111111
T1=$(cat "$(vn_new_location $UID1 first)")
T2=$(cat "$(vn_new_location $UID2 second)")
vn_serve_start --trusted-proxy 127.0.0.2

post() { # post AUTH-HEADER-VALUE [BODY-FILE]: prints the status
    local auth=()
    [ -z "$1" ] || auth=(-H "Authorization: $1")
    curl -sS -o /dev/null -w '%{http_code}' -X POST "$VN_URL/notifications" \
        -H 'Content-Type: application/json' "${auth[@]}" --data-binary "@${2:-$T/a.json}"
}
body_asset_count rj-1 $UID1 9 1 >"$T/a.json"
assert_eq "$(post '')" 401 "no Authorization"
assert_eq "$(post "Basic $T1")" 401 "another scheme"
for i in 1 2 3; do assert_eq "$(post 'Bearer not-a-token-of-ours')" 401 "unknown token $i"; done
assert_eq "$(post "Bearer $T2")" 403 "the token of location 2, the uId of location 1"
assert_eq "$(post "Bearer $T1")" 200 "the right token"

# by_reason: {reason: total count} of what `rejections --json` lists.
by_reason() {
    vn_cli rejections --json | jq -c 'group_by(.reason) | map({(.[0].reason): (map(.count) | add)}) | add'
}
recorded() { [ "$(by_reason)" = "$1" ]; }
want='{"malformed Authorization":1,"missing Authorization":1,"uId of another location":1,"unknown token":3}'
wait_for 10 recorded "$want" || fail "rejections recorded: $(by_reason)"
vn_cli rejections --json >"$T/r.json"
assert_json "$T/r.json" '[.[] | select(.status == 403) | {remote, claimedUId, tokenUId}]' \
    "[{\"remote\":\"127.0.0.1\",\"claimedUId\":\"$UID1\",\"tokenUId\":\"$UID2\"}]" "the 403 row"
assert_json "$T/r.json" '[.[] | select(.status == 401) | .claimedUId] | unique' '[null]' \
    "a 401 claims no uId (its body was not read)"
assert_json "$T/r.json" '[.[] | .lastAt | test("^20[0-9-]+T[0-9:.]+Z$")] | all' 'true' "times"
ok "401s and the 403 recorded with address, reason, claimed uId and the token's location"

# The table, --limit, --since.
vn_cli rejections >"$T/table"
head -n1 "$T/table" | grep -q 'lastAt.*remote.*status.*reason.*claimedUId.*count' ||
    fail "table header: $(head -n1 "$T/table")"
assert_eq "$(vn_cli rejections --limit 1 --json | jq length)" 1 "--limit 1"
assert_eq "$(vn_cli rejections --since 1h --json | jq 'map(.count) | add')" 6 "--since 1h"
assert_eq "$(vn_cli rejections --since 2099-01-01T00:00:00Z --json | jq length)" 0 "--since later"
rc=0
vn_cli rejections --since yesterday >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "a --since that is neither a time nor a duration"
assert_contains "$T/err" "--since 'yesterday'" "the value is quoted"
ok "vppnotify rejections: table, --json, --limit, --since"

# A flood: 300 wrong tokens from 30 clients behind the trusted proxy. Rows are sums (one per
# client and reason per second), log lines are capped, every rejection is counted.
: >"$T/cfg"
for i in $(seq 300); do
    printf 'url = "%s/notifications"\nrequest = "POST"\ninterface = "127.0.0.2"\nheader = "Authorization: Bearer wrong-%d"\nheader = "X-Forwarded-For: 198.51.100.%d"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
        "$VN_URL" "$i" $((i % 30 + 1)) >>"$T/cfg"
    [ "$i" -lt 300 ] && echo next >>"$T/cfg"
done
curl -sS --no-progress-meter --parallel --parallel-max 16 -K "$T/cfg" >"$T/codes"
assert_eq "$(grep -c '^401$' "$T/codes")" 300 "300 answered 401"
flood_total() { vn_cli rejections --json | jq '[.[] | select(.remote | startswith("198.51.100.")) | .count] | add // 0'; }
counted() { [ "$(flood_total)" -eq 300 ]; }
wait_for 10 counted || fail "the flood counted $(flood_total) of 300"
rows=$(vn_cli rejections --json | jq '[.[] | select(.remote | startswith("198.51.100."))] | length')
[ "$rows" -ge 30 ] && [ "$rows" -lt 300 ] || fail "$rows rows for 300 rejections from 30 clients"
lines=$(grep -c 'request rejected status=401' "$T/serve.log")
[ "$lines" -le 20 ] || fail "$lines log lines of 401s within 10 s (at most 20)"
ok "300 rejections from 30 clients: $rows rows, $lines log lines"
vn_serve_stop
assert_contains "$T/serve.log" "rejected requests: 306 seen, 306 recorded" "the stop summary"

# --rejections-max: the oldest rows go.
vn_serve_start --trusted-proxy 127.0.0.2 --rejections-max 5
for i in $(seq 12); do
    curl -sS -o /dev/null --interface 127.0.0.2 -X POST "$VN_URL/notifications" \
        -H "X-Forwarded-For: 203.0.113.$i" -H 'Authorization: Bearer nope'
done
newest_kept() { [ "$(vn_cli rejections --limit 1 --json | jq -r '.[0].remote')" = 203.0.113.12 ]; }
wait_for 10 newest_kept || fail "the newest rejection was not recorded"
assert_eq "$(vn_cli rejections --json | jq length)" 5 "rows kept with --rejections-max 5"
vn_serve_stop
ok "--rejections-max keeps the newest rows"
