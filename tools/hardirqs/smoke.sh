# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# hardirqs smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the hardirqs binary is in the build.
# Checks (tp_btf irq_handler_entry / irq_handler_exit must load and attach;
# the guest's only device interrupts are the serial port's, raised by
# twenty lines written to /dev/ttyS0: at least one handler record, named in
# the detail):
#   time    system-wide: attaches 2 programs; Ctrl-C ends it with a summary
#   count   -C: attaches the entry program only; a summary
#   dist    -d -N: attaches 2 programs; a summary

# Twenty lines to the serial port (transmit interrupts, if it has them).
serial_lines() {
	[ -w /dev/ttyS0 ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		echo "  [$TOOL] serial line $i" >/dev/ttyS0
	done
}

# NAME PROGRAMS ARGS...: runs hardirqs --json -v ARGS for half a second.
smoke_irq() {
	local name=$1 progs=$2 rows first
	shift 2
	start_tool "$name" --json -v "$@"
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE" "not attached within 60 s"
		return
	fi
	serial_lines
	usleep 300000
	stop_tool 30
	rows=$(grep -cE '"type":"(hardirq|hist)"' "$WORK/$name.out")
	first=$(grep -m1 -oE '"hardirq":"[^"]*"' "$WORK/$name.out")
	if [ "$RC" != 0 ]; then
		fail "$name" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$name.err" 20
	elif ! grep -Eq "^$TOOL: tracing, $progs BPF program" "$WORK/$name.err"; then
		fail "$name" "want $progs programs attached: $(grep -m1 "^$TOOL: tracing" "$WORK/$name.err")"
	elif ! has_summary "$WORK/$name.out"; then
		fail "$name" "no summary record after Ctrl-C"
		show "$WORK/$name.out"
	elif [ "$rows" -lt 1 ] && [ -w /dev/ttyS0 ]; then
		fail "$name" "no handler record for the serial port's interrupts"
		show "$WORK/$name.out"
	else
		ok "$name" "$(grep -m1 "^$TOOL: tracing" "$WORK/$name.err"); $rows handler record(s) ($first)"
	fi
}

smoke_irq time 2
smoke_irq count 1 -C
smoke_irq dist 2 -d -N
