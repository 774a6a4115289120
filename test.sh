#!/usr/bin/env bash
# Runs every UOA test: the userspace workspace's cargo tests, then the VM
# suite on the patched kernel with uoa.ko, on both kernel variants: the
# fast one, then the debug one (KASAN + lockdep + RCU/atomic-sleep checks).
# Installs and builds what is missing first (cached in ~/.cache/uoa). Ends
# with 'total: N passed, N failed'.
#
#   ./test.sh                    both variants
#   ./test.sh --fast | --debug   one variant
#   ./test.sh [--fast|--debug] FILTER...   only VM tests whose name contains FILTER
set -uo pipefail
cd "$(dirname "$0")"
start=$SECONDS
bash tools/deps.sh || exit 1

out=$(mktemp)
cargo test --workspace --color never 2>&1 | tee "$out"
cargo_rc=${PIPESTATUS[0]}
read -r c_pass c_fail < <(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$out")
[ "$cargo_rc" = 0 ] || [ "$c_fail" -gt 0 ] || c_fail=$((c_fail + 1))

variants=(fast debug)
case "${1:-}" in
--fast) variants=(fast); shift ;;
--debug) variants=(debug); shift ;;
esac
v_pass=0 v_fail=0
for variant in "${variants[@]}"; do
	flag=()
	[ "$variant" = debug ] && flag=(--debug)
	echo "==== VM suite, $variant kernel ===="
	bash tests/vm.sh "${flag[@]}" "$@" | tee "$out"
	rc=${PIPESTATUS[0]}
	read -r p f < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n1)
	p=${p:-0} f=${f:-1}
	[ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=1
	v_pass=$((v_pass + p)) v_fail=$((v_fail + f))
done
rm -f "$out"

echo "cargo: $c_pass passed, $c_fail failed; vm: $v_pass passed, $v_fail failed; $((SECONDS - start)) s"
echo "total: $((c_pass + v_pass)) passed, $((c_fail + v_fail)) failed"
[ "$c_fail" = 0 ] && [ "$v_fail" = 0 ]
