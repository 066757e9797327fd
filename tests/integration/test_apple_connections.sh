#!/usr/bin/env bash
# Connections to Apple are reused: a sync of many pages, the Service Config read included, opens
# one connection and reuses it for every later call (it used to open one per call: a TCP and, at
# Apple, a TLS handshake each time). The sToken never appears in the debug log.
. "$(dirname "$0")/lib_apple.sh"

SIM_ARGS="--page-size 50"
apple_start
apple_location
apple_import
jq -nc --arg u "$LOC_UID" '{uId: $u, assets: [{adamId: "1000", totalCount: 1000}],
  users: [range(200) | {clientUserId: "user\(.)"}],
  assignments: [range(500) | {adamId: "1000", serialNumber: "SN\(.)"}]}' >"$T/seed.json"
seed_file "$T/seed.json"

vn_cli sync --uid "$LOC_UID" --full --log-level debug >/dev/null 2>"$T/sync.log" ||
    fail "full sync: $(tail -n 3 "$T/sync.log")"
calls=$(grep -c 'apple: .* on a .* connection' "$T/sync.log" || true)
new=$(grep -c 'on a new connection' "$T/sync.log" || true)
reused=$(grep -c 'on a reused connection' "$T/sync.log" || true)
[ "$calls" -ge 16 ] || fail "expected at least 16 calls to Apple (pages), saw $calls"
assert_eq "$new" 1 "connections opened for $calls calls"
assert_eq "$reused" $((calls - 1)) "calls on a reused connection"
assert_not_contains "$T/sync.log" "$STOKEN" "the sToken in the debug log"
mirror_equals_sim "$LOC_UID" "assets assignments users"
ok "a sync of $calls calls opened one connection and reused it"
