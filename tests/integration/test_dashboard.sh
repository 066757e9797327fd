#!/usr/bin/env bash
# The dashboard at / of the API listener in headless Chromium (Debian's chromium, driven by
# puppeteer-core from tests/browser, installed by scripts/deps.sh test): sign in with an API
# key, the numbers of known traffic on the page, no console error, nothing from another
# origin, screenshots at desktop and phone sizes in the build tree, sign out.
source "$(dirname "$0")/lib.sh"

BROWSER_DIR="$VN_SOURCE_DIR/tests/browser"
command -v node >/dev/null || fail "node is missing: scripts/deps.sh test installs it"
[ -x /usr/bin/chromium ] || fail "chromium is missing: scripts/deps.sh test installs it"
[ -d "$BROWSER_DIR/node_modules/puppeteer-core" ] ||
    fail "puppeteer-core is missing: scripts/deps.sh test runs npm ci in tests/browser"

UID1=2049025000431439
TOKEN=$(cat "$(vn_new_location $UID1 Main)")
vn_cli api-key add --name ops-dashboard --scope read >"$T/key" 2>/dev/null || fail "api-key add"

vn_serve_start
body_asset_count d1 $UID1 408709785 20 >"$T/d1.json"
body_asset_count d2 $UID1 361309726 4 >"$T/d2.json"
body_associate d3 $UID1 ev-ok 408709785 SER-1 SER-2 SER-3 SER-4 SER-5 >"$T/d3.json"
body_associate d4 $UID1 ev-ok2 361309726 SER-9 SER-8 SER-7 SER-6 >"$T/d4.json"
printf '{"notificationId":"d5","notificationType":"ASSET_MANAGEMENT","uId":"%s","notification":{"type":"ASSOCIATE","result":"FAILURE","eventId":"ev-failed","assignments":[{"adamId":"408709785","pricingParam":"STDQ","clientUserId":"user1"}],"error":{"errorNumber":9709,"errorMessage":"There are not enough assets available to complete this association."}}}' \
    $UID1 >"$T/d5.json"
for f in d1 d2 d3 d4 d5; do assert_eq "$(vn_post "$T/$f.json" "$TOKEN")" 200 "$f"; done
assert_eq "$(vn_post "$T/d1.json" "$TOKEN")" 200 "a duplicate"
assert_eq "$(vn_post "$T/d1.json" "not-the-token-at-all")" 401 "a bad token"
ok "known traffic sent"
# The rejection is recorded by the writer about a second later: the table shows recorded rows.
recorded_401() { vn_cli rejections --json | grep -q '"status": *401'; }
wait_for 20 recorded_401 ||
    fail "the rejected request was not recorded: $(vn_cli rejections --json 2>&1)"

cat >"$T/expect.json" <<JSON
{
  "tiles": {"applied": 5, "duplicates": 1, "stored": 0, "rejected": 1, "unavailable": 0},
  "licenses": [
    {"adamId": "408709785", "pricingParam": "STDQ", "assigned": 5, "total": 20, "available": 15},
    {"adamId": "361309726", "pricingParam": "STDQ", "assigned": 4, "total": 4, "available": 0}
  ],
  "events": [{"eventId": "ev-failed", "state": "failed", "error": "9709: There are not enough assets"}],
  "location": {"uId": "$UID1", "subscribed": "no"},
  "recent": ["d1", "d2", "d3", "d4", "d5"],
  "rejectedAuth": 1,
  "rejections": [{"remote": "127.0.0.1", "status": "401", "count": "1"}]
}
JSON
VN_API_URL=$VN_API_URL VN_KEY_FILE="$T/key" VN_KEY_NAME=ops-dashboard VN_EXPECT="$T/expect.json" \
    VN_SHOTS="$VN_BUILD_DIR" node "$BROWSER_DIR/dashboard.mjs" >"$T/browser.log" 2>&1 || {
    cat "$T/browser.log"
    fail "the dashboard in Chromium"
}
cat "$T/browser.log"
for f in dashboard-desktop.png dashboard-phone.png; do
    [ -s "$VN_BUILD_DIR/$f" ] || fail "no screenshot $VN_BUILD_DIR/$f"
done
vn_serve_stop
ok "the dashboard shows the traffic in a real browser; screenshots in $VN_BUILD_DIR"
