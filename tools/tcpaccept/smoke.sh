# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcpaccept smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   accept   system-wide (syscalls:sys_exit_accept/accept4), started in the
#            background: one loopback IPv4 connection (csprobe tcp); its row
#            has csprobe's server comm, the local port and the client's
#            port (csprobe's getpeername) as the remote port; Ctrl-C ends it
#            with a summary

PORT=$((PORT_BASE + 95))
start_tool acc --json -v
if ! wait_attached acc 60; then
	stop_tool 10
	judge_failure accept acc "$FEATURE_RE" "not attached within 60 s"
else
	probe=$(csprobe tcp "$PORT" 10 20)
	usleep 300000
	stop_tool 30
	cport=$(printf '%s' "$probe" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
	row=$(grep -F '"type":"event"' "$WORK/acc.out" | grep -F "\"lport\":$PORT," | grep -F "\"rport\":${cport:-x}," | head -n1)
	if [ "$RC" != 0 ]; then
		fail accept "Ctrl-C: exit $RC, want 0"
		show "$WORK/acc.err" 20
	elif [ -z "$cport" ]; then
		fail accept "the loopback connection itself failed: $probe"
	elif [ -z "$row" ]; then
		fail accept "no row for the accept on port $PORT from port $cport"
		show "$WORK/acc.out"
	elif ! printf '%s' "$row" | grep -q '"comm":"csprobe-server".*"raddr":"127.0.0.1"'; then
		fail accept "wrong row: $row"
	elif ! has_summary "$WORK/acc.out"; then
		fail accept "no summary record after Ctrl-C"
	else
		ok accept "$(grep -m1 "^$TOOL: tracing" "$WORK/acc.err"); row: $row"
	fi
fi
