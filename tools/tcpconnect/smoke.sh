# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcpconnect smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   connect  system-wide (tp_btf inet_sock_set_state), started in the
#            background: one loopback IPv4 connection (csprobe tcp); its row
#            has csprobe's client comm, the port and the client's source
#            port (csprobe's getpeername), result established; Ctrl-C ends
#            it with a summary
#   count    --count with -- CMD: two loopback connections to one port
#            counted as 2

PORT=$((PORT_BASE + 90))
start_tool conn --json -v -L
if ! wait_attached conn 60; then
	stop_tool 10
	judge_failure connect conn "$FEATURE_RE" "not attached within 60 s"
else
	probe=$(csprobe tcp "$PORT" 10 20)
	usleep 300000
	stop_tool 30
	cport=$(printf '%s' "$probe" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
	row=$(grep -F '"type":"event"' "$WORK/conn.out" | grep -F "\"dport\":$PORT," | grep -F "\"lport\":${cport:-x}," | head -n1)
	if [ "$RC" != 0 ]; then
		fail connect "Ctrl-C: exit $RC, want 0"
		show "$WORK/conn.err" 20
	elif [ -z "$cport" ]; then
		fail connect "the loopback connection itself failed: $probe"
	elif [ -z "$row" ]; then
		fail connect "no row for the connect to port $PORT from port $cport"
		show "$WORK/conn.out"
	elif ! printf '%s' "$row" | grep -q '"comm":"csprobe-client".*"result":"established"'; then
		fail connect "wrong row: $row"
	elif ! has_summary "$WORK/conn.out"; then
		fail connect "no summary record after Ctrl-C"
	else
		ok connect "$(grep -m1 "^$TOOL: tracing" "$WORK/conn.err"); row: $row"
	fi
fi

PORT=$((PORT_BASE + 91))
run_tool count 60 --count --json -- sh -c "csprobe tcp $PORT 1 1 && csprobe tcp $PORT 1 1"
line=$(grep -F '"type":"count"' "$WORK/count.out" | grep -F "\"dport\":$PORT,")
if [ "$RC" != 0 ]; then
	judge_failure count count "$FEATURE_RE" "--count -- CMD"
elif printf '%s' "$line" | grep -q '"connects":2}'; then
	ok count "$line"
else
	fail count "want 2 connects to $PORT: ${line:-no count record}"
	show "$WORK/count.out"
fi
