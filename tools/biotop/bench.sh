#!/usr/bin/env bash
# biotop benchmark (bench/block.sh: the workload, what it measures, and
# libbpf-tools side by side). Standalone; run as root: tools/biotop/bench.sh
exec "$(dirname "$0")/../../bench/block.sh" biotop
