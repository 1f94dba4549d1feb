# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# mountsnoop smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Checks:
#   mounts  system-wide, started in the background: a tmpfs with source
#           cs-smoke mounted on $WORK/mnt (ret 0), unmounted (ret 0), and a
#           mount on a missing directory (ret -2, ENOENT); their rows carry
#           the shell's mount namespace (readlink /proc/$$/ns/mnt); Ctrl-C
#           ends it with a summary. The guest is disposable: nothing is
#           left mounted anyway (the tmpfs is unmounted).

mkdir -p "$WORK/mnt"
NS=$(readlink /proc/$$/ns/mnt | sed 's/[^0-9]//g')
start_tool mnt --json -v
if ! wait_attached mnt 60; then
	stop_tool 10
	judge_failure mounts mnt "$FEATURE_RE" "not attached within 60 s"
else
	mount -t tmpfs -o size=1m cs-smoke "$WORK/mnt"
	umount "$WORK/mnt"
	mount -t tmpfs cs-smoke "$WORK/missing" 2>/dev/null
	usleep 300000
	stop_tool 30
	ev=$(grep -F '"type":"event"' "$WORK/mnt.out" | grep -F "\"mnt_ns\":$NS,")
	m=$(printf '%s\n' "$ev" | grep -F '"call":"mount"' | grep -F '"source":"cs-smoke"' | grep -F "\"target\":\"$WORK/mnt\"" | grep -F '"fstype":"tmpfs"' | grep -F '"ret":0,')
	u=$(printf '%s\n' "$ev" | grep -F '"call":"umount"' | grep -F "\"target\":\"$WORK/mnt\"" | grep -F '"ret":0,')
	f=$(printf '%s\n' "$ev" | grep -F '"call":"mount"' | grep -F "\"target\":\"$WORK/missing\"" | grep -F '"ret":-2,' | grep -F '"error":"ENOENT"')
	if [ "$RC" != 0 ]; then
		fail mounts "Ctrl-C: exit $RC, want 0"
		show "$WORK/mnt.err" 20
	elif [ -z "$m" ] || [ -z "$u" ] || [ -z "$f" ]; then
		fail mounts "ns $NS: mount: ${m:-none}; umount: ${u:-none}; ENOENT: ${f:-none}"
		show "$WORK/mnt.out"
	elif ! has_summary "$WORK/mnt.out"; then
		fail mounts "no summary record after Ctrl-C"
	else
		ok mounts "$(grep -m1 "^$TOOL: tracing" "$WORK/mnt.err"); mount, umount and ENOENT rows in ns $NS"
	fi
fi
