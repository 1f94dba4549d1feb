#!/usr/bin/env bash
# runqlat benchmark: the shared scheduler-tool benchmark (bench/sched.sh: pipe
# ping-pong, in-kernel ns per context switch with kernel.bpf_stats_enabled=1,
# slowdown, peak RSS, tracer CPU) against Debian's libbpf-tools runqlat.
exec "$(dirname "$0")/../../bench/sched.sh" runqlat
