"""A routing daemon as a user: Debian's BIRD 2 runs as managed uid u11 with
no capabilities, peers over eBGP (IPv4 and IPv6) with a root BIRD in
another namespace on port 179 of its own addresses (low-ports on), and its
kernel protocol installs the routes it learns and its static ones into
u11's table, which it takes for main; u11's traffic follows them, root's
does not, and they leave when BIRD stops. The same BIRD as an unmanaged
uid installs nothing.

    bgpa (the UOA host)                          bgpb (the peer, root BIRD, AS 65002)
    u11's BIRD, AS 65001                         lo: 10.50.0.1, 2001:db8:50::1
    va: 10.1.3.1/24 2001:db8:3::1/64 ------ vb: 10.1.3.2/24 2001:db8:3::2/64
    (u11's, table 32811)                         announces 10.50.0.0/16, 2001:db8:50::/48
"""

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import uoa

U11, U13 = 1011, 1013
T11 = 32811
NS, PEER = "bgpa", "bgpb"

SETUP = f"""\
set -e
ip -n {NS} link add va type veth peer name vb netns {PEER}
ip -n {NS} -batch - <<'EOF'
link set va up
addr add 10.1.3.1/24 dev va
addr add 2001:db8:3::1/64 dev va nodad
EOF
ip -n {PEER} -batch - <<'EOF'
link set vb up
addr add 10.1.3.2/24 dev vb
addr add 2001:db8:3::2/64 dev vb nodad
addr add 10.50.0.1/32 dev lo
addr add 2001:db8:50::1/128 dev lo
EOF
"""

# Short connect timers: the VM runs under TCG. The default hold time stays
# (a short one could expire on the slow debug kernel): sessions end with a
# Cease. The sessions' debug lines go to the log, which a failure prints.
TIMERS = """\
template bgp peer {
  connect delay time 1; connect retry time 2; error wait time 1, 4;
  debug { states, events };
}
"""

# u11's BIRD. Its kernel protocols export to "main", which UOA makes table
# 32811. peer4 connects out from 10.1.3.1 and, with strict bind, listens on
# 10.1.3.1:179 only; peer6 is passive and listens on BIRD's default [::]:179,
# a wildcard that UOA reads as "u11's addresses": both forms need the
# low-ports option, and peer6 proves that the peer's connection reaches it.
USER_CONF = """\
log "{dir}/bird.log" all;
router id 10.1.3.1;
protocol device {{}}
protocol kernel kernel4 {{ ipv4 {{ export all; }}; }}
protocol kernel kernel6 {{ ipv6 {{ export all; }}; }}
protocol static static4 {{ ipv4; route 10.60.0.0/16 blackhole; }}
protocol static static6 {{ ipv6; route 2001:db8:60::/48 blackhole; }}
{timers}
protocol bgp peer4 from peer {{
  local 10.1.3.1 as 65001; neighbor 10.1.3.2 as 65002;
  strict bind yes;
  ipv4 {{ import all; export none; }};
}}
protocol bgp peer6 from peer {{
  local 2001:db8:3::1 as 65001; neighbor 2001:db8:3::2 as 65002;
  passive yes;
  ipv6 {{ import all; export none; }};
}}
"""

# The peer (root, no kernel protocol): announces its statics, opens peer6.
PEER_CONF = """\
log "{dir}/bird.log" all;
router id 10.1.3.2;
protocol device {{}}
protocol static {{ ipv4; route 10.50.0.0/16 blackhole; }}
protocol static {{ ipv6; route 2001:db8:50::/48 blackhole; }}
{timers}
protocol bgp peer4 from peer {{
  local 10.1.3.2 as 65002; neighbor 10.1.3.1 as 65001;
  passive yes;
  ipv4 {{ import none; export all; }};
}}
protocol bgp peer6 from peer {{
  local 2001:db8:3::2 as 65002; neighbor 2001:db8:3::1 as 65001;
  ipv6 {{ import none; export all; }};
}}
"""

# u13's: one static route exported to the kernel.
UNMANAGED_CONF = """\
log "{dir}/bird.log" all;
router id 10.1.3.9;
protocol device {{}}
protocol kernel kernel4 {{ ipv4 {{ export all; }}; }}
protocol static static4 {{ ipv4; route 10.70.0.0/16 blackhole; }}
"""

# What u11's BIRD puts into its table, as `ip route show table 32811` prints it.
BIRD_V4 = ["10.50.0.0/16 via 10.1.3.2 dev va proto bird metric 32",
           "blackhole 10.60.0.0/16 proto bird metric 32"]
BIRD_V6 = ["2001:db8:50::/48 via 2001:db8:3::2 dev va proto bird metric 32 pref medium",
           "blackhole 2001:db8:60::/48 dev lo proto bird metric 32 pref medium"]


class Bird:
    """`bird -f` as uid (None: root) in netns, with its config, control
    socket and log in a directory of its own, owned by uid."""

    def __init__(self, conf, uid, netns):
        self.uid, self.netns = uid, netns
        self.dir = tempfile.mkdtemp(prefix="uoa-bird-")
        if uid is not None:
            os.chown(self.dir, uid, uid)
        self.conf, self.sock = f"{self.dir}/bird.conf", f"{self.dir}/bird.ctl"
        with open(self.conf, "w") as f:
            f.write(conf.format(dir=self.dir, timers=TIMERS))
        argv = ["ip", "netns", "exec", netns]
        if uid is not None:  # no -u/-g: setuid from root drops every capability
            argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        # ip netns exec and setpriv exec: self.proc.pid is bird itself.
        with open(f"{self.dir}/stderr", "w") as err:
            self.proc = subprocess.Popen(argv + ["/usr/sbin/bird", "-f", "-c", self.conf, "-s", self.sock],
                                         stdout=subprocess.DEVNULL, stderr=err)

    def birdc(self, cmd, check=True):
        return uoa.sh(f"/usr/sbin/birdc -s {self.sock} {cmd}", uid=self.uid, netns=self.netns, check=check).stdout

    def protocols(self):
        """{name: (state, info)} from `birdc show protocols`."""
        out = {}
        for line in self.birdc("show protocols", check=False).splitlines():
            f = line.split(None, 5)
            if len(f) >= 5 and f[1] in ("BGP", "Kernel", "Static", "Device"):
                out[f[0]] = (f[3], f[5].strip() if len(f) > 5 else "")
        return out

    def read(self, name="bird.log"):
        try:
            with open(f"{self.dir}/{name}") as f:
                return f.read()
        except OSError:
            return ""

    def text(self):
        """The ends of its log and stderr, for failure messages."""
        return "".join(f"\n--- {n}\n{self.read(n)[-4000:]}" for n in ("bird.log", "stderr"))

    def stop(self):
        """`birdc down` (BIRD removes its routes, then exits); kills it if that fails."""
        if self.proc.poll() is None:
            self.birdc("down", check=False)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(what, probe, timeout, bird):
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline or bird.proc.poll() is not None:
            routes = uoa.sh("ip -4 route show table all; ip -6 route show table all", netns=NS, check=False).stdout
            raise AssertionError(f"{what}: not within {timeout} s (bird exit {bird.proc.poll()}){bird.text()}\n"
                                 f"--- routes in {NS}\n{routes}")
        time.sleep(0.5)


def lines(cmd, uid=None):
    p = uoa.sh(cmd, uid=uid, netns=NS, check=False)
    # A table that never held a route of a family does not exist in it yet
    # (no rule names it any more): as empty as the kernel can say.
    if p.returncode != 0 and "FIB table does not exist" not in p.stderr:
        raise AssertionError(f"`{cmd}` exited {p.returncode}: {p.stderr.strip()}")
    return [line.strip() for line in p.stdout.splitlines()]


def caps_and_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return status["Uid"].split()[0], int(status["CapEff"], 16), int(status["CapPrm"], 16)


def udp_echo_server(addrs):
    """In bgpb, as root: answers every datagram to addrs port 7 with
    the address it came from."""
    import select

    socks = []
    for addr in addrs:
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, 7))
        socks.append(s)
    uoa.ready()
    while True:
        for s in select.select(socks, [], [])[0]:
            _, peer = s.recvfrom(64)
            s.sendto(peer[0].encode(), peer)


def udp_ask(addr):
    """Sends one datagram to addr port 7; returns the answer, or the errno."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    try:
        s.connect((addr, 7))
        s.send(b"?")
        return s.recv(64).decode()
    except OSError as e:
        return e.errno if e.errno else "timeout"
    finally:
        s.close()


def test_bird_as_a_user_installs_routes_in_its_own_table():
    """u11's BIRD, without capabilities, establishes both sessions; the
    learned and static routes land in table 32811 with proto bird, not in
    main; u11 sees them as its main and its datagrams follow them, root's
    get ENETUNREACH; UOA refuses nothing BIRD sends; when the peer goes
    away the learned routes leave, and when u11's BIRD stops, all."""
    uoa.netns(NS)
    uoa.netns(PEER)
    birds, echo = [], None
    try:
        uoa.sh(SETUP)
        uoa.uoamap(f"add 10.1.3.1 u11 {T11}", netns=NS)
        uoa.uoamap(f"add 2001:db8:3::1 u11 {T11}", netns=NS)
        uoa.uoamap("set low-ports on", netns=NS)
        peer = Bird(PEER_CONF, None, PEER)
        birds.append(peer)
        user = Bird(USER_CONF, U11, NS)
        birds.append(user)

        # Both sessions come up: peer4 from u11's side, peer6 from the peer's.
        wait_for("peer4 and peer6 Established",
                 lambda: all(user.protocols().get(p, ("", ""))[1] == "Established" for p in ("peer4", "peer6")),
                 60, user)
        protos = user.protocols()
        assert all(state == "up" for state, _ in protos.values()) and len(protos) == 7, protos
        # bird runs as u11 with no capabilities at all.
        assert caps_and_uid(user.proc.pid) == (str(U11), 0, 0), caps_and_uid(user.proc.pid)

        # Its routes are in table 32811, not in main.
        def installed():
            t = lines(f"ip route show table {T11}"), lines(f"ip -6 route show table {T11}")
            return t if all(r in t[0] for r in BIRD_V4) and all(r in t[1] for r in BIRD_V6) else None
        t4, t6 = wait_for("BIRD's routes in table 32811", installed, 30, user)
        assert len([r for r in t4 + t6 if "proto bird" in r]) == 4, (t4, t6)
        main = lines("ip route show table main") + lines("ip -6 route show table main")
        assert not any(p in r for r in main for p in ("10.50.", "10.60.", "2001:db8:50:", "2001:db8:60:", "bird")), main
        # u11 sees them as its main, with no table named.
        shown = lines("ip route show", uid=U11) + lines("ip -6 route show", uid=U11)
        assert all(r in shown for r in BIRD_V4 + BIRD_V6) and not any("table" in r for r in shown), shown
        # Nothing BIRD sent was refused: no refusal counted, no netlink error logged.
        c = uoa.counters(netns=NS)[U11]
        assert c["routes_changed"] >= 4 and c["routes_refused"] == 0, c
        assert "Netlink:" not in user.read(), user.text()

        # u11's traffic follows them to the peer's addresses; root has no route.
        echo = uoa.start_as(udp_echo_server, ["10.50.0.1", "2001:db8:50::1"], netns=PEER)
        echo.wait_ready()
        assert uoa.run_as(udp_ask, "10.50.0.1", uid=U11, netns=NS) == "10.1.3.1"
        assert uoa.run_as(udp_ask, "2001:db8:50::1", uid=U11, netns=NS) == "2001:db8:3::1"
        # Root's main has no route. (No IPv6 datagram for root: its unbound
        # socket takes 2001:db8:3::1, the only global address, as source,
        # and then the l3mdev rule routes it by the owner's table 32811.)
        assert uoa.run_as(udp_ask, "10.50.0.1", netns=NS) == errno.ENETUNREACH
        for family, addr in (("-4", "10.50.0.1"), ("-6", "2001:db8:50::1")):
            p = uoa.sh(f"ip {family} route get {addr}", netns=NS, check=False)
            assert p.returncode != 0 and "Network is unreachable" in p.stderr, (addr, p.stderr)

        # The peer goes away: BIRD withdraws what it learned, keeps its statics.
        peer.stop()
        assert peer.proc.returncode == 0, peer.text()

        def withdrawn():
            t = lines(f"ip route show table {T11}") + lines(f"ip -6 route show table {T11}")
            return t if not any("10.50." in r or "2001:db8:50:" in r for r in t) else None
        t = wait_for("learned routes withdrawn", withdrawn, 30, user)
        assert BIRD_V4[1] in t and BIRD_V6[1] in t, t
        # u11 stops its BIRD: the rest leaves too.
        user.stop()
        assert user.proc.returncode == 0, user.text()
        t = lines(f"ip route show table {T11}") + lines(f"ip -6 route show table {T11}")
        assert not any("proto bird" in r for r in t), t
        assert "10.1.3.0/24 dev va proto kernel scope link src 10.1.3.1" in t, "the connected route stays"
        assert uoa.counters(netns=NS)[U11]["routes_refused"] == 0
        assert "Netlink:" not in user.read(), user.text()
    finally:
        if echo is not None:
            echo.stop()
        for bird in birds:
            bird.cleanup()
        uoa.sh(f"ip netns del {NS}; ip netns del {PEER}", check=False)


def test_bird_as_an_unmanaged_user_installs_nothing():
    """The same kernel export as unmanaged u13: the stock EPERM, logged by
    BIRD, and no route anywhere; u11's table and main are untouched."""
    uoa.netns(NS)
    bird = None
    try:
        uoa.uoamap(f"add 10.1.3.1 u11 {T11}", netns=NS)
        before = lines("ip route show table all")
        bird = Bird(UNMANAGED_CONF, U13, NS)
        wait_for("BIRD's netlink refusal", lambda: "Netlink: Operation not permitted" in bird.read(), 30, bird)
        assert caps_and_uid(bird.proc.pid) == (str(U13), 0, 0)
        assert lines("ip route show table all") == before
        assert "10.70." not in uoa.sh("ip route show", uid=U13, netns=NS).stdout
        bird.stop()
    finally:
        if bird is not None:
            bird.cleanup()
        uoa.sh(f"ip netns del {NS}", check=False)



N_CHURN = 20  # static routes per user


def churn_conf(router_id, first_octet):
    statics = "\n".join(f"  route 10.{first_octet + i}.0.0/16 blackhole;" for i in range(N_CHURN))
    # A short scan time: what the kernel refused while the module was away
    # is exported again soon after.
    return (f'log "{{dir}}/bird.log" all;\nrouter id {router_id};\nprotocol device {{{{}}}}\n'
            f"protocol kernel kernel4 {{{{ scan time 2; ipv4 {{{{ export all; }}}}; }}}}\n"
            f"protocol static churn {{{{ ipv4;\n{statics}\n}}}}\n")


def udp_spray(dst):
    """Sends datagrams to dst until killed; the route and LOCAL_OUT hooks
    run on every one."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uoa.ready()
    while True:
        try:
            s.sendto(b"x" * 64, (dst, 9))
        except OSError:
            time.sleep(0.001)


def test_route_churn_of_two_daemons_across_a_module_reload():
    """u11's and u12's BIRDs withdraw and re-add their routes in a loop
    while both send traffic and the module is unloaded and loaded again:
    no crash or splat; afterwards each table holds exactly its own daemon's
    routes, the counts the kernel keeps agree with `ip route`, and when the
    daemons stop their routes leave."""
    uoa.netns(NS)
    birds, sprays = [], []
    users = ((U11, "10.1.3.1", 100), (1012, "10.1.4.1", 150))
    policy = f"add 10.1.3.1 u11 {T11}", "add 10.1.4.1 u12 32812"
    try:
        uoa.sh("ip link add dummy0 type dummy && ip link set dummy0 up && "
               "ip addr add 10.1.3.1/24 dev dummy0 && ip addr add 10.1.4.1/24 dev dummy0", netns=NS)
        for p in policy:
            uoa.uoamap(p, netns=NS)
        for uid, addr, octet in users:
            birds.append(Bird(churn_conf(addr, octet), uid, NS))
            sprays.append(uoa.start_as(udp_spray, addr[:-1] + "9", uid=uid, netns=NS))
        for s in sprays:
            s.wait_ready()

        def cycle(rounds):
            for _ in range(rounds):
                for b in birds:
                    b.birdc("disable churn", check=False)
                    b.birdc("enable churn", check=False)

        cycle(2)
        uoa.unload_module()
        cycle(1)  # stock now: the users' kernel writes are refused (EPERM)
        uoa.load_module()
        for p in policy:
            uoa.uoamap(p, netns=NS)
        cycle(2)

        def settled():
            tables = [lines(f"ip route show table {t}") for t in (T11, 32812)]
            ok = all(len([r for r in t if "proto bird" in r]) == N_CHURN for t in tables)
            return tables if ok else None
        t11, t12 = wait_for("each daemon's routes back in its table", settled, 60, birds[0])
        for (_, _, octet), t in zip(users, (t11, t12)):
            mine = {r.split()[1] for r in t if "proto bird" in r}
            assert mine == {f"10.{octet + i}.0.0/16" for i in range(N_CHURN)}, t
        main = uoa.sh("ip route show table main", netns=NS).stdout
        assert "proto bird" not in main, main
        # The kernel's count of each table agrees with what it lists.
        c = uoa.counters(netns=NS)
        for uid, table in ((U11, T11), (1012, 32812)):
            listed = len(lines(f"ip route show table {table}")) + len(lines(f"ip -6 route show table {table}"))
            assert c[uid]["routes"] == listed, (uid, c[uid], listed)
        for s in sprays:
            s.stop()
        sprays = []
        for b in birds:
            b.stop()
            assert b.proc.returncode == 0, b.text()
        for table in (T11, 32812):
            assert "proto bird" not in uoa.sh(f"ip route show table {table}", netns=NS).stdout
    finally:
        for s in sprays:
            s.stop()
        for bird in birds:
            bird.cleanup()
        uoa.load_module()
        uoa.sh(f"ip netns del {NS}", check=False)
