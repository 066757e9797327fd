#!/usr/bin/env bash
# `make bench`: durable ingest throughput of vppnotify against the HTTP ceiling of this machine.
#
# Release build, fresh database, synchronous=FULL (the default; never relaxed here), wrk on
# 127.0.0.1 with bench/notify.lua making every notificationId unique. Scenarios (~10 s each):
#   asset_count     single-element ASSET_COUNT, 64 connections; the change log on, a webhook
#                   endpoint taking every asset change (nginx answering 204), and the latency
#                   probe (bench/latency.mjs, node: the feed's consumer, long-polling, and the
#                   receiver of a second endpoint, of events, verifying with the standardwebhooks
#                   package the messages of its own probe notifications)
#   asset_count_bare the same without the probe: the feed followed by wrk (bench/feed.lua), the
#                   asset changes to nginx
#   assignments100  ASSET_MANAGEMENT ASSOCIATE with 100 assignments each, 16 connections
#   duplicates      re-posting ids already stored, 64 connections
#   ceiling         the asset_count POST against nginx answering 204, same machine, same run
#   ingest_during_sync, sync_rss: serve syncing a vppsim organization (bench/sync.sh)
# Then the database is checked: every id vppnotify answered 2xx is stored exactly once and the
# counts are right; a fast wrong answer fails the bench, loudly. Last, bench/cpu.sh counts
# instructions per notification with callgrind.
#
# Output: bench/results/latest.json and latest.md. Knobs: BENCH_SECONDS (default 10),
# BENCH_THREADS (wrk threads, default 2), BENCH_QUICK=1 (the ingest scenarios only, without
# the sync scenarios and callgrind; the results go to BENCH_OUT if set, else stay in the run's
# temporary directory), BENCH_BIN (a vppnotify binary to measure instead of building
# build-release; with BENCH_QUICK=1), BENCH_SERVE_ARGS (more serve options, words).
# bench/ab.sh alternates binaries or options with these.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
WRK_THREADS=${BENCH_THREADS:-2}
JOBS=$(nproc)
BIN=${BENCH_BIN:-build-release/src/cli/vppnotify}
OUT=bench/results
UID1=2049025000431439
SERVE_ARGS=()
[ -z "${BENCH_SERVE_ARGS:-}" ] || read -ra SERVE_ARGS <<<"$BENCH_SERVE_ARGS"

if [ -n "${BENCH_BIN:-}" ]; then
    # Another binary: its results must not pass for this tree's (bench/results).
    [ "${BENCH_QUICK:-0}" = 1 ] || { echo "bench: BENCH_BIN needs BENCH_QUICK=1" >&2; exit 2; }
    [ -x "$BIN" ] || { echo "bench: BENCH_BIN '$BIN' is not an executable" >&2; exit 2; }
else
    echo "== release build"
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVN_TESTS=OFF >/dev/null
    cmake --build build-release -j "$JOBS" >/dev/null
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/vn-bench.XXXXXX")
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${keep:-0}" = 1 ]; then echo "bench: files kept in $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

die() {
    keep=1
    echo "BENCH FAILED: $*" >&2
    exit 1
}

(umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$T/token")
TOKEN=$(cat "$T/token")
"$BIN" location add --db "$T/bench.db" --uid $UID1 --name bench --token-file "$T/token" 2>/dev/null
# The integration API during asset_count: a consumer long-polling the change feed and webhook
# endpoints (the outbox on), for the latency of a change after its notification's 2xx.
API_KEY=$("$BIN" api-key add --db "$T/bench.db" --name bench --scope read 2>/dev/null)
(umask 077 && printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64)" >"$T/whsec")

# --max-per-ip 0: wrk's 64 connections and the latency probe's all come from 127.0.0.1 (with
# the default 64 the probe's connection is refused: "socket hang up").
"$BIN" serve --db "$T/bench.db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --max-per-ip 0 \
    --ready-file "$T/ready" --log-format json "${SERVE_ARGS[@]}" >"$T/serve.log" 2>&1 &
SERVE_PID=$!
pids+=("$SERVE_PID")
for _ in $(seq 200); do [ -s "$T/ready" ] && break; sleep 0.05; done
[ -s "$T/ready" ] || die "vppnotify serve did not start: $(tail -n 5 "$T/serve.log")"
URL="http://$(head -n1 "$T/ready")"
API_URL="http://$(sed -n 2p "$T/ready")"

# nginx answering 204 to the same POST: the HTTP ceiling of this machine.
mkdir -p "$T/nginx"
NGINX_PORT=$((20000 + RANDOM % 20000))
cat >"$T/nginx/nginx.conf" <<NGX
worker_processes $JOBS;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 204; } # also the webhook receiver of the asset changes
    }
}
NGX
/usr/sbin/nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" &
NGINX_PID=$!
pids+=("$NGINX_PID")
sleep 0.5

# The writer thread (named vn-writer): its CPU, and the group commits from /metrics (how many,
# their mean size, the mean time of the flush + COMMIT), per scenario: the writer is serial, so
# its busy share (CPU outside the commit + the commit's time) says whether it limits the load.
writer_tid() { grep -l '^vn-writer$' /proc/"$SERVE_PID"/task/*/comm 2>/dev/null | head -n 1 | cut -d/ -f5; }
# Nanoseconds the writer thread was runnable but waited for a CPU (schedstat's second field):
# on a busy machine the critical path can be the run queue, not the disk or the CPU time.
writer_waitns() {
    local t
    t=$(writer_tid)
    [ -n "$t" ] && [ -r "/proc/$SERVE_PID/task/$t/schedstat" ] &&
        awk '{ print $2 }' "/proc/$SERVE_PID/task/$t/schedstat" || echo 0
}
writer_ticks() {
    local t
    t=$(writer_tid)
    [ -n "$t" ] && sed 's/^.*) //' "/proc/$SERVE_PID/task/$t/stat" | awk '{ print $12 + $13 }' || echo 0
}
commit_stats() { # batches jobs commit_seconds
    curl -s -H "Authorization: Bearer $API_KEY" "$API_URL/metrics" | awk '
        /^vppnotify_ingest_batch_size_count / { b = $2 } /^vppnotify_ingest_batch_size_sum / { j = $2 }
        /^vppnotify_commit_duration_seconds_sum / { c = $2 } END { printf "%d %d %s\n", b, j, c + 0 }'
}

rss_mib() {
    awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVE_PID/status"
}

# CPU time of processes and of the machine: cpu_ticks, machine_ticks, HZ.
. bench/cpu_ticks.sh
nginx_pids() { echo "$NGINX_PID" $(pgrep -P "$NGINX_PID"); }
PROBE_PIDS=() # the consumers of the scenario running (the latency probe, the feed's wrk)

# run NAME URL CONNECTIONS MODE RUN [DUP_IDS]: one wrk run; its "BENCH {...}" line → $T/NAME.json,
# the CPU seconds of vppnotify, the consumers, wrk, nginx and the machine → $T/NAME.cpu.json
run() {
    local name=$1 url=$2 conns=$3 mode=$4 runid=$5 dups=${6:-0} s0 c0 n0 m0 ng w0 q0 b0 j0 k0 b1 j1 k1
    echo "== $name: $conns connections, ${SECS}s"
    ng=$(nginx_pids)
    read -r b0 j0 k0 <<<"$(commit_stats)"
    w0=$(writer_ticks)
    q0=$(writer_waitns)
    s0=$(cpu_ticks "$SERVE_PID") c0=$(cpu_ticks "${PROBE_PIDS[@]}") n0=$(cpu_ticks $ng) m0=$(machine_ticks)
    # wrk's own CPU: the subshell's `times` (its children's user and system time).
    (
        wrk -t "$WRK_THREADS" -c "$conns" -d "${SECS}s" --timeout 10s -s bench/notify.lua "$url" \
            -- "$mode" $UID1 "$TOKEN" "$runid" "$dups" >"$T/$name.wrk"
        times >"$T/$name.times"
    )
    local s1 c1 n1 m1 w1 q1
    s1=$(cpu_ticks "$SERVE_PID") c1=$(cpu_ticks "${PROBE_PIDS[@]}") n1=$(cpu_ticks $ng) m1=$(machine_ticks)
    w1=$(writer_ticks)
    q1=$(writer_waitns)
    read -r b1 j1 k1 <<<"$(commit_stats)"
    jq -n --argjson hz "$HZ" --argjson s "$((s1 - s0))" --argjson c "$((c1 - c0))" \
        --argjson n "$((n1 - n0))" --argjson m "$((m1 - m0))" --argjson wt "$((w1 - w0))" \
        --argjson wq "$((q1 - q0))" \
        --argjson b "$((b1 - b0))" --argjson j "$((j1 - j0))" --argjson k "$k1" --argjson k0 "$k0" \
        --arg w "$(tail -n 1 "$T/$name.times")" '
        def secs: capture("(?<m>[0-9]+)m(?<s>[0-9.]+)s") | (.m | tonumber) * 60 + (.s | tonumber);
        ($w | split(" ") | map(secs) | add) as $wrk |
        {vppnotify: ($s / $hz), consumers: ($c / $hz), wrk: ($wrk * 100 | round / 100),
         nginx: ($n / $hz), machine: ($m / $hz), writer_thread: ($wt / $hz),
         writer_runqueue: ($wq / 1e7 | round / 100),
         group_commits: $b,
         mean_batch: (if $b > 0 then ($j / $b * 10 | round / 10) else null end),
         commit_ms: (if $b > 0 then (($k - $k0) / $b * 1e5 | round / 100) else null end)}' \
        >"$T/$name.cpu.json"
    sed -n 's/^BENCH //p' "$T/$name.wrk" >"$T/$name.json"
    [ -s "$T/$name.json" ] || die "wrk printed no result for $name: $(cat "$T/$name.wrk")"
    jq -c '{requests, non_2xx, p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000)}' "$T/$name.json"
    jq -c '{cpu_s: .}' "$T/$name.cpu.json"
}

wrk -t "$WRK_THREADS" -c 16 -d 2s -s bench/notify.lua "$URL" -- asset_count $UID1 "$TOKEN" warm >/dev/null
# The latency probe (bench/latency.mjs) runs beside asset_count: its receiver first, then the
# webhook endpoint pointing at it, then the load.
VN_JS_MODULES="$PWD/tests/js/node_modules" node bench/latency.mjs --api "$API_URL" --key "$API_KEY" \
    --notify "$URL/notifications" --token "$TOKEN" --uid $UID1 --seconds "$SECS" \
    --ready "$T/lat.ready" --go "$T/lat.go" --secret-file "$T/whsec" --out "$T/latency.json" \
    >"$T/latency.log" 2>&1 &
LAT_PID=$!
pids+=("$LAT_PID")
for _ in $(seq 200); do [ -s "$T/lat.ready" ] && break; sleep 0.05; done
[ -s "$T/lat.ready" ] || die "the latency probe did not start: $(cat "$T/latency.log")"
HOOK_PROBE=$("$BIN" webhook add --db "$T/bench.db" --url "http://$(cat "$T/lat.ready")/hook" \
    --kinds event --secret-file "$T/whsec" 2>/dev/null) || die "webhook add"
# Every asset change (one per asset and group commit) to nginx: the MDM's receiver of the load.
"$BIN" webhook add --db "$T/bench.db" --url "http://127.0.0.1:$NGINX_PORT/hook" --kinds asset \
    --secret-file "$T/whsec" >/dev/null 2>&1 || die "webhook add (nginx)"
sleep 1.5 # serve's webhook supervisor looks for new endpoints every second
touch "$T/lat.go"
PROBE_PIDS=("$LAT_PID")
run asset_count "$URL" 64 asset_count ac
wait "$LAT_PID" || die "the latency probe failed: $(cat "$T/latency.log")"
jq -c . "$T/latency.json"
RSS_AC=$(rss_mib)

# The same load without the probe: the feed followed by one wrk connection (bench/feed.lua),
# every asset change still POSTed to nginx (204). What is left of the API's cost is
# vppnotify's. The probe's endpoint goes (nothing listens there any more).
"$BIN" webhook remove --db "$T/bench.db" --id "$HOOK_PROBE" >/dev/null 2>&1 || die "webhook remove"
FEED_FROM=0 # from the start: it catches up (full pages at once), then follows
sleep 1.5
wrk -t 1 -c 1 -d "$((SECS + 3))s" --timeout 10s -s bench/feed.lua "$API_URL" -- "$API_KEY" "$FEED_FROM" \
    >"$T/feed.wrk" 2>&1 &
FEED_PID=$!
pids+=("$FEED_PID")
PROBE_PIDS=("$FEED_PID")
sleep 1
run asset_count_bare "$URL" 64 asset_count acb
wait "$FEED_PID" || die "the feed's consumer (wrk) failed: $(cat "$T/feed.wrk")"
PROBE_PIDS=()
sed -n 's/^FEED //p' "$T/feed.wrk" >"$T/feed.json"
[ -s "$T/feed.json" ] || die "the feed's consumer printed no result: $(cat "$T/feed.wrk")"
jq -c '{feed: .}' "$T/feed.json"
# Every change after FEED_FROM up to the last lastSeq, each once (seqs have no gaps).
[ "$(jq '.changes' "$T/feed.json")" = "$(($(jq '.last_seq' "$T/feed.json") - FEED_FROM))" ] ||
    die "the feed's consumer got $(jq .changes "$T/feed.json") changes from $FEED_FROM to $(jq .last_seq "$T/feed.json")"
[ "$(jq '.failed' "$T/feed.json")" = 0 ] || die "the feed answered non-200: $(cat "$T/feed.json")"
run assignments100 "$URL" 16 assignments100 a100
RSS_A100=$(rss_mib)
run duplicates "$URL" 64 duplicates ac 500
RSS_DUP=$(rss_mib)
run ceiling "http://127.0.0.1:$NGINX_PORT" 64 asset_count ceil

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || die "vppnotify serve exited with an error: $(tail -n 5 "$T/serve.log")"

echo "== checking the database"
DB="$T/bench.db"
q() { sqlite3 -batch -noheader "$DB" "$1"; }
jq -r 'select(.msg == "notification" and .status == 200 and .outcome == "applied") | .id' \
    "$T/serve.log" >"$T/acked.txt"
jq -r 'select(.msg == "notification" and .status == 200 and .outcome == "duplicate") | .id' \
    "$T/serve.log" | sort -u >"$T/dup_acked.txt"
q "CREATE TABLE acked(id TEXT);" 
sqlite3 -batch "$DB" ".import $T/acked.txt acked"
missing=$(q "SELECT count(*) FROM acked a LEFT JOIN notifications n ON n.notification_id = a.id
             WHERE n.notification_id IS NULL OR n.state <> 'applied';")
[ "$missing" = 0 ] || die "$missing notification(s) answered 200 'applied' are not stored as applied"
twice=$(sort "$T/acked.txt" | uniq -d | wc -l)
[ "$twice" = 0 ] || die "$twice notification id(s) were answered 'applied' more than once"
for name in asset_count asset_count_bare assignments100 duplicates; do
    [ "$(jq .non_2xx "$T/$name.json")" = 0 ] || echo "bench: $name had non-2xx answers" >&2
done
ac_rows=$(q "SELECT count(*) FROM notifications WHERE notification_id LIKE 'ac-%' OR notification_id LIKE 'acb-%'
             OR notification_id LIKE 'warm-%';")
ac_total=$(q "SELECT total_count FROM assets WHERE adam_id = '408709785';")
[ "$ac_rows" = "$ac_total" ] || die "asset totalCount $ac_total but $ac_rows ASSET_COUNT notifications stored: applied twice or lost"
a100_rows=$(q "SELECT count(*) FROM notifications WHERE notification_id LIKE 'a100-%';")
a100_assign=$(q "SELECT count(*) FROM assignments WHERE adam_id = '361309726';")
a100_counted=$(q "SELECT assigned_count FROM assets WHERE adam_id = '361309726';")
[ "$a100_assign" = $((a100_rows * 100)) ] || die "$a100_assign assignments for $a100_rows notifications of 100"
[ "$a100_counted" = "$a100_assign" ] || die "assignedCount $a100_counted but $a100_assign assignment rows"
dup_seen=$(q "SELECT count(*) FROM notification_repeats WHERE notification_id LIKE 'ac-%';")
dup_ok=$(jq '.requests - .non_2xx' "$T/duplicates.json")
[ "$dup_seen" -ge "$dup_ok" ] || die "$dup_ok duplicates answered 2xx but only $dup_seen counted"
for name in asset_count asset_count_bare assignments100; do
    ok2xx=$(jq '.requests - .non_2xx' "$T/$name.json")
    prefix=$(case $name in asset_count) echo ac ;; asset_count_bare) echo acb ;; *) echo a100 ;; esac)
    logged=$(grep -c "^$prefix-" "$T/acked.txt" || true)
    [ "$logged" -ge "$ok2xx" ] || die "$name: wrk saw $ok2xx 2xx but vppnotify logged $logged"
done
# The webhook endpoint of the load (nginx): every asset change in the range it delivered was
# delivered, and none failed. The probe's receiver rejected nothing (its signatures verify).
hook_id=$(q "SELECT id FROM webhook_endpoints WHERE url = 'http://127.0.0.1:$NGINX_PORT/hook';")
read -r hook_lo hook_hi hook_sent hook_failed <<<"$(sqlite3 -batch -noheader -separator ' ' "$DB" \
    "SELECT min(seq), max(seq), count(DISTINCT seq), total(ok = 0) FROM webhook_deliveries
     WHERE endpoint_id = $hook_id;")"
hook_want=$(q "SELECT count(*) FROM changes WHERE kind = 'asset' AND seq BETWEEN $hook_lo AND $hook_hi;")
[ "$hook_sent" = "$hook_want" ] ||
    die "the webhook endpoint got $hook_sent of the $hook_want asset changes from seq $hook_lo to $hook_hi"
[ "${hook_failed%.0}" = 0 ] || die "$hook_failed webhook deliveries to nginx failed"
[ "$(jq .webhook_rejected "$T/latency.json")" = 0 ] || die "the probe's receiver rejected messages"
integrity=$(q "PRAGMA integrity_check;")
[ "$integrity" = ok ] || die "integrity_check: $integrity"
echo "   every 'applied' answer is stored once; counts consistent; integrity ok;" \
    "$hook_sent asset changes delivered to nginx, every one from seq $hook_lo to $hook_hi"

if [ "${BENCH_QUICK:-0}" = 1 ]; then # the ingest scenarios only, results kept apart
    if [ -n "${BENCH_OUT:-}" ]; then
        OUT=$BENCH_OUT
    else
        OUT="$T/results"
        keep=1
    fi
    mkdir -p "$OUT"
    SYNCJ='{"ingest_during_sync": null, "sync_rss": null}'
else
    mkdir -p "$T/sync"
    SYNCJ=$(bench/sync.sh build-release "$T/sync" | tail -n 1) || die "the sync scenarios failed"
fi

echo "== instructions per notification (callgrind)"
if [ "${BENCH_QUICK:-0}" = 1 ]; then IPN=null; else IPN=$(bench/cpu.sh --quiet || echo null); fi

SYNC=$(q "PRAGMA synchronous;")
JOURNAL=$(q "PRAGMA journal_mode;")
scen() { # name rows_per_notification rss
    jq -c --argjson rows "$2" --argjson rss "${3:-null}" --argjson cpu "$(cat "$T/$1.cpu.json")" '{
        notifications_per_s: ((.requests - .non_2xx) / (.duration_us / 1e6) | . * 10 | round / 10),
        rows_per_s: ((.requests - .non_2xx) * $rows / (.duration_us / 1e6) | round),
        p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000), non_2xx: .non_2xx,
        peak_rss_mib: $rss, cpu_s: $cpu }' "$T/$1.json"
}
jq -n --argjson ac "$(scen asset_count 1 "$RSS_AC")" \
    --argjson acb "$(scen asset_count_bare 1)" --argjson feed "$(cat "$T/feed.json")" \
    --argjson a100 "$(scen assignments100 100 "$RSS_A100")" \
    --argjson dup "$(scen duplicates 0 "$RSS_DUP")" \
    --argjson ceil "$(scen ceiling 0)" \
    --argjson ipn "$IPN" --argjson lat "$(cat "$T/latency.json")" --argjson syncs "$SYNCJ" \
    --arg when "$(date -u +%FT%TZ)" --arg commit "${BENCH_BIN:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" \
    --arg cpus "$JOBS" --arg sync "$SYNC" --arg journal "$JOURNAL" --arg secs "$SECS" \
    --argjson load0 "$LOAD0" --argjson load1 "$(cut -d' ' -f1 /proc/loadavg)" '{
    scenarios: {asset_count: $ac, asset_count_bare: ($acb + {feed_consumer: $feed}),
                assignments100: $a100, duplicates: $dup, ceiling: $ceil,
                ingest_during_sync: $syncs.ingest_during_sync},
    sync_rss: $syncs.sync_rss,
    ratio_to_ceiling: (($ac.notifications_per_s / $ceil.notifications_per_s) * 1000 | round / 1000),
    ratio_to_ceiling_bare: (($acb.notifications_per_s / $ceil.notifications_per_s) * 1000 | round / 1000),
    load_average: {before: $load0, after: $load1},
    instructions_per_notification: $ipn,
    change_latency: {probes: $lat.probes, feed: $lat.feed, webhook: $lat.webhook},
    probe: {long_polls: $lat.polls, feed_changes: $lat.feed_changes,
            webhook_messages: $lat.webhook_messages, webhook_rejected: $lat.webhook_rejected},
    run: {at: $when, commit: $commit, cpus: ($cpus | tonumber), seconds_per_scenario: ($secs | tonumber),
          sqlite_synchronous: $sync, sqlite_journal_mode: $journal}
}' >"$OUT/latest.json"

jq -r '
  def row(n): .scenarios[n] as $s | "| \(n) | \($s.notifications_per_s) | \($s.rows_per_s) | \($s.p50_ms) | \($s.p99_ms) | \($s.non_2xx) | \($s.peak_rss_mib // "–") |";
  "# Benchmark results\n",
  "Run \(.run.at) at commit \(.run.commit) on \(.run.cpus) CPUs, \(.run.seconds_per_scenario) s per scenario, SQLite journal_mode=\(.run.sqlite_journal_mode) synchronous=\(.run.sqlite_synchronous) (2 = FULL). Produced by `make bench` (bench/run.sh); see docs/PERFORMANCE.md.\n",
  "| scenario | notifications/s | rows/s | p50 ms | p99 ms | non-2xx | peak RSS MiB |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  row("asset_count"), row("asset_count_bare"), row("assignments100"), row("duplicates"), row("ceiling"),
  row("ingest_during_sync"),
  "\nasset_count / ceiling = **\(.ratio_to_ceiling)** (the change log on, the latency probe long-polling the feed and receiving every asset change as a webhook message, verified); asset_count_bare / ceiling = **\(.ratio_to_ceiling_bare)** (the change log on, the feed followed by wrk, every asset change POSTed to nginx answering 204). Load average \(.load_average.before) before the run, \(.load_average.after) after. Instructions per notification (parse + apply, callgrind) = **\(.instructions_per_notification)**.",
  "\nCPU seconds during each scenario (of \(.run.cpus * .run.seconds_per_scenario) on the machine):\n",
  "| scenario | vppnotify | of which the writer thread | writer waiting for a CPU | consumers | wrk | nginx | machine (everything) | group commits | mean batch | commit ms |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  (.scenarios | to_entries[] | select(.value.cpu_s) | "| \(.key) | \(.value.cpu_s.vppnotify) | \(.value.cpu_s.writer_thread // "–") | \(.value.cpu_s.writer_runqueue // "–") | \(.value.cpu_s.consumers) | \(.value.cpu_s.wrk) | \(.value.cpu_s.nginx) | \(.value.cpu_s.machine) | \(.value.cpu_s.group_commits // "–") | \(.value.cpu_s.mean_batch // "–") | \(.value.cpu_s.commit_ms // "–") |"),
  "\nasset_count_bare'"'"'s feed consumer: \(.scenarios.asset_count_bare.feed_consumer.polls) long polls, \(.scenarios.asset_count_bare.feed_consumer.changes) changes, every one from its start to lastSeq \(.scenarios.asset_count_bare.feed_consumer.last_seq) once.",
  "\nChange latency under the asset_count load (\(.change_latency.probes) probes, from the notification'"'"'s 2xx): to a waiting GET /v1/changes p50 \(.change_latency.feed.p50_ms) ms, p99 \(.change_latency.feed.p99_ms) ms (max \(.change_latency.feed.max_ms)); to a webhook receiver p50 \(.change_latency.webhook.p50_ms) ms, p99 \(.change_latency.webhook.p99_ms) ms (max \(.change_latency.webhook.max_ms)). The probe made \(.probe.long_polls) long polls (\(.probe.feed_changes) changes) and verified \(.probe.webhook_messages) webhook messages (\(.probe.webhook_rejected) rejected).",
  "\ningest_during_sync: the asset_count load while serve ran its first full sync of \(.scenarios.ingest_during_sync.assignments) assignments from vppsim, which took \(.scenarios.ingest_during_sync.sync_ms) ms.",
  "\nPeak RSS after a full sync: \(.sync_rss.small.assignments) assignments \(.sync_rss.small.peak_rss_mib) MiB (\(.sync_rss.small.sync_ms) ms), \(.sync_rss.large.assignments) assignments \(.sync_rss.large.peak_rss_mib) MiB (\(.sync_rss.large.sync_ms) ms): difference \(.sync_rss.difference_mib) MiB (goal ≤ 10).",
  "\nTargets (issue 5): asset_count ≥ 10,000/s and ≥ 0.25 of ceiling; assignments100 ≥ 100,000 rows/s; duplicates ≥ 20,000/s; p99 ≤ 25 ms; 0 non-2xx; peak RSS ≤ 64 MiB. Issue 9: ingest_during_sync 0 non-2xx and p99 ≤ 50 ms; sync RSS difference ≤ 10 MiB."
' "$OUT/latest.json" >"$OUT/latest.md"
echo
cat "$OUT/latest.md"
