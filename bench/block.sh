#!/usr/bin/env bash
# Shared benchmark of the block event/top tools (tools/biosnoop, biotop:
# each one's bench.sh runs `bench/block.sh TOOL`), side by side with
# Debian's libbpf-tools counterpart in one run. Standalone; run as root.
# Workload: dd of N direct 4 KiB writes (oflag=direct) to a loop device
# over a file in /dev/shm (memory: the I/O is cheap, so the tracer's cost
# shows); ROUNDS rounds alternating untraced / each variant; medians of:
#  - direct I/O ops/s (the workload's slowdown when traced);
#  - in-kernel cost: kernel.bpf_stats_enabled=1, run_time_ns of every
#    program of the tracer (/proc/PID/fdinfo) over the workload, divided by
#    the runs of its block_rq_complete program (ns per I/O), and per program;
#  - start -> attached (ours: the -v "tracing" line), peak RSS (VmHWM),
#    tracer user+system CPU over the workload.
# libbpf-tools 0.26's biosnoop and biotop record the task at a kprobe
# (blk_account_io_start): where kprobes are missing they fail to load, and
# the table says so with their error. Installs libbpf-tools with apt-get if
# missing; mounts tracefs for them if it is not mounted and unmounts it at
# the end only if it mounted it; restores bpf_stats_enabled; detaches the
# loop device. Kills only what it started.
set -euo pipefail

TOOL=${1:?usage: bench/block.sh biosnoop|biotop}
N=${N:-20000}
ROUNDS=${ROUNDS:-5}

cd "$(dirname "$0")/.."
. bench/lib.sh

case $TOOL in
biosnoop) VARIANTS=("ours:" "ours-Q:-Q") ;;
biotop) VARIANTS=("ours:-C 1" "ours-j:-C -j 1") ;;
*) echo "bench/block.sh: unknown tool $TOOL" >&2; exit 1 ;;
esac

bench_init block
SHM=$(mktemp -d /dev/shm/block-bench.XXXXXX)
LOOP=""
bench_cleanup_extra() {
	[ -z "$LOOP" ] || losetup -d "$LOOP" || true
	rm -rf "$SHM"
}
bench_libbpf_tools
bench_tracefs
cargo build --release --quiet --bin "$TOOL"
OURS=$PWD/target/release/$TOOL
LT=/usr/sbin/$TOOL
truncate -s 256M "$SHM/disk"
LOOP=$(losetup -f --show "$SHM/disk")
bench_stats_on

# io: N direct writes; prints ops/s.
io() {
	dd if=/dev/zero of="$LOOP" bs=4k count="$N" oflag=direct 2>&1 |
		awk -v n="$N" '/copied/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^s,?$/) print int(n / $i)}'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# traced KIND ARGS...: one run of ours under the workload; appends
# "ops_per_s ns_per_io rss_kb cpu_ms attach_ms" to $WORK/KIND and the
# per-program "name ns_per_run" lines to $WORK/KIND.progs.
traced() {
	local kind=$1 tpid t0 t1
	shift
	t0=$(now_ms)
	# shellcheck disable=SC2068
	"$OURS" -v $@ >/dev/null 2>"$WORK/err" &
	tpid=$!
	STARTED+=("$tpid")
	for _ in $(seq 1000); do grep -q "^$TOOL: tracing" "$WORK/err" && break; sleep 0.01; done
	t1=$(now_ms)
	sleep 0.5
	local -A rt0 rc0
	local f id
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		rt0[$id]=$(awk '/^run_time_ns:/ {print $2}' "$f")
		rc0[$id]=$(awk '/^run_cnt:/ {print $2}' "$f")
	done
	local c0 c1 rate
	c0=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	rate=$(io)
	c1=$(awk '{print $14 + $15}' "/proc/$tpid/stat")
	local done_rc=0 total_rt=0 name rt rc
	for f in /proc/"$tpid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		name=$(bpftool prog show id "$id" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}')
		rt=$(($(awk '/^run_time_ns:/ {print $2}' "$f") - ${rt0[$id]:-0}))
		rc=$(($(awk '/^run_cnt:/ {print $2}' "$f") - ${rc0[$id]:-0}))
		[ "$rc" -gt 0 ] || continue
		total_rt=$((total_rt + rt))
		case $name in *complete*) done_rc=$rc ;; esac
		echo "$name $((rt / rc))" >>"$WORK/$kind.progs"
	done
	local rss
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$tpid/status")
	kill -INT "$tpid"
	wait "$tpid" || true
	echo "$rate $((total_rt / (done_rc > 0 ? done_rc : 1))) $rss $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) $((t1 - t0))" >>"$WORK/$kind"
}


# libbpf-tools: does it run here? Its first error line if not.
LT_ERR=""
timeout 5 "$LT" >/dev/null 2>"$WORK/lt.err" || true
if grep -q -i "fail" "$WORK/lt.err"; then
	LT_ERR=$(grep -m1 -i "failed to load\|failed to attach\|BPF program load failed" "$WORK/lt.err" || head -n1 "$WORK/lt.err")
fi

io >/dev/null # warm the loop device and /dev/shm
: >"$WORK/base"
for _ in $(seq "$ROUNDS"); do
	io >>"$WORK/base"
	for v in "${VARIANTS[@]}"; do
		traced "${v%%:*}" "${v#*:}"
	done
done

echo "# $TOOL benchmark: $(machine_line)"
echo "# libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null); dd of $N direct 4 KiB writes to a loop device over /dev/shm, $ROUNDS rounds, medians"
echo
base=$(median <"$WORK/base")
echo "| tracer | direct I/O ops/s | slowdown | BPF ns per I/O | start → attached (ms) | peak RSS (KiB) | tracer CPU (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced | $base | | | | | |"
for v in "${VARIANTS[@]}"; do
	k=${v%%:*}
	rate=$(col 1 "$k")
	echo "| corescope $TOOL ${v#*:} | $rate | $(awk -v a="$base" -v b="$rate" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') | $(col 2 "$k") | $(col 5 "$k") | $(col 3 "$k") | $(col 4 "$k") |"
done
if [ -n "$LT_ERR" ]; then
	echo "| libbpf-tools $TOOL | fails to load here: \`$LT_ERR\` | | | | | |"
else
	echo "| libbpf-tools $TOOL | runs here: not measured by this script (it was expected to fail) | | | | | |"
fi
echo
echo "Per program, ns per run (median over the rounds):"
for v in "${VARIANTS[@]}"; do
	k=${v%%:*}
	awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | sort | while read -r n vals; do
		# shellcheck disable=SC2086
		echo "- $k $n: $(printf '%s\n' $vals | median)"
	done
done
