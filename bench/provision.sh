#!/usr/bin/env bash
# Provisioning benchmark (issue 3): N slices as UOA entries (one `uoamap
# apply`) against N slices as one network namespace plus a veth pair each
# (the paper's competitor), in the same VM run. Prints time and kernel
# memory per slice and their ratios.
#
#   bench/provision.sh [N...]          default: 1000 16000 65000
#   UOA_NETNS_CAP=4000 caps the netns side (it costs milliseconds a slice
#   under TCG); its per-slice figures then come from the capped count.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
cd "$UOA_ROOT"
kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
cargo build --quiet --release --bins
sizes="${*:-1000 16000 65000}"
UOA_VM_MEMORY=${UOA_VM_MEMORY:-8G} tools/vm-boot.sh "$kdir" "UOA_KO=$ko UOA_NETNS_CAP=${UOA_NETNS_CAP:-4000} /usr/bin/python3 bench/guest/provision.py $sizes" 2>&1 |
	grep -v '^\[ *[0-9]*\.[0-9]*\]'
