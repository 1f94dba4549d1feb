#!/usr/bin/env bash
# funclatency benchmark: `tools/funclatency/bench.sh`. Standalone; run as root.
# Workloads (the root tests' helpers, tools/funclatency/*.c):
#  - reads: N one-byte read() calls of /dev/zero (N=$READS), traced with
#    `funclatency -p PID syscall:read` (enter/exit tracepoints). libbpf-tools'
#    funclatency has no syscall-tracepoint mode (it probes the kernel
#    function with kprobe/fentry, not on this kernel): untraced is the reference;
#  - calls: N calls of the helper's own exported function (N=$CALLS), traced
#    with `funclatency ./calls:cs_timed` (uprobe + uretprobe) by corescope and,
#    side by side in the same rounds, by libbpf-tools' funclatency.
# ROUNDS rounds alternating untraced / corescope / libbpf-tools, medians of:
#  - the workload's time per call (ns) and its slowdown vs untraced;
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of
#    each program of the tracer (from /proc/PID/fdinfo), and their sum per
#    traced call (enter + exit);
#  - the tracer's peak RSS (VmHWM) and user+system CPU over the workload.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it; restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail

READS=${READS:-1000000}
CALLS=${CALLS:-1000000}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tools/funclatency/bench.sh: needs root" >&2; exit 1; }

WORK=$(mktemp -d /tmp/funclatency-bench.XXXXXX)
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

if [ ! -x /usr/sbin/funclatency ]; then
	echo "installing libbpf-tools (Debian) for the comparison" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools
fi
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs nodev /sys/kernel/tracing
	MOUNTED=1
fi
cargo build --release --quiet --bin funclatency
for h in reads calls; do cc -O2 -Wall -rdynamic -o "$WORK/$h" "tools/funclatency/$h.c"; done
OURS=$PWD/target/release/funclatency
LT=/usr/sbin/funclatency
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# start_helper NAME N: one run of helper NAME, held until released.
# The helper waits for a line on its stdin (a fifo), so that a tracer can
# be attached to its PID first; HPID is its PID.
start_helper() {
	rm -f "$WORK/fifo"
	mkfifo "$WORK/fifo"
	"$WORK/$1" "$2" <"$WORK/fifo" >/dev/null &
	HPID=$!
	STARTED+=("$HPID")
	exec 7>"$WORK/fifo"
}
# release_helper N: lets it run, waits for its exit; PER is ns per call.
# (Not in a $(...) subshell: the helper is this shell's child.)
release_helper() {
	local t0 t1
	t0=$(date +%s%N)
	echo go >&7
	exec 7>&-
	wait "$HPID"
	t1=$(date +%s%N)
	PER=$(((t1 - t0) / $1))
}

# sample PID: "id run_time_ns run_cnt" for each BPF program fd of PID.
sample() {
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		echo "$id $(awk '/^run_time_ns:/ {print $2}' "$f") $(awk '/^run_cnt:/ {print $2}' "$f")"
	done
}

# traced KIND HELPER N ARGS...: one run of HELPER under the tracer (ARGS;
# {pid} is the helper's PID); appends "ns_per_call bpf_ns_per_call rss_kb
# cpu_ms" to $WORK/KIND and "name ns_per_run" lines to $WORK/KIND.progs.
traced() {
	local kind=$1 helper=$2 n=$3 tpid bin
	shift 3
	bin=$([ "${kind%%-*}" = ours ] && echo "$OURS" || echo "$LT")
	start_helper "$helper" "$n"
	local args=() a
	for a in "$@"; do args+=("${a//\{pid\}/$HPID}"); done
	(cd "$WORK" && exec "$bin" "${args[@]}" >/dev/null 2>&1 7>&-) &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	sample "$tpid" >"$WORK/s0"
	local c0 c1
	c0=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	release_helper "$n"
	c1=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	sample "$tpid" >"$WORK/s1"
	local total=0 id rt rc rt0 rc0 name
	while read -r id rt rc; do
		read -r rt0 rc0 < <(awk -v i="$id" '$1 == i {print $2, $3}' "$WORK/s0")
		rt=$((rt - ${rt0:-0}))
		rc=$((rc - ${rc0:-0}))
		[ "$rc" -gt 0 ] || continue
		total=$((total + rt))
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		echo "$name $((rt / rc))" >>"$WORK/$kind.progs"
	done <"$WORK/s1"
	local rss
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$PER $((total / n)) $rss $(((c1 - c0) * 1000 / $(getconf CLK_TCK)))" >>"$WORK/$kind"
}

untraced() { # KIND HELPER N
	start_helper "$2" "$3"
	release_helper "$3"
	echo "$PER" >>"$WORK/$1"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$WORK/$2" | median; }

for _ in $(seq "$ROUNDS"); do
	untraced base-reads reads "$READS"
	traced ours-reads reads "$READS" -p '{pid}' syscall:read
	untraced base-calls calls "$CALLS"
	traced ours-calls calls "$CALLS" ./calls:cs_timed
	traced lt-calls calls "$CALLS" "$WORK/calls:cs_timed"
done

echo "# funclatency benchmark: $(date -u +%F) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $READS read() calls, $CALLS function calls, $ROUNDS rounds, medians"
echo
echo "| workload | tracer | ns per call | slowdown | BPF ns per call | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
row() { # WORKLOAD LABEL KIND BASE
	local per
	per=$(col 1 "$3")
	echo "| $1 | $2 | $per | $(awk -v a="$4" -v b="$per" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(col 2 "$3") | $(col 3 "$3") | $(col 4 "$3") |"
}
br=$(median <"$WORK/base-reads")
bc=$(median <"$WORK/base-calls")
echo "| read() | untraced | $br | | | | |"
row "read()" "corescope funclatency -p PID syscall:read" ours-reads "$br"
echo "| function | untraced | $bc | | | | |"
row function "corescope funclatency ./calls:cs_timed" ours-calls "$bc"
row function "libbpf-tools funclatency calls:cs_timed" lt-calls "$bc"
echo
echo "ratio corescope / libbpf-tools (uprobe, BPF ns per call): $(awk -v a="$(col 2 ours-calls)" -v b="$(col 2 lt-calls)" 'BEGIN {printf "%.2f", a / b}')"
echo
echo "Per program, ns per run (median over the rounds):"
for k in ours-reads ours-calls lt-calls; do
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | sort | while read -r n vals; do
		echo "- $k $n: $(printf '%s\n' $vals | median)"
	done
done
