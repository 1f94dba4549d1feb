# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# biosnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# The guest has no block device (its block drivers are modules, none
# loaded): no I/O to see. The rows are the root tests' (loop devices); here
# every BPF variant must load and attach on this kernel, and the issuing
# task must come from the right hook:
#   system   attached; -v names block_io_start on Linux >= 6.5, the
#            insertion / issue route before; Ctrl-C: exit 0 and a summary
#   queued   -Q (the insertion program too): attached, clean Ctrl-C
#   fallback --no-io-start (the Linux < 6.5 route, forced): attached
#   baddisk  -d no-such-disk0: exit 1, one error line and a hint

# The expected hook, from the kernel version.
kv=$(uname -r)
kmaj=${kv%%.*}
kmin=${kv#*.}
kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -ge 5 ]; }; then
	want_from="block_io_start"
else
	want_from="block_rq_insert, else block_rq_issue"
fi

attach_check() { # NAME WANT_FROM ARGS...
	local name=$1 want=$2
	shift 2
	start_tool "$name" --json -v "$@"
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE" "not attached within 60 s"
		return
	fi
	usleep 200000
	stop_tool 30
	if [ "$RC" != 0 ] || ! has_summary "$WORK/$name.out"; then
		fail "$name" "Ctrl-C: exit $RC, or no summary"
		show "$WORK/$name.err" 20
	elif ! grep -q "^$TOOL: the issuing task from $want" "$WORK/$name.err"; then
		fail "$name" "kernel $kv: want the task from $want, got: $(grep -m1 "issuing task" "$WORK/$name.err")"
	else
		ok "$name" "$(grep -m1 "^$TOOL: tracing" "$WORK/$name.err"); $(grep -m1 "issuing task" "$WORK/$name.err")"
	fi
}

attach_check system "$want_from"
attach_check queued "$want_from" -Q
attach_check fallback "block_rq_insert, else block_rq_issue" --no-io-start

run_tool baddisk 30 -d no-such-disk0
if [ "$RC" = 1 ] && error_line "$WORK/baddisk.err" | grep -q "no such block device" && has_hint "$WORK/baddisk.err"; then
	ok baddisk "$(error_line "$WORK/baddisk.err")"
else
	fail baddisk "exit $RC: $(cat "$WORK/baddisk.err")"
fi
