# Helpers of the integration API's tests (tests/integration/test_api_*.sh), on top of lib.sh:
# keys, calls that save each answer, and the Node.js tools of tests/js (installed by
# `scripts/deps.sh test`): the OpenAPI linter and validator, the feed consumer, the webhook
# receiver.
#
#   api_keys                      READ_KEY and MANAGE_KEY (api-key add)
#   apple_api_start [SIM_ARGS]    vppsim (no event delay; SIM_ARGS added), a location imported from
#                                 it, and the keys: the start of the tests of Apple calls through
#                                 serve's API beside the CLI (needs lib_apple.sh)
#   api_get KEY PATH [TEMPLATE]   GET into $T/a.json (and a file of its own); prints the status; records the
#                                 answer for api_validate under TEMPLATE (default PATH)
#   api_validate                  every recorded answer against docs/openapi.yaml (ajv)

VN_JS="$VN_SOURCE_DIR/tests/js"
VN_OPENAPI="$VN_SOURCE_DIR/docs/openapi.yaml"

command -v node >/dev/null || fail "node not found: run 'scripts/deps.sh test'"
[ -d "$VN_JS/node_modules/ajv" ] ||
    fail "tests/js/node_modules is missing: run 'scripts/deps.sh test' (npm ci in tests/js)"

api_keys() {
    READ_KEY=$(vn_cli api-key add --name reader --scope read 2>/dev/null) || fail "api-key add read"
    MANAGE_KEY=$(vn_cli api-key add --name manager --scope manage 2>/dev/null) ||
        fail "api-key add manage"
}

apple_api_start() {
    sim_start --event-delay 0 "$@"
    export VPPNOTIFY_APPLE_URL="$SIM/mdm/v2"
    apple_location
    apple_import
    api_keys
}

# api_get KEY PATH [TEMPLATE [METHOD]]: the answer's body is in $T/a.json.
api_get() {
    local key=$1 path=$2 tpl=${3:-${2%%\?*}} method=${4:-GET} st file
    file=$(mktemp "$T/a.XXXXXXXX") # callers run this in $(...): no counter survives
    st=$(curl -sS -o "$file" -w '%{http_code}' -X "$method" "$VN_API_URL$path" \
        ${key:+-H "Authorization: Bearer $key"})
    cp "$file" "$T/a.json"
    printf '{"method":"%s","path":"%s","status":%s,"file":"%s"}\n' \
        "$(echo "$method" | tr 'A-Z' 'a-z')" "$tpl" "$st" "$file" >>"$T/cases.jsonl"
    echo "$st"
}

api_validate() {
    node "$VN_JS/validate.mjs" "$VN_OPENAPI" "$T/cases.jsonl" >"$T/validate.out" 2>&1 ||
        fail "answers that do not match docs/openapi.yaml: $(grep -v '^ok' "$T/validate.out" | head -5 | cut -c1-400)"
    tail -n1 "$T/validate.out"
}

# api_walk KEY PATH LIMIT OUT: every page of a list route (PATH without limit/cursor, may
# have a query); the items of all pages, concatenated, in OUT; the number of pages in PAGES.
api_walk() {
    local key=$1 path=$2 limit=$3 out=$4 cursor="" sep st
    [[ "$path" == *\?* ]] && sep='&' || sep='?'
    PAGES=0
    echo '[]' >"$out"
    while :; do
        st=$(api_get "$key" "$path${sep}limit=$limit${cursor:+&cursor=$cursor}")
        [ "$st" = 200 ] || fail "GET $path page $((PAGES + 1)): status $st: $(head -c 300 "$T/a.json")"
        PAGES=$((PAGES + 1))
        jq -s '.[0] + .[1].items' "$out" "$T/a.json" >"$out.tmp" && mv "$out.tmp" "$out"
        cursor=$(jq -r '.nextCursor // empty' "$T/a.json")
        [ -n "$cursor" ] || break
        [ "$(jq '.items | length' "$T/a.json")" = "$limit" ] ||
            fail "GET $path: a page before the last has fewer than $limit items"
        [ $PAGES -lt 10000 ] || fail "GET $path: more than 10000 pages"
    done
}

# api_user_create TAG [API_URL]: POST users/create of one user (clientUserId TAG) through the
# manage API (default $VN_API_URL) for $LOC_UID with $MANAGE_KEY; prints the status, the answer
# in $T/c.TAG.json.
api_user_create() {
    curl -sS -o "$T/c.$1.json" -w '%{http_code}' --max-time 60 -X POST \
        "${2:-$VN_API_URL}/v1/locations/$LOC_UID/users/create" -H "Authorization: Bearer $MANAGE_KEY" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"users\":[{\"clientUserId\":\"$1\",\"email\":\"$1@example.com\"}]}"
}
