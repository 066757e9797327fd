# docs/VPPSIM.md's walk-through runs as written: the shell block after its
# "<!-- walk-through: ... -->" marker, with B pointed at this build, in a temporary directory.
# It must succeed and show what the text says: the TEST_NOTIFICATION answered by
# vppnotify serve, the event COMPLETE, the notifications in vppnotify's mirror, the state.
. "$(dirname "$0")/lib_sim.sh"

awk '/^<!-- walk-through:/ {on = 1; next}
     on && /^```sh$/ {body = 1; next}
     body && /^```$/ {exit}
     body {print}' "$VN_SOURCE_DIR/docs/VPPSIM.md" >"$T/walk.sh"
[ -s "$T/walk.sh" ] || fail "no walk-through block in docs/VPPSIM.md"
head -n1 "$T/walk.sh" | grep -q '^B=build ' || fail "the walk-through does not start with B=build"
sed -i "1s|^B=build |B=$VN_BUILD_DIR |" "$T/walk.sh"

# In a session of its own, so that whatever it started is stopped with it even when it fails
# half-way (its daemons are not in VN_PIDS).
rc=0
(cd "$VN_SOURCE_DIR" && TMPDIR=$T exec setsid timeout 240 bash -euo pipefail "$T/walk.sh") \
    >"$T/walk.log" 2>&1 &
walk=$!
VN_PIDS+=("$walk")
wait "$walk" || rc=$?
kill -9 -- "-$walk" 2>/dev/null || true
[ "$rc" -eq 0 ] || fail "the walk-through failed with status $rc (see $T/walk.log)"
assert_contains "$T/walk.log" '"orgName":"Demo School"' "the sToken decoded"
assert_contains "$T/walk.log" '["TEST_NOTIFICATION",200]' "serve answered the TEST_NOTIFICATION"
assert_contains "$T/walk.log" '{"settled":true}' "settled"
assert_contains "$T/walk.log" '["COMPLETE",3]' "the event completed"
assert_contains "$T/walk.log" '["361309726",15,3]' "vppsim's state: 15 licenses, 3 assigned"
for t in ASSET_MANAGEMENT ASSET_COUNT USER_ASSOCIATED; do
    assert_contains "$T/walk.log" "[\"$t\",1,200]" "$t delivered at the first attempt"
done
grep -Eq 'TEST_NOTIFICATION +[^ ]+ +applied' "$T/walk.log" || fail "vppnotify notifications: no TEST_NOTIFICATION applied"
grep -Eq 'ASSET_MANAGEMENT +[^ ]+ +applied' "$T/walk.log" || fail "vppnotify notifications: no ASSET_MANAGEMENT applied"
grep -Eq 'STDQ +- +C02XYZ' "$T/walk.log" || fail "vppnotify assignments does not show the device"
grep -Eq '361309726 +STDQ +15 +3 +12 ' "$T/walk.log" || fail "vppnotify assets: not 15 licenses, 3 assigned, 12 available"
grep -Eq 'alice .*Associated' "$T/walk.log" || fail "vppnotify users: alice is not Associated"
ok "the walk-through of docs/VPPSIM.md"
