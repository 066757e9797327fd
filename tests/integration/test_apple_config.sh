#!/usr/bin/env bash
# Service Config in serve: read at start once a location talks to Apple, then refreshed every
# --apple-config-refresh even without other traffic; never fetched while no location has an
# sToken (a receiver-only deployment makes no call to Apple).
. "$(dirname "$0")/lib_apple.sh"

# in_health N: the tracker thread's snapshot of the locations (refreshed each cycle right
# before it decides whether to read Service Config) holds N of them (its debug line; the
# public /healthz no longer lists locations).
in_health() {
    grep -q "tracker: health snapshot of $1 location(s)" "$T/serve.log"
}

# config_reads_at_least N: vppsim answered at least N Service Config reads.
config_reads_at_least() {
    [ "$(sim_count GET /mdm/v2/service/config 200)" -ge "$1" ]
}

apple_start --apple-config-refresh 1s --log-level debug
# Two locations without an sToken, the second added once serve's snapshot shows the first:
# when it shows the second, a whole cycle ran with locations and no sToken.
vn_new_location 2049025000000001 >/dev/null
wait_for 10 in_health 1 || fail "the snapshot never held the first location"
vn_new_location 2049025000000002 >/dev/null
wait_for 10 in_health 2 || fail "the snapshot never held the second location"
assert_eq "$(sim_count GET /mdm/v2/service/config 200)" 0 "Service Config reads without an sToken"
ok "no call to Apple while no location has an sToken"

apple_location
apple_import
ctl POST /_sim/requests '{"reset":true}' >/dev/null
# Read at start, then again with no other traffic: refreshed by serve itself.
wait_for 20 config_reads_at_least 2 ||
    fail "serve did not read Service Config again by itself (--apple-config-refresh 1s)"
ok "Service Config read at start and refreshed every --apple-config-refresh, without other traffic"
vn_serve_stop
sim_stop
