#!/usr/bin/env bash
# biosnoop benchmark (bench/block.sh: the workload, what it measures, and
# libbpf-tools side by side). Standalone; run as root: tools/biosnoop/bench.sh
exec "$(dirname "$0")/../../bench/block.sh" biosnoop
