#!/usr/bin/env bash
# filetop benchmark (standalone; run as root). No libbpf-tools comparison:
# its filetop is kprobe-based and cannot run on a kernel without kprobes.
#  1. Hot path: N 4 KiB writes to one file (tests/helpers/syscalls.c,
#     static), ROUNDS rounds untraced / traced by filetop (system-wide);
#     writes per second (slowdown), and with kernel.bpf_stats_enabled=1 the
#     ns per run of filetop_write (one lookup of an existing key).
#  2. 10 000 live keys: a helper writes 1 byte to each of 10 000 files,
#     round after round (every 1 s interval holds all 10 000 keys: drained,
#     sorted, 20 printed), for SECS seconds, while `filetop -C 1` prints to
#     /dev/null (and again with -j); filetop's user+system CPU per interval
#     (on-CPU time from /proc/PID/schedstat; it is one thread), and the ns per run of filetop_write there (the
#     first write of a file in an interval walks its path).
# Restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail
[ -z "${BENCH_DEBUG:-}" ] || set -x
trap 'echo "filetop bench: failed at line $LINENO" >&2' ERR

N=${N:-200000}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-10}

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init filetop
cargo build --release --quiet --bin filetop
cc -O2 -Wall -static -o "$WORK/sc" tests/helpers/syscalls.c 2>/dev/null ||
	cc -O2 -Wall -o "$WORK/sc" tests/helpers/syscalls.c
OURS=$PWD/target/release/filetop
bench_stats_on
mkdir -p "$WORK/many"

writes() {
	local t0 t1
	t0=$(date +%s%N)
	"$WORK/sc" write "$WORK/hot.dat" "$N" 4096
	t1=$(date +%s%N)
	echo $((N * 1000000000 / (t1 - t0)))
}

# prog_ns PID NAME: "run_time_ns run_cnt" of the tracer's program NAME.
prog_ns() {
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		# A program's own fd (a link's fdinfo has prog_id but no stats).
		grep -q '^run_time_ns:' "$f" 2>/dev/null || continue
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		# Not `| grep -q`: its early exit fails the pipe (pipefail) by SIGPIPE.
		case $(bpftool prog show id "$id") in *" name $2 "*) ;; *) continue ;; esac
		echo "$(awk '/^run_time_ns:/ {print $2}' "$f") $(awk '/^run_cnt:/ {print $2}' "$f")"
	done
}


: >"$WORK/base"
: >"$WORK/traced"
: >"$WORK/ns"
for _ in $(seq "$ROUNDS"); do
	writes >>"$WORK/base"
	"$OURS" -C 1 >/dev/null 2>&1 &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	read -r rt0 rc0 < <(prog_ns "$tpid" filetop_write)
	writes >>"$WORK/traced"
	read -r rt1 rc1 < <(prog_ns "$tpid" filetop_write)
	echo $(((rt1 - rt0) / (rc1 - rc0 > 0 ? rc1 - rc0 : 1))) >>"$WORK/ns"
	kill -INT "$tpid"
	wait "$tpid" || true
done

# many OUT ARGS...: filetop ARGS (output to OUT) while a helper writes 1
# byte to each of 10 000 files, round after round without pause (a round
# takes well under a second: every interval holds all 10 000 keys), for
# SECS seconds; prints "cpu_ms_per_interval ns_per_write seconds".
many() {
	local out=$1 tpid hpid c0 c1 t0 t1 rt0 rc0 rt1 rc1
	shift
	"$OURS" "$@" >"$out" 2>/dev/null &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	"$WORK/sc" manyfiles "$WORK/many" 10000 1000000 0 &
	hpid=$!
	STARTED+=("$hpid")
	sleep 2 # the files exist and every interval is full
	c0=$(awk '{print $1}' "/proc/$tpid/schedstat")
	t0=$(date +%s%N)
	read -r rt0 rc0 < <(prog_ns "$tpid" filetop_write)
	sleep "$SECS"
	c1=$(awk '{print $1}' "/proc/$tpid/schedstat")
	t1=$(date +%s%N)
	read -r rt1 rc1 < <(prog_ns "$tpid" filetop_write)
	kill "$hpid"
	wait "$hpid" || true
	kill -INT "$tpid"
	wait "$tpid" || true
	awk -v c=$(((c1 - c0) / 1000000)) -v t=$((t1 - t0)) -v ns=$(((rt1 - rt0) / (rc1 - rc0 > 0 ? rc1 - rc0 : 1))) \
		'BEGIN {printf "%.1f %d %.1f\n", c / (t / 1e9), ns, t / 1e9}'
}

read -r cpu_t ns_t iv_t < <(many /dev/null -C 1)
read -r cpu_j ns_j iv_j < <(many "$WORK/many.json" -j 1)
# The keys each full interval of the JSON run held (median).
keys=$(grep -F '"type":"interval"' "$WORK/many.json" | sed 's/.*"keys":\([0-9]*\).*/\1/' | median)

echo "# filetop benchmark: $(machine_line)"
echo "# $N 4 KiB writes per run, $ROUNDS rounds, medians; filetop system-wide"
echo
base=$(median <"$WORK/base")
tr=$(median <"$WORK/traced")
echo "| run | writes/s | slowdown | BPF ns per write (existing key) |"
echo "| --- | ---: | ---: | ---: |"
echo "| untraced | $base | | |"
echo "| filetop | $tr | $(pct "$base" "$tr") | $(median <"$WORK/ns") |"
echo
echo "10 000 live keys (10 000 files written round after round, ${SECS} s; median keys per interval: $keys):"
echo
echo "| filetop | user+sys CPU per 1 s interval (ms) | BPF ns per write | seconds measured |"
echo "| --- | ---: | ---: | ---: |"
echo "| table (-C 1, to /dev/null) | $cpu_t | $ns_t | $iv_t |"
echo "| JSON (-j 1, to /dev/null) | $cpu_j | $ns_j | $iv_j |"
