#!/usr/bin/env bash
# make deb: build the Debian package with Debian's tooling (dpkg-buildpackage + debhelper) from
# a clean copy of the tree in build-deb/, then check it with lintian.
#
#   dist/mkdeb.sh [OUTDIR]      (default build-deb; the .deb, .changes and lintian.txt land there)
#
# The copy keeps the working tree free of debhelper's files and the package free of build
# trees. Exit status: dpkg-buildpackage's, else 1 when lintian reports an error (E:).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$src/build-deb}" && cd "${1:-$src/build-deb}" && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree="$out/vppnotify-$version"

rm -rf "$tree" "$out"/vppnotify_* "$out"/vppnotify-dbgsym_*
mkdir -p "$tree"
# The committed files plus the working tree's changes to them (and new files not ignored).
(cd "$src" && { git ls-files -co --exclude-standard 2>/dev/null || find . -path ./build\* -prune -o -type f -print; }) |
    (cd "$src" && tar -cf - -T - 2>/dev/null) | tar -xf - -C "$tree"

echo "mkdeb: building vppnotify $version in $tree"
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=${JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc --buildinfo-option=-u"$out" --changes-option=-u"$out" \
    >"$out/build.log" 2>&1) || { tail -40 "$out/build.log"; echo "mkdeb: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
# dh_builddeb writes to the parent of the tree: $out.
changes=$(ls "$out"/vppnotify_"$version"_*.changes)
echo "mkdeb: $(ls "$out"/vppnotify_"$version"_*.deb)"

lintian --no-tag-display-limit "$changes" >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
if grep -q '^E: ' "$out/lintian.txt"; then
    echo "mkdeb: lintian reports errors (above)" >&2
    exit 1
fi
echo "mkdeb: lintian: no errors ($(grep -c '^W: ' "$out/lintian.txt" || true) warnings)"
