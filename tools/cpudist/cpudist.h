/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CPUDIST_H
#define __CPUDIST_H

/* What a histogram is per (.rodata `per`): the key of the `hists` map. */
enum cpudist_per {
	CPUDIST_PER_ALL = 0, /* one histogram, key 0 */
	CPUDIST_PER_PID = 1, /* -P: key TGID */
	CPUDIST_PER_TID = 2, /* -L: key TID */
};

#endif /* __CPUDIST_H */
