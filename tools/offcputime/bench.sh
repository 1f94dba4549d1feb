#!/usr/bin/env bash
# offcputime benchmark: the shared stack-tool benchmark (bench/stacks.sh; what it
# measures is said there) for offcputime.
exec "$(dirname "$0")/../../bench/stacks.sh" offcputime
