#!/usr/bin/env bash
# location rotate-token: the new token works at once, the old one during the grace window
# only; location remove revokes everything.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
OLD=$(cat "$tok")
vn_serve_start --auth-refresh 200ms
body_test r-1 $UID1 >"$T/1.json"
assert_eq "$(vn_post "$T/1.json" "$OLD")" 200 "old token before rotation"

NEW=$(vn_cli location rotate-token --uid $UID1 --grace 3s 2>/dev/null)
[ ${#NEW} -eq 43 ] || fail "rotate-token printed no token"
body_test r-2 $UID1 >"$T/2.json"
assert_eq "$(vn_post "$T/2.json" "$NEW")" 200 "new token at once"
body_test r-3 $UID1 >"$T/3.json"
assert_eq "$(vn_post "$T/3.json" "$OLD")" 200 "old token inside the grace window"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenCount' '2' "two valid tokens during the grace window"
sleep 3.5
body_test r-4 $UID1 >"$T/4.json"
assert_eq "$(vn_post "$T/4.json" "$OLD")" 401 "old token after the grace window"
assert_eq "$(vn_post "$T/4.json" "$NEW")" 200 "new token after the grace window"
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].tokenCount' '1' "one valid token after the grace window"
ok "rotation: new token at once, old one for the grace window only"

# A second rotation drops the oldest token at once, keeps the previous one for its grace.
NEWER=$(vn_cli location rotate-token --uid $UID1 --grace 1h 2>/dev/null)
body_test r-5 $UID1 >"$T/5.json"
assert_eq "$(vn_post "$T/5.json" "$NEWER")" 200 "newest token"
body_test r-6 $UID1 >"$T/6.json"
assert_eq "$(vn_post "$T/6.json" "$NEW")" 200 "previous token in its grace window"

vn_cli location remove --uid $UID1 2>/dev/null
body_test r-7 $UID1 >"$T/7.json"
sleep 0.3
assert_eq "$(vn_post "$T/7.json" "$NEWER")" 401 "token of a removed location"
vn_serve_stop
rc=0
vn_cli location rotate-token --uid nope 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "rotate an unknown location"
assert_contains "$T/err" "no location 'nope'" "clear error"
ok "location remove revokes its tokens; unknown locations are reported"
