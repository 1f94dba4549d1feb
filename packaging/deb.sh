#!/usr/bin/env bash
# Builds corescope_<version>_<arch>.deb from a staging tree made by
# `make install PREFIX=/usr DESTDIR=ROOT`.
#   usage: deb.sh ROOT OUTDIR
# Depends: from dpkg-shlibdeps on the installed binaries (libc6, libelf1,
# zlib1g). Without SUFFIX/NAMEPREFIX the tool names are those of Debian's
# libbpf-tools (/usr/sbin/execsnoop…), so the package conflicts with it;
# `make deb SUFFIX=-cs` builds one that installs beside it.
set -euo pipefail

root=$(realpath "$1") outdir=$2
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)
arch=$(dpkg --print-architecture)
desc=$(sed -n 's/^description = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)

# Debian policy: compressed man pages, no build paths in them.
find "$root/usr/share/man" -name '*.8' -exec gzip -9nf {} +

# dpkg-shlibdeps wants a debian/control next to it: a throw-away one.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: corescope\n\nPackage: corescope\nArchitecture: any\n' >"$work/debian/control"
# The tools are hard links to /usr/sbin/corescope: one file to look at.
mapfile -t bins < <(find "$root/usr/sbin" -type f -printf '%i %p\n' | sort -u -k1,1 | cut -d' ' -f2-)
depends=$(cd "$work" && dpkg-shlibdeps -O "${bins[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
if [ -z "$depends" ]; then
	echo "deb.sh: dpkg-shlibdeps found no dependencies" >&2
	exit 1
fi

conflicts=
if [ -z "${SUFFIX:-}" ] && [ -z "${NAMEPREFIX:-}" ]; then
	conflicts="Conflicts: libbpf-tools"
fi
mkdir -p "$root/usr/share/doc/corescope"
{
	echo "corescope: $desc"
	echo "License: $(sed -n 's/^license = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)"
} >"$root/usr/share/doc/corescope/copyright"
tools=$(cd "$root/usr/sbin" && ls | grep -vx corescope | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root/usr" | cut -f1)
mkdir -p "$root/DEBIAN"
{
	echo "Package: corescope"
	echo "Version: $version"
	echo "Architecture: $arch"
	echo "Maintainer: corescope developers <corescope@localhost>"
	echo "Installed-Size: $size"
	echo "Depends: $depends"
	if [ -n "$conflicts" ]; then echo "$conflicts"; fi
	echo "Section: admin"
	echo "Priority: optional"
	echo "Description: $desc"
	echo " Tools (in /usr/sbin): $tools."
	echo " corescope check tells whether each tool can run on this machine."
} >"$root/DEBIAN/control"

mkdir -p "$outdir"
out="$outdir/corescope_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
