# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# offcputime smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the offcputime binary is in the build.
# Checks (tp_btf sched_switch, task storage, stack maps):
#   sleeps   system-wide JSON while 20 usleep processes sleep 2 ms each: a
#            stack record of comm "usleep", and at least 20 x 2000 us off
#            CPU in the summary (Ctrl-C ends it)
#   folded   -f -m 1000 -u 2 (the positional DURATION ends it): folded lines
#            "frames count"

start_tool sleeps --json -v
if ! wait_attached sleeps 60; then
	stop_tool 10
	judge_failure sleeps sleeps "$FEATURE_RE" "not attached within 60 s"
else
	sleeps20
	stop_tool 30
	summary=$(grep -F '"type":"summary"' "$WORK/sleeps.out")
	us=$(json_num "$summary" off_cpu_us)
	stack=$(grep -F '"type":"stack"' "$WORK/sleeps.out" | grep -m1 -F '"comm":"usleep"')
	if [ "$RC" != 0 ]; then
		fail sleeps "Ctrl-C: exit $RC, want 0"
		show "$WORK/sleeps.err" 20
	elif [ -z "$stack" ] || [ "${us:-0}" -lt 40000 ]; then
		fail sleeps "no stack of usleep, or ${us:-?} us off CPU < 40000"
		show "$WORK/sleeps.out"
	else
		ok sleeps "$(grep -m1 "^$TOOL: tracing" "$WORK/sleeps.err"); $us us off CPU in $(grep -c '"type":"stack"' "$WORK/sleeps.out") stacks"
	fi
fi

start_tool folded -v -f -m 1000 -u 2
sleeps20
wait_pid "$TOOL_PID" 60
lines=$(grep -c ' [0-9][0-9]*$' "$WORK/folded.out")
if [ "$RC" != 0 ]; then
	judge_failure folded folded "$FEATURE_RE" "exit $RC, want 0 at the end of DURATION"
elif [ "${lines:-0}" = 0 ]; then
	fail folded "no folded line"
	show "$WORK/folded.out"
else
	ok folded "$lines folded lines"
fi
