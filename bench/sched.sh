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
. bench/lib.sh
bench_init sched
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin "$TOOL"
cc -O2 -Wall -o "$WORK/pp" tests/helpers/pingpong.c
OURS=$PWD/target/release/$TOOL
LT=/usr/sbin/$TOOL
bench_stats_on

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
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1 rate
	c0=$(cpu_ms "$tpid")
	rate=$(pingpong)
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	local total_rt counts sw_rc=0 c
	read -r total_rt counts < <(prog_delta "$WORK/s0" "$WORK/s1" "$WORK/$kind.progs")
	for c in $counts; do case ${c%%:*} in *switch*) sw_rc=${c##*:} ;; esac; done
	local rss
	rss=$(rss_kb "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (sw_rc > 0 ? sw_rc : 1))) $rss $((c1 - c0))" >>"$WORK/$kind"
}


: >"$WORK/base"
for r in $(seq "$ROUNDS"); do
	pingpong >>"$WORK/base"
	traced ours
	traced lt
	traced ours-P -P
	traced lt-P -P
done

echo "# $TOOL benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); pipe ping-pong of $K round trips on CPU 0, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | round trips/s | slowdown | BPF ns per context switch | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | |"
for k in ours lt ours-P lt-P; do
	label=$(case $k in ours) echo "corescope $TOOL" ;; lt) echo "libbpf-tools $TOOL" ;; ours-P) echo "corescope $TOOL -P" ;; lt-P) echo "libbpf-tools $TOOL -P" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(pct "$base" "$rate") | $(col 2 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
echo
echo "ratios corescope / libbpf-tools (BPF ns per switch): default $(ratio "$(col 2 ours)" "$(col 2 lt)"), -P $(ratio "$(col 2 ours-P)" "$(col 2 lt-P)")"
echo
echo "Per program, ns per run (median over the rounds):"
progs_report ours lt ours-P lt-P
