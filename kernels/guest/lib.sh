# shellcheck shell=sh disable=SC3043,SC2034  # busybox sh (POSIX plus local); variables for the smoke tests
# Helpers for the smoke tests (tools/<tool>/smoke.sh), sourced in the guest
# by /init before each test. busybox sh: POSIX plus `local`.
#
# The test runs with: TOOL (name), TOOL_BIN (its binary), WORK (an empty
# directory of its own), PATH including /corescope/bin (csprobe). It reports
# each of its checks with `ok CHECK DETAIL`, `degraded CHECK DETAIL` or
# `fail CHECK DETAIL` — one line each on the console, read by the host:
#   CORESCOPE-RESULT kernel=<uname -r> tool=<tool> check=<check> status=<s> detail="..."

KVER=$(uname -r)
RESULTS=/tmp/corescope-results
PIDS=/tmp/corescope-pids

# Network ports for the tests: fixed, the guest is empty.
PORT_BASE=47000

result() { # STATUS CHECK DETAIL...
	local status=$1 check=$2 detail line
	shift 2
	detail=$(printf '%s' "$*" | tr '"\n\r\t' "'   " | cut -c1-400)
	line="CORESCOPE-RESULT kernel=$KVER tool=$TOOL check=$check status=$status detail=\"$detail\""
	echo "$line" >>"$RESULTS"
	echo "$line"
}
ok() { result ok "$@"; }
degraded() { result degraded "$@"; }
fail() { result fail "$@"; }

log() { echo "  [$TOOL] $*"; }

# Last lines of a file, indented, for the console log when a check fails.
show() { # FILE [LINES]
	[ -s "$1" ] || return 0
	echo "  --- $1 (last ${2:-12} lines)"
	tail -n "${2:-12}" "$1" | sed 's/^/    | /'
}

# Starts the tool in the background: stdout to $WORK/NAME.out, stderr to
# $WORK/NAME.err; sets TOOL_PID.
start_tool() { # NAME ARGS...
	local name=$1
	shift
	"$TOOL_BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	TOOL_PID=$!
	echo "$TOOL_PID" >>"$PIDS"
}

# Waits until FILE contains the extended regex PATTERN. Fails when SECS pass
# or process PID (if given) ends first.
wait_for() { # FILE PATTERN SECS [PID]
	local i=0 max=$(($3 * 10))
	while [ "$i" -lt "$max" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -Eq -- "$2" "$1" 2>/dev/null
			return
		fi
		usleep 100000
		i=$((i + 1))
	done
	return 1
}

# Waits for the tool's `-v` line "<tool>: tracing, N BPF programs attached".
wait_attached() { # NAME [SECS]
	wait_for "$WORK/$1.err" "^$TOOL: tracing, [0-9]+ BPF programs? attached" "${2:-60}" "$TOOL_PID"
}

# Waits for PID to exit, at most SECS (then SIGKILL); sets RC to its status.
wait_pid() { # PID SECS
	local i=0 max=$(($2 * 10))
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$max" ]; do
		usleep 100000
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		RC=timeout
		return 1
	fi
	wait "$1"
	RC=$?
}

# Ctrl-C for the tool: it must drain, print its summary and exit 0.
stop_tool() { # [SECS]
	kill -INT "$TOOL_PID" 2>/dev/null
	wait_pid "$TOOL_PID" "${1:-30}"
}

# Runs the tool in the foreground with a time limit; sets RC.
run_tool() { # NAME SECS ARGS...
	local name=$1 secs=$2
	shift 2
	start_tool "$name" "$@"
	wait_pid "$TOOL_PID" "$secs"
}

# JSON Lines checks, on the tool's stdout (no jq in the guest: substrings of
# serde_json's compact output).
event_with() { # FILE SUBSTRING — prints the first matching event
	grep -F '"type":"event"' "$1" | grep -F -m1 -- "$2"
}
has_summary() { grep -q '"type":"summary"' "$1"; }
# Value of numeric field KEY in JSON LINE (first occurrence, top level or not).
json_num() { # LINE KEY
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\(-\{0,1\}[0-9][0-9]*\).*/\1/p" | head -n1
}

# The shared layer's error format: "<tool>: error: <cause>" then "hint: <fix>".
error_line() { grep -m1 "^$TOOL: error: " "$1"; }
has_hint() { grep -q '^hint: ' "$1"; }

# After a run that did not work: `degraded` when the tool stopped cleanly
# (exit 1) with its one-line error + hint and the cause matches FEATURE_RE (a
# kernel feature the tool documents needing); otherwise `fail`, with the
# evidence on the console. Crashes, panics and timeouts are always failures.
judge_failure() { # CHECK NAME FEATURE_RE WHAT
	local check=$1 name=$2 re=$3 what=$4 err
	err=$(error_line "$WORK/$name.err")
	if [ "$RC" = 1 ] && [ -n "$err" ] && has_hint "$WORK/$name.err" &&
		! grep -q 'panicked' "$WORK/$name.err" &&
		printf '%s' "$err" | grep -Eq -- "$re"; then
		degraded "$check" "$err / $(grep -m1 '^hint: ' "$WORK/$name.err")"
		return
	fi
	fail "$check" "$what (exit $RC): ${err:-$(grep -v '^libbpf: ' "$WORK/$name.err" | tail -n1)}"
	show "$WORK/$name.err" 20
	show "$WORK/$name.out" 8
}

# Kernel-feature messages of the shared layer (src/load.rs): a missing
# tracepoint, no ring buffer (Linux < 5.8), no BTF.
FEATURE_RE='does not exist on this kernel|need Linux|has no BTF|not supported'

# Histogram tools (tools/<hist tool>/smoke.sh).
# smoke_hist NAME WORKLOAD ARGS...: runs the tool with --json -v ARGS, runs
# the shell function WORKLOAD once attached, then Ctrl-C; sets HIST (the
# last "hist" record). Fails NAME (and returns 1) if it does not attach,
# exits non-zero or prints no hist record or summary.
smoke_hist() {
	local name=$1 workload=$2
	shift 2
	start_tool "$name" --json -v "$@"
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE" "not attached within 60 s"
		return 1
	fi
	"$workload"
	stop_tool 30
	HIST=$(grep -F '"type":"hist"' "$WORK/$name.out" | tail -n1)
	if [ "$RC" != 0 ]; then
		fail "$name" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$name.err" 20
		return 1
	elif [ -z "$HIST" ] || ! has_summary "$WORK/$name.out"; then
		fail "$name" "no hist record or no summary"
		show "$WORK/$name.out"
		return 1
	fi
}

# hist_count_ok NAME MIN WHY: ok if HIST counts at least MIN (WHY: what
# each one is) and has buckets.
hist_count_ok() {
	local n
	n=$(json_num "$HIST" count)
	if [ "${n:-0}" -lt "$2" ] || ! printf '%s' "$HIST" | grep -q '"buckets":\[{'; then
		fail "$1" "count ${n:-?} (want >= $2, $3) or no buckets: $HIST"
	else
		ok "$1" "$(grep -m1 "^$TOOL: tracing" "$WORK/$1.err"); count $n"
	fi
}

# hist_keyed_ok NAME PATTERN WHAT: ok if HIST matches PATTERN (grep -E).
hist_keyed_ok() {
	if ! printf '%s' "$HIST" | grep -Eq "$2"; then
		fail "$1" "no $3 record: $HIST"
	else
		ok "$1" "$(grep -c '"type":"hist"' "$WORK/$1.out") $3 histograms"
	fi
}

# Twenty short sleeps: each a wakeup, and an on-CPU and off-CPU slice.
sleeps20() {
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do usleep 2000; done
}
