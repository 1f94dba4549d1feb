# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# exitsnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   trace    system-wide (tp_btf sched_process_exit), started in the
#            background: a shell that exits 3 and one killed by SIGSEGV, each
#            with its PID; Ctrl-C ends it with a summary
#   classic  the classic tracepoint (--btf given) with -- CMD: CMD's exit
#            code 3 in its row and passed through

start_tool trace --json -v
if ! wait_attached trace 60; then
	stop_tool 10
	judge_failure trace trace "$FEATURE_RE" "not attached within 60 s"
else
	sh -c 'echo $$ >"$1"; exit 3' sh "$WORK/p3"
	sh -c 'echo $$ >"$1"; kill -SEGV $$' sh "$WORK/psegv"
	usleep 300000
	stop_tool 30
	p3=$(cat "$WORK/p3") psegv=$(cat "$WORK/psegv")
	e3=$(grep -F '"type":"event"' "$WORK/trace.out" | grep -F "\"pid\":$p3," | grep -F '"exit_code":3,')
	es=$(grep -F '"type":"event"' "$WORK/trace.out" | grep -F "\"pid\":$psegv," | grep -F '"signal":"SIGSEGV"')
	if [ "$RC" != 0 ]; then
		fail trace "Ctrl-C: exit $RC, want 0"
		show "$WORK/trace.err" 20
	elif [ -z "$e3" ] || [ -z "$es" ]; then
		fail trace "rows: exit 3 of PID $p3: ${e3:-none}; SIGSEGV of PID $psegv: ${es:-none}"
		show "$WORK/trace.out"
	elif ! has_summary "$WORK/trace.out"; then
		fail trace "no summary record after Ctrl-C"
	else
		ok trace "$(grep -m1 "^$TOOL: tracing" "$WORK/trace.err"); exit 3 and SIGSEGV seen"
	fi
fi

run_tool classic 60 --json -v --btf /sys/kernel/btf/vmlinux -- sh -c 'exit 3'
ev=$(event_with "$WORK/classic.out" '"exit_code":3,')
if [ "$RC" = 3 ] && [ -n "$ev" ] && grep -q "'handle_exit_btf': skipped loading" "$WORK/classic.err"; then
	ok classic "classic tracepoint: CMD's exit 3 seen and passed through"
elif [ "$RC" = 1 ] || [ "$RC" = timeout ]; then
	judge_failure classic classic "$FEATURE_RE" "-- CMD run failed"
else
	fail classic "exit $RC (want 3); row: ${ev:-none}"
	show "$WORK/classic.err"
	show "$WORK/classic.out"
fi
