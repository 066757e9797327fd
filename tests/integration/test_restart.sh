#!/usr/bin/env bash
# Dedupe is durable: after a restart (clean, and after kill -9) a known id is a duplicate.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
body_asset_count keep-me $UID1 408709785 10 >"$T/a.json"

vn_serve_start
assert_eq "$(vn_post "$T/a.json" "$TOKEN")" 200 "first delivery"
assert_json "$T/resp" '.status' '"applied"' "applied"
vn_serve_stop

vn_serve_start
assert_eq "$(vn_post "$T/a.json" "$TOKEN")" 200 "after a clean restart"
assert_json "$T/resp" '.status' '"duplicate"' "still known after a restart"
kill -9 "$VN_SERVE_PID"
wait "$VN_SERVE_PID" 2>/dev/null || true

vn_serve_start
assert_eq "$(vn_post "$T/a.json" "$TOKEN")" 200 "after kill -9"
assert_json "$T/resp" '.status' '"duplicate"' "still known after kill -9"
vn_serve_stop

vn_cli assets --json >"$T/o.json"
assert_json "$T/o.json" '.[0].totalCount' '10' "applied exactly once across restarts"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" '.[0].duplicates' '2' "both repeats counted"
ok "dedupe survives a restart and kill -9"
