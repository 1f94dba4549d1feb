#!/usr/bin/env bash
# tcpstates benchmark (standalone; run as root), side by side with
# libbpf-tools' tcpstates (Debian's libbpf-tools; tracepoint-based, it runs
# here), both attached at once to the same workload:
#  1. start -> attached, ROUNDS times each: ours until its -v line
#     "tcpstates: tracing, N BPF programs attached", libbpf-tools' until its
#     header line (printed after attaching; line-buffered with stdbuf);
#  2. peak RSS (VmHWM) of each after the workload;
#  3. in-kernel ns per event (kernel.bpf_stats_enabled=1: run_time_ns /
#     run_cnt of each tool's handle_set_state) while tools/tcplife/peer.c
#     opens and closes SESSIONS loopback sessions (~10 state changes each).
# tracefs is mounted for libbpf-tools only here (if it was not) and
# unmounted after. Restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail
[ -z "${BENCH_DEBUG:-}" ] || set -x
trap 'echo "tcpstates bench: failed at line $LINENO" >&2' ERR

ROUNDS=${ROUNDS:-5}
SESSIONS=${SESSIONS:-3000}
LBT=${LBT:-/usr/sbin/tcpstates}
PORT=${PORT:-47190}

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init tcpstates
[ -x "$LBT" ] || { echo "tcpstates bench: $LBT not installed (libbpf-tools)" >&2; exit 1; }
MOUNTED=""
bench_cleanup_extra() {
	[ -z "$MOUNTED" ] || umount "$MOUNTED" 2>/dev/null || true
}

cargo build --release --quiet --bin tcpstates
cc -O2 -Wall -o "$WORK/peer" tools/tcplife/peer.c
OURS=$PWD/target/release/tcpstates
if ! [ -d /sys/kernel/tracing/events ]; then
	mount -t tracefs tracefs /sys/kernel/tracing
	MOUNTED=/sys/kernel/tracing
fi
bench_stats_on

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

# wait_file FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_file() {
	local i=0
	until grep -Eq -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 10000 ] || return 1
		sleep 0.001
	done
}

# start_ms WHICH: ms from start to attached; leaves the tool running as $TP.
start_ms() {
	local t0 t1
	t0=$(date +%s%N)
	if [ "$1" = ours ]; then
		"$OURS" -v -L "$PORT" >"$WORK/o.out" 2>"$WORK/o.err" &
		TP=$!
		STARTED+=("$TP")
		wait_file "$WORK/o.err" '^tcpstates: tracing, '
	else
		stdbuf -oL "$LBT" -L "$PORT" >"$WORK/l.out" 2>"$WORK/l.err" &
		TP=$!
		STARTED+=("$TP")
		wait_file "$WORK/l.out" '^SKADDR'
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

: >"$WORK/s_ours"
: >"$WORK/s_lbt"
for _ in $(seq "$ROUNDS"); do
	for w in ours lbt; do
		start_ms "$w" >>"$WORK/s_$w"
		kill -INT "$TP"
		wait "$TP" || true
	done
done

# Both at once on the same sessions.
start_ms ours >/dev/null
OP=$TP
start_ms lbt >/dev/null
LP=$TP
read -r o0 oc0 < <(prog_ns "$OP" handle_set_state)
read -r l0 lc0 < <(prog_ns "$LP" handle_set_state)
"$WORK/peer" loop 4 "$PORT" "$SESSIONS" 100 2>/dev/null
sleep 0.5
read -r o1 oc1 < <(prog_ns "$OP" handle_set_state)
read -r l1 lc1 < <(prog_ns "$LP" handle_set_state)
rss_o=$(awk '/^VmHWM:/ {print $2}' "/proc/$OP/status")
rss_l=$(awk '/^VmHWM:/ {print $2}' "/proc/$LP/status")
kill -INT "$OP" "$LP"
wait "$OP" || true
wait "$LP" || true
rows_o=$(grep -c ' -> ' "$WORK/o.out" || true)
rows_l=$(grep -c ' -> ' "$WORK/l.out" || true)

so=$(median <"$WORK/s_ours")
sl=$(median <"$WORK/s_lbt")
no=$(((o1 - o0) / (oc1 - oc0 > 0 ? oc1 - oc0 : 1)))
nl=$(((l1 - l0) / (lc1 - lc0 > 0 ? lc1 - lc0 : 1)))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", (b > 0) ? a / b : 0}'; }

echo "# tcpstates benchmark: $(machine_line)"
echo "# start->attached: $ROUNDS rounds, medians; $SESSIONS loopback sessions on port $PORT with both attached (-L $PORT)"
echo
echo "| | corescope tcpstates | libbpf-tools tcpstates | ratio |"
echo "| --- | ---: | ---: | ---: |"
echo "| start -> attached (ms) | $so | $sl | $(ratio "$so" "$sl") |"
echo "| peak RSS (KiB) | $rss_o | $rss_l | $(ratio "$rss_o" "$rss_l") |"
echo "| BPF ns per event | $no | $nl | $(ratio "$no" "$nl") |"
echo "| rows printed | $rows_o | $rows_l | |"
