#!/usr/bin/env bash
# Token files: refused when group/world may read them; tokens never in logs or in the database.
source "$(dirname "$0")/lib.sh"

UID1=2049025000431439
(umask 022 && printf 'loose-token-0123456789abcdef\n' >"$T/loose.token")
rc=0
vn_cli location add --uid $UID1 --token-file "$T/loose.token" 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "exit status"
assert_contains "$T/err" "is accessible by group or others (mode 0644)" "clear refusal"
assert_contains "$T/err" "chmod 600 '$T/loose.token'" "says how to fix it"
if [ -e "$T/vn.db" ]; then
    vn_cli location list --json >"$T/l.json"
    assert_json "$T/l.json" 'length' '0' "nothing created"
fi
ok "a token file with group/world permissions is refused"

chmod 600 "$T/loose.token"
vn_cli location add --uid $UID1 --token-file "$T/loose.token" 2>"$T/err"
TOKEN=$(cat "$T/loose.token")
# A generated token is printed once, on stdout only.
vn_cli location add --uid 42 >"$T/gen.out" 2>"$T/gen.err"
GEN=$(cat "$T/gen.out")
[ ${#GEN} -eq 43 ] || fail "generated token has ${#GEN} characters, expected 43"
assert_not_contains "$T/gen.err" "$GEN" "token not repeated on stderr"

vn_serve_start --log-level debug
body_test s-1 $UID1 >"$T/t.json"
assert_eq "$(vn_post "$T/t.json" "$TOKEN")" 200 "authenticated"
printf 'not json' >"$T/bad"
vn_post "$T/bad" "$TOKEN" >/dev/null
body_test s-2 42 >"$T/t2.json"
assert_eq "$(vn_post "$T/t2.json" "$GEN")" 200 "generated token works"
curl -sS -o /dev/null -X POST "$VN_URL/notifications" -H "Authorization: Bearer $TOKEN-wrong" -d '{}'
vn_serve_stop
for secret in "$TOKEN" "$GEN"; do
    assert_not_contains "$T/serve.log" "$secret" "token in the daemon log"
    if grep -qaF -- "$secret" "$T/vn.db" "$T"/vn.db-wal 2>/dev/null; then
        fail "a token is stored in clear in the database"
    fi
done
assert_not_contains "$T/serve.log" "Authorization" "Authorization header in the log"
assert_not_contains "$T/serve.log" "not json" "a body in the log"
perm=$(stat -c %a "$T/vn.db")
assert_eq "$perm" 600 "database file mode"
ok "tokens never appear in logs or in the database; the database is 0600"
