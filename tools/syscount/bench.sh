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
. bench/lib.sh
bench_init syscount
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin syscount
cc -O2 -Wall -static -o "$WORK/sc" tests/helpers/syscalls.c 2>/dev/null ||
	cc -O2 -Wall -o "$WORK/sc" tests/helpers/syscalls.c
OURS=$PWD/target/release/syscount
LT=/usr/sbin/syscount
bench_stats_on

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
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1 rate _
	c0=$(cpu_ms "$tpid")
	rate=$(workload)
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	read -r _ < <(prog_delta "$WORK/s0" "$WORK/s1" "$WORK/$kind.progs")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((c1 - c0))" >>"$WORK/$kind"
}

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

echo "# syscount benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $N getppid() calls per run, $ROUNDS rounds, medians; tracers system-wide"
echo
base=$(median <"$WORK/base")
echo "| tracer | calls/s | slowdown | BPF ns per syscall | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | |"
for k in ours lt ours-L lt-L; do
	label=$(case $k in ours) echo "corescope syscount" ;; lt) echo "libbpf-tools syscount" ;; ours-L) echo "corescope syscount -L" ;; lt-L) echo "libbpf-tools syscount -L" ;; esac)
	rate=$(col 1 "$k")
	echo "| $label | $rate | $(pct "$base" "$rate") | $(per_call "$k") | $(col 2 "$k") |"
done
echo
echo "ratios corescope / libbpf-tools (BPF ns per syscall): default $(ratio "$(per_call ours)" "$(per_call lt)"), -L $(ratio "$(per_call ours-L)" "$(per_call lt-L)")"
echo
echo "Per program, ns per run (median over the rounds):"
progs_report ours lt ours-L lt-L
