/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SOFTIRQS_H
#define __SOFTIRQS_H

/* Softirq vectors counted: the kernel has 10 (NR_SOFTIRQS, hi .. rcu);
 * room for a few more, a vector past them is counted as lost. */
#define SOFTIRQS_VECS 16

/* Per-CPU, cumulative (never cleared: user space prints differences). */
struct softirqs_total {
	__u64 count;
	__u64 time_ns;
};

#endif /* __SOFTIRQS_H */
