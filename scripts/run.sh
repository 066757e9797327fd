#!/usr/bin/env bash
# `make run`: start vppnotify serve on 127.0.0.1:8080 (VPPNOTIFY_LISTEN to change it) with the
# SQLite database var/vppnotify.db and a demo location, after printing how to talk to it.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/src/cli/vppnotify
DB=var/vppnotify.db
TOKEN_FILE=var/demo.token
DEMO_UID=2049025000431439 # the uId of Apple's example notifications (tests/fixtures/seed)
LISTEN=${VPPNOTIFY_LISTEN:-127.0.0.1:8080}

mkdir -p var
chmod 700 var
if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$TOKEN_FILE")
    fresh_token=1
fi
if ! "$BIN" location list --db "$DB" --uid "$DEMO_UID" --json 2>/dev/null | grep -q '"uId"'; then
    "$BIN" location add --db "$DB" --uid "$DEMO_UID" --name demo --token-file "$TOKEN_FILE"
elif [ "${fresh_token:-0}" = 1 ]; then
    "$BIN" location rotate-token --db "$DB" --uid "$DEMO_UID" --grace 0s --token-file "$TOKEN_FILE"
fi

cat <<EOT

vppnotify is starting on http://$LISTEN (database $DB, demo location $DEMO_UID).
Its notification token is in $TOKEN_FILE (mode 0600). In another terminal:

  # post a TEST_NOTIFICATION as Apple would
  curl -sS http://$LISTEN/notifications -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer \$(cat $TOKEN_FILE)" \\
    -d "{\"notificationId\":\"demo-\$(date +%s%N)\",\"notificationType\":\"TEST_NOTIFICATION\",\"uId\":\"$DEMO_UID\",\"notification\":{}}"

  # see that it arrived
  $BIN notifications --db $DB
  $BIN location list --db $DB

  # post all of Apple's example notifications, then look at the mirror
  for f in tests/fixtures/seed/*.json; do curl -sS http://$LISTEN/notifications \\
    -H 'Content-Type: application/json' -H "Authorization: Bearer \$(cat $TOKEN_FILE)" \\
    --data-binary @\$f; echo; done
  $BIN assets --db $DB; $BIN users --db $DB; $BIN events --db $DB

Stop with Ctrl-C (in-flight notifications are finished first).

EOT
exec "$BIN" serve --db "$DB" --listen "$LISTEN"
