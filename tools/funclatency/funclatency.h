/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FUNCLATENCY_H
#define __FUNCLATENCY_H

/* The histogram's unit (.rodata `unit`): what a latency in ns is divided by. */
enum funclatency_unit {
	FUNCLATENCY_NSEC = 0, /* default, -n */
	FUNCLATENCY_USEC = 1, /* -u */
	FUNCLATENCY_MSEC = 2, /* -m */
};

/* Attach cookie of a syscall exit tracepoint whose syscall also returns
 * in a new task (clone, clone3, fork, vfork): that return (0, in the
 * child) has no enter and is no call. */
#define FUNCLATENCY_FORKLIKE 1

#endif /* __FUNCLATENCY_H */
