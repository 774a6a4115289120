#!/usr/bin/env bash
# Installs everything the kernel build, the module build and the VM tests need,
# on a fresh Debian bookworm machine. Safe to re-run: it only installs what is missing.
set -euo pipefail

need_apt=()
apt_pkgs=(
	linux-source-6.12 rustc-web rust-web-src
	clang lld llvm libclang-dev
	patch flex bison bc cpio kmod rsync libelf-dev libssl-dev dwarves xz-utils
	qemu-system-x86 udev busybox-static
	iproute2 python3 python3-yaml python3-jsonschema socat netcat-openbsd passwd
)
for p in "${apt_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "deps: apt-get install ${need_apt[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# bindgen must match CONFIG_BINDGEN_VERSION_TEXT of the tree we build (0.70.1 verified).
if ! command -v bindgen >/dev/null || ! bindgen --version | grep -q '0\.70\.1'; then
	echo "deps: cargo install bindgen-cli 0.70.1"
	cargo install --quiet bindgen-cli --version 0.70.1 --locked
fi

# virtme-ng boots the built kernel over the host's root filesystem.
if ! command -v vng >/dev/null; then
	echo "deps: pip install virtme-ng"
	pip install --quiet --disable-pip-version-check virtme-ng
fi
