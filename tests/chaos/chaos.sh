#!/usr/bin/env bash
# `make chaos` (and, with --short, a bounded version in `make test`): contract §3.1's
# convergence under faults. Several vppsim locations get thousands of requests over tens of
# thousands of items while vppsim duplicates, drops, reorders and delays notifications and
# answers 429/503, serve and vppsim are killed with SIGKILL and restarted at random moments,
# and syncs run meanwhile. When traffic stops and the tracker, the verification of keys and a
# sync have run, the mirror must equal vppsim's state dump exactly, table by table, with no
# asset left needsSync and no key waiting for verification. It prints what it did and found.
#
# Reproducible: CHAOS_SEED=N (printed at the start) gives the same operations and faults in
# the same order (vppsim gets --seed too); timing still varies between runs.
# Knobs: CHAOS_SEED, CHAOS_OPS, CHAOS_LOCATIONS, CHAOS_WORKERS, CHAOS_MAX_ITEMS.
#
# CHAOS_BACKEND=postgresql (`make chaos BACKEND=postgresql`): contract §9 under the same load.
# A throwaway cluster (tests/pg/cluster.sh) and CHAOS_INSTANCES (3) serve instances on one
# schema; the locations' notification URLs are spread over the instances, the leases move the
# trackers and syncs (--lease-ttl 4s) when a holder is killed, and PostgreSQL itself is
# crashed (immediate stop) and restarted among the faults.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${VN_SOURCE_DIR:=$(cd "$HERE/../.." && pwd)}"
: "${VN_BUILD_DIR:=$VN_SOURCE_DIR/build}"
export VN_SOURCE_DIR VN_BUILD_DIR
SHORT=0
[ "${1:-}" = --short ] && SHORT=1

if [ $SHORT = 1 ]; then
    OPS=${CHAOS_OPS:-160}
    NLOC=${CHAOS_LOCATIONS:-2}
    MAXI=${CHAOS_MAX_ITEMS:-25}
else
    OPS=${CHAOS_OPS:-3000}
    NLOC=${CHAOS_LOCATIONS:-4}
    MAXI=${CHAOS_MAX_ITEMS:-40}
fi
WORKERS=${CHAOS_WORKERS:-4}
BACKEND=${CHAOS_BACKEND:-sqlite}
case $BACKEND in
sqlite) NINST=1 ;;
postgresql) NINST=${CHAOS_INSTANCES:-3} ;;
*) echo "chaos: CHAOS_BACKEND must be sqlite or postgresql, got '$BACKEND'" >&2; exit 2 ;;
esac
[[ "$NINST" =~ ^[1-9]$ ]] || { echo "chaos: CHAOS_INSTANCES must be 1..9, got '$NINST'" >&2; exit 2; }
SEED=${CHAOS_SEED:-$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 32767 + 1))}
[[ "$SEED" =~ ^[0-9]+$ ]] && [ "$SEED" -ge 1 ] && [ "$SEED" -le 32767 ] ||
    { echo "chaos: CHAOS_SEED must be 1..32767, got '$SEED'" >&2; exit 2; }
POOL=$((MAXI * 40))    # serial numbers and users per location
SIM_SCALE=0.01          # Apple's 1-5 minutes of retries become 0.6-3 s

CLUSTER="$VN_SOURCE_DIR/tests/pg/cluster.sh"
if [ "$BACKEND" = postgresql ]; then
    PG=$(mktemp -d "${TMPDIR:-/tmp}/vn-chaos-pg.XXXXXX") # not in $T: the server's user reaches it
    VN_TEST_PG=$(bash "$CLUSTER" start "$PG") || { echo "chaos: no PostgreSQL cluster" >&2; exit 1; }
    export VN_TEST_PG # lib.sh makes the store a schema of it
fi
# shellcheck source=../integration/lib_apple.sh
. "$VN_SOURCE_DIR/tests/integration/lib_apple.sh"
if [ "$BACKEND" = postgresql ]; then
    trap 'bash "$CLUSTER" stop "$PG" >/dev/null 2>&1 || true; rm -rf "$PG"; vn_cleanup' EXIT
fi
VN_TEST_NAME=chaos
RANDOM=$SEED
started=$SECONDS
echo "chaos: seed $SEED (CHAOS_SEED=$SEED reproduces it), $OPS operations on $NLOC locations," \
    "$WORKERS at a time, up to $MAXI items each; $BACKEND, $NINST instance(s) of serve"

# ---- vppsim and serve on ports that survive their restarts ---------------------------------
SIMST="$T/sim.state"
sim_up() { # [PORT]
    rm -f "$T/sim.ready"
    "$VPPSIM" serve --listen "127.0.0.1:${1:-0}" --ready-file "$T/sim.ready" --state "$SIMST" \
        --time-scale $SIM_SCALE --seed "$SEED" --limit maxRequestPerSecond=100000 \
        --event-delay 0 >>"$T/sim.log" 2>&1 &
    SIM_PID=$!
    VN_PIDS+=("$SIM_PID")
    wait_for 20 test -s "$T/sim.ready" || fail "vppsim did not start (see $T/sim.log)"
    SIM="http://$(head -n1 "$T/sim.ready")"
    SIM_PORT=${SIM##*:}
}
# --apple-timeout 5s: a request of a killed instance keeps its location's fence (docs/
# ARCHITECTURE.md, "The request fence") at most 7 s, not the default 32 s.
SERVE_ARGS=(--sync-full-interval 20s --sync-delta-interval 7s --event-quiet 2s
    --event-poll-interval 1s --event-stall 30s --apple-backoff 200ms --apple-retry-max 2s
    --apple-timeout 5s)
[ "$BACKEND" = sqlite ] || SERVE_ARGS+=(--lease-ttl 4s)
declare -a SERVE_PID SERVE_PORT SERVE_URL
serve_up() { # N [PORT]: instance N (1..NINST); its log is $T/serve.N.log
    local n=$1
    rm -f "$T/ready.$n"
    # --api-listen on port 0: its default, the fixed 127.0.0.1:8090, is taken when two suites run.
    "$VPPNOTIFY" serve --db "$VN_DB" --listen "127.0.0.1:${2:-0}" --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$n" "${SERVE_ARGS[@]}" >>"$T/serve.$n.log" 2>&1 &
    SERVE_PID[$n]=$!
    VN_PIDS+=("${SERVE_PID[$n]}")
    wait_for 20 test -s "$T/ready.$n" || return 1
    SERVE_URL[$n]="http://$(head -n1 "$T/ready.$n")"
    SERVE_PORT[$n]=${SERVE_URL[$n]##*:}
}

sim_up
export VPPNOTIFY_APPLE_URL="$SIM/mdm/v2"
for i in $(seq "$NINST"); do
    serve_up "$i" || fail "serve instance $i did not start (see $T/serve.$i.log)"
done

# ---- the organizations -----------------------------------------------------------------
LOCS=()
for l in $(seq "$NLOC"); do
    sim_location '{"subscriptionManagement":true}'
    LOCS+=("$LOC_UID")
    STF="$T/stoken.$LOC_UID"
    (umask 077 && printf '%s\n' "$STOKEN" >"$STF")
    # The locations' notifications go to the instances in turn.
    vn_cli location add --stoken-file "$STF" \
        --public-url "${SERVE_URL[$(((l - 1) % NINST + 1))]}/notifications" \
        >/dev/null 2>"$T/err" || fail "subscribe: $(cat "$T/err")"
    jq -nc --arg u "$LOC_UID" --argjson pool "$POOL" '{uId: $u,
      assets: [range(5) | {adamId: "\(1000 + .)", totalCount: ($pool * 2)}],
      users: [range($pool / 2) | {clientUserId: "u\(.)"}
        + (if . % 3 == 0 then {managedAppleId: "u\(.)@example.com"} else {} end)],
      assignments: [range($pool / 4) | {adamId: "\(1000 + (. % 5))", serialNumber: "S\(.)"}],
      subscriptions: [range(2) | {adamId: (7000 + .), total: {renewing: 50, expiring: 20}}]}' \
        >"$T/seed.json"
    seed_file "$T/seed.json"
    vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>&1 || fail "first sync of $LOC_UID"
done

# ---- traffic ---------------------------------------------------------------------------
declare -A DONE FAILED
KILLS_SERVE=0
KILLS_SIM=0
CRASHES_PG=0
FAULTS=()
CLI_ARGS=(--apple-backoff 200ms --apple-retry-max 2s --apple-attempts 8 --apple-timeout 5s)

pick_list() { # PREFIX N POOLSIZE [STEP]: a comma-separated list of N random names
    local out="" i step=${4:-1}
    for ((i = 0; i < $2; i++)); do out+="${out:+,}$1$((RANDOM % $3 * step))"; done
    echo "$out"
}

# One operation, chosen and parameterized from $RANDOM in this shell, run in the background.
op() {
    local n=$1 loc=${LOCS[$((RANDOM % NLOC))]} r=$((RANDOM % 100)) k=$((1 + RANDOM % MAXI))
    local adam=$((1000 + RANDOM % 5)) sub=$((7000 + RANDOM % 2)) kind args
    if [ $r -lt 30 ]; then
        kind=associate
        args=(assets associate --uid "$loc" --assets "$adam" --serials "$(pick_list S "$k" "$POOL")")
    elif [ $r -lt 48 ]; then
        kind=disassociate
        args=(assets disassociate --uid "$loc" --assets "$adam" --serials "$(pick_list S "$k" "$POOL")")
    elif [ $r -lt 53 ]; then
        kind=revoke
        args=(assets revoke --uid "$loc" --serials "$(pick_list S $((1 + k / 4)) "$POOL")")
    elif [ $r -lt 58 ]; then
        kind=associate-users
        args=(assets associate --uid "$loc" --assets "$adam" --client-user-ids "$(pick_list u $((1 + k / 4)) $((POOL / 2)))")
    elif [ $r -lt 66 ]; then
        kind=users-create
        args=(users create --uid "$loc" --client-user-ids "$(pick_list n $((1 + k / 4)) "$POOL")")
    elif [ $r -lt 70 ]; then
        kind=users-retire
        args=(users retire --uid "$loc" --client-user-ids "$(pick_list n $((1 + k / 8)) "$POOL")")
    elif [ $r -lt 77 ]; then
        kind=seats-associate
        args=(subscriptions associate --uid "$loc" --adam-ids "$sub" --client-user-ids "$(pick_list u $((1 + k / 8)) 40 3)")
        [ $((RANDOM % 2)) = 0 ] && args+=(--renewing)
    elif [ $r -lt 82 ]; then
        kind=seats-disassociate
        args=(subscriptions disassociate --uid "$loc" --adam-ids "$sub" --client-user-ids "$(pick_list u $((1 + k / 8)) 40 3)")
    elif [ $r -lt 89 ]; then
        kind=purchase
        args=(POST /_sim/purchase "{\"uId\":\"$loc\",\"adamId\":\"$adam\",\"count\":$k}")
    elif [ $r -lt 91 ]; then
        kind=accept
        args=(POST /_sim/users/accept "{\"uId\":\"$loc\",\"clientUserIds\":[\"u$((RANDOM % (POOL / 2)))\"]}")
    elif [ $r -lt 93 ]; then
        kind=seat-purchase
        args=(POST /_sim/subscriptions/purchase "{\"uId\":\"$loc\",\"adamId\":$sub,\"renewing\":$((k % 5)),\"expiring\":$((k % 3))}")
    elif [ $r -lt 94 ]; then
        kind=period-end
        args=(POST /_sim/period-end "{\"uId\":\"$loc\",\"adamId\":$sub}")
    else
        kind=sync
        args=(sync --uid "$loc")
        [ $((RANDOM % 3)) = 0 ] && args+=(--full)
    fi
    # A failed request leaves one line in $T/reasons: "KIND: why" (the CLI's own error line,
    # "vppnotify: ...", else its last line on stderr without the log's time stamp).
    (
        local e="$T/op.$n.err" rc=0 why
        if [ "${args[0]}" = POST ]; then
            st=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -X POST "$SIM${args[1]}" \
                -H 'Content-Type: application/json' --data-binary "${args[2]}" 2>"$e") || st=000
            [ "$st" = 200 ] || [ "$st" = 409 ] || { rc=1; echo "vppsim answered HTTP $st" >>"$e"; }
        else
            vn_cli "${args[@]}" "${CLI_ARGS[@]}" >/dev/null 2>"$e" || rc=$?
        fi
        if [ $rc = 0 ]; then
            echo "$kind ok $k" >>"$T/ops.log"
        else
            why=$(grep -m1 '^vppnotify: ' "$e" || grep -v '^[[:space:]]*$' "$e" | tail -n1 || true)
            why=$(sed -E 's/^vppnotify: //; s/^[0-9]{4}-[0-9-]+T[0-9:.]+Z //' <<<"$why")
            echo "$kind: ${why:-exit status $rc, nothing on stderr}" >>"$T/reasons"
            echo "$kind failed $k" >>"$T/ops.log"
        fi
        cat "$e" >>"$T/ops.err"
        rm -f "$e"
    ) &
}

# A fault, now and then: notification faults change, API faults, kills.
fault() {
    local r=$((RANDOM % 100))
    if [ $r -lt 40 ]; then
        local f
        f=$(printf '{"duplicate":0.%02d,"drop":0.%02d,"reorder":0.%02d,"delay":0.%02d,"delayByMs":%d}' \
            $((RANDOM % 20)) $((RANDOM % 10)) $((RANDOM % 40)) $((RANDOM % 20)) $((1000 + RANDOM % 4000)))
        curl -fsS -o /dev/null -X POST "$SIM/_sim/faults" -d "$f" 2>/dev/null && FAULTS+=("notifications $f")
    elif [ $r -lt 60 ]; then
        local code=$([ $((RANDOM % 2)) = 0 ] && echo 429 || echo 503) c=$((1 + RANDOM % 6))
        curl -fsS -o /dev/null -X POST "$SIM/_sim/faults" \
            -d "{\"http$code\":{\"count\":$c,\"retryAfter\":1}}" 2>/dev/null && FAULTS+=("$c x HTTP $code")
    elif [ $r -lt 80 ]; then
        local i=$((1 + RANDOM % NINST))
        kill -9 "${SERVE_PID[$i]}" 2>/dev/null || true
        wait "${SERVE_PID[$i]}" 2>/dev/null || true
        KILLS_SERVE=$((KILLS_SERVE + 1))
        serve_up "$i" "${SERVE_PORT[$i]}" ||
            fail "serve instance $i did not come back on port ${SERVE_PORT[$i]} (see $T/serve.$i.log)"
    elif [ "$BACKEND" = postgresql ] && [ $r -lt 90 ]; then
        # The database crashes (no shutdown checkpoint) and comes back: serve answers 503 and
        # reconnects meanwhile, the CLI's requests fail or retry; nothing restarts serve.
        bash "$CLUSTER" kill "$PG" || fail "PostgreSQL did not stop"
        sleep 0.$((RANDOM % 10))
        bash "$CLUSTER" restart "$PG" || fail "PostgreSQL did not start again"
        CRASHES_PG=$((CRASHES_PG + 1))
    else
        kill -9 "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        KILLS_SIM=$((KILLS_SIM + 1))
        sim_up "$SIM_PORT"
        [ "$SIM" = "${VPPNOTIFY_APPLE_URL%/mdm/v2}" ] || fail "vppsim came back on another port"
    fi
}

# wait_ops: wait for the operations in flight (not for serve and vppsim: bare `wait` would).
wait_ops() {
    local p
    p=$(jobs -p | grep -vxF -e "$SIM_PID" $(printf -- '-e %s ' "${SERVE_PID[@]}") || true)
    [ -z "$p" ] || wait $p 2>/dev/null || true
}

: >"$T/ops.log"
: >"$T/reasons"
for n in $(seq "$OPS"); do
    op "$n"
    [ $((n % WORKERS)) != 0 ] || wait_ops
    [ $((RANDOM % (SHORT ? 20 : 60))) != 0 ] || fault
done
wait_ops
traffic_s=$((SECONDS - started))

# ---- quiet: faults off, deliveries done, tracker and verification finished ----------------
curl -fsS -o /dev/null -X POST "$SIM/_sim/faults" -d '{"reset":true}'
quiet_at=$SECONDS
settle
q() { db_sql "$1"; }
tracker_done() {
    [ "$(q "SELECT count(*) FROM event_tracking WHERE state = 'tracking' AND NOT stalled")" = 0 ] &&
        [ "$(q "SELECT count(*) FROM mirror_verify")" = 0 ]
}
wait_for 240 tracker_done || echo "chaos: tracking or verification still busy after 240 s"

diffs() { # the tables where the mirror differs from vppsim, per location
    local out="" l t
    for l in "${LOCS[@]}"; do
        for t in assets assignments users subscriptions subscription-assignments; do
            (mirror_equals_sim "$l" "$t") >/dev/null 2>"$T/diff.$l.$t" || out+=" $l:$t"
        done
    done
    echo "$out"
}
before_sync=$(diffs)
for l in "${LOCS[@]}"; do
    vn_cli sync --uid "$l" --full "${CLI_ARGS[@]}" >/dev/null 2>>"$T/ops.err" ||
        fail "the final sync of $l failed: $(tail -n 1 "$T/ops.err")"
done
wait_for 120 tracker_done || true
after_sync=$(diffs)
converge_s=$((SECONDS - quiet_at))
needs=$(q "SELECT count(*) FROM assets WHERE needs_sync")
verify=$(q "SELECT count(*) FROM mirror_verify")

# ---- report ------------------------------------------------------------------------------
# Every delivery attempt, page by page (10,000 at most per request).
: >"$T/deliveries.jsonl"
after=0
while :; do
    curl -fsS "$SIM/_sim/deliveries?limit=10000&afterId=$after" >"$T/dpage.json"
    [ "$(jq '.deliveries | length' "$T/dpage.json")" -gt 0 ] || break
    jq -c '.deliveries[]' "$T/dpage.json" >>"$T/deliveries.jsonl"
    after=$(jq '.deliveries[-1].id' "$T/dpage.json")
done
dl=$(jq -s '{deliveries: .}' "$T/deliveries.jsonl")
echo "chaos: did — $(wc -l <"$T/ops.log") requests over $(awk '{n += $3} END {print n}' "$T/ops.log") items:" \
    "$(awk '{print $1, $2}' "$T/ops.log" | sort | uniq -c | awk '{printf "%s %s %s; ", $1, $2, $3}')"
# The reasons with the values that differ between requests (event ids, uIds, quoted names,
# counts of sent requests) replaced, so that one cause is one line.
echo "chaos: requests refused or failed ($(grep -c . "$T/reasons" || true)), most frequent reasons:"
sed -E "s/[0-9a-f]{8}-[0-9a-f-]{27}/EVENT/g; s/[0-9]{10,}/N/g; s/'[^']*'/'X'/g;
        s/; [0-9]+ of [0-9]+ requests.*//" "$T/reasons" |
    sort | uniq -c | sort -rn | head -n 8 | sed 's/^/    /' || true
echo "chaos: faults — ${#FAULTS[@]} changes ($(printf '%s; ' "${FAULTS[@]}" | head -c 600)...)"
echo "chaos: deliveries — $(jq '.deliveries | length' <<<"$dl") attempts, $(jq '[.deliveries[] | select(.duplicate)] | length' <<<"$dl") duplicates, $(jq '[.deliveries[] | select(.status != 200)] | length' <<<"$dl") failed;" \
    "$(curl -fsS "$SIM/_sim/notifications?state=dropped&limit=10000" | jq '.notifications | length') notifications dropped"
echo "chaos: kills — serve $KILLS_SERVE, vppsim $KILLS_SIM (SIGKILL, restarted)" \
    "$([ "$BACKEND" = sqlite ] || echo "; PostgreSQL crashed and restarted $CRASHES_PG times")"
echo "chaos: time — traffic ${traffic_s} s, converged ${converge_s} s after traffic stopped"
echo "chaos: found — before the last sync the mirror differed in:${before_sync:- nothing};" \
    "after it in:${after_sync:- nothing}; assets needsSync: $needs; keys waiting: $verify"
if [ -n "$after_sync" ]; then
    for d in $after_sync; do # LOCATION:TABLE: what differed (diff's first lines; < vppsim, > mirror)
        echo "chaos: $d differs:" >&2
        head -n 12 "$T/diff.${d%%:*}.${d#*:}" | sed 's/^/    /' >&2
    done
    fail "the mirror does not equal vppsim (seed $SEED):$after_sync"
fi
[ "$needs" = 0 ] || fail "$needs asset(s) left needsSync (seed $SEED)"
[ "$verify" = 0 ] || fail "$verify key(s) still waiting for verification (seed $SEED)"
for i in $(seq "$NINST"); do
    VN_SERVE_PID=${SERVE_PID[$i]}
    vn_serve_stop
done
sim_stop
ok "chaos seed $SEED: the mirror equals vppsim in every table of $NLOC locations"
