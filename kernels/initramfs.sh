#!/usr/bin/env bash
# Builds the test guest's initramfs (cpio.gz) for one kernel:
#   /bin/busybox (static)           shell and utilities
#   /corescope/bin/<tool>           the tool binaries of this build, with the
#   /lib*/...                       shared libraries and loader they need (ldd)
#   /corescope/bin/csprobe          traffic/exec helper (kernels/guest/csprobe.c, static)
#   /corescope/smoke/<tool>.sh      every smoke test, from tools/<tool>/smoke.sh (run only if <tool> is present)
#   /corescope/btf/min_core.btf     `bpftool gen min_core_btf` for this kernel
#   /corescope/config, tools.list   settings written here; /init, lib.sh
#
# usage: initramfs.sh OUT.cpio.gz KERNEL_DIR BIN_DIR CSPROBE [TOOL...]
#   KERNEL_DIR holds vmlinux.btf and min_core.btf (kernels/run.sh makes them).
set -euo pipefail

out=$1 kdir=$2 bindir=$3 csprobe=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)

stage=$(mktemp -d "${out%/*}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,corescope/bin,corescope/smoke,corescope/btf,proc,sys,dev,tmp}
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	echo "initramfs: need a static busybox (Debian package busybox-static)" >&2
	exit 1
fi
cp "$busybox" "$stage/bin/busybox"
install -m 0755 "$here/guest/init" "$stage/init"
cp "$here/guest/lib.sh" "$stage/corescope/lib.sh"
# Every tool's smoke test (tools/<tool>/smoke.sh), as smoke/<tool>.sh.
for f in "$here"/../tools/*/smoke.sh; do
	t=${f%/smoke.sh}
	cp "$f" "$stage/corescope/smoke/${t##*/}.sh"
done
install -m 0755 "$csprobe" "$stage/corescope/bin/csprobe"

# Each tool and what the dynamic loader needs for it, at the same paths.
: >"$stage/corescope/tools.list"
for tool in "$@"; do
	install -m 0755 "$bindir/$tool" "$stage/corescope/bin/$tool"
	echo "$tool" >>"$stage/corescope/tools.list"
	# (none for a static binary)
	for lib in $(ldd "$bindir/$tool" 2>/dev/null | grep -o '/[^ ]*' || true); do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
done

if [ -s "$kdir/min_core.btf" ]; then
	cp "$kdir/min_core.btf" "$stage/corescope/btf/min_core.btf"
fi
cat >"$stage/corescope/config" <<EOF
export SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-150}
export BTF_SHA256=$(sha256sum "$kdir/vmlinux.btf" 2>/dev/null | cut -d' ' -f1)
EOF

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
