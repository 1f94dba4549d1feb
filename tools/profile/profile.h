/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __PROFILE_H
#define __PROFILE_H

/* profile's counts key is the shared struct cs_stack_key (src/stacks.bpf.h),
 * per process (tid 0); its knobs are in .rodata (profile.bpf.c). */

#endif /* __PROFILE_H */
