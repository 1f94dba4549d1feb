#!/usr/bin/env bash
# tcptop benchmark (standalone; run as root).
#  1. Slowdown: a sender writes N 64-byte messages over one loopback
#     connection at RATE per second (tools/tcptop/flow.c `loop`), ROUNDS
#     rounds untraced / traced by `tcptop -C 1` (system-wide); the sender's
#     CPU time per send (what tracing adds to it) and the rate reached; with
#     kernel.bpf_stats_enabled=1 the ns per run of tcptop_send and
#     tcptop_recv (an existing key: one lookup, one atomic add).
#  2. 10 000 live keys: 5 000 loopback connections in one process, one byte
#     each way on each every second (2 keys per connection: every 1 s
#     interval holds 10 000 keys: drained, sorted, 20 printed), SECS seconds,
#     under `tcptop -C 1` to /dev/null and again `-j 1`; tcptop's on-CPU
#     time per interval (/proc/PID/schedstat; it is one thread).
#  3. libbpf-tools' tcptop (Debian's libbpf-tools), with tracefs mounted for
#     it only here and unmounted after: it probes tcp_sendmsg and
#     tcp_cleanup_rbuf with kprobes; whether it attaches is reported.
# Restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail
[ -z "${BENCH_DEBUG:-}" ] || set -x
trap 'echo "tcptop bench: failed at line $LINENO" >&2' ERR

N=${N:-500000}
RATE=${RATE:-100000}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
LBT=${LBT:-/usr/sbin/tcptop}

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init tcptop
MOUNTED=""
bench_cleanup_extra() {
	[ -z "$MOUNTED" ] || umount "$MOUNTED" 2>/dev/null || true
}

cargo build --release --quiet --bin tcptop
cc -O2 -Wall -o "$WORK/flow" tools/tcptop/flow.c
OURS=$PWD/target/release/tcptop
bench_stats_on

# prog_ns PID NAME: "run_time_ns run_cnt" of the tracer's program NAME.
prog_ns() {
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		grep -q '^run_time_ns:' "$f" 2>/dev/null || continue
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		case $(bpftool prog show id "$id") in *" name $2 "*) ;; *) continue ;; esac
		echo "$(awk '/^run_time_ns:/ {print $2}' "$f") $(awk '/^run_cnt:/ {print $2}' "$f")"
	done
}


# sends: one paced run; prints "cpu_ns_per_send rate".
sends() {
	"$WORK/flow" loop 4 "$N" 64 "$RATE" 2>&1 >/dev/null |
		sed -n 's/.*sender_cpu_ns_per_send=\([0-9]*\) rate=\([0-9]*\).*/\1 \2/p'
}

: >"$WORK/base"
: >"$WORK/traced"
: >"$WORK/ns_send"
: >"$WORK/ns_recv"
for _ in $(seq "$ROUNDS"); do
	sends >>"$WORK/base"
	"$OURS" -C 1 >/dev/null 2>&1 &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	read -r st0 sc0 < <(prog_ns "$tpid" tcptop_send)
	read -r rt0 rc0 < <(prog_ns "$tpid" tcptop_recv)
	sends >>"$WORK/traced"
	read -r st1 sc1 < <(prog_ns "$tpid" tcptop_send)
	read -r rt1 rc1 < <(prog_ns "$tpid" tcptop_recv)
	echo $(((st1 - st0) / (sc1 - sc0 > 0 ? sc1 - sc0 : 1))) >>"$WORK/ns_send"
	echo $(((rt1 - rt0) / (rc1 - rc0 > 0 ? rc1 - rc0 : 1))) >>"$WORK/ns_recv"
	kill -INT "$tpid"
	wait "$tpid" || true
done

# many OUT ARGS...: tcptop ARGS (output to OUT) while 5 000 connections move
# one byte each way every second; prints "cpu_ms_per_interval seconds".
many() {
	local out=$1 tpid hpid c0 c1 t0 t1
	shift
	"$OURS" "$@" >"$out" 2>/dev/null &
	tpid=$!
	STARTED+=("$tpid")
	sleep 1.5
	"$WORK/flow" many 4 5000 $((SECS + 6)) >/dev/null &
	hpid=$!
	STARTED+=("$hpid")
	sleep 3 # connected, and every interval is full
	c0=$(awk '{print $1}' "/proc/$tpid/schedstat")
	t0=$(date +%s%N)
	sleep "$SECS"
	c1=$(awk '{print $1}' "/proc/$tpid/schedstat")
	t1=$(date +%s%N)
	kill "$hpid"
	wait "$hpid" || true
	kill -INT "$tpid"
	wait "$tpid" || true
	awk -v c=$(((c1 - c0) / 1000)) -v t=$((t1 - t0)) \
		'BEGIN {printf "%.2f %.1f\n", c / 1000 / (t / 1e9), t / 1e9}'
}

read -r cpu_t iv_t < <(many /dev/null -C 1)
read -r cpu_j iv_j < <(many "$WORK/many.json" -j 1)
keys=$(grep -F '"type":"interval"' "$WORK/many.json" | sed 's/.*"keys":\([0-9]*\).*/\1/' | median)

# libbpf-tools' tcptop: tracefs for it only, unmounted after.
lbt="not installed"
if [ -x "$LBT" ]; then
	if ! [ -d /sys/kernel/tracing/events ]; then
		mount -t tracefs tracefs /sys/kernel/tracing
		MOUNTED=/sys/kernel/tracing
	fi
	rc=0
	timeout 5 "$LBT" -C 1 1 >"$WORK/lbt.out" 2>"$WORK/lbt.err" || rc=$?
	if grep -q 'failed to attach' "$WORK/lbt.err"; then
		lbt="fails: $(grep -m1 'failed to create kprobe' "$WORK/lbt.err" | sed 's/^libbpf: //') (exit $rc)"
	else
		lbt="ran (exit $rc)"
	fi
	if [ -n "$MOUNTED" ]; then
		umount "$MOUNTED"
		MOUNTED=""
	fi
fi

echo "# tcptop benchmark: $(machine_line)"
echo "# $N sends of 64 bytes per run at $RATE/s, $ROUNDS rounds, medians; tcptop system-wide"
echo
bcpu=$(awk '{print $1}' "$WORK/base" | median)
tcpu=$(awk '{print $1}' "$WORK/traced" | median)
brate=$(awk '{print $2}' "$WORK/base" | median)
trate=$(awk '{print $2}' "$WORK/traced" | median)
echo "| run | sends/s reached | sender CPU ns per send | slowdown (CPU per send) | BPF ns per send | BPF ns per recv |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $brate | $bcpu | | | |"
echo "| corescope tcptop | $trate | $tcpu | $(awk -v a="$bcpu" -v b="$tcpu" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(median <"$WORK/ns_send") | $(median <"$WORK/ns_recv") |"
echo "| libbpf-tools tcptop | $lbt | | | | |"
echo
echo "10 000 live keys (5 000 connections, 1 byte each way per second, ${SECS} s; median keys per interval: $keys):"
echo
echo "| tcptop | user+sys CPU per 1 s interval (ms) | seconds measured |"
echo "| --- | ---: | ---: |"
echo "| table (-C 1, to /dev/null) | $cpu_t | $iv_t |"
echo "| JSON (-j 1, to /dev/null) | $cpu_j | $iv_j |"
