#!/usr/bin/env bash
# Where a netperf transaction's instructions go, function by function, with
# the module not loaded and with N managed uids (bench/guest/profile.py):
# perf samples vCPU 0 every 100,000 guest instructions under QEMU's
# instruction counting, so a function's samples are the instructions it
# costs. For finding what to optimise and why the cost grows with the uids;
# the ratios themselves come from bench/netperf.sh.
#
#   bench/profile.sh [N...]             default: 1 65536 (0 is always run)
#   UOA_PROFILE_TESTS=TCP_RR,UDP_RR     netperf tests
#   UOA_PROFILE_LEN=3                   seconds per test
#   UOA_PROFILE_TOP=30                  functions shown per test
#   UOA_PROFILE_OUT=FILE                the tables (default /tmp/uoa-profile.md)
#   UOA_PROFILE_SOURCE=specified        netperf -L (source given), or
#                                       unspecified (the kernel's choice)
#
# Needs perf (Debian: linux-perf) on the host, which the guest shares.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
cd "$UOA_ROOT"
command -v perf >/dev/null || die "perf is not installed (Debian: linux-perf)"
command -v netperf >/dev/null || die "netperf is not installed: run tools/deps.sh"
for n in "$@"; do [[ $n =~ ^[0-9]+$ ]] || die "not a uid count: $n"; done
[[ ${UOA_PROFILE_LEN:-3} =~ ^[1-9][0-9]*$ ]] || die "UOA_PROFILE_LEN must be whole seconds"
out=${UOA_PROFILE_OUT:-/tmp/uoa-profile.md}
source=${UOA_PROFILE_SOURCE:-specified}
[[ $source =~ ^(specified|unspecified)$ ]] || die "UOA_PROFILE_SOURCE must be specified or unspecified: $source"
kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
cargo build --quiet --release --bins
raw=/tmp/uoa-profile.log
UOA_QEMU_OPTS="-icount shift=0,sleep=off" UOA_VM_MEMORY=${UOA_VM_MEMORY:-8G} tools/vm-boot.sh "$kdir" \
	"UOA_KO=$ko UOA_PROFILE_TESTS=${UOA_PROFILE_TESTS:-TCP_RR,UDP_RR} UOA_PROFILE_LEN=${UOA_PROFILE_LEN:-3} UOA_PROFILE_TOP=${UOA_PROFILE_TOP:-30} UOA_PROFILE_SOURCE=$source /usr/bin/python3 bench/guest/profile.py ${*:-1 65536}" 2>&1 |
	tee "$raw" | grep --line-buffered -v '^\[ *[0-9]*\.[0-9]*\]' || true
table=$(grep -v '^\[ *[0-9]*\.[0-9]*\]' "$raw" | tr -d '\r' |
	sed -n '/^--- BEGIN PROFILE ---$/,/^--- END PROFILE ---$/p' | sed '1d;$d')
[ -n "$table" ] || die "the guest did not finish; its output is in $raw"
{
	echo "# Profile: instructions per netperf transaction, by function"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`bench/profile.sh${*:+ $*}\` at commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown), QEMU under TCG with -icount shift=0,sleep=off."
	echo
	echo "$table"
} >"$out"
echo "profile: written to $out"
