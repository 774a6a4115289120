#!/usr/bin/env python3
"""The paper's VINI experiment (Section 4, Table 2, Figures 1-3), on UOA.

Three nodes A, B and C (network namespaces vini-A, vini-B, vini-C) share a
LAN (a bridge in vini-lan) and are joined by GRE tunnels. Two slices run
over them, each as one Unix user on every node: u00 (uid 1010, blocks
1.0.0.0/8 and 2.0.0.0/8, table 32800) is the chain A-B-C, u11 (uid 1011,
blocks 10.0.0.0/8 and 12.0.0.0/8, table 32811) the triangle. `uoamap`
gives each slice its blocks and its tunnel addresses on each node; each
slice runs BIRD 2 as its own user on every node (in place of the paper's
recompiled Quagga), with its own AS numbers, announcing its prefixes over
eBGP; BIRD's kernel protocol installs what it learns into "main", which
UOA makes the slice's own table.

Runs as root inside the test VM (it adds users u00 and u11 to /etc/passwd,
which is a throwaway overlay there). Used by tests/guest/test_vini.py and
by the demo (tools/demo-guest.sh):

    python3 tools/vini.py up        build it and wait for every BGP session
    python3 tools/vini.py demo      up, then show it step by step
    python3 tools/vini.py check     assert what the paper's figures show
    python3 tools/vini.py down      remove it
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UOAMAP = os.environ.get("UOAMAP", os.path.join(ROOT, "target/release/uoamap"))
STATE = "/tmp/vini"
# bird, birdc and ip live in /usr/sbin and /sbin.
os.environ["PATH"] = "/usr/sbin:/sbin:" + os.environ.get("PATH", "/usr/bin:/bin")
NODES = ("A", "B", "C")
LAN = "vini-lan"
UNDERLAY = {"A": "192.168.100.1", "B": "192.168.100.2", "C": "192.168.100.3"}
# BGP timers: the failover must come within the hold time, under TCG.
HOLD, KEEPALIVE = 9, 3


@dataclass(frozen=True)
class Slice:
    user: str
    uid: int
    table: int
    blocks: tuple
    asn: dict  # node -> AS number
    originate: dict  # node -> prefixes it announces
    service: dict  # node -> an address on its loopback, inside what it announces


SLICES = {
    "u00": Slice("u00", 1010, 32800, ("1.0.0.0/8", "2.0.0.0/8"), {"A": 1, "B": 2, "C": 3},
                 {"A": ("1.1.0.0/16", "1.2.0.0/16"), "B": ("1.0.0.0/8", "2.2.0.0/16"),
                  "C": ("1.3.0.0/16", "2.2.3.0/24")},
                 {"A": "1.1.0.1", "B": "2.2.0.1", "C": "1.3.0.1"}),
    "u11": Slice("u11", 1011, 32811, ("10.0.0.0/8", "12.0.0.0/8"), {"A": 10, "B": 20, "C": 30},
                 {"A": ("10.1.0.0/16", "10.2.0.0/16"), "B": ("10.0.0.0/8", "12.2.0.0/16"),
                  "C": ("10.3.0.0/16", "12.3.0.0/24")},
                 {"A": "10.1.0.1", "B": "12.2.0.1", "C": "10.3.0.1"}),
}

# Table 2: (slice, node, device, address, peer node, peer device, peer address);
# the GRE key is the link's place in this list.
LINKS = (
    ("u00", "A", "tun0", "1.254.1.2", "B", "tun0", "1.254.1.1"),
    ("u00", "B", "tun1", "1.254.3.1", "C", "tun0", "1.254.3.2"),
    ("u11", "A", "tun2", "10.254.1.2", "B", "tun2", "10.254.1.1"),
    ("u11", "A", "tun1", "10.1.3.1", "C", "tun2", "10.1.3.2"),
    ("u11", "B", "tun3", "10.254.3.1", "C", "tun1", "10.254.3.2"),
)

TOPOLOGY = r"""
           u00: chain A-B-C (AS 1, 2, 3)        u11: triangle (AS 10, 20, 30)

                 A                                       A
       1.254.1.2 | tun0                     10.254.1.2  / \  10.1.3.1
       1.254.1.1 | tun0                          tun2  /   \  tun1
                 B                        10.254.1.1  /     \  10.1.3.2
       1.254.3.1 | tun1                       tun2  B ----- C  tun2
       1.254.3.2 | tun0                      tun3 10.254.3.1 10.254.3.2 tun1
                 C
   every tunnel is GRE over the LAN 192.168.100.0/24 (A .1, B .2, C .3)
"""

# The paper's figures (Quagga at node A), printed beside ours by the demo.
PAPER_RIB = {
    "u00": """\
   Network       Next Hop   Path
*> 1.0.0.0       1.254.1.1  2 i
*> 1.1.0.0/16    0.0.0.0    i
*> 1.2.0.0/16    0.0.0.0    i
*> 1.3.0.0/16    1.254.1.1  2 3 i
*> 2.2.0.0/16    1.254.1.1  2 i
*> 2.2.3.0/24    1.254.1.1  2 3 i""",
    "u11": """\
   Network       Next Hop    Path
*  10.0.0.0      10.1.3.2    30 20 i
*>               10.254.1.1  20 i
*> 10.1.0.0/16   0.0.0.0     i
*> 10.2.0.0/16   0.0.0.0     i
*  10.3.0.0/16   10.254.1.1  20 30 i
*>               10.1.3.2    30 i
*  12.2.0.0/16   10.1.3.2    30 20 i
*>               10.254.1.1  20 i
*  12.3.0.0/24   10.254.1.1  20 30 i
*>               10.1.3.2    30 i""",
}
PAPER_FIB = {
    "u00": """\
1.254.1.1 via 1.254.1.2 dev tun0
2.2.3.0/24 via 1.254.1.1 dev tun0 proto zebra
2.2.0.0/16 via 1.254.1.1 dev tun0 proto zebra
1.3.0.0/16 via 1.254.1.1 dev tun0 proto zebra
1.0.0.0/8 via 1.254.1.1 dev tun0 proto zebra""",
    "u11": """\
10.1.3.2 via 10.1.3.1 dev tun1
10.254.1.1 via 10.254.1.2 dev tun2
12.3.0.0/24 via 10.1.3.2 dev tun1 proto zebra
10.3.0.0/16 via 10.1.3.2 dev tun1 proto zebra
12.2.0.0/16 via 10.254.1.1 dev tun2 proto zebra
10.0.0.0/8 via 10.254.1.1 dev tun2 proto zebra""",
}

# What the figures say, as (prefix, next hop, AS path) per route, best first:
# Figure 2 (the RIB at A) and Figure 3 (the FIB at A: prefix -> next hop, device).
RIB_AT_A = {
    "u00": {"1.0.0.0/8": [("1.254.1.1", "2")], "1.1.0.0/16": [(None, "")], "1.2.0.0/16": [(None, "")],
            "1.3.0.0/16": [("1.254.1.1", "2 3")], "2.2.0.0/16": [("1.254.1.1", "2")],
            "2.2.3.0/24": [("1.254.1.1", "2 3")]},
    "u11": {"10.0.0.0/8": [("10.254.1.1", "20"), ("10.1.3.2", "30 20")],
            "10.1.0.0/16": [(None, "")], "10.2.0.0/16": [(None, "")],
            "10.3.0.0/16": [("10.1.3.2", "30"), ("10.254.1.1", "20 30")],
            "12.2.0.0/16": [("10.254.1.1", "20"), ("10.1.3.2", "30 20")],
            "12.3.0.0/24": [("10.1.3.2", "30"), ("10.254.1.1", "20 30")]},
}
FIB_AT_A = {
    "u00": {"1.254.1.1": (None, "tun0"), "1.0.0.0/8": ("1.254.1.1", "tun0"),
            "1.3.0.0/16": ("1.254.1.1", "tun0"), "2.2.0.0/16": ("1.254.1.1", "tun0"),
            "2.2.3.0/24": ("1.254.1.1", "tun0")},
    "u11": {"10.1.3.2": (None, "tun1"), "10.254.1.1": (None, "tun2"),
            "10.0.0.0/8": ("10.254.1.1", "tun2"), "10.3.0.0/16": ("10.1.3.2", "tun1"),
            "12.2.0.0/16": ("10.254.1.1", "tun2"), "12.3.0.0/24": ("10.1.3.2", "tun1")},
}


class Failed(AssertionError):
    pass


def ns(node):
    return f"vini-{node}"


def run(cmd, node=None, user=None, check=True, timeout=60):
    """Runs a shell command as root or as user, in node's namespace;
    stdout and stderr together, in order."""
    argv = ["bash", "-c", cmd]
    if user is not None:
        uid = SLICES[user].uid
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + argv
    if node is not None:
        argv = ["ip", "netns", "exec", ns(node)] + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Failed(f"{cmd!r} (node {node}, user {user or 'root'}) exited {p.returncode}:\n{p.stdout}")
    return p


def out(cmd, node=None, user=None):
    return run(cmd, node, user).stdout


def links_of(node, slice_name=None):
    """(slice, device, address, peer address, key) of node's tunnels."""
    for key, (s, n1, d1, a1, n2, d2, a2) in enumerate(LINKS, 1):
        for n, d, a, pa, pn in ((n1, d1, a1, a2, n2), (n2, d2, a2, a1, n1)):
            if n == node and slice_name in (None, s):
                yield s, d, a, pa, pn, key


def add_users():
    with open("/etc/passwd") as f:
        have = f.read()
    with open("/etc/passwd", "a") as f:
        for s in SLICES.values():
            if f"\n{s.user}:" not in "\n" + have:
                f.write(f"{s.user}:x:{s.uid}:{s.uid}::/tmp:/bin/sh\n")


def uoamap_config(node):
    """Table 2 for node, as a `uoamap apply` file."""
    lines = []
    for s in SLICES.values():
        lines += [f"{b} {s.user} {s.table}" for b in s.blocks]
        lines += [f"{a} {s.user} {s.table} dev {d}" for _, d, a, _, _, _ in links_of(node, s.user)]
    return "\n".join(lines) + "\n"


def bird_config(node, s):
    links = list(links_of(node, s.user))
    statics = "\n".join(f"  route {p} blackhole;" for p in s.originate[node])
    peers = "\n".join(
        f"protocol bgp to_{pn} from slice {{ local {a} as {s.asn[node]}; "
        f"neighbor {pa} as {SLICES[s.user].asn[pn]}; }}"
        for _, _, a, pa, pn, _ in links)
    return f"""\
log "{STATE}/{node}-{s.user}/bird.log" all;
router id {links[0][2]};
protocol device {{ scan time 2; }}
# Only what BGP learned goes to the kernel's "main" (UOA: the slice's table),
# as in the paper's Figure 3; the slice's own prefixes are announced only.
protocol kernel {{ ipv4 {{ export where source = RTS_BGP; }}; }}
protocol static own {{ ipv4;
{statics}
}}
template bgp slice {{
  hold time {HOLD}; keepalive time {KEEPALIVE};
  connect delay time 1; connect retry time 2; error wait time 1, 4;
  ipv4 {{ import all; export all; }};
}}
{peers}
"""


def bird_dir(node, user):
    return f"{STATE}/{node}-{user}"


def birdc(node, user, cmd):
    return out(f"birdc -s {bird_dir(node, user)}/bird.ctl {cmd}", node, user)


def up():
    """Builds the three nodes, their tunnels and UOA policy, and starts the
    six BIRDs as their slices' users; returns when every session is up."""
    down()
    add_users()
    os.makedirs(STATE, exist_ok=True)
    run(f"ip netns add {LAN} && ip -n {LAN} link add br0 type bridge && ip -n {LAN} link set br0 up")
    for node in NODES:
        n = ns(node)
        run(f"ip netns add {n} && ip -n {n} link set lo up")
        run(f"ip link add eth0 netns {n} type veth peer name port{node} netns {LAN}")
        run(f"ip -n {LAN} link set dev port{node} master br0 up")
        run(f"ip -n {n} addr add {UNDERLAY[node]}/24 dev eth0 && ip -n {n} link set eth0 up")
        # Nodes forward their slices' packets; users ping with ICMP sockets.
        run("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.ping_group_range='0 2147483647'", node)
        for s, dev, addr, peer, pn, key in links_of(node):
            run(f"ip -n {n} tunnel add {dev} mode gre local {UNDERLAY[node]} remote {UNDERLAY[pn]} key {key} "
                f"ttl 64 && ip -n {n} addr add {addr} peer {peer} dev {dev} && ip -n {n} link set {dev} up")
        for s in SLICES.values():
            run(f"ip -n {n} addr add {s.service[node]}/32 dev lo")
        with open(f"{STATE}/{node}.conf", "w") as f:
            f.write(uoamap_config(node))
        run(f"{UOAMAP} apply {STATE}/{node}.conf && {UOAMAP} set low-ports on", node)
    for node in NODES:
        for s in SLICES.values():
            d = bird_dir(node, s.user)
            os.makedirs(d)
            with open(f"{d}/bird.conf", "w") as f:
                f.write(bird_config(node, s))
            os.chown(d, s.uid, s.uid)
            # As the user, without capabilities: no -u/-g.
            run(f"bird -c {d}/bird.conf -s {d}/bird.ctl -P {d}/bird.pid", node, s.user)
    wait_for("every BGP session Established", sessions_up, 90)


def down():
    for node in NODES:
        for s in SLICES.values():
            pid_file = f"{bird_dir(node, s.user)}/bird.pid"
            try:
                with open(pid_file) as f:
                    os.kill(int(f.read()), 15)
            except (OSError, ValueError):
                pass
    for n in [ns(node) for node in NODES] + [LAN]:
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)
    shutil.rmtree(STATE, ignore_errors=True)


def wait_for(what, probe, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {node}-{s}: {l}" for node in NODES for s in SLICES
                           for l in log_tail(node, s))
            raise Failed(f"{what}: not within {timeout} s{logs}")
        time.sleep(0.5)


def log_tail(node, user):
    try:
        with open(f"{bird_dir(node, user)}/bird.log") as f:
            return f.read().splitlines()[-8:]
    except OSError:
        return []


def protocols(node, user):
    """{name: (state, since, info)} of BIRD's BGP protocols."""
    got = {}
    for line in run(f"birdc -s {bird_dir(node, user)}/bird.ctl show protocols", node, user,
                    check=False).stdout.splitlines():
        f = line.split(None, 5)
        if len(f) >= 5 and f[1] == "BGP":
            got[f[0]] = (f[3], f[4], f[5].strip() if len(f) > 5 else "")
    return got


def sessions_up():
    return all(len(list(links_of(node, s))) == len(protocols(node, s)) and
               all(p[2] == "Established" for p in protocols(node, s).values())
               for node in NODES for s in SLICES)


def rib(node, user):
    """{prefix: [(next hop or None, AS path), ...]}, best route first, from
    `birdc show route all` through the user's own control socket."""
    routes, prefix, cur = {}, None, None
    for line in birdc(node, user, "show route all").splitlines():
        m = re.match(r"^(\S+/\d+)\s+(\w+) \[", line)
        m2 = re.match(r"^\s{2,}(\w+) \[", line)
        if m or (m2 and prefix):
            if m:
                prefix = m.group(1)
            cur = {"best": " * " in line, "via": None, "path": ""}
            routes.setdefault(prefix, []).append(cur)
        elif cur is not None and line.startswith("\tvia "):
            cur["via"] = line.split()[1]
        elif cur is not None and line.strip().startswith("BGP.as_path:"):
            cur["path"] = line.split(":", 1)[1].strip()
    return {p: [(r["via"], r["path"]) for r in sorted(rs, key=lambda r: not r["best"])]
            for p, rs in routes.items()}


def rib_text(node, user):
    """rib() in the layout of Quagga's `show ip bgp`, for the demo."""
    lines = ["   Network       Next Hop    Path"]
    def key(p):
        addr, length = p.split("/")
        return tuple(int(x) for x in addr.split(".")), int(length)
    for prefix, routes in sorted(rib(node, user).items(), key=lambda pr: key(pr[0])):
        for i, (via, path) in enumerate(routes):
            mark = "*>" if i == 0 else "* "
            lines.append(f"{mark} {prefix if i == 0 else '':<13} {via or '0.0.0.0':<11} {(path + ' i').strip()}")
    return "\n".join(lines)


def fib(node, user=None, table=None):
    """{prefix: (gateway or None, device)} of `ip route` as user (its own
    table, shown as main) or of a table as root."""
    cmd = "ip -4 route show" + (f" table {table}" if table else "")
    got = {}
    for line in out(cmd, node, user).splitlines():
        f = line.split()
        via = f[f.index("via") + 1] if "via" in f else None
        dev = f[f.index("dev") + 1] if "dev" in f else None
        got[f[0]] = (via, dev)
    return got


def tx_bytes(node, dev):
    return int(out(f"cat /sys/class/net/{dev}/statistics/tx_bytes", node))


def tcp_exchange(node, user, src, dst, port=8000, size=200000):
    """As user at node, from src: sends size bytes to dst:port, where a
    server of the same user echoes the count it got; returns that text
    (or the error)."""
    code = (f"import socket\ns = socket.socket(); s.settimeout(20); s.bind(('{src}', 0))\n"
            f"s.connect(('{dst}', {port})); s.sendall(b'x' * {size}); s.shutdown(socket.SHUT_WR)\n"
            f"print(s.recv(100).decode())")
    return run(f"python3 -c \"{code}\" 2>&1 | tail -n1", node, user, check=False).stdout.strip()


def tcp_server(node, user, addr, port=8000):
    """A server as user at node that answers each connection with the byte
    count it received; returns the process."""
    code = (f"import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('{addr}', {port})); s.listen()\nprint('ready', flush=True)\nwhile True:\n"
            f"    c, peer = s.accept(); n = 0\n    while (b := c.recv(65536)): n += len(b)\n"
            f"    c.sendall(f'{{n}} bytes from {{peer[0]}}'.encode()); c.close()\n")
    uid = SLICES[user].uid
    p = subprocess.Popen(["ip", "netns", "exec", ns(node), "setpriv", f"--reuid={uid}", f"--regid={uid}",
                          "--clear-groups", "python3", "-c", code], stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise Failed(f"server of {user} at {node} did not start")
    return p


def connect_error(node, user, src, dst):
    """As user at node: the errno name of a UDP connect from src to dst
    ("ok" if it has a route)."""
    code = (f"import errno, socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.bind(('{src}', 0))\ntry:\n    s.connect(('{dst}', 9)); print('ok')\n"
            f"except OSError as e:\n    print(errno.errorcode[e.errno])")
    return run(f"python3 -c \"{code}\"", node, user, check=False).stdout.strip()


def ping(node, user, src, dst):
    p = run(f"ping -n -c 2 -W 5 -I {src} {dst}", node, user, check=False)
    return p.returncode == 0, p.stdout


# --- the checks: each raises Failed with what it saw, or returns what it proves ---

def check_sessions():
    """Every BGP session is up, per slice, and only between speakers of
    the same slice: each speaker's neighbours are its slice's tunnel peers."""
    for node in NODES:
        for name, s in SLICES.items():
            protos = protocols(node, name)
            want = {f"to_{pn}" for _, _, _, _, pn, _ in links_of(node, name)}
            if set(protos) != want or any(p[2] != "Established" for p in protos.values()):
                raise Failed(f"{name} at {node}: {protos}, want {sorted(want)} Established")
            for proto in protos:
                detail = birdc(node, name, f"show protocols all {proto}")
                peer_as = re.search(r"Neighbor AS:\s+(\d+)", detail)
                if not peer_as or int(peer_as.group(1)) not in s.asn.values():
                    raise Failed(f"{name} at {node}: {proto} peers with an AS of another slice:\n{detail}")
    return "10 sessions Established, each between two speakers of one slice"


def check_rib():
    """Each slice's RIB at A has the prefixes, next hops and AS paths of the
    paper's Figure 2."""
    for name in SLICES:
        got = rib("A", name)
        if got != RIB_AT_A[name]:
            raise Failed(f"{name}'s RIB at A:\n{got}\nwant\n{RIB_AT_A[name]}")
    return "both RIBs at A as in Figure 2"


def check_fib():
    """Each user's plain `ip route` at A lists the FIB of Figure 3, and
    nothing of the other slice; root's main table holds none of it."""
    for name in SLICES:
        got = fib("A", name)
        if got != FIB_AT_A[name]:
            raise Failed(f"{name}'s `ip route` at A: {got}, want {FIB_AT_A[name]}")
    main = fib("A", table="main")
    learned = [p for f in FIB_AT_A.values() for p in f if "/" in p]
    if "proto bird" in out("ip -4 route show table main", "A") or any(p in main for p in learned):
        raise Failed(f"root's main table at A holds slice routes: {main}")
    return "both FIBs at A as in Figure 3; main holds none of it"


def check_traffic():
    """u11's TCP and ping from its address at A to its address at C take
    u11's direct A-C tunnel; u00 and u11 cannot reach each other."""
    u11, u00 = SLICES["u11"], SLICES["u00"]
    server = tcp_server("C", "u11", u11.service["C"])
    try:
        before = tx_bytes("A", "tun1"), tx_bytes("A", "tun2")
        got = tcp_exchange("A", "u11", u11.service["A"], u11.service["C"])
        after = tx_bytes("A", "tun1"), tx_bytes("A", "tun2")
    finally:
        server.kill()
    if got != f"200000 bytes from {u11.service['A']}":
        raise Failed(f"u11's TCP from A to C: {got!r}")
    if after[0] - before[0] < 200000 or after[1] - before[1] > 20000:
        raise Failed(f"u11's TCP did not take tun1 (A-C): tun1 +{after[0] - before[0]} B, "
                     f"tun2 +{after[1] - before[1]} B")
    ok, text = ping("A", "u11", u11.service["A"], u11.service["C"])
    if not ok:
        raise Failed(f"u11's ping from A to C:\n{text}")
    for user, src, dst in (("u00", u00.service["A"], u11.service["C"]),
                           ("u11", u11.service["A"], u00.service["C"])):
        ok, text = ping("A", user, src, dst)
        err = connect_error("A", user, src, dst)
        if ok or err != "ENETUNREACH":
            raise Failed(f"{user} reached another slice's {dst}: connect {err}, ping:\n{text}")
    return "u11's TCP (200000 bytes) and ping A->C over tun1; u00 and u11 cannot reach each other"


def paths_a_c():
    """u11's routes from A to C's 10.3.0.0/16 and from C back to A's 10.1.0.0/16."""
    return fib("A", "u11").get("10.3.0.0/16"), fib("C", "u11").get("10.1.0.0/16")


def u00_view():
    """u00's sessions (name, state, since to the second: BIRD's milliseconds
    jitter between two readings) on every node, and its FIB at A."""
    sessions = {n: {p: (v[0], v[1][:8], v[2]) for p, v in protocols(n, "u00").items()} for n in NODES}
    return sessions, fib("A", "u00")


def check_failover():
    """u11's A-C tunnel goes down (its far end moved away, so the link stays
    up and only BGP can tell): within the hold time u11's traffic from A to
    C moves to the path via B; u00 never notices; then it comes back."""
    u00_before = u00_view()
    run("ip tunnel change tun1 remote 192.168.100.99", "A")
    start = time.monotonic()
    # Both ends notice when their hold timers run out, each on its own.
    via_b = (("10.254.1.1", "tun2"), ("10.254.3.1", "tun1"))
    wait_for("u11's routes between A and C via B", lambda: paths_a_c() == via_b, HOLD + 20)
    took = time.monotonic() - start
    u11 = SLICES["u11"]
    ok, text = ping("A", "u11", u11.service["A"], u11.service["C"])
    if not ok:
        raise Failed(f"u11's ping A->C via B:\n{text}")
    run(f"ip tunnel change tun1 remote {UNDERLAY['C']}", "A")
    direct = (("10.1.3.2", "tun1"), ("10.1.3.1", "tun2"))
    wait_for("u11's routes between A and C direct again", lambda: paths_a_c() == direct, 60)
    wait_for("every BGP session Established again", sessions_up, 60)
    u00_after = u00_view()
    if u00_after != u00_before:
        raise Failed(f"u00 noticed: {u00_before} -> {u00_after}")
    return (f"u11's traffic between A and C moved to the path via B after {took:.1f} s (hold time {HOLD} s), "
            "and back; u00 unchanged")


CHECKS = (check_sessions, check_rib, check_fib, check_traffic, check_failover)


# --- the demo: the experiment as a story ---

def step(title):
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def show(cmd, node=None, user=None):
    who = f"{user}@" if user else "root@"
    print(f"\033[1m{who}{node or 'vm'}$ {cmd}\033[0m", flush=True)
    print(run(cmd, node, user, check=False).stdout.rstrip(), flush=True)


def side_by_side(left, right, title_l, title_r, width=46):
    ls, rs = left.splitlines(), right.splitlines()
    print(f"{title_l:<{width}}| {title_r}")
    for i in range(max(len(ls), len(rs))):
        a = ls[i] if i < len(ls) else ""
        b = rs[i] if i < len(rs) else ""
        print(f"{a[:width - 1]:<{width}}| {b}")
    sys.stdout.flush()


def demo():
    step("1. The topology: three nodes, two slices, GRE tunnels (the paper's Figure 1)")
    print(TOPOLOGY, flush=True)
    up()
    step("2. Table 2: what the administrator gave each slice on each node")
    for node in NODES:
        show("uoamap show", node)
    show("ip rule show", "A")
    step("3. Each slice's BGP table at A, through the user's own BIRD (Figure 2)")
    for name in SLICES:
        side_by_side(PAPER_RIB[name], rib_text("A", name), f"paper, {name} (Quagga)",
                     f"ours, {name} (birdc show route all, as {name})", 50)
        print()
    print("(The paper's Quagga lists a prefix's best route, *>, after the other one; ours lists it\n"
          " first. The prefixes a node announces are Quagga's 0.0.0.0 and BIRD's static blackholes.)")
    show(f"birdc -s {bird_dir('A', 'u11')}/bird.ctl show protocols", "A", "u11")
    show(f"birdc -s {bird_dir('A', 'u11')}/bird.ctl show route for 10.3.0.1 all", "A", "u11")
    step("4. Each slice's FIB at A: plain `ip route` as the user (Figure 3)")
    for name in SLICES:
        side_by_side(PAPER_FIB[name], out("ip route", "A", name), f"paper, {name}", f"ours, ip route as {name}", 50)
        print()
    show("ip route show table main", "A")
    step("5. Checked: sessions, RIBs, FIBs, traffic")
    for check in CHECKS[:-1]:
        print(f"ok: {check()}", flush=True)
    step("6. Failover (beyond the paper): u11's A-C tunnel goes away")
    print(f"ok: {check_failover()}", flush=True)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "demo"
    try:
        if cmd == "up":
            up()
        elif cmd == "down":
            down()
        elif cmd == "check":
            for check in CHECKS:
                print(f"ok: {check()}", flush=True)
        elif cmd == "demo":
            demo()
        else:
            sys.exit(__doc__)
    except Failed as e:
        print(f"FAILED: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
