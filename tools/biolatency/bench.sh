#!/usr/bin/env bash
# biolatency benchmark, side by side with Debian's libbpf-tools biolatency in
# one run. Standalone; run as root: tools/biolatency/bench.sh
# Workload: dd of N direct 4 KiB writes (oflag=direct) to a loop device over
# a file in /dev/shm (memory: the I/O is cheap, so the tracer's cost shows),
# ROUNDS rounds alternating untraced / corescope / libbpf-tools (default
# histogram, then -D), medians. Measures:
#  - direct I/O ops/s (the workload's slowdown when traced);
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of
#    every program of the tracer (from /proc/PID/fdinfo), and the sum of
#    their run time per I/O (per run of the block_rq_complete program);
#  - start -> attached (ours: the -v "tracing" line; theirs: the banner,
#    printed after attach, line-buffered with stdbuf), peak RSS (VmHWM),
#    tracer user+system CPU over the run.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it; restores bpf_stats_enabled; detaches the loop device. Kills
# only what it started.
set -euo pipefail

N=${N:-20000}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "biolatency bench: needs root" >&2; exit 1; }

WORK=$(mktemp -d /tmp/biolat-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/biolat-bench.XXXXXX)
MOUNTED=""
LOOP=""
STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
STARTED=()
cleanup() {
	for p in "${STARTED[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
	echo "$STATS" >/proc/sys/kernel/bpf_stats_enabled
	[ -z "$LOOP" ] || losetup -d "$LOOP" || true
	if [ -n "$MOUNTED" ]; then umount /sys/kernel/tracing || true; fi
	rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x /usr/sbin/biolatency ]; then
	echo "installing libbpf-tools (Debian) for the comparison" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools
fi
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
	MOUNTED=1
fi
cargo build --release --quiet --bin biolatency
OURS=$PWD/target/release/biolatency
LT=/usr/sbin/biolatency
truncate -s 256M "$SHM/disk"
LOOP=$(losetup -f --show "$SHM/disk")
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# io: N direct writes; prints ops/s.
io() {
	dd if=/dev/zero of="$LOOP" bs=4k count="$N" oflag=direct 2>&1 |
		awk -v n="$N" '/copied/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^s,?$/) print int(n / $i)}'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# traced KIND ARGS...: one run under the tracer; appends
# "ops_per_s ns_per_io rss_kb cpu_ms attach_ms" to $WORK/KIND and the
# per-program "name ns_per_run" lines to $WORK/KIND.progs.
traced() {
	local kind=$1 tpid t0 t1 ready
	shift
	t0=$(now_ms)
	if [ "${kind%%-*}" = ours ]; then
		"$OURS" -v "$@" >/dev/null 2>"$WORK/err" &
		tpid=$!
		ready() { grep -q '^biolatency: tracing' "$WORK/err"; }
	else
		stdbuf -oL "$LT" "$@" >"$WORK/out" 2>/dev/null &
		tpid=$!
		ready() { grep -q '^Tracing block device' "$WORK/out"; }
	fi
	STARTED+=("$tpid")
	for _ in $(seq 1000); do ready && break; sleep 0.01; done
	t1=$(now_ms)
	sleep 0.5
	# Program stats from now on only: the runs before are the idle machine.
	local -A rt0 rc0
	local f id
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		rt0[$id]=$(awk '/^run_time_ns:/ {print $2}' "$f")
		rc0[$id]=$(awk '/^run_cnt:/ {print $2}' "$f")
	done
	local c0 c1 rate
	c0=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	rate=$(io)
	c1=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	local done_rc=0 total_rt=0 name rt rc
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		rt=$(($(awk '/^run_time_ns:/ {print $2}' "$f") - ${rt0[$id]:-0}))
		rc=$(($(awk '/^run_cnt:/ {print $2}' "$f") - ${rc0[$id]:-0}))
		[ "$rc" -gt 0 ] || continue
		total_rt=$((total_rt + rt))
		case $name in *complete*) done_rc=$rc ;; esac
		echo "$name $((rt / rc))" >>"$WORK/$kind.progs"
	done
	local rss
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (done_rc > 0 ? done_rc : 1))) $rss $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) $((t1 - t0))" >>"$WORK/$kind"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$WORK/$2" | median; }

io >/dev/null # warm the loop device and /dev/shm
: >"$WORK/base"
for _ in $(seq "$ROUNDS"); do
	io >>"$WORK/base"
	traced ours
	traced lt
	traced ours-D -D
	traced lt-D -D
done

echo "# biolatency benchmark: $(date -u +%F) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); dd of $N direct 4 KiB writes to a loop device over /dev/shm, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | direct I/O ops/s | slowdown | BPF ns per I/O | start → attached (ms) | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | | |"
for k in ours lt ours-D lt-D; do
	label=$(case $k in ours) echo "corescope biolatency" ;; lt) echo "libbpf-tools biolatency" ;; ours-D) echo "corescope biolatency -D" ;; lt-D) echo "libbpf-tools biolatency -D" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(awk -v a="$base" -v b="$rate" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(col 2 "$k") | $(col 5 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
echo
ratio() { awk -v a="$(col "$1" "$2")" -v b="$(col "$1" "$3")" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratios corescope / libbpf-tools: BPF ns per I/O default $(ratio 2 ours lt), -D $(ratio 2 ours-D lt-D); peak RSS $(ratio 3 ours lt); start → attached $(ratio 5 ours lt)"
echo
echo "Per program, ns per run (median over the rounds):"
for k in ours lt ours-D lt-D; do
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | sort | while read -r n vals; do
		echo "- $k $n: $(printf '%s\n' $vals | median)"
	done
done
