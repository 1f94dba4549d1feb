/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * xdpdrop: types shared by the XDP program and user space (through the
 * skeleton). Fixed-width fields and __u8 arrays only.
 *
 * Rule matching is by bitmaps: each rule is one bit (rule i = bit i % 64 of
 * word i / 64). For each dimension of a packet (protocol, source address,
 * destination address, source port, destination port, source MAC) a map
 * gives the bitmap of rules the packet's value satisfies in that dimension,
 * rules without a constraint there included; the AND of those bitmaps is
 * the set of matching rules, and its lowest bit the rule credited.
 * User space computes every bitmap (tools/xdpdrop/rules.rs).
 */
#ifndef __XDPDROP_H
#define __XDPDROP_H

enum xdpdrop_limits {
	XD_MAX_RULES = 1024,
	XD_WORDS = 16,               /* XD_MAX_RULES / 64 */
	XD_PORT_CLASSES = 2050,      /* 2 * XD_MAX_RULES + 2 */
	XD_MAX_EXT_HDRS = 8,         /* IPv6 extension headers skipped */
	XD_MAX_VLAN = 8,             /* VLAN tags (802.1Q / 802.1ad) skipped */
	XD_PROTO_SLOTS = 258,        /* 0..255 IP protocol, then the two below */
	XD_PROTO_NONIP = 256,        /* not IPv4 / IPv6 */
	XD_PROTO_MALFORMED = 257,    /* truncated or malformed */
};

/* Packets counted outside the rules (xd_stats index). Every packet is
 * counted exactly once: on the rule it matched (xd_rules), or here, or with
 * no rules on its protocol (xd_protos). User space derives the per-action
 * totals (DROP / PASS / would drop) from these and the mode. */
enum xdpdrop_stat {
	XD_ST_ABORTED = 0,   /* XDP_ABORTED: an internal error (never expected) */
	XD_ST_NOMATCH = 1,   /* matched no rule */
	XD_ST_MALFORMED = 2, /* undecided: the rules test a field the parser did
			      * not reach; xdpdrop_cfg.malformed_drop decides */
	XD_ST_MAX = 3,
};

/* Fields of a packet the parser did not reach (struct pkt's unknown). A
 * rule matches such a packet for sure if it matches the known fields and
 * has no condition on the unknown ones; it may match it if it matches the
 * known fields. Known fields are never ignored: a packet cannot escape a
 * rule by hiding what the rule does not test. */
enum xdpdrop_unknown {
	XD_U_L3 = 1 << 0,    /* an IP (or VLAN) frame whose IP header is cut,
			      * bad, or behind more than XD_MAX_VLAN tags */
	XD_U_PROTO = 1 << 1, /* IPv6: the upper-layer protocol (extension
			      * headers cut, or more than XD_MAX_EXT_HDRS) */
	XD_U_PORTS = 1 << 2, /* TCP / UDP ports cut */
};

/* Dimensions in use (xdpdrop_cfg.dims); an unused one is never looked up. */
enum xdpdrop_dim {
	XD_D_PROTO = 1 << 0,
	XD_D_SRC = 1 << 1,   /* some rule has a source address */
	XD_D_DST = 1 << 2,
	XD_D_SPORT = 1 << 3,
	XD_D_DPORT = 1 << 4,
	XD_D_MAC = 1 << 5,
	XD_D_SRC4 = 1 << 6,  /* xd_src4 holds prefixes (else xd_wild[XD_W_SRC]) */
	XD_D_SRC6 = 1 << 7,
	XD_D_DST4 = 1 << 8,
	XD_D_DST6 = 1 << 9,
};

/* xd_wild index: rules with no constraint in that dimension. */
enum xdpdrop_wild {
	XD_W_SRC = 0,
	XD_W_DST = 1,
	XD_W_MAC = 2,
	XD_W_NONIP = 3,      /* rules that can match a non-IP frame */
	XD_W_PROTO = 4,      /* rules that accept every IP protocol */
	XD_W_MAX = 5,
};

struct xdpdrop_bits {
	__u64 w[XD_WORDS];
};

struct xdpdrop_count {
	__u64 packets;
	__u64 bytes;
};

struct xdpdrop_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xdpdrop_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct xdpdrop_mac {
	__u8 addr[8]; /* 6 bytes, then 2 zero bytes */
};

struct xdpdrop_cfg {
	__u32 nwords;    /* bitmap words in use: ceil(rules / 64) */
	__u32 dims;      /* enum xdpdrop_dim */
	__u8 drop_all;   /* no rules: every frame matches */
	__u8 allow_only; /* pass matches, drop the rest */
	__u8 dry_run;    /* count, but pass everything */
	__u8 malformed_drop; /* drop undecided packets (XD_ST_MALFORMED) */
};

#endif /* __XDPDROP_H */
