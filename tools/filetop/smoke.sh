# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# filetop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the filetop binary is in the build.
# Checks (the six syscall exit tracepoints, bpf_task_pt_regs, bpf_loop):
#   write  -- dd writing 1 MiB in 4 KiB blocks to a file: its row shows the
#          file's path, 256 writes and 1048576 bytes; a summary
#   all    -a -- the same dd from /dev/zero: /dev/zero's row (type O) reads

run_tool write 60 --json -v -- dd if=/dev/zero of="$WORK/f.dat" bs=4096 count=256
row=$(grep -F '"type":"top"' "$WORK/write.out" | grep -F "\"file\":\"$WORK/f.dat\"" | head -n1)
if [ "$RC" != 0 ]; then
	judge_failure write write "$FEATURE_RE" "did not run"
elif [ "$(json_num "$row" writes)" != 256 ] || [ "$(json_num "$row" wbytes)" != 1048576 ]; then
	fail write "no row for $WORK/f.dat with 256 writes and 1048576 bytes: ${row:-none}"
	show "$WORK/write.out"
elif ! has_summary "$WORK/write.out"; then
	fail write "no summary"
else
	ok write "$(grep -m1 "^$TOOL: tracing" "$WORK/write.err"); 256 writes, 1024 KB"
fi

run_tool all 60 --json -v -a -- dd if=/dev/zero of="$WORK/g.dat" bs=4096 count=16
row=$(grep -F '"type":"top"' "$WORK/all.out" | grep -F '"file":"/dev/zero"' | head -n1)
if [ "$RC" != 0 ]; then
	judge_failure all all "$FEATURE_RE" "did not run"
elif [ "$(json_num "$row" reads)" != 16 ] || ! printf '%s' "$row" | grep -qF '"file_type":"O"'; then
	fail all "no /dev/zero row with 16 reads of type O: ${row:-none}"
	show "$WORK/all.out"
else
	ok all "16 reads of /dev/zero (type O)"
fi
