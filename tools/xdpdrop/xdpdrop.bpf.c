// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * xdpdrop: drop (or count) packets at XDP by rules. Each packet bumps one
 * per-CPU counter: its rule's, or no-match / malformed / aborted (xd_stats),
 * or without rules its protocol's. See xdpdrop.h for the matching scheme.
 *
 * Parsing: Ethernet, up to XD_MAX_VLAN VLAN tags (802.1Q / 802.1ad), IPv4
 * with options, IPv6 with up to XD_MAX_EXT_HDRS extension headers, then the
 * TCP / UDP ports of the first fragment. The parser fails closed: what it
 * could not reach is marked unknown (enum xdpdrop_unknown) and the known
 * fields are still matched. A rule that matches the known fields and tests
 * nothing unknown decides the packet; if only rules that test an unknown
 * field could match, the packet is undecided ("malformed"), counted, and
 * passed or dropped by xd_cfg.malformed_drop. A first fragment whose headers
 * stop before the ports (or the protocol) could complete them in a later
 * fragment: drop rules match it whatever those fields. With no rules every
 * frame is dropped, and an incomplete one counted in the malformed slot.
 */
#include "common/common.bpf.h"
#include <bpf/bpf_endian.h>
#include "xdpdrop.h"

CORESCOPE_EXPORT(xdpdrop_bits);
CORESCOPE_EXPORT(xdpdrop_count);
CORESCOPE_EXPORT(xdpdrop_lpm4);
CORESCOPE_EXPORT(xdpdrop_lpm6);
CORESCOPE_EXPORT(xdpdrop_mac);
CORESCOPE_EXPORT_ENUM(xdpdrop_limits);
CORESCOPE_EXPORT_ENUM(xdpdrop_stat);
CORESCOPE_EXPORT_ENUM(xdpdrop_dim);
CORESCOPE_EXPORT_ENUM(xdpdrop_wild);

const volatile struct xdpdrop_cfg xd_cfg = {};

#define XD_ETH_P_IP 0x0800
#define XD_ETH_P_IPV6 0x86DD
#define XD_ETH_P_8021Q 0x8100
#define XD_ETH_P_8021AD 0x88A8
#define XD_IPPROTO_TCP 6
#define XD_IPPROTO_UDP 17

/* Packet headers, declared here (not from vmlinux.h) so that no CO-RE
 * relocation is attached to packet accesses. */
struct xd_eth {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct xd_vlan {
	__be16 tci;
	__be16 proto;
};

struct xd_ip4 {
	__u8 vihl; /* version << 4 | header length in 32-bit words */
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 proto;
	__be16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct xd_ip6 {
	__u8 vtc; /* version << 4 | ... */
	__u8 flow[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct xd_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off; /* fragment header only */
	__u32 rest;
};

struct xd_ports {
	__be16 sport;
	__be16 dport;
};

/* One packet, as far as the rules need it. parse() copies out everything
 * match() reads, so that no packet pointer is live after parsing: the
 * verifier can then merge the many parsing paths (VLAN tags, IPv4 / IPv6,
 * extension headers) before matching instead of multiplying them. */
struct pkt {
	struct xdpdrop_lpm4 src4, dst4; /* LPM keys (/32), when IPv4 */
	struct xdpdrop_lpm6 src6, dst6; /* LPM keys (/128), when IPv6 */
	struct xdpdrop_mac mac;         /* source MAC, when a rule needs it */
	__u32 slot;                     /* IP protocol 0..255, or XD_PROTO_NONIP */
	__u32 sport;                    /* host order, when has_ports */
	__u32 dport;
	__u8 family;                    /* 0 (not IP, or XD_U_L3), 4, 6 */
	__u8 has_ports;
	__u8 unknown;                   /* enum xdpdrop_unknown */
	__u8 frag_cut;                  /* unknown: cut at a first fragment's end */
};

#define BITS_MAP(name, n)                                                     \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_ARRAY);                             \
		__uint(max_entries, n);                                       \
		__type(key, __u32);                                           \
		__type(value, struct xdpdrop_bits);                           \
	} name SEC(".maps")

#define LPM_MAP(name, keytype)                                                \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                          \
		__uint(max_entries, XD_MAX_RULES + 1);                        \
		__uint(map_flags, BPF_F_NO_PREALLOC);                         \
		__type(key, keytype);                                         \
		__type(value, struct xdpdrop_bits);                           \
	} name SEC(".maps")

#define PORT_CLASS_MAP(name)                                                  \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_ARRAY);                             \
		__uint(max_entries, 65536);                                   \
		__type(key, __u32);                                           \
		__type(value, __u32);                                         \
	} name SEC(".maps")

#define COUNT_MAP(name, n)                                                    \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                      \
		__uint(max_entries, n);                                       \
		__type(key, __u32);                                           \
		__type(value, struct xdpdrop_count);                          \
	} name SEC(".maps")

BITS_MAP(xd_proto, 256);            /* IP protocol -> rules */
BITS_MAP(xd_wild, XD_W_MAX);        /* enum xdpdrop_wild -> rules */
LPM_MAP(xd_src4, struct xdpdrop_lpm4);
LPM_MAP(xd_dst4, struct xdpdrop_lpm4);
LPM_MAP(xd_src6, struct xdpdrop_lpm6);
LPM_MAP(xd_dst6, struct xdpdrop_lpm6);
PORT_CLASS_MAP(xd_sport_class);     /* port -> class (0: no port rule) */
PORT_CLASS_MAP(xd_dport_class);
BITS_MAP(xd_sport_bits, XD_PORT_CLASSES); /* class -> rules */
BITS_MAP(xd_dport_bits, XD_PORT_CLASSES);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XD_MAX_RULES);
	__type(key, struct xdpdrop_mac);
	__type(value, struct xdpdrop_bits);
} xd_mac SEC(".maps");

COUNT_MAP(xd_rules, XD_MAX_RULES);  /* per rule: packets credited to it */
COUNT_MAP(xd_stats, XD_ST_MAX);     /* enum xdpdrop_stat */
COUNT_MAP(xd_protos, XD_PROTO_SLOTS); /* no rules: dropped per protocol */

static __always_inline void count(void *map, __u32 key, __u64 bytes)
{
	struct xdpdrop_count *c = bpf_map_lookup_elem(map, &key);

	/* Per-CPU slot, and XDP does not nest on a CPU: no atomics needed. */
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int is_ext_hdr(__u8 h)
{
	/* hop-by-hop, routing, fragment, AH, destination options, mobility,
	 * HIP, shim6 */
	return h == 0 || h == 43 || h == 44 || h == 51 || h == 60 || h == 135 ||
	       h == 139 || h == 140;
}

/* Parsing has two paths. The fast one reads an untagged IPv4 packet, or an
 * untagged IPv6 packet without extension headers, in place. Everything
 * else (VLAN tags, IPv6 extension headers) goes through the slow one, which
 * copies each header out with bpf_xdp_load_bytes() at a scalar offset.
 * Reading in place at an offset makes the verifier track that offset
 * precisely, so every combination of tag count and extension header sizes
 * would be a separate path (exponential in the number of headers); an
 * offset only passed to a helper is not tracked, and the loops converge. */

/* IPv4 header → p; *hl: its length with options, *first: first fragment,
 * *frag: a fragment (more fragments follow, or not the first). */
static __always_inline int ip4_hdr(const struct xd_ip4 *ip, struct pkt *p, __u32 dims,
				   __u32 *hl, __u8 *proto, int *first, int *frag)
{
	*hl = (ip->vihl & 0xf) * 4;
	if ((ip->vihl >> 4) != 4 || *hl < sizeof(*ip))
		return -1;
	p->family = 4;
	if (dims & XD_D_SRC4) {
		p->src4.prefixlen = 32;
		__builtin_memcpy(p->src4.addr, ip->saddr, 4);
	}
	if (dims & XD_D_DST4) {
		p->dst4.prefixlen = 32;
		__builtin_memcpy(p->dst4.addr, ip->daddr, 4);
	}
	*proto = ip->proto;
	*first = (bpf_ntohs(ip->frag_off) & 0x1fff) == 0;
	*frag = (bpf_ntohs(ip->frag_off) & 0x3fff) != 0;
	return 0;
}

static __always_inline int ip6_hdr(const struct xd_ip6 *ip6, struct pkt *p, __u32 dims,
				   __u8 *proto)
{
	if ((ip6->vtc >> 4) != 6)
		return -1;
	p->family = 6;
	if (dims & XD_D_SRC6) {
		p->src6.prefixlen = 128;
		__builtin_memcpy(p->src6.addr, ip6->saddr, 16);
	}
	if (dims & XD_D_DST6) {
		p->dst6.prefixlen = 128;
		__builtin_memcpy(p->dst6.addr, ip6->daddr, 16);
	}
	*proto = ip6->nexthdr;
	return 0;
}

static __always_inline int has_ports(__u8 proto, int first)
{
	return first && (proto == XD_IPPROTO_TCP || proto == XD_IPPROTO_UDP);
}

/* The parser stopped before the fields in `what`; `cut`: at the end of a
 * first fragment (the rest is in a later one). */
static __always_inline int unknown(struct pkt *p, __u8 what, int cut)
{
	p->unknown = what;
	p->frag_cut = cut;
	return 0;
}

/* The slow path, from the EtherType `type` at offset 12. */
static __always_inline int parse_slow(struct xdp_md *ctx, __be16 type, struct pkt *p,
				      __u32 dims)
{
	__u32 off = sizeof(struct xd_eth), hl;
	__u8 proto;
	int first = 1, frag = 0;
	union {
		struct xd_vlan vlan;
		struct xd_ip4 ip4;
		struct xd_ip6 ip6;
		struct xd_ext ext;
		struct xd_ports ports;
	} h;

	for (int i = 0; i < XD_MAX_VLAN; i++) {
		if (type != bpf_htons(XD_ETH_P_8021Q) && type != bpf_htons(XD_ETH_P_8021AD))
			break;
		if (bpf_xdp_load_bytes(ctx, off, &h.vlan, sizeof(h.vlan)))
			return unknown(p, XD_U_L3, 0);
		type = h.vlan.proto;
		off += sizeof(h.vlan);
	}
	if (type == bpf_htons(XD_ETH_P_IP)) {
		if (bpf_xdp_load_bytes(ctx, off, &h.ip4, sizeof(h.ip4)) ||
		    ip4_hdr(&h.ip4, p, dims, &hl, &proto, &first, &frag))
			return unknown(p, XD_U_L3, 0);
		off += hl;
	} else if (type == bpf_htons(XD_ETH_P_IPV6)) {
		if (bpf_xdp_load_bytes(ctx, off, &h.ip6, sizeof(h.ip6)) ||
		    ip6_hdr(&h.ip6, p, dims, &proto))
			return unknown(p, XD_U_L3, 0);
		off += sizeof(h.ip6);
		/* After a non-first fragment's header comes payload, not headers. */
		for (int i = 0; i < XD_MAX_EXT_HDRS && first && is_ext_hdr(proto); i++) {
			__u8 cur = proto;

			if (bpf_xdp_load_bytes(ctx, off, &h.ext, sizeof(h.ext)))
				return unknown(p, XD_U_PROTO | XD_U_PORTS, frag);
			proto = h.ext.nexthdr;
			if (cur == 44) { /* fragment: 8 bytes, offset in the top 13 bits */
				first = !(bpf_ntohs(h.ext.frag_off) & 0xfff8);
				frag = 1;
				off += 8;
			} else if (cur == 51) { /* AH: in 4-byte units, minus 2 */
				off += ((__u32)h.ext.hdrlen + 2) * 4;
			} else {
				off += ((__u32)h.ext.hdrlen + 1) * 8;
			}
		}
		/* More extension headers than we skip; a non-first fragment has
		 * no ports to reach. */
		if (is_ext_hdr(proto))
			return unknown(p, XD_U_PROTO | (first ? XD_U_PORTS : 0), 0);
	} else if (type == bpf_htons(XD_ETH_P_8021Q) || type == bpf_htons(XD_ETH_P_8021AD)) {
		return unknown(p, XD_U_L3, 0); /* more tags than we skip */
	} else {
		return 0; /* not IP */
	}
	p->slot = proto;
	if (has_ports(proto, first)) {
		/* The ports are all the rules read of L4: a header cut after
		 * them (a tiny first fragment) is still matched on them. */
		if (bpf_xdp_load_bytes(ctx, off, &h.ports, sizeof(h.ports)))
			return unknown(p, XD_U_PORTS, frag);
		p->sport = bpf_ntohs(h.ports.sport);
		p->dport = bpf_ntohs(h.ports.dport);
		p->has_ports = 1;
	}
	return 0;
}

/* Fills p (p->unknown: what it could not reach); returns 0, or -1 for a
 * frame shorter than an Ethernet header (nothing known). */
static __always_inline int parse(struct xdp_md *ctx, struct pkt *p, __u32 dims)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xd_eth *eth = data;
	void *l4;
	__u32 hl;
	__u8 proto;
	int first = 1, frag = 0;

	p->family = 0;
	p->has_ports = 0;
	p->unknown = 0;
	p->frag_cut = 0;
	p->slot = XD_PROTO_NONIP;
	if ((void *)(eth + 1) > end)
		return -1;
	if (dims & XD_D_MAC) {
		__builtin_memcpy(p->mac.addr, eth->src, 6);
		p->mac.addr[6] = p->mac.addr[7] = 0;
	}
	if (eth->proto == bpf_htons(XD_ETH_P_IP)) {
		struct xd_ip4 *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end ||
		    ip4_hdr(ip, p, dims, &hl, &proto, &first, &frag))
			return unknown(p, XD_U_L3, 0);
		l4 = (void *)ip + hl;
	} else if (eth->proto == bpf_htons(XD_ETH_P_IPV6)) {
		struct xd_ip6 *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return unknown(p, XD_U_L3, 0);
		if (is_ext_hdr(ip6->nexthdr))
			return parse_slow(ctx, eth->proto, p, dims);
		if (ip6_hdr(ip6, p, dims, &proto))
			return unknown(p, XD_U_L3, 0);
		l4 = ip6 + 1;
	} else if (eth->proto == bpf_htons(XD_ETH_P_8021Q) ||
		   eth->proto == bpf_htons(XD_ETH_P_8021AD)) {
		return parse_slow(ctx, eth->proto, p, dims);
	} else {
		return 0; /* not IP */
	}
	p->slot = proto;
	if (has_ports(proto, first)) {
		struct xd_ports *ports = l4;

		/* only the ports are read (see parse_slow) */
		if ((void *)(ports + 1) > end)
			return unknown(p, XD_U_PORTS, frag);
		p->sport = bpf_ntohs(ports->sport);
		p->dport = bpf_ntohs(ports->dport);
		p->has_ports = 1;
	}
	return 0;
}

/* Index of the lowest set bit of a non-zero x. BPF has no ctz (and clang
 * cannot lower __builtin_ctzll for it): isolate the bit, multiply by a de
 * Bruijn sequence, look the top 6 bits up. */
static const __u8 xd_debruijn[64] = {
	0,  1,  2,  53, 3,  7,  54, 27, 4,  38, 41, 8,  34, 55, 48, 28,
	62, 5,  39, 46, 44, 42, 22, 9,  24, 35, 59, 56, 49, 18, 29, 11,
	63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21, 23, 58, 17, 10,
	51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12,
};

static __always_inline __u32 ctz64(__u64 x)
{
	return xd_debruijn[((x & -x) * 0x022fdd63cc95386dULL) >> 58];
}

static __always_inline struct xdpdrop_bits *wild(__u32 which)
{
	return bpf_map_lookup_elem(&xd_wild, &which);
}

/* Rules satisfied by the packet's source (src != 0) or destination address. */
static __always_inline struct xdpdrop_bits *addr_bits(struct pkt *p, __u32 dims, int src)
{
	if (p->family == 4 && (dims & (src ? XD_D_SRC4 : XD_D_DST4)))
		return src ? bpf_map_lookup_elem(&xd_src4, &p->src4)
			   : bpf_map_lookup_elem(&xd_dst4, &p->dst4);
	if (p->family == 6 && (dims & (src ? XD_D_SRC6 : XD_D_DST6)))
		return src ? bpf_map_lookup_elem(&xd_src6, &p->src6)
			   : bpf_map_lookup_elem(&xd_dst6, &p->dst6);
	return wild(src ? XD_W_SRC : XD_W_DST);
}

static __always_inline struct xdpdrop_bits *port_bits(void *classes, void *bits,
						      int has_ports, __u32 port)
{
	__u32 cls = 0;

	if (has_ports) {
		__u32 *c = bpf_map_lookup_elem(classes, &port);

		if (!c)
			return NULL;
		cls = *c;
	}
	return bpf_map_lookup_elem(bits, &cls);
}

/* Rules satisfied by the packet's protocol (every protocol if unknown). */
static __always_inline struct xdpdrop_bits *proto_bits(struct pkt *p)
{
	if (p->unknown & XD_U_PROTO)
		return wild(XD_W_PROTO);
	return bpf_map_lookup_elem(&xd_proto, &p->slot);
}

static __always_inline struct xdpdrop_bits *mac_bits(struct pkt *p)
{
	struct xdpdrop_bits *b = bpf_map_lookup_elem(&xd_mac, &p->mac);

	return b ? b : wild(XD_W_MAC);
}

/* FOLD(bitmap, u) for each bitmap the packet selects, in the dimensions
 * some rule uses (the others are dead code for the verifier); u: the
 * xdpdrop_unknown bit of that dimension. For an unknown field the bitmap
 * selected is its wildcard one (rules without a condition there). FOLD
 * folds the bitmap into an accumulator right away, so that no map value
 * pointer stays live across the next lookup: the verifier then walks one
 * path per dimension instead of the product of their sources. */
#define FOR_EACH_BITMAP(p, dims, FOLD)                                                  \
	do {                                                                            \
		if ((p)->family == 0) {                                                 \
			FOLD(wild(XD_W_NONIP), XD_U_L3);                                \
		} else {                                                                \
			if ((dims) & XD_D_PROTO)                                        \
				FOLD(proto_bits(p), XD_U_PROTO);                        \
			if ((dims) & XD_D_SRC)                                          \
				FOLD(addr_bits(p, dims, 1), 0);                         \
			if ((dims) & XD_D_DST)                                          \
				FOLD(addr_bits(p, dims, 0), 0);                         \
			if ((dims) & XD_D_SPORT)                                        \
				FOLD(port_bits(&xd_sport_class, &xd_sport_bits,         \
					       (p)->has_ports, (p)->sport),             \
				     XD_U_PORTS);                                       \
			if ((dims) & XD_D_DPORT)                                        \
				FOLD(port_bits(&xd_dport_class, &xd_dport_bits,         \
					       (p)->has_ports, (p)->dport),             \
				     XD_U_PORTS);                                       \
		}                                                                       \
		if ((dims) & XD_D_MAC)                                                  \
			FOLD(mac_bits(p), 0);                                           \
	} while (0)

#define XD_UNDECIDED -3

/* The first rule the packet matches, -1 for none, -2 on an internal error.
 * Dimensions whose unknown bit is in `skip` are left out: every rule
 * passes them (to ask which rules may match, or for a cut first fragment
 * under drop rules). Up to 64 rules: one word, kept in a register. */
static __always_inline int match1(struct pkt *p, __u32 dims, __u32 skip)
{
	struct xdpdrop_bits *b;
	__u64 m = ~0ULL;

#define FOLD1(e, u)                          \
	{                                    \
		b = (e);                     \
		if (!b)                      \
			return -2;           \
		if (!(skip & (u)))           \
			m &= b->w[0];        \
	}
	FOR_EACH_BITMAP(p, dims, FOLD1);
#undef FOLD1
	return m ? (int)ctz64(m) : -1;
}

/* The same for 65 to XD_MAX_RULES rules: nw words, on the stack. */
static __always_inline int match_n(struct pkt *p, __u32 dims, __u32 nw, __u32 skip)
{
	struct xdpdrop_bits *b;
	__u64 acc[XD_WORDS];

#pragma unroll
	for (__u32 i = 0; i < XD_WORDS; i++)
		if (i < nw)
			acc[i] = ~0ULL;
#define FOLDN(e, u)                                            \
	{                                                      \
		b = (e);                                       \
		if (!b)                                        \
			return -2;                             \
		if (!(skip & (u))) {                           \
			_Pragma("unroll")                      \
			for (__u32 i = 0; i < XD_WORDS; i++)   \
				if (i < nw)                    \
					acc[i] &= b->w[i];     \
		}                                              \
	}
	FOR_EACH_BITMAP(p, dims, FOLDN);
#undef FOLDN
#pragma unroll
	for (__u32 i = 0; i < XD_WORDS; i++)
		if (i < nw && acc[i])
			return i * 64 + ctz64(acc[i]);
	return -1;
}

static __always_inline int match(struct pkt *p, __u32 dims, __u32 nw, __u32 skip)
{
	return nw == 1 ? match1(p, dims, skip) : match_n(p, dims, nw, skip);
}

SEC("xdp")
int xdpdrop(struct xdp_md *ctx)
{
	/* Read once: each access to a const volatile is a load. */
	__u32 dims = xd_cfg.dims, nw = xd_cfg.nwords;
	__u64 len = ctx->data_end - ctx->data;
	struct pkt p;
	int bad = parse(ctx, &p, dims);
	int rule, drop;
	__u32 any;

	if (xd_cfg.drop_all) {
		count(&xd_protos, bad || p.unknown ? XD_PROTO_MALFORMED : p.slot, len);
		return xd_cfg.dry_run ? XDP_PASS : XDP_DROP;
	}
	if (bad) { /* not even an Ethernet header: nothing to match */
		rule = XD_UNDECIDED;
	} else {
		/* A cut first fragment may complete its headers later with any
		 * value: drop rules match it whatever the missing fields. (An
		 * allow rule does not pass it for them: undecided, below.) */
		any = p.frag_cut && !xd_cfg.allow_only ? p.unknown : 0;
		rule = match(&p, dims, nw, any);
		/* No rule for sure: one that may match (on the known fields)
		 * leaves it undecided. Only for incomplete packets: the fast
		 * path matches once. */
		if (rule == -1 && p.unknown) {
			rule = match(&p, dims, nw, p.unknown);
			if (rule >= 0)
				rule = XD_UNDECIDED;
		}
	}
	if (rule == -2) {
		count(&xd_stats, XD_ST_ABORTED, len);
		return XDP_ABORTED;
	}
	if (rule == XD_UNDECIDED) {
		count(&xd_stats, XD_ST_MALFORMED, len);
		drop = xd_cfg.malformed_drop;
	} else {
		if (rule >= 0)
			count(&xd_rules, rule, len);
		else
			count(&xd_stats, XD_ST_NOMATCH, len);
		drop = xd_cfg.allow_only ? rule < 0 : rule >= 0;
	}
	return drop && !xd_cfg.dry_run ? XDP_DROP : XDP_PASS;
}
