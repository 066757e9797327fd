#!/usr/bin/env bash
# One log line per notification (id, type, uId, outcome, latency), text or JSON, escaped.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
vn_serve_start --log-format json
body_asset_count log-1 $UID1 408709785 3 >"$T/a.json"
vn_post "$T/a.json" "$TOKEN" >/dev/null
vn_post "$T/a.json" "$TOKEN" >/dev/null
# An id with a newline and an ANSI escape must not break or colour the log.
printf '{"notificationId":"evil\\n\\u001b[31mid","notificationType":"TEST_NOTIFICATION","uId":"%s","notification":{}}' $UID1 >"$T/e.json"
assert_eq "$(vn_post "$T/e.json" "$TOKEN")" 200 "odd id accepted"
vn_serve_stop
grep '"msg":"notification"' "$T/serve.log" >"$T/lines" || fail "no notification lines"
assert_eq "$(wc -l <"$T/lines")" 3 "one line per notification"
jq -s -c '.[0] | [.id, .type, .uid, .outcome, .status, (.latency_ms | type)]' "$T/lines" >"$T/first"
assert_json "$T/first" '.' "[\"log-1\",\"ASSET_COUNT\",\"$UID1\",\"applied\",200,\"number\"]" "first line"
jq -s -c '.[1].outcome' "$T/lines" >"$T/second"
assert_json "$T/second" '.' '"duplicate"' "second line"
jq -s -c '.[2].id' "$T/lines" >"$T/third"
assert_json "$T/third" '.' '"evil\n\u001b[31mid"' "control characters escaped in JSON logs"
jq -e . "$T/serve.log" >/dev/null || fail "every JSON log line parses"
ok "JSON log: one parseable line per notification with id, type, uId, outcome, latency"

# The startup line names the HTTP threads: by default one per CPU but the writer's, at least one.
cpus=$(getconf _NPROCESSORS_ONLN)
want=$((cpus > 1 ? cpus - 1 : 1))
[ "$want" = 1 ] && want="1 HTTP thread" || want="$want HTTP threads"
jq -r 'select(.msg | startswith("listening on")) | .msg' "$T/serve.log" >"$T/listening"
assert_contains "$T/listening" "$want)" "the default HTTP threads on $cpus CPUs"
ok "startup line: $want by default on $cpus CPUs"

vn_serve_start
vn_post "$T/e.json" "$TOKEN" >/dev/null
vn_serve_stop
line=$(grep ' notification ' "$T/serve.log" | tail -n1)
case "$line" in
*'id="evil\n\u001b[31mid"'*) ;;
*) fail "text log line not escaped: $line" ;;
esac
[ "$(grep -c $'\x1b' "$T/serve.log")" = 0 ] || fail "raw escape character in the text log"
ok "text log escapes control characters"
