#!/usr/bin/env bash
# Install the Debian packages a target needs, and only those that are missing.
#
#   scripts/deps.sh build     compilers, CMake and the libraries vppnotify links (make build)
#   scripts/deps.sh run       build + curl, which the commands `make run` prints use
#   scripts/deps.sh demo      build + curl and jq, which `make demo` drives vppsim with
#   scripts/deps.sh test      build + cmocka and what the test suites drive (curl, jq, ...,
#                             Node.js and tests/js's pinned npm packages)
#   scripts/deps.sh bench     build + wrk, nginx-light (the HTTP ceiling and the load balancer),
#                             valgrind (callgrind), postgresql (BACKEND=postgresql) and the tools
#                             bench/run.sh and bench/pg.sh use
#   scripts/deps.sh fuzz      build + clang and its libFuzzer runtime
#   scripts/deps.sh format    clang-format
#   scripts/deps.sh deb       build + Debian's packaging tools (make deb)
#
# Packages are named here and nowhere else. Runs apt-get as root, or through sudo. When another
# apt or dpkg holds the package manager's lock, waits for it (DEPS_LOCK_WAIT seconds, default
# 600) and says so, instead of failing.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config ca-certificates
            libmicrohttpd-dev libgnutls28-dev libjansson-dev libsqlite3-dev libcurl4-gnutls-dev
            libsodium-dev libsystemd-dev libpq-dev)
run_pkgs=(curl)
demo_pkgs=(curl jq)
test_pkgs=(postgresql libcmocka-dev curl jq openssl sqlite3 procps iproute2 clang-format git zsh groff-base
           systemd prometheus chromium)
bench_pkgs=(wrk nginx-light valgrind curl jq sqlite3 git procps postgresql iproute2)
fuzz_pkgs=(clang libclang-rt-14-dev)
format_pkgs=(clang-format)
# The integration API's tests run Node.js tools whose npm packages are pinned in
# tests/js/package-lock.json (installed below with npm ci). Debian's nodejs and npm, unless a
# node and an npm are there already: another packaging of Node.js brings its own npm, with
# which Debian's npm package conflicts.
js_pkgs=(nodejs npm)
# dpkg-buildpackage checks build-essential (dpkg-checkbuilddeps), whatever the compilers present.
deb_pkgs=(build-essential debhelper dpkg-dev lintian debootstrap)

lock_wait=${DEPS_LOCK_WAIT:-600}
[[ $lock_wait =~ ^[0-9]+$ ]] || { echo "deps.sh: DEPS_LOCK_WAIT '$lock_wait' is not a number of seconds" >&2; exit 2; }

[ $# -gt 0 ] || { echo "usage: scripts/deps.sh GROUP... (build, run, demo, test, bench, fuzz, format, deb)" >&2; exit 2; }
want=()
for group in "$@"; do
    case "$group" in
    build) want+=("${build_pkgs[@]}") ;;
    run) want+=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
    demo) want+=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${deb_pkgs[@]}"); want_js=1 ;;
    deb) want+=("${build_pkgs[@]}" "${deb_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}"); want_js=1 ;;
    fuzz) want+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    format) want+=("${format_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (expected build, run, demo, test, bench, fuzz, format or deb)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
    fi
done
if [ "${want_js:-0}" = 1 ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    missing+=("${js_pkgs[@]}")
fi

# The pinned npm packages of tests/js (the integration API's test tools) and tests/browser (the
# dashboard in Chromium), when a package-lock.json changed since they were installed.
js_deps() {
    local dir
    [ "${want_js:-0}" = 1 ] || return 0
    for dir in "$(cd "$(dirname "$0")/.." && pwd)"/tests/{js,browser}; do
        [ -f "$dir/package-lock.json" ] || continue
        cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock" 2>/dev/null && continue
        echo "deps.sh: npm ci in ${dir#"$(cd "$(dirname "$0")/.." && pwd)"/}"
        npmlog=$(mktemp "${TMPDIR:-/tmp}/deps-npm.XXXXXX")
        # stderr to the terminal and to $npmlog (pipefail keeps npm's status)
        # Node.js trusts its own CA list; the system's too (where the network's TLS-inspecting
        # CA is installed in /usr/local/share/ca-certificates).
        if ! { (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 \
            NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" \
            npm ci --no-audit --no-fund --loglevel=error) 2>&1 1>&3 | tee "$npmlog" >&2; } 3>&1; then
            # The usual cause on a fresh machine: its network reaches the registry through a
            # TLS-inspecting proxy whose CA this machine does not trust yet.
            if grep -qE 'SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER|VERIFY_LEAF)|CERT_' \
                "$npmlog"; then
                echo "deps.sh: npm does not trust the TLS certificate of its registry (above):" \
                     "this network inspects TLS with a CA this machine lacks; add that CA" \
                     "(/usr/local/share/ca-certificates/, then update-ca-certificates) and run" \
                     "this again" >&2
            fi
            rm -f "$npmlog"
            return 1
        fi
        rm -f "$npmlog"
        cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock" || return 1
    done
}
[ ${#missing[@]} -eq 0 ] && { js_deps; exit; }

echo "deps.sh: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
deadline=$((SECONDS + lock_wait))
errlog=$(mktemp "${TMPDIR:-/tmp}/deps.XXXXXX")
trap 'rm -f "$errlog"' EXIT

# apt ARGS...: apt-get, waiting (bounded) while another apt or dpkg holds a lock. apt-get waits
# for dpkg's lock itself (DPkg::Lock::Timeout); the package lists' lock (apt-get update) it
# does not, so a busy lock is retried here until the deadline.
apt() {
    local rc said=0
    for ((;;)); do
        rc=0
        # stderr to the terminal and to $errlog; stdout as it is (pipefail keeps apt's status).
        { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout="$((deadline > SECONDS ? deadline - SECONDS : 0))" \
            "$@" 2>&1 1>&3 | tee "$errlog" >&2; } 3>&1 || rc=$?
        [ $rc -ne 0 ] || return 0
        grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock' \
            "$errlog" || return $rc
        if [ $SECONDS -ge $deadline ]; then
            echo "deps.sh: another apt or dpkg still holds the package lock after ${lock_wait}s;" \
                 "let it finish (or raise DEPS_LOCK_WAIT) and run this again" >&2
            return $rc
        fi
        if [ $said -eq 0 ]; then
            echo "deps.sh: another apt or dpkg is running; waiting for its lock" \
                 "(up to ${lock_wait}s, DEPS_LOCK_WAIT)" >&2
            said=1
        fi
        sleep 2
    done
}

# A fresh machine has empty package lists: refresh them first. Otherwise try with the lists as
# they are, and refresh once if a package cannot be found (lists too old).
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt update -qq
fi
if ! apt install -y --no-install-recommends "${missing[@]}"; then
    apt update -qq
    apt install -y --no-install-recommends "${missing[@]}"
fi
js_deps
