# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# cpudist smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the cpudist binary is in the build.
# Checks (tp_btf sched_switch and task
# storage must load and attach on this kernel):
#   oncpu   system-wide, unkeyed: 20 short sleeps (each a slice) while
#           tracing; a JSON hist record with count >= 20 and buckets; Ctrl-C
#           ends it with a summary
#   offcpu  -O -P -m: hist records keyed by pid, in msecs

# smoke_hist, hist_count_ok, hist_keyed_ok, sleeps20: kernels/guest/lib.sh.
smoke_hist oncpu sleeps20 && hist_count_ok oncpu 20 "one per sleep"
smoke_hist offcpu sleeps20 -O -P -m && hist_keyed_ok offcpu '"unit":"msecs","pid":[0-9]' pid-keyed
