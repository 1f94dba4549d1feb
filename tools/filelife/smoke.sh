# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# filelife smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   trace   system-wide (open/openat with O_CREAT, unlink/unlinkat, rename
#           syscall tracepoints), started in the background: a file created
#           by a shell redirection, kept 300 ms and removed by rm (its row:
#           rm's path, an age >= 0.3 s); a file that existed before tracing
#           and was removed during it (no row); Ctrl-C ends it with a summary
#   cmd     --btf given (the kernel's own file) and -- CMD: a file created, renamed,
#           then removed: one row under its new name

: >"$WORK/before"
start_tool trace --json -v
if ! wait_attached trace 60; then
	stop_tool 10
	judge_failure trace trace "$FEATURE_RE" "not attached within 60 s"
else
	: >"$WORK/short"
	usleep 300000
	rm "$WORK/short"
	rm "$WORK/before"
	usleep 300000
	stop_tool 30
	ev=$(event_with "$WORK/trace.out" "\"path\":\"$WORK/short\"")
	old=$(event_with "$WORK/trace.out" "\"path\":\"$WORK/before\"")
	age=$(printf '%s\n' "$ev" | sed -n 's/.*"age_s":\([0-9.e-]*\).*/\1/p')
	if [ "$RC" != 0 ]; then
		fail trace "Ctrl-C: exit $RC, want 0"
		show "$WORK/trace.err" 20
	elif [ -z "$ev" ] || ! awk -v a="${age:-0}" 'BEGIN {exit !(a >= 0.3 && a < 5)}'; then
		fail trace "row of $WORK/short (age >= 0.3 s): ${ev:-none}"
		show "$WORK/trace.out"
	elif [ -n "$old" ]; then
		fail trace "a file created before tracing was shown: $old"
	elif ! has_summary "$WORK/trace.out"; then
		fail trace "no summary record after Ctrl-C"
	else
		ok trace "$(grep -m1 "^$TOOL: tracing" "$WORK/trace.err"); a 0.3 s file seen (age $age), a pre-existing one not"
	fi
fi

run_tool cmd 60 --json -v --btf /sys/kernel/btf/vmlinux -- sh -c ": >'$WORK/a'; mv '$WORK/a' '$WORK/b'; rm '$WORK/b'"
ev=$(event_with "$WORK/cmd.out" "\"path\":\"$WORK/b\"")
if [ "$RC" = 0 ] && [ -n "$ev" ]; then
	ok cmd "--btf and -- CMD: a renamed file seen under its new name"
elif [ "$RC" = 1 ] || [ "$RC" = timeout ]; then
	judge_failure cmd cmd "$FEATURE_RE" "-- CMD run failed"
else
	fail cmd "exit $RC (want 0); row: ${ev:-none}"
	show "$WORK/cmd.err"
	show "$WORK/cmd.out"
fi
