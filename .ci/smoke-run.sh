#!/usr/bin/env bash
# The README's `make run`, checked as a new user would use it (run by .ci/run in a fresh
# Debian root): start it, paste the curl it prints, run the command it prints to see that the
# notification arrived (state `applied`), stop serve with SIGTERM, and require exit status 0.
#
# It listens on free ports (VPPNOTIFY_LISTEN, VPPNOTIFY_API_LISTEN=127.0.0.1:0), not 8080 and
# 8090: CI machines are shared.
# Exit 0 when every step did what it should; the last line says which step failed otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp "${TMPDIR:-/tmp}/smoke-run.XXXXXX")
make_pid=
fail() {
    echo "---- make run output:" >&2
    cat "$log" >&2
    echo "smoke: FAILED: $*" >&2
    # make, run.sh and serve share one process group (setsid below): stop them all.
    [ -z "$make_pid" ] || kill -TERM -- "-$make_pid" 2>/dev/null || true
    exit 1
}

VPPNOTIFY_LISTEN=127.0.0.1:0 VPPNOTIFY_API_LISTEN=127.0.0.1:0 setsid make run >"$log" 2>&1 </dev/null &
make_pid=$!

# make run installs packages and builds first: allow it 15 minutes to get serve listening.
deadline=$((SECONDS + 900))
until grep -q '^vppnotify serve is running (pid [0-9]*)' "$log"; do
    kill -0 "$make_pid" 2>/dev/null || fail "make run exited before serve was running"
    [ $SECONDS -lt $deadline ] || fail "serve not running after 900 s"
    sleep 0.5
done
serve_pid=$(sed -n 's/^vppnotify serve is running (pid \([0-9]*\)).*/\1/p' "$log")
echo "smoke: make run started vppnotify serve (pid $serve_pid) after ${SECONDS}s"

# The curl it prints: from the line after "# post a TEST_NOTIFICATION" to the blank line.
curl_cmd=$(sed -n '/# post a TEST_NOTIFICATION/,/^$/{/^ *#/d;/^$/d;p}' "$log")
[ -n "$curl_cmd" ] || fail "no curl command printed"
answer=$(bash -c "$curl_cmd") || fail "the printed curl failed: $answer"
echo "smoke: the printed curl answered $answer"
case "$answer" in *'"status":"applied"'*) ;; *) fail "curl's answer is not applied: $answer" ;; esac

# The command it prints to see that it arrived: the line after "# see that it arrived".
see_cmd=$(sed -n '/# see that it arrived/{n;s/^ *//;p}' "$log")
[ -n "$see_cmd" ] || fail "no command printed to see the notification"
shown=$(bash -c "$see_cmd" 2>&1) || fail "'$see_cmd' failed"
echo "$shown" | grep -q 'TEST_NOTIFICATION.*applied' ||
    fail "'$see_cmd' does not show the TEST_NOTIFICATION applied: $shown"
echo "smoke: '$see_cmd' shows it applied"

kill -TERM "$serve_pid"
rc=0
wait "$make_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "make run exited with status $rc after SIGTERM to serve"
grep -q 'info stopped: 1 applied' "$log" || fail "serve's last line does not report 1 applied"
echo "smoke: SIGTERM: serve stopped cleanly and make run exited 0"
rm -f "$log"
