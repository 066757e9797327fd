#!/usr/bin/env bash
# serve as a systemd service. It speaks the sd_notify protocol to a service manager
# (Type=notify, WatchdogSec=): READY=1 once listening, WATCHDOG=1 at half the watchdog interval, STATUS= with the last
# minute's rates, STOPPING=1 on SIGTERM. Without $NOTIFY_SOCKET nothing is sent (every other
# test runs that way).
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

"$VN_TOOLS/vn_sdlisten" "$T/notify.sock" "$T/notify.txt" 2>>"$T/sdlisten.log" &
LISTEN_PID=$!
VN_PIDS+=("$LISTEN_PID")
wait_for 10 test -S "$T/notify.sock" || fail "the test's notify socket did not appear"

# A watchdog of 0.6 s: serve must ping every 0.3 s. STATUS= is refreshed every 5 s.
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=600000 vn_serve_start
wait_for 10 grep -q '^READY=1' "$T/notify.txt" || fail "no READY=1 (got: $(cat "$T/notify.txt"))"
assert_contains "$T/notify.txt" "STATUS=listening on $VN_ADDR" "the first STATUS= names the address"
ok "READY=1 once listening, with the address in STATUS="

# Known traffic, then the status line reports it (rates over the last minute > 0).
for i in 1 2 3; do
    body_asset_count "sd-$i" $UID1 408709785 1 >"$T/b$i.json"
    assert_eq "$(vn_post "$T/b$i.json" "$TOKEN")" 200 "notification $i"
done
assert_eq "$(vn_post "$T/b1.json" "wrong-token")" 401 "a bad token"
wait_for 15 grep -Eq 'STATUS=last [0-9]+s: [0-9.]*[1-9][0-9.]*/s applied, [0-9.]+/s duplicate, [0-9.]+/s stored, [0-9.]*[1-9][0-9.]*/s rejected' "$T/notify.txt" ||
    fail "no STATUS= with applied and rejected rates (got: $(grep STATUS "$T/notify.txt" | tail -3))"
ok "STATUS= carries the last minute's rates"

# Watchdog pings keep coming, several per watchdog interval's worth of time.
n0=$(grep -c '^WATCHDOG=1' "$T/notify.txt" || true)
wait_for 10 bash -c "[ \$(grep -c '^WATCHDOG=1' '$T/notify.txt') -ge $((n0 + 4)) ]" ||
    fail "WATCHDOG=1 is not sent regularly (got $(grep -c '^WATCHDOG=1' "$T/notify.txt") pings)"
ok "WATCHDOG=1 keeps coming while serve is healthy"

# systemctl reload: SIGHUP brackets the reload with RELOADING=1 and READY=1; serve lives on.
kill -HUP "$VN_SERVE_PID"
wait_for 10 grep -q '^READY=1 | STATUS=SIGHUP' "$T/notify.txt" || fail "no READY=1 after SIGHUP"
grep -n -e '^RELOADING=1' -e '^READY=1 | STATUS=SIGHUP' "$T/notify.txt" | cut -d: -f1 | tr '\n' ' ' >"$T/order"
read -r reloading ready <"$T/order" || true
[ -n "$reloading" ] && [ -n "$ready" ] && [ "$reloading" -lt "$ready" ] ||
    fail "RELOADING=1 must come before READY=1 (lines: $(cat "$T/order"))"
assert_contains "$T/notify.txt" "MONOTONIC_USEC=" "RELOADING=1 carries MONOTONIC_USEC"
body_asset_count "sd-after-hup" $UID1 408709785 1 >"$T/hup.json"
assert_eq "$(vn_post "$T/hup.json" "$TOKEN")" 200 "serve answers after SIGHUP"
ok "SIGHUP: RELOADING=1 then READY=1, and serve goes on"

vn_serve_stop
assert_contains "$T/notify.txt" "STOPPING=1" "STOPPING=1 on SIGTERM"
ok "STOPPING=1 on the way out"

# Without a watchdog configured, no WATCHDOG=1 at all; READY=1 still.
: >"$T/notify.txt"
NOTIFY_SOCKET="$T/notify.sock" vn_serve_start
wait_for 10 grep -q '^READY=1' "$T/notify.txt" || fail "no READY=1 without a watchdog"
vn_serve_stop
assert_not_contains "$T/notify.txt" "WATCHDOG=1" "no watchdog pings when WatchdogSec= is unset"
ok "no WATCHDOG=1 without a watchdog"

# systemd credentials: with LoadCredential=tls.crt:... and tls.key:..., systemd hands serve a
# private copy in $CREDENTIALS_DIRECTORY (files 0400, owned by the service's user); serve
# serves HTTPS with them when --tls-cert/--tls-key are not given.
mkdir -m 0700 "$T/creds"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/creds/tls.key" -out "$T/creds/tls.crt" \
    >"$T/openssl.log" 2>&1 || fail "openssl could not make a test certificate"
chmod 0400 "$T/creds/tls.key" "$T/creds/tls.crt"
CREDENTIALS_DIRECTORY="$T/creds" VN_SCHEME=https vn_serve_start
code=$(curl -sS -o "$T/h.json" -w '%{http_code}' --cacert "$T/creds/tls.crt" "$VN_URL/healthz")
assert_eq "$code" 200 "HTTPS with the certificate from the credentials directory"
assert_contains "$T/serve.log" "TLS certificate and key from the service's credentials" \
    "serve says where its certificate came from"
vn_serve_stop
ok "TLS certificate and key through LoadCredential= (\$CREDENTIALS_DIRECTORY)"
