#!/usr/bin/env bash
# Runs inside the VM (see demo.sh): loads uoa.ko and shows it answering.
set -euo pipefail
PATH=$PWD/target/release:$PATH
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; eval "$*"; }

step uname -r
step insmod "$UOA_KO"
step "dmesg | grep 'uoa:'"
step uoamap status
step ip netns add tenant2
step ip netns exec tenant2 uoamap -j status
step setpriv --reuid=1001 --regid=1001 --clear-groups uoa-route status
step ip netns del tenant2
step rmmod uoa
step "uoamap status || true"
