#!/usr/bin/env bash
# Service Config in serve: read at start once a location talks to Apple, then refreshed every
# --apple-config-refresh even without other traffic; never fetched while no location has an
# sToken (a receiver-only deployment makes no call to Apple).
. "$(dirname "$0")/lib_apple.sh"

apple_start --apple-config-refresh 1s
sleep 2.5
assert_eq "$(sim_count GET /mdm/v2/service/config 200)" 0 "Service Config reads without an sToken"
ok "no call to Apple while no location has an sToken"

apple_location
apple_import
ctl POST /_sim/requests '{"reset":true}' >/dev/null
sleep 3.5
n=$(sim_count GET /mdm/v2/service/config 200)
[ "$n" -ge 2 ] && [ "$n" -le 5 ] ||
    fail "serve read Service Config $n times in 3.5 s with --apple-config-refresh 1s (want 2..5)"
ok "Service Config read at start and refreshed every --apple-config-refresh ($n reads in 3.5 s)"
vn_serve_stop
sim_stop
