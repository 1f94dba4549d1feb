# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# xdpdrop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the xdpdrop binary is in the build.
# Checks, on `lo` (generic/skb XDP; `--mode auto` falls back to it):
#   drop   UDP to a dropped port (`--drop 'udp dst-port P'`) never reaches the
#          socket bound to it (csprobe udp) and a counter equal to the number
#          of packets sent is reported; UDP to another port still gets
#          through; after Ctrl-C the program is detached (UDP to P passes)
#   rules  the heaviest matcher loads on this kernel's verifier: 70 rules
#          (several bitmap words) using every dimension, --allow-only with
#          --malformed pass, as a dry run (lo keeps working); exit 0 on Ctrl-C

PORT=$((PORT_BASE + 53))
OTHER=$((PORT_BASE + 54))
N=20
before=$(csprobe udp "$PORT" 5 1000)
if [ "$before" != "sent=5 received=5" ]; then
	fail drop "loopback UDP does not work even without xdpdrop: $before"
# The shared "tracing" line comes when the program is loaded; xdpdrop then
# attaches it to the interface and says so: wait for that too.
elif ! start_tool drop --json -v --drop "udp dst-port $PORT" lo ||
	! wait_attached drop 60 ||
	! wait_for "$WORK/drop.err" "^xdpdrop: attached to lo " 30 "$TOOL_PID"; then
	stop_tool 10
	judge_failure drop drop "$FEATURE_RE|XDP" "not attached within 60 s"
else
	dropped=$(csprobe udp "$PORT" "$N" 1000)
	passed=$(csprobe udp "$OTHER" 5 1000)
	usleep 300000
	stop_tool 30
	after=$(csprobe udp "$PORT" 5 1000)
	# A counter for the rule: a number field equal to N in a non-event
	# record (periodic table or summary), field names aside.
	counter=$(grep -v '"type":"event"' "$WORK/drop.out" | grep -E "\":${N}[,}]" | tail -n1)
	if [ "$RC" != 0 ]; then
		fail drop "Ctrl-C: exit $RC, want 0"
		show "$WORK/drop.err" 20
	elif [ "$dropped" != "sent=$N received=0" ]; then
		fail drop "UDP to dropped port $PORT still arrived: $dropped"
		show "$WORK/drop.out"
	elif [ "$passed" != "sent=5 received=5" ]; then
		fail drop "UDP to port $OTHER (no rule) was dropped too: $passed"
	elif [ -z "$counter" ]; then
		fail drop "no record counts the $N dropped packets"
		show "$WORK/drop.out"
	elif [ "$after" != "sent=5 received=5" ]; then
		fail drop "after Ctrl-C, UDP to $PORT is still dropped ($after): not detached?"
	elif ! has_summary "$WORK/drop.out"; then
		fail drop "no summary record after Ctrl-C"
	else
		ok drop "$(grep -m1 "^$TOOL: tracing" "$WORK/drop.err"); $N UDP packets dropped on lo and counted, other port passed, detached on Ctrl-C"
	fi
fi

# Heaviest configuration: every rule dimension (protocol, IPv4 and IPv6
# source / destination prefixes, both ports, MAC), over 64 rules.
i=0
: >"$WORK/heavy.rules"
while [ "$i" -lt 64 ]; do
	echo "tcp src 10.$i.0.0/16 dst-port $((1000 + i))" >>"$WORK/heavy.rules"
	i=$((i + 1))
done
cat >>"$WORK/heavy.rules" <<EOF
udp dst 192.0.2.0/24 src-port 53
src 2001:db8::/32
dst fd00::/8 icmpv6
src-mac 02:00:00:00:00:01
sport 1-1023
proto 47
EOF
if ! start_tool rules --json -v -n --allow-only --malformed pass --rules "$WORK/heavy.rules" lo ||
	! wait_attached rules 60 ||
	! wait_for "$WORK/rules.err" "^xdpdrop: attached to lo " 30 "$TOOL_PID"; then
	stop_tool 10
	judge_failure rules rules "$FEATURE_RE|XDP" "70 rules not attached within 60 s"
else
	stop_tool 30
	if [ "$RC" != 0 ]; then
		fail rules "Ctrl-C: exit $RC, want 0"
		show "$WORK/rules.err" 20
	elif ! has_summary "$WORK/rules.out"; then
		fail rules "no summary record after Ctrl-C"
	else
		ok rules "70 rules, every dimension, --allow-only --malformed pass: loaded and attached"
	fi
fi
