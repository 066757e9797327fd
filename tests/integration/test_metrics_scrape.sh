#!/usr/bin/env bash
# GET /metrics on the API listener after known traffic: promtool check metrics accepts the
# text, and every counter and gauge equals what was sent (contract section 10).
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
UID2=2049025000431440
TOKEN=$(cat "$(vn_new_location $UID1)")
vn_new_location $UID2 >/dev/null
vn_cli api-key add --name prometheus --scope read >"$T/key" 2>/dev/null || fail "api-key add"
KEY=$(cat "$T/key")

vn_serve_start
# 3 applied ASSET_COUNT (+10, +5, -2 on one asset; +7 on another), 1 duplicate, 1 stored
# (unknown type), 1 quarantined (400), 2 unauthorized (401), 1 forbidden (403: uId of
# another location), 1 associate of 2 serials.
body_asset_count m1 $UID1 408709785 10 >"$T/m1.json"
body_asset_count m2 $UID1 408709785 5 >"$T/m2.json"
body_asset_count m3 $UID1 361309726 7 >"$T/m3.json"
body_associate m4 $UID1 ev-1 408709785 SER-1 SER-2 >"$T/m4.json"
printf '{"notificationId":"m5","notificationType":"FUTURE_TYPE","uId":"%s","notification":{}}' $UID1 >"$T/m5.json"
body_asset_count m6 $UID2 408709785 1 >"$T/m6.json"
for f in m1 m2 m3 m4; do assert_eq "$(vn_post "$T/$f.json" "$TOKEN")" 200 "$f"; done
assert_eq "$(vn_post "$T/m1.json" "$TOKEN")" 200 "duplicate of m1"
assert_eq "$(vn_post "$T/m5.json" "$TOKEN")" 202 "unknown type"
echo 'not json' >"$T/bad.json"
assert_eq "$(vn_post "$T/bad.json" "$TOKEN")" 400 "not JSON"
assert_eq "$(vn_post "$T/m1.json" "wrong-token-123456")" 401 "bad token"
assert_eq "$(vn_post "$T/m1.json" "")" 401 "no token"
assert_eq "$(vn_post "$T/m6.json" "$TOKEN")" 403 "another location's uId"

# No key: 401, as every API route.
code=$(curl -sS -o /dev/null -w '%{http_code}' "$VN_API_URL/metrics")
assert_eq "$code" 401 "/metrics without an API key"
code=$(curl -sS -o "$T/metrics.txt" -D "$T/metrics.h" -w '%{http_code}' \
    -H "Authorization: Bearer $KEY" "$VN_API_URL/metrics")
assert_eq "$code" 200 "/metrics with a read key"
assert_contains "$T/metrics.h" "text/plain; version=0.0.4" "the Prometheus text format's content type"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.log" 2>&1 ||
    fail "promtool check metrics: $(cat "$T/promtool.log")"
ok "promtool check metrics accepts the scrape"

# metric LINE-START: the value of the one sample whose line starts with it.
metric() {
    local v
    v=$(awk -v k="$1 " 'index($0, k) == 1 { print $NF }' "$T/metrics.txt")
    [ -n "$v" ] || fail "no sample '$1' in $T/metrics.txt"
    echo "$v"
}
assert_eq "$(metric 'vppnotify_notifications_total{type="ASSET_COUNT",outcome="applied"}')" 3 "ASSET_COUNT applied"
assert_eq "$(metric 'vppnotify_notifications_total{type="ASSET_MANAGEMENT",outcome="applied"}')" 1 "ASSET_MANAGEMENT applied"
assert_eq "$(metric 'vppnotify_notifications_total{type="ASSET_COUNT",outcome="duplicate"}')" 1 "duplicates"
assert_eq "$(metric 'vppnotify_notifications_total{type="other",outcome="stored"}')" 1 "stored"
assert_eq "$(metric 'vppnotify_quarantined_total')" 1 "quarantined"
assert_eq "$(metric 'vppnotify_http_responses_total{code="200"}')" 5 "200 answers"
assert_eq "$(metric 'vppnotify_http_responses_total{code="202"}')" 1 "202 answers"
assert_eq "$(metric 'vppnotify_http_responses_total{code="400"}')" 1 "400 answers"
assert_eq "$(metric 'vppnotify_http_responses_total{code="401"}')" 2 "401 answers"
assert_eq "$(metric 'vppnotify_http_responses_total{code="403"}')" 1 "403 answers"
assert_eq "$(metric 'vppnotify_ingest_latency_seconds_count')" 10 "one latency per notification request"
ok "counters equal the traffic sent (by type, outcome and HTTP status)"

assert_eq "$(metric "vppnotify_licenses_available{uid=\"$UID1\",adam_id=\"408709785\",pricing_param=\"STDQ\"}")" 13 \
    "available: 10 + 5 - 2 assigned"
assert_eq "$(metric "vppnotify_licenses_owned{uid=\"$UID1\",adam_id=\"408709785\",pricing_param=\"STDQ\"}")" 15 "total"
assert_eq "$(metric "vppnotify_licenses_available{uid=\"$UID1\",adam_id=\"361309726\",pricing_param=\"STDQ\"}")" 7 "second asset"
assert_eq "$(metric 'vppnotify_events{state="pending"}')" 0 "no tracked event pending"
assert_eq "$(metric "vppnotify_location_subscribed{uid=\"$UID1\"}")" 0 "not subscribed (no sToken)"
age=$(metric "vppnotify_location_last_notification_age_seconds{uid=\"$UID1\"}")
awk -v a="$age" 'BEGIN { exit !(a >= 0 && a < 3600) }' || fail "age of the last notification: $age"
if grep -q "vppnotify_location_last_notification_age_seconds{uid=\"$UID2\"}" "$T/metrics.txt"; then
    fail "a location without notifications has an age"
fi
ok "gauges from the database: licenses per asset, events, last notification per location"

# /healthz details on the API listener: behind the key, with the locations.
code=$(curl -sS -o /dev/null -w '%{http_code}' "$VN_API_URL/healthz")
assert_eq "$code" 401 "/healthz details without a key"
code=$(curl -sS -o "$T/health.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$VN_API_URL/healthz")
assert_eq "$code" 200 "/healthz details with a read key"
assert_json "$T/health.json" '.status' '"ok"' "health status"
assert_json "$T/health.json" '.applied' '4' "health counters"
assert_json "$T/health.json" '.locations | map(.uId) | sort' "[\"$UID1\",\"$UID2\"]" "health lists the locations"
ok "/healthz details (store, counters, locations) behind the API key"
vn_serve_stop
