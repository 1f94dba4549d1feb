#!/usr/bin/env bash
# profile benchmark: the shared stack-tool benchmark (bench/stacks.sh; what it
# measures is said there) for profile.
exec "$(dirname "$0")/../../bench/stacks.sh" profile
