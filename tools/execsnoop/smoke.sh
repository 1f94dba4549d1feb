# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# execsnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   cmd       -- CMD: the command's own exec, with its exact argv, and its exit status
#   trace     system-wide with -x: an exec and a failed exec (-ENOENT) made
#             after attach, each with its argv; Ctrl-C ends it with a summary
#   no-btf    /sys/kernel/btf/vmlinux hidden, no --btf: the documented
#             one-line error and hint, exit 1
#   btf-file  /sys/kernel/btf/vmlinux hidden, --btf FILE (bpftool gen
#             min_core_btf from this kernel's BTF, made on the host): traces
#             as in `trace` (libbpf's log shows the CO-RE relocations)
#   btf-cmd   hidden, --btf FILE -- CMD: the process-tree filter (classic
#             tracepoints) works without the kernel's BTF: CMD's child exec is
#             traced and CMD's exit status passed through
#   script    a #! script: its interpreter found (linux_binprm, CO-RE reads
#             on the raw tracepoint) and argument-by-argument copying
#             (bpf_loop) load and work on this kernel

MARK="cs$$x$(date +%s)"

# --- cmd: -- CMD, exact argv (argv[0] included), exit status passed through.
argv='["/bin/sh","-c","exit 7","'"$MARK-cmd"'","two words"]'
run_tool cmd 60 --json -- /bin/sh -c "exit 7" "$MARK-cmd" "two words"
ev=$(event_with "$WORK/cmd.out" "\"argv\":$argv")
if [ "$RC" = 7 ] && [ -n "$ev" ] &&
	grep '"type":"summary"' "$WORK/cmd.out" | grep -q '"cmd_exit_code":7'; then
	ok cmd "-- CMD traced with exact argv, exit status 7 passed through"
elif [ "$RC" = 1 ] || [ "$RC" = timeout ]; then
	judge_failure cmd cmd "$FEATURE_RE" "-- CMD run failed"
else
	fail cmd "exit $RC (want 7 from CMD); event with argv $argv: ${ev:-none}; summary: $(grep '"type":"summary"' "$WORK/cmd.out")"
	show "$WORK/cmd.err"
	show "$WORK/cmd.out"
fi

# --- script: a #! script with a long argument (cut, the next one kept).
printf '#!/bin/sh -e\nexit 0\n' >"$WORK/s.sh" && chmod 755 "$WORK/s.sh"
long=$(printf '%0300d' 0)
run_tool script 60 --json -- "$WORK/s.sh" "$MARK-script" "$long" last
ev=$(event_with "$WORK/script.out" "\"argv\":[\"/bin/sh\",\"-e\",\"$WORK/s.sh\",\"$MARK-script\",\"$(printf '%0127d' 0)\",\"last\"],\"argc\":6,\"interpreter\":[\"/bin/sh\",\"-e\"]")
if [ "$RC" = 0 ] && [ -n "$ev" ]; then
	ok script "#! script: interpreter named, long argument cut, the next kept"
elif [ "$RC" = 1 ] || [ "$RC" = timeout ]; then
	judge_failure script script "$FEATURE_RE" "-- script run failed"
else
	fail script "exit $RC; no event with the interpreter's argv and argc 6"
	show "$WORK/script.err"
	show "$WORK/script.out"
fi

# --- trace: system-wide, -x, started in the background, stopped with Ctrl-C.
trace_check() { # CHECK NAME EXTRA_ARGS...
	local check=$1 name=$2 ok_ev fail_ev
	shift 2
	start_tool "$name" --json -x -v "$@"
	if ! wait_attached "$name" 60; then
		stop_tool 10
		judge_failure "$check" "$name" "$FEATURE_RE" "not attached within 60 s"
		return
	fi
	csprobe true "$MARK-$check" "a b" 'q"uote'
	"/tmp/$MARK-missing" "$MARK-$check-failed" 2>/dev/null
	usleep 300000
	stop_tool 30
	ok_ev=$(event_with "$WORK/$name.out" "\"argv\":[\"csprobe\",\"true\",\"$MARK-$check\",\"a b\",\"q\\\"uote\"]")
	fail_ev=$(event_with "$WORK/$name.out" "\"filename\":\"/tmp/$MARK-missing\"")
	if [ "$RC" != 0 ]; then
		fail "$check" "Ctrl-C: exit $RC, want 0"
		show "$WORK/$name.err" 20
	elif [ -z "$ok_ev" ]; then
		fail "$check" "the exec of csprobe with argv [csprobe,true,$MARK-$check,a b,q\"uote] was not reported"
		show "$WORK/$name.out"
	elif ! printf '%s' "$ok_ev" | grep -q '"ret":0,' ||
		! printf '%s' "$ok_ev" | grep -q '"filename":"/corescope/bin/csprobe"' ||
		! printf '%s' "$ok_ev" | grep -q "\"ppid\":$$,\"pcomm\":\"sh\""; then
		# (ppid and pcomm are CO-RE reads of task_struct: they check the relocations)
		fail "$check" "wrong exec event (want ret 0, filename /corescope/bin/csprobe, ppid $$, pcomm sh): $ok_ev"
	elif [ -z "$fail_ev" ] || ! printf '%s' "$fail_ev" | grep -q '"ret":-2,'; then
		fail "$check" "failed exec (-x, ret -2) not reported: ${fail_ev:-none}"
		show "$WORK/$name.out"
	elif ! has_summary "$WORK/$name.out"; then
		fail "$check" "no summary record after Ctrl-C"
	else
		ok "$check" "$(grep -m1 "^$TOOL: tracing" "$WORK/$name.err"); exec + failed exec seen with argv; $(grep "^$TOOL: [0-9]* events" "$WORK/$name.err")"
	fi
}
trace_check trace trace

# --- Without /sys/kernel/btf/vmlinux: a tmpfs over /sys/kernel/btf hides it.
if [ ! -f /sys/kernel/btf/vmlinux ]; then
	fail no-btf "this kernel has no /sys/kernel/btf/vmlinux to hide"
elif ! KERNEL_BTF_SHA256=$(sha256sum /sys/kernel/btf/vmlinux | cut -d' ' -f1) ||
	! mount -t tmpfs -o size=4k,mode=0755 corescope-nobtf /sys/kernel/btf; then
	fail no-btf "cannot mount a tmpfs over /sys/kernel/btf"
else
	# no-btf: the documented error (src/load.rs, check_btf) and its hint.
	run_tool nobtf 30 -d 1
	err=$(error_line "$WORK/nobtf.err")
	want="$TOOL: error: this kernel has no BTF (/sys/kernel/btf/vmlinux is missing)"
	if [ "$RC" = 1 ] && [ "$err" = "$want" ] && grep -q '^hint: pass --btf FILE' "$WORK/nobtf.err"; then
		ok no-btf "$err / $(grep -m1 '^hint: ' "$WORK/nobtf.err")"
	else
		fail no-btf "exit $RC, want 1 with '$want' + hint"
		show "$WORK/nobtf.err"
	fi

	# btf-file: the same tracing, CO-RE relocated against a minimal BTF file.
	BTF=/corescope/btf/min_core.btf
	if [ ! -s "$BTF" ]; then
		fail btf-file "no $BTF in the initramfs"
	elif [ "$KERNEL_BTF_SHA256" != "$BTF_SHA256" ]; then
		fail btf-file "$BTF was made from a BTF (sha256 $BTF_SHA256) that is not this kernel's ($KERNEL_BTF_SHA256)"
	else
		trace_check btf-file btf --btf "$BTF"
		# The relocations were made (libbpf's -v log) while the only BTF in
		# reach was FILE: no-btf above showed the kernel's own is hidden.
		if ! grep -q "libbpf: prog 'handle_exec': relo #.*matching candidate" "$WORK/btf.err"; then
			fail btf-file "libbpf's log shows no CO-RE relocation of handle_exec against $BTF"
			show "$WORK/btf.err" 30
		fi

		# btf-cmd: -- CMD (fork tracking on classic tracepoints) with --btf.
		run_tool btfcmd 30 --btf "$BTF" --json -- /bin/sh -c "/bin/true $MARK-btfcmd; exit 5"
		ev=$(event_with "$WORK/btfcmd.out" "\"argv\":[\"/bin/true\",\"$MARK-btfcmd\"]")
		if [ "$RC" = 5 ] && [ -n "$ev" ] && has_summary "$WORK/btfcmd.out"; then
			ok btf-cmd "-- CMD traced with --btf, exit status 5 passed through"
		else
			fail btf-cmd "exit $RC (want 5), child exec event: ${ev:-none}"
			show "$WORK/btfcmd.err"
			show "$WORK/btfcmd.out"
		fi
	fi
	umount /sys/kernel/btf
fi
