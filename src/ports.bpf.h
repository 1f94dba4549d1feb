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
	return bits[port >> 3] & (1 << (port & 7));
}

#endif /* CORESCOPE_PORTS_BPF_H */
