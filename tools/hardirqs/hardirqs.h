/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __HARDIRQS_H
#define __HARDIRQS_H

/* Bytes of an IRQ handler's name kept (with its NUL), as libbpf-tools. */
#define HARDIRQS_NAME_LEN 32

/* What is measured (.rodata `mode`). */
enum hardirqs_mode {
	HARDIRQS_TIME = 0,  /* default: count and time per handler (totals) */
	HARDIRQS_COUNT = 1, /* -C: count only, at entry (no exit program) */
	HARDIRQS_DIST = 2,  /* -d: a log2 histogram of the time per handler */
};

/* The key of both maps: the handler's name (irqaction::name). */
struct hardirqs_key {
	__u8 name[HARDIRQS_NAME_LEN];
};

/* Per-CPU, cumulative (never cleared: user space prints differences). */
struct hardirqs_total {
	__u64 count;
	__u64 time_ns;
};

#endif /* __HARDIRQS_H */
