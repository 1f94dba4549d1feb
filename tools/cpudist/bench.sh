#!/usr/bin/env bash
# cpudist benchmark: the shared scheduler-tool benchmark (bench/sched.sh: pipe
# ping-pong, in-kernel ns per context switch with kernel.bpf_stats_enabled=1,
# slowdown, peak RSS, tracer CPU) against Debian's libbpf-tools cpudist.
exec "$(dirname "$0")/../../bench/sched.sh" cpudist
