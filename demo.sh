#!/usr/bin/env bash
# Sets everything up (packages, patched kernel, uoa.ko, tools) and boots the
# test VM with UOA loaded, showing it at work. Pass --shell to get a root
# shell in the VM afterwards instead of powering off.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/deps.sh
kdir=$(tools/build-kernel.sh | tail -n1)
ko=$(tools/build-kmod.sh | tail -n1)
cargo build --quiet --release --bins
cmd="UOA_KO=$ko bash tools/demo-guest.sh"
[ "${1:-}" = --shell ] && cmd+="; bash -i"
exec tools/vm-boot.sh "$kdir" "$cmd"
