# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# opensnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the opensnoop binary is in the build.
# Checks:
#   open   system-wide, started in the background (-v says when attached):
#          an open of a unique existing path (FD >= 0) and of a unique
#          missing one (ERR 2) show up; Ctrl-C ends it with a summary
#   cmd    -- CMD: the command's open of a unique path shows up
#   combo  every filter at once (-F --path PREFIX -f -x --callers: the
#          most BPF code) loads and shows the command's failed open

MARK="/tmp/cs$$x$(date +%s)"
echo hello >"$MARK-exists"

start_tool open --json -v
if ! wait_attached open 60; then
	stop_tool 10
	judge_failure open open "$FEATURE_RE" "not attached within 60 s"
else
	cat "$MARK-exists" >/dev/null
	cat "$MARK-missing" 2>/dev/null
	usleep 300000
	stop_tool 30
	hit=$(event_with "$WORK/open.out" "\"$MARK-exists\"")
	miss=$(event_with "$WORK/open.out" "\"$MARK-missing\"")
	fd=$(json_num "$hit" fd)
	err=$(json_num "$miss" err)
	if [ "$RC" != 0 ]; then
		fail open "Ctrl-C: exit $RC, want 0"
		show "$WORK/open.err" 20
	elif [ -z "$hit" ]; then
		fail open "the open of $MARK-exists was not reported"
		show "$WORK/open.out"
	elif [ -n "$fd" ] && [ "$fd" -lt 0 ]; then
		fail open "open of an existing file reported fd $fd: $hit"
	elif [ -z "$miss" ] || { [ -n "$err" ] && [ "$err" != 2 ]; }; then
		fail open "the failed open of $MARK-missing (ERR 2) was not reported: ${miss:-none}"
		show "$WORK/open.out"
	elif ! has_summary "$WORK/open.out"; then
		fail open "no summary record after Ctrl-C"
	else
		ok open "$(grep -m1 "^$TOOL: tracing" "$WORK/open.err"); open (fd ${fd:-?}) and failed open (err ${err:-?}) seen"
	fi
fi

# cat's own output must not share the JSON file (it overwrote an event
# line once on 6.1): the shell sends it to /dev/null.
run_tool cmd 60 --json -- /bin/sh -c 'cat "$1" >/dev/null' sh "$MARK-exists"
if [ "$RC" = 0 ] && event_with "$WORK/cmd.out" "\"$MARK-exists\"" >/dev/null; then
	ok cmd "-- CMD: the command's open of a unique path seen"
elif [ "$RC" = 1 ] || [ "$RC" = timeout ]; then
	judge_failure cmd cmd "$FEATURE_RE" "-- CMD run failed"
else
	fail cmd "-- cat: exit $RC, open of $MARK-exists seen: $(event_with "$WORK/cmd.out" "$MARK" || echo no)"
	show "$WORK/cmd.err"
	show "$WORK/cmd.out"
fi

run_tool combo 60 --json -F --path "$MARK" -f O_RDONLY -x --callers -- cat "$MARK-missing"
# Exit 1 is cat's: the event is what tells that the programs loaded.
if [ "$RC" != timeout ] && event_with "$WORK/combo.out" "\"$MARK-missing\"" >/dev/null; then
	ok combo "-F --path -f -x --callers: loaded, the failed open seen"
else
	judge_failure combo combo "$FEATURE_RE" "-F --path -f -x --callers run failed"
fi
