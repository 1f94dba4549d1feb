#!/usr/bin/env bash
# tcplife benchmark (standalone; run as root from anywhere):
#  1. burst: 2000 loopback sessions made as fast as possible, traced at the
#     same time by corescope's tcplife and Debian's libbpf-tools tcplife;
#     rows (both ends: 4000 expected) and reported losses for each. Repeated
#     BURST_RUNS times.
#  2. overhead: a loopback connect/send/close loop (LOOP_N sessions of
#     LOOP_BYTES bytes), untraced vs traced by corescope (vs libbpf-tools for
#     reference), ROUNDS rounds in alternation; medians and slowdown.
# Installs libbpf-tools with apt-get if missing. Mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it. Kills only the processes it started.
set -euo pipefail

BURST_RUNS=${BURST_RUNS:-5}
ROUNDS=${ROUNDS:-10}
LOOP_N=${LOOP_N:-10000}
LOOP_BYTES=${LOOP_BYTES:-1000}

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init tcplife
bench_libbpf_tools
bench_tracefs

cargo build --release --quiet --bin tcplife
cc -O2 -Wall -o "$WORK/peer" tools/tcplife/peer.c
OURS=$PWD/target/release/tcplife
LT=/usr/sbin/tcplife

# wait_for PATTERN FILE: up to 20 s for PATTERN to appear in FILE.
wait_for() {
	for _ in $(seq 200); do
		grep -q -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: timed out waiting for '$1' in $2" >&2
	return 1
}

# start_ours OUT ERR [ARGS...]: corescope tcplife in the background, attached.
start_ours() {
	local out=$1 err=$2
	shift 2
	: >"$err" # (truncated here, not by the background redirect: no stale match)
	"$OURS" -v "$@" >"$out" 2>"$err" &
	OURS_PID=$!
	STARTED+=("$OURS_PID")
	wait_for "tcplife: tracing," "$err"
}

# start_lt OUT ERR: libbpf-tools tcplife in the background, attached (its
# header is printed once the programs are attached).
start_lt() {
	: >"$1"
	stdbuf -oL "$LT" >"$1" 2>"$2" &
	LT_PID=$!
	STARTED+=("$LT_PID")
	wait_for "PID" "$1"
	sleep 0.2 # its SIGINT handler may be installed after the header
}

stop() {
	kill -INT "$1"
	wait "$1" || true
}

echo "# tcplife benchmark: $(machine_line)"
echo
echo "## 1. Burst: 2000 loopback sessions as fast as possible (4000 rows expected), both tools at once"
echo
echo "| run | corescope rows | corescope lost | libbpf-tools rows | libbpf-tools reported lost | loop time |"
echo "|---|---|---|---|---|---|"
for run in $(seq "$BURST_RUNS"); do
	port=$((22000 + run))
	start_lt "$WORK/lt.out" "$WORK/lt.err"
	start_ours "$WORK/ours.out" "$WORK/ours.err" -j
	"$WORK/peer" loop 4 "$port" 2000 0 2>"$WORK/loop.err"
	sleep 1
	stop "$LT_PID"
	stop "$OURS_PID"
	ours_rows=$(grep -cE "\"(lport|rport)\":$port," "$WORK/ours.out" || true)
	ours_lost=$(grep '"type":"summary"' "$WORK/ours.out" | grep -o '"lost":[0-9]*' | cut -d: -f2)
	lt_rows=$(awk -v p="$port" '$4 == p || $6 == p' "$WORK/lt.out" | wc -l)
	lt_lost=$(awk '/^lost [0-9]+ events/ {s += $2} END {print s + 0}' "$WORK/lt.err")
	secs=$(awk '{print $5}' "$WORK/loop.err")
	echo "| $run | $ours_rows | $ours_lost | $lt_rows | $lt_lost | ${secs} s |"
	sleep 1
done

# tracer_cpu_ns PID: CPU time used so far by a process (ns, /proc/PID/schedstat).
tracer_cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; }

# measure KIND PORT [TRACER_PID]: one loop run; appends "wall_us cpu_us" to
# $WORK/KIND, where cpu_us counts the client and server (rusage) plus the
# tracer's CPU over the run (it consumes on a 100 ms tick: 0.3 s allowed).
measure() {
	local kind=$1 port=$2 tracer=${3:-} t0=0 t1=0
	[ -n "$tracer" ] && t0=$(tracer_cpu_ns "$tracer")
	"$WORK/peer" loop 4 "$port" "$LOOP_N" "$LOOP_BYTES" 2>"$WORK/l.err"
	if [ -n "$tracer" ]; then
		sleep 0.3
		t1=$(tracer_cpu_ns "$tracer")
	fi
	awk -v t=$((t1 - t0)) -v n="$LOOP_N" '{printf "%s %.2f\n", $7, $12 + t / 1000 / n}' "$WORK/l.err" >>"$WORK/$kind"
}

echo
echo "## 2. Overhead: loopback connect/send($LOOP_BYTES B)/close loop, $LOOP_N sessions per run, $ROUNDS rounds"
echo
: >"$WORK/base"
: >"$WORK/ours"
: >"$WORK/lt"
for r in $(seq "$ROUNDS"); do
	port=$((23000 + 3 * r))
	measure base "$port"
	start_ours /dev/null "$WORK/o.err"
	measure ours $((port + 1)) "$OURS_PID"
	stop "$OURS_PID"
	start_lt "$WORK/lt2.out" "$WORK/lt2.err"
	measure lt $((port + 2)) "$LT_PID"
	stop "$LT_PID"
done
med() { col "$1" "$2"; }
low() { awk -v c="$1" '{print $c}' "$WORK/$2" | sort -n | head -1; }
echo "Wall: µs per session of the loop. CPU: µs of CPU per session (client + server processes, with the softirq and BPF time charged to them, plus the tracer's own CPU)."
echo
echo "| | wall median | wall min | CPU median | CPU min | wall slowdown (medians) | CPU cost (medians) |"
echo "|---|---|---|---|---|---|---|"
echo "| untraced | $(med 1 base) | $(low 1 base) | $(med 2 base) | $(low 2 base) | | |"
for k in ours lt; do
	label=$([ "$k" = ours ] && echo "corescope tcplife" || echo "libbpf-tools tcplife")
	echo "| $label | $(med 1 $k) | $(low 1 $k) | $(med 2 $k) | $(low 2 $k) | $(pct "$(med 1 base)" "$(med 1 $k)") | $(pct "$(med 2 base)" "$(med 2 $k)") |"
done
echo
echo "All runs (wall_us cpu_us):"
echo "- untraced: $(paste -sd, "$WORK/base" | sed 's/,/; /g')"
echo "- corescope: $(paste -sd, "$WORK/ours" | sed 's/,/; /g')"
echo "- libbpf-tools: $(paste -sd, "$WORK/lt" | sed 's/,/; /g')"
