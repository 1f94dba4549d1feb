#!/usr/bin/env bash
# bindsnoop benchmark: the shared event-tool benchmark (bench/events.sh: start ->
# attached, in-kernel ns per event with kernel.bpf_stats_enabled=1, peak RSS,
# tracer CPU, the workload's slowdown) side by side with Debian's libbpf-tools
# bindsnoop (kprobe-based: it fails on a kernel without kprobes, and the table
# says so). Workload: N binds of a UDP socket to 127.0.0.1 (bindstorm.c).
exec "$(dirname "$0")/../../bench/events.sh" bindsnoop
