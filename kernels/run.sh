#!/usr/bin/env bash
# make test-kernels: run every tool's smoke test (tools/<tool>/smoke.sh) on
# several kernels with the binaries of this checkout (compile once, run
# everywhere). Each kernel comes from Debian's packages (cached in
# target/kernels/debs) and boots under qemu (TCG) with a busybox initramfs
# made by kernels/initramfs.sh; its /init prints one CORESCOPE-RESULT line per
# check on the serial console. This script parses them, writes
# target/kernels/matrix.md and fails naming the kernel, the tool and the
# check that broke. See kernels/README.md.
#
# Settings (environment):
#   KERNELS        Debian packages, meta or concrete
#                  (default: "linux-image-amd64 linux-image-6.12-amd64")
#   BOOT_TIMEOUT   seconds per guest, boot to power-off (default 240)
#   SMOKE_TIMEOUT  seconds per smoke test inside a guest (default 90)
#   JOBS           guests booted at once (default: number of CPUs)
#   CI=true        nothing may be skipped
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/target/kernels
KERNELS=${KERNELS:-linux-image-amd64 linux-image-6.12-amd64}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
export SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-90}
JOBS=${JOBS:-$(nproc)}
KDIRS=()
BOOTERS=()

# On any exit: stop the guests still running (by the PID qemu wrote, if that
# process is still a qemu) and their watchers; remove temporary files.
cleanup() {
	local k pid
	for pid in "${BOOTERS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for k in "${KDIRS[@]}"; do
		pid=$(cat "$k/qemu.pid" 2>/dev/null) || continue
		if grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
			kill "$pid" && echo "kernels: stopped qemu $pid ($(basename "$k"))" >&2
		fi
		rm -f "$k/qemu.pid"
	done
	rm -rf "$CACHE"/extract.* "$CACHE"/*/initramfs.*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Off CI, a machine that cannot run the guests skips, saying why.
skip() {
	if [ "${CI:-}" = true ]; then
		echo "kernels: FAIL: $* (CI=true: this test must run)" >&2
		exit 1
	fi
	echo "kernels: SKIP: $*" >&2
	exit 0
}

[ "$(id -u)" = 0 ] || skip "not root (the kernel matrix runs as root, like CI)"
for cmd in qemu-system-x86_64 busybox cpio gzip bpftool apt-get dpkg-deb objcopy cc; do
	command -v "$cmd" >/dev/null || skip "$cmd is missing (make deps installs it)"
done
if ! echo quit | timeout 30 qemu-system-x86_64 -M none -accel tcg -nodefaults \
	-display none -monitor stdio >/dev/null 2>&1; then
	skip "qemu-system-x86_64 -accel tcg cannot start here"
fi

. "$ROOT/kernels/kernel.sh"
mkdir -p "$CACHE/debs"
start=$(date +%s)

# --- The binaries under test, and the BPF objects they embed (for
# min_core_btf), from cargo's own report of the build script's OUT_DIR.
mapfile -t TOOLS < <(ls tools/*/mod.rs | sed 's|tools/\(.*\)/mod\.rs|\1|')
out_dir=$(cargo build --release --bins --message-format=json-render-diagnostics |
	grep '"reason":"build-script-executed"' | grep '"package_id":"[^"]*corescope' |
	sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n1)
objs=()
for t in "${TOOLS[@]}"; do
	[ -x "target/release/$t" ] || { echo "kernels: target/release/$t was not built" >&2; exit 1; }
	[ -f "$out_dir/$t.bpf.o" ] && objs+=("$out_dir/$t.bpf.o")
done
[ ${#objs[@]} -gt 0 ] || { echo "kernels: no BPF objects in '$out_dir'" >&2; exit 1; }
cc -static -Os -Wall -o "$CACHE/csprobe" kernels/guest/csprobe.c

# --- Kernels: resolve, fetch, extract; a minimal BTF and an initramfs each.
if ! apt-cache policy 2>/dev/null | grep -q http; then
	echo "kernels: apt has no package lists; apt-get update" >&2
	apt-get update -qq || true
fi
for spec in $KERNELS; do
	pkg=$(resolve_kernel "$spec")
	[ -n "$pkg" ] || skip "apt knows no package $spec (and none is cached)"
	deb=$(fetch_kernel "$pkg") || skip "cannot download $pkg"
	kdir=$(prepare_kernel "$deb") || { echo "kernels: FAIL: cannot prepare $pkg" >&2; exit 1; }
	rm -f "$kdir/min_core.btf"
	if [ -s "$kdir/vmlinux.btf" ]; then
		bpftool gen min_core_btf "$kdir/vmlinux.btf" "$kdir/min_core.btf" "${objs[@]}"
	fi
	kernels/initramfs.sh "$kdir/initrd.cpio.gz" "$kdir" target/release "$CACHE/csprobe" "${TOOLS[@]}"
	KDIRS+=("$kdir")
done
prep=$(($(date +%s) - start))

# --- Boot: up to JOBS guests at once, each bounded by BOOT_TIMEOUT.
boot() { # KDIR — console in KDIR/console.log, wall seconds in KDIR/boot.seconds
	local k=$1 t0 pid i=0
	t0=$(date +%s)
	qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nic none \
		-kernel "$k/vmlinuz" -initrd "$k/initrd.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet" \
		-nographic -no-reboot -pidfile "$k/qemu.pid" \
		</dev/null >"$k/console.log" 2>&1 &
	pid=$!
	trap 'kill $pid 2>/dev/null; exit 1' TERM
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$i" -ge "$BOOT_TIMEOUT" ]; then
			kill "$pid" 2>/dev/null
			echo "CORESCOPE-HOST timeout: killed after ${BOOT_TIMEOUT}s" >>"$k/console.log"
			break
		fi
		sleep 1
		i=$((i + 1))
	done
	wait "$pid" 2>/dev/null || true
	echo $(($(date +%s) - t0)) >"$k/boot.seconds"
}
for k in "${KDIRS[@]}"; do
	rm -f "$k/console.log" "$k/qemu.pid" "$k/boot.seconds" "$k/results"
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
	echo "kernels: booting $(basename "$k") ($(cat "$k/package"))" >&2
	boot "$k" &
	BOOTERS+=($!)
done
for pid in "${BOOTERS[@]}"; do wait "$pid" || true; done
BOOTERS=()

# --- Results: one line per check; a tool's cell is its worst check.
all_tools=$( (printf '%s\n' "${TOOLS[@]}"; for f in tools/*/smoke.sh; do basename "$(dirname "$f")"; done) | sort -u)
rank() { case $1 in fail) echo 3 ;; degraded) echo 2 ;; ok) echo 1 ;; skip) echo 0 ;; *) echo -1 ;; esac; }
field() { sed -n "s/.* $1=\\([^ ]*\\) .*/\\1/p" <<<"$2"; }
failures=()
rows=""
checks=""
for k in "${KDIRS[@]}"; do
	rel=$(basename "$k")
	log="$k/console.log"
	tr -d '\r' <"$log" | grep -o 'CORESCOPE-[A-Z]* .*' >"$k/results" || true
	declare -A cell=()
	while IFS= read -r line; do
		kernel=$(field kernel "$line") tool=$(field tool "$line")
		check=$(field check "$line") status=$(field status "$line")
		detail=$(sed -n 's/.* detail="\(.*\)"$/\1/p' <<<"$line")
		[ "$kernel" = "$rel" ] || failures+=("kernel $rel: a result from kernel '$kernel'")
		[ "$(rank "$status")" -ge 0 ] || failures+=("kernel $rel: $tool: check '$check' has unknown status '$status'")
		if [ "$(rank "$status")" -gt "$(rank "${cell[$tool]:-none}")" ]; then
			cell[$tool]=$status
		fi
		[ "$status" = fail ] && failures+=("kernel $rel: $tool: check '$check' failed: $detail")
		[ "$status" = degraded ] && echo "kernels: kernel $rel: $tool ($check) degraded: $detail" >&2
		checks+="| $rel | $tool | $check | $status | ${detail//|/\\|} |"$'\n'
	done < <(grep '^CORESCOPE-RESULT ' "$k/results")
	# A smoke test that started and never ended: the guest stopped in it.
	last=$(grep '^CORESCOPE-SMOKE ' "$k/results" | tail -n1 || true)
	if [ -n "$last" ] && ! grep -q ' end ' <<<"$last"; then
		tool=$(field tool "$last")
		cell[$tool]=fail
		failures+=("kernel $rel: $tool: the guest stopped during its smoke test (crash, or over BOOT_TIMEOUT=${BOOT_TIMEOUT}s)")
		checks+="| $rel | $tool | smoke | fail | the guest stopped during this test |"$'\n'
	fi
	if ! grep -qF "CORESCOPE-BOOT kernel=$rel " "$k/results"; then
		failures+=("kernel $rel: the guest never reported from its /init (boot failure?) (see $log)")
	elif ! grep -qF "CORESCOPE-DONE kernel=$rel " "$k/results"; then
		failures+=("kernel $rel: the guest did not finish its smoke tests (crash, or over BOOT_TIMEOUT=${BOOT_TIMEOUT}s; see $log)")
	fi
	grep -q '^CORESCOPE-RESULT ' "$k/results" || failures+=("kernel $rel: no result line at all (see $log)")
	row="| $rel ($(cut -d' ' -f2 "$k/package")) |"
	for t in $all_tools; do row+=" ${cell[$t]:-no result} |"; done
	rows+="$row $(cat "$k/boot.seconds" 2>/dev/null || echo '?') s |"$'\n'
	unset cell
done
total=$(($(date +%s) - start))

{
	echo "# Kernel matrix"
	echo
	echo "Written by \`make test-kernels\` (kernels/run.sh) on $(date -u +%Y-%m-%dT%H:%MZ)," \
		"commit $(git describe --always --dirty 2>/dev/null || echo '?'). The binaries were built" \
		"once on the host ($(uname -r)) and booted in each kernel under qemu (TCG)."
	echo "A tool's cell is its worst check: **ok** works (a check that hides a feature on purpose," \
		"such as no-btf, is ok when the tool refuses with its documented message); **degraded**" \
		"the kernel lacks a feature the tool needs and the tool said so clearly; **fail** anything" \
		"else; **skip** the tool is not in this build."
	echo
	echo "| kernel (Debian version) |$(printf ' %s |' $all_tools) guest run |"
	echo "| --- |$(printf ' --- |%.0s' $all_tools) --- |"
	printf '%s' "$rows"
	echo
	echo "| kernel | tool | check | status | detail |"
	echo "| --- | --- | --- | --- | --- |"
	printf '%s' "$checks"
	echo
	echo "Total ${total}s: ${prep}s for the build check, kernels and initramfs, then" \
		"${#KDIRS[@]} guests, up to $JOBS at once."
} >"$CACHE/matrix.md"

cat "$CACHE/matrix.md"
if [ ${#failures[@]} -gt 0 ]; then
	for k in "${KDIRS[@]}"; do
		if grep -q 'status=fail' "$k/results" || ! grep -q '^CORESCOPE-DONE ' "$k/results"; then
			echo "--- $(basename "$k"): last lines of $k/console.log" >&2
			tr -d '\r' <"$k/console.log" | tail -n 40 >&2
		fi
	done
	echo >&2
	for f in "${failures[@]}"; do echo "kernels: FAIL: $f" >&2; done
	exit 1
fi
echo "kernels: ${#KDIRS[@]} kernels passed in ${total}s (matrix: target/kernels/matrix.md)" >&2
