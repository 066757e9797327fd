#!/usr/bin/env bash
# docs/API.md's examples work: every ```sh block of the page runs against a live serve (with
# API, KEY and UID1 set, as the page says), exits 0, and what it prints is JSON.
. "$(dirname "$0")/lib.sh"

UID1=2049025000431439 # the uId of Apple's examples
tok=$(vn_new_location $UID1 examples)
vn_serve_start
for f in "$VN_FIXTURES"/seed/*.json; do
    case "$(basename "$f")" in envelope-schematic.json) continue ;; esac
    vn_post "$f" "$(cat "$tok")" >/dev/null
done
KEY=$(vn_cli api-key add --name docs --scope read 2>/dev/null)

# The ```sh blocks, one file each.
awk -v dir="$T" '
    /^```sh$/ { n++; file = sprintf("%s/example.%02d.sh", dir, n); inside = 1; next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }
' "$VN_SOURCE_DIR/docs/API.md"
count=$(ls "$T"/example.*.sh 2>/dev/null | wc -l)
[ "$count" -ge 3 ] || fail "docs/API.md has $count sh examples; expected several"
for ex in "$T"/example.*.sh; do
    rc=0
    API=$VN_API_URL KEY=$KEY UID1=$UID1 bash -euo pipefail "$ex" >"$ex.out" 2>"$ex.err" || rc=$?
    [ $rc = 0 ] || fail "docs/API.md example $(basename "$ex") exits $rc: $(head -c 300 "$ex.err")
$(cat "$ex")"
    [ -s "$ex.out" ] || fail "docs/API.md example $(basename "$ex") printed nothing"
    jq -e . "$ex.out" >/dev/null 2>&1 ||
        fail "docs/API.md example $(basename "$ex") did not print JSON: $(head -c 300 "$ex.out")"
done
ok "the $count sh examples of docs/API.md run and print JSON"
vn_serve_stop
