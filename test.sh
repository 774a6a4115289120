#!/usr/bin/env bash
# Runs every UOA test: the userspace workspace's cargo tests, then the VM
# suite on the patched kernel with uoa.ko. Installs and builds what is
# missing first (cached in ~/.cache/uoa). Ends with 'total: N passed, N failed'.
#
#   ./test.sh            fast kernel
#   ./test.sh --debug    KASAN + lockdep + RCU/atomic-sleep checks
#   ./test.sh [--debug] FILTER...   only VM tests whose name contains FILTER
set -uo pipefail
cd "$(dirname "$0")"
start=$SECONDS
bash tools/deps.sh || exit 1

out=$(mktemp)
cargo test --workspace --color never 2>&1 | tee "$out"
cargo_rc=${PIPESTATUS[0]}
read -r c_pass c_fail < <(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$out")
[ "$cargo_rc" = 0 ] || [ "$c_fail" -gt 0 ] || c_fail=$((c_fail + 1))

bash tests/vm.sh "$@" | tee "$out"
vm_rc=${PIPESTATUS[0]}
read -r v_pass v_fail < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n1)
v_pass=${v_pass:-0} v_fail=${v_fail:-1}
[ "$vm_rc" = 0 ] || [ "$v_fail" -gt 0 ] || v_fail=1
rm -f "$out"

echo "cargo: $c_pass passed, $c_fail failed; vm: $v_pass passed, $v_fail failed; $((SECONDS - start)) s"
echo "total: $((c_pass + v_pass)) passed, $((c_fail + v_fail)) failed"
[ "$c_fail" = 0 ] && [ "$v_fail" = 0 ]
