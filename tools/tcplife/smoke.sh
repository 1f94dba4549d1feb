# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# tcplife smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the tcplife binary is in the build.
# Checks:
#   loopback  system-wide, started in the background (-v says when attached):
#             one loopback IPv4 connection where the client sends exactly
#             3000 bytes and the server 5000 (csprobe tcp); its rows show
#             the server port and both byte counts; Ctrl-C ends it with a
#             summary

PORT=$((PORT_BASE + 80))
start_tool tcp --json -v
if ! wait_attached tcp 60; then
	stop_tool 10
	judge_failure loopback tcp "$FEATURE_RE" "not attached within 60 s"
else
	probe=$(csprobe tcp "$PORT" 3000 5000)
	usleep 500000
	stop_tool 30
	# The connection's rows: the server port as a number, both byte counts
	# (field names aside: any field holding exactly 3000 and 5000).
	rows=$(grep -F '"type":"event"' "$WORK/tcp.out" | grep -E "\":${PORT}[,}]")
	with_bytes=$(printf '%s\n' "$rows" | grep -E '":3000[,}]' | grep -E '":5000[,}]' | head -n1)
	if [ "$RC" != 0 ]; then
		fail loopback "Ctrl-C: exit $RC, want 0"
		show "$WORK/tcp.err" 20
	elif ! printf '%s' "$probe" | grep -q 'server_got=3000 server_sent=5000 client_ok=1'; then
		fail loopback "the loopback connection itself failed: $probe"
	elif [ -z "$rows" ]; then
		fail loopback "no row for the connection to port $PORT ($probe)"
		show "$WORK/tcp.out"
	elif [ -z "$with_bytes" ]; then
		fail loopback "rows for port $PORT lack the exact byte counts 3000/5000: $(printf '%s' "$rows" | head -n1)"
	elif ! has_summary "$WORK/tcp.out"; then
		fail loopback "no summary record after Ctrl-C"
	else
		ok loopback "$(grep -m1 "^$TOOL: tracing" "$WORK/tcp.err"); $(printf '%s\n' "$rows" | wc -l) row(s) for port $PORT with 3000/5000 bytes"
	fi
fi
