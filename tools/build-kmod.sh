#!/usr/bin/env bash
# Builds kmod/ (uoa.ko) against the cached kernel build with kbuild.
# The sources are mirrored into the cache, so the work tree stays clean and
# an unchanged module is not rebuilt. Prints the path of uoa.ko last.
#
#   tools/build-kmod.sh [--debug]
#   UOA_KMOD_NOOP=HOOK     a benchmark build whose HOOK (bind, receive, source,
#                          local_out, rule) gives the stock answer without
#                          asking the policy (kmod/uoa.rs); never for use
set -euo pipefail
source "$(dirname "$0")/env.sh"
kdir=$("$UOA_ROOT/tools/build-kernel.sh" "$@" | tail -n1)
mdir=$UOA_CACHE/kmod-$(basename "$kdir")
rustflags=-Dwarnings
if [ -n "${UOA_KMOD_NOOP:-}" ]; then
	case $UOA_KMOD_NOOP in
	bind | receive | source | local_out | rule) ;;
	*) die "UOA_KMOD_NOOP must be one of bind, receive, source, local_out, rule: $UOA_KMOD_NOOP" ;;
	esac
	mdir+=-noop-$UOA_KMOD_NOOP
	rustflags+=" --cfg uoa_noop_$UOA_KMOD_NOOP"
fi
mkdir -p "$mdir"
# -c: compare contents, so kbuild sees new mtimes only on real changes;
# -L: kmod/policy links to the shared uoa-policy sources.
rsync -rcL --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' --exclude='*.mod*' \
	--exclude='Module.symvers' --exclude='modules.order' --exclude='*.d' \
	"$UOA_ROOT/kmod/" "$mdir/"
# Warnings are errors, as with CONFIG_WERROR in a distribution kernel.
if ! kmake -C "$kdir" M="$mdir" KRUSTFLAGS="$rustflags" modules >"$mdir/build.log" 2>&1; then
	cat "$mdir/build.log" >&2
	die "uoa.ko failed to build"
fi
echo "$mdir/uoa.ko"
