#!/usr/bin/env bash
# Builds the patched Linux 6.12 test kernel: unpack Debian's linux-source-6.12,
# apply patches/series, merge patches/config/*.config on top of allnoconfig,
# build with LLVM=1 and Debian's rustc. The result is cached in $UOA_CACHE,
# keyed by everything that went in, so a second run is a no-op.
#
#   tools/build-kernel.sh            fast variant
#   tools/build-kernel.sh --debug    + KASAN, PROVE_LOCKING/RCU, DEBUG_ATOMIC_SLEEP
#
# The last line printed is the build directory (O=), for the module build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ "${1:-}" = --debug ] && UOA_KERNEL_VARIANT=debug
case $UOA_KERNEL_VARIANT in
fast) fragments=(uoa-vm.config) ;;
debug) fragments=(uoa-vm.config debug.config) ;;
*) die "unknown kernel variant '$UOA_KERNEL_VARIANT' (fast or debug)" ;;
esac
[ -f "$UOA_LINUX_TARBALL" ] || die "$UOA_LINUX_TARBALL missing: run tools/deps.sh"

patches=$UOA_ROOT/patches
mapfile -t series < <(grep -v '^\s*#' "$patches/series" | grep -v '^\s*$')
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)

# The source tree depends on the tarball and the patches; the build on that
# plus the config and the toolchain.
src_key=$( { echo "$kver"; for p in "${series[@]}"; do cat "$patches/$p"; done; } | sha256sum | cut -c1-16)
build_key=$( {
	echo "$src_key $UOA_KERNEL_VARIANT"
	for f in "${fragments[@]}"; do cat "$patches/config/$f"; done
	"$KRUSTC" --version; bindgen --version; clang --version | head -1
	cat "$0" "$UOA_ROOT/tools/env.sh"
} | sha256sum | cut -c1-16)
src=$UOA_CACHE/src-$src_key
out=$UOA_CACHE/kernel-$UOA_KERNEL_VARIANT-$build_key

if [ -f "$out/.uoa-built" ]; then
	echo "kernel: cached ($UOA_KERNEL_VARIANT, linux-source $kver): $out" >&2
	echo "$out"
	exit 0
fi

if [ ! -f "$src/.uoa-patched" ]; then
	echo "kernel: unpacking linux-source $kver into $src" >&2
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$UOA_LINUX_TARBALL" -C "$src.tmp" --strip-components=1
	for p in "${series[@]}"; do
		if ! patch -d "$src.tmp" -p1 --batch --forward --dry-run <"$patches/$p" >/tmp/uoa-patch.log 2>&1; then
			cat /tmp/uoa-patch.log >&2
			die "patches/$p does not apply to linux-source-6.12 $kver"
		fi
		patch -d "$src.tmp" -p1 --batch --forward --quiet <"$patches/$p" >/dev/null
		# Fuzz: a hunk's context is not this source's. The result may still
		# be right, but git am would refuse the patch: say so.
		if grep -q "with fuzz" /tmp/uoa-patch.log; then
			grep "with fuzz" /tmp/uoa-patch.log | sed 's/^/  /' >&2
			echo "kernel: applied $p WITH FUZZ: its context differs from linux-source $kver; refresh it" >&2
		else
			echo "kernel: applied $p" >&2
		fi
	done
	touch "$src.tmp/.uoa-patched"
	mv "$src.tmp" "$src"
fi

rm -rf "$out"
mkdir -p "$out"
for f in "${fragments[@]}"; do cat "$patches/config/$f"; done >"$out/uoa.config"
cd "$src"
kmake O="$out" rustavailable >&2 || die "the Rust toolchain cannot build this kernel (see above)"
kmake O="$out" KCONFIG_ALLCONFIG="$out/uoa.config" allnoconfig >/dev/null

# Kconfig drops options whose dependencies are unmet without a word; say which.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$out/uoa.config" | while read -r line; do
	grep -qxF "$line" "$out/.config" || echo "  $line"
done)
[ -z "$missing" ] || die "kernel config lacks options the fragments ask for:
$missing"

echo "kernel: building $UOA_KERNEL_VARIANT variant in $out (log: $out/build.log)" >&2
start=$SECONDS
if ! kmake O="$out" -j"$(nproc)" >"$out/build.log" 2>&1; then
	grep -E -B2 -A8 'error[:\[]' "$out/build.log" | head -60 >&2
	die "kernel build failed; full log in $out/build.log"
fi
echo "kernel: built in $((SECONDS - start)) s" >&2
touch "$out/.uoa-built"
echo "$out"
