# shellcheck shell=sh disable=SC3043,SC2154  # busybox sh; sourced after guest/lib.sh
# runqlat smoke test (sourced in the guest after lib.sh; see kernels/README.md).
# Runs only when the runqlat binary is in the build.
# Checks (tp_btf sched_wakeup, sched_wakeup_new, sched_switch and task
# storage must load and attach on this kernel):
#   system  system-wide, unkeyed: 20 short sleeps (each a wakeup) while
#           tracing; a JSON hist record with count >= 20 and buckets; Ctrl-C
#           ends it with a summary
#   perpid  -P -m: hist records keyed by pid, in msecs

# smoke_hist, hist_count_ok, hist_keyed_ok, sleeps20: kernels/guest/lib.sh.
smoke_hist system sleeps20 && hist_count_ok system 20 "one per sleep"
smoke_hist perpid sleeps20 -P -m && hist_keyed_ok perpid '"unit":"msecs","pid":[0-9]' pid-keyed
