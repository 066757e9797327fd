#!/usr/bin/env bash
# `make demo` end to end, as the user reads it (scripts/demo.sh --quick, on this build): vppsim
# and serve start, the simulated location is subscribed through vppnotify, the full sync's
# table, three requests with their eventIds, the notifications applied, the mirror printed
# (tables within 100 columns), what to try next; then both stop cleanly and nothing is left.
source "$(dirname "$0")/lib.sh"

rc=0
TMPDIR=$T timeout 300 bash "$VN_SOURCE_DIR/scripts/demo.sh" --quick >"$T/demo.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { tail -n 40 "$T/demo.out" >&2; fail "make demo --quick exited $rc"; }
out=$T/demo.out

# section ARGS: the output of the shown command "$ vppnotify ARGS" up to the next command or step.
section() {
    awk -v cmd="\$ vppnotify $1" '$0 == cmd { on = 1; next }
        on && (/^\$ / || /^==> / || /^$/) { exit } on' "$out"
}

loc=$(sed -n 's/^location \([0-9]*\); its sToken.*/\1/p' "$out")
[ -n "$loc" ] || fail "no simulated location announced"
assert_contains "$out" "location $loc (Main campus) subscribed: notifications go to http://127.0.0.1:" \
    "subscribed through vppnotify"
section "sync --uid $loc --full" >"$T/sync"
grep -q '^uId  *sync  *table  *fetched  *added  *removed  *changed$' "$T/sync" ||
    fail "the sync prints a table: $(cat "$T/sync")"
grep -q "^$loc  *full  *assets  *2  *2  *0  *0$" "$T/sync" || fail "sync found the 2 assets"
grep -q "^$loc  *full  *users  *2  *2  *0  *0$" "$T/sync" || fail "sync found the 2 users"
events=$(grep -cE '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' "$out")
assert_eq "$events" 3 "eventIds printed by the three requests"
assert_contains "$out" "all 3 events complete; every notification delivered and applied" "settled"

# The mirror: vppsim's numbers after 2 device + 2 user licenses and a purchase of 5 of 10.
section assets >"$T/assets"
grep -q "^$loc  *361309726  *STDQ  *15  *4  *11  *no$" "$T/assets" ||
    fail "assets: 15 total, 4 assigned, 11 available: $(cat "$T/assets")"
grep -q "^$loc  *408709785  *STDQ  *3  *0  *3  *no$" "$T/assets" || fail "assets: the untouched app"
section assignments >"$T/asg"
for who in C02DEMO1 C02DEMO2 alice bob; do
    grep -qE "^$loc  *361309726  *STDQ .*\\b$who\\b" "$T/asg" || fail "assignments: no $who"
done
section users >"$T/users"
grep -q "^$loc  *carol  *carol@school.example  *Associated$" "$T/users" ||
    fail "users: carol accepted her invitation: $(cat "$T/users")"
section events >"$T/events"
[ "$(grep -c "^[0-9a-f-]\{36\}  *$loc  *[A-Z]*  *COMPLETE " "$T/events")" -eq 3 ] ||
    fail "events: three COMPLETE: $(cat "$T/events")"
grep -qE "ASSOCIATE  *COMPLETE  *2  *0$" "$T/events" || fail "events: 2 succeeded, 0 failed"
section notifications >"$T/notes"
for type in TEST_NOTIFICATION ASSET_MANAGEMENT USER_MANAGEMENT USER_ASSOCIATED ASSET_COUNT; do
    grep -qE "  $type  .*  applied$" "$T/notes" || fail "notifications: no $type applied"
done
assert_not_contains "$T/notes" "stored" "every notification applied"
for t in "$T/sync" "$T/assets" "$T/asg" "$T/users" "$T/events" "$T/notes"; do
    awk 'length($0) > 100 { print "wider than 100 columns: " $0; bad = 1 } END { exit bad }' "$t" ||
        fail "tables fit 100 columns ($t)"
done
ok "the loop: subscribe, sync, three requests, their notifications applied, the mirror right"

assert_contains "$out" "==> What to try next" "what to try next"
assert_contains "$out" "vppnotify sync --uid \$LOC" "suggests a sync"
assert_contains "$out" "/_sim/faults" "suggests faults"
dir=$(sed -n 's/^their state: *//p' "$out")
[ -n "$dir" ] && [ ! -e "$dir" ] || fail "the temporary directory '$dir' is left"
assert_contains "$out" "(--quick: stopping vppsim and vppnotify serve)" "stops at the end"
assert_not_contains "$out" "exited with status" "vppsim and serve exit 0 on SIGTERM"
ok "then what to try next; both stopped cleanly, the temporary state removed"
