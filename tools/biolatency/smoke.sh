# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# biolatency smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the biolatency binary is in the build.
# The guest has no block device (the kernels' block drivers are modules and
# the guest loads none), so there is no I/O to count: the checks are that
# every BPF variant loads (the verifier of this kernel, the CO-RE
# relocations of request, gendisk and the REQ_* enums) and attaches (tp_btf
# block_rq_insert, block_rq_issue, block_rq_merge, block_rq_complete), and
# that the run ends cleanly. The counts are the root tests' (loop devices).
#   system  unkeyed: attached, a JSON hist record (count 0 here), a summary
#   keyed   -D -F -Q -m (all four programs, disk and flag keys): attached,
#           Ctrl-C ends it with exit 0 and a summary

# smoke_hist, json_num: kernels/guest/lib.sh.
noio() { usleep 200000; }
if smoke_hist system noio; then
	n=$(json_num "$HIST" count)
	if [ -n "$n" ]; then
		ok system "$(grep -m1 "^$TOOL: tracing" "$WORK/system.err"); count $n (no block device)"
	else
		fail system "no count in $HIST"
	fi
fi

start_tool keyed --json -v -D -F -Q -m
if ! wait_attached keyed 60; then
	stop_tool 10
	judge_failure keyed keyed "$FEATURE_RE" "not attached within 60 s"
else
	noio
	stop_tool 30
	if [ "$RC" = 0 ] && has_summary "$WORK/keyed.out"; then
		ok keyed "$(grep -m1 "^$TOOL: tracing" "$WORK/keyed.err")"
	else
		fail keyed "Ctrl-C: exit $RC, or no summary"
		show "$WORK/keyed.err" 20
	fi
fi
