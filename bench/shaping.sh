#!/usr/bin/env bash
# Bandwidth benchmark: what per-user shaping costs on the data path (netperf
# with N shaped uids against the same traffic with no UOA qdisc, one run,
# ratios with their range) and to set up (time and kernel memory per shaped
# uid). See bench/guest/shaping.py.
#
#   bench/shaping.sh [N...]        default: 1 4096 16384 (65,533 works, but the
#                                  kernel builds each new class in time linear in the
#                                  classes there are: see the README)
#   UOA_NETPERF_LEN, UOA_NETPERF_ROUNDS, UOA_NETPERF_CPUS as bench/netperf.sh
#   UOA_SHAPING_TESTS=TCP_RR,UDP_RR,TCP_STREAM
#   UOA_NETPERF_ICOUNT=1           instruction counting (0: plain TCG)
#   UOA_SHAPING_OUT=FILE           default bench/results/shaping-latest.md
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
cd "$UOA_ROOT"
start=$(date +%s)
command -v netperf >/dev/null || die "netperf is not installed: run tools/deps.sh"
for n in "$@"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a uid count: $n"; done
out=${UOA_SHAPING_OUT:-bench/results/shaping-latest.md}
kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
cargo build --quiet --release --bins
# Part 1, netperf: instruction counting unless UOA_NETPERF_ICOUNT=0. Part 2,
# provisioning: plain TCG (with instruction counting a guest that waits sees
# its clock leap ahead). Each part in a boot of its own.
run_part() { # part qemu_opts
	local raw=/tmp/uoa-shaping-$1.log
	UOA_QEMU_OPTS=$2 UOA_VM_MEMORY=${UOA_VM_MEMORY:-8G} tools/vm-boot.sh "$kdir" \
		"UOA_KO=$ko UOA_SHAPING_PART=$1 UOA_NETPERF_LEN=${UOA_NETPERF_LEN:-3} UOA_NETPERF_ROUNDS=${UOA_NETPERF_ROUNDS:-3} UOA_NETPERF_CPUS=${UOA_NETPERF_CPUS-0,0} UOA_SHAPING_TESTS=${UOA_SHAPING_TESTS:-TCP_RR,UDP_RR,TCP_STREAM} /usr/bin/python3 bench/guest/shaping.py $sizes" 2>&1 |
		tee "$raw" | grep --line-buffered -v '^\[ *[0-9]*\.[0-9]*\]' >&2 || true
	local t
	t=$(tr -d '\r' <"$raw" | sed -n '/^--- BEGIN SHAPING RESULTS ---$/,/^--- END SHAPING RESULTS ---$/p' | sed '1d;$d')
	[ -n "$t" ] || die "the guest did not finish ($1); its output is in $raw"
	echo "$t"
}
sizes="${*:-1 4096 16384}"
qemu_opts=""
[ "${UOA_NETPERF_ICOUNT:-1}" = 1 ] && qemu_opts="-icount shift=0,sleep=off"
table=$(run_part netperf "$qemu_opts")
setup=$(run_part provision "")
took=$(($(date +%s) - start))
mkdir -p "$(dirname "$out")"
{
	echo "# Shaping: what per-user bandwidth classes cost"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`bench/shaping.sh${*:+ $*}\` at commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown), QEMU under TCG" \
		"$([ -n "$qemu_opts" ] && echo "with $qemu_opts (rates per guest instruction)") on a $(nproc)-core host;" \
		"whole run $((took / 60)) min $((took % 60)) s."
	echo
	echo "Data path (netperf, source given):"
	echo
	echo "$table"
	echo
	echo "Provisioning, plain TCG (wall-clock time in the guest):"
	echo
	echo "$setup"
} >"$out"
echo "shaping: table written to $out"
