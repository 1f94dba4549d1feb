#!/usr/bin/env bash
# Shared benchmark of the stack tools (tools/profile/bench.sh,
# tools/offcputime/bench.sh): `bench/stacks.sh TOOL`. Standalone; run as
# root. Workloads: tests/helpers/stackwork.c (built with frame pointers).
#
# profile:
#  - overhead: `stackwork burn SECS` pinned to CPU 0, ROUNDS rounds
#    alternating untraced / profile -F 49 / profile -F 999 (system-wide);
#    the metric is work per CPU-second (the workload's own ops / its own CPU
#    time: the sampling interrupt is charged to the task it interrupts, and
#    other load on the machine does not count), medians, as ratios;
#  - end of a system-wide run: profile -v -f --svg of LONG seconds while the
#    machine does what it does (plus a `find /usr` for unique stacks); the
#    time from Ctrl-C to exit (folded output and SVG written), the
#    symbolization time and stack count it reports, its peak RSS.
#    (libbpf-tools' profile is not in Debian's libbpf-tools 0.26 package:
#    nothing to compare with.)
# offcputime:
#  - the pipe ping-pong of the scheduler tools (tests/helpers/pingpong.c, K
#    round trips on CPU 0: two context switches each) untraced / ours /
#    libbpf-tools' offcputime, ROUNDS rounds, medians: round trips per
#    second, and each tracer's peak RSS and time from Ctrl-C to exit.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it. Kills only what it started.
set -euo pipefail

TOOL=${1:?usage: bench/stacks.sh profile|offcputime}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-4}
LONG=${LONG:-30}
K=${K:-200000}

cd "$(dirname "$0")/.."
. bench/lib.sh
bench_init stacks

cargo build --release --quiet --bin "$TOOL"
OURS=$PWD/target/release/$TOOL
cc -O1 -Wall -fno-omit-frame-pointer -o "$WORK/sw" tests/helpers/stackwork.c
cc -O2 -Wall -o "$WORK/pp" tests/helpers/pingpong.c

# Starts a tracer in the background (stdout, stderr to $WORK/t.out/t.err),
# waits until it traces (-v: "tracing"; libbpf-tools: a bpf_link fd).
start_tracer() { # KIND ARGS...
	local kind=$1
	shift
	"$@" >"$WORK/t.out" 2>"$WORK/t.err" &
	TPID=$!
	STARTED+=("$TPID")
	local i=0
	while [ $i -lt 300 ]; do
		if [ "$kind" = ours ] && grep -q ': tracing, ' "$WORK/t.err"; then return; fi
		if [ "$kind" = lbt ] && ls -l "/proc/$TPID/fd" 2>/dev/null | grep -q bpf_link; then return; fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "bench/stacks.sh: $* did not start" >&2
	cat "$WORK/t.err" >&2
	exit 1
}

# Ctrl-C the tracer; prints "ms_to_exit peak_rss_kb". Its VmHWM is read
# while it exits (the peak includes symbolization).
stop_tracer() {
	local t0 hwm=0 h
	t0=$(date +%s%N)
	kill -INT "$TPID"
	while kill -0 "$TPID" 2>/dev/null; do
		h=$(awk '/VmHWM/ {print $2}' "/proc/$TPID/status" 2>/dev/null || echo 0)
		[ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
		sleep 0.01
	done
	wait "$TPID" || true
	echo "$(( ($(date +%s%N) - t0) / 1000000 )) $hwm"
}

# burn: ops per CPU-second of one pinned run.
burn() {
	echo go | taskset -c 0 "$WORK/sw" burn "$SECS" | awk '/^done/ {printf "%.1f\n", $3 / $2}'
}

if [ "$TOOL" = profile ]; then
	: >"$WORK/none"; : >"$WORK/f49"; : >"$WORK/f999"
	for r in $(seq "$ROUNDS"); do
		burn >>"$WORK/none"
		for hz in 49 999; do
			start_tracer ours "$OURS" -v -f -F "$hz"
			burn >>"$WORK/f$hz"
			stop_tracer >/dev/null
		done
		echo "round $r done" >&2
	done
	base=$(median <"$WORK/none")
	for hz in 49 999; do
		m=$(median <"$WORK/f$hz")
		echo "profile -F $hz: ops per CPU-second $m vs untraced $base: $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.4f", a / b}')x ($(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", (1 - a / b) * 100}') % slower)"
	done
	# A long system-wide profile: the end.
	start_tracer ours "$OURS" -v -f -F 99 --svg "$WORK/p.svg"
	(find /usr >/dev/null 2>&1 || true) &
	STARTED+=("$!")
	sleep "$LONG"
	read -r ms rss < <(stop_tracer)
	sym=$(grep -m1 'symbolized' "$WORK/t.err" || true)
	echo "profile -F 99 system-wide ${LONG}s: Ctrl-C to exit ${ms} ms; ${sym#*: }; peak RSS ${rss} kB; SVG $(wc -c <"$WORK/p.svg") bytes, $(wc -l <"$WORK/t.out") folded lines"
	exit 0
fi

# offcputime
bench_libbpf_tools
bench_tracefs
pingpong() { echo go | "$WORK/pp" "$K" 0 rate 2>&1 >/dev/null | awk '{print $2}'; }
: >"$WORK/none"; : >"$WORK/ours"; : >"$WORK/lbt"; : >"$WORK/ours.end"; : >"$WORK/lbt.end"
for r in $(seq "$ROUNDS"); do
	pingpong >>"$WORK/none"
	start_tracer ours "$OURS" -v
	pingpong >>"$WORK/ours"
	stop_tracer >>"$WORK/ours.end"
	start_tracer lbt /usr/sbin/offcputime
	pingpong >>"$WORK/lbt"
	stop_tracer >>"$WORK/lbt.end"
	echo "round $r done" >&2
done
base=$(median <"$WORK/none")
for k in ours lbt; do
	m=$(median <"$WORK/$k")
	ms=$(awk '{print $1}' "$WORK/$k.end" | median)
	rss=$(awk '{print $2}' "$WORK/$k.end" | median)
	echo "offcputime $k: $m round trips/s vs untraced $base ($(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.3f", a / b}')x); Ctrl-C to exit ${ms} ms; peak RSS ${rss} kB"
done
