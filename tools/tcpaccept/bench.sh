#!/usr/bin/env bash
# tcpaccept benchmark: the shared event-tool benchmark (bench/events.sh: start ->
# attached, in-kernel ns per event with kernel.bpf_stats_enabled=1, peak RSS,
# tracer CPU, the workload's slowdown) on N loopback connect/accept/close.
# libbpf-tools has no tcpaccept (BCC only): its column reports that.
exec "$(dirname "$0")/../../bench/events.sh" tcpaccept
