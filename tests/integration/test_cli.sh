#!/usr/bin/env bash
# The command line: --help everywhere, exit codes 0/1/2, one-line errors quoting the value,
# and docs/CLI.md in step with the option table.
source "$(dirname "$0")/lib.sh"

"$VPPNOTIFY" --help >"$T/h" || fail "--help exit status"
cmds=$(sed -n 's/^  \([a-z-]*\( [a-z-]*\)\?\)  .*/\1/p' "$T/h" | sed 's/ *$//')
[ "$(echo "$cmds" | wc -l)" -ge 12 ] || fail "--help lists too few commands: $cmds"
while read -r cmd; do
    # shellcheck disable=SC2086
    "$VPPNOTIFY" $cmd --help >"$T/ch" || fail "'$cmd --help' exit status"
    assert_contains "$T/ch" "usage: vppnotify $cmd" "'$cmd --help' usage line"
done <<<"$cmds"
ok "--help on every command ($(echo "$cmds" | wc -l) commands)"

rc=0; "$VPPNOTIFY" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "no command"
rc=0; "$VPPNOTIFY" frobnicate 2>"$T/e" || rc=$?
assert_eq "$rc" 2 "unknown command"
assert_contains "$T/e" "unknown command 'frobnicate'" "message"
rc=0; "$VPPNOTIFY" assets --bogus 2>"$T/e" || rc=$?
assert_eq "$rc" 2 "unknown option"
assert_contains "$T/e" "unknown option '--bogus'" "message"
rc=0; "$VPPNOTIFY" serve --max-body 12Q 2>"$T/e" || rc=$?
assert_eq "$rc" 2 "bad size"
assert_contains "$T/e" "'--max-body' value '12Q'" "value quoted"
rc=0; "$VPPNOTIFY" serve --threads 9999 2>"$T/e" || rc=$?
assert_eq "$rc" 2 "out of range"
assert_contains "$T/e" "'--threads' value '9999' is outside 0..256" "limit quoted"
rc=0; "$VPPNOTIFY" notifications --state maybe 2>"$T/e" || rc=$?
assert_eq "$rc" 2 "bad choice"
assert_contains "$T/e" "expected one of applied|stored" "choices listed"
rc=0; "$VPPNOTIFY" location 2>/dev/null >"$T/o" || rc=$?
assert_eq "$rc" 2 "group without subcommand"
assert_contains "$T/o" "location add" "group lists its subcommands"
[ "$(wc -l <"$T/e")" -eq 1 ] || fail "errors are one line"
ok "usage errors exit 2 with one line quoting the value"

rc=0; vn_cli location remove --uid nope 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "failure"
rc=0; VPPNOTIFY_DB=/nonexistent/dir/x.db "$VPPNOTIFY" assets 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "unopenable database"
assert_contains "$T/e" "/nonexistent/dir/x.db" "path quoted"
ok "failures exit 1 and name what failed"

vn_cli location add --uid 7 --name seven >/dev/null 2>&1
vn_cli assets >"$T/t" 2>"$T/e"
assert_contains "$T/e" "0 rows" "empty table"
vn_cli location list >"$T/t" 2>/dev/null
assert_contains "$T/t" "seven" "table output"
head -n1 "$T/t" | grep -q "uId *name *tokenCount" || fail "table header: $(head -n1 "$T/t")"
printf 'json = true\n' >"$T/cfg"
vn_cli location list --config "$T/cfg" >"$T/j"
assert_json "$T/j" '.[0].name' '"seven"' "--config file sets options"
ok "tables by default, --json, --config"

"$VPPNOTIFY" help --markdown >"$T/CLI.md"
if ! diff -u "$VN_SOURCE_DIR/docs/CLI.md" "$T/CLI.md" >"$T/diff"; then
    head -n 40 "$T/diff" >&2
    fail "docs/CLI.md is stale: run 'build/src/cli/vppnotify help --markdown > docs/CLI.md'"
fi
ok "docs/CLI.md matches the option table"
