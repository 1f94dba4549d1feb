/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOLATENCY_H
#define __BIOLATENCY_H

/*
 * The key of the `hists` map is a __u64: the disk's dev_t (the kernel's,
 * MAJOR << 20 | MINOR: BIOLATENCY_MINORBITS) in the high 32 bits (0 without
 * -D), the request's operation and flags in the low 32 (0 without -F), as
 * biolatency's own codes below: the kernel's REQ_* numbers change between
 * versions (libbpf-tools prints them from a fixed table, wrong on newer
 * kernels), so the BPF side translates them with CO-RE enum relocations.
 * A u64 sorts by disk, then flags.
 */
#define BIOLATENCY_MINORBITS 20

/* Low 8 bits of the flags half: the operation. */
enum biolatency_op {
	BIOLAT_OP_READ = 0,
	BIOLAT_OP_WRITE = 1,
	BIOLAT_OP_FLUSH = 2,
	BIOLAT_OP_DISCARD = 3,
	BIOLAT_OP_SECURE_ERASE = 4,
	BIOLAT_OP_WRITE_ZEROES = 5,
	BIOLAT_OP_ZONE_APPEND = 6,
	BIOLAT_OP_ZONE_OPEN = 7,
	BIOLAT_OP_ZONE_CLOSE = 8,
	BIOLAT_OP_ZONE_FINISH = 9,
	BIOLAT_OP_ZONE_RESET = 10,
	BIOLAT_OP_ZONE_RESET_ALL = 11,
	BIOLAT_OP_DRV_IN = 12,
	BIOLAT_OP_DRV_OUT = 13,
	BIOLAT_OP_UNKNOWN = 255,
};

/* Bits 8.. of the flags half: request flags (the kernel's __REQ_*). */
enum biolatency_flag {
	BIOLAT_F_NOWAIT = 1 << 8,
	BIOLAT_F_BACKGROUND = 1 << 9,
	BIOLAT_F_RAHEAD = 1 << 10,
	BIOLAT_F_PREFLUSH = 1 << 11,
	BIOLAT_F_FUA = 1 << 12,
	BIOLAT_F_INTEGRITY = 1 << 13,
	BIOLAT_F_IDLE = 1 << 14,
	BIOLAT_F_NOMERGE = 1 << 15,
	BIOLAT_F_PRIO = 1 << 16,
	BIOLAT_F_META = 1 << 17,
	BIOLAT_F_SYNC = 1 << 18,
};

#endif /* __BIOLATENCY_H */
