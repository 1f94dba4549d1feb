# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# profile smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the profile binary is in the build.
# Checks (a perf_event program on a software CPU_CLOCK event, stack maps):
#   sample   system-wide JSON at 99 Hz while a shell loop burns CPU for about
#            a second: stack records with counts, "samples" >= 20 in the
#            summary (Ctrl-C ends it)
#   folded   -f -d -a --svg FILE -K 2 (the positional DURATION ends it):
#            folded lines "frames count" with _[k] kernel frames, and an SVG.
#            The load is dd copying /dev/zero to /dev/null, which runs in the
#            kernel: a shell loop runs in user mode, and a -K sample of user
#            mode has no kernel frame (seen once: no _[k] line at all)

burn() {
	i=0
	while [ "$i" -lt 200000 ]; do i=$((i + 1)); done
}

start_tool sample --json -v -F 99
if ! wait_attached sample 60; then
	stop_tool 10
	judge_failure sample sample "$FEATURE_RE|perf event" "not attached within 60 s"
else
	burn
	stop_tool 30
	summary=$(grep -F '"type":"summary"' "$WORK/sample.out")
	n=$(json_num "$summary" samples)
	stack=$(grep -F '"type":"stack"' "$WORK/sample.out" | grep -m1 '"count":[1-9]')
	if [ "$RC" != 0 ]; then
		fail sample "Ctrl-C: exit $RC, want 0"
		show "$WORK/sample.err" 20
	elif [ -z "$stack" ] || [ "${n:-0}" -lt 20 ]; then
		fail sample "no stack record, or samples ${n:-?} < 20"
		show "$WORK/sample.out"
	else
		ok sample "$(grep -m1 "^$TOOL: tracing" "$WORK/sample.err"); $n samples in $(grep -c '"type":"stack"' "$WORK/sample.out") stacks"
	fi
fi

start_tool folded -v -f -d -a -K -F 99 --svg "$WORK/p.svg" 2
dd if=/dev/zero of=/dev/null bs=65536 count=100000000 2>/dev/null &
dd_pid=$!
wait_pid "$TOOL_PID" 60
kill "$dd_pid" 2>/dev/null
wait "$dd_pid" 2>/dev/null
lines=$(grep -c ' [0-9][0-9]*$' "$WORK/folded.out")
if [ "$RC" != 0 ]; then
	judge_failure folded folded "$FEATURE_RE|perf event" "exit $RC, want 0 at the end of DURATION"
elif [ "${lines:-0}" = 0 ] || ! grep -q '_\[k\] [0-9]*$' "$WORK/folded.out"; then
	fail folded "no folded line with _[k] kernel frames"
	show "$WORK/folded.out"
elif ! grep -q '<svg' "$WORK/p.svg" 2>/dev/null; then
	fail folded "no SVG written to --svg"
else
	ok folded "$lines folded lines, SVG of $(wc -c <"$WORK/p.svg") bytes"
fi
