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
. bench/lib.sh
bench_init biolat
SHM=$(mktemp -d /dev/shm/biolat-bench.XXXXXX)
LOOP=""
bench_cleanup_extra() {
	[ -z "$LOOP" ] || losetup -d "$LOOP" || true
	rm -rf "$SHM"
}
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin biolatency
OURS=$PWD/target/release/biolatency
LT=/usr/sbin/biolatency
truncate -s 256M "$SHM/disk"
LOOP=$(losetup -f --show "$SHM/disk")
bench_stats_on

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
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1 rate
	c0=$(cpu_ms "$tpid")
	rate=$(io)
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	local total_rt counts done_rc=0 c
	read -r total_rt counts < <(prog_delta "$WORK/s0" "$WORK/s1" "$WORK/$kind.progs")
	for c in $counts; do case ${c%%:*} in *complete*) done_rc=${c##*:} ;; esac; done
	local rss
	rss=$(rss_kb "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (done_rc > 0 ? done_rc : 1))) $rss $((c1 - c0)) $((t1 - t0))" >>"$WORK/$kind"
}

io >/dev/null # warm the loop device and /dev/shm
: >"$WORK/base"
for _ in $(seq "$ROUNDS"); do
	io >>"$WORK/base"
	traced ours
	traced lt
	traced ours-D -D
	traced lt-D -D
done

echo "# biolatency benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); dd of $N direct 4 KiB writes to a loop device over /dev/shm, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | direct I/O ops/s | slowdown | BPF ns per I/O | start → attached (ms) | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | | |"
for k in ours lt ours-D lt-D; do
	label=$(case $k in ours) echo "corescope biolatency" ;; lt) echo "libbpf-tools biolatency" ;; ours-D) echo "corescope biolatency -D" ;; lt-D) echo "libbpf-tools biolatency -D" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(pct "$base" "$rate") | $(col 2 "$k") | $(col 5 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
echo
r() { ratio "$(col "$1" "$2")" "$(col "$1" "$3")"; }
echo "ratios corescope / libbpf-tools: BPF ns per I/O default $(r 2 ours lt), -D $(r 2 ours-D lt-D); peak RSS $(r 3 ours lt); start → attached $(r 5 ours lt)"
echo
echo "Per program, ns per run (median over the rounds):"
progs_report ours lt ours-D lt-D
