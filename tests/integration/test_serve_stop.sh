#!/usr/bin/env bash
# How `serve` stops while a notification waits for the writer (the database locked by another
# process, so the writer is stuck in its transaction's busy wait):
#   1. a second SIGTERM ends the process at once (the first one waits for the writer);
#   2. an error after the HTTP server started (here: the ready file cannot be written) tears
#      down in the same order as a signal: the suspended connection is answered once its
#      job is committed, and only then is the HTTP server freed (it used to be freed first:
#      libmicrohttpd aborts on a daemon stopped with suspended connections).
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

# listen_port PID: the TCP port PID listens on (from /proc; no extra tools).
listen_port() {
    local inodes port
    inodes=$(for fd in /proc/"$1"/fd/*; do readlink "$fd"; done 2>/dev/null |
        sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
    [ -n "$inodes" ] || return 1
    port=$(awk -v want=" $inodes " '$4 == "0A" && index(want, " " $10 " ") {
        split($2, a, ":"); print a[2]; exit }' /proc/net/tcp)
    [ -n "$port" ] && echo $((16#$port))
}

# gone PID: the process has exited (a zombie not yet reaped counts as gone).
gone() {
    [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"
}

# post_in_background URL ID: POST an ASSET_COUNT; the status goes to $T/status.ID.
post_in_background() {
    body_asset_count "$2" $UID1 9 1 >"$T/body.$2"
    curl -sS -o "$T/resp.$2" -w '%{http_code}' -X POST "$1/notifications" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
        --data-binary @"$T/body.$2" >"$T/status.$2" 2>/dev/null &
    CURL_PID=$!
}

# ---- 1. a second signal exits at once --------------------------------------------------------
vn_serve_start --log-level debug --db-busy-timeout 60s
db_lock
post_in_background "$VN_URL" sig-1
wait_for 10 grep -q 'writer: batch of 1 job(s): 1 urgent' "$T/serve.log" ||
    fail "the notification never reached the writer"
kill -TERM "$VN_SERVE_PID"
wait_for 10 grep -q 'finishing requests in progress' "$T/serve.log" ||
    fail "serve did not start stopping"
gone "$VN_SERVE_PID" && fail "serve stopped before its writer finished (it waits for the lock)"
kill -TERM "$VN_SERVE_PID"
wait_for 10 gone "$VN_SERVE_PID" ||
    fail "a second SIGTERM did not end serve at once"
rc=0
wait "$VN_SERVE_PID" || rc=$?
assert_eq "$rc" 143 "exit status after the second SIGTERM (killed by it)"
wait "$CURL_PID" || true
case "$(cat "$T/status.sig-1")" in 2*) fail "the notification was acknowledged although never committed" ;; esac
db_unlock
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'map(select(.notificationId == "sig-1")) | length' '0' \
    "nothing of the interrupted batch is stored"
ok "a second SIGTERM exits at once; nothing unanswered was stored"

# ---- 2. an error after start: the suspended connection is answered, then the server freed ----
db_lock
mkdir -p "$T/ready2"             # a directory: renaming the ready file onto it fails
mkfifo "$T/ready2.tmp"           # serve blocks opening it until we read: we know its port then
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --ready-file "$T/ready2" \
    --api-listen off --log-level debug --db-busy-timeout 60s >>"$T/serve2.log" 2>&1 &
pid=$!
VN_PIDS+=("$pid")
wait_for 10 listen_port "$pid" || fail "serve did not listen"
port=$(listen_port "$pid")
post_in_background "http://127.0.0.1:$port" err-1
wait_for 10 grep -q 'writer: batch of 1 job(s): 1 urgent' "$T/serve2.log" ||
    fail "the notification never reached the writer"
cat "$T/ready2.tmp" >/dev/null # serve writes its address, then fails to rename the file
wait_for 10 grep -q 'cannot write ready file' "$T/serve2.log" ||
    fail "serve did not fail on the ready file"
db_unlock # the writer commits; the connection is resumed and answered
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 1 "serve's exit status after the ready-file error (see $T/serve2.log)"
wait "$CURL_PID" || true
assert_eq "$(cat "$T/status.err-1")" 200 "the waiting notification's answer"
assert_json "$T/resp.err-1" '.status' '"applied"' "it was applied"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'map(select(.notificationId == "err-1")) | length' '1' \
    "the acknowledged notification is stored"
ok "an error after start answers the suspended connection before freeing the HTTP server"
