# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcptop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the tcptop binary is in the build.
# Checks (sock:sock_send_length / sock:sock_recv_length as BTF raw
# tracepoints, Linux >= 6.3):
#   loopback  -- csprobe tcp: one loopback IPv4 connection, the client sends
#             exactly 3000 bytes and the server 5000; the client's row says
#             3000 sent / 5000 received, the server's 5000 / 3000; a summary.
#             On a kernel older than 6.3: the documented error
#             "needs Linux >= 6.3 (sock:sock_send_length)" with a hint is
#             the expected result (degraded); anything else fails.

PORT=$((PORT_BASE + 130))
rel=$(uname -r)
major=${rel%%.*}
minor=${rel#*.}
minor=${minor%%.*}
old=0
if [ "$major" -lt 6 ] || { [ "$major" = 6 ] && [ "$minor" -lt 3 ]; }; then
	old=1
fi

run_tool loopback 60 --json -v 600 -- "$(command -v csprobe)" tcp "$PORT" 3000 5000
rows=$(grep -F '"type":"top"' "$WORK/loopback.out" | grep -E "\"(lport|rport)\":${PORT}[,}]")
cli=$(printf '%s\n' "$rows" | grep -F '"comm":"csprobe-client"' | head -n1)
srv=$(printf '%s\n' "$rows" | grep -F '"comm":"csprobe-server"' | head -n1)
if [ "$old" = 1 ]; then
	err=$(error_line "$WORK/loopback.err")
	if [ "$RC" = 1 ] && has_hint "$WORK/loopback.err" &&
		printf '%s' "$err" | grep -qF 'needs Linux >= 6.3 (sock:sock_send_length)'; then
		degraded loopback "$err / $(grep -m1 '^hint: ' "$WORK/loopback.err")"
	else
		fail loopback "Linux $rel: want the 'needs Linux >= 6.3' error, got exit $RC: ${err:-none}"
		show "$WORK/loopback.err" 20
	fi
elif [ "$RC" != 0 ]; then
	fail loopback "exit $RC: $(error_line "$WORK/loopback.err")"
	show "$WORK/loopback.err" 20
elif [ "$(json_num "$cli" tx_bytes)" != 3000 ] || [ "$(json_num "$cli" rx_bytes)" != 5000 ]; then
	fail loopback "client row lacks 3000 sent / 5000 received: ${cli:-none}"
	show "$WORK/loopback.out"
elif [ "$(json_num "$srv" tx_bytes)" != 5000 ] || [ "$(json_num "$srv" rx_bytes)" != 3000 ]; then
	fail loopback "server row lacks 5000 sent / 3000 received: ${srv:-none}"
	show "$WORK/loopback.out"
elif ! has_summary "$WORK/loopback.out"; then
	fail loopback "no summary"
else
	ok loopback "$(grep -m1 "^$TOOL: tracing" "$WORK/loopback.err"); client 3000/5000, server 5000/3000 bytes"
fi
