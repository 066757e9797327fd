#!/usr/bin/env bash
# SIGHUP (issues 8 and 12): serve survives it, reads its configuration file again and applies
# what may change while serving (log level, limits), names what needs a restart, keeps the
# running configuration when the new file is wrong, and loses no notification meanwhile.
# (The TLS certificate's reload is in test_tls.)
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")
printf 'max-body = 4K\nlog-level = info\n' >"$T/serve.conf"
vn_serve_start --config "$T/serve.conf"

# big ID: a notification of about 6 KB (a padded TEST_NOTIFICATION).
big() {
    local pad
    pad=$(head -c 6000 /dev/zero | tr '\0' 'x')
    printf '{"notificationId":"%s","notificationType":"TEST_NOTIFICATION","uId":"%s","notification":{"pad":"%s"}}' \
        "$1" $UID1 "$pad" >"$T/big.json"
}
big big-1
assert_eq "$(vn_post "$T/big.json" "$TOKEN")" 413 "6 KB over max-body 4K"

# reloaded N: the Nth "reload: applied" line is in the log.
reloaded() { [ "$(grep -c 'reload: applied' "$T/serve.log")" -ge "$1" ]; }

# A stream of notifications runs across the reloads: none may be lost or refused.
: >"$T/cfg"
for i in $(seq 200); do
    body_asset_count "hup-$i" $UID1 4 1 >"$T/h.$i.json"
    cfg_add "$T/cfg" "$VN_URL/notifications?id=hup-$i" "$T/h.$i.json" "$TOKEN" /dev/null "%{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-max 8 -K "$T/cfg" >"$T/codes" 2>&1 &
cpid=$!

printf 'max-body = 8K\nlog-level = debug\nthreads = 3\n' >"$T/serve.conf"
kill -HUP "$VN_SERVE_PID"
wait_for 10 reloaded 1 || fail "no reload logged"
kill -0 "$VN_SERVE_PID" || fail "serve died of SIGHUP"
big big-2
assert_eq "$(vn_post "$T/big.json" "$TOKEN")" 200 "6 KB under the reloaded max-body 8K"
assert_contains "$T/serve.log" "reload: --threads changed; it takes effect at the next start" \
    "a restart-only option is named"
wait_for 10 grep -q ' debug ' "$T/serve.log" || fail "log level debug not applied"
ok "SIGHUP: max-body and log-level applied from the config file; --threads named for a restart"

# A wrong file: nothing changes, serve goes on.
printf 'max-body = lots\n' >"$T/serve.conf"
kill -HUP "$VN_SERVE_PID"
wait_for 10 grep -q "reload: .*max-body.*lots.*nothing changed" "$T/serve.log" ||
    fail "a wrong config file was not reported"
big big-3
assert_eq "$(vn_post "$T/big.json" "$TOKEN")" 200 "max-body still 8K after a refused reload"
for i in 1 2 3; do kill -HUP "$VN_SERVE_PID"; done
kill -0 "$VN_SERVE_PID" || fail "serve died of repeated SIGHUPs"
ok "a wrong config file is reported and the running configuration stays"

wait "$cpid" || true
assert_eq "$(grep -c '^200$' "$T/codes")" 200 "every notification of the stream answered 200"
vn_serve_stop
vn_cli assets --adam-id 4 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' 200 "each applied once"
ok "200 notifications across five SIGHUPs: all acknowledged and applied once; exit status 0"
