#!/usr/bin/env bash
# softirqs benchmark: the shared interrupt-tool benchmark (bench/irq.sh: in-kernel ns
# per handler run with kernel.bpf_stats_enabled=1, workload slowdown, peak RSS,
# tracer CPU) against Debian's libbpf-tools softirqs, default and -d.
exec "$(dirname "$0")/../../bench/irq.sh" softirqs
