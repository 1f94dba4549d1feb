# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# funclatency smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the funclatency binary is in the build.
# Checks:
#   read     syscall:read (syscalls:sys_enter_read/sys_exit_read, attached
#            by the tool): dd makes 200 one-byte reads; count >= 200
#   pattern  -u 'syscall:*read*': every matching syscall's pair attached;
#            the same dd; count >= 200, in usecs
#   malloc   c:malloc (uprobe + uretprobe on the libc the tool maps): one
#            run of a dynamically linked program (this tool's --version)
#   kernel   vfs_read (kprobe + kretprobe): where the kernel has kprobes,
#            the same dd, count >= 200; without them, the documented
#            "not available on this kernel" error (degraded)

reads200() { dd if=/dev/zero of=/dev/null bs=1 count=200 2>/dev/null; }
dynamic_run() { "$TOOL_BIN" --version >/dev/null; }

# fl_run NAME WORKLOAD ARGS...: as smoke_hist (lib.sh), but waits for the
# tool's own line "funclatency: N probes attached" (it attaches after the
# runner's "tracing" line).
fl_run() {
	local name=$1 workload=$2
	shift 2
	start_tool "$name" --json -v "$@"
	if ! wait_for "$WORK/$name.err" "^$TOOL: [0-9]+ probes attached" 60 "$TOOL_PID"; then
		stop_tool 10
		judge_failure "$name" "$name" "$FEATURE_RE|not available on this kernel" "not attached within 60 s"
		return 1
	fi
	"$workload"
	stop_tool 30
	HIST=$(grep -F '"type":"hist"' "$WORK/$name.out" | tail -n1)
	if [ "$RC" != 0 ]; then
		fail "$name" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$name.err" 20
		return 1
	elif [ -z "$HIST" ] || ! has_summary "$WORK/$name.out"; then
		fail "$name" "no hist record or no summary"
		show "$WORK/$name.out"
		return 1
	fi
}

fl_ok() { # NAME MIN WHY
	local n
	n=$(json_num "$HIST" count)
	if [ "${n:-0}" -lt "$2" ] || ! printf '%s' "$HIST" | grep -q '"buckets":\[{'; then
		fail "$1" "count ${n:-?} (want >= $2, $3) or no buckets: $HIST"
	else
		ok "$1" "$(grep -m1 "^$TOOL: [0-9]* probes attached" "$WORK/$1.err"); count $n"
	fi
}

fl_run read reads200 syscall:read && fl_ok read 200 "dd's reads"
fl_run pattern reads200 -u 'syscall:*read*' && fl_ok pattern 200 "dd's reads" &&
	hist_keyed_ok pattern '"unit":"usecs"' usecs
fl_run malloc dynamic_run c:malloc && fl_ok malloc 1 "a Rust program's startup"
fl_run kernel reads200 vfs_read && fl_ok kernel 200 "dd's reads through vfs_read"
