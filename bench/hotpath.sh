#!/usr/bin/env bash
# User-space cost per event of a tool's row code, table and JSON, before
# and after a change, side by side in one run (#11 "Hot path"): default
# table, table with more columns, JSON. TOOL=opensnoop (default) or
# TOOL=execsnoop.
#
# A workload stops itself, the tool attaches to its PID (-p) with a ring
# buffer that holds the whole storm (--buffer-pages 16384, 64 MiB), then the
# workload does N open+close (default 1 000 000: utime has a 10 ms tick),
# or for execsnoop N fork+exec of a tiny program with 5 arguments (default
# 20 000).
# The tool's CPU time is read just before the storm and once every row is
# written, so start-up and BPF loading are not counted: user time from
# /proc/PID/stat (utime, all threads) and user+system time on CPU from
# /proc/PID/task/*/schedstat (ns).
# Rows go to a file in /dev/shm (counted: rows shown must equal N).
#
# Usage: sudo bench/hotpath.sh [N] [REPEATS]
#   BEFORE=DIR  the "before" binaries (DIR/opensnoop); without it, BASE
#               (default: main) is checked out with `git worktree` in a
#               temporary directory and built (release), warm from target/
#   AFTER=DIR   the "after" binaries (default target/release)
#   MODES=...   which of "table wide json" to run (default all three)
# Prints one table: median ns per event (user, user+system), ratios after/before.
set -euo pipefail

TOOL=${TOOL:-opensnoop}
case $TOOL in
opensnoop) N=${1:-1000000} ;;
execsnoop) N=${1:-20000} ;;
*) echo "hotpath: TOOL is opensnoop or execsnoop" >&2; exit 2 ;;
esac
REPS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AFTER=${AFTER:-$ROOT/target/release}
BASE=${BASE:-main}
WORK=$(mktemp -d /tmp/cs-hotpath.XXXXXX)
SHM=$(mktemp -d /dev/shm/cs-hotpath.XXXXXX)
TREE=
PIDS=()
HZ=$(getconf CLK_TCK)

cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK" "$SHM"
	if [ -n "$TREE" ]; then git -C "$ROOT" worktree remove --force "$TREE" || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "hotpath: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"

[ -x "$AFTER/$TOOL" ] || (cd "$ROOT" && cargo build --release --bin "$TOOL") >&2
if [ -z "${BEFORE:-}" ]; then
	TREE=$WORK/before
	git -C "$ROOT" worktree add --detach "$TREE" "$BASE" >&2
	mkdir -p "$TREE/target" && cp -a "$ROOT/target/release" "$TREE/target/"
	(cd "$TREE" && cargo build --release --bin "$TOOL") >&2
	BEFORE=$TREE/target/release
fi

cat >"$WORK/w.c" <<'EOF'
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);

	raise(SIGSTOP);
	for (long i = 0; i < n; i++) {
		int fd = open(argv[2], O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
EOF
cat >"$WORK/x.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	char *args[] = {argv[2], "-v", "--flag=value", "a longer argument, with spaces", "\x1b[2J", NULL};

	raise(SIGSTOP);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execv(argv[2], args);
			_exit(127);
		}
		if (p > 0)
			waitpid(p, NULL, 0);
	}
	return 0;
}
EOF
if [ "$TOOL" = opensnoop ]; then
	cc -O2 -o "$WORK/w" "$WORK/w.c"
	TARGET=$WORK/csbench-hotpath-file
	echo x >"$TARGET"
else
	cc -O2 -o "$WORK/w" "$WORK/x.c"
	TARGET=$WORK/csbench-hotpath-true
	echo 'int main(void) { return 0; }' | cc -O2 -static -x c -o "$TARGET" - 2>/dev/null ||
		echo 'int main(void) { return 0; }' | cc -O2 -x c -o "$TARGET" -
fi

# CPU use of PID: "utime stime" in ticks (all threads), and "ns on CPU"
# (schedstat, summed over its threads: precise, but user and system alike).
ticks() {
	local ns
	ns=$(cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}')
	echo "$(awk '{print $14, $15}' "/proc/$1/stat") $ns"
}

# one BIN [FLAGS...]: prints "user_ns_per_event cpu_ns_per_event".
one() {
	local bin=$1 wpid tpid u0 s0 c0 u1 s1 c1 rows
	shift
	"$WORK/w" "$N" "$TARGET" &
	wpid=$!
	PIDS+=("$wpid")
	until grep -q '^State:.*T' "/proc/$wpid/status" 2>/dev/null; do sleep 0.01; done
	"$bin" -p "$wpid" --buffer-pages 16384 "$@" -o "$SHM/out" 2>"$WORK/err" &
	tpid=$!
	PIDS+=("$tpid")
	sleep 2
	kill -0 "$tpid" 2>/dev/null || die "$bin did not start: $(cat "$WORK/err")"
	read -r u0 s0 c0 < <(ticks "$tpid")
	kill -CONT "$wpid"
	wait "$wpid"
	# Every row written (the output is flushed every 100 ms).
	for _ in $(seq 100); do
		rows=$(grep -c -F "$TARGET" "$SHM/out" || true)
		[ "$rows" -ge "$N" ] && break
		sleep 0.1
	done
	sleep 0.3
	read -r u1 s1 c1 < <(ticks "$tpid")
	kill -INT "$tpid"
	wait "$tpid" || true
	[ "$rows" = "$N" ] || die "$bin $*: $rows rows of $N ($(tail -1 "$WORK/err"))"
	awk -v u=$((u1 - u0)) -v c=$((c1 - c0)) -v hz="$HZ" -v n="$N" \
		'BEGIN {printf "%.0f %.0f\n", u * 1e9 / hz / n, c / n}'
}

median() { sort -n | sed -n "$(((REPS + 1) / 2))p"; }

printf '%-6s %-7s %12s %12s %12s %12s %7s %7s\n' mode "" "before user" "after user" \
	"before cpu" "after cpu" "user" "cpu"
# table: default columns; wide: -T -U -e (TIME(s), UID, FLAGS, MODE); json: -j.
for mode in ${MODES:-table wide json}; do
	case $TOOL:$mode in
	*:table) flags=() ;;
	opensnoop:wide) flags=(-T -U -e) ;;
	execsnoop:wide) flags=(-T -t -U -M -C -q) ;;
	*:json) flags=(-j) ;;
	esac
	bu=() au=() bt=() at=()
	for _ in $(seq "$REPS"); do # alternating, so drift hits both alike
		read -r u t < <(one "$BEFORE/$TOOL" "${flags[@]}")
		bu+=("$u") bt+=("$t")
		read -r u t < <(one "$AFTER/$TOOL" "${flags[@]}")
		au+=("$u") at+=("$t")
	done
	mbu=$(printf '%s\n' "${bu[@]}" | median) mau=$(printf '%s\n' "${au[@]}" | median)
	mbt=$(printf '%s\n' "${bt[@]}" | median) mat=$(printf '%s\n' "${at[@]}" | median)
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }
	printf '%-6s %-7s %9s ns %9s ns %9s ns %9s ns %7s %7s\n' "$mode" "" "$mbu" "$mau" "$mbt" \
		"$mat" "$(ratio "$mau" "$mbu")" "$(ratio "$mat" "$mbt")"
done
echo "($TOOL, $N events per run, median of $REPS runs each; user = utime, cpu = user+system on CPU; ratios after/before)"
