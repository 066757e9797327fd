#!/usr/bin/env bash
# Politeness towards Apple, counted by vppsim: at most maxRequestPerSecond per location (no
# 429 ever provoked), 429 with Retry-After and 503 survived with the waits they ask for, a
# bounded number of attempts (no request storm), an HTTP 200 carrying errorNumber treated as
# that error, and a timeout on every request.
. "$(dirname "$0")/lib_apple.sh"

SIM_ARGS="--page-size 10 --limit maxRequestPerSecond=5"
apple_start
apple_location
apple_import
jq -nc --arg u "$LOC_UID" '{uId: $u, assets: [range(150) | {adamId: "\(100 + .)", totalCount: 3}]}' \
    >"$T/seed.json"
seed_file "$T/seed.json"
sleep 1.2 # let vppsim's bucket of this location fill up again after set-stoken

# 15 pages of assets plus the other tables: more than 20 requests at 5 per second.
ctl POST /_sim/requests '{"reset":true}' >/dev/null
t0=$(date +%s%3N)
vn_cli sync --uid "$LOC_UID" --full --json >"$T/r.json" 2>"$T/err" || fail "sync: $(cat "$T/err")"
elapsed=$(($(date +%s%3N) - t0))
assert_json "$T/r.json" '.[0].assets.added' 150 "every asset fetched"
n=$(jq '.[0].pages' "$T/r.json")
[ "$n" -gt 20 ] || fail "only $n requests"
assert_eq "$(sim_count GET /mdm/v2/assets 429)" 0 "vppsim never had to refuse one"
ctl GET /_sim/requests >/dev/null
assert_json "$T/ctl" '[.requests[] | select(.status == 429)] | length' 0 "no 429 at all"
[ "$elapsed" -ge $(((n - 5) * 1000 / 5 - 300)) ] || fail "$n requests in $elapsed ms: faster than 5/s"
ok "$n requests in $elapsed ms: at most maxRequestPerSecond (5), no 429"

# The rest is about errors, not rate: Service Config's new limit is read by the next process.
ctl POST /_sim/limits '{"maxRequestPerSecond":1000}' >/dev/null

# 429 with Retry-After: 1 s, three times.
ctl POST /_sim/faults '{"http429":{"count":3,"retryAfter":1,"path":"/mdm/v2/users"}}' >/dev/null
ctl POST /_sim/requests '{"reset":true}' >/dev/null
t0=$(date +%s%3N)
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/err" || fail "sync through 429s: $(cat "$T/err")"
elapsed=$(($(date +%s%3N) - t0))
assert_eq "$(sim_count GET /mdm/v2/users 429)" 3 "three 429 answers"
assert_eq "$(sim_count GET /mdm/v2/users 200)" 2 "then the page, and its versionId check"
[ "$elapsed" -ge 3000 ] || fail "three Retry-After: 1 honoured in $elapsed ms"
assert_contains "$T/err" "errorNumber=9646" "the retries are logged"
ok "429 + Retry-After survived: 3 refused, waited $elapsed ms, then done"

# 503 with Retry-After.
ctl POST /_sim/faults '{"http503":{"count":2,"retryAfter":1,"path":"/mdm/v2/assignments"}}' >/dev/null
ctl POST /_sim/requests '{"reset":true}' >/dev/null
vn_cli sync --uid "$LOC_UID" --full >/dev/null 2>"$T/err" || fail "sync through 503s: $(cat "$T/err")"
assert_eq "$(sim_count GET /mdm/v2/assignments 503)" 2 "two 503 answers"
assert_contains "$T/err" "retryAfterMs=1000" "Retry-After read"
ok "503 + Retry-After survived"

# No storm: Apple refuses for good; the attempts are bounded.
ctl POST /_sim/faults '{"http429":{"count":1000,"retryAfter":0,"path":"/mdm/v2/assignments"}}' >/dev/null
ctl POST /_sim/requests '{"reset":true}' >/dev/null
rc=0
vn_cli sync --uid "$LOC_UID" --full --apple-attempts 4 --apple-backoff 100ms 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "gives up"
assert_contains "$T/err" "9646 TOO_MANY_REQUESTS" "says why"
assert_contains "$T/err" "after 4 attempts" "and how hard it tried"
assert_eq "$(sim_count GET /mdm/v2/assignments 429)" 4 "exactly 4 requests, no storm"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
vn_cli location list --json >"$T/l.json"
assert_json "$T/l.json" '.[0].lastSyncError | contains("9646")' true "the failure is recorded"
ok "a refusal that lasts: 4 attempts, then a clear error"

# HTTP 200 with an error body is that error (9603, retried).
ctl POST /_sim/faults '{"errorBody":{"count":1,"path":"/mdm/v2/client/config"}}' >/dev/null
vn_cli location set-stoken --uid "$LOC_UID" --stoken-file "$STF" >/dev/null 2>"$T/err" ||
    fail "set-stoken through an error body: $(cat "$T/err")"
assert_contains "$T/err" "errorNumber=9603" "the 200 was read as 9603 and retried"
ctl POST /_sim/faults '{"errorBody":{"count":5,"path":"/mdm/v2/client/config"}}' >/dev/null
rc=0
vn_cli location set-stoken --uid "$LOC_UID" --stoken-file "$STF" --apple-attempts 2 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a 200 with an error body is a failure"
assert_contains "$T/err" "9603 INTERNAL_ERROR (HTTP 200)" "named"
ctl POST /_sim/faults '{"reset":true}' >/dev/null
ok "HTTP 200 carrying errorNumber is that error"

# Timeouts: an 'Apple' that never answers in time. It answers (and logs) a request only after
# 60 s, so a command that ended before any answer was logged was cut by its timeout (an order,
# not a time: the machine's load cannot make it pass or fail).
recv_start --delay 60s
rc=0
VPPNOTIFY_APPLE_URL="${RECV_URL%/notify}/mdm/v2" vn_cli sync --uid "$LOC_UID" \
    --apple-timeout 300ms --apple-attempts 2 --apple-backoff 10ms 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "a timeout is a failure"
assert_contains "$T/err" "timed out" "named"
assert_eq "$(wc -l <"$RECV_LOG")" 0 "the 300 ms timeout cut the request before its 60 s answer"
ok "every request has a timeout"

recv_stop
vn_serve_stop
sim_stop
