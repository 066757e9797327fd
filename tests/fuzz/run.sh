#!/usr/bin/env bash
# Run every libFuzzer harness of a VN_FUZZ build for a bounded time.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# Each BUILD_DIR/tests/fuzz/fuzz_<name> runs for SECONDS with -max_len=65536 -timeout=10
# -rss_limit_mb=2048 and tests/fuzz/<name>.dict when there is one, on a scratch corpus
# BUILD_DIR/fuzz-corpus/<name>/ seeded from tests/fuzz/corpus/<name>/. What the fuzzer finds
# stays in the scratch copy, which grows from run to run; the committed corpus changes only
# when someone chooses to copy entries back. Crashes go to BUILD_DIR/fuzz-artifacts/<name>/.
#
# Exit status: 0 when every harness ran clean, 1 when one failed, 2 on a usage error.
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
}

[ $# -eq 2 ] || usage
build=$1
secs=$2
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: SECONDS must be a positive integer, got '$secs'" >&2
    usage
fi
if [ ! -d "$build/tests/fuzz" ]; then
    echo "run.sh: no '$build/tests/fuzz': build with -DVN_FUZZ=ON first" >&2
    exit 2
fi
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

harnesses=()
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] && harnesses+=("$bin")
done
if [ ${#harnesses[@]} -eq 0 ]; then
    echo "run.sh: no fuzz_* harness in '$build/tests/fuzz'" >&2
    exit 2
fi

failed=()
for bin in "${harnesses[@]}"; do
    name=${bin##*/fuzz_}
    scratch=$build/fuzz-corpus/$name
    artifacts=$build/fuzz-artifacts/$name
    mkdir -p "$scratch" "$artifacts"
    if [ -d "$here/corpus/$name" ]; then
        cp -R "$here/corpus/$name/." "$scratch/"
    fi
    args=(-max_len=65536 -timeout=10 -rss_limit_mb=2048 -max_total_time="$secs"
          -print_final_stats=1 -artifact_prefix="$artifacts/")
    if [ -f "$here/$name.dict" ]; then
        args+=(-dict="$here/$name.dict")
    fi
    echo "run.sh: fuzz_$name for ${secs}s on $scratch ($(find "$scratch" -type f | wc -l) inputs)"
    if "$bin" "${args[@]}" "$scratch"; then
        echo "run.sh: fuzz_$name ran clean"
    else
        echo "run.sh: fuzz_$name FAILED: see $artifacts/" >&2
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "run.sh: ${#harnesses[@]} harness(es) ran clean for ${secs}s each"
