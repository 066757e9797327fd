#!/usr/bin/env bash
# Install the Debian packages a target needs, and only those that are missing.
#
#   scripts/deps.sh build     compilers, CMake and the libraries vppnotify links
#   scripts/deps.sh test      build + what the test suites drive (curl, jq, openssl, sanitizers)
#   scripts/deps.sh bench     build + wrk, nginx-light (the HTTP ceiling) and valgrind (callgrind)
#   scripts/deps.sh fuzz      build + clang and its libFuzzer runtime
#
# Packages are named here and nowhere else. Runs apt-get as root, or through sudo.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config ca-certificates
            libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-gnutls-dev libsodium-dev)
test_pkgs=(libcmocka-dev curl jq openssl sqlite3 procps iproute2 clang-format git)
bench_pkgs=(wrk nginx-light valgrind)
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
for group in "$@"; do
    case "$group" in
    build) ;;
    test) want+=("${test_pkgs[@]}") ;;
    bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    fuzz) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (expected build, test, bench or fuzz)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; refresh once, then install.
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
