#!/usr/bin/env bash
# House-style gates that a compiler does not check (docs/house-style.md), run by `make test`:
#   - no banned calls (sprintf, strcpy, strcat, strtok, atoi, atol, rand, gets);
#   - SQL only in the store's backends (src/lib/store/<backend>/) and vppsim's own store;
#   - every C file formatted by clang-format (.clang-format).
# Exit 1 with the offending lines on a violation.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include sim tests bench -name '*.[ch]')

banned=$(grep -nE '(^|[^_[:alnum:]])(sprintf|strcpy|strcat|strtok|atoi|atol|rand|gets)[[:space:]]*\(' \
    $files | grep -vE 'snprintf|vsnprintf' || true)
if [ -n "$banned" ]; then
    echo "checksrc: banned calls (use the bounded, checked forms):"
    echo "$banned"
    fail=1
fi

sql=$(grep -nE '"[[:space:]]*(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE TABLE)[[:space:]]' \
    $(echo "$files" | grep -E '^src/' | grep -vE '^src/lib/store/[a-z]+/' ) || true)
if [ -n "$sql" ]; then
    echo "checksrc: SQL outside the store's backends (src/lib/store/<backend>/):"
    echo "$sql"
    fail=1
fi

if command -v clang-format >/dev/null; then
    if ! clang-format --dry-run -Werror $files 2>"${TMPDIR:-/tmp}/checksrc.$$"; then
        echo "checksrc: files not formatted (run 'make format'):"
        grep -oE '^[^:]+\.[ch]' "${TMPDIR:-/tmp}/checksrc.$$" | sort -u
        fail=1
    fi
    rm -f "${TMPDIR:-/tmp}/checksrc.$$"
else
    echo "checksrc: clang-format not found; formatting not checked"
fi
[ $fail = 0 ] && echo "checksrc: ok ($(echo "$files" | wc -l) files)"
exit $fail
