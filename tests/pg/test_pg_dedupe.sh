#!/usr/bin/env bash
# Issue 13, "three serve instances on one database": the same notificationId posted to all
# three at once, many times over: applied exactly once, every other answer a duplicate, and
# nothing counted twice in the mirror (contract section 9: every guarantee of section 2 across
# instances).
source "$(dirname "$0")/../integration/lib.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"

UID1=2049025000431439
ROUNDS=60
tok=$(vn_new_location $UID1)
TOKEN=$(cat "$tok")

# serve_n N: start instance N on the test's database; its address in URL[N].
declare -a URL PID
serve_n() {
    "$VPPNOTIFY" serve --db "$VN_DB" --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --ready-file "$T/ready.$1" \
        >>"$T/serve.$1.log" 2>&1 &
    PID[$1]=$!
    VN_PIDS+=("${PID[$1]}")
    wait_for 20 test -s "$T/ready.$1" || fail "instance $1 did not become ready (see $T/serve.$1.log)"
    grep -q "store: postgresql " "$T/serve.$1.log" || fail "instance $1 is not on PostgreSQL"
    URL[$1]="http://$(head -n1 "$T/ready.$1")/notifications"
}
for n in 1 2 3; do serve_n $n; done

# Every round: one body, posted to the three instances at the same moment; all rounds at once.
: >"$T/all.cfg"
for i in $(seq $ROUNDS); do
    body_asset_count "dup-$i" $UID1 7 1 >"$T/b.$i"
    for n in 1 2 3; do
        cfg_add "$T/all.cfg" "${URL[$n]}" "$T/b.$i" "$TOKEN" "$T/r.$i.$n" "$i $n %{http_code}"
    done
done
curl -sS --parallel --parallel-immediate --parallel-max $((ROUNDS * 3)) -K "$T/all.cfg" \
    >"$T/codes" 2>"$T/curl.err" || true
assert_eq "$(wc -l <"$T/codes")" $((ROUNDS * 3)) "answers"
assert_eq "$(awk '$3 != 200' "$T/codes" | wc -l)" 0 "answers other than 200 ($(awk '$3 != 200' "$T/codes" | head -3))"
for i in $(seq $ROUNDS); do
    applied=0 dup=0
    for n in 1 2 3; do
        case "$(jq -r .status "$T/r.$i.$n")" in
        applied) applied=$((applied + 1)) ;;
        duplicate) dup=$((dup + 1)) ;;
        *) fail "dup-$i on instance $n: $(cat "$T/r.$i.$n")" ;;
        esac
    done
    [ $applied = 1 ] && [ $dup = 2 ] || fail "dup-$i: applied $applied times, $dup duplicates"
done
ok "$ROUNDS ids, each posted to 3 instances at once: applied once, answered duplicate twice"

for n in 1 2 3; do
    VN_SERVE_PID=${PID[$n]}
    vn_serve_stop
done
vn_cli assets --adam-id 7 --json >"$T/a.json"
assert_json "$T/a.json" '.[0].totalCount' "$ROUNDS" "the mirror counted each id once"
vn_cli notifications --json >"$T/n.json"
assert_json "$T/n.json" 'length' "$ROUNDS" "one ledger row per id"
assert_json "$T/n.json" '[.[] | select(.duplicates != 2)] | length' '0' "two duplicates logged per id"
ok "the mirror and the ledger hold each notification once"
