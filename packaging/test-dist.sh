#!/usr/bin/env bash
# make test-dist: the source tarball as a distro packager uses it. make dist
# (from the files git has: a clean clone's), then, unpacked in a temp dir and
# with no network (unshare -n): make install DESTDIR=… and make uninstall;
# dpkg-buildpackage -b -us -uc on a second unpacked copy, lintian on the
# .deb (an E: line fails), its contents, fields, conffile, and that its
# postinst neither enables nor starts the exporter's unit. Everything is in
# one temp dir, removed at the end even on failure; HOME and CARGO_HOME point
# into it, so the builds write nowhere else. Needs root (unshare -n).
set -euo pipefail

# All in main, read whole before it runs: editing this file while a run is
# going on does not change that run.
main() {
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "test-dist: needs root (the offline builds run in unshare -n); hint: sudo make test-dist" >&2
	exit 1
fi
for c in unshare dpkg-buildpackage lintian dpkg-deb systemd-analyze; do
	if ! command -v "$c" >/dev/null; then
		echo "test-dist: $c is missing; hint: make deps installs it" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/corescope-test-dist.XXXXXX)
trap 'rm -rf "$work"' EXIT
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)
name=corescope-$version
arch=$(dpkg --print-architecture)
# rustup's cargo finds its toolchains through RUSTUP_HOME (default ~/.rustup):
# keep that, and give the builds their own HOME and CARGO_HOME.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
export PATH=$(dirname "$cargo"):$PATH
sandbox() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL HOME="$work/home" CARGO_HOME="$work/cargo-home" "$@"; }
mkdir -p "$work/home"

passed=0 failed=0 timing=""
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
summary() {
	printf '%b' "$timing"
	echo "test-dist: $passed passed, $failed failed"
}
# step NAME CMD…: a step the next ones need, timed; its log is shown and the
# test ends if it fails.
step() {
	local what=$1 t0=$SECONDS
	shift
	if "$@" >"$work/$what.log" 2>&1; then
		ok "$what ($((SECONDS - t0)) s)"
		timing+="  $what: $((SECONDS - t0)) s\n"
	else
		bad "$what: exit $?; its last lines:"
		tail -40 "$work/$what.log"
		summary
		exit 1
	fi
}
# check DESCRIPTION CMD…: a check; the test goes on after a failure.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
same() { # same A B: two files with the same lines, or their diff
	diff -u "$1" "$2" >"$work/diff" && return 0
	head -40 "$work/diff"
	return 1
}

status_before=$(git -C "$here" status --porcelain)

# 1. The tarball (cargo vendor may reach the crate registry: not sandboxed).
step dist env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$here" dist DISTDIR="$work/dist"
tarball=$work/dist/$name.tar.gz
echo "  $tarball: $(($(stat -c %s "$tarball") / 1024)) KiB"
tar -tzf "$tarball" | sed -n "s|^$name/||p" | grep -v '/$' | grep -v '^$' | sort >"$work/tar.list"
# What git has (the oracle for "a clean clone"), plus what dist adds.
(cd "$here" && git ls-files --cached --others --exclude-standard |
	while IFS= read -r f; do [ -e "$f" ] && echo "$f"; done) | sort >"$work/git.list"
grep -v -E '^(vendor/|generated/|\.cargo/config\.toml$|debian/copyright$)' "$work/tar.list" >"$work/tar.own"
check "the tarball holds exactly git's files, plus vendor/, generated/, .cargo/config.toml, debian/copyright" \
	same "$work/git.list" "$work/tar.own"
for f in .cargo/config.toml debian/copyright debian/rules generated/man8/corescope.8 vendor/libbpf-rs/Cargo.toml; do
	check "the tarball has $f" grep -qx "$f" "$work/tar.list"
done

mkdir "$work/src" "$work/deb"
tar -xzf "$tarball" -C "$work/src"
tar -xzf "$tarball" -C "$work/deb"
src=$work/src/$name

# The toolchain debian/control and the README ask for: the newest
# rust-version of a vendored crate.
need=$(sed -n 's/^rust-version = "\([0-9]*\.[0-9]*\).*"/\1/p' "$src"/vendor/*/Cargo.toml | sort -V | tail -1)
check "debian/control asks for rustc >= $need (the vendored crates' newest rust-version)" \
	grep -q "rustc >= $need " "$src/debian/control"
check "README asks for rustc >= $need" grep -q "rustc >= $need" "$here/README.md"
check "debian/changelog's version is Cargo.toml's ($version)" \
	test "$(cd "$src" && dpkg-parsechangelog -S Version)" = "$version"

# 2. make install and uninstall from the tarball, offline.
stage=$work/stage
step offline-install sandbox unshare -n make --no-print-directory -C "$src" install PREFIX=/usr DESTDIR="$stage"
programs=$( (cd "$src/tools" && for d in */; do [ -f "$d/mod.rs" ] && echo "${d%/}"; done) && echo corescope)
expected() { # expected MAN_EXT: the file list, from tools/ (not the Makefile)
	for p in $programs; do
		echo "usr/sbin/$p"
		echo "usr/share/man/man8/$p.8$1"
		echo "usr/share/bash-completion/completions/$p"
		echo "usr/share/zsh/vendor-completions/_$p"
		echo "usr/share/fish/vendor_completions.d/$p.fish"
	done
}
{
	expected ""
	echo usr/lib/systemd/system/corescope-exporter.service
	echo etc/default/corescope-exporter
} | sort >"$work/want.install"
(cd "$stage" && find . ! -type d | sed 's|^\./||' | sort) >"$work/got.install"
check "make install put the binary, the links, man pages, completions, unit, defaults" \
	same "$work/want.install" "$work/got.install"
check "the tools are hard links to corescope" \
	test "$(stat -c %i "$stage"/usr/sbin/* | sort -u | wc -l)" = 1
check "the installed corescope runs: corescope $version, no git (the tarball has none)" \
	test "$("$stage/usr/sbin/corescope" --version)" = "corescope $version"
check "the unit runs /usr/sbin/corescope exporter with /etc/default's arguments" \
	grep -qx 'ExecStart=/usr/sbin/corescope exporter $CORESCOPE_EXPORTER_ARGS' "$stage/usr/lib/systemd/system/corescope-exporter.service"
check "the defaults file is packaging's" \
	cmp -s "$src/packaging/corescope-exporter.default" "$stage/etc/default/corescope-exporter"
# The unit as installed, with its paths into the staging tree (verify wants
# the executable to exist; the man page is not installed here).
mkdir "$work/unit"
sed -e "s|/usr/sbin/|$stage/usr/sbin/|" -e "s|/etc/default/|$stage/etc/default/|" \
	"$stage/usr/lib/systemd/system/corescope-exporter.service" >"$work/unit/corescope-exporter.service"
# It exits 0 on unknown keys and bad values ("ignoring"): no output either.
verify() {
	local out
	out=$(systemd-analyze verify --man=no "$1" 2>&1) && [ -z "$out" ] && return 0
	echo "$out"
	return 1
}
check "systemd-analyze verify accepts the unit, with nothing to say" verify "$work/unit/corescope-exporter.service"
step offline-uninstall sandbox unshare -n make --no-print-directory -C "$src" uninstall PREFIX=/usr DESTDIR="$stage"
check "make uninstall left only directories" test -z "$(find "$stage" ! -type d)"

# 3. The Debian package from the tarball, offline.
step dpkg-buildpackage sandbox sh -c "cd '$work/deb/$name' && unshare -n dpkg-buildpackage -b -us -uc"
deb=$work/deb/corescope_${version}_$arch.deb
step lintian sandbox lintian --no-cfg "$deb"
grep -E '^[EW]: ' "$work/lintian.log" | sed 's/^/  lintian: /' || true
check "lintian: no errors" test -z "$(grep '^E: ' "$work/lintian.log")"

field() { dpkg-deb -f "$deb" "$1"; }
check "Package, Version, Architecture" test "$(field Package) $(field Version) $(field Architecture)" = "corescope $version $arch"
for lib in libc6 libelf1 zlib1g; do
	check "Depends has $lib" grep -q -E "(^|, )$lib( |,|$)" <<<"$(field Depends)"
done
check "Conflicts: libbpf-tools (same tool names)" test "$(field Conflicts)" = libbpf-tools
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | sort >"$work/got.deb"
{
	expected .gz
	echo lib/systemd/system/corescope-exporter.service
	echo etc/default/corescope-exporter
	echo usr/share/doc/corescope/copyright
	echo usr/share/doc/corescope/changelog.gz
} | sort >"$work/want.deb"
check "the .deb's files (dpkg-deb -c)" same "$work/want.deb" "$work/got.deb"
check "no unit enabled in the package (no .wants link)" \
	test -z "$(dpkg-deb -c "$deb" | grep -F '.wants/')"
mkdir "$work/ctrl" "$work/root"
dpkg-deb -e "$deb" "$work/ctrl"
dpkg-deb -x "$deb" "$work/root"
check "/etc/default/corescope-exporter is a conffile" \
	grep -qx /etc/default/corescope-exporter "$work/ctrl/conffiles"
# The postinst of a first install on a systemd machine, with the systemd
# helpers as stubs that log their arguments and answer as on a first
# install (deb-systemd-helper: never installed before, so "was enabled"
# (its default: a plain dh_installsystemd snippet would then enable it)):
# nothing may enable or start the unit.
mkdir -p "$work/stub" "$work/run/systemd/system"
for c in deb-systemd-helper deb-systemd-invoke systemctl; do
	cat >"$work/stub/$c" <<STUB
#!/bin/sh
echo "$c \$*" >>"$work/stub.log"
case "\$*" in *debian-installed*) exit 1 ;; esac
exit 0
STUB
	chmod +x "$work/stub/$c"
done
: >"$work/stub.log"
if [ -f "$work/ctrl/postinst" ]; then
	sed "s|/run/systemd/system|$work/run/systemd/system|g" "$work/ctrl/postinst" >"$work/postinst"
	check "the postinst of a first install runs" \
		env PATH="$work/stub:$PATH" DPKG_MAINTSCRIPT_PACKAGE=corescope sh "$work/postinst" configure ""
fi
sed 's/^/  postinst: /' "$work/stub.log"
check "the postinst neither enables nor starts the unit" \
	test -z "$(grep -E ' (enable|start|restart|reenable)( |$)' "$work/stub.log")"
runs=0
for p in $programs; do
	if out=$("$work/root/usr/sbin/$p" --version) && [ "${out%% *}" = "$p" ]; then
		runs=$((runs + 1))
	else
		echo "  $p --version from the package: $out"
	fi
done
check "every program of the package runs (--version)" test "$runs" = "$(wc -w <<<"$programs")"
check "apt accepts the package (apt-get install -s)" \
	sh -c "apt-get install -s -q '$deb' 2>&1 | grep -q '^Inst corescope'"

check "the source tree is as before (git status)" \
	test "$(git -C "$here" status --porcelain)" = "$status_before"
summary
[ "$failed" = 0 ]
}
main "$@"
