#!/usr/bin/env bash
# Store URLs (docs/STORE.md): backend parameters after '?', the command-line options as
# parameters beneath them, and a misspelt parameter refused by name before anything is opened.
source "$(dirname "$0")/lib.sh"

# A parameter the backend does not take: an error that names it; no database is created.
rc=0
"$VPPNOTIFY" notifications --db "sqlite:$T/new.db?busy_timout=1s" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "an unknown store parameter was accepted"
assert_contains "$T/err" "unknown parameter 'busy_timout'" "the error names the parameter"
assert_contains "$T/err" "busy_timeout, max_size" "the error says what sqlite takes"
[ ! -e "$T/new.db" ] || fail "a database was created for a refused URL"
rc=0
"$VPPNOTIFY" notifications --db "$T/new.db?max_size=lots" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a bad max_size was accepted"
assert_contains "$T/err" "max_size 'lots' is not a size" "the error quotes the value"
ok "bad store URLs are refused by name"

# The URL's parameters configure the backend (serve logs them at start) ...
export VN_DB="sqlite:$T/vn.db?busy_timeout=300ms&max_size=2M"
vn_serve_start
assert_contains "$T/serve.log" "busy_timeout=300ms max_size=2097152" "URL parameters in effect"
vn_serve_stop
# ... the options --db-busy-timeout / --max-db-size still work, as parameters beneath them ...
: >"$T/serve.log"
VN_DB="$T/vn.db" vn_serve_start --db-busy-timeout 1500ms --max-db-size 400K
assert_contains "$T/serve.log" "busy_timeout=1500ms max_size=409600" "options in effect"
vn_serve_stop
# ... and the URL wins over them.
: >"$T/serve.log"
VN_DB="$T/vn.db?busy_timeout=2s" vn_serve_start --db-busy-timeout 1500ms --max-db-size 400K
assert_contains "$T/serve.log" "busy_timeout=2s max_size=409600" "the URL's parameter wins"
vn_serve_stop
# The other commands take the same URL.
VN_DB="sqlite:$T/vn.db?busy_timeout=300ms" vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'length' '0' "a query through a URL with parameters"
ok "store URL parameters and the options beneath them"
