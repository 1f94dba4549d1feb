# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# capable smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   trace   -- CMD: `chown 65534 FILE` as root: its CAP_CHOWN check, allowed.
#           Linux < 6.14 has no capability:cap_capable tracepoint: there the
#           expected result is the tool's one-line error naming it and
#           "needs Linux >= 6.14" (degraded), anything else fails.

kv=$(uname -r)
major=${kv%%.*}
rest=${kv#*.}
minor=${rest%%[!0-9]*}
has_tp=0
if [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 14 ]; }; then has_tp=1; fi

: >"$WORK/owned"
run_tool trace 60 --json -v -- chown 65534 "$WORK/owned"
ev=$(event_with "$WORK/trace.out" '"name":"CAP_CHOWN"')
err=$(error_line "$WORK/trace.err")
want="$TOOL: error: tracepoint capability:cap_capable does not exist on this kernel: needs Linux >= 6.14"
if [ "$has_tp" = 1 ]; then
	if [ "$RC" = 0 ] && printf '%s' "$ev" | grep -qF '"verdict":"allow"'; then
		ok trace "$(grep -m1 "^$TOOL: tracing" "$WORK/trace.err"); chown's CAP_CHOWN allowed"
	else
		fail trace "Linux $kv has the tracepoint: exit $RC, CAP_CHOWN row: ${ev:-none}; ${err:-no error}"
		show "$WORK/trace.err" 20
		show "$WORK/trace.out" 8
	fi
elif [ "$RC" = 1 ] && [ "$err" = "$want" ] && has_hint "$WORK/trace.err"; then
	degraded trace "$err / $(grep -m1 '^hint: ' "$WORK/trace.err")"
else
	fail trace "Linux $kv (< 6.14): want the error '$want', got exit $RC: ${err:-none}"
	show "$WORK/trace.err" 20
fi
