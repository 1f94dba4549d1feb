# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# biotop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# The guest has no block device (its block drivers are modules, none
# loaded): no I/O to count. The counts are the root tests' (loop devices);
# here both BPF routes must load and attach on this kernel, the issuing
# task must come from the right hook, and the intervals must come:
#   system   -j -v 1: attached; -v names block_io_start on Linux >= 6.5,
#            the insertion / issue route before; interval records 1 and 2;
#            Ctrl-C: exit 0 and a summary with keys_dropped
#   fallback --no-io-start (the Linux < 6.5 route, forced): the same

kv=$(uname -r)
kmaj=${kv%%.*}
kmin=${kv#*.}
kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -ge 5 ]; }; then
	want_from="block_io_start"
else
	want_from="block_rq_insert, else block_rq_issue"
fi

top_check() { # NAME WANT_FROM ARGS...
	local name=$1 want=$2
	shift 2
	start_tool "$name" --json -v "$@" 1
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE" "not attached within 60 s"
		return
	fi
	wait_for "$WORK/$name.out" '"type":"interval","schema":1,"interval":2' 10 "$TOOL_PID"
	stop_tool 30
	if [ "$RC" != 0 ] || ! has_summary "$WORK/$name.out"; then
		fail "$name" "Ctrl-C: exit $RC, or no summary"
		show "$WORK/$name.err" 20
	elif ! grep -q '"type":"interval","schema":1,"interval":2' "$WORK/$name.out"; then
		fail "$name" "no second interval record"
		show "$WORK/$name.out"
	elif ! grep -q '"keys_dropped":0' "$WORK/$name.out"; then
		fail "$name" "no keys_dropped in the summary"
		show "$WORK/$name.out"
	elif ! grep -q "^$TOOL: the issuing task from $want" "$WORK/$name.err"; then
		fail "$name" "kernel $kv: want the task from $want, got: $(grep -m1 "issuing task" "$WORK/$name.err")"
	else
		ok "$name" "$(grep -m1 "^$TOOL: tracing" "$WORK/$name.err"); $(grep -m1 "issuing task" "$WORK/$name.err"); 2 intervals"
	fi
}

top_check system "$want_from"
top_check fallback "block_rq_insert, else block_rq_issue" --no-io-start
