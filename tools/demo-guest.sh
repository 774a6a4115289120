#!/usr/bin/env bash
# Runs inside the VM (see demo.sh): loads uoa.ko and shows it at work, first
# on one host with two users, then as the paper's VINI experiment: two
# slices running BGP as their users over three nodes (tools/vini.py).
set -euo pipefail
PATH=$PWD/target/release:/usr/sbin:/sbin:$PATH
export UOAMAP=$PWD/target/release/uoamap
# Kernel messages stay off the console, so that they do not interleave with
# the steps' output; each step's stderr goes with its stdout, in order.
dmesg -n 1
exec 2>&1
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; eval "$*" 2>&1; }
# The guest's /etc is a throwaway overlay.
grep -q '^u11:' /etc/passwd || echo 'u11:x:1011:1011::/tmp:/bin/sh' >>/etc/passwd
grep -q '^u12:' /etc/passwd || echo 'u12:x:1012:1012::/tmp:/bin/sh' >>/etc/passwd
as_u11="setpriv --reuid=1011 --regid=1011 --clear-groups"

step uname -r
step insmod "$UOA_KO"
step uoamap status
step ip netns add host1
in1() { ip netns exec host1 "$@"; }
step in1 ip link set lo up
step in1 ip link add eth0 type dummy
step in1 ip link set eth0 up
step in1 ip addr add 10.1.3.1/24 dev eth0
step in1 ip addr add 10.1.3.2/24 dev eth0
step in1 uoamap add 10.1.3.1 u11 32811
step in1 uoamap add 10.1.3.2 u12 32812 dev eth0
step in1 uoamap show
step in1 uoamap -j show u12
step "in1 uoamap add 10.1.3.0/24 u12 32812 || true"
step "in1 uoamap add 10.1.3.9 u11 32812 || true"
step in1 ip rule show
step in1 ip route show table 32811
step in1 $as_u11 ip route get 10.1.3.77
step "in1 $as_u11 ip route get 10.20.0.1 || true"
step in1 $as_u11 uoamap show
step "in1 $as_u11 uoamap add 10.1.3.3 u11 32811 || true"
step in1 uoamap save

# Route delegation: u11 changes its own table with plain ip, no capabilities.
step in1 $as_u11 ip route add 10.20.0.0/16 via 10.1.3.254
step in1 $as_u11 ip route show
step in1 ip route show table 32811
step "in1 $as_u11 ip route add 10.30.0.0/16 dev eth0 table 32812 2>&1 || true"
step "in1 $as_u11 ip rule add from 10.1.3.1 lookup 100 2>&1 || true"
step in1 $as_u11 uoa-route show

# Enforcement: each user binds only its own address; both listen on :80.
as_u12="setpriv --reuid=1012 --regid=1012 --clear-groups"
step "in1 $as_u11 python3 -c 'import socket; socket.socket().bind((\"10.1.3.2\", 8080))' 2>&1 | tail -n1 || true"
step in1 uoamap set low-ports on
serve() { # uid: answers every TCP connection on :80 with its uid
	in1 setpriv --reuid="$1" --regid="$1" --clear-groups python3 -c '
import os, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen()
while True:
    c, _ = s.accept(); c.sendall(b"uid %d\n" % os.getuid()); c.close()' &
}
serve 1011
serve 1012
# Python starts slowly under TCG: wait for both listeners.
for _ in $(seq 60); do
	[ "$(in1 ss -Hltn sport = :80 | wc -l)" = 2 ] && break
	sleep 0.5
done
step in1 ss -ltnpe sport = :80
step "in1 python3 -c 'import socket; [print(a, socket.create_connection((a, 80)).recv(20).decode().strip()) for a in (\"10.1.3.1\", \"10.1.3.2\")]'"
step "in1 $as_u11 python3 -c 'import socket; s = socket.create_connection((\"10.1.3.2\", 80)); print(\"u11 leaves from\", s.getsockname()[0])'"
step in1 uoamap show -s
kill %1 %2 2>/dev/null || true
step in1 uoamap status
step ip netns del host1

printf '\n\033[1m==== The paper'"'"'s VINI experiment: two slices, BGP as users, three nodes ====\033[0m\n'
python3 -u tools/vini.py demo
cat <<'EOF'

The experiment is still running. Look around as root in the VM (./demo.sh --shell):
  ip netns exec vini-A setpriv --reuid=u11 --regid=u11 --clear-groups ip route
  ip netns exec vini-A setpriv --reuid=u11 --regid=u11 --clear-groups \
      birdc -s /tmp/vini/A-u11/bird.ctl show route all
  ip netns exec vini-A uoamap show -s; ip -n vini-A rule
  python3 tools/vini.py check; python3 tools/vini.py down
EOF
