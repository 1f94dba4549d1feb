# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# cpudist smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the cpudist binary is in the build.
# Checks (tp_btf sched_switch and task
# storage must load and attach on this kernel):
#   oncpu   system-wide, unkeyed: 20 short sleeps (each a slice) while
#           tracing; a JSON hist record with count >= 20 and buckets; Ctrl-C
#           ends it with a summary
#   offcpu  -O -P -m: hist records keyed by pid, in msecs

# smoke_hist NAME ARGS...: start, 20 sleeps, Ctrl-C; sets HIST (last record).
smoke_hist() {
	local name=$1
	shift
	start_tool "$name" --json -v "$@"
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE" "not attached within 60 s"
		return 1
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do usleep 2000; done
	stop_tool 30
	HIST=$(grep -F '"type":"hist"' "$WORK/$name.out" | tail -n1)
	if [ "$RC" != 0 ]; then
		fail "$name" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$name.err" 20
		return 1
	elif [ -z "$HIST" ] || ! has_summary "$WORK/$name.out"; then
		fail "$name" "no hist record or no summary"
		show "$WORK/$name.out"
		return 1
	fi
}

if smoke_hist oncpu; then
	n=$(json_num "$HIST" count)
	if [ "${n:-0}" -lt 20 ] || ! printf '%s' "$HIST" | grep -q '"buckets":\[{'; then
		fail oncpu "count ${n:-?} (want >= 20, one per sleep) or no buckets: $HIST"
	else
		ok oncpu "$(grep -m1 "^$TOOL: tracing" "$WORK/oncpu.err"); count $n"
	fi
fi
if smoke_hist offcpu -O -P -m; then
	if ! printf '%s' "$HIST" | grep -q '"unit":"msecs","pid":[0-9]'; then
		fail offcpu "no pid-keyed msecs record: $HIST"
	else
		ok offcpu "$(grep -c '"type":"hist"' "$WORK/offcpu.out") pid histograms"
	fi
fi
