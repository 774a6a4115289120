#!/usr/bin/env bash
# Boots a kernel build directory under QEMU with virtme-ng over the host's
# root filesystem and runs one command in it as root, from the work tree.
# TCG by default (nested KVM hangs on our machines); UOA_KVM=1 for KVM.
#
#   tools/vm-boot.sh KERNEL-BUILD-DIR COMMAND      (UOA_VM_MEMORY=2G by default;
#                                                   UOA_QEMU_OPTS: more QEMU options)
set -euo pipefail
source "$(dirname "$0")/env.sh"
kdir=$1 cmd=$2
accel=(--disable-kvm)
[ "${UOA_KVM:-0}" = 1 ] && accel=()
[ -n "${UOA_QEMU_OPTS:-}" ] && accel+=(--qemu-opts="$UOA_QEMU_OPTS")
# Console at loglevel 5 shows warnings and worse; panic_on_warn turns any
# WARN into a panic that stops the guest, so it cannot go unnoticed.
exec vng --run "$kdir/arch/x86/boot/bzImage" "${accel[@]}" --disable-microvm --force-9p \
	--cpus 2 --memory "${UOA_VM_MEMORY:-2G}" --verbose --cwd "$UOA_ROOT" \
	--append "loglevel=5 panic_on_warn=1 oops=panic softlockup_panic=1 hung_task_panic=1" \
	--exec "$cmd"
