#!/usr/bin/env bash
# The Debian package, as an operator meets it (docs/DEPLOY.md):
#   - make deb's build (dpkg-buildpackage + debhelper) succeeds and lintian reports no error;
#   - its files land where DEPLOY.md says; vppnotify --version runs from them; the packaged
#     vppnotify.conf is `vppnotify help --config` and serve accepts every default in it;
#   - the unit passes `systemd-analyze verify` and `systemd-analyze security` (exposure <= 2.0);
#   - in a Debian 12 root (debootstrap minbase, cached in the build tree): install, a database
#     made by the installed CLI, an upgrade from a previous version (built here: the same files
#     repacked as 0.0.1) keeps the database and an edited conffile, and purge leaves no file
#     that was not there before the install.
# Registered in the normal build only (tests/CMakeLists.txt): the package is the same for both.
source "$VN_SOURCE_DIR/tests/integration/lib.sh"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || fail "the package test needs root (or password-less sudo) for its Debian root"
    as_root=(sudo -n)
fi

PKG_OUT="$VN_BUILD_DIR/deb"
JOBS=${JOBS:-2} "$VN_SOURCE_DIR/dist/mkdeb.sh" "$PKG_OUT" >"$T/mkdeb.log" 2>&1 ||
    fail "make deb failed: $(tail -20 "$T/mkdeb.log")"
version=$(dpkg-parsechangelog -l "$VN_SOURCE_DIR/debian/changelog" -S Version)
deb="$PKG_OUT/vppnotify_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "no package at $deb"
if grep -q '^E: ' "$PKG_OUT/lintian.txt"; then fail "lintian errors: $(grep '^E: ' "$PKG_OUT/lintian.txt")"; fi
echo "# lintian warnings: $(grep -c '^W: ' "$PKG_OUT/lintian.txt" || true)"
grep '^W: ' "$PKG_OUT/lintian.txt" | sed 's/^/#   /' || true
ok "make deb builds vppnotify $version; lintian reports no error"

# ---- the files ---------------------------------------------------------------------------------
x="$T/x"
dpkg-deb -x "$deb" "$x"
for f in usr/bin/vppnotify usr/bin/vppsim etc/vppnotify/vppnotify.conf \
    lib/systemd/system/vppnotify.service usr/share/doc/vppnotify/DEPLOY.md \
    usr/share/doc/vppnotify/alerts.yml usr/share/doc/vppnotify/copyright \
    usr/share/man/man1/vppnotify.1.gz usr/share/man/man1/vppnotify-serve.1.gz \
    usr/share/man/man1/vppnotify-backup.1.gz usr/share/man/man1/vppsim.1.gz \
    usr/share/bash-completion/completions/vppnotify usr/share/zsh/vendor-completions/_vppnotify; do
    [ -e "$x/$f" ] || fail "the package has no /$f"
done
dpkg-deb -e "$deb" "$T/ctl"
assert_contains "$T/ctl/conffiles" "/etc/vppnotify/vppnotify.conf" "the config file is a conffile"
assert_eq "$("$x/usr/bin/vppnotify" --version)" "vppnotify ${version%%-*}" "vppnotify --version from the package"
"$x/usr/bin/vppnotify" help --config >"$T/conf.expected"
cmp -s "$T/conf.expected" "$x/etc/vppnotify/vppnotify.conf" ||
    fail "the packaged vppnotify.conf is not 'vppnotify help --config'"
# Every command has its man page (the Documentation= of the unit names vppnotify(1)).
for cmd in $("$x/usr/bin/vppnotify" help | sed -n 's/^  \([a-z][a-z -]*[a-z]\)  .*/\1/p' | tr ' ' '-'); do
    [ -e "$x/usr/share/man/man1/vppnotify-$cmd.1.gz" ] || fail "no man page for 'vppnotify ${cmd//-/ }'"
done
ok "files land where DEPLOY.md says (binaries, man pages, completions, unit, config, docs); --version runs; vppnotify.conf comes from the option table"

# Every default of the file, uncommented, is accepted by serve.
sed -n 's/^#\([a-z][a-z0-9-]*\) = \([^A-Z].*\)$/\1 = \2/p' "$x/etc/vppnotify/vppnotify.conf" |
    grep -v -e '^listen =' -e '^db =' >"$T/all-defaults.conf"
[ "$(wc -l <"$T/all-defaults.conf")" -ge 20 ] || fail "too few defaults found in vppnotify.conf"
VN_BIN_SAVED=$VPPNOTIFY
VPPNOTIFY="$x/usr/bin/vppnotify"
vn_serve_start --config "$T/all-defaults.conf"
vn_serve_stop
VPPNOTIFY=$VN_BIN_SAVED
ok "serve accepts every default of vppnotify.conf"

# make install's rules, staged with DESTDIR, with this build tree's prefix in the unit's paths.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$VN_BUILD_DIR/CMakeCache.txt")
DESTDIR="$T/stage" cmake --install "$VN_BUILD_DIR" >"$T/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$T/install.log")"
for f in bin/vppnotify bin/vppsim lib/systemd/system/vppnotify.service share/doc/vppnotify/DEPLOY.md \
    share/man/man1/vppnotify.1 share/man/man1/vppsim.1 share/bash-completion/completions/vppnotify \
    share/zsh/site-functions/_vppnotify; do
    [ -e "$T/stage$prefix/$f" ] || fail "make install put no $prefix/$f"
done
assert_contains "$T/stage$prefix/lib/systemd/system/vppnotify.service" "ExecStart=$prefix/bin/vppnotify serve" \
    "the installed unit runs the installed binary"
ok "make install (DESTDIR, PREFIX $prefix) installs the binaries, the unit and the docs"

# The example alerting rules are valid Prometheus rules.
promtool check rules "$VN_SOURCE_DIR/docs/alerts.yml" >"$T/promtool.log" 2>&1 ||
    fail "promtool check rules docs/alerts.yml: $(cat "$T/promtool.log")"
ok "docs/alerts.yml passes promtool check rules"

# ---- the unit ----------------------------------------------------------------------------------
unit="$x/lib/systemd/system/vppnotify.service"
assert_contains "$unit" "ExecStart=/usr/bin/vppnotify serve --config /etc/vppnotify/vppnotify.conf" "the unit's command"
mkdir -p "$T/unit"
sed "s|/usr/bin/vppnotify|$x/usr/bin/vppnotify|" "$unit" >"$T/unit/vppnotify.service"
systemd-analyze verify --man=no "$T/unit/vppnotify.service" >"$T/verify.log" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$T/verify.log")"
[ ! -s "$T/verify.log" ] || fail "systemd-analyze verify complains: $(cat "$T/verify.log")"
systemd-analyze security --offline=true "$T/unit/vppnotify.service" >"$T/security.log" 2>&1 ||
    fail "systemd-analyze security failed: $(tail -3 "$T/security.log")"
exposure=$(sed -n 's/.*Overall exposure level for vppnotify.service: \([0-9.]*\).*/\1/p' "$T/security.log")
[ -n "$exposure" ] || fail "no exposure level in: $(tail -3 "$T/security.log")"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is above 2.0"
ok "systemd-analyze verify is clean; security exposure $exposure (<= 2.0)"

# ---- install, upgrade, purge in a Debian 12 root --------------------------------------------------
base="$VN_BUILD_DIR/debroot"
if [ ! -x "$base/usr/bin/dpkg" ]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || fail "no Debian mirror in this machine's apt sources"
    echo "# building a minimal Debian 12 root once in $base (debootstrap from $mirror)"
    "${as_root[@]}" rm -rf "$base.tmp"
    "${as_root[@]}" debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" >"$T/debootstrap.log" 2>&1 ||
        fail "debootstrap failed: $(tail -5 "$T/debootstrap.log")"
    "${as_root[@]}" mv "$base.tmp" "$base"
fi
R="$VN_BUILD_DIR/debroot.run.$$"
trap 'vn_cleanup; "${as_root[@]}" rm -rf "$R"' EXIT
"${as_root[@]}" cp -a "$base" "$R"
in_root() { "${as_root[@]}" chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
"${as_root[@]}" cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
"${as_root[@]}" sh -c "cp /etc/apt/sources.list.d/*.sources '$R/etc/apt/sources.list.d/' 2>/dev/null" || true
# The package's run-time dependencies first, so that "before" and "after purge" compare only
# what the package itself did.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/([^)]*)//; s/|.*//; s/ //g' | grep -v '^$')
in_root apt-get update -q >"$T/apt.log" 2>&1 || fail "apt-get update in the root failed: $(tail -5 "$T/apt.log")"
# shellcheck disable=SC2086
in_root apt-get install -y -q --no-install-recommends $deps >>"$T/apt.log" 2>&1 ||
    fail "cannot install the dependencies ($deps): $(tail -5 "$T/apt.log")"
snapshot() {
    "${as_root[@]}" find "$R" -xdev \( -path "$R/var/lib/dpkg" -o -path "$R/var/cache" -o -path "$R/var/log" \
        -o -path "$R/var/lib/apt" -o -path "$R/tmp" -o -path "$R/pkg" \) -prune -o -print | sed "s|^$R||" | sort
}
snapshot >"$T/before.txt"

# A previous version of the package: the same files, repacked as 0.0.1.
"${as_root[@]}" mkdir -p "$R/pkg"
rm -rf "$T/old" && dpkg-deb -R "$deb" "$T/old"
sed -i 's/^Version: .*/Version: 0.0.1/' "$T/old/DEBIAN/control"
dpkg-deb --root-owner-group -b "$T/old" "$T/vppnotify_0.0.1.deb" >/dev/null
"${as_root[@]}" cp "$T/vppnotify_0.0.1.deb" "$deb" "$R/pkg/"

in_root dpkg -i /pkg/vppnotify_0.0.1.deb >"$T/dpkg.log" 2>&1 || fail "installing 0.0.1 failed: $(tail -5 "$T/dpkg.log")"
assert_eq "$(in_root dpkg-query -W -f '${Status} ${Version}' vppnotify)" "install ok installed 0.0.1" "0.0.1 installed"
[ -L "$R/etc/systemd/system/multi-user.target.wants/vppnotify.service" ] ||
    fail "the install did not enable vppnotify.service"
in_root /usr/bin/vppnotify --version >"$T/v.txt" || fail "the installed vppnotify does not run"
ok "installs into a Debian 12 root, enabled; /usr/bin/vppnotify runs there"

# What systemd's StateDirectory= with DynamicUser= makes, and a database in it made by the CLI.
in_root sh -c 'mkdir -p /var/lib/private/vppnotify && ln -s private/vppnotify /var/lib/vppnotify'
in_root /usr/bin/vppnotify location add --uid 2049025000431439 --name upgrade-test \
    --db /var/lib/vppnotify/vppnotify.db >"$T/add.log" 2>&1 || fail "location add in the root: $(cat "$T/add.log")"
in_root sh -c 'echo "log-level = debug" >> /etc/vppnotify/vppnotify.conf'

in_root dpkg -i "/pkg/$(basename "$deb")" >>"$T/dpkg.log" 2>&1 || fail "the upgrade failed: $(tail -5 "$T/dpkg.log")"
assert_eq "$(in_root dpkg-query -W -f '${Version}' vppnotify)" "$version" "upgraded to $version"
assert_contains "$R/etc/vppnotify/vppnotify.conf" "log-level = debug" "the upgrade keeps the edited conffile"
in_root /usr/bin/vppnotify location list --db /var/lib/vppnotify/vppnotify.db --json >"$T/loc.json" 2>"$T/loc.err" ||
    fail "the upgraded vppnotify cannot read the database: $(cat "$T/loc.err")"
assert_json "$T/loc.json" '.[0].name' '"upgrade-test"' "the database survives the upgrade"
ok "upgrade from 0.0.1 keeps the database and the edited conffile"

in_root dpkg --purge vppnotify >>"$T/dpkg.log" 2>&1 || fail "purge failed: $(tail -5 "$T/dpkg.log")"
snapshot >"$T/after.txt"
if ! diff -u "$T/before.txt" "$T/after.txt" >"$T/stray.diff"; then
    fail "purge left files behind: $(grep '^[+-]/' "$T/stray.diff" | head -20)"
fi
ok "purge leaves no stray file (state directory, conffile, unit links removed)"
