# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# softirqs smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the softirqs binary is in the build.
# Checks (tp_btf softirq_entry / softirq_exit must load and attach):
#   totals  system-wide, -C: half a second of short sleeps; a "softirq"
#           record for the timer vector (it runs every tick) with a count;
#           Ctrl-C ends it with a summary
#   dist    -d: hist records keyed by vector ("softirq":"timer", …)

# Short sleeps for half a second: timer ticks and their softirqs.
half_second() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do usleep 50000; done
}

start_tool totals --json -v -C
if ! wait_attached totals 60; then
	stop_tool 10
	judge_failure totals totals "$FEATURE_RE" "not attached within 60 s"
else
	half_second
	stop_tool 30
	timer=$(grep -F '"type":"softirq"' "$WORK/totals.out" | grep -F '"softirq":"timer"' | head -n1)
	n=$(json_num "$timer" count)
	if [ "$RC" != 0 ]; then
		fail totals "Ctrl-C: exit $RC, want 0"
		show "$WORK/totals.err" 20
	elif [ "${n:-0}" -lt 1 ] || ! has_summary "$WORK/totals.out"; then
		fail totals "no timer softirq counted, or no summary"
		show "$WORK/totals.out"
	else
		ok totals "$(grep -m1 "^$TOOL: tracing" "$WORK/totals.err"); timer count $n"
	fi
fi

smoke_hist dist half_second -d && hist_keyed_ok dist '"unit":"usecs","softirq":"[a-z_]+"' per-vector
