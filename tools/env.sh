# Sourced by the build and test scripts: where things live and which
# toolchain the kernel side uses. The rustup toolchain builds the userspace
# crates and must never reach the kernel build (E0514 on module load).
UOA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UOA_CACHE=${UOA_CACHE:-$HOME/.cache/uoa}
UOA_KERNEL_VARIANT=${UOA_KERNEL_VARIANT:-fast}
UOA_LINUX_TARBALL=/usr/src/linux-source-6.12.tar.xz
KRUSTC=/usr/bin/rustc
kmake() {
	local rustc_ver
	rustc_ver=$("$KRUSTC" --version | awk '{print $2}')
	make LLVM=1 RUSTC="$KRUSTC" RUST_LIB_SRC="/usr/src/rustc-$rustc_ver/library" "$@"
}
die() {
	echo "error: $*" >&2
	exit 1
}
