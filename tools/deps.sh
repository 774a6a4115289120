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
	iproute2 python3 python3-yaml python3-jsonschema socat netcat-openbsd passwd curl iputils-ping
	bird2 iperf3
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

# --- netperf (bench/netperf.sh) -------------------------------------------
# netperf is in Debian's non-free component. Only when it is missing: add
# non-free to the bookworm suites (deb822 stanza or classic sources.list,
# idempotently), refresh the lists and install it.
if ! command -v netperf >/dev/null || ! command -v netserver >/dev/null; then
	echo "deps: enabling non-free for netperf"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -i -E '/^Suites:(.* )?bookworm( |$)/,/^[[:space:]]*$/ {
			/^Components:/ { / non-free( |$)/! s/[[:space:]]*$/ non-free/ }
		}' "$f"
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -i -E '/^[[:space:]]*deb(-src)?[[:space:]].*[[:space:]]bookworm(-updates)?[[:space:]]/ {
			/ non-free( |$)/! s/[[:space:]]*$/ non-free/
		}' /etc/apt/sources.list
	fi
	echo "deps: apt-get install netperf"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends netperf >/dev/null
fi
# --- end netperf ------------------------------------------------------------
