# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcpstates smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the tcpstates binary is in the build.
# Checks:
#   loopback  -L PORT, started in the background (-v says when attached):
#             one loopback IPv4 connection to PORT (csprobe tcp, the client
#             closes first); the accepted socket's changes are, in order,
#             LISTEN->SYN_RECV->ESTABLISHED->CLOSE_WAIT->LAST_ACK->CLOSE, and
#             the listener's CLOSE->LISTEN and LISTEN->CLOSE; a summary

PORT=$((PORT_BASE + 131))
start_tool states --json -v -L "$PORT"
if ! wait_attached states 60; then
	stop_tool 10
	judge_failure loopback states "$FEATURE_RE" "not attached within 60 s"
else
	probe=$(csprobe tcp "$PORT" 3000 5000)
	usleep 500000
	stop_tool 30
	ev=$(grep -F '"type":"event"' "$WORK/states.out")
	# The listener: the socket that went CLOSE -> LISTEN; the accepted
	# socket: the other one (by SKADDR: its remote port may still be 0 at
	# its first change).
	lsk=$(printf '%s\n' "$ev" | grep -F '"newstate":"LISTEN"' | sed -n 's/.*"skaddr":"\([0-9a-f]*\)".*/\1/p' | head -n1)
	seq=$(printf '%s\n' "$ev" | grep -vF "\"skaddr\":\"${lsk:-none}\"" |
		sed -n 's/.*"oldstate":"\([A-Z_0-9]*\)","newstate":"\([A-Z_0-9]*\)".*/\1>\2/p' | tr '\n' ' ')
	lis=$(printf '%s\n' "$ev" | grep -F "\"skaddr\":\"${lsk:-none}\"" |
		sed -n 's/.*"oldstate":"\([A-Z_0-9]*\)","newstate":"\([A-Z_0-9]*\)".*/\1>\2/p' | tr '\n' ' ')
	want="LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE "
	if [ "$RC" != 0 ]; then
		fail loopback "Ctrl-C: exit $RC, want 0"
		show "$WORK/states.err" 20
	elif ! printf '%s' "$probe" | grep -q 'server_got=3000 server_sent=5000 client_ok=1'; then
		fail loopback "the loopback connection itself failed: $probe"
	elif [ "$seq" != "$want" ]; then
		fail loopback "accepted socket: '$seq', want '$want'"
		show "$WORK/states.out"
	elif [ "$lis" != "CLOSE>LISTEN LISTEN>CLOSE " ]; then
		fail loopback "listener: '$lis'"
	elif ! has_summary "$WORK/states.out"; then
		fail loopback "no summary record after Ctrl-C"
	else
		ok loopback "$(grep -m1 "^$TOOL: tracing" "$WORK/states.err"); $seq"
	fi
fi
