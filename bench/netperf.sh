#!/usr/bin/env bash
# Data-path benchmark (issue 4): what the UOA hooks cost, measured with
# netperf (TCP_STREAM, TCP_RR, TCP_CRR, UDP_RR, UDP_STREAM) between two
# network namespaces in one VM run, as uid 1011, with the source address
# given and left to the kernel; module not loaded (baseline) against the
# module loaded with N managed uids (policy routing on: `uoamap apply`),
# against two stock policy-routing references without the module, and
# against the paper's competitor, the same client in a netns+veth slice.
# Prints the ratios to the baseline and the run-to-run spread as a markdown
# table, the same numbers as JSON, and plots them (bench/guest/netperf.py,
# bench/plot.py).
#
#   bench/netperf.sh [N...]      default: 0 1 256 4096 65536 (0 is always run)
#   UOA_NETPERF_NETNS=1          also the netns+veth slice (0: leave it out)
#   UOA_NETPERF_RULES=rules,pair stock rules, module not loaded: "rules", one
#                                uidrange rule sends uid 1011 to its own table
#                                (a stock host's per-user routing); "pair", UOA's
#                                two l3mdev rules, matching nothing without the
#                                module (the policy-routing mode UOA puts a
#                                namespace in, without its hooks); "" for none
#   UOA_NETPERF_NOOP=HOOK,...    the hooks' breakdown: 1 uid with a module whose
#                                HOOK (bind, receive, source, local_out, rule)
#                                is a no-op, one configuration per hook; "all"
#                                for the five, the default when no N is given;
#                                "" for none, the default otherwise
#   UOA_NETPERF_LEN=3            seconds per netperf run
#   UOA_NETPERF_ROUNDS=3         interleaved rounds (medians over them)
#   UOA_NETPERF_TESTS=TCP_RR,UDP_RR   a subset of the tests
#   UOA_NETPERF_CPUS=0,0         netperf -T: netperf's and netserver's vCPUs
#                                (one vCPU: no cross-vCPU wake-ups, which TCG
#                                on a busy host makes slow); empty: unpinned
#   UOA_NETPERF_UDP_RCVBUF=BYTES UDP_STREAM: netserver's socket buffers (netperf
#                                -S), so that its queue holds what the sender
#                                sends in a time slice and the received rate
#                                does not move with the datagrams dropped;
#                                empty (the default): netperf's own
#   UOA_NETPERF_ICOUNT=1         QEMU counts instructions (-icount shift=0,
#                                sleep=off): the guest's clock follows the
#                                instructions it runs, so a rate is work per
#                                instruction and the host's load drops out;
#                                0: plain TCG, wall-clock time
#   UOA_NETPERF_OUT=FILE         where the table goes; by default
#                                bench/results/netperf-latest.md for the full
#                                default run, /tmp/uoa-netperf-subset.md otherwise;
#                                the JSON next to it (same stem, .json), the
#                                figure too (.png; bench/results/netperf-figure.png
#                                for the default run) if python3 has matplotlib
#
# The guest's full output (kernel log included) is kept in /tmp/uoa-netperf.log.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
cd "$UOA_ROOT"
start=$(date +%s)
command -v netperf >/dev/null && command -v netserver >/dev/null ||
	die "netperf is not installed: run tools/deps.sh"

len=${UOA_NETPERF_LEN:-3}
rounds=${UOA_NETPERF_ROUNDS:-3}
tests=${UOA_NETPERF_TESTS:-TCP_STREAM,TCP_RR,TCP_CRR,UDP_RR,UDP_STREAM}
[[ $len =~ ^[1-9][0-9]*$ ]] || die "UOA_NETPERF_LEN must be whole seconds: $len"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "UOA_NETPERF_ROUNDS must be a number: $rounds"
[[ $tests =~ ^[A-Z_,]+$ ]] || die "UOA_NETPERF_TESTS must be comma-separated test names: $tests"
[[ ${UOA_NETPERF_UDP_RCVBUF:-} =~ ^([1-9][0-9]*)?$ ]] || die "UOA_NETPERF_UDP_RCVBUF must be bytes: $UOA_NETPERF_UDP_RCVBUF"
[[ ${UOA_NETPERF_CPUS-0,0} =~ ^[0-9,]*$ ]] || die "UOA_NETPERF_CPUS must be LCPU,RCPU: $UOA_NETPERF_CPUS"
for n in "$@"; do [[ $n =~ ^[0-9]+$ ]] || die "not a uid count (the netns slice is in unless UOA_NETPERF_NETNS=0): $n"; done
netns=${UOA_NETPERF_NETNS:-1}
[[ $netns =~ ^[01]$ ]] || die "UOA_NETPERF_NETNS must be 0 or 1: $netns"
stock_rules=${UOA_NETPERF_RULES-rules,pair}
configs="${*:-0 1 256 4096 65536}"
[ "$netns" = 1 ] && configs+=" netns"
for r in ${stock_rules//,/ }; do
	[[ $r == rules || $r == pair ]] || die "UOA_NETPERF_RULES: no configuration '$r' (choose from rules, pair)"
	configs+=" $r"
done
all_hooks=bind,receive,source,local_out,rule
noop=${UOA_NETPERF_NOOP-$([ $# -eq 0 ] && echo all)}
[ "$noop" = all ] && noop=$all_hooks
for h in ${noop//,/ }; do
	[[ ,$all_hooks, == *,$h,* ]] ||
		die "UOA_NETPERF_NOOP: no hook '$h' (choose from $all_hooks, or all)"
	configs+=" noop:$h"
done
if [ -n "${UOA_NETPERF_OUT:-}" ]; then
	out=$UOA_NETPERF_OUT
elif [ $# -eq 0 ] && [ -z "${UOA_NETPERF_TESTS:-}" ] && [ "$netns" = 1 ] && [ "$stock_rules" = rules,pair ] &&
	[ "$noop" = $all_hooks ]; then
	out=bench/results/netperf-latest.md
else
	out=/tmp/uoa-netperf-subset.md
fi
json=${out%.md}.json
png=${out%.md}.png
[ "$out" = bench/results/netperf-latest.md ] && png=bench/results/netperf-figure.png

kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
noop_kos=""
for h in ${noop//,/ }; do
	noop_kos+="$h=$(UOA_KMOD_NOOP=$h tools/build-kmod.sh | tail -n1),"
done
cargo build --quiet --release --bins

# The host has few cores and QEMU runs under TCG: another guest or a build on
# the host shows up as bursts of slow runs. Sample it every 5 s (the count of
# QEMU processes includes ours) and say so in the result.
samples=$(mktemp /tmp/uoa-netperf-load.XXXXXX)
(
	while sleep 5; do
		procs=$(ps -e -o comm=)
		echo "$(grep -c '^qemu-system' <<<"$procs") $(grep -cE '^(rustc|clang|ld\.lld|cargo)' <<<"$procs") $(cut -d' ' -f1 /proc/loadavg)"
	done
) >"$samples" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true; rm -f "$samples"' EXIT

raw=/tmp/uoa-netperf.log
icount=${UOA_NETPERF_ICOUNT:-1}
[[ $icount =~ ^[01]$ ]] || die "UOA_NETPERF_ICOUNT must be 0 or 1: $icount"
qemu_opts=""
[ "$icount" = 1 ] && qemu_opts="-icount shift=0,sleep=off"
UOA_QEMU_OPTS=$qemu_opts UOA_VM_MEMORY=${UOA_VM_MEMORY:-8G} tools/vm-boot.sh "$kdir" \
	"UOA_KO=$ko UOA_KO_NOOP=$noop_kos UOA_NETPERF_LEN=$len UOA_NETPERF_ROUNDS=$rounds UOA_NETPERF_TESTS=$tests UOA_NETPERF_CPUS=${UOA_NETPERF_CPUS-0,0} UOA_NETPERF_UDP_RCVBUF=${UOA_NETPERF_UDP_RCVBUF:-} UOA_NETPERF_ICOUNT=$icount /usr/bin/python3 bench/guest/netperf.py $configs" 2>&1 |
	tee "$raw" | grep --line-buffered -v '^\[ *[0-9]*\.[0-9]*\]' || true

# The guest's output between two marker lines, without the kernel's.
between() { # MARKER
	grep -v '^\[ *[0-9]*\.[0-9]*\]' "$raw" | tr -d '\r' |
		sed -n "/^--- BEGIN NETPERF $1 ---\$/,/^--- END NETPERF $1 ---\$/p" | sed '1d;$d'
}
table=$(between RESULTS)
took=$(($(date +%s) - start))
kill "$sampler" 2>/dev/null || true
contention=$(awk '{ n++; if ($1 > 1) q++; if ($2 > 0) b++; if ($3 > m) m = $3 }
	END { printf "%d%% of the 5-s samples saw another QEMU guest, %d%% a build; highest 1-min load %.1f on %d cores",
		n ? 100 * q / n : 0, n ? 100 * b / n : 0, m, '"$(nproc)"' }' "$samples")
if [ -z "$table" ] || ! grep -q '^--- END NETPERF RESULTS ---' <(tr -d '\r' <"$raw"); then
	echo "netperf: the guest did not finish; its output is in $raw" >&2
	exit 1
fi
mkdir -p "$(dirname "$out")"
{
	echo "# netperf: the cost of the UOA hooks"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`bench/netperf.sh${*:+ $*}\` at commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown), QEMU under" \
		"$([ "${UOA_KVM:-0}" = 1 ] && echo KVM || echo TCG)$([ "$icount" = 1 ] && echo " with -icount shift=0,sleep=off (rates are per guest instruction, not per host second)") on a $(nproc)-core" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) host;" \
		"whole run (build checks and VM boot included) $((took / 60)) min $((took % 60)) s."
	echo "Host contention during the run: $contention."
	echo
	echo "$table"
} >"$out"
echo
echo "netperf: table written to $out; total $((took / 60)) min $((took % 60)) s"
echo "netperf: host contention: $contention"
if ! between JSON | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null; then
	echo "netperf: the guest's JSON is missing or garbled (kernel lines inside it?); see $raw" >&2
	exit 1
fi
between JSON >"$json"
echo "netperf: JSON written to $json"
# The first python3 on PATH may be one without Debian's packages (pyenv).
plotter=""
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import matplotlib' 2>/dev/null; then plotter=$py && break; fi
done
if [ -n "$plotter" ]; then
	"$plotter" bench/plot.py "$json" "$png" || echo "netperf: bench/plot.py failed; table and JSON are written" >&2
else
	echo "netperf: figure skipped: neither python3 nor /usr/bin/python3 can import matplotlib (Debian: python3-matplotlib)"
fi
grep -q '^\*\*[0-9]* netperf run(s) failed' <<<"$table" && exit 1
exit 0
