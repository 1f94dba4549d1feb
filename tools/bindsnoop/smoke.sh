# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# bindsnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   binds   system-wide, started in the background: csprobe's loopback TCP
#           server binds 127.0.0.1:P1 with SO_REUSEADDR (a row with port
#           P1, TCP, OPTS ...R., ret 0); csprobe udp binds 127.0.0.1:P2
#           (UDP, ret 0; with no datagrams it holds the port 1.5 s) and a
#           second one, while the first holds it,
#           fails (ret -98, EADDRINUSE); Ctrl-C ends it with a summary

P1=$((PORT_BASE + 90))
P2=$((PORT_BASE + 91))
start_tool bind --json -v
if ! wait_attached bind 60; then
	stop_tool 10
	judge_failure binds bind "$FEATURE_RE" "not attached within 60 s"
else
	csprobe tcp "$P1" 10 10 >/dev/null 2>&1
	csprobe udp "$P2" 0 1500 >/dev/null 2>&1 &
	H=$!
	usleep 300000
	csprobe udp "$P2" 0 0 >/dev/null 2>&1
	wait "$H"
	usleep 300000
	stop_tool 30
	ev=$(grep -F '"type":"event"' "$WORK/bind.out" | grep -F '"comm":"csprobe"')
	tcp=$(printf '%s\n' "$ev" | grep -F "\"port\":$P1," | grep -F '"proto":"TCP"' | grep -F '"opts":"...R."' | grep -F '"ret":0,')
	udp=$(printf '%s\n' "$ev" | grep -F "\"port\":$P2," | grep -F '"proto":"UDP"' | grep -F '"ret":0,')
	busy=$(printf '%s\n' "$ev" | grep -F "\"port\":$P2," | grep -F '"ret":-98,' | grep -F '"error":"EADDRINUSE"')
	if [ "$RC" != 0 ]; then
		fail binds "Ctrl-C: exit $RC, want 0"
		show "$WORK/bind.err" 20
	elif [ -z "$tcp" ] || [ -z "$udp" ] || [ -z "$busy" ]; then
		fail binds "TCP $P1: ${tcp:-none}; UDP $P2: ${udp:-none}; EADDRINUSE: ${busy:-none}"
		show "$WORK/bind.out"
	elif ! has_summary "$WORK/bind.out"; then
		fail binds "no summary record after Ctrl-C"
	else
		ok binds "$(grep -m1 "^$TOOL: tracing" "$WORK/bind.err"); TCP ...R., UDP and EADDRINUSE rows seen"
	fi
fi
