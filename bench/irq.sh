#!/usr/bin/env bash
# Shared benchmark of the interrupt tools (tools/hardirqs/bench.sh,
# tools/softirqs/bench.sh): `bench/irq.sh TOOL`. Standalone; run as root.
# Workload: softirqs — K loopback UDP datagrams, each sent then received
# by one process (a NET_RX softirq per datagram); hardirqs — K direct-I/O
# 4 KiB writes to a file of a temp dir (a disk completion interrupt each).
# ROUNDS rounds alternating untraced / corescope's TOOL / libbpf-tools'
# TOOL, default mode then -d (histograms), medians. Measures:
#  - the workload's rate (datagrams/s, writes/s) and its slowdown traced;
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns of every
#    program of the tracer (from /proc/PID/fdinfo) over the workload,
#    divided by the runs of its entry program (ns per handler run traced);
#  - the tracer's peak RSS (VmHWM) and user+system CPU over the run.
# Installs libbpf-tools with apt-get if missing; mounts tracefs if it is not
# mounted (libbpf-tools needs it) and unmounts it at the end only if it
# mounted it; restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail

TOOL=${1:?usage: bench/irq.sh hardirqs|softirqs}
ROUNDS=${ROUNDS:-5}
case $TOOL in
softirqs) K=${K:-200000} ;;
hardirqs) K=${K:-5000} ;;
*) echo "bench/irq.sh: hardirqs or softirqs" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
. bench/lib.sh
bench_init irq /var/tmp # on disk: the writes reach it
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin "$TOOL"
OURS=$PWD/target/release/$TOOL
LT=/usr/sbin/$TOOL
bench_stats_on

# udp K: sends and receives K datagrams over loopback; prints datagrams/s.
cat >"$WORK/udp.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
int main(int argc, char **argv)
{
	long k = atol(argv[1]);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	char b[64] = { 0 };
	struct timespec t0, t1;
	if (bind(rx, (void *)&a, sizeof(a)) || getsockname(rx, (void *)&a, &l))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < k; i++) {
		if (sendto(tx, b, sizeof(b), 0, (void *)&a, sizeof(a)) < 0 || recv(rx, b, sizeof(b), 0) < 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f\n", k / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}
C
cc -O2 -Wall -o "$WORK/udp" "$WORK/udp.c"

# workload: one run; prints its rate (per second).
workload() {
	if [ "$TOOL" = softirqs ]; then
		"$WORK/udp" "$K"
	else
		local t0 t1
		t0=$(date +%s.%N)
		dd if=/dev/zero of="$WORK/f" bs=4096 count="$K" oflag=direct 2>/dev/null
		t1=$(date +%s.%N)
		awk -v k="$K" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", k / (b - a)}'
	fi
}

# traced KIND ARGS...: one run under the tracer; appends
# "rate ns_per_handler rss_kb cpu_ms" to $WORK/KIND and the per-program
# "name ns_per_run" lines to $WORK/KIND.progs.
traced() {
	local kind=$1 tpid bin
	shift
	bin=$([ "${kind%%-*}" = ours ] && echo "$OURS" || echo "$LT")
	"$bin" "$@" >/dev/null 2>&1 &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1 rate
	c0=$(cpu_ms "$tpid")
	rate=$(workload)
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	local total_rt counts entry_rc=0 c
	read -r total_rt counts < <(prog_delta "$WORK/s0" "$WORK/s1" "$WORK/$kind.progs")
	for c in $counts; do case ${c%%:*} in *entry*) entry_rc=${c##*:} ;; esac; done
	local rss
	rss=$(rss_kb "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (entry_rc > 0 ? entry_rc : 1))) $rss $((c1 - c0))" >>"$WORK/$kind"
}

: >"$WORK/base"
for _ in $(seq "$ROUNDS"); do
	workload >>"$WORK/base"
	traced ours
	traced lt
	traced ours-d -d
	traced lt-d -d
done

what=$([ "$TOOL" = softirqs ] && echo "$K loopback UDP datagrams (send + receive)" || echo "$K direct-I/O 4 KiB writes")
echo "# $TOOL benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $what, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | workload/s | slowdown | BPF ns per handler run | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | |"
for k in ours lt ours-d lt-d; do
	label=$(case $k in ours) echo "corescope $TOOL" ;; lt) echo "libbpf-tools $TOOL" ;; ours-d) echo "corescope $TOOL -d" ;; lt-d) echo "libbpf-tools $TOOL -d" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(pct "$base" "$rate") | $(col 2 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
echo
echo "ratios corescope / libbpf-tools (BPF ns per handler run): default $(ratio "$(col 2 ours)" "$(col 2 lt)"), -d $(ratio "$(col 2 ours-d)" "$(col 2 lt-d)")"
echo
echo "Per program, ns per run (median over the rounds):"
progs_report ours lt ours-d lt-d
