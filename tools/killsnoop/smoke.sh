# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# killsnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   trace   system-wide (the kill-family syscalls), started in the
#           background: kill -USR1 to a sleep (RESULT 0) and to a PID that
#           does not exist (-3); Ctrl-C ends it with a summary

start_tool trace --json -v
if ! wait_attached trace 60; then
	stop_tool 10
	judge_failure trace trace "$FEATURE_RE" "not attached within 60 s"
else
	sleep 30 &
	S=$!
	kill -USR1 "$S"
	wait "$S" 2>/dev/null
	kill -USR1 99999 2>/dev/null
	usleep 300000
	stop_tool 30
	ev=$(grep -F '"type":"event"' "$WORK/trace.out" | grep -F '"source":"kill"' | grep -F '"sig":10,')
	usr=$(printf '%s\n' "$ev" | grep -F "\"tpid\":$S," | grep -F '"ret":0,')
	esrch=$(printf '%s\n' "$ev" | grep -F '"tpid":99999,' | grep -F '"ret":-3,')
	if [ "$RC" != 0 ]; then
		fail trace "Ctrl-C: exit $RC, want 0"
		show "$WORK/trace.err" 20
	elif [ -z "$usr" ] || [ -z "$esrch" ]; then
		fail trace "kill -USR1 $S: ${usr:-none}; ESRCH: ${esrch:-none}"
		show "$WORK/trace.out"
	elif ! has_summary "$WORK/trace.out"; then
		fail trace "no summary record after Ctrl-C"
	else
		ok trace "$(grep -m1 "^$TOOL: tracing" "$WORK/trace.err"); kill() results 0 and -3 seen"
	fi
fi
