#!/usr/bin/env bash
# `make bench BACKEND=postgresql`: durable ingest on PostgreSQL with 1 and with 3 serve instances
# behind nginx (the load balancer), next to SQLite and the nginx ceiling of the same run.
#
# Release build; a throwaway PostgreSQL cluster (tests/pg/cluster.sh: Debian's postgresql,
# fsync=on, synchronous_commit=on, never relaxed) in a temporary directory; Debian's nginx, its
# configuration generated in the same directory, on 127.0.0.1 (keep-alive to the instances,
# round robin). Configurations, each on a fresh database (a schema of its own on PostgreSQL):
#   sqlite      one instance, wrk straight to it (as bench/run.sh)
#   pg1_direct  PostgreSQL, one instance, wrk straight to it
#   pg1_nginx   PostgreSQL, one instance behind nginx
#   pg3_nginx   PostgreSQL, three instances behind nginx
#   ceiling     nginx answering 204 to the same POST
# and per configuration the scenarios of bench/run.sh (~BENCH_SECONDS each): asset_count (64
# connections), assignments100 (16), duplicates (64, ids of the asset_count run).
#
# Where the time goes, per scenario: CPU seconds of the instances, of PostgreSQL (every process
# of the cluster), of nginx, and of the whole machine (the rest is wrk and whatever else runs);
# PostgreSQL's commits per second (pg_stat_database); the instances' mean group-commit batch
# (vppnotify_ingest_batch_size from /metrics).
#
# Then every database is checked as bench/run.sh does: every id answered 200 "applied" by any
# instance is stored once as applied, no id was answered "applied" twice, counts are right.
# Output: bench/results/pg.json and pg.md. Knobs: BENCH_SECONDS (10), BENCH_THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
WRK_THREADS=${BENCH_THREADS:-2}
JOBS=$(nproc)
BIN=build-release/src/cli/vppnotify
OUT=bench/results
UID1=2049025000431439
CLUSTER=tests/pg/cluster.sh

echo "== release build"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVN_TESTS=OFF >/dev/null
cmake --build build-release -j "$JOBS" >/dev/null

T=$(mktemp -d "${TMPDIR:-/tmp}/vn-bench-pg.XXXXXX")
PG=$(mktemp -d "${TMPDIR:-/tmp}/vn-bench-pgdata.XXXXXX") # not in $T: the server's user must reach it
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$CLUSTER" stop "$PG" >/dev/null 2>&1 || true
    if [ "${keep:-0}" = 1 ] || [ -n "${BENCH_KEEP:-}" ]; then echo "bench: files kept in $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
die() {
    keep=1
    echo "BENCH FAILED: $*" >&2
    exit 1
}

echo "== PostgreSQL cluster"
PGURL=$(bash "$CLUSTER" start "$PG")
psql_q() { bash "$CLUSTER" psql "$PG" -At -c "$1"; }
PG_VERSION=$(psql_q "SHOW server_version")
PG_DURABILITY="fsync=$(psql_q "SHOW fsync") synchronous_commit=$(psql_q "SHOW synchronous_commit")"
[ "$PG_DURABILITY" = "fsync=on synchronous_commit=on" ] || die "PostgreSQL runs with $PG_DURABILITY"
PG_MASTER=$(head -n1 "$PG/data/postmaster.pid")

(umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$T/token")
TOKEN=$(cat "$T/token")

# ---- processes and their CPU -------------------------------------------------------------

# cpu_ticks PID..., machine_ticks, HZ (bench/cpu_ticks.sh).
. bench/cpu_ticks.sh
# tree_ticks PID: CPU ticks ever spent by PID and its children, those alive now and those gone:
# PID's own utime + stime, plus its cutime + cstime (what every child it has reaped spent, with
# what that child had reaped), plus utime + stime + cutime + cstime of each child alive now.
# A backend that exits between two samples moves from the last term to the second, so the
# difference of two samples counts it exactly (a sum over the live children alone lost what it
# had spent and went negative). Not counted: a child reaped between the reading of PID's stat
# and the reading of the children (a window of microseconds; it is then missing from that one
# sample); grandchildren alive at a sample (PostgreSQL's processes are all the postmaster's
# children); CPU of processes outside the tree on the cluster's behalf (none).
tree_ticks() {
    local sum p
    sum=$(sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }')
    while read -r p; do
        sum=$((sum + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
            awk '{ s = $12 + $13 + $14 + $15 } END { print s + 0 }')))
    done < <(children_of "$1" | tail -n +2)
    echo "$sum"
}
children_of() { # the process and its children
    echo "$1"
    awk -v pp="$1" '{ sub(/^.*\) /, ""); if ($2 == pp) print FILENAME }' /proc/[0-9]*/stat 2>/dev/null |
        sed 's|/proc/\([0-9]*\)/stat|\1|'
}

# ---- nginx ---------------------------------------------------------------------------------

NGINX_PIDS=()
# nginx_start NAME PORT [UPSTREAM...]: 204 when no upstream, else a round-robin proxy.
nginx_start() {
    local name=$1 port=$2 dir="$T/nginx.$1"
    shift 2
    mkdir -p "$dir"
    {
        echo "worker_processes $JOBS; daemon off; pid $dir/nginx.pid; error_log $dir/error.log warn;"
        [ "$(id -u)" = 0 ] && echo "user root;"
        echo "events { worker_connections 4096; }"
        echo "http { access_log off; client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
        echo "  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;"
        if [ $# -gt 0 ]; then
            echo "  upstream vn { keepalive 128;"
            for a in "$@"; do echo "    server $a;"; done
            echo "  }"
            echo "  server { listen 127.0.0.1:$port; location / { proxy_pass http://vn;"
            echo "    proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
        else
            echo "  server { listen 127.0.0.1:$port; location / { return 204; } }"
        fi
        echo "}"
    } >"$dir/nginx.conf"
    /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$dir/nginx.pid" ] && break; sleep 0.05; done
    [ -s "$dir/nginx.pid" ] || die "nginx $name did not start: $(cat "$dir/error.log")"
    NGINX_PIDS=("$(cat "$dir/nginx.pid")")
    while read -r c; do NGINX_PIDS+=("$c"); done < <(children_of "${NGINX_PIDS[0]}" | tail -n +2)
}
nginx_stop() {
    kill -QUIT "${NGINX_PIDS[0]}" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "${NGINX_PIDS[0]}" 2>/dev/null || break; sleep 0.05; done
    NGINX_PIDS=()
}
# free_port: a port no socket uses now, in any state (a connection's local port counts: nginx
# failed with "bind() to 127.0.0.1:37480 failed (98: Address already in use)" when only
# listeners were looked at), and below the ephemeral range (ip_local_port_range) so that no
# connection made meanwhile takes it before nginx binds it. nginx takes no port 0 with a known
# address.
free_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    [ "$low" -gt 11000 ] || die "the ephemeral port range starts at $low: no room below it"
    while :; do
        p=$((10000 + RANDOM % (low - 10000)))
        ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q . || { echo "$p"; return; }
    done
}

# ---- vppnotify instances ---------------------------------------------------------------------

SERVE_PIDS=()
ADDRS=()
APIS=()
# serve_start CONFIG DB N: N instances of serve on DB, logs in $T/CONFIG.K.log. Behind a load
# balancer every connection comes from its address: no per-address limit (--max-per-ip 0).
serve_start() {
    local cfg=$1 db=$2 n=$3 k
    "$BIN" location add --db "$db" --uid $UID1 --name bench --token-file "$T/token" >/dev/null 2>&1 ||
        die "location add on $db failed"
    KEY=$("$BIN" api-key add --db "$db" --name bench --scope read 2>/dev/null | tail -n1)
    SERVE_PIDS=()
    ADDRS=()
    APIS=()
    for k in $(seq "$n"); do
        "$BIN" serve --db "$db" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
            --ready-file "$T/$cfg.$k.ready" --key-file "$T/vn.key" --log-format json --max-per-ip 0 \
            >"$T/$cfg.$k.log" 2>&1 &
        pids+=($!)
        SERVE_PIDS+=($!)
    done
    for k in $(seq "$n"); do
        for _ in $(seq 200); do [ -s "$T/$cfg.$k.ready" ] && break; sleep 0.05; done
        [ -s "$T/$cfg.$k.ready" ] || die "serve $cfg.$k did not start: $(tail -n 5 "$T/$cfg.$k.log")"
        ADDRS+=("$(head -n1 "$T/$cfg.$k.ready")")
        APIS+=("$(sed -n 2p "$T/$cfg.$k.ready")")
    done
}
serve_stop() {
    local p
    for p in "${SERVE_PIDS[@]}"; do kill -TERM "$p"; done
    for p in "${SERVE_PIDS[@]}"; do wait "$p" || die "an instance exited with an error"; done
    SERVE_PIDS=()
}
# batch_totals: "SUM COUNT" of vppnotify_ingest_batch_size over the instances.
batch_totals() {
    local a s=0 c=0 x y
    for a in "${APIS[@]}"; do
        x=$(curl -sS -H "Authorization: Bearer $KEY" "http://$a/metrics" |
            awk '/^vppnotify_ingest_batch_size_sum/ { s = $2 } /^vppnotify_ingest_batch_size_count/ { c = $2 }
                 END { printf "%.0f %.0f", s, c }')
        y=${x#* }
        s=$((s + ${x% *}))
        c=$((c + y))
    done
    echo "$s $c"
}
pg_commits() { psql_q "SELECT xact_commit FROM pg_stat_database WHERE datname = 'vn'"; }

# ---- one scenario --------------------------------------------------------------------------

# run CONFIG NAME URL CONNECTIONS MODE RUN [DUP_IDS]: wrk, then $T/CONFIG.NAME.json with the
# numbers and where the time went.
run() {
    local cfg=$1 name=$2 url=$3 conns=$4 mode=$5 runid=$6 dups=${7:-0}
    local sv0 pg0 ng0 m0 c0 b0 sv1 pg1 ng1 m1 c1 b1
    echo "== $cfg $name: $conns connections, ${SECS}s"
    sv0=$(cpu_ticks "${SERVE_PIDS[@]}") pg0=$(tree_ticks "$PG_MASTER")
    ng0=$(cpu_ticks "${NGINX_PIDS[@]}") m0=$(machine_ticks) c0=$(pg_commits)
    b0=$([ ${#SERVE_PIDS[@]} -gt 0 ] && batch_totals || echo "0 0")
    wrk -t "$WRK_THREADS" -c "$conns" -d "${SECS}s" --timeout 10s -s bench/notify.lua "$url" \
        -- "$mode" $UID1 "$TOKEN" "$runid" "$dups" >"$T/$cfg.$name.wrk"
    sv1=$(cpu_ticks "${SERVE_PIDS[@]}") pg1=$(tree_ticks "$PG_MASTER")
    ng1=$(cpu_ticks "${NGINX_PIDS[@]}") m1=$(machine_ticks) c1=$(pg_commits)
    b1=$([ ${#SERVE_PIDS[@]} -gt 0 ] && batch_totals || echo "0 0")
    sed -n 's/^BENCH //p' "$T/$cfg.$name.wrk" >"$T/$cfg.$name.raw"
    [ -s "$T/$cfg.$name.raw" ] || die "wrk printed no result for $cfg $name: $(cat "$T/$cfg.$name.wrk")"
    jq -c --argjson hz "$HZ" --argjson sv "$((sv1 - sv0))" --argjson pg "$((pg1 - pg0))" \
        --argjson ng "$((ng1 - ng0))" --argjson m "$((m1 - m0))" \
        --argjson commits "$([ "$cfg" = sqlite ] || [ "$cfg" = ceiling ] && echo null || echo $((c1 - c0)))" \
        --argjson bs "$((${b1% *} - ${b0% *}))" --argjson bc "$((${b1#* } - ${b0#* }))" \
        --argjson rows "$([ "$mode" = assignments100 ] && echo 100 || { [ "$mode" = duplicates ] && echo 0 || echo 1; })" '
        (.duration_us / 1e6) as $s | (.requests - .non_2xx) as $ok | {
        notifications_per_s: ($ok / $s | . * 10 | round / 10),
        rows_per_s: ($ok * $rows / $s | round),
        p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000), non_2xx: .non_2xx,
        cpu_s: {vppnotify: ($sv / $hz), postgresql: ($pg / $hz), nginx: ($ng / $hz),
                machine: ($m / $hz), seconds: ($s | . * 10 | round / 10)},
        pg_commits_per_s: (if $commits == null then null else ($commits / $s | round) end),
        mean_batch: (if $bc > 0 then ($bs / $bc | . * 10 | round / 10) else null end),
        raw: .}' "$T/$cfg.$name.raw" >"$T/$cfg.$name.json"
    jq -c 'del(.raw)' "$T/$cfg.$name.json"
    [ "$(jq .non_2xx "$T/$cfg.$name.json")" = 0 ] || echo "bench: $cfg $name had non-2xx answers" >&2
}

scenarios() { # CONFIG URL
    wrk -t "$WRK_THREADS" -c 16 -d 2s -s bench/notify.lua "$2" -- asset_count $UID1 "$TOKEN" "warm" >/dev/null
    run "$1" asset_count "$2" 64 asset_count ac
    run "$1" assignments100 "$2" 16 assignments100 a100
    run "$1" duplicates "$2" 64 duplicates ac 500
}

# ---- checks --------------------------------------------------------------------------------

# check CONFIG SQL_RUNNER: the database of CONFIG against what its instances answered.
check() {
    local cfg=$1 q=$2 missing twice ac_rows ac_total a100_rows a100_assign a100_counted dup_seen dup_ok
    echo "== checking the $cfg database"
    cat "$T/$cfg".*.log | jq -r 'select(.msg == "notification" and .status == 200 and .outcome == "applied") | .id' \
        >"$T/$cfg.acked"
    twice=$(sort "$T/$cfg.acked" | uniq -d | wc -l)
    [ "$twice" = 0 ] || die "$cfg: $twice notification id(s) were answered 'applied' more than once"
    missing=$($q "$cfg" acked "$T/$cfg.acked" "SELECT count(*) FROM acked a LEFT JOIN notifications n
        ON n.notification_id = a.id WHERE n.notification_id IS NULL OR n.state <> 'applied'")
    [ "$missing" = 0 ] || die "$cfg: $missing notification(s) answered 200 'applied' are not stored as applied"
    ac_rows=$($q "$cfg" - - "SELECT count(*) FROM notifications WHERE notification_id LIKE 'ac-%' OR notification_id LIKE 'warm-%'")
    ac_total=$($q "$cfg" - - "SELECT total_count FROM assets WHERE adam_id = '408709785'")
    [ "$ac_rows" = "$ac_total" ] || die "$cfg: totalCount $ac_total but $ac_rows ASSET_COUNT notifications stored"
    a100_rows=$($q "$cfg" - - "SELECT count(*) FROM notifications WHERE notification_id LIKE 'a100-%'")
    a100_assign=$($q "$cfg" - - "SELECT count(*) FROM assignments WHERE adam_id = '361309726'")
    a100_counted=$($q "$cfg" - - "SELECT assigned_count FROM assets WHERE adam_id = '361309726'")
    [ "$a100_assign" = $((a100_rows * 100)) ] || die "$cfg: $a100_assign assignments for $a100_rows notifications of 100"
    [ "$a100_counted" = "$a100_assign" ] || die "$cfg: assignedCount $a100_counted but $a100_assign rows"
    dup_seen=$($q "$cfg" - - "SELECT count(*) FROM notification_repeats WHERE notification_id LIKE 'ac-%'")
    dup_ok=$(jq '.raw.requests - .raw.non_2xx' "$T/$cfg.duplicates.json")
    [ "$dup_seen" -ge "$dup_ok" ] || die "$cfg: $dup_ok duplicates answered 2xx but only $dup_seen counted"
    echo "   every 'applied' answer is stored once; counts consistent"
}
# q_sqlite CONFIG TABLE FILE SQL / q_pg CONFIG TABLE FILE SQL: run SQL, after loading FILE's
# lines into TABLE(id) when TABLE is not '-'.
q_sqlite() {
    if [ "$2" != - ]; then
        sqlite3 -batch "$T/sqlite.db" "CREATE TABLE IF NOT EXISTS $2(id TEXT); DELETE FROM $2;"
        sqlite3 -batch "$T/sqlite.db" ".import $3 $2"
    fi
    sqlite3 -batch -noheader "$T/sqlite.db" "$4"
}
q_pg() {
    if [ "$2" != - ]; then
        bash "$CLUSTER" psql "$PG" -c "CREATE TABLE IF NOT EXISTS \"$1\".$2(id text COLLATE \"C\"); TRUNCATE \"$1\".$2"
        bash "$CLUSTER" psql "$PG" -c "\\copy \"$1\".$2(id) FROM '$3'"
    fi
    psql_q "SET search_path = \"$1\"; $4" | tail -n1
}

# ---- the run -------------------------------------------------------------------------------

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

serve_start sqlite "$T/sqlite.db" 1
scenarios sqlite "http://${ADDRS[0]}"
serve_stop

serve_start pg1_direct "$PGURL&schema=pg1_direct" 1
scenarios pg1_direct "http://${ADDRS[0]}"
serve_stop

P=$(free_port)
serve_start pg1_nginx "$PGURL&schema=pg1_nginx" 1
nginx_start pg1_nginx "$P" "${ADDRS[@]}"
scenarios pg1_nginx "http://127.0.0.1:$P"
nginx_stop
serve_stop

P=$(free_port)
serve_start pg3_nginx "$PGURL&schema=pg3_nginx" 3
nginx_start pg3_nginx "$P" "${ADDRS[@]}"
scenarios pg3_nginx "http://127.0.0.1:$P"
nginx_stop
serve_stop

P=$(free_port)
nginx_start ceiling "$P"
wrk -t "$WRK_THREADS" -c 16 -d 2s -s bench/notify.lua "http://127.0.0.1:$P" -- asset_count $UID1 "$TOKEN" warm >/dev/null
run ceiling asset_count "http://127.0.0.1:$P" 64 asset_count ceil
nginx_stop

check sqlite q_sqlite
for cfg in pg1_direct pg1_nginx pg3_nginx; do check "$cfg" q_pg; done

# ---- results -------------------------------------------------------------------------------

cfgjson() { # CONFIG: {asset_count, assignments100, duplicates}
    jq -n --slurpfile ac "$T/$1.asset_count.json" --slurpfile a "$T/$1.assignments100.json" \
        --slurpfile d "$T/$1.duplicates.json" \
        '{asset_count: ($ac[0] | del(.raw)), assignments100: ($a[0] | del(.raw)), duplicates: ($d[0] | del(.raw))}'
}
mkdir -p "$OUT"
jq -n --argjson sqlite "$(cfgjson sqlite)" --argjson pg1d "$(cfgjson pg1_direct)" \
    --argjson pg1 "$(cfgjson pg1_nginx)" --argjson pg3 "$(cfgjson pg3_nginx)" \
    --slurpfile ceil "$T/ceiling.asset_count.json" \
    --arg when "$(date -u +%FT%TZ)" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg cpus "$JOBS" --arg secs "$SECS" --arg pgv "$PG_VERSION" --arg dur "$PG_DURABILITY" \
    --arg load0 "$LOAD0" --arg load1 "$(cut -d' ' -f1-3 /proc/loadavg)" '{
    configs: {sqlite: $sqlite, pg1_direct: $pg1d, pg1_nginx: $pg1, pg3_nginx: $pg3,
              ceiling: {asset_count: ($ceil[0] | del(.raw))}},
    run: {at: $when, commit: $commit, cpus: ($cpus | tonumber), seconds_per_scenario: ($secs | tonumber),
          postgresql: $pgv, postgresql_durability: $dur, loadavg_before: $load0, loadavg_after: $load1}
}' >"$OUT/pg.json"

jq -r '
  def row(c; n): .configs[c][n] as $s | if $s == null then empty else
    "| \(c) | \(n) | \($s.notifications_per_s) | \($s.rows_per_s) | \($s.p50_ms) | \($s.p99_ms) | \($s.non_2xx) | \($s.pg_commits_per_s // "–") | \($s.mean_batch // "–") | \($s.cpu_s.vppnotify) | \($s.cpu_s.postgresql) | \($s.cpu_s.nginx) | \($s.cpu_s.machine) / \($s.cpu_s.seconds) |" end;
  "# Benchmark results: PostgreSQL\n",
  "Run \(.run.at) at commit \(.run.commit) on \(.run.cpus) CPUs, \(.run.seconds_per_scenario) s per scenario, PostgreSQL \(.run.postgresql) (\(.run.postgresql_durability)), load average \(.run.loadavg_before) before, \(.run.loadavg_after) after. Produced by `make bench BACKEND=postgresql` (bench/pg.sh); see docs/PERFORMANCE.md.\n",
  "| config | scenario | notifications/s | rows/s | p50 ms | p99 ms | non-2xx | PG commits/s | mean batch | CPU s vppnotify | CPU s PostgreSQL | CPU s nginx | CPU s machine / wall s |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  (["sqlite", "pg1_direct", "pg1_nginx", "pg3_nginx", "ceiling"][] as $c |
   ["asset_count", "assignments100", "duplicates"][] as $n | row($c; $n)),
  "\nGoal (issue 13): one instance ≥ 10,000 notifications/s; 3 instances no slower than 1."
' "$OUT/pg.json" >"$OUT/pg.md"
echo
cat "$OUT/pg.md"
