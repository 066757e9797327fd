#!/usr/bin/env bash
# `make demo`: the whole loop on one machine, no Apple account needed. vppsim plays Apple's
# service and vppnotify serve receives its notifications, both on free loopback ports with
# their state in a temporary directory. A simulated school subscribes through vppnotify, which
# syncs what the school owns, assigns licenses, invites a user; the notifications arrive and the
# mirror is printed. Then it says what to try next and keeps both running until Ctrl-C.
#
#   scripts/demo.sh [--quick]
#
# --quick: Apple's minutes scaled down further (vppsim --time-scale 0.01) and stop at the end
# instead of waiting (tests/integration/test_demo.sh). The binaries are taken from
# $VN_BUILD_DIR (default build/). Needs curl and jq (scripts/deps.sh demo).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    -h | --help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo: unknown argument '$a' (expected --quick)" >&2
        exit 2
        ;;
    esac
done

B=$(cd "${VN_BUILD_DIR:-build}" 2>/dev/null && pwd) || B=${VN_BUILD_DIR:-build}
VPPNOTIFY=$B/src/cli/vppnotify
VPPSIM=$B/sim/vppsim
for bin in "$VPPNOTIFY" "$VPPSIM"; do
    [ -x "$bin" ] || { echo "demo: no $bin: run 'make demo' (or 'make build')" >&2; exit 1; }
done
for tool in curl jq; do
    command -v $tool >/dev/null ||
        { echo "demo: needs $tool: run 'make demo' (or scripts/deps.sh demo)" >&2; exit 1; }
done
if [ $quick = 1 ]; then
    scale=0.01 quiet=1s wait_s=60
else
    scale=0.05 quiet=3s wait_s=120
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/vppnotify-demo.XXXXXX")
chmod 700 "$D"
sim_pid= serve_pid=
stop_all() {
    local rc=0 st
    for pid in $serve_pid $sim_pid; do
        kill -TERM "$pid" 2>/dev/null || continue
        st=0
        wait "$pid" || st=$?
        [ $st -eq 0 ] || { echo "demo: pid $pid exited with status $st" >&2; rc=1; }
    done
    serve_pid= sim_pid=
    return $rc
}
cleanup() {
    local rc=$?
    stop_all || rc=1
    if [ $rc -ne 0 ]; then
        echo "demo: failed; logs in $D (vppsim.log, serve.log)" >&2
        tail -n 15 "$D/serve.log" "$D/vppsim.log" >&2 2>/dev/null || true
    else
        rm -rf "$D"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'echo; exit 0' INT TERM

say() { printf '\n==> %s\n' "$*"; }
# run ARGS...: show "$ vppnotify ARGS" and run it (the database and Apple's URL come from the
# environment, as they would in your shell).
# Its output, then its messages (as a terminal would show them; here they are files).
run() {
    local rc=0 line='$ vppnotify' a
    for a in "$@"; do # the command as typed, continued with '\' beyond 100 columns
        if [ $((${#line} + ${#a} + 3)) -gt 100 ]; then
            printf '%s \\\n' "$line"
            line="    $a"
        else
            line+=" $a"
        fi
    done
    printf '%s\n' "$line"
    "$VPPNOTIFY" "$@" >"$D/run.out" 2>"$D/run.err" || rc=$?
    cat "$D/run.out" "$D/run.err"
    return $rc
}
die() {
    echo "demo: $*" >&2
    exit 1
}
# ctl METHOD PATH [BODY]: vppsim's control API; the answer on stdout.
ctl() {
    curl -sS --fail-with-body --max-time 120 -X "$1" "$SIM$2" ${3:+-d "$3"} ||
        die "vppsim $1 $2 failed"
}
# wait_file FILE PID WHAT: until FILE has content, while PID lives (20 s at most).
wait_file() {
    local deadline=$((SECONDS + 20))
    until [ -s "$1" ]; do
        kill -0 "$2" 2>/dev/null || die "$3 exited at start (see $D/${3#* }.log)"
        [ $SECONDS -lt $deadline ] || die "$3 did not start within 20 s"
        sleep 0.05
    done
}

say "Starting vppsim (Apple's service; its delays x$scale) and vppnotify serve"
"$VPPSIM" serve --listen 127.0.0.1:0 --ready-file "$D/sim.addr" --time-scale "$scale" \
    >"$D/vppsim.log" 2>&1 &
sim_pid=$!
wait_file "$D/sim.addr" "$sim_pid" "vppsim"
SIM=http://$(head -n1 "$D/sim.addr")
export VPPNOTIFY_DB=$D/vppnotify.db VPPNOTIFY_APPLE_URL=$SIM/mdm/v2
"$VPPNOTIFY" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --ready-file "$D/serve.addr" \
    --event-quiet "$quiet" --event-poll-interval 1s \
    --sync-full-interval 0 --sync-delta-interval 0 >"$D/serve.log" 2>&1 &
serve_pid=$!
# The commands below: what they print, not their info log lines (serve's are in serve.log).
export VPPNOTIFY_LOG_LEVEL=warn
wait_file "$D/serve.addr" "$serve_pid" "vppnotify serve"
VN=http://$(head -n1 "$D/serve.addr")
cd "$D" # short paths in the commands shown
echo "vppsim:           $SIM   (Apple's API under /mdm/v2, its control API under /_sim)"
echo "vppnotify serve:  $VN   (notifications at /notifications)"
echo "their state:      $D"

say "A school in Apple School Manager: a location, its sToken, 10 licenses of an app, 2 users"
loc=$(ctl POST /_sim/locations '{"orgName":"Demo School District","locationName":"Main campus"}')
LOC=$(jq -r .uId <<<"$loc")
(umask 077 && jq -r .sToken <<<"$loc" >main-campus.vpptoken)
ctl POST /_sim/seed '{"uId":"'"$LOC"'","assets":[{"adamId":"361309726","totalCount":10},
    {"adamId":"408709785","totalCount":3}],"users":[{"clientUserId":"alice","email":
    "alice@school.example"},{"clientUserId":"bob","email":"bob@school.example"}]}' >/dev/null
echo "location $LOC; its sToken, the file an admin downloads: main-campus.vpptoken"

say "Subscribing it through vppnotify (Client Config; vppsim tests the URL with a TEST_NOTIFICATION)"
run location add --stoken-file main-campus.vpptoken --public-url "$VN/notifications" ||
    die "location add --stoken-file failed"

say "A full sync: the mirror learns what the school already owns"
run sync --uid "$LOC" --full || die "sync failed"

say "Requests: licenses for two iPads and two users, and an invitation for a new user"
printf 'carol,carol@school.example\n' >new-users.csv
events=()
# request ARGS...: run a request; each prints its eventId (the last line of stdout).
request() {
    run "$@" || die "'vppnotify $1 $2' failed"
    events+=("$(tail -n1 "$D/run.out")")
}
request assets associate --uid "$LOC" --assets 361309726 --serials C02DEMO1,C02DEMO2
request assets associate --uid "$LOC" --assets 361309726 --client-user-ids alice,bob
request users create --uid "$LOC" --users-file new-users.csv

say "Apple works on them (PENDING), then notifies; vppnotify applies each notification"
curl -sS --max-time $((wait_s + 5)) -X POST "$SIM/_sim/settle?timeout=$wait_s" >/dev/null ||
    die "vppsim did not settle within $wait_s s"
echo "carol accepts her invitation, and the school buys 5 more licenses:"
ctl POST /_sim/users/accept '{"uId":"'"$LOC"'","clientUserIds":["carol"]}' >/dev/null
ctl POST /_sim/purchase '{"uId":"'"$LOC"'","adamId":"361309726","count":5}' >/dev/null
curl -sS --max-time $((wait_s + 5)) -X POST "$SIM/_sim/settle?timeout=$wait_s" >/dev/null ||
    die "vppsim did not settle within $wait_s s"
# Every event is over once vppnotify's tracker has seen it complete (completedAt).
deadline=$((SECONDS + wait_s))
for e in "${events[@]}"; do
    until "$VPPNOTIFY" events --event-id "$e" --json |
        jq -e '.[0].completedAt // empty' >/dev/null; do
        [ $SECONDS -lt $deadline ] || die "event $e not complete after $wait_s s"
        sleep 0.2
    done
done
echo "all ${#events[@]} events complete; every notification delivered and applied"

say "The mirror, as the MDM reads it (tables fit 100 columns; --wide or --json for all)"
run assets
run assignments
run users
run events
run notifications

cat <<EOT

==> What to try next$([ $quick = 1 ] || echo ": both keep running until Ctrl-C; in another terminal")

  export VPPNOTIFY_DB=$VPPNOTIFY_DB
  export VPPNOTIFY_APPLE_URL=$VPPNOTIFY_APPLE_URL
  export SIM=$SIM LOC=$LOC
  alias vppnotify=$VPPNOTIFY

  vppnotify events --wide                          # every column of the tracked events
  vppnotify assets revoke --uid \$LOC --assets 361309726 --serials C02DEMO1
  curl -s -X POST \$SIM/_sim/faults -d '{"drop":0.5,"duplicate":0.3}'  # a bad day at Apple
  vppnotify assets associate --uid \$LOC --assets 408709785 --serials C02DEMO3
  vppnotify notifications; vppnotify events        # duplicates counted, missing ones re-synced
  vppnotify sync --uid \$LOC                        # a delta sync: the drift it repaired
  curl -s "\$SIM/_sim/state?uId=\$LOC" | jq .assets  # vppsim's own view (the oracle)
  vppnotify help                                   # every command ('vppnotify help CMD': one)

  docs/VPPSIM.md: the emulator and its control API; docs/OPERATIONS.md: the same with Apple.
EOT

if [ $quick = 1 ]; then
    echo
    echo "(--quick: stopping vppsim and vppnotify serve)"
    exit 0
fi
echo
echo "vppsim (pid $sim_pid) and vppnotify serve (pid $serve_pid) are running; Ctrl-C stops both."
wait "$serve_pid" || true
