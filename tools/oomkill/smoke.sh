# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# oomkill smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   oom   system-wide (oom:mark_victim, its optional fields read where this
#         kernel has them), started in the background: `tail /dev/zero`
#         (its line never ends: memory grows) in a cgroup v2 memory cgroup
#         limited to 16 MiB, mounted by this test in $WORK, is OOM-killed;
#         its row has its PID, and its comm where the kernel gives one
#         (an older tracepoint has only the PID: then /proc, read when the
#         event arrives, or "unknown" if it has gone); Ctrl-C ends it with
#         a summary

CG="$WORK/cg"
mkdir -p "$CG"
if ! mount -t cgroup2 none "$CG" 2>"$WORK/cg.err" ||
	! echo +memory >"$CG/cgroup.subtree_control" 2>>"$WORK/cg.err" ||
	! mkdir "$CG/hog" || ! echo 16M >"$CG/hog/memory.max"; then
	fail oom "no cgroup v2 memory controller in the guest: $(cat "$WORK/cg.err")"
else
	start_tool oom --json -v
	if ! wait_attached oom 60; then
		stop_tool 10
		judge_failure oom oom "$FEATURE_RE" "not attached within 60 s"
	else
		sh -c 'echo $$ >"$1/cgroup.procs"; echo $$ >"$2"; exec tail /dev/zero' sh "$CG/hog" "$WORK/hogpid"
		hrc=$?
		usleep 300000
		stop_tool 30
		hp=$(cat "$WORK/hogpid")
		ev=$(grep -F '"type":"event"' "$WORK/oom.out" | grep -F "\"pid\":$hp,")
		if [ "$RC" != 0 ]; then
			fail oom "Ctrl-C: exit $RC, want 0"
			show "$WORK/oom.err" 20
		elif [ "$hrc" != 137 ]; then
			fail oom "the hog was not OOM-killed: exit $hrc"
		elif [ -z "$ev" ]; then
			fail oom "no row for the OOM kill of PID $hp"
			show "$WORK/oom.out"
		elif ! printf '%s' "$ev" | grep -Eq '"comm":"tail","comm_from":"(tracepoint|proc)"|"comm_from":"unknown"'; then
			fail oom "the victim's comm is wrong: $ev"
		elif ! has_summary "$WORK/oom.out"; then
			fail oom "no summary record after Ctrl-C"
		else
			ok oom "$(grep -m1 "^$TOOL: tracing" "$WORK/oom.err"); PID $hp killed, $(printf '%s' "$ev" | grep -o '"comm_from":"[a-z]*"')"
		fi
	fi
	rmdir "$CG/hog" 2>/dev/null
	umount "$CG"
fi
