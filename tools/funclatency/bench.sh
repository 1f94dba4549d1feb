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
. bench/lib.sh
bench_init funclatency
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin funclatency
for h in reads calls; do cc -O2 -Wall -rdynamic -o "$WORK/$h" "tools/funclatency/$h.c"; done
OURS=$PWD/target/release/funclatency
LT=/usr/sbin/funclatency
bench_stats_on

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
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1
	c0=$(cpu_ms "$tpid")
	release_helper "$n"
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	local total _
	read -r total _ < <(prog_delta "$WORK/s0" "$WORK/s1" "$WORK/$kind.progs")
	local rss
	rss=$(rss_kb "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$PER $((total / n)) $rss $((c1 - c0))" >>"$WORK/$kind"
}

untraced() { # KIND HELPER N
	start_helper "$2" "$3"
	release_helper "$3"
	echo "$PER" >>"$WORK/$1"
}


for _ in $(seq "$ROUNDS"); do
	untraced base-reads reads "$READS"
	traced ours-reads reads "$READS" -p '{pid}' syscall:read
	untraced base-calls calls "$CALLS"
	traced ours-calls calls "$CALLS" ./calls:cs_timed
	traced lt-calls calls "$CALLS" "$WORK/calls:cs_timed"
done

echo "# funclatency benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $READS read() calls, $CALLS function calls, $ROUNDS rounds, medians"
echo
echo "| workload | tracer | ns per call | slowdown | BPF ns per call | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
row() { # WORKLOAD LABEL KIND BASE
	local per
	per=$(col 1 "$3")
	echo "| $1 | $2 | $per | $(pct "$4" "$per") | $(col 2 "$3") | $(col 3 "$3") | $(col 4 "$3") |"
}
br=$(median <"$WORK/base-reads")
bc=$(median <"$WORK/base-calls")
echo "| read() | untraced | $br | | | | |"
row "read()" "corescope funclatency -p PID syscall:read" ours-reads "$br"
echo "| function | untraced | $bc | | | | |"
row function "corescope funclatency ./calls:cs_timed" ours-calls "$bc"
row function "libbpf-tools funclatency calls:cs_timed" lt-calls "$bc"
echo
echo "ratio corescope / libbpf-tools (uprobe, BPF ns per call): $(ratio "$(col 2 ours-calls)" "$(col 2 lt-calls)")"
echo
echo "Per program, ns per run (median over the rounds):"
progs_report ours-reads ours-calls lt-calls
