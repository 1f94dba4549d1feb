# shellcheck shell=bash
# Shared pieces of the benchmark scripts (bench/*.sh, tools/*/bench.sh):
# sourced, not run. Every benchmark is standalone and runs as root; these
# are the parts they all had written out again.
#
#   bench_init NAME [TMPDIR]   root check; $WORK (a temp dir, removed at exit);
#                              the exit trap: ends what is in STARTED (by PID),
#                              restores kernel.bpf_stats_enabled, unmounts
#                              tracefs if bench_tracefs mounted it, runs
#                              bench_cleanup_extra if the script defines it
#   bench_libbpf_tools         installs Debian's libbpf-tools if missing
#   bench_tracefs              mounts tracefs if it is not (libbpf-tools needs it)
#   bench_stats_on             kernel.bpf_stats_enabled=1 (restored at exit)
#   prog_sample PID            "id run_time_ns run_cnt" per BPF program of PID
#   prog_delta S0 S1 PROGS     per program of sample S1 that ran since S0:
#                              "name ns_per_run" appended to PROGS; prints
#                              "total_run_time_ns name:run_cnt..."
#   prog_name ID               a program's name (bpftool)
#   cpu_ms PID, rss_kb PID     user+system CPU so far (ms), peak RSS (VmHWM)
#   median, col C FILE         median of stdin; median of column C of $WORK/FILE
#   pct BASE X, ratio A B      "+1.2 %" change of X from BASE; A / B to 2 places
#   machine_line               "date kernel, N CPUs, model" for report headers
#   progs_report KIND...       "- KIND name: median ns per run" per program
#   until_seen FILE PAT PID    waits (20 s) for PAT in FILE; fails if PID exits

bench_init() {
	local name=$1 tmp=${2:-/tmp}
	[ "$(id -u)" = 0 ] || {
		echo "$name bench: needs root" >&2
		exit 1
	}
	WORK=$(mktemp -d "$tmp/$name-bench.XXXXXX")
	BENCH_MOUNTED=""
	BENCH_STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
	STARTED=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local p
	for p in "${STARTED[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
	echo "$BENCH_STATS" >/proc/sys/kernel/bpf_stats_enabled
	if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
	if [ -n "$BENCH_MOUNTED" ]; then umount /sys/kernel/tracing || true; fi
	if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

bench_libbpf_tools() {
	if ! dpkg-query -W -f='${Status}' libbpf-tools 2>/dev/null | grep -q 'install ok installed'; then
		echo "installing libbpf-tools (Debian) for the comparison" >&2
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools
	fi
}

bench_tracefs() {
	if ! mountpoint -q /sys/kernel/tracing; then
		mount -t tracefs nodev /sys/kernel/tracing
		BENCH_MOUNTED=1
	fi
}

bench_stats_on() { echo 1 >/proc/sys/kernel/bpf_stats_enabled; }

prog_sample() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		# A program's own fd (a link's fdinfo has prog_id but no stats).
		awk '/^prog_id:/ {id = $2} /^run_time_ns:/ {rt = $2} /^run_cnt:/ {rc = $2}
			END {if (id != "" && rt != "") print id, rt, rc}' "$f" 2>/dev/null || true
	done
}

prog_name() {
	bpftool prog show id "$1" | awk 'NR == 1 {for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1)}'
}

prog_delta() {
	local s0=$1 s1=$2 progs=$3 id rt rc rt0 rc0 name total=0 counts=""
	while read -r id rt rc; do
		read -r rt0 rc0 < <(awk -v i="$id" '$1 == i {print $2, $3}' "$s0")
		rt=$((rt - ${rt0:-0}))
		rc=$((rc - ${rc0:-0}))
		[ "$rc" -gt 0 ] || continue
		total=$((total + rt))
		name=$(prog_name "$id")
		counts="$counts $name:$rc"
		echo "$name $((rt / rc))" >>"$progs"
	done <"$s1"
	echo "$total$counts"
}

cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { grep -v failed "$WORK/$2" | awk -v c="$1" '{print $c}' | median; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }

machine_line() {
	echo "$(date -u +%F) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
}

progs_report() {
	local k n vals
	for k in "$@"; do
		[ -f "$WORK/$k.progs" ] || continue
		awk '{a[$1] = a[$1] " " $2} END {for (n in a) print n a[n]}' "$WORK/$k.progs" | sort | while read -r n vals; do
			# shellcheck disable=SC2086 # one value per word
			echo "- $k $n: $(printf '%s\n' $vals | median)"
		done
	done
}

until_seen() {
	local _
	for _ in $(seq 4000); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}
