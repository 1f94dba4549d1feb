#!/usr/bin/env bash
# tools/xdpdrop/bench.sh — per-packet decision cost of xdpdrop's XDP program, side
# by side with xdp-filter's (Debian's xdp-tools) and a bare `return XDP_DROP`,
# measured with BPF_PROG_TEST_RUN (`bpftool prog run … repeat N`) on the same
# packets, in one run, rounds interleaved. Standalone; needs root.
#
#   sudo tools/xdpdrop/bench.sh                  # REPEAT=10000000 ROUNDS=7 by default
#   sudo REPEAT=20000000 ROUNDS=9 tools/xdpdrop/bench.sh
#
# Every program is attached to its own veth inside a private network
# namespace (deleted at the end), and xdp-filter's bpffs is mounted in a
# private mount namespace: nothing is left on the host. Results go to stdout
# and to bench/out/xdpdrop.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" = 0 ] || { echo "tools/xdpdrop/bench.sh: needs root" >&2; exit 1; }
# Re-run in a private mount namespace (xdp-filter needs a bpffs to pin its maps).
if [ -z "${CSXD_BENCH_PRIVATE:-}" ]; then
	exec unshare --mount --propagation private env CSXD_BENCH_PRIVATE=1 "$0" "$@"
fi

REPEAT=${REPEAT:-10000000}
ROUNDS=${ROUNDS:-7}
XDPDROP=${XDPDROP:-target/release/xdpdrop}
NS=csxd-bench-$$
WORK=$(mktemp -d /tmp/csxd-bench.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

for tool in bpftool clang ip nsenter; do
	command -v "$tool" >/dev/null || { echo "tools/xdpdrop/bench.sh: $tool is missing (make deps)" >&2; exit 1; }
done
if ! command -v xdp-filter >/dev/null; then
	echo "tools/xdpdrop/bench.sh: installing xdp-tools (for xdp-filter)" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xdp-tools >/dev/null
fi
if [ ! -x "$XDPDROP" ]; then
	cargo build --release --bin xdpdrop
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# One namespace, one veth pair per program under test.
ip netns add "$NS"
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
for i in 0 1 2 3 4 5; do
	ip -n "$NS" link add "v$i" type veth peer name "p$i"
	ip -n "$NS" link set "v$i" up
	ip -n "$NS" link set "p$i" up
done

prog_id() { ip -n "$NS" -d link show dev "$1" | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}'; }

# xdpdrop, attached to $1 with the remaining arguments; waits until attached.
start_xdpdrop() {
	local dev=$1; shift
	# nsenter execs xdpdrop: $! is xdpdrop's PID.
	nsenter --net="/run/netns/$NS" "$XDPDROP" "$dev" -i 3600 "$@" >/dev/null 2>"$WORK/$dev.err" &
	PIDS+=($!)
	for _ in $(seq 100); do
		grep -q 'attached to' "$WORK/$dev.err" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$WORK/$dev.err" >&2; exit 1
}

for i in $(seq 0 999); do echo "src 10.$((100 + i / 256)).$((i % 256)).0/24"; done >"$WORK/cidr.rules"
start_xdpdrop v0 --drop 'udp dst-port 53'
start_xdpdrop v1 --rules "$WORK/cidr.rules"
start_xdpdrop v2 # no rules: drop everything (counted per protocol)

# xdp-filter: its UDP-only variant (-f udp: xdpfilt_alw_udp) and its default
# all-features variant (xdpfilt_alw_all), with the same single port rule.
in_ns xdp-filter load -f udp v3 >/dev/null 2>"$WORK/xf.err"
in_ns xdp-filter load v4 >/dev/null 2>>"$WORK/xf.err"
in_ns xdp-filter port 53 -p udp -m dst >/dev/null 2>>"$WORK/xf.err"

# Bare `return XDP_DROP`.
cat >"$WORK/drop.c" <<'EOF'
__attribute__((section("xdp"), used)) int bare_drop(void *ctx) { return 1; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -c "$WORK/drop.c" -o "$WORK/drop.o"
ip -n "$NS" link set dev v5 xdpgeneric obj "$WORK/drop.o" sec xdp

# Packets (60 bytes): Ethernet / IPv4 / UDP 4242 -> port $3, from $2.
packet() { # $1 file, $2 source "a b c d" (decimal), $3 destination port
	local a b c d f
	read -r a b c d <<<"$2"
	f='\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00'           # Ethernet
	f+='\x45\x00\x00\x2e\x00\x01\x00\x00\x40\x11\x00\x00'                    # IPv4, 46 bytes
	f+=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x0a\\x4d\\x00\\x01' "$a" "$b" "$c" "$d") # src, dst
	f+=$(printf '\\x10\\x92\\x%02x\\x%02x\\x00\\x1a\\x00\\x00' $(($3 >> 8)) $(($3 & 255)))   # UDP
	f+='xdpdrop-bench-data'
	printf "$f" >"$1"
}
packet "$WORK/p53" "10 77 0 2" 53
packet "$WORK/p80" "10 77 0 2" 80
packet "$WORK/plast" "10 103 231 7" 9 # matches the 1000th CIDR rule
packet "$WORK/pnone" "10 104 0 1" 9   # matches none of them

XF_UDP="xdp-filter -f udp (xdpfilt_alw_udp), port 53 rule, match"
XF_ALL="xdp-filter default (xdpfilt_alw_all), port 53 rule, match"
XD_PORT="xdpdrop, rule udp dst-port 53, match"
# label | program id | packet | expected XDP action (1 drop, 2 pass)
CASES=(
	"bare return XDP_DROP|$(prog_id v5)|p53|1"
	"$XF_UDP|$(prog_id v3)|p53|1"
	"$XF_ALL|$(prog_id v4)|p53|1"
	"$XD_PORT|$(prog_id v0)|p53|1"
	"xdp-filter -f udp, port 53 rule, no match|$(prog_id v3)|p80|2"
	"xdp-filter default, port 53 rule, no match|$(prog_id v4)|p80|2"
	"xdpdrop, rule udp dst-port 53, no match|$(prog_id v0)|p80|2"
	"xdpdrop, no rules (drop all, count per protocol)|$(prog_id v2)|p53|1"
	"xdpdrop, 1000 CIDR rules, match (rule 1000)|$(prog_id v1)|plast|1"
	"xdpdrop, 1000 CIDR rules, no match|$(prog_id v1)|pnone|2"
)

run_case() { # id packet expected -> ns
	local out
	out=$(bpftool prog run id "$1" data_in "$WORK/$2" repeat "$REPEAT")
	[[ $out == "Return value: $3,"* ]] || { echo "unexpected: $out (want $3)" >&2; exit 1; }
	grep -o '[0-9]*ns' <<<"$out" | tr -d ns
}

declare -A R
for r in $(seq "$ROUNDS"); do
	for c in "${CASES[@]}"; do
		IFS='|' read -r label id pkt want <<<"$c"
		R[$label]+="$(run_case "$id" "$pkt" "$want") "
	done
	echo "round $r/$ROUNDS done" >&2
done

stats() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {printf "%d|%d|%d", v[1], v[int((NR+1)/2)], v[NR]}'; }
median() { stats | cut -d'|' -f2; }
base_udp=$(median <<<"${R[$XF_UDP]}")
base_all=$(median <<<"${R[$XF_ALL]}")
mkdir -p bench/out
{
	echo "$(date -u +%Y-%m-%d), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
	echo "BPF_PROG_TEST_RUN, repeat $REPEAT, $ROUNDS rounds interleaved; ns per packet (average of each run): min / median / max"
	echo
	echo "| program, rule, packet | min | median | max |"
	echo "| --- | ---: | ---: | ---: |"
	for c in "${CASES[@]}"; do
		IFS='|' read -r label _ _ _ <<<"$c"
		IFS='|' read -r mn md mx <<<"$(stats <<<"${R[$label]}")"
		echo "| $label | $mn | $md | $mx |"
	done
	md=$(median <<<"${R[$XD_PORT]}")
	echo
	echo "single port rule, match, medians: xdpdrop / xdp-filter -f udp = $md / $base_udp = $(awk -v a="$md" -v b="$base_udp" 'BEGIN {printf "%.2f", a / b}'); xdpdrop / xdp-filter default = $md / $base_all = $(awk -v a="$md" -v b="$base_all" 'BEGIN {printf "%.2f", a / b}') (target <= 0.80)"
} | tee bench/out/xdpdrop.md
