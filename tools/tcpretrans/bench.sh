#!/usr/bin/env bash
# tcpretrans benchmark (standalone; run as root from anywhere). ROUNDS
# rounds; in each, every tracer in turn traces a SYN storm: N loopback SYNs
# the kernel drops and retransmits for 3.5 s (tools/tcpretrans/synstorm.c,
# ~3 retransmits each) in a network namespace this script creates and
# deletes. Medians of:
#  - start -> attached (ms): from the exec to the `-v` line "tracing, N BPF
#    programs attached";
#  - in-kernel ns per event: kernel.bpf_stats_enabled=1, run_time_ns /
#    run_cnt of the tracer's programs (/proc/PID/fdinfo) over the storm;
#  - peak RSS (VmHWM, KiB);
#  - rows (or count-mode total) for the storm's port vs the namespace's own
#    TcpRetransSegs.
# The reference: BCC's tcpretrans (Debian bpfcc-tools; it uses the same
# tracepoint) where it runs; libbpf-tools in Debian 12 has no tcpretrans.
# BCC is not installed by this script. Restores bpf_stats_enabled; kills
# only what it started.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
N=${N:-1000}
PORT=47123

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init tcpretrans
NS=csbench-tcpretrans-$$
bench_cleanup_extra() {
	ip netns del "$NS" 2>/dev/null || true
}

cargo build --release --quiet --bin tcpretrans
cc -O2 -Wall -o "$WORK/synstorm" tools/tcpretrans/synstorm.c
OURS=$PWD/target/release/tcpretrans
BCC=/usr/sbin/tcpretrans-bpfcc
bench_stats_on

# prog_stats PID: "run_time_ns run_cnt" summed over its BPF programs.
prog_stats() {
	local f t=0 c=0
	for f in /proc/"$1"/fdinfo/*; do
		grep -q "^run_time_ns:" "$f" 2>/dev/null || continue # programs, not links
		t=$((t + $(awk '/^run_time_ns:/ {print $2}' "$f")))
		c=$((c + $(awk '/^run_cnt:/ {print $2}' "$f")))
	done
	echo "$t $c"
}

# until_seen FILE PATTERN PID: waits (5 ms steps, 30 s) for PATTERN in FILE.
until_seen() {
	for _ in $(seq 6000); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# storm: the SYN storm in a fresh namespace; prints its TcpRetransSegs.
storm() {
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip netns exec "$NS" sh -c "ulimit -n $((N + 64)); '$WORK/synstorm' $PORT $N 3500"
	ip netns exec "$NS" cat /proc/net/snmp | awk '/^Tcp:/ {n++; if (n == 1) for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; if (n == 2) print $c}'
	ip netns del "$NS"
}

# traced KIND: one round; appends "attach_ms ns_per_event rss_kb seen kernel"
# to $WORK/KIND, or "failed" (the reason in $WORK/KIND.why).
traced() {
	local kind=$1 tpid t0 t1 s0 s1 kernel seen rss
	: >"$WORK/$kind.out"
	: >"$WORK/$kind.err"
	t0=$(date +%s%N)
	case $kind in
	events) "$OURS" -v -j >"$WORK/$kind.out" 2>"$WORK/$kind.err" & ;;
	count) "$OURS" -v -j -c >"$WORK/$kind.out" 2>"$WORK/$kind.err" & ;;
	bcc) stdbuf -oL "$BCC" >"$WORK/$kind.out" 2>"$WORK/$kind.err" & ;;
	esac
	tpid=$!
	STARTED+=("$tpid")
	if [ "$kind" = bcc ]; then
		until_seen "$WORK/$kind.out" "PID" "$tpid" || { wait "$tpid" 2>/dev/null || true; echo failed >>"$WORK/$kind"; grep -v '^$' "$WORK/$kind.err" | grep -v '^sh: ' | head -n1 >"$WORK/$kind.why"; return; }
	else
		until_seen "$WORK/$kind.err" "tcpretrans: tracing," "$tpid" || { echo failed >>"$WORK/$kind"; tail -n1 "$WORK/$kind.err" >"$WORK/$kind.why"; return; }
	fi
	t1=$(date +%s%N)
	s0=$(prog_stats "$tpid")
	kernel=$(storm)
	s1=$(prog_stats "$tpid")
	sleep 0.3 # rows arrive on a 100 ms tick
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	case $kind in
	events) seen=$(grep -c "\"rport\":$PORT," "$WORK/$kind.out" || true) ;;
	count) seen=$(grep "\"type\":\"flow\"" "$WORK/$kind.out" | grep "\"rport\":$PORT," | sed 's/.*"retransmits":\([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}') ;;
	bcc) seen=$(awk -v p=":$PORT" '$6 ~ p"$"' "$WORK/$kind.out" | wc -l) ;;
	esac
	echo "$(((t1 - t0) / 1000000)) $(awk -v a="$s0" -v b="$s1" 'BEGIN {split(a, x); split(b, y); n = y[2] - x[2]; print (n > 0) ? int((y[1] - x[1]) / n) : 0}') $rss $seen $kernel" >>"$WORK/$kind"
}


KINDS="events count"
[ -x "$BCC" ] && KINDS="$KINDS bcc"
for k in $KINDS; do : >"$WORK/$k"; done
for _ in $(seq "$ROUNDS"); do
	for k in $KINDS; do traced "$k"; done
done

label() { case $1 in events) echo "corescope tcpretrans" ;; count) echo "corescope tcpretrans -c" ;; bcc) echo "BCC tcpretrans (bpfcc-tools $(dpkg-query -W -f='${Version}' bpfcc-tools 2>/dev/null))" ;; esac; }
echo "# tcpretrans benchmark: $(machine_line)"
echo "# SYN storm of $N connections (~3 retransmits each), $ROUNDS rounds, medians"
echo
echo "| tracer | start -> attached (ms) | BPF ns per event | peak RSS (KiB) | rows for the storm | kernel's RetransSegs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for k in $KINDS; do
	if ! grep -qv failed "$WORK/$k"; then
		echo "| $(label "$k") | fails here: $(tr '|' '/' <"$WORK/$k.why") | | | | |"
		continue
	fi
	echo "| $(label "$k") | $(col 1 "$k") | $(col 2 "$k") | $(col 3 "$k") | $(col 4 "$k") | $(col 5 "$k") |"
done
[ -x "$BCC" ] || echo "| BCC tcpretrans | not installed (bpfcc-tools) | | | | |"
echo
echo "All rounds (attach_ms ns_per_event rss_kb seen kernel):"
for k in $KINDS; do echo "- $k: $(paste -sd';' "$WORK/$k" | sed 's/;/; /g')"; done
