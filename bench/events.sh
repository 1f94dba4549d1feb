#!/usr/bin/env bash
# Shared benchmark of the event tools of issue 15 (tools/exitsnoop,
# sigsnoop, killsnoop, oomkill, bindsnoop, mountsnoop: each tool's bench.sh runs
# `bench/events.sh TOOL`). Standalone; run as root. ROUNDS rounds, each
# alternating corescope's tool and Debian's libbpf-tools counterpart on the
# same workload, medians of:
#  - start -> attached (ms): from the exec to corescope's `-v` line
#    "tracing, N BPF programs attached", or to libbpf-tools' header (it is
#    printed once attached);
#  - in-kernel ns per event: kernel.bpf_stats_enabled=1, the run_time_ns of
#    every program of the tracer (/proc/PID/fdinfo) over the workload,
#    divided by the workload's own event count;
#  - the tracer's peak RSS (VmHWM) and user+system CPU over the workload;
#  - the workload's rate (its slowdown when traced).
# Workloads: exitsnoop: N process exits (bench/storm.c: posix_spawn
# /bin/true); sigsnoop, killsnoop: N kill(getpid(), SIGWINCH)
# (tools/sigsnoop/sigstorm.c); tcpconnect (LATENCY=1: --latency against
# tcpconnlat), tcpaccept: N loopback connects (tools/tcpconnect/connpeer.c
# loop); oomkill: one OOM kill per round of a process
# in a v1 memory cgroup limited to 8 MiB (tools/oomkill/oom_hog.c; the
# cgroup is removed after); filelife: N files created and unlinked
# (tools/filelife/lifestorm.c); capable: N setgroups(0, NULL), one
# CAP_SETGID check each (tools/capable/capstorm.c); bindsnoop: N binds of
# a UDP socket to 127.0.0.1 port 0 (tools/bindsnoop/bindstorm.c);
# mountsnoop: N mount and umount calls of a tmpfs in a private mount
# namespace (tools/mountsnoop/mountstorm.c: nothing reaches the host).
# Installs libbpf-tools with apt-get if missing;
# mounts tracefs if needed (unmounted at the end only if it mounted it);
# restores bpf_stats_enabled. Kills only what it started.
set -euo pipefail

TOOL=${1:?usage: bench/events.sh TOOL}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/.."
. bench/lib.sh
bench_init events
CG=""
bench_cleanup_extra() { if [ -n "$CG" ]; then rmdir "$CG" 2>/dev/null || true; fi; }
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin "$TOOL"
OURS=$PWD/target/release/$TOOL
bench_stats_on

case $TOOL in
exitsnoop)
	N=${N:-4000}
	cc -O2 -Wall -o "$WORK/storm" bench/storm.c
	workload() { "$WORK/storm" "$N" x 2 | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	LT=(/usr/sbin/exitsnoop) OURS_ARGS=() KINDS="ours lt"
	;;
sigsnoop | killsnoop)
	N=${N:-200000}
	cc -O2 -Wall -o "$WORK/sigstorm" tools/sigsnoop/sigstorm.c
	workload() { "$WORK/sigstorm" "$N" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	# libbpf-tools has one binary (killsnoop is a link to sigsnoop, which
	# does not look at its name): `sigsnoop -k` is its kill-syscall mode.
	if [ "$TOOL" = sigsnoop ]; then LT=(/usr/sbin/sigsnoop); else LT=(/usr/sbin/sigsnoop -k); fi
	OURS_ARGS=() KINDS="ours lt"
	;;
oomkill)
	N=1
	cc -O2 -Wall -o "$WORK/hog" tools/oomkill/oom_hog.c
	CG=/sys/fs/cgroup/memory/csbench$$
	mkdir "$CG"
	echo 8M >"$CG/memory.limit_in_bytes"
	workload() {
		local t0 t1
		t0=$(date +%s%N)
		# (In a subshell: the shell's own "Killed" notice goes nowhere.)
		("$WORK/hog" "$CG" hog "$WORK/hogpid" || true) 2>/dev/null
		t1=$(date +%s%N)
		awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f\n", 1e9 / d}'
	}
	LT=(/usr/sbin/oomkill) OURS_ARGS=() KINDS="ours lt"
	;;
filelife)
	N=${N:-20000}
	cc -O2 -Wall -o "$WORK/lifestorm" tools/filelife/lifestorm.c
	mkdir "$WORK/files"
	workload() { "$WORK/lifestorm" "$N" "$WORK/files" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	LT=(/usr/sbin/filelife) OURS_ARGS=() KINDS="ours lt"
	;;
capable)
	N=${N:-200000}
	cc -O2 -Wall -o "$WORK/capstorm" tools/capable/capstorm.c
	workload() { "$WORK/capstorm" "$N" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	LT=(/usr/sbin/capable) OURS_ARGS=() KINDS="ours lt"
	;;
tcpconnect | tcpaccept)
	# N loopback connect/accept/close in one process
	# (tools/tcpconnect/connpeer.c), each round on its own port.
	N=${N:-20000}
	cc -O2 -Wall -o "$WORK/connpeer" tools/tcpconnect/connpeer.c
	CP_PORT=28000
	workload() {
		CP_PORT=$((CP_PORT + 1))
		"$WORK/connpeer" loop 4 "$CP_PORT" "$N" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'
	}
	OURS_ARGS=() KINDS="ours lt"
	if [ "$TOOL" = tcpaccept ]; then
		# Not in libbpf-tools: BCC's (Debian's bpfcc-tools), if installed.
		LT=(/usr/sbin/tcpaccept-bpfcc)
	elif [ -n "${LATENCY:-}" ]; then
		OURS_ARGS=(--latency) LT=(/usr/sbin/tcpconnlat)
	else
		LT=(/usr/sbin/tcpconnect)
	fi
	;;
bindsnoop)
	N=${N:-100000}
	cc -O2 -Wall -o "$WORK/bindstorm" tools/bindsnoop/bindstorm.c
	workload() { "$WORK/bindstorm" "$N" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	# libbpf-tools' bindsnoop is kprobe-based (inet_bind/inet6_bind).
	LT=(/usr/sbin/bindsnoop) OURS_ARGS=() KINDS="ours lt"
	;;
mountsnoop)
	N=${N:-10000}
	cc -O2 -Wall -o "$WORK/mountstorm" tools/mountsnoop/mountstorm.c
	workload() { "$WORK/mountstorm" "$N" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
	LT=(/usr/sbin/mountsnoop) OURS_ARGS=() KINDS="ours lt"
	;;
*)
	echo "bench/events.sh: no workload for $TOOL" >&2
	exit 2
	;;
esac

# traced KIND: one round under tracer KIND; appends
# "attach_ms ns_per_event rss_kb cpu_ms rate" to $WORK/KIND, or "failed"
# (the tracer's last stderr line in $WORK/KIND.why).
traced() {
	local kind=$1 tpid t0 t1 f id
	t0=$(date +%s%N)
	if [ "$kind" = ours ]; then
		"$OURS" -v "${OURS_ARGS[@]}" >/dev/null 2>"$WORK/$kind.err" &
		tpid=$!
		STARTED+=("$tpid")
		until_seen "$WORK/$kind.err" "$TOOL: tracing," "$tpid" || { echo failed >>"$WORK/$kind"; tail -n1 "$WORK/$kind.err" >"$WORK/$kind.why"; return; }
	else
		stdbuf -oL "${LT[@]}" >"$WORK/$kind.out" 2>"$WORK/$kind.err" &
		tpid=$!
		STARTED+=("$tpid")
		# Its header is printed once attached (oomkill's "Tracing OOM kills").
		until_seen "$WORK/$kind.out" "PID\|Tracing" "$tpid" || { wait "$tpid" 2>/dev/null || true; echo failed >>"$WORK/$kind"; grep -v '^$' "$WORK/$kind.err" | tail -n1 >"$WORK/$kind.why"; return; }
	fi
	t1=$(date +%s%N)
	sleep 0.5
	prog_sample "$tpid" >"$WORK/s0"
	local c0 c1 rate total _
	c0=$(cpu_ms "$tpid")
	rate=$(workload)
	sleep 0.3 # the tracer reads on a 100 ms tick
	c1=$(cpu_ms "$tpid")
	prog_sample "$tpid" >"$WORK/s1"
	read -r total _ < <(prog_delta "$WORK/s0" "$WORK/s1" /dev/null)
	local rss
	rss=$(rss_kb "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$(((t1 - t0) / 1000000)) $((total / N)) $rss $((c1 - c0)) $rate" >>"$WORK/$kind"
}

: >"$WORK/base"
for k in $KINDS; do : >"$WORK/$k"; done
for _ in $(seq "$ROUNDS"); do
	workload >>"$WORK/base"
	for k in $KINDS; do traced "$k"; done
done

label() {
	case $1 in
	ours) echo "corescope $TOOL${OURS_ARGS[*]:+ ${OURS_ARGS[*]}}" ;;
	lt) case ${LT[0]} in *-bpfcc) echo "BCC ${LT[*]#/usr/sbin/}" ;; *) echo "libbpf-tools ${LT[*]#/usr/sbin/}" ;; esac ;;
	esac
}
echo "# $TOOL benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); $N event(s) per round, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | start -> attached (ms) | BPF ns per event | peak RSS (KiB) | tracer CPU (ms) | workload rate (/s) | slowdown |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | | | | | $base | |"
for k in $KINDS; do
	if ! grep -qv failed "$WORK/$k"; then
		echo "| $(label "$k") | fails here: $(tr '|' '/' <"$WORK/$k.why") | | | | | |"
		continue
	fi
	rate=$(col 5 "$k")
	echo "| $(label "$k") | $(col 1 "$k") | $(col 2 "$k") | $(col 3 "$k") | $(col 4 "$k") | $rate | $(pct "$base" "$rate") |"
done
if grep -qv failed "$WORK/lt" 2>/dev/null; then
	r() { ratio "$(col "$1" ours)" "$(col "$1" lt)"; }
	echo
	echo "ratios corescope / libbpf-tools: start -> attached $(r 1), BPF ns per event $(r 2), peak RSS $(r 3)"
fi
echo
echo "All rounds (attach_ms ns_per_event rss_kb cpu_ms rate):"
for k in $KINDS; do echo "- $k: $(paste -sd';' "$WORK/$k" | sed 's/;/; /g')"; done
echo "- untraced rates: $(paste -sd';' "$WORK/base" | sed 's/;/; /g')"
