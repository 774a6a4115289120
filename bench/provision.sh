#!/usr/bin/env bash
# Provisioning benchmark (issue 3): N slices as UOA entries with policy
# routing (one `uoamap apply`, each slice's address on a dummy interface
# beforehand, its connected route in its uid's table; one `uoamap flush`)
# against N slices as one network namespace plus a veth pair each (the
# paper's competitor), in the same VM run. Prints time and kernel memory per
# slice and their ratios as markdown, and the same numbers as JSON
# (bench/guest/provision.py).
#
#   bench/provision.sh [N...]          default: 1000 16000 65536
#   UOA_NETNS_CAP=4000 caps the netns side (it costs milliseconds a slice
#   under TCG); its per-slice figures then come from the capped count.
#   UOA_PROVISION_ICOUNT=1             QEMU counts instructions (-icount
#                                      shift=0,sleep=off): a guest second is
#                                      10^9 instructions. Not the default: a
#                                      namespace's cost lies largely in what
#                                      an instruction count does not see
#                                      (waits, TLB flushes, IPIs), so the
#                                      ratio then favours namespaces (17x at
#                                      1,000 slices in an early run).
#   UOA_PROVISION_ROUNDS=5             timed UOA runs per size (median, range)
#   UOA_PROVISION_ASLR=1               keep address-space randomisation on in
#                                      the guest. Off by default while the
#                                      benchmark runs: QEMU's TCG (7.2) keys
#                                      the code it translates by virtual
#                                      address, so with ASLR every run of a
#                                      tool translates all it executes anew
#                                      (40-70 ms a start of uoamap or ip
#                                      here, 9-20 ms without), a cost a real
#                                      CPU does not have.
#   UOA_PROVISION_OUT=FILE.md          where the table goes (the JSON next to
#                                      it, .json); by default
#                                      bench/results/provision-latest.md for the
#                                      default sizes, /tmp/uoa-provision-subset.md
#                                      otherwise
#
# The guest's full output (kernel log included) is kept in /tmp/uoa-provision.log.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
cd "$UOA_ROOT"
start=$(date +%s)
for n in "$@"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a number of slices: $n"; done
cap=${UOA_NETNS_CAP:-4000}
[[ $cap =~ ^[1-9][0-9]*$ ]] || die "UOA_NETNS_CAP must be a number: $cap"
if [ -n "${UOA_PROVISION_OUT:-}" ]; then
	out=$UOA_PROVISION_OUT
elif [ $# -eq 0 ]; then
	out=bench/results/provision-latest.md
else
	out=/tmp/uoa-provision-subset.md
fi
json=${out%.md}.json
kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
cargo build --quiet --release --bins
sizes="${*:-1000 16000 65536}"
raw=/tmp/uoa-provision.log
icount=${UOA_PROVISION_ICOUNT:-0}
[[ $icount =~ ^[01]$ ]] || die "UOA_PROVISION_ICOUNT must be 0 or 1: $icount"
rounds=${UOA_PROVISION_ROUNDS:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "UOA_PROVISION_ROUNDS must be a number: $rounds"
aslr=${UOA_PROVISION_ASLR:-0}
[[ $aslr =~ ^[01]$ ]] || die "UOA_PROVISION_ASLR must be 0 or 1: $aslr"
qemu_opts=""
[ "$icount" = 1 ] && qemu_opts="-icount shift=0,sleep=off"
UOA_QEMU_OPTS=$qemu_opts UOA_VM_MEMORY=${UOA_VM_MEMORY:-8G} tools/vm-boot.sh "$kdir" \
	"UOA_KO=$ko UOA_NETNS_CAP=$cap UOA_PROVISION_ROUNDS=$rounds UOA_PROVISION_ASLR=$aslr /usr/bin/python3 bench/guest/provision.py $sizes" 2>&1 |
	tee "$raw" | grep --line-buffered -v '^\[ *[0-9]*\.[0-9]*\]' || true

# The guest's output between two marker lines, without the kernel's.
between() { # MARKER
	grep -v '^\[ *[0-9]*\.[0-9]*\]' "$raw" | tr -d '\r' |
		sed -n "/^--- BEGIN PROVISION $1 ---\$/,/^--- END PROVISION $1 ---\$/p" | sed '1d;$d'
}
table=$(between RESULTS)
[ -n "$table" ] || die "the guest did not finish; its output is in $raw"
between JSON | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null ||
	die "the guest's JSON is missing or garbled (kernel lines inside it?); see $raw"
took=$(($(date +%s) - start))
mkdir -p "$(dirname "$out")"
{
	echo "# Provisioning: UOA slices against netns+veth slices"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`bench/provision.sh${*:+ $*}\` at commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown), QEMU under" \
		"$([ "${UOA_KVM:-0}" = 1 ] && echo KVM || echo TCG)$([ "$icount" = 1 ] && echo " with -icount shift=0,sleep=off (the guest's clock counts its instructions: a second is 10^9 of them)" || echo " (wall-clock time in the guest)") on a $(nproc)-core" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) host;" \
		"whole run (build checks and VM boot included) $((took / 60)) min $((took % 60)) s."
	echo
	echo "$table"
} >"$out"
between JSON >"$json"
echo
echo "provision: table written to $out, JSON to $json; total $((took / 60)) min $((took % 60)) s"
