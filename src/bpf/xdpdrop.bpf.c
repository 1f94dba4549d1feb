// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * xdpdrop: drop (or count) packets at XDP by rules, with per-rule and
 * per-action per-CPU counters. See xdpdrop.h for the matching scheme.
 *
 * Parsing: Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 with
 * options, IPv6 with up to XD_MAX_EXT_HDRS extension headers, then the
 * TCP / UDP ports of the first fragment. Anything cut short or inconsistent
 * is "malformed": passed and counted (with rules), or dropped and counted
 * in the malformed slot (with no rules: every frame is dropped).
 */
#include "common/common.bpf.h"
#include <bpf/bpf_endian.h>
#include "xdpdrop.h"

CORESCOPE_EXPORT(xdpdrop_event);
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

/* One packet, as far as the rules need it. */
struct pkt {
	void *end;     /* data_end, to re-check reads the verifier cannot tie to family */
	__u8 *smac;
	__u8 *saddr;
	__u8 *daddr;
	__u32 slot;    /* IP protocol 0..255, XD_PROTO_NONIP */
	__u32 sport;   /* host order, when has_ports */
	__u32 dport;
	__u8 family;   /* 0 (not IP), 4, 6 */
	__u8 has_ports;
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

/* Fills p; returns 0, or -1 for a truncated or malformed packet. */
static __always_inline int parse(void *data, void *end, struct pkt *p)
{
	struct xd_eth *eth = data;
	void *cur = eth + 1;
	void *l4;
	__be16 type;
	__u8 proto;
	int first_frag = 1;

	p->end = end;
	if (cur > end)
		return -1;
	p->smac = eth->src;
	type = eth->proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct xd_vlan *vh = cur;

		if (type != bpf_htons(XD_ETH_P_8021Q) && type != bpf_htons(XD_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end)
			return -1;
		type = vh->proto;
		cur = vh + 1;
	}

	if (type == bpf_htons(XD_ETH_P_IP)) {
		struct xd_ip4 *ip = cur;
		__u32 hl;

		if ((void *)(ip + 1) > end)
			return -1;
		hl = (ip->vihl & 0xf) * 4;
		if ((ip->vihl >> 4) != 4 || hl < sizeof(*ip))
			return -1;
		l4 = cur + hl; /* past the options */
		if (l4 > end)
			return -1;
		p->family = 4;
		p->saddr = ip->saddr;
		p->daddr = ip->daddr;
		proto = ip->proto;
		first_frag = (bpf_ntohs(ip->frag_off) & 0x1fff) == 0;
	} else if (type == bpf_htons(XD_ETH_P_IPV6)) {
		struct xd_ip6 *ip6 = cur;

		if ((void *)(ip6 + 1) > end)
			return -1;
		if ((ip6->vtc >> 4) != 6)
			return -1;
		p->family = 6;
		p->saddr = ip6->saddr;
		p->daddr = ip6->daddr;
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
		for (int i = 0; i < XD_MAX_EXT_HDRS; i++) {
			struct xd_ext *h = l4;

			if (!is_ext_hdr(proto))
				break;
			if ((void *)(h + 1) > end)
				return -1;
			if (proto == 44) {
				/* fragment header: offset in the top 13 bits */
				if (bpf_ntohs(h->frag_off) & 0xfff8)
					first_frag = 0;
				l4 += 8;
			} else if (proto == 51) {
				l4 += ((__u32)h->hdrlen + 2) * 4;
			} else {
				l4 += ((__u32)h->hdrlen + 1) * 8;
			}
			proto = h->nexthdr;
		}
		if (is_ext_hdr(proto))
			return -1; /* more extension headers than we skip */
		if (l4 > end)
			return -1;
	} else {
		p->family = 0;
		p->slot = XD_PROTO_NONIP;
		return 0;
	}
	p->slot = proto;

	if (first_frag && (proto == XD_IPPROTO_TCP || proto == XD_IPPROTO_UDP)) {
		struct xd_ports *ports = l4;
		/* the whole minimal header must be there: 20 bytes TCP, 8 UDP */
		__u32 need = proto == XD_IPPROTO_TCP ? 20 : 8;

		if (l4 + need > end)
			return -1;
		if ((void *)(ports + 1) > end)
			return -1;
		p->sport = bpf_ntohs(ports->sport);
		p->dport = bpf_ntohs(ports->dport);
		p->has_ports = 1;
	}
	return 0;
}

/* Index of the lowest set bit of a non-zero x (BPF has no ctz). */
static __always_inline __u32 ctz64(__u64 x)
{
	__u32 n = 0;

	if (!(x & 0xffffffffULL)) { n += 32; x >>= 32; }
	if (!(x & 0xffffULL)) { n += 16; x >>= 16; }
	if (!(x & 0xffULL)) { n += 8; x >>= 8; }
	if (!(x & 0xfULL)) { n += 4; x >>= 4; }
	if (!(x & 0x3ULL)) { n += 2; x >>= 2; }
	if (!(x & 0x1ULL)) { n += 1; }
	return n;
}

static __always_inline struct xdpdrop_bits *wild(__u32 which)
{
	return bpf_map_lookup_elem(&xd_wild, &which);
}

/* Rules satisfied by the packet's source (src != 0) or destination address. */
static __always_inline struct xdpdrop_bits *addr_bits(struct pkt *p, int src)
{
	__u32 dims = xd_cfg.dims;
	__u8 *a = src ? p->saddr : p->daddr;

	if (p->family == 4 && (dims & (src ? XD_D_SRC4 : XD_D_DST4))) {
		struct xdpdrop_lpm4 k = { .prefixlen = 32 };

		if ((void *)(a + 4) > p->end)
			return NULL;
		__builtin_memcpy(k.addr, a, 4);
		return bpf_map_lookup_elem(src ? (void *)&xd_src4 : (void *)&xd_dst4, &k);
	}
	if (p->family == 6 && (dims & (src ? XD_D_SRC6 : XD_D_DST6))) {
		struct xdpdrop_lpm6 k = { .prefixlen = 128 };

		if ((void *)(a + 16) > p->end)
			return NULL;
		__builtin_memcpy(k.addr, a, 16);
		return bpf_map_lookup_elem(src ? (void *)&xd_src6 : (void *)&xd_dst6, &k);
	}
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

/* The first rule the packet matches, -1 for none, -2 on an internal error. */
static __always_inline int match(struct pkt *p)
{
	__u32 dims = xd_cfg.dims;
	struct xdpdrop_bits *b_ip = NULL, *b_src = NULL, *b_dst = NULL;
	struct xdpdrop_bits *b_sport = NULL, *b_dport = NULL, *b_mac = NULL;

	if (p->family == 0) {
		b_ip = wild(XD_W_NONIP);
		if (!b_ip)
			return -2;
	} else {
		if (dims & XD_D_PROTO) {
			b_ip = bpf_map_lookup_elem(&xd_proto, &p->slot);
			if (!b_ip)
				return -2;
		}
		if (dims & XD_D_SRC) {
			b_src = addr_bits(p, 1);
			if (!b_src)
				return -2;
		}
		if (dims & XD_D_DST) {
			b_dst = addr_bits(p, 0);
			if (!b_dst)
				return -2;
		}
		if (dims & XD_D_SPORT) {
			b_sport = port_bits(&xd_sport_class, &xd_sport_bits, p->has_ports, p->sport);
			if (!b_sport)
				return -2;
		}
		if (dims & XD_D_DPORT) {
			b_dport = port_bits(&xd_dport_class, &xd_dport_bits, p->has_ports, p->dport);
			if (!b_dport)
				return -2;
		}
	}
	if (dims & XD_D_MAC) {
		struct xdpdrop_mac k = {};

		__builtin_memcpy(k.addr, p->smac, 6);
		b_mac = bpf_map_lookup_elem(&xd_mac, &k);
		if (!b_mac)
			b_mac = wild(XD_W_MAC);
		if (!b_mac)
			return -2;
	}

	for (__u32 i = 0; i < XD_WORDS; i++) {
		__u64 m = ~0ULL;

		if (i >= xd_cfg.nwords)
			break;
		if (b_ip)
			m &= b_ip->w[i];
		if (b_src)
			m &= b_src->w[i];
		if (b_dst)
			m &= b_dst->w[i];
		if (b_sport)
			m &= b_sport->w[i];
		if (b_dport)
			m &= b_dport->w[i];
		if (b_mac)
			m &= b_mac->w[i];
		if (m)
			return i * 64 + ctz64(m);
	}
	return -1;
}

static __always_inline int verdict(int drop, __u64 len)
{
	if (drop && xd_cfg.dry_run) {
		count(&xd_stats, XD_ST_WOULD_DROP, len);
		drop = 0;
	}
	count(&xd_stats, drop ? XD_ST_DROP : XD_ST_PASS, len);
	return drop ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdpdrop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct pkt p = {};
	int bad = parse(data, end, &p);
	int rule;

	if (xd_cfg.drop_all) {
		count(&xd_protos, bad ? XD_PROTO_MALFORMED : p.slot, len);
		return verdict(1, len);
	}
	if (bad) {
		count(&xd_stats, XD_ST_MALFORMED, len);
		return verdict(0, len);
	}
	rule = match(&p);
	if (rule == -2) {
		count(&xd_stats, XD_ST_ABORTED, len);
		return XDP_ABORTED;
	}
	if (rule >= 0)
		count(&xd_rules, rule, len);
	return verdict(xd_cfg.allow_only ? rule < 0 : rule >= 0, len);
}
