#!/usr/bin/env bash
# Builds kmod/ (uoa.ko) against the cached kernel build with kbuild.
# The sources are mirrored into the cache, so the work tree stays clean and
# an unchanged module is not rebuilt. Prints the path of uoa.ko last.
#
#   tools/build-kmod.sh [--debug]
set -euo pipefail
source "$(dirname "$0")/env.sh"
kdir=$("$UOA_ROOT/tools/build-kernel.sh" "$@" | tail -n1)
mdir=$UOA_CACHE/kmod-$(basename "$kdir")
mkdir -p "$mdir"
# -c: compare contents, so kbuild sees new mtimes only on real changes;
# -L: kmod/policy links to the shared uoa-policy sources.
rsync -rcL --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' --exclude='*.mod*' \
	--exclude='Module.symvers' --exclude='modules.order' --exclude='*.d' \
	"$UOA_ROOT/kmod/" "$mdir/"
# Warnings are errors, as with CONFIG_WERROR in a distribution kernel.
if ! kmake -C "$kdir" M="$mdir" KRUSTFLAGS=-Dwarnings modules >"$mdir/build.log" 2>&1; then
	cat "$mdir/build.log" >&2
	die "uoa.ko failed to build"
fi
echo "$mdir/uoa.ko"
