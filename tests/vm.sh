#!/usr/bin/env bash
# Boots the patched kernel under QEMU (tools/vm-boot.sh), runs
# tests/guest/run.py as root inside it with uoa.ko, and fails loudly on a
# kernel panic, oops, WARN, lockdep/RCU splat or a hung guest.
#
#   tests/vm.sh [--debug] [TEST-FILTER...]
#   UOA_VM_TIMEOUT=seconds (default 1200, 2400 on the debug kernel), UOA_KVM=1 to use KVM.
set -euo pipefail
source "$(dirname "$0")/../tools/env.sh"
variant=()
if [ "${1:-}" = --debug ]; then variant=(--debug); shift; fi

kdir=$("$UOA_ROOT/tools/build-kernel.sh" "${variant[@]}" | tail -n1)
ko=$("$UOA_ROOT/tools/build-kmod.sh" "${variant[@]}" | tail -n1)
(cd "$UOA_ROOT" && cargo build --quiet --release --bins)

log=$(mktemp /tmp/uoa-vm.XXXXXX.log)
# The whole suite takes about 7 min on the fast kernel and 19 on the debug
# one (KASAN, lockdep) under TCG: the limits leave room for a slow host.
default_timeout=1200
[ ${#variant[@]} -gt 0 ] && default_timeout=2400
timeout_s=${UOA_VM_TIMEOUT:-$default_timeout}
args=""
for a in "$@"; do args+=" $(printf %q "$a")"; done

echo "vm: booting $(basename "$kdir"), log: $log"
start=$SECONDS
# The guest runs in a session of its own so that a hung one is killed whole,
# QEMU included. QEMU truncates a console file it opens, so its output goes
# through a pipe.
pgid_file=$log.pgid
( sleep "$timeout_s" && touch "$log.hung" && pkill -KILL -s "$(cat "$pgid_file")" ) 2>/dev/null &
watchdog=$!
set +e
setsid bash -c 'echo $$ >"$0" && exec "$@"' "$pgid_file" "$UOA_ROOT/tools/vm-boot.sh" "$kdir" \
	"UOA_KO=$ko UOA_KSRC=$kdir/source UOAMAP=$UOA_ROOT/target/release/uoamap /usr/bin/python3 tests/guest/run.py$args" \
	</dev/null 2>&1 | cat >"$log"
rc=${PIPESTATUS[0]}
set -e
pkill -P "$watchdog" sleep 2>/dev/null || true
hung=0
[ -e "$log.hung" ] && hung=1
rm -f "$pgid_file" "$log.hung"
echo "vm: guest ran $((SECONDS - start)) s, exit $rc"

# Test lines and verdict; the rest of the console is shown only on trouble.
grep -E '^(PASS|FAIL) ' "$log" || true
verdict=$(grep -a -o 'UOA-VERDICT passed=[0-9]* failed=[0-9]*' "$log" | tail -n1 || true)
trouble=$(python3 "$UOA_ROOT/tests/guest/kernel_log.py" <"$log" || true)

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
[ "$hung" = 1 ] && fail "guest hung: killed after ${timeout_s} s"
[ -n "$trouble" ] && fail "the kernel reported a problem"
[ -n "$verdict" ] || fail "the guest gave no verdict (exit $rc)"
passed=${verdict#*passed=}; passed=${passed%% *}
failed=${verdict##*failed=}
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ] && [ "$rc" = 0 ]
