#!/usr/bin/env bash
# Webhooks (contract section 8, Standard Webhooks): receivers built on the official
# `standardwebhooks` npm library verify every message; every change is delivered once, in
# order; a receiver that fails for a while then recovers gets everything in order; a kinds
# filter; 410 disables the endpoint and `webhook redeliver` enables it again; a tampered
# message is refused by the library; `kill -9` of serve with deliveries pending: all delivered
# after the restart; secrets are sealed at rest and never logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

U=2049000000000555
tok=$(cat "$(vn_new_location $U hooks)")

# recv_start NAME [ARGS...]: a receiver (tests/js/receiver.mjs); sets R_<NAME>, its URL.
recv_start() {
    local name=$1
    shift
    rm -f "$T/$name.ready"
    node "$VN_JS/receiver.mjs" --ready "$T/$name.ready" --secret-file "$T/$name.secret" \
        --log "$T/$name.jsonl" "$@" >>"$T/$name.log" 2>&1 &
    VN_PIDS+=($!)
    wait_for 20 test -s "$T/$name.ready" || fail "receiver $name did not start"
    eval "R_$name=http://$(cat "$T/$name.ready")/hooks/$name"
}
# hook_add NAME [ARGS...]: webhook add for receiver NAME, whose secret file it makes; sets
# H_<NAME>, the endpoint's id.
hook_add() {
    local name=$1 id url
    shift
    url=$(eval echo "\$R_$name")
    id=$(vn_cli webhook add --url "$url" --secret-file "$T/$name.secret" "$@" 2>"$T/add.err") ||
        fail "webhook add $name: $(cat "$T/add.err")"
    eval "H_$name=$id"
}
post_counts() { # FROM TO: ASSET_COUNT notifications numbered FROM..TO (+1 on 3 products)
    for i in $(seq "$1" "$2"); do
        body_asset_count "wh-$i" $U "$((700 + i % 3))" 1 >"$T/b.json"
        assert_eq "$(vn_post "$T/b.json" "$tok")" 200 "notification wh-$i"
    done
}
taken() { # NAME: the seqs a receiver answered 2xx, one per line
    jq -c 'select(.verified and .status < 300) | .seq' "$T/$1.jsonl"
}
has_taken() { # NAME N
    [ "$(taken "$1" | wc -l)" -ge "$2" ]
}

start=$(vn_cli changes --json | tail -n 1 | jq .seq) # endpoints get what commits after they exist
recv_start ok --fail-while-file "$T/ok.down"
recv_start slow --fail-first 6 --fail-status 500
recv_start picky
hook_add ok
assert_contains "$T/add.err" "was made and written to" "webhook add makes the secret"
[ "$(stat -c %a "$T/ok.secret")" = 600 ] || fail "the made secret file is not 0600"
grep -qE '^whsec_[A-Za-z0-9+/]{43}=$' "$T/ok.secret" || fail "the made secret is not whsec_ + base64"
hook_add slow
hook_add picky --kinds asset.created,location
rc=0; vn_cli webhook add --url "$R_ok" --secret-file "$T/x.secret" --kinds asset,bogus 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "an unknown kind"
assert_contains "$T/err" "'bogus'" "the message quotes the item"
rc=0; vn_cli webhook add --url "ftp://x" --secret-file "$T/x.secret" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "a URL that is not http(s)"
ok "webhook add makes a whsec_ secret (0600) when the file is absent; bad kinds and URLs refused"

# --lease-ttl: on PostgreSQL an endpoint is delivered under a lease (test_pg_webhooks); the
# instance started again after the kill -9 below takes the dead one's leases over when they lapse.
vn_serve_start --webhook-backoff 50ms --webhook-timeout 2s --lease-ttl 4s
post_counts 1 20
vn_cli location add --uid 2049000000000556 --name other >/dev/null 2>&1
vn_cli changes --after "$start" --json | jq -c .seq >"$T/all.seq"
n=$(wc -l <"$T/all.seq")
first=$(head -n1 "$T/all.seq")
last=$(tail -n1 "$T/all.seq")
wait_for 30 has_taken ok "$n" || fail "receiver ok got $(taken ok | wc -l) of $n"
wait_for 30 has_taken slow "$n" || fail "receiver slow got $(taken slow | wc -l) of $n"

# ok: every change of the log, once, in order, verified by the library.
taken ok | cmp -s "$T/all.seq" - || fail "receiver ok: not every change once in order: $(taken ok | tr '\n' ' ')"
assert_eq "$(jq -s '[.[] | select(.verified | not)] | length' "$T/ok.jsonl")" 0 "unverified messages"
jq -s -e '[.[].type] | (index("asset.created") != null) and (index("asset.updated") != null)
    and (index("location.created") != null)' "$T/ok.jsonl" >/dev/null || fail "message types"
jq -s -e 'all(.[]; (.body | fromjson | .data.seq) == .seq and (.id | test("^msg_[0-9]+_[0-9a-f]+$")))' \
    "$T/ok.jsonl" >/dev/null || fail "message bodies and ids"
i=0
while read -r body; do
    i=$((i + 1))
    printf '%s' "$body" >"$T/msg.$i.json"
    printf '{"webhook":"change","file":"%s"}\n' "$T/msg.$i.json" >>"$T/cases.jsonl"
done < <(jq -c '.body | fromjson' "$T/ok.jsonl")
api_validate >/dev/null
ok "receiver ok: all $n changes, once, in order, each verified by the standardwebhooks library and matching docs/openapi.yaml"

# slow: failed 6 times (500), retried with backoff, then got everything in order.
assert_eq "$(jq -s -c '[.[] | select(.status == 500) | .seq]' "$T/slow.jsonl")" \
    "[$first,$first,$first,$first,$first,$first]" \
    "the first message failed six times and nothing after it was sent meanwhile"
assert_eq "$(jq -s --argjson f "$first" '[.[] | select(.seq == $f) | .id] | unique | length' "$T/slow.jsonl")" 1 \
    "a retry keeps its webhook-id"
taken slow | cmp -s "$T/all.seq" - || fail "receiver slow: not everything in order after recovering"
vn_cli webhook deliveries --id "$H_slow" --failed --json >"$T/fd.json"
assert_json "$T/fd.json" '[length, (.[0] | [.status, .ok, .seq, .attempt]), .[5].attempt]' \
    "[6,[500,false,$first,1],6]" "webhook deliveries --failed"
slow_done() {
    [ "$(vn_cli webhook list --id "$H_slow" --json | jq -c '.[0] | [.state, .cursor, .attempts, .delivered]')" = \
        "[\"active\",$last,0,$n]" ]
}
wait_for 10 slow_done ||
    fail "the endpoint's state: $(vn_cli webhook list --id "$H_slow" --json)"
ok "receiver slow: failed 6 times, then got everything in order; the failures are listed"

# picky: only asset.created and location messages.
vn_cli changes --after "$start" --json |
    jq -c 'select((.kind == "asset" and .op == "insert") or .kind == "location") | .seq' >"$T/picky.want"
wait_for 20 has_taken picky "$(wc -l <"$T/picky.want")" || fail "receiver picky"
taken picky | cmp -s "$T/picky.want" - || fail "receiver picky: $(taken picky | tr '\n' ' ')"
ok "--kinds asset.created,location: those messages only, in order"

# A tampered message, or one checked with another secret, is refused by the library.
jq -c 'select(.seq == 3 and .status < 300)' "$T/ok.jsonl" | head -n1 >"$T/m.json"
node "$VN_JS/verify.mjs" --secret-file "$T/ok.secret" --message "$T/m.json" >/dev/null ||
    fail "the captured message does not verify untouched"
for how in body timestamp id; do
    if node "$VN_JS/verify.mjs" --secret-file "$T/ok.secret" --message "$T/m.json" --tamper "$how" \
        >"$T/v.out"; then
        fail "a message with a tampered $how was accepted"
    fi
done
if node "$VN_JS/verify.mjs" --secret-file "$T/slow.secret" --message "$T/m.json" >/dev/null; then
    fail "a message verified with another endpoint's secret"
fi
ok "a tampered body, timestamp or id, or another secret: refused by the standardwebhooks library"

# 410 Gone disables the endpoint; redeliver enables it again from the message it refused.
recv_start gone --fail-first 1 --fail-status 410
hook_add gone
post_counts 21 22
disabled() { vn_cli webhook list --id "$H_gone" --json | jq_true '.[0].state == "disabled"' >/dev/null; }
wait_for 20 disabled || fail "410 did not disable the endpoint"
vn_cli webhook list --id "$H_gone" --json >"$T/l.json"
assert_contains "$T/l.json" "410 Gone" "the reason is given"
assert_eq "$(jq -s length "$T/gone.jsonl")" 1 "nothing is sent to a disabled endpoint"
vn_cli webhook redeliver --id "$H_gone" 2>/dev/null || fail "redeliver"
vn_cli changes --after "$last" --json | jq -c .seq >"$T/gone.want"
wait_for 20 has_taken gone "$(wc -l <"$T/gone.want")" || fail "after redeliver"
taken gone | cmp -s "$T/gone.want" - || fail "after redeliver: $(taken gone | tr '\n' ' ')"
ok "an endpoint that answers 410 is disabled; webhook redeliver sends from that message on"

# kill -9 with deliveries pending: the receiver answers 503 meanwhile, notifications commit,
# serve dies; after the restart every pending message arrives, in order.
mark=$(vn_cli changes --json | tail -n 1 | jq .seq)
touch "$T/ok.down"
post_counts 23 40
wait_for 20 bash -c "jq_true 'select(.status == 503)' '$T/ok.jsonl' >/dev/null" ||
    fail "the receiver was not tried while down"
kill -9 "$VN_SERVE_PID"
wait "$VN_SERVE_PID" 2>/dev/null || true
rm -f "$T/ok.down"
vn_serve_start --webhook-backoff 50ms --webhook-timeout 2s --lease-ttl 4s
vn_cli changes --after "$start" --json | jq -c .seq >"$T/all.seq"
wait_for 30 has_taken ok "$(wc -l <"$T/all.seq")" || fail "after the restart: $(taken ok | wc -l) of $(wc -l <"$T/all.seq")"
taken ok | cmp -s "$T/all.seq" - || fail "after kill -9: not every message once, in order"
assert_eq "$(jq -s '[group_by(.seq)[] | map(.id) | unique | length] | max' "$T/ok.jsonl")" 1 \
    "attempts of one message before and after the kill have one webhook-id (receivers dedupe by it)"
ok "kill -9 with $(($(tail -n1 "$T/all.seq") - mark)) messages pending: all delivered after the restart, in order"

vn_serve_stop
# What is at rest, read from a backup (a SQLite file on either backend).
vn_cli backup --to "$T/backup.db" >/dev/null 2>"$T/err" || fail "backup: $(cat "$T/err")"
sqlite3 "$T/backup.db" "SELECT hex(secret) FROM webhook_endpoints" >"$T/sealed"
assert_eq "$(wc -l <"$T/sealed")" 4 "the backup has the four endpoints"
for name in ok slow picky gone; do
    s=$(cut -c7- "$T/$name.secret")
    assert_not_contains "$T/serve.log" "$s" "the $name secret in serve's log"
    assert_not_contains "$T/sealed" "$(printf '%s' "$s" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)" \
        "the $name secret stored in clear"
done
ok "secrets are sealed at rest and never logged"
