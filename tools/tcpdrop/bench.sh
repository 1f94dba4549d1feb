#!/usr/bin/env bash
# tcpdrop benchmark (standalone; run as root from anywhere). ROUNDS rounds;
# in each, tcpdrop traces two storms in a network namespace this script
# creates and deletes (tools/tcpdrop/closedport.c on loopback):
#  - tcp: N connect()s to a closed port: N SYNs dropped (NO_SOCKET), shown;
#  - udp: N UDP datagrams to a closed port: N drops that are no TCP packet
#    (what the program must reject cheaply: kfree_skb fires for every drop).
# Medians of: start -> attached (ms, to the `-v` line), in-kernel ns per run
# (kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of its program over
# the storm; other drops on the machine count too), peak RSS (VmHWM, KiB),
# rows for the storm's port (tcp: want N; udp: want 0).
# The reference: BCC's tcpdrop (Debian bpfcc-tools, 0.26: the same
# tracepoint) where it runs; libbpf-tools has no tcpdrop. BCC is not
# installed by this script. Restores bpf_stats_enabled; kills only what it
# started.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
N=${N:-20000}
PORT=47124

cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_init tcpdrop
NS=csbench-tcpdrop-$$
bench_cleanup_extra() {
	ip netns del "$NS" 2>/dev/null || true
}

cargo build --release --quiet --bin tcpdrop
cc -O2 -Wall -o "$WORK/closedport" tools/tcpdrop/closedport.c
OURS=$PWD/target/release/tcpdrop
BCC=/usr/sbin/tcpdrop-bpfcc
bench_stats_on
ip netns add "$NS"
ip -n "$NS" link set lo up

prog_stats() {
	local f t=0 c=0
	for f in /proc/"$1"/fdinfo/*; do
		grep -q "^run_time_ns:" "$f" 2>/dev/null || continue # programs, not links
		t=$((t + $(awk '/^run_time_ns:/ {print $2}' "$f")))
		c=$((c + $(awk '/^run_cnt:/ {print $2}' "$f")))
	done
	echo "$t $c"
}

until_seen() {
	for _ in $(seq 6000); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# storm KIND: the tcp or udp storm.
storm() {
	case $1 in
	tcp) ip netns exec "$NS" "$WORK/closedport" 4 40124 $PORT "$N" 0 >/dev/null ;;
	udp) ip netns exec "$NS" "$WORK/closedport" 4 40124 $PORT 0 "$N" >/dev/null ;;
	esac
}

# traced TRACER STORM: appends "attach_ms ns_per_run rss_kb rows" to
# $WORK/TRACER-STORM, or "failed" (the reason in $WORK/TRACER.why).
traced() {
	local tr=$1 st=$2 tpid t0 t1 s0 s1 rows rss f=$WORK/$1-$2
	: >"$WORK/$tr.out"
	: >"$WORK/$tr.err"
	t0=$(date +%s%N)
	case $tr in
	ours) "$OURS" -v -j >"$WORK/$tr.out" 2>"$WORK/$tr.err" & ;;
	bcc) stdbuf -oL "$BCC" >"$WORK/$tr.out" 2>"$WORK/$tr.err" & ;;
	esac
	tpid=$!
	STARTED+=("$tpid")
	if [ "$tr" = bcc ]; then
		until_seen "$WORK/$tr.out" "PID" "$tpid" || { wait "$tpid" 2>/dev/null || true; echo failed >>"$f"; grep -v '^$' "$WORK/$tr.err" | grep -v '^sh: ' | head -n1 >"$WORK/$tr.why"; return; }
	else
		until_seen "$WORK/$tr.err" "tcpdrop: tracing," "$tpid" || { echo failed >>"$f"; tail -n1 "$WORK/$tr.err" >"$WORK/$tr.why"; return; }
	fi
	t1=$(date +%s%N)
	s0=$(prog_stats "$tpid")
	storm "$st"
	s1=$(prog_stats "$tpid")
	sleep 0.3
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	case $tr in
	ours) rows=$(grep -c "\"dport\":$PORT," "$WORK/$tr.out" || true) ;;
	bcc) rows=$(grep -c ":$PORT " "$WORK/$tr.out" || true) ;;
	esac
	echo "$(((t1 - t0) / 1000000)) $(awk -v a="$s0" -v b="$s1" 'BEGIN {split(a, x); split(b, y); n = y[2] - x[2]; print (n > 0) ? int((y[1] - x[1]) / n) : 0}') $rss $rows" >>"$f"
}

col() { grep -v failed "$2" | awk -v c="$1" '{print $c}' | median; }

TRACERS="ours"
[ -x "$BCC" ] && TRACERS="$TRACERS bcc"
for _ in $(seq "$ROUNDS"); do
	for tr in $TRACERS; do
		for st in tcp udp; do traced "$tr" "$st"; done
	done
done

label() { case $1 in ours) echo "corescope tcpdrop" ;; bcc) echo "BCC tcpdrop (bpfcc-tools $(dpkg-query -W -f='${Version}' bpfcc-tools 2>/dev/null))" ;; esac; }
echo "# tcpdrop benchmark: $(machine_line)"
echo "# storms of $N drops (tcp: SYNs to a closed port; udp: datagrams to a closed port), $ROUNDS rounds, medians"
echo
echo "| tracer | storm | start -> attached (ms) | BPF ns per run | peak RSS (KiB) | rows for the port (want) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for tr in $TRACERS; do
	for st in tcp udp; do
		f=$WORK/$tr-$st
		want=$([ "$st" = tcp ] && echo "$N" || echo 0)
		if ! grep -qv failed "$f"; then
			echo "| $(label "$tr") | $st | fails here: $(tr '|' '/' <"$WORK/$tr.why") | | | |"
			continue
		fi
		echo "| $(label "$tr") | $st | $(col 1 "$f") | $(col 2 "$f") | $(col 3 "$f") | $(col 4 "$f") ($want) |"
	done
done
[ -x "$BCC" ] || echo "| BCC tcpdrop | | not installed (bpfcc-tools) | | | |"
echo
echo "All rounds (attach_ms ns_per_run rss_kb rows):"
for tr in $TRACERS; do for st in tcp udp; do echo "- $tr $st: $(paste -sd';' "$WORK/$tr-$st" | sed 's/;/; /g')"; done; done
