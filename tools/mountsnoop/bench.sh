#!/usr/bin/env bash
# mountsnoop benchmark: the shared event-tool benchmark (bench/events.sh: start ->
# attached, in-kernel ns per event with kernel.bpf_stats_enabled=1, peak RSS,
# tracer CPU, the workload's slowdown) side by side with Debian's libbpf-tools
# mountsnoop (syscall tracepoints, like this one). Workload: N mount/umount
# calls of a tmpfs in a private mount namespace (mountstorm.c).
exec "$(dirname "$0")/../../bench/events.sh" mountsnoop
