#!/usr/bin/env bash
# Sync scenarios of `make bench` (called by bench/run.sh after the ingest scenarios; runs alone
# too, after a release build): serve syncs a vppsim organization while it ingests.
#
#   ingest_during_sync  the asset_count wrk load (64 connections) while serve runs its first
#                       full sync of an organization of SYNC_ASSIGNMENTS (100,000) device
#                       assignments: non-2xx, p50/p99 of the notifications, the sync's duration
#   sync_rss            peak RSS of serve after a full sync of 20,000 and of 200,000
#                       assignments (no other load): streaming sync keeps one page in memory
#
# The sync starts when the location gets its sToken (set-stoken, while wrk runs); wrk is
# stopped (SIGINT: it still reports) once serve logs "sync done", so the load covers the sync.
# Checks: the mirror holds every assignment, and each acknowledged ASSET_COUNT was applied
# once. Output: one JSON object on the last line of stdout.
#
# Usage: bench/sync.sh BUILD_DIR TMPDIR   (BUILD_DIR with src/cli/vppnotify and sim/vppsim)
set -euo pipefail
cd "$(dirname "$0")/.."

B=$1
T=$2
VN=$B/src/cli/vppnotify
SIM_BIN=$B/sim/vppsim
N_LOAD=${SYNC_ASSIGNMENTS:-100000}
N_SMALL=${SYNC_RSS_SMALL:-20000}
N_LARGE=${SYNC_RSS_LARGE:-200000}
WRK_THREADS=${BENCH_THREADS:-2}
UID1=2049025000431439 # the ingest location (no sToken: no sync of its own)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
die() {
    echo "BENCH FAILED: $*" >&2
    exit 1
}
poll() { # poll SECONDS COMMAND...
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

"$SIM_BIN" serve --listen 127.0.0.1:0 --ready-file "$T/sim.ready" --time-scale 0.01 \
    --limit maxRequestPerSecond=100000 >"$T/sim.log" 2>&1 &
pids+=($!)
poll 20 test -s "$T/sim.ready" || die "vppsim did not start: $(tail -n 3 "$T/sim.log")"
SIM="http://$(cat "$T/sim.ready")"
export VPPNOTIFY_APPLE_URL="$SIM/mdm/v2"

# org N: a vppsim location with one asset and N device assignments; prints "uId sToken".
org() {
    local n=$1 loc uid chunk=20000
    loc=$(curl -fsS -X POST "$SIM/_sim/locations" -d '{}')
    uid=$(jq -r .uId <<<"$loc")
    curl -fsS -X POST "$SIM/_sim/seed" -o /dev/null \
        -d "{\"uId\":\"$uid\",\"assets\":[{\"adamId\":\"1000\",\"totalCount\":$((n + 1000))}]}"
    for ((from = 0; from < n; from += chunk)); do
        jq -nc --arg u "$uid" --argjson a "$from" --argjson b "$((from + chunk < n ? from + chunk : n))" \
            '{uId: $u, assignments: [range($a; $b) | {adamId: "1000", serialNumber: "SN\(.)"}]}' |
            curl -fsS -X POST "$SIM/_sim/seed" -o /dev/null --data-binary @- ||
            die "cannot seed $n assignments"
    done
    echo "$uid $(jq -r .sToken <<<"$loc")"
}

# serve_up NAME: a fresh database with the ingest location, serve on it (full syncs on).
serve_up() {
    local d=$T/$1
    mkdir -p "$d"
    (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$d/token")
    "$VN" location add --db "$d/vn.db" --uid $UID1 --name bench --token-file "$d/token" 2>/dev/null
    # --api-listen on port 0 as well: the API's default is the fixed 127.0.0.1:8090. The ready
    # file's first line is the notification listener, the second the API's.
    "$VN" serve --db "$d/vn.db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$d/ready" --log-format json \
        --sync-full-interval 1h --sync-delta-interval 0 >"$d/serve.log" 2>&1 &
    SERVE_PID=$!
    pids+=("$SERVE_PID")
    poll 20 test -s "$d/ready" || die "serve did not start: $(tail -n 3 "$d/serve.log")"
    URL="http://$(head -n 1 "$d/ready")"
    DB=$d/vn.db
    LOG=$d/serve.log
}

# give_stoken UID STOKEN: the location gets its sToken; serve's sync thread starts a full sync.
give_stoken() {
    printf '%s\n' "$2" >"$T/stoken.$1"
    chmod 600 "$T/stoken.$1"
    "$VN" location add --db "$DB" --uid "$1" >/dev/null 2>&1
    "$VN" location set-stoken --db "$DB" --uid "$1" --stoken-file "$T/stoken.$1" >/dev/null 2>&1 ||
        die "set-stoken failed"
}

sync_done() { grep -qF '"msg":"sync done"' "$LOG"; }
sync_ms() { grep -F '"msg":"sync done"' "$LOG" | tail -n 1 | jq -r .ms; }
rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVE_PID/status"; }
stop_serve() {
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID" || die "serve exited with an error: $(tail -n 3 "$LOG")"
}
assignments_in() { sqlite3 -batch -noheader "$DB" "SELECT count(*) FROM assignments WHERE uid = '$1';"; }

# ---- ingest_during_sync ------------------------------------------------------------------
echo "== ingest_during_sync: seeding $N_LOAD assignments" >&2
read -r LOAD_UID LOAD_TOKEN < <(org "$N_LOAD")
serve_up during
TOKEN=$(cat "$T/during/token")
wrk -t "$WRK_THREADS" -c 64 -d 600s --timeout 10s -s bench/notify.lua "$URL" \
    -- asset_count $UID1 "$TOKEN" sync >"$T/during.wrk" &
WRK_PID=$!
pids+=("$WRK_PID")
give_stoken "$LOAD_UID" "$LOAD_TOKEN"
poll 600 sync_done || die "the sync did not finish: $(grep -v '"notification"' "$LOG" | tail -n 3)"
kill -INT "$WRK_PID"
wait "$WRK_PID" || true
sed -n 's/^BENCH //p' "$T/during.wrk" >"$T/during.json"
[ -s "$T/during.json" ] || die "wrk printed no result: $(cat "$T/during.wrk")"
DURING_SYNC_MS=$(sync_ms)
DURING_RSS=$(rss_mib)
stop_serve
got=$(assignments_in "$LOAD_UID")
[ "$got" = "$N_LOAD" ] || die "the mirror has $got of $N_LOAD assignments after the sync"
acked=$(jq -r 'select(.msg == "notification" and .status == 200 and .outcome == "applied") | .id' "$LOG" | wc -l)
stored=$(sqlite3 -batch -noheader "$DB" "SELECT count(*) FROM notifications WHERE notification_id LIKE 'sync-%';")
total=$(sqlite3 -batch -noheader "$DB" "SELECT total_count FROM assets WHERE uid = '$UID1' AND adam_id = '408709785';")
[ "$acked" -le "$stored" ] || die "$acked notifications acknowledged, $stored stored"
[ "$stored" = "$total" ] || die "totalCount $total for $stored ASSET_COUNT notifications"
echo "   $(jq -c '{requests, non_2xx, p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000)}' "$T/during.json"), sync $DURING_SYNC_MS ms" >&2

# ---- sync_rss ----------------------------------------------------------------------------
rss_of_sync() { # N: prints "rss_mib sync_ms"
    local uid tok
    read -r uid tok < <(org "$1")
    serve_up "rss$1"
    give_stoken "$uid" "$tok"
    poll 900 sync_done || die "the sync of $1 did not finish"
    echo "$(rss_mib) $(sync_ms)"
    stop_serve
    [ "$(assignments_in "$uid")" = "$1" ] || die "the mirror lacks assignments after the sync of $1"
}
echo "== sync_rss: $N_SMALL and $N_LARGE assignments" >&2
read -r RSS20 MS20 < <(rss_of_sync "$N_SMALL")
read -r RSS200 MS200 < <(rss_of_sync "$N_LARGE")
echo "   $N_SMALL: $RSS20 MiB in $MS20 ms; $N_LARGE: $RSS200 MiB in $MS200 ms" >&2

jq -nc --slurpfile d "$T/during.json" --argjson n "$N_LOAD" --argjson ms "$DURING_SYNC_MS" \
    --argjson rss "$DURING_RSS" --argjson r20 "$RSS20" --argjson r200 "$RSS200" \
    --argjson m20 "$MS20" --argjson m200 "$MS200" --argjson ns "$N_SMALL" --argjson nl "$N_LARGE" '{
    ingest_during_sync: ($d[0] | {
        assignments: $n, sync_ms: $ms,
        notifications_per_s: ((.requests - .non_2xx) / (.duration_us / 1e6) | . * 10 | round / 10),
        rows_per_s: ((.requests - .non_2xx) / (.duration_us / 1e6) | round),
        p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000), non_2xx: .non_2xx,
        peak_rss_mib: $rss }),
    sync_rss: {small: {assignments: $ns, peak_rss_mib: $r20, sync_ms: $m20},
               large: {assignments: $nl, peak_rss_mib: $r200, sync_ms: $m200},
               difference_mib: (($r200 - $r20) * 10 | round / 10)}
}'
