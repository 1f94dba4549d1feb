/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __RUNQLAT_H
#define __RUNQLAT_H

/* What a histogram is per (.rodata `per`): the key of the `hists` map. */
enum runqlat_per {
	RUNQLAT_PER_ALL = 0,   /* one histogram, key 0 */
	RUNQLAT_PER_PID = 1,   /* -P: key TGID */
	RUNQLAT_PER_TID = 2,   /* -L: key TID */
	RUNQLAT_PER_PIDNS = 3, /* --pidnss: key the PID namespace's inode */
};

#endif /* __RUNQLAT_H */
