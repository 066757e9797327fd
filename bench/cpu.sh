#!/usr/bin/env bash
# `make bench-cpu`: instructions per notification (parse + dedupe + apply + ledger, group
# commits) counted by callgrind on a fixed input set: repeatable, whatever else the machine
# does. With --quiet prints only the asset_count figure (bench/run.sh puts it in latest.json).
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
[ "${1:-}" = --quiet ] && quiet=1
N=${BENCH_CPU_N:-2000}

if [ ! -x build-release/bench/vn_cpu ]; then
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVN_TESTS=OFF >/dev/null
    cmake --build build-release -j "$(nproc)" --target vn_cpu >/dev/null
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vn-cpu.XXXXXX")
trap 'rm -rf "$T"' EXIT

measure() { # kind n → instructions per notification
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$T/cg.$1" \
        build-release/bench/vn_cpu "$T/$1.db" "$1" "$2" >/dev/null 2>"$T/vg.$1" ||
        { cat "$T/vg.$1" >&2; return 1; }
    awk -v n="$2" '/^totals:/ { printf "%d", $2 / n }' "$T/cg.$1"
}

ac=$(measure asset_count "$N")
if [ $quiet = 1 ]; then
    echo "$ac"
    exit 0
fi
a100=$(measure assignments100 $((N / 10)))
dup=$(measure duplicates "$N")
printf 'instructions per notification (callgrind, N=%s):\n' "$N"
printf '  asset_count      %12s\n  assignments100   %12s  (%s per assignment)\n  duplicates       %12s\n' \
    "$ac" "$a100" "$((a100 / 100))" "$dup"
