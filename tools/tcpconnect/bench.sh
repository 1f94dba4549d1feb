#!/usr/bin/env bash
# tcpconnect benchmark: the shared event-tool benchmark (bench/events.sh: start ->
# attached, in-kernel ns per event with kernel.bpf_stats_enabled=1, peak RSS,
# tracer CPU, the workload's slowdown) side by side with Debian's libbpf-tools,
# on N loopback connects: tcpconnect against libbpf-tools tcpconnect, then
# tcpconnect --latency against libbpf-tools tcpconnlat.
set -euo pipefail
"$(dirname "$0")/../../bench/events.sh" tcpconnect
echo
LATENCY=1 "$(dirname "$0")/../../bench/events.sh" tcpconnect
