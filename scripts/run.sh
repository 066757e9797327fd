#!/usr/bin/env bash
# `make run`: start vppnotify serve on 127.0.0.1:8080 (VPPNOTIFY_LISTEN to change it; port 0
# takes any free port) with the SQLite database var/vppnotify.db and a demo location, and once
# it listens, print how to talk to it: a curl that posts a TEST_NOTIFICATION, the command that
# shows it arrived, and how to post all of Apple's examples.
#
# serve runs in the foreground of this script: Ctrl-C or SIGTERM (to this script or to serve's
# pid, printed) stops it gracefully, and the script's exit status is serve's.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/src/cli/vppnotify
DB=var/vppnotify.db
TOKEN_FILE=var/demo.token
READY=var/serve.ready
DEMO_UID=2049025000431439 # the uId of Apple's example notifications (tests/fixtures/seed)
LISTEN=${VPPNOTIFY_LISTEN:-127.0.0.1:8080}

mkdir -p var
chmod 700 var
if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$TOKEN_FILE")
    fresh_token=1
fi
if [ ! -e "$DB" ] || ! "$BIN" location list --db "$DB" --uid "$DEMO_UID" --json 2>/dev/null |
    grep -q '"uId"'; then
    "$BIN" location add --db "$DB" --uid "$DEMO_UID" --name demo --token-file "$TOKEN_FILE"
elif [ "${fresh_token:-0}" = 1 ]; then
    "$BIN" location rotate-token --db "$DB" --uid "$DEMO_UID" --grace 0s --token-file "$TOKEN_FILE"
fi

rm -f "$READY"
"$BIN" serve --db "$DB" --listen "$LISTEN" --ready-file "$READY" &
pid=$!
signalled=0
stop() {
    signalled=1
    kill -TERM "$pid" 2>/dev/null || true
}
trap stop TERM INT HUP

# Wait until serve listens (it writes the real address to $READY), or has exited.
until [ -s "$READY" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rc=0
        wait "$pid" || rc=$?
        echo "make run: vppnotify serve stopped before it listened (exit $rc); see above" >&2
        exit "$rc"
    fi
    sleep 0.1
done
ADDR=$(head -n1 "$READY")
URL=http://$ADDR

cat <<EOT

vppnotify serve is running (pid $pid) on $URL, database $DB, demo location $DEMO_UID.
Its notification token is in $TOKEN_FILE (mode 0600). In another terminal, in $(pwd):

  # post a TEST_NOTIFICATION as Apple would
  curl -sS $URL/notifications -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer \$(cat $TOKEN_FILE)" \\
    -d "{\"notificationId\":\"demo-\$(date +%s%N)\",\"notificationType\":\"TEST_NOTIFICATION\",\"uId\":\"$DEMO_UID\",\"notification\":{}}"

  # see that it arrived
  $BIN notifications --db $DB
  $BIN location list --db $DB

  # post all of Apple's example notifications, then look at the mirror (README.md, Quick start,
  # says what each one does to it)
  for f in tests/fixtures/seed/*.json; do curl -sS $URL/notifications \\
    -H 'Content-Type: application/json' -H "Authorization: Bearer \$(cat $TOKEN_FILE)" \\
    --data-binary @\$f; echo; done
  $BIN assets --db $DB
  $BIN users --db $DB
  $BIN events --db $DB

Stop with Ctrl-C (in-flight notifications are finished first). 'make demo' shows the whole loop,
with vppsim playing Apple's service.

EOT

# wait returns early (status > 128) when a trapped signal arrives: then wait again, for
# serve's own exit status.
for ((;;)); do
    signalled=0
    rc=0
    wait "$pid" || rc=$?
    [ "$signalled" = 1 ] && [ "$rc" -gt 128 ] || break
done
exit "$rc"
