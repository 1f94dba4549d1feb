#!/usr/bin/env bash
# syscount benchmark (standalone; run as root). Workload: N getppid() calls
# (tests/helpers/syscalls.c, static), ROUNDS rounds alternating untraced /
# corescope syscount / libbpf-tools syscount, each tracer system-wide, by
# default and with -L (the enter program too); medians. Measures:
#  - the workload's calls per second (its slowdown when traced);
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of
#    each of the tracer's programs over the workload (from /proc/PID/fdinfo);
#  - the tracer's user+system CPU over the run.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it; restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail

N=${N:-2000000}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "syscount bench: needs root" >&2; exit 1; }

WORK=$(mktemp -d /tmp/syscount-bench.XXXXXX)
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

if [ ! -x /usr/sbin/syscount ]; then
	echo "installing libbpf-tools (Debian) for the comparison" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools
fi
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
	MOUNTED=1
fi
cargo build --release --quiet --bin syscount
cc -O2 -Wall -static -o "$WORK/sc" tests/helpers/syscalls.c 2>/dev/null ||
	cc -O2 -Wall -o "$WORK/sc" tests/helpers/syscalls.c
OURS=$PWD/target/release/syscount
LT=/usr/sbin/syscount
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# workload: N getppid calls; prints calls per second.
workload() {
	local t0 t1
	t0=$(date +%s%N)
	"$WORK/sc" getppid "$N"
	t1=$(date +%s%N)
	echo $((N * 1000000000 / (t1 - t0)))
}

# traced KIND BIN ARGS...: one workload run under the tracer; appends
# "rate cpu_ms" to $WORK/KIND and "name ns_per_run" to $WORK/KIND.progs.
traced() {
	local kind=$1 bin=$2 tpid f id
	shift 2
	"$bin" "$@" >/dev/null 2>&1 &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	local -A rt0 rc0
	for f in /proc/"$tpid"/fdinfo/*; do
		# A program's own fd (a link's fdinfo has prog_id but no stats).
		grep -q '^run_time_ns:' "$f" 2>/dev/null || continue
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		rt0[$id]=$(awk '/^run_time_ns:/ {print $2}' "$f")
		rc0[$id]=$(awk '/^run_cnt:/ {print $2}' "$f")
	done
	local c0 c1 rate name rt rc
	c0=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	rate=$(workload)
	c1=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	for f in /proc/"$tpid"/fdinfo/*; do
		# A program's own fd (a link's fdinfo has prog_id but no stats).
		grep -q '^run_time_ns:' "$f" 2>/dev/null || continue
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		rt=$(($(awk '/^run_time_ns:/ {print $2}' "$f") - ${rt0[$id]:-0}))
		rc=$(($(awk '/^run_cnt:/ {print $2}' "$f") - ${rc0[$id]:-0}))
		[ "$rc" -gt 0 ] || continue
		echo "$name $((rt / rc))" >>"$WORK/$kind.progs"
	done
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $(((c1 - c0) * 1000 / $(getconf CLK_TCK)))" >>"$WORK/$kind"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$WORK/$2" | median; }
# The summed ns per run of KIND's programs (enter + exit: the cost per syscall).
per_call() {
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$1.progs" |
		while read -r _ vals; do printf '%s\n' $vals | median; done | awk '{s += $1} END {print s}'
}

: >"$WORK/base"
for _ in $(seq "$ROUNDS"); do
	workload >>"$WORK/base"
	traced ours "$OURS" -C 1
	traced lt "$LT" -i 1
	traced ours-L "$OURS" -C -L 1
	traced lt-L "$LT" -L -i 1
done

echo "# syscount benchmark: $(date -u +%F) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $N getppid() calls per run, $ROUNDS rounds, medians; tracers system-wide"
echo
base=$(median <"$WORK/base")
echo "| tracer | calls/s | slowdown | BPF ns per syscall | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | |"
for k in ours lt ours-L lt-L; do
	label=$(case $k in ours) echo "corescope syscount" ;; lt) echo "libbpf-tools syscount" ;; ours-L) echo "corescope syscount -L" ;; lt-L) echo "libbpf-tools syscount -L" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(awk -v a="$base" -v b="$rate" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(per_call "$k") | $(col 2 "$k") |"
done
echo
echo "ratios corescope / libbpf-tools (BPF ns per syscall): default $(awk -v a="$(per_call ours)" -v b="$(per_call lt)" 'BEGIN {printf "%.2f", a / b}'), -L $(awk -v a="$(per_call ours-L)" -v b="$(per_call lt-L)" 'BEGIN {printf "%.2f", a / b}')"
echo
echo "Per program, ns per run (median over the rounds):"
for k in ours lt ours-L lt-L; do
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | while read -r n vals; do
		echo "- $k $n: $(printf '%s\n' $vals | median)"
	done
done
