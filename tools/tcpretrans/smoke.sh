# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcpretrans smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   syn    system-wide, started in the background (-v says when attached):
#          a loopback SYN the kernel drops (csprobe synq: a listener whose
#          accept queue is full) is retransmitted after ~1 s; a row has the
#          connecting socket's port, the listener's port and SYN_SENT;
#          Ctrl-C ends it with a summary
#   count  the same with -c: a flow record for that connection with at
#          least one retransmit, printed at Ctrl-C

# smoke_syn CHECK PORT ARGS...: runs the tool with ARGS, the dropped SYN to
# PORT; sets ROW to the matching record (event or flow) or reports.
smoke_syn() {
	local check=$1 port=$2 probe cp
	shift 2
	ROW=""
	start_tool "$check" "$@"
	if ! wait_attached "$check" 60; then
		stop_tool 10
		judge_failure "$check" "$check" "$FEATURE_RE" "not attached within 60 s"
		return 1
	fi
	probe=$(csprobe synq "$port" 2500)
	cp=${probe#client_port=}
	usleep 300000
	stop_tool 30
	ROW=$(grep -F "\"lport\":$cp,\"raddr\":\"127.0.0.1\",\"rport\":$port," "$WORK/$check.out" | head -n1)
	if [ "$RC" != 0 ]; then
		fail "$check" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$check.err" 20
	elif [ -z "$cp" ] || [ "$cp" = "$probe" ]; then
		fail "$check" "csprobe synq failed: $probe"
	elif [ -z "$ROW" ]; then
		fail "$check" "no record for 127.0.0.1:$cp -> :$port"
		show "$WORK/$check.out"
	elif ! has_summary "$WORK/$check.out"; then
		fail "$check" "no summary record after Ctrl-C"
	else
		return 0
	fi
	return 1
}

PORT=$((PORT_BASE + 90))
if smoke_syn syn "$PORT" --json -v; then
	if printf '%s' "$ROW" | grep -qF '"type":"event"' && printf '%s' "$ROW" | grep -qF '"state":"SYN_SENT","kind":"retransmit"'; then
		ok syn "$(grep -m1 "^$TOOL: tracing" "$WORK/syn.err"); $ROW"
	else
		fail syn "wrong record: $ROW"
	fi
fi
if smoke_syn count $((PORT + 1)) -c --json -v; then
	n=$(json_num "$ROW" retransmits)
	if printf '%s' "$ROW" | grep -qF '"type":"flow"' && [ "${n:-0}" -ge 1 ]; then
		ok count "$ROW"
	else
		fail count "wrong record: $ROW"
	fi
fi
