#!/usr/bin/env bash
# opensnoop benchmark: corescope's opensnoop side by side with libbpf-tools'
# (Debian package libbpf-tools, installed here if missing), in one run.
#
#   1. bursts of 2 000 and 20 000 opens and a 200 000-open storm, each traced
#      by both tools (-p PID of the workload, then system-wide), rows written
#      to a file: rows shown and events lost;
#   2. an open/close loop: untraced; traced by ours with every event
#      filtered out in the kernel (--path on a prefix nothing has); traced by
#      ours and by libbpf-tools, system-wide, printing every row to /dev/null.
#
# Usage: sudo tools/opensnoop/bench.sh [LOOP_ITERATIONS] [REPEATS]
# Needs root. Mounts tracefs if it is not mounted (and unmounts only that);
# libbpf-tools runs in a private mount namespace with its own tracefs (ours
# does that by itself). Everything else lives in a temporary directory
# removed on exit, also on failure or Ctrl-C.
set -euo pipefail

ITER=${1:-300000}
REPS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OURS=${OURS:-$ROOT/target/release/opensnoop}
THEIRS=/usr/sbin/opensnoop
WORK=$(mktemp -d /tmp/corescope-bench.XXXXXX)
MOUNTED=
STATS=
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
	if [ -n "$STATS" ]; then echo "$STATS" >/proc/sys/kernel/bpf_stats_enabled; fi
	if [ -n "$MOUNTED" ]; then umount /sys/kernel/tracing || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"

if [ ! -x "$THEIRS" ]; then
	echo "bench: installing libbpf-tools" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools >/dev/null
fi
if [ ! -x "$OURS" ]; then
	(cd "$ROOT" && cargo build --release --bin opensnoop) >&2
fi
if [ ! -d /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing && MOUNTED=1
fi

# The workload: stops itself (SIGSTOP) so a tracer can attach to its PID,
# then N x open+close of PATH; prints ns per iteration.
cat >"$WORK/w.c" <<'EOF'
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[2]);
	struct timespec a, b;

	if (argv[1][0] == 's')
		raise(SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int fd = open(argv[3], O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
EOF
cc -O2 -o "$WORK/w" "$WORK/w.c"
TARGET="$WORK/csbench-target-file"
echo x >"$TARGET"

# libbpf-tools' opensnoop in a private mount namespace with its own tracefs,
# so another program (un)mounting tracefs on the host meanwhile cannot break
# it (libbpf looks tracepoint IDs up there). Started with `&`, the function
# runs in a subshell: every step execs, so $! is the tracer's PID.
theirs() {
	exec unshare -m --propagation private sh -c \
		'[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing; exec "$@"' \
		sh "$@"
}

# Waits until file $1 has a line starting with PID (the tracer's header).
wait_header() {
	for _ in $(seq 200); do
		grep -q '^PID' "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	die "tracer did not start: $(cat "$2")"
}

# burst TOOL N [all]: prints "shown lost"; traces the workload's PID, or
# with `all` the whole system (rows of other processes are not counted as
# shown, but their losses count as lost).
burst() {
	local tool=$1 n=$2 out="$WORK/out" err="$WORK/err" wpid tpid lost shown filter
	"$WORK/w" stop "$n" "$TARGET" >/dev/null &
	wpid=$!
	PIDS+=("$wpid")
	until grep -q '^State:.*T' "/proc/$wpid/status" 2>/dev/null; do sleep 0.01; done
	filter=(-p "$wpid")
	[ "${3:-}" = all ] && filter=()
	if [ "$tool" = ours ]; then
		"$OURS" "${filter[@]}" >"$out" 2>"$err" &
	else
		theirs stdbuf -oL "$THEIRS" "${filter[@]}" >"$out" 2>"$err" &
	fi
	tpid=$!
	PIDS+=("$tpid")
	wait_header "$out" "$err"
	sleep 0.3
	kill -CONT "$wpid"
	wait "$wpid"
	sleep 1
	kill -INT "$tpid"
	wait "$tpid" || true
	shown=$(grep -c -F "$TARGET" "$out" || true)
	if [ "$tool" = ours ]; then
		lost=$(sed -n 's/.* \([0-9]*\) lost.*/\1/p' "$err" | tail -1)
	else
		lost=$(awk '/^Lost/ {s += $2} END {print s + 0}' "$err")
	fi
	echo "$shown ${lost:-?}"
}

# loop MODE: prints ns per open+close (median of $REPS runs). Tracers print
# to /dev/null; they are given 1.5 s to attach (they start in ~0.2 s).
loop() {
	local mode=$1 tpid vals=()
	for _ in $(seq "$REPS"); do
		tpid=
		case $mode in
		ours-filtered) "$OURS" --path /nonexistent-corescope-prefix/ >/dev/null 2>"$WORK/err" & tpid=$! ;;
		ours-floor) "$OURS" --tid 1 >/dev/null 2>"$WORK/err" & tpid=$! ;;
		theirs-floor) theirs "$THEIRS" -t 1 >/dev/null 2>"$WORK/err" & tpid=$! ;;
		ours-print) "$OURS" >/dev/null 2>"$WORK/err" & tpid=$! ;;
		theirs-print) theirs "$THEIRS" >/dev/null 2>"$WORK/err" & tpid=$! ;;
		ours-print-cpu0) taskset -c 0 "$OURS" >/dev/null 2>"$WORK/err" & tpid=$! ;;
		theirs-print-cpu0) theirs taskset -c 0 "$THEIRS" >/dev/null 2>"$WORK/err" & tpid=$! ;;
		esac
		if [ -n "$tpid" ]; then
			PIDS+=("$tpid")
			sleep 1.5
			kill -0 "$tpid" 2>/dev/null || die "$mode did not start: $(cat "$WORK/err")"
		fi
		vals+=("$(taskset -c 1 "$WORK/w" go "$ITER" "$TARGET")")
		if [ -n "$tpid" ]; then
			kill -INT "$tpid"
			wait "$tpid" || true
		fi
	done
	printf '%s\n' "${vals[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p"
}

# kcost NAME CMD...: starts the tracer CMD, runs the loop once, and prints
# the tracer's average run time per openat enter and exit program
# (kernel.bpf_stats_enabled; the stats add two clock reads to each run).
kcost() {
	local name_=$1 tpid
	shift
	"$@" >/dev/null 2>"$WORK/err" &
	tpid=$!
	PIDS+=("$tpid")
	sleep 1.5
	taskset -c 1 "$WORK/w" go "$ITER" "$TARGET" >/dev/null
	local f id name rt rc enter=? exit=?
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		rt=$(awk '/^run_time_ns:/ {print $2}' "$f")
		rc=$(awk '/^run_cnt:/ {print $2}' "$f")
		[ "${rc:-0}" -gt 0 ] || continue
		case $name in
		*enter_openat) enter=$((rt / rc)) ;;
		*exit_openat) exit=$((rt / rc)) ;;
		esac
	done
	echo "| $name_ | $enter | $exit |"
	kill -INT "$tpid"
	wait "$tpid" || true
}

echo "# opensnoop benchmark, $(date -u +%Y-%m-%d), kernel $(uname -r)"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"
echo "# ours: $OURS; libbpf-tools: $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null)"
echo
echo "| opens | ours shown | ours lost | libbpf-tools shown | libbpf-tools lost |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for scope in pid all; do
	for n in 2000 20000 200000; do
		read -r os ol < <(burst ours "$n" "$scope")
		read -r ts tl < <(burst theirs "$n" "$scope")
		echo "| $n ($([ $scope = pid ] && echo "-p PID" || echo "system-wide")) | $os | $ol | $ts | $tl |"
	done
done
echo
echo "open+close loop, $ITER iterations pinned to CPU 1, median of $REPS (ns per iteration):"
echo
base=$(loop none)
filt=$(loop ours-filtered)
floor=$(loop ours-floor)
tfloor=$(loop theirs-floor)
ours=$(loop ours-print)
theirs=$(loop theirs-print)
ours0=$(loop ours-print-cpu0)
theirs0=$(loop theirs-print-cpu0)
awk -v b="$base" -v f="$filt" -v o="$ours" -v t="$theirs" -v o0="$ours0" -v t0="$theirs0" -v fl="$floor" -v tf="$tfloor" 'BEGIN {
	printf "| run | ns/iter | speed vs untraced |\n| --- | ---: | ---: |\n"
	printf "| untraced | %.0f | 100%% |\n", b
	printf "| ours, all filtered in the kernel (--path) | %.0f | %.0f%% |\n", f, 100 * b / f
	printf "| ours, --tid 1 (hooks only: rejected at once) | %.0f | %.0f%% |\n", fl, 100 * b / fl
	printf "| libbpf-tools, -t 1 (hooks only: rejected at once) | %.0f | %.0f%% |\n", tf, 100 * b / tf
	printf "| ours, every row printed to /dev/null | %.0f | %.0f%% |\n", o, 100 * b / o
	printf "| libbpf-tools, every row printed to /dev/null | %.0f | %.0f%% |\n", t, 100 * b / t
	printf "| ours, printing, tracer pinned to CPU 0 | %.0f | %.0f%% |\n", o0, 100 * b / o0
	printf "| libbpf-tools, printing, tracer pinned to CPU 0 | %.0f | %.0f%% |\n", t0, 100 * b / t0
	printf "\nours printing vs libbpf-tools printing: %.2fx faster (tracers pinned to CPU 0: %.2fx)\n", t / o, t0 / o0
}'

echo
echo "in-kernel cost per openat, one loop of $ITER (bpf_stats, ns per program run):"
echo
STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
echo 1 >/proc/sys/kernel/bpf_stats_enabled
echo "| tracer | enter | exit |"
echo "| --- | ---: | ---: |"
kcost "ours, --tid 1 (rejected at once)" "$OURS" --tid 1
kcost "ours, --path (all filtered out)" "$OURS" --path /nonexistent-corescope-prefix/
kcost "ours, printing" "$OURS"
kcost "libbpf-tools, printing" theirs "$THEIRS"
