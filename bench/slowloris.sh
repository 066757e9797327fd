#!/usr/bin/env bash
# A large slowloris run against `vppnotify serve` (docs/RELIABILITY.md, "The endpoint under
# abuse"): CONNS slow-header connections from ADDRS loopback addresses, each sending one header
# byte every INTERVAL (under the idle timeout) and reconnecting when closed, for DURATION
# seconds, while a legitimate client POSTs a notification every 0.5 s with a 5 s limit.
#
#   bench/slowloris.sh [SERVE_OPTIONS...]
#
# Environment: VPPNOTIFY (default build/src/cli/vppnotify), VN_ABUSE (build/tests/vn_abuse),
# CONNS (1100), ADDRS (5), INTERVAL (10s), DURATION (40). Prints what the attacker held, what
# the legitimate client got, and the sockets left in CLOSE-WAIT. It measures; it never fails.
set -euo pipefail
cd "$(dirname "$0")/.."

VPPNOTIFY=${VPPNOTIFY:-build/src/cli/vppnotify}
VN_ABUSE=${VN_ABUSE:-build/tests/vn_abuse}
CONNS=${CONNS:-1100}
ADDRS=${ADDRS:-5}
INTERVAL=${INTERVAL:-10s}
DURATION=${DURATION:-40}

T=$(mktemp -d "${TMPDIR:-/tmp}/vn-slowloris.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

(umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$T/token")
VPPNOTIFY_DB="$T/vn.db" "$VPPNOTIFY" location add --uid SLOW --token-file "$T/token" >/dev/null 2>&1
# No integration API: its default is the fixed 127.0.0.1:8090, and the attack is on the endpoint.
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --api-listen off --ready-file "$T/ready" \
    "$@" >"$T/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$T/ready" ] && break; sleep 0.05; done
if [ ! -s "$T/ready" ]; then
    echo "slowloris.sh: serve did not start: $(tail -n 3 "$T/serve.log")" >&2
    exit 1
fi
addr=$(head -n 1 "$T/ready") # the endpoint's address is the ready file's first line
port=${addr##*:}
from=$(seq -s, -f '127.0.0.%g' 2 $((ADDRS + 1)))

"$VN_ABUSE" --connect "$addr" --from "$from" --slow "$CONNS" --interval "$INTERVAL" \
    --duration "${DURATION}s" --reopen --ready-file "$T/attack.ready" >"$T/attack.json" &
apid=$!
pids+=($apid)
for _ in $(seq 600); do [ -s "$T/attack.ready" ] && break; sleep 0.1; done
if [ ! -s "$T/attack.ready" ]; then
    echo "slowloris.sh: the attacker did not start" >&2
    exit 1
fi

ok=0 failed=0 i=0
: >"$T/times"
end=$((SECONDS + DURATION - 5))
while [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    body="{\"notificationId\":\"legit-$i\",\"notificationType\":\"TEST_NOTIFICATION\",\"uId\":\"SLOW\",\"notification\":{}}"
    r=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 -X POST \
        "http://$addr/notifications" -H "Authorization: Bearer $(cat "$T/token")" \
        -H 'Content-Type: application/json' -d "$body" 2>/dev/null || true)
    if [ "${r%% *}" = 200 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    echo "${r#* }" >>"$T/times"
    sleep 0.5
done
wait "$apid" || true
p50=$(sort -g "$T/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
max=$(sort -g "$T/times" | tail -n1)
echo "attacker: $CONNS slow connections from $ADDRS addresses, a byte every $INTERVAL, ${DURATION}s"
echo "attacker: $(cat "$T/attack.json")"
echo "legitimate: $ok answered 200, $failed failed or timed out (5 s), p50 ${p50}s, max ${max}s"
echo "server sockets in CLOSE-WAIT after the attack: $(ss -Htn state close-wait "( sport = :$port )" | wc -l)"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || true
grep -h 'connections since start' "$T/serve.log" | sed 's/^[^ ]* [^ ]* /serve: /' || true
