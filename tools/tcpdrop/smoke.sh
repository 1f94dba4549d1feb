# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcpdrop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   closed  system-wide with --stack, started in the background (-v says
#           when attached): a loopback connect to a port where nothing
#           listens (busybox nc; the kernel answers with a RST and drops the
#           SYN); a row has that port, SYN, reason NO_SOCKET (the name read
#           from this kernel's BTF) and a kernel stack through tcp_v4_rcv;
#           Ctrl-C ends it with a summary. A kernel without drop reasons
#           (< 5.17) must say so: degraded.

PORT=$((PORT_BASE + 95))
start_tool closed --json --stack -v
if ! wait_attached closed 60; then
	stop_tool 10
	judge_failure closed closed "$FEATURE_RE|no drop reason" "not attached within 60 s"
else
	nc 127.0.0.1 "$PORT" </dev/null >/dev/null 2>&1
	usleep 500000
	stop_tool 30
	row=$(grep -F '"type":"event"' "$WORK/closed.out" | grep -F "\"daddr\":\"127.0.0.1\",\"dport\":$PORT," | head -n1)
	if [ "$RC" != 0 ]; then
		fail closed "Ctrl-C: exit $RC, want 0"
		show "$WORK/closed.err" 20
	elif [ -z "$row" ]; then
		fail closed "no row for the SYN to 127.0.0.1:$PORT"
		show "$WORK/closed.out"
	elif ! printf '%s' "$row" | grep -qF '"flags":["SYN"],"reason":"NO_SOCKET"'; then
		fail closed "wrong row: $(printf '%s' "$row" | cut -c1-300)"
	elif ! printf '%s' "$row" | grep -qF '"symbol":"tcp_v4_rcv"'; then
		fail closed "no tcp_v4_rcv in the kernel stack: $(printf '%s' "$row" | cut -c1-300)"
	elif ! has_summary "$WORK/closed.out"; then
		fail closed "no summary record after Ctrl-C"
	else
		ok closed "$(grep -m1 "^$TOOL: tracing" "$WORK/closed.err"); $(printf '%s' "$row" | cut -c1-200)"
	fi
fi
