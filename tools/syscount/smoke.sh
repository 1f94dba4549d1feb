# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# syscount smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the syscount binary is in the build.
# Checks (raw_syscalls sys_enter/sys_exit must load and attach):
#   failures  -x -- a shell running `cat` on a missing file 20 times: a top
#             record for openat (or open) counting at least 20; the run
#             ends with CMD, with a summary
#   latency   -P -L (the enter program too) -- the same: per-process
#             records with total_ns

MISSING_LOOP='i=0; while [ $i -lt 20 ]; do cat /nonexistent-cs 2>/dev/null; i=$((i + 1)); done; true'

run_tool failures 60 --json -v -x -- sh -c "$MISSING_LOOP"
row=$(grep -F '"type":"top"' "$WORK/failures.out" | grep -E '"syscall":"(openat|open)"' | head -n1)
n=$(json_num "$row" count)
if [ "$RC" != 0 ]; then
	judge_failure failures failures "$FEATURE_RE" "did not run"
elif [ "${n:-0}" -lt 20 ] || ! has_summary "$WORK/failures.out"; then
	fail failures "openat failures ${n:-none} (want >= 20) or no summary: $row"
	show "$WORK/failures.out"
else
	ok failures "$(grep -m1 "^$TOOL: tracing" "$WORK/failures.err"); $n failed opens"
fi

run_tool latency 60 --json -v -P -L -- sh -c "$MISSING_LOOP"
# (busybox sh runs cat in a fork without exec: the rows are sh's.)
row=$(grep -F '"type":"top"' "$WORK/latency.out" | grep -F '"pid":' | grep -F '"total_ns":' | head -n1)
if [ "$RC" != 0 ]; then
	judge_failure latency latency "$FEATURE_RE" "did not run"
elif [ -z "$row" ] || ! has_summary "$WORK/latency.out"; then
	fail latency "no per-process record with total_ns, or no summary"
	show "$WORK/latency.out"
else
	ok latency "$(grep -m1 "^$TOOL: tracing" "$WORK/latency.err"); $(grep -c '"type":"top"' "$WORK/latency.out") process rows"
fi
