#!/usr/bin/env bash
# How `serve` stops while a notification waits for the writer (the database locked by another
# process, so the writer is stuck in its transaction's busy wait):
#   1. a second SIGTERM ends the process at once (the first one waits for the writer);
#   2. an error after the HTTP server started (here: the ready file cannot be written) tears
#      down in the same order as a signal: the suspended connection is answered once its
#      job is committed, and only then is the HTTP server freed (it used to be freed first:
#      libmicrohttpd aborts on a daemon stopped with suspended connections);
#   3. clients that gave up while their batch waited: the rest of the batch is answered, and
#      every notification of it has its log line (those of the clients that left too, with
#      unanswered=connection-closed) with no further traffic: an HTTP thread holds the lines of the answers of
#      one batch and writes them in one write (log.h vn_log_hold), and a connection that has
#      gone must end its part of that hold as an answered one does.
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

# logged_once ID: serve.log has exactly one notification line of ID (for wait_for).
logged_once() {
    [ "$(grep -c "notification id=$1 " "$T/serve.log")" = 1 ]
}

# post_in_background URL ID [SECONDS]: POST an ASSET_COUNT (giving up after SECONDS, default
# 60); the status goes to $T/status.ID.
post_in_background() {
    body_asset_count "$2" $UID1 9 1 >"$T/body.$2"
    curl -sS --max-time "${3:-60}" -o "$T/resp.$2" -w '%{http_code}' -X POST "$1/notifications" \
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

# ---- 3. clients that gave up while their batch waited: the rest of the batch is answered ----
# A group commit resumes one connection per HTTP thread (the first of the batch on it), and
# that thread resumes the others when it runs that connection's callbacks (httpd.c): a first
# connection whose client has gone must still lead to every other one of its batch being
# answered. 16 clients give up after a second (posted first, so they lead), 8 wait.
batches0=$(grep -c 'writer: batch of 1 job(s): 1 urgent' "$T/serve.log" || true)
vn_serve_start --log-level debug --db-busy-timeout 60s
db_lock
post_in_background "$VN_URL" lead-0 # the first batch: it waits for the lock, the rest queue
wait_for 10 bash -c "[ \$(grep -c 'writer: batch of 1 job(s): 1 urgent' '$T/serve.log') -gt $batches0 ]" ||
    fail "the first notification never reached the writer"
lead0=$CURL_PID
impatient=()
for i in $(seq 16); do
    post_in_background "$VN_URL" "gone-$i" 1
    impatient+=("$CURL_PID")
done
patient=()
for i in $(seq 8); do
    post_in_background "$VN_URL" "wait-$i"
    patient+=("$CURL_PID")
done
for p in "${impatient[@]}"; do wait "$p" || true; done # each gave up after a second
db_unlock
for p in "$lead0" "${patient[@]}"; do wait "$p" || true; done
for i in 0 $(seq 8); do
    id=$([ "$i" = 0 ] && echo lead-0 || echo "wait-$i")
    assert_eq "$(cat "$T/status.$id")" 200 "the answer to $id, in the batch of clients that left"
    assert_json "$T/resp.$id" '.status' '"applied"' "$id was applied"
done
# Every line of that batch is written with no further request: the answered ones' and those of
# the clients that left (applied all the same: they will send them again).
for id in lead-0 $(seq -f 'wait-%g' 8) $(seq -f 'gone-%g' 16); do
    wait_for 10 logged_once "$id" || fail "no single log line of $id without further traffic"
done
for i in $(seq 16); do
    grep "notification id=gone-$i " "$T/serve.log" | grep -qE 'outcome=applied (status=200|unanswered=connection-closed) ' ||
        fail "the line of gone-$i: $(grep "notification id=gone-$i " "$T/serve.log")"
done
# The HTTP threads still resume their connections afterwards.
: >"$T/after.cfg"
for i in $(seq 24); do
    body_asset_count "after-$i" $UID1 9 1 >"$T/body.after-$i"
    cfg_add "$T/after.cfg" "$VN_URL/notifications" "$T/body.after-$i" "$TOKEN" /dev/null "%{http_code}"
done
curl -sS --no-progress-meter --parallel --parallel-max 24 --max-time 30 -K "$T/after.cfg" >"$T/after.codes"
assert_eq "$(sort "$T/after.codes" | uniq -c | awk '{print $1":"$2}')" "24:200" "24 answers after, all 200"
for i in $(seq 24); do
    wait_for 10 logged_once "after-$i" || fail "no single log line of after-$i without further traffic"
done
# A single notification, alone on its thread: its line too.
body_asset_count single-1 $UID1 9 1 >"$T/body.single-1"
assert_eq "$(vn_post "$T/body.single-1" "$TOKEN")" 200 "a single notification"
wait_for 10 logged_once single-1 || fail "no log line of a single notification"
vn_serve_stop
ok "clients that left while their batch waited: every other connection of it is answered; every line is written"
