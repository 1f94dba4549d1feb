#!/usr/bin/env bash
# tools/execsnoop/bench.sh: corescope's execsnoop side by side with Debian's libbpf-tools
# execsnoop (/usr/sbin/execsnoop). Run as root: `sudo make bench`.
#
#  1. start → attached: time from starting the tool (stdout to a pipe) until
#     its header line arrives; both print the header once attached.
#  2. peak RSS (VmHWM) when idle (from the runs of 1) and after the storm.
#  3. exec storm: EXECS execs of `/bin/true MARKER`, traced by both tools at
#     once; rows with MARKER, losses each tool reports, and the rest
#     (missing, unaccounted). Repeated STORMS times.
#
# Environment (all optional):
#   EXECSNOOP_BIN      our binary       (default: target/release/execsnoop)
#   LIBBPF_EXECSNOOP   libbpf-tools one (default: /usr/sbin/execsnoop)
#   BENCH_RUNS=10 BENCH_STORMS=3 BENCH_EXECS=5000 BENCH_WORKERS=$(nproc)
#   BENCH_OUT          where the result table is also saved (default: bench/out)
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.' decimal point

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OURS=${EXECSNOOP_BIN:-$ROOT/target/release/execsnoop}
THEIRS=${LIBBPF_EXECSNOOP:-/usr/sbin/execsnoop}
RUNS=${BENCH_RUNS:-10}
STORMS=${BENCH_STORMS:-3}
EXECS=${BENCH_EXECS:-5000}
WORKERS=${BENCH_WORKERS:-$(nproc)}
OUT_DIR=${BENCH_OUT:-$ROOT/bench/out}
TRACEFS=/sys/kernel/tracing
IDLE_WAIT=0.5     # seconds a tool sits attached before its idle VmHWM is read
ATTACH_TIMEOUT=30 # seconds
STOP_TIMEOUT=10   # seconds between SIGINT and SIGKILL

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (BPF, tracefs): run \`sudo make bench\`"
[ -x "$OURS" ] || die "$OURS not found: run \`make build\` first, or set EXECSNOOP_BIN"

# ---------------------------------------------------------------- cleanup ---
TMP=""
MOUNTED_TRACEFS=0
CHILDREN=()

# state of process $1 ("" when gone), only if it is our own child
child_state() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	rest=${stat##*) } # fields after "(comm) ": state ppid ...
	local -a f=($rest)
	[ "${f[1]}" = "$$" ] && printf '%s' "${f[0]}"
	return 0
}

alive() { local s; s=$(child_state "$1"); [ -n "$s" ] && [ "$s" != Z ]; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${CHILDREN[@]}"; do
		alive "$pid" && kill -INT "$pid" 2>/dev/null
	done
	for _ in $(seq 30); do
		local any=0
		for pid in "${CHILDREN[@]}"; do alive "$pid" && any=1; done
		[ $any = 0 ] && break
		sleep 0.1
	done
	for pid in "${CHILDREN[@]}"; do
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null || true
	[ -n "$TMP" ] && rm -rf "$TMP"
	if [ "$MOUNTED_TRACEFS" = 1 ]; then
		umount "$TRACEFS" 2>/dev/null || { sleep 1; umount "$TRACEFS"; } ||
			log "warning: could not unmount $TRACEFS"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ setup ---
if [ ! -x "$THEIRS" ]; then
	[ "$THEIRS" = /usr/sbin/execsnoop ] || die "$THEIRS not found"
	log "installing libbpf-tools"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq libbpf-tools >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq libbpf-tools >/dev/null; } ||
		die "cannot install libbpf-tools"
fi
if ! command -v cc >/dev/null; then
	log "installing gcc"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null || die "cannot install gcc"
fi
command -v stdbuf >/dev/null || die "stdbuf (coreutils) is missing"

if ! mountpoint -q "$TRACEFS"; then
	mount -t tracefs nodev "$TRACEFS" || die "cannot mount tracefs at $TRACEFS"
	MOUNTED_TRACEFS=1
	log "mounted tracefs at $TRACEFS (unmounted at the end)"
fi

TMP=$(mktemp -d /tmp/execsnoop-bench.XXXXXX)
cc -O2 -Wall -o "$TMP/storm" "$ROOT/bench/storm.c" || die "cannot compile bench/storm.c"

CLK_TCK=$(getconf CLK_TCK)
OURS_CMD=("$OURS")
THEIRS_CMD=(stdbuf -oL "$THEIRS") # printf to a pipe/file is block-buffered

# ---------------------------------------------------------------- helpers ---
# stamp VAR: microseconds (wall clock) into VAR, without forking
stamp() { local t=$EPOCHREALTIME; printf -v "$1" '%s' "${t/./}"; }

# VmHWM (KiB) of process $1
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo NA; }

# user+system CPU seconds of process $1
cpu_s() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo NA; return; }
	rest=${stat##*) }
	local -a f=($rest)
	# after "(comm) ": index 0 = state (field 3), so utime (14) is 11, stime 12
	awk -v u="${f[11]}" -v s="${f[12]}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (u + s) / hz }'
}

# Sends SIGINT to our child $1, waits for it to exit (SIGKILL after
# STOP_TIMEOUT) and returns its exit status.
stop_child() {
	local pid=$1 i
	alive "$pid" && kill -INT "$pid"
	for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		log "warning: PID $pid ignored SIGINT for ${STOP_TIMEOUT}s; killing it"
		kill -KILL "$pid"
	fi
	local rc=0
	wait "$pid" || rc=$?
	return $rc
}

# Waits until file $1 has a first line (the header) or process $2 is gone.
wait_header() {
	local f=$1 pid=$2 i
	for ((i = 0; i < ATTACH_TIMEOUT * 50; i++)); do
		local first=""
		[ -s "$f" ] && IFS= read -r first <"$f"
		[[ $first == PCOMM* ]] && return 0
		alive "$pid" || return 1
		sleep 0.02
	done
	return 1
}

# stats over numbers: "median min max"
stats() { sort -n | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "NA NA NA"; exit }
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%s %s %s\n", m, v[1], v[NR] }'; }

# ------------------------------------------------ 1+2: start time, idle RSS ---
# measure_start NAME CMD...: appends "ms hwm_kb" to $TMP/NAME.start
measure_start() {
	local name=$1; shift
	local fifo=$TMP/fifo tfile=$TMP/header-time err=$TMP/$name.start.err
	rm -f "$fifo" "$tfile"
	mkfifo "$fifo"
	# Reader: timestamps the first line, then drains the pipe.
	{
		IFS= read -r first || first=""
		t=$EPOCHREALTIME
		printf '%s %s\n' "${t/./}" "$first" >"$tfile.tmp" && mv "$tfile.tmp" "$tfile"
		cat >/dev/null
	} <"$fifo" &
	local rpid=$!
	CHILDREN+=("$rpid")
	local t0
	stamp t0
	"$@" >"$fifo" 2>"$err" &
	local pid=$!
	CHILDREN+=("$pid")
	local i
	for ((i = 0; i < ATTACH_TIMEOUT * 1000; i++)); do
		[ -s "$tfile" ] && break
		alive "$pid" || break
		read -rt 0.001 <>"$fifo.never" 2>/dev/null || true # 1 ms sleep, no fork
	done
	[ -s "$tfile" ] || { cat "$err" >&2; die "$name: no header within ${ATTACH_TIMEOUT}s"; }
	local t1 first
	read -r t1 first <"$tfile"
	[[ $first == PCOMM* ]] || { cat "$err" >&2; die "$name: first line is not the header: $first"; }
	sleep "$IDLE_WAIT"
	local hwm
	hwm=$(hwm_kb "$pid")
	stop_child "$pid" || log "warning: $name exited with status $? after SIGINT"
	wait "$rpid" 2>/dev/null || true
	awk -v a="$t0" -v b="$t1" -v h="$hwm" 'BEGIN { printf "%.1f %s\n", (b - a) / 1000, h }' >>"$TMP/$name.start"
}

mkfifo "$TMP/fifo.never" # opened read-write, never written: read -t is a sleep

log "our binary:  $OURS"
log "theirs:      $THEIRS ($(dpkg-query -W -f='${Package} ${Version}' libbpf-tools 2>/dev/null || echo '?'))"
read -r LOAD1 _ </proc/loadavg
log "load average (1 min) before the run: $LOAD1"

log "start time and idle RSS: 1 warm-up + $RUNS runs each, alternating"
measure_start warmup "${OURS_CMD[@]}"
measure_start warmup "${THEIRS_CMD[@]}"
for ((r = 1; r <= RUNS; r++)); do
	measure_start ours "${OURS_CMD[@]}"
	measure_start theirs "${THEIRS_CMD[@]}"
done

# What stdbuf itself adds to libbpf-tools' start time: exec of stdbuf, then
# of the tool with libstdbuf.so preloaded (median of 20, ms).
for ((r = 0; r < 20; r++)); do
	stamp a; /bin/true; stamp b; stdbuf -oL /bin/true; stamp c
	echo $(((c - b) - (b - a)))
done | stats | awk '{ printf "%.1f\n", $1 / 1000 }' >"$TMP/stdbuf.ms"

# ----------------------------------------------------------- 3: the storm ---
# storm K: both tools attached, EXECS execs, then both stopped.
# Appends "seen lost missing hwm_kb cpu_s wrong_args" to $TMP/{ours,theirs}.storm
# and the generator's line to $TMP/storm.lines.
storm() {
	local k=$1 marker="csbench-$$-$1"
	# A storm row's ARGS end in " MARKER" (libbpf-tools adds a space, and
	# sometimes loses argv[0]: see BENCHMARKS.md); the generator and the
	# greps below carry MARKER in their own argv, but not last.
	local pat=" $marker *\$"
	local oo=$TMP/ours.$k.out oe=$TMP/ours.$k.err to=$TMP/theirs.$k.out te=$TMP/theirs.$k.err
	"${OURS_CMD[@]}" >"$oo" 2>"$oe" &
	local op=$!
	CHILDREN+=("$op")
	"${THEIRS_CMD[@]}" >"$to" 2>"$te" &
	local tp=$!
	CHILDREN+=("$tp")
	wait_header "$oo" "$op" || { cat "$oe" >&2; die "ours did not attach"; }
	wait_header "$to" "$tp" || { cat "$te" >&2; die "libbpf-tools did not attach"; }
	sleep 0.5
	local ocpu0 tcpu0
	ocpu0=$(cpu_s "$op")
	tcpu0=$(cpu_s "$tp")

	local line
	line=$("$TMP/storm" "$EXECS" "$marker" "$WORKERS") || log "warning: storm: $line"
	printf 'storm %d: %s\n' "$k" "$line" >>"$TMP/storm.lines"
	log "storm $k: $line"

	# Let both tools catch up: until neither count moves for 1 s (max 20 s).
	local a b pa=-1 pb=-1 still=0 i
	for ((i = 0; i < 200 && still < 10; i++)); do
		sleep 0.1
		a=$(grep -c -- "$pat" "$oo" || true)
		b=$(grep -c -- "$pat" "$to" || true)
		if [ "$a" = "$pa" ] && [ "$b" = "$pb" ]; then still=$((still + 1)); else still=0; fi
		pa=$a pb=$b
	done

	local ohwm thwm ocpu tcpu
	ohwm=$(hwm_kb "$op")
	thwm=$(hwm_kb "$tp")
	ocpu=$(awk -v a="$ocpu0" -v b="$(cpu_s "$op")" 'BEGIN { printf "%.2f", b - a }')
	tcpu=$(awk -v a="$tcpu0" -v b="$(cpu_s "$tp")" 'BEGIN { printf "%.2f", b - a }')
	stop_child "$op" || log "warning: ours exited with status $? after SIGINT"
	stop_child "$tp" || log "warning: libbpf-tools exited with status $? after SIGINT"

	local oseen tseen olost tlost obad tbad
	oseen=$(grep -c -- "$pat" "$oo" || true)
	tseen=$(grep -c -- "$pat" "$to" || true)
	# rows with MARKER whose ARGS do not read "/bin/true MARKER"
	obad=$((oseen - $(grep -c -- "/bin/true$pat" "$oo" || true)))
	tbad=$((tseen - $(grep -c -- "/bin/true$pat" "$to" || true)))
	# ours: "execsnoop: N events, N shown, N lost[ (why)]" on stderr at exit
	olost=$(sed -n 's/^execsnoop: [0-9]* events, [0-9]* shown, \([0-9]*\) lost.*/\1/p' "$oe" | tail -n1)
	[ -n "$olost" ] || { log "warning: no summary line from ours:"; cat "$oe" >&2; olost=NA; }
	# libbpf-tools: "Lost N events on CPU #M!" on stderr, per perf buffer read
	tlost=$(awk '/^Lost [0-9]+ events on CPU/ { n += $2 } END { print n + 0 }' "$te")
	printf '%s %s %s %s %s %s\n' "$oseen" "$olost" \
		"$([ "$olost" = NA ] && echo NA || echo $((EXECS - oseen - olost)))" "$ohwm" "$ocpu" "$obad" >>"$TMP/ours.storm"
	printf '%s %s %s %s %s %s\n' "$tseen" "$tlost" $((EXECS - tseen - tlost)) "$thwm" "$tcpu" "$tbad" >>"$TMP/theirs.storm"
}

log "exec storm: $STORMS x $EXECS execs ($WORKERS workers), both tools attached"
BASELINE=$("$TMP/storm" "$EXECS" "csbench-$$-untraced" "$WORKERS") || log "warning: storm: $BASELINE"
log "untraced: $BASELINE"
for ((k = 1; k <= STORMS; k++)); do
	storm "$k"
done

# ------------------------------------------------------------------ table ---
col() { awk -v c="$2" '{ print $c }' "$1"; }
fmt_stats() { # "median [min–max]"
	local s
	s=$(stats)
	awk -v s="$s" -v d="$1" 'BEGIN { split(s, v, " ");
		if (v[1] == "NA") { print "NA"; exit }
		printf "%." d "f [%." d "f-%." d "f]\n", v[1], v[2], v[3] }'
}

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
OURS_VER=$("$OURS" --version 2>/dev/null | head -n1 || echo '?')
THEIRS_VER=$(dpkg-query -W -f='libbpf-tools ${Version}' libbpf-tools 2>/dev/null || echo "$THEIRS")

REPORT=$TMP/report.txt
{
	echo "execsnoop benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel $(uname -r), $CPU_MODEL, $(nproc) cores, load before run $LOAD1"
	echo "ours: $OURS_VER ($OURS); theirs: $THEIRS_VER ($THEIRS, via stdbuf -oL)"
	echo
	printf '%-40s %-24s %-24s\n' "metric" "corescope execsnoop" "libbpf-tools execsnoop"
	printf '%-40s %-24s %-24s\n' "$(printf -- '-%.0s' {1..40})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})"
	printf '%-40s %-24s %-24s\n' "start -> attached, ms, median [min-max]" \
		"$(col "$TMP/ours.start" 1 | fmt_stats 1)" "$(col "$TMP/theirs.start" 1 | fmt_stats 1)"
	printf '%-40s %-24s %-24s\n' "peak RSS idle, KiB, median [min-max]" \
		"$(col "$TMP/ours.start" 2 | fmt_stats 0)" "$(col "$TMP/theirs.start" 2 | fmt_stats 0)"
	for ((k = 1; k <= STORMS; k++)); do
		o=($(sed -n "${k}p" "$TMP/ours.storm"))
		t=($(sed -n "${k}p" "$TMP/theirs.storm"))
		printf '%-40s %-24s %-24s\n' "storm $k: seen / lost / missing" \
			"${o[0]} / ${o[1]} / ${o[2]}" "${t[0]} / ${t[1]} / ${t[2]}"
		printf '%-40s %-24s %-24s\n' "storm $k: rows with wrong ARGS" "${o[5]}" "${t[5]}"
		printf '%-40s %-24s %-24s\n' "storm $k: peak RSS KiB, CPU s in storm" \
			"${o[3]}, ${o[4]}" "${t[3]}, ${t[4]}"
	done
	echo
	echo "start runs: $RUNS each (after 1 warm-up each), alternating; storm: $EXECS execs of /bin/true MARKER"
	echo "libbpf-tools runs under stdbuf -oL, which adds about $(cat "$TMP/stdbuf.ms") ms to its start time (included above)"
	echo "seen = rows with MARKER; lost = losses the tool reported; missing = $EXECS - seen - lost"
	echo "wrong ARGS = rows with MARKER not reading \"/bin/true MARKER\" (e.g. argv[0] lost)"
	echo "generator, nothing tracing: $BASELINE"
	sed 's/^/generator, both tracing: /' "$TMP/storm.lines"
	echo
	echo "raw start runs (ms, VmHWM KiB):"
	echo "  ours:   $(awk '{ printf "%s/%s ", $1, $2 }' "$TMP/ours.start")"
	echo "  theirs: $(awk '{ printf "%s/%s ", $1, $2 }' "$TMP/theirs.start")"
} >"$REPORT"

echo
cat "$REPORT"
if mkdir -p "$OUT_DIR" 2>/dev/null; then
	when=$(date -u +%Y%m%dT%H%M%SZ)
	cp "$REPORT" "$OUT_DIR/execsnoop-$when.txt" && cp "$REPORT" "$OUT_DIR/latest.txt" &&
		log "saved to $OUT_DIR/execsnoop-$when.txt"
fi
