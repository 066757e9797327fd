#!/usr/bin/env bash
# The command line as a user meets it: -h, --help and `vppnotify help CMD` everywhere, exit
# codes 0/1/2, one-line errors quoting the value, "did you mean" for mistyped commands,
# subcommands and options, a missing database named with where it was looked for (and never
# created by a read command), and docs/CLI.md in step with the option table.
source "$(dirname "$0")/lib.sh"

# ---- help everywhere ---------------------------------------------------------------------------

"$VPPNOTIFY" --help >"$T/h" || fail "--help exit status"
# Command names: the lines "  name  summary" of the overview (continuations are indented more).
cmds=$(sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)\?\)  .*/\1/p' "$T/h" | sed 's/ *$//')
[ "$(echo "$cmds" | wc -l)" -ge 15 ] || fail "--help lists too few commands: $cmds"
while read -r cmd; do
    # shellcheck disable=SC2086
    "$VPPNOTIFY" $cmd --help >"$T/ch" || fail "'$cmd --help' exit status"
    assert_contains "$T/ch" "usage: vppnotify $cmd" "'$cmd --help' usage line"
    # shellcheck disable=SC2086
    "$VPPNOTIFY" $cmd -h >"$T/ch2" || fail "'$cmd -h' exit status"
    cmp -s "$T/ch" "$T/ch2" || fail "'$cmd -h' differs from '$cmd --help'"
    # shellcheck disable=SC2086
    "$VPPNOTIFY" help $cmd >"$T/ch3" || fail "'help $cmd' exit status"
    cmp -s "$T/ch" "$T/ch3" || fail "'help $cmd' differs from '$cmd --help'"
    awk -v c="$cmd" 'length($0) > 100 { print "help of " c " wider than 100: " $0; bad = 1 }
                     END { exit bad }' "$T/ch" || fail "'$cmd --help' fits 100 columns"
done <<<"$cmds"
awk 'length($0) > 100 { print; bad = 1 } END { exit bad }' "$T/h" || fail "overview fits 100"
"$VPPNOTIFY" -h | cmp -s - "$T/h" || fail "'vppnotify -h' is the overview"
"$VPPNOTIFY" help | cmp -s - "$T/h" || fail "'vppnotify help' is the overview"
"$VPPNOTIFY" help location >"$T/g" || fail "'help location' exit status"
assert_contains "$T/g" "location rotate-token" "'help location' lists the subcommands"
ok "-h, --help and 'help CMD' on every command ($(echo "$cmds" | wc -l) commands), 100 columns"

# ---- usage errors: exit 2, one line, the value quoted, the nearest name suggested ---------------

# usage_error EXPECTED_TEXT ARGS...: exit 2 and exactly one stderr line containing the text.
usage_error() {
    local want=$1 rc=0
    shift
    "$VPPNOTIFY" "$@" >"$T/o" 2>"$T/e" || rc=$?
    assert_eq "$rc" 2 "exit status of 'vppnotify $*'"
    [ "$(wc -l <"$T/e")" -eq 1 ] || fail "'vppnotify $*': one error line, got: $(cat "$T/e")"
    assert_contains "$T/e" "$want" "'vppnotify $*'"
}

rc=0; "$VPPNOTIFY" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "no command"
usage_error "unknown command 'frobnicate' (see 'vppnotify help')" frobnicate
usage_error "unknown command 'asets'; did you mean 'vppnotify assets'?" asets
usage_error "unknown command 'notifcations'; did you mean 'vppnotify notifications'?" notifcations
usage_error "unknown command 'locaton'; did you mean 'vppnotify location'?" locaton list
usage_error "unknown subcommand 'location ad'; did you mean 'vppnotify location add'?" location ad
usage_error "unknown subcommand 'location rotate'; did you mean 'vppnotify location rotate-token'?" \
    location rotate
usage_error "unexpected argument 'assoicate'; did you mean 'vppnotify assets associate'?" \
    assets assoicate
usage_error "unknown option '--jsn'; did you mean '--json'?" assets --jsn
usage_error "unknown option '--adam'; did you mean '--adam-id'?" assets --adam 1
usage_error "unknown option '--max-bdy'; did you mean '--max-body'?" serve --max-bdy 1M
usage_error "option '--serial' does not apply to this command" assets --serial X
usage_error "unknown option '--bogus'" assets --bogus
usage_error "'--db' before the command" --db x.db assets
usage_error "unknown command 'nothing'" help nothing
usage_error "'--max-body' value '12Q'" serve --max-body 12Q
usage_error "'--threads' value '9999' is outside 0..256" serve --threads 9999
usage_error "expected one of applied|stored" notifications --state maybe
rc=0; "$VPPNOTIFY" location 2>"$T/e" >"$T/o" || rc=$?
assert_eq "$rc" 2 "group without subcommand"
assert_contains "$T/e" "location add" "group lists its subcommands"
ok "usage errors exit 2 with one line quoting the value, and suggest the nearest name"

# ---- failures exit 1; a missing database is explained and never created -------------------------

rc=0; vn_cli location remove --uid nope 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "remove on a missing database"
assert_not_contains "$T/e" "no location" "a missing database is found before the location"
mkdir "$T/empty"
for read_cmd in assets users events notifications "location list" quarantine; do
    rc=0
    # shellcheck disable=SC2086
    (cd "$T/empty" && "$VPPNOTIFY" $read_cmd) >/dev/null 2>"$T/e" || rc=$?
    assert_eq "$rc" 1 "'$read_cmd' without a database"
    assert_contains "$T/e" "no database at './vppnotify.db' (looked for $T/empty/vppnotify.db; the default, as neither --db nor VPPNOTIFY_DB is set)" \
        "'$read_cmd' says where it looked and why"
    assert_contains "$T/e" "--db PATH or VPPNOTIFY_DB=PATH" "'$read_cmd' says how to point elsewhere"
    [ "$(wc -l <"$T/e")" -eq 1 ] || fail "one line: $(cat "$T/e")"
done
[ -z "$(ls -A "$T/empty")" ] || fail "a read command created files: $(ls -A "$T/empty")"
rc=0; VPPNOTIFY_DB=$T/nowhere/x.db "$VPPNOTIFY" assets 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "missing database from the environment"
assert_contains "$T/e" "no database at '$T/nowhere/x.db' (looked for $T/nowhere/x.db; from VPPNOTIFY_DB)" \
    "names VPPNOTIFY_DB"
rc=0; (cd "$T/empty" && "$VPPNOTIFY" users --db rel.db) 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "missing database from --db"
assert_contains "$T/e" "no database at 'rel.db' (looked for $T/empty/rel.db; from --db)" "names --db"
printf 'db = %s\n' "$T/empty/cfg.db" >"$T/cfgdb"
rc=0; "$VPPNOTIFY" events --config "$T/cfgdb" 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "missing database from a config file"
assert_contains "$T/e" "from config file '$T/cfgdb'" "names the config file"
rc=0; "$VPPNOTIFY" replay --db "$T/empty/w.db" 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "replay on a missing database"
assert_contains "$T/e" "no database at '$T/empty/w.db'" "replay does not create one either"
[ -z "$(ls -A "$T/empty")" ] || fail "a command created files: $(ls -A "$T/empty")"
ok "a missing database: exit 1, where it was looked for and why, nothing created"

# ---- tables: 100 columns by default, every column with --wide -----------------------------------

long_uid=2049025000431439
tf=$(vn_new_location "$long_uid" "Main campus of a school district with a long name")
vn_serve_start
tok=$(cat "$tf")
for f in "$VN_FIXTURES"/seed/*.json; do
    vn_post "$f" "$tok" >/dev/null
done
# A few more with long values: an unknown product, users with long e-mail addresses.
body_asset_count "$(cat /proc/sys/kernel/random/uuid)" "$long_uid" 1234567890 5 >"$T/b1"
vn_post "$T/b1" "$tok" >/dev/null
printf '{"notificationId":"%s","notificationType":"USER_MANAGEMENT","uId":"%s","notification":{"type":"CREATE","result":"SUCCESS","eventId":"%s","users":[{"clientUserId":"a-rather-long-client-user-id-0001","email":"first.last.with.a.long.name@district.example.org","status":"Registered","inviteCode":"f551b37da07146628e8dcbe0111f0364","idHash":"leSKk3IaE2vk2KLmv2k3/200D3="}]}}' \
    "$(cat /proc/sys/kernel/random/uuid)" "$long_uid" "$(cat /proc/sys/kernel/random/uuid)" >"$T/b2"
vn_post "$T/b2" "$tok" >/dev/null
vn_serve_stop

wide_cmds=$(while read -r cmd; do
    # shellcheck disable=SC2086
    # (into a file first: grep -q would stop reading early, and pipefail count the SIGPIPE)
    # (a failure said here: a command substitution does not stop the script with set -e)
    "$VPPNOTIFY" $cmd -h >"$T/wh" 2>"$T/whe" || fail "'$cmd -h' failed: $(cat "$T/whe")"
    if grep -q -- '--wide' "$T/wh"; then echo "$cmd"; fi
done <<<"$cmds")
[ -n "$wide_cmds" ] || fail "no command's help lists --wide (or a help failed)"
grep -qx events <<<"$wide_cmds" || fail "events takes --wide"
grep -qx "location list" <<<"$wide_cmds" || fail "location list takes --wide"
grep -qx sync <<<"$wide_cmds" || fail "sync takes --wide"
checked=0
while read -r cmd; do
    [ "$cmd" = sync ] && continue # needs Apple: test_demo.sh checks its table
    # shellcheck disable=SC2086
    vn_cli $cmd >"$T/t" 2>"$T/e" || fail "'$cmd' failed: $(cat "$T/e")"
    awk -v c="$cmd" 'length($0) > 100 { print c " is wider than 100 columns: " $0; bad = 1 }
                     END { exit bad }' "$T/t" || fail "'$cmd' table fits 100 columns"
    # shellcheck disable=SC2086
    vn_cli $cmd --json >"$T/j" 2>/dev/null || fail "'$cmd --json'"
    [ "$(jq length "$T/j")" -gt 0 ] || continue
    # shellcheck disable=SC2086
    vn_cli $cmd --wide >"$T/w" 2>"$T/we" || fail "'$cmd --wide'"
    # Every key of the first JSON object is a column of the wide table (a nested one by its
    # path below the top: "counts.available.renewing" is the column "available.renewing").
    for key in $(jq -r '.[0] | to_entries[] | if (.value | type) == "object"
                        then .value | paths(scalars) | map(tostring) | join(".") else .key end' "$T/j"); do
        head -n1 "$T/w" | tr -s ' ' '\n' | grep -qxF -- "$key" || fail "'$cmd --wide' has no column $key"
    done
    [ "$(wc -l <"$T/w")" -eq "$(wc -l <"$T/t")" ] || fail "'$cmd --wide' has the same rows"
    checked=$((checked + 1))
done <<<"$wide_cmds"
[ "$checked" -ge 6 ] || fail "only $checked table commands had rows to check"
vn_cli events >"$T/t" 2>"$T/e"
assert_contains "$T/e" "more columns with --wide or --json" "events says how to see the rest"
head -n1 "$T/t" | grep -q '^eventId *uId *type *status *succeeded *failed$' ||
    fail "events default columns: $(head -n1 "$T/t")"
vn_cli location list >"$T/t" 2>/dev/null
head -n1 "$T/t" | grep -q "^uId *name *tokenCount" || fail "table header: $(head -n1 "$T/t")"
assert_contains "$T/t" "Main campus" "location name shown"
vn_cli location list --wide >"$T/w" 2>/dev/null
assert_contains "$T/w" "Main campus of a school district with a long name" "--wide shows it whole"
printf 'json = true\n' >"$T/cfg"
vn_cli location list --config "$T/cfg" >"$T/j"
assert_json "$T/j" '.[0].name' '"Main campus of a school district with a long name"' \
    "--config file sets options"
ok "tables fit 100 columns ($checked commands), --wide shows every column, --json every key"

# ---- serve: a busy address, a second serve on the same database ---------------------------------

vn_serve_start
first=$VN_SERVE_PID
rc=0
"$VPPNOTIFY" serve --db "$T/other.db" --listen "$VN_ADDR" --api-listen off --ready-file "$T/ready2" \
    >"$T/busy.out" 2>"$T/busy" || rc=$?
assert_eq "$rc" 1 "serve on a busy address"
assert_contains "$T/busy" "vppnotify: serve: cannot listen on $VN_ADDR: bind: Address already in use" \
    "names the real address and bind's reason"
assert_not_contains "$T/busy" "port 0" "no 'port 0'"
[ -n "${VN_API_ADDR:-}" ] || fail "serve announced no API address"
rc=0
"$VPPNOTIFY" serve --db "$T/other.db" --listen 127.0.0.1:0 --api-listen "$VN_API_ADDR" \
    --ready-file "$T/ready4" >"$T/busy.out" 2>"$T/busy" || rc=$?
assert_eq "$rc" 1 "serve with a busy --api-listen"
assert_contains "$T/busy" "--api-listen: cannot listen on $VN_API_ADDR: bind: Address already in use" \
    "names the API listener's address and bind's reason"
rc=0
"$VPPNOTIFY" serve --db "$T/vn.db" --listen 127.0.0.1:0 --api-listen off --ready-file "$T/ready3" \
    >"$T/second.out" 2>"$T/second" || rc=$?
assert_eq "$rc" 1 "second serve on the same database"
assert_contains "$T/second" "another vppnotify serve (pid $first) already uses database '$T/vn.db'" \
    "names the first serve's pid"
assert_contains "$T/second" "$T/vn.db.lock" "names the lock file"
[ ! -e "$T/ready3" ] || fail "the refused serve wrote a ready file"
curl -sf "$VN_URL/healthz" >/dev/null || fail "the first serve still answers"
vn_serve_stop
vn_serve_start # the lock went with the first serve
vn_serve_stop
ok "serve names the busy address and bind's errno; a second serve on one database names the first's pid"

# ---- docs/CLI.md ------------------------------------------------------------------------------

"$VPPNOTIFY" help --markdown >"$T/CLI.md"
if ! diff -u "$VN_SOURCE_DIR/docs/CLI.md" "$T/CLI.md" >"$T/diff"; then
    head -n 40 "$T/diff" >&2
    fail "docs/CLI.md is stale: run 'build/src/cli/vppnotify help --markdown docs/CLI.md'"
fi
ok "docs/CLI.md matches the option table"
