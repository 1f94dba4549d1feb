/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OFFCPUTIME_H
#define __OFFCPUTIME_H

/* offcputime's counts key is the shared struct cs_stack_key
 * (src/stacks.bpf.h), per thread; the value is microseconds off CPU. */

/* What a thread's task storage holds while it is off CPU. */
struct offcputime_start {
	__u64 ts; /* when it was switched out (ns); 0: not off CPU, traced */
	struct cs_stack_key key;
};

#endif /* __OFFCPUTIME_H */
