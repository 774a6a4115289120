#!/usr/bin/env bash
# Boots the patched kernel under QEMU (virtme-ng, TCG unless UOA_KVM=1),
# runs tests/guest/run.py as root inside it with uoa.ko, and fails loudly on
# a kernel panic, oops, WARN, lockdep/RCU splat or a hung guest.
#
#   tests/vm.sh [--debug] [TEST-FILTER...]
#   UOA_VM_TIMEOUT=seconds (default 900), UOA_KVM=1 to use KVM.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
variant=()
if [ "${1:-}" = --debug ]; then variant=(--debug); shift; fi

ko=$("$UOA_ROOT/tools/build-kmod.sh" "${variant[@]}" | tail -n1)
kdir=$(dirname "$(dirname "$ko")")/$(basename "$(dirname "$ko")" | sed 's/^kmod-//')
(cd "$UOA_ROOT" && cargo build --quiet --release --bins)

log=$(mktemp /tmp/uoa-vm.XXXXXX.log)
accel=(--disable-kvm)
[ "${UOA_KVM:-0}" = 1 ] && accel=()
timeout_s=${UOA_VM_TIMEOUT:-900}
args=""
for a in "$@"; do args+=" $(printf %q "$a")"; done

echo "vm: booting $(basename "$kdir") (${accel[*]:-kvm}), log: $log"
start=$SECONDS
set +e
# Console at loglevel 5 shows warnings and worse; panic_on_warn turns any
# WARN into a panic that stops the guest, so it cannot go unnoticed.
timeout --foreground -k 10 "$timeout_s" \
	vng --run "$kdir/arch/x86/boot/bzImage" "${accel[@]}" --disable-microvm --force-9p \
	--cpus 2 --memory 2G --verbose --cwd "$UOA_ROOT" \
	--append "loglevel=5 panic_on_warn=1 oops=panic softlockup_panic=1 hung_task_panic=1" \
	--exec "UOA_KO=$ko UOAMAP=$UOA_ROOT/target/release/uoamap /usr/bin/python3 tests/guest/run.py$args" \
	</dev/null >"$log" 2>&1
rc=$?
set -e
echo "vm: guest ran $((SECONDS - start)) s, exit $rc"

# Test lines and verdict; the rest of the console is shown only on trouble.
grep -E '^(PASS|FAIL) ' "$log" || true
verdict=$(grep -a -o 'UOA-VERDICT passed=[0-9]* failed=[0-9]*' "$log" | tail -n1 || true)
trouble=$(grep -a -n -E 'Kernel panic|BUG:|Oops|WARNING:|general protection fault|possible (recursive|circular) locking|suspicious RCU usage|inconsistent lock state|blocked for more than|soft lockup|hard LOCKUP|KASAN|UBSAN|rust_panic|panicked at|Call Trace' "$log" || true)

fail() {
	echo "vm: FAILED: $*"
	if [ -n "$trouble" ]; then
		first=$(echo "$trouble" | head -n1 | cut -d: -f1)
		echo "---- kernel log from line $((first > 20 ? first - 20 : 1)) ----"
		tail -n +"$((first > 20 ? first - 20 : 1))" "$log" | head -n 120
	else
		echo "---- last 60 lines of the console ----"
		tail -n 60 "$log"
	fi
	echo "vm: 0 passed, 1 failed"
	exit 1
}
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "guest hung: no exit after ${timeout_s} s"
[ -n "$trouble" ] && fail "the kernel reported a problem"
[ -n "$verdict" ] || fail "the guest gave no verdict (exit $rc)"
passed=${verdict#*passed=}; passed=${passed%% *}
failed=${verdict##*failed=}
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ] && [ "$rc" = 0 ]
