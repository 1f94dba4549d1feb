// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * profile: CPU samples of stack traces. A software perf event (CPU_CLOCK)
 * on each CPU (opened by user space, -F HZ or --count N) runs this
 * program, which counts the sample under (pid, comm, user stack, kernel
 * stack) in the shared counts map (src/stacks.bpf.h). Based on profile(8)
 * from BCC and libbpf-tools; the differences:
 * - the filters are the common ones (-p follows the process tree, --tid,
 *   --uid, --cgroup, --comm), tested on the sampled task;
 * - a key the counts map cannot take is counted as lost (map_full);
 * - profile itself is never sampled.
 */
#include "common/task.bpf.h"
#include "stacks.bpf.h"
#include "profile.h"

/* -I: count the idle tasks (PID 0, "swapper/N") too. */
const volatile __u8 include_idle = 0;

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct cs_stack_key key = {};

	if (!include_idle && tid == 0)
		return 0;
	if (!cs_trace_task(tgid, tid))
		return 0;
	cs_stack_key_current(ctx, &key, 0);
	if (!cs_trace_comm(key.comm))
		return 0;
	cs_stack_add(&key, 1);
	return 0;
}
