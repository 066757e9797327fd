#!/usr/bin/env bash
# A/B of vppnotify builds or serve options: bench/run.sh's ingest scenarios (BENCH_QUICK=1)
# for each variant in turn, ROUNDS times, alternating, then the median of each figure per
# variant. On a shared machine one run of the same binary spreads ~10 % in its ratio to the
# ceiling (docs/PERFORMANCE.md, session 7): alternating rounds are the evidence, one run is not.
#
#   bench/ab.sh [-r ROUNDS] [-s SECONDS] NAME=BINARY[,SERVE OPTIONS] ...
#
#   bench/ab.sh -r 3 old=/tmp/old/vppnotify new=build-release/src/cli/vppnotify
#   bench/ab.sh epoll=build-release/src/cli/vppnotify,--event-loop\ epoll \
#               poll=build-release/src/cli/vppnotify
#
# ROUNDS defaults to 3, SECONDS (per scenario) to 8. Set BENCH_LOCK=FILE to hold flock(1) on
# FILE during each run (other measurements on the machine take the same lock). Each round's
# results stay in a temporary directory, printed at the end. Build the binaries first (a
# release build: cmake -DCMAKE_BUILD_TYPE=Release).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
SECS=8
usage() {
    sed -n '7,8p' "$0" | sed 's/^# *//' >&2
    exit 2
}
while getopts r:s:h opt; do
    case $opt in
    r) ROUNDS=$OPTARG ;;
    s) SECS=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
case $ROUNDS in '' | *[!0-9]* | 0) echo "ab: -r '$ROUNDS': a round count of 1 or more" >&2 && exit 2 ;; esac
case $SECS in '' | *[!0-9]* | 0) echo "ab: -s '$SECS': seconds, 1 or more" >&2 && exit 2 ;; esac

names=() bins=() opts=()
for v in "$@"; do
    name=${v%%=*}
    rest=${v#*=}
    [ "$name" != "$v" ] && [ -n "$name" ] || { echo "ab: '$v' is not NAME=BINARY[,OPTIONS]" >&2 && exit 2; }
    bin=${rest%%,*}
    opt=""
    [ "$bin" = "$rest" ] || opt=${rest#*,}
    [ -x "$bin" ] || { echo "ab: $name: '$bin' is not an executable" >&2 && exit 2; }
    names+=("$name") bins+=("$bin") opts+=("$opt")
done

D=$(mktemp -d "${TMPDIR:-/tmp}/vn-ab.XXXXXX")
for r in $(seq "$ROUNDS"); do
    for i in "${!names[@]}"; do
        out="$D/${names[$i]}.$r"
        run=(env BENCH_QUICK=1 BENCH_SECONDS="$SECS" BENCH_BIN="${bins[$i]}"
            BENCH_SERVE_ARGS="${opts[$i]}" BENCH_OUT="$out" bench/run.sh)
        [ -z "${BENCH_LOCK:-}" ] || run=(flock "$BENCH_LOCK" "${run[@]}")
        if ! "${run[@]}" >"$out.log" 2>&1; then
            echo "ab: ${names[$i]} round $r failed: $(tail -n 3 "$out.log")" >&2
            exit 1
        fi
        jq -r --arg n "${names[$i]}" --arg r "$r" '"\($n) round \($r): ratio \(.ratio_to_ceiling), bare \(.ratio_to_ceiling_bare), ceiling \(.scenarios.ceiling.notifications_per_s)/s, load \(.load_average.before) -> \(.load_average.after)"' "$out/latest.json"
    done
done

# The median of each figure per variant.
echo
echo "| variant | asset_count / ceiling | bare / ceiling | asset_count /s | bare /s | duplicates /s | vppnotify µs per ASSET_COUNT | mean batch |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for n in "${names[@]}"; do
    jq -s -r --arg n "$n" --arg secs "$SECS" '
        def med(f): map(f) | sort | if length % 2 == 1 then .[length / 2 | floor]
                    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def r3: . * 1000 | round / 1000;
        "| \($n) | \(med(.ratio_to_ceiling) | r3) | \(med(.ratio_to_ceiling_bare) | r3) | " +
        "\(med(.scenarios.asset_count.notifications_per_s) | round) | " +
        "\(med(.scenarios.asset_count_bare.notifications_per_s) | round) | " +
        "\(med(.scenarios.duplicates.notifications_per_s) | round) | " +
        "\(med(.scenarios.asset_count.cpu_s.vppnotify * 1e6 /
               (.scenarios.asset_count.notifications_per_s * ($secs | tonumber))) | . * 10 | round / 10) | " +
        "\(med(.scenarios.asset_count.cpu_s.mean_batch // 0) | . * 10 | round / 10) |"
    ' "$D/$n".*/latest.json
done
echo
echo "ab: $ROUNDS round(s) of each, $SECS s per scenario; results in $D"
