// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * killsnoop runs sigsnoop's BPF program with kill_only set (the kill-family
 * syscalls only; tools/killsnoop/mod.rs loads sigsnoop's skeleton). This
 * object is the same code, compiled under killsnoop's name so that
 * `corescope check` and the kernel matrix see what killsnoop loads.
 */
#include "../sigsnoop/sigsnoop.bpf.c"
#include "killsnoop.h" /* (after vmlinux.h: its types) */
