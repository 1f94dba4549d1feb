/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Port filters as a 65536-bit bitmap in .rodata, filled by user space
 * with corescope::ports::filter_bitmap (bit `p & 7` of byte `p >> 3`).
 *
 *   const volatile __u8 port_on = 0;
 *   const volatile __u8 port_bits[CS_PORT_BITMAP] = {};
 *   if (port_on && !cs_port_in(port_bits, port)) return 0;
 */
#ifndef CORESCOPE_PORTS_BPF_H
#define CORESCOPE_PORTS_BPF_H

#define CS_PORT_BITMAP 8192 /* bytes: one bit per port */

static __always_inline bool cs_port_in(const volatile __u8 *bits, __u16 port)
{
	__u64 i = port;

	/* Bounded where the verifier sees it: older verifiers (6.1, 6.12)
	 * lose the bounds of a byte-swapped port and refuse the index as
	 * unbounded, and clang drops a mask of a __u16 unless a barrier hides
	 * the value's width from it. */
	asm volatile("" : "+r"(i));
	i &= 0xffff;
	return bits[i >> 3] & (1 << (i & 7));
}

#endif /* CORESCOPE_PORTS_BPF_H */
