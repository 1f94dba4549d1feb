#!/usr/bin/env bash
# Shared benchmark of the scheduler histogram tools (tools/runqlat/bench.sh,
# tools/cpudist/bench.sh): `bench/sched.sh TOOL`. Standalone; run as root.
# Workload: the pipe ping-pong of the root tests (tests/helpers/pingpong.c,
# both processes pinned to CPU 0), K round trips per run, ROUNDS rounds
# alternating untraced / corescope's TOOL / libbpf-tools' TOOL (system-wide,
# default histogram; then -P), medians. Measures:
#  - round trips per second (the workload's slowdown when traced);
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of
#    every program of the tracer (from /proc/PID/fdinfo), and the sum of
#    their run time per context switch (the sched_switch program's runs);
#  - the tracer's peak RSS (VmHWM) and user+system CPU over the run.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it; restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail

TOOL=${1:?usage: bench/sched.sh TOOL}
K=${K:-200000}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/sched.sh: needs root" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sched-bench.XXXXXX)
MOUNTED=""
STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
STARTED=()
cleanup() {
	for p in "${STARTED[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
	echo "$STATS" >/proc/sys/kernel/bpf_stats_enabled
	if [ -n "$MOUNTED" ]; then umount /sys/kernel/tracing || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "/usr/sbin/$TOOL" ]; then
	echo "installing libbpf-tools (Debian) for the comparison" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools
fi
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
	MOUNTED=1
fi
cargo build --release --quiet --bin "$TOOL"
cc -O2 -Wall -o "$WORK/pp" tests/helpers/pingpong.c
OURS=$PWD/target/release/$TOOL
LT=/usr/sbin/$TOOL
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# pingpong: one run of K round trips on CPU 0; prints round trips/s.
pingpong() { echo go | "$WORK/pp" "$K" 0 rate 2>&1 >/dev/null | awk '{print $2}'; }

# traced KIND ARGS...: one run under the tracer; appends
# "rate ns_per_switch rss_kb cpu_ms" to $WORK/KIND and the per-program
# "name ns_per_run" lines to $WORK/KIND.progs.
traced() {
	local kind=$1 tpid bin
	shift
	bin=$([ "${kind%%-*}" = ours ] && echo "$OURS" || echo "$LT")
	"$bin" "$@" >/dev/null 2>&1 &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	# Program stats from now on only: the runs before are the idle machine.
	local -A rt0 rc0
	local f id
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		rt0[$id]=$(awk '/^run_time_ns:/ {print $2}' "$f")
		rc0[$id]=$(awk '/^run_cnt:/ {print $2}' "$f")
	done
	local c0 c1
	c0=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	local rate
	rate=$(pingpong)
	c1=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	local sw_rc=0 total_rt=0 name rt rc
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		rt=$(($(awk '/^run_time_ns:/ {print $2}' "$f") - ${rt0[$id]:-0}))
		rc=$(($(awk '/^run_cnt:/ {print $2}' "$f") - ${rc0[$id]:-0}))
		[ "$rc" -gt 0 ] || continue
		total_rt=$((total_rt + rt))
		case $name in *switch*) sw_rc=$rc ;; esac
		echo "$name $((rt / rc))" >>"$WORK/$kind.progs"
	done
	local rss
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (sw_rc > 0 ? sw_rc : 1))) $rss $(((c1 - c0) * 1000 / $(getconf CLK_TCK)))" >>"$WORK/$kind"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$WORK/$2" | median; }

: >"$WORK/base"
for r in $(seq "$ROUNDS"); do
	pingpong >>"$WORK/base"
	traced ours
	traced lt
	traced ours-P -P
	traced lt-P -P
done

echo "# $TOOL benchmark: $(date -u +%F) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); pipe ping-pong of $K round trips on CPU 0, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | round trips/s | slowdown | BPF ns per context switch | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | |"
for k in ours lt ours-P lt-P; do
	label=$(case $k in ours) echo "corescope $TOOL" ;; lt) echo "libbpf-tools $TOOL" ;; ours-P) echo "corescope $TOOL -P" ;; lt-P) echo "libbpf-tools $TOOL -P" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(awk -v a="$base" -v b="$rate" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(col 2 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
echo
echo "ratios corescope / libbpf-tools (BPF ns per switch): default $(awk -v a="$(col 2 ours)" -v b="$(col 2 lt)" 'BEGIN {printf "%.2f", a / b}'), -P $(awk -v a="$(col 2 ours-P)" -v b="$(col 2 lt-P)" 'BEGIN {printf "%.2f", a / b}')"
echo
echo "Per program, ns per run (median over the rounds):"
for k in ours lt ours-P lt-P; do
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | while read -r n vals; do
		echo "- $k $n: $(printf '%s\n' $vals | median)"
	done
done
