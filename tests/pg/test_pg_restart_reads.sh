#!/usr/bin/env bash
# Issue 13: after a PostgreSQL restart, serve's API answers its read routes at the first try.
# The restart leaves every idle pooled connection of the API broken while libpq still calls it
# good until it is used: the first read on each failed ("server closed the connection
# unexpectedly") and was answered 503. A read outside a transaction now reconnects and runs
# once more when it finds its connection lost (pg/exec.c); writes never do (docs/STORE.md).
#
# The API's pool is grown by parallel reads first; after each restart (the hard way, then a
# fast shutdown) as many parallel reads as serve has connections, then every read route once,
# must all answer 200. The 503 while the database is really down is test_pg_chaos's.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/lib_api.sh"
[ -n "${VN_TEST_PG:-}" ] || fail "needs VN_TEST_PG (run through ctest: pg.integration.*)"
CLUSTER=${VN_PG_CLUSTER:-$(dirname "$0")/cluster.sh}

pg_own_cluster

U=2049025000431439
tok=$(vn_new_location $U reads)
api_keys
vn_serve_start
for a in 1 2 3; do
    body_asset_count "ac-$a" $U "$a" 5 >"$T/b.json"
    assert_eq "$(vn_post "$T/b.json" "$(cat "$tok")")" 200 "ASSET_COUNT $a"
done
body_associate as-1 $U ev-1 1 S1 S2 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$(cat "$tok")")" 200 "an assignment"

ROUTES=(/v1 /v1/locations /v1/assets /v1/assignments /v1/users /v1/subscriptions
    /v1/subscription-assignments /v1/events /v1/notifications "/v1/changes?after=0")

# read_all N: N reads in parallel (the routes in turn), each one try; prints one status a line.
read_all() {
    local i pids=()
    for ((i = 0; i < $1; i++)); do
        curl -sS -o /dev/null -w '%{http_code} '"${ROUTES[i % ${#ROUTES[@]}]}"'\n' --max-time 30 \
            -H "Authorization: Bearer $READ_KEY" "$VN_API_URL${ROUTES[i % ${#ROUTES[@]}]}" &
        pids+=($!)
    done
    wait "${pids[@]}" || true # a failed curl prints 000: counted as not 200
}

# serve's connections to the cluster (writer, tracker, API key snapshot, the API's pool ...).
connections() {
    bash "$CLUSTER" psql "$PG" -qtAX -c \
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vppnotify'"
}

# Every route answers, and the API's pool holds several connections: N, serve's connections
# now (its pool's high-water mark, with the writer's, the tracker's, the key snapshot's ...), is
# how many reads each restart is followed by.
for round in 1 2 3; do
    read_all 12 >"$T/warm.$round"
    [ "$(grep -vc '^200 ' "$T/warm.$round")" = 0 ] ||
        fail "reads before any restart: $(grep -v '^200 ' "$T/warm.$round" | head -3)"
done
N=$(connections)
[ "$N" -ge 6 ] || fail "serve holds only $N connections: the test needs a pool of several"

restarted_reads() { # WHAT: the reads after a restart, each answered 200 at its first try
    local what=$1
    read_all "$N" >"$T/after.$what"
    for path in "${ROUTES[@]}"; do
        curl -sS -o /dev/null -w '%{http_code} '"$path"'\n' --max-time 30 \
            -H "Authorization: Bearer $READ_KEY" "$VN_API_URL$path"
    done >>"$T/after.$what"
    if grep -vq '^200 ' "$T/after.$what"; then
        fail "after $what, reads not answered 200 at the first try ($(grep -vc '^200 ' \
            "$T/after.$what") of $(wc -l <"$T/after.$what")): $(grep -v '^200 ' "$T/after.$what" |
            sort | uniq -c | head -5 | tr '\n' ';')"
    fi
    ok "after $what: $(wc -l <"$T/after.$what") reads ($N in parallel, as many as serve had connections), all 200 at the first try"
}

bash "$CLUSTER" kill "$PG"
bash "$CLUSTER" restart "$PG"
restarted_reads "an immediate stop and a start"

bash "$CLUSTER" bounce "$PG"
restarted_reads "a fast restart"

# The writes go on too (their transaction begins on a connection made sure of: pg.c pg_begin).
body_asset_count ac-after $U 1 2 >"$T/b.json"
assert_eq "$(vn_post "$T/b.json" "$(cat "$tok")")" 200 "a notification after the restarts"
[ "$(api_get "$READ_KEY" "/v1/assets?adamId=1")" = 200 ] || fail "assets after the restarts"
assert_json "$T/a.json" '.items[0].totalCount' 7 "the count after the restarts"
vn_serve_stop
ok "a notification applied and read after the restarts; serve stopped cleanly"
