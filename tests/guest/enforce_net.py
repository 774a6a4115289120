"""The network the enforcement tests run on, and the small clients and
servers they use (not a test file: run.py only collects test_*.py).

Three namespaces joined by veth pairs:

    ec (client)  v1 ------ v0  es (the UOA host)  w0 ------ w1  eo (other)
    10.7.0.2                   10.7.0.11 (u11, the primary)     10.8.0.2
    2001:db8:7::2              10.7.0.{1,3,12,13}               2001:db8:8::2
                               2001:db8:7::{1,11,12,13}
                               w0: 10.8.0.1 10.8.0.13 2001:db8:8::{1,13}
                               d0 (dummy): 10.6.0.1 10.6.0.12 2001:db8:6::{1,12}

The policy of es (POLICY): u11 owns 10.7.0.11 (the primary address of v0,
so stock source selection prefers it for everyone), 10.7.0.111 and their
IPv6 twins; u12 owns 10.7.0.12 and 10.6.0.12 (+ IPv6); u13 owns 10.8.0.13
and 2001:db8:8::13, both `dev w0` (R1: u13 may use w0 only). 10.7.0.1,
10.7.0.3, 10.7.0.13, 10.8.0.1, 10.6.0.1 and the IPv6 twins of most are
local and unowned; 10.7.0.200 and 2001:db8:7::200 are not local. es routes
10.7.1.0/24 and 2001:db8:7:1::/64 through eo.
uid 1014 (V) is an unmanaged non-root user.

Clients and servers are plain functions run in forked children as some uid
(uoa.start_as / uoa.run_as); they report outcomes as short strings: "ok",
an errno name ("EADDRNOTAVAIL"), "timeout", or a server's answer
"UID LOCAL PEER" (the uid of the socket that got the connection or
datagram, the address it was sent to, and the source it came from)."""

import contextlib
import errno
import os
import select
import socket
import struct
import time

import uoa

NS, CLI, OTH = "es", "ec", "eo"
U11, U12, U13, V = 1011, 1012, 1013, 1014
ROOT = None  # run_as(uid=None): stay root

A11, A11_6 = "10.7.0.11", "2001:db8:7::11"
A11X, A11X_6 = "10.7.0.111", "2001:db8:7::111"  # u11's, not configured anywhere
A12, A12_6 = "10.7.0.12", "2001:db8:7::12"
D12, D12_6 = "10.6.0.12", "2001:db8:6::12"  # u12's, on d0
A13, A13_6 = "10.8.0.13", "2001:db8:8::13"  # u13's, dev w0
FREE, FREE_6 = "10.7.0.1", "2001:db8:7::1"  # local, unowned
FREE13, FREE13_6 = "10.7.0.13", "2001:db8:7::13"  # local, unowned (v0)
FREE3 = "10.7.0.3"  # local, unowned (v0): closer to 10.7.0.2 than any other
FREEW, FREEW_6 = "10.8.0.1", "2001:db8:8::1"  # local, unowned (w0)
NONLOCAL, NONLOCAL_6 = "10.7.0.200", "2001:db8:7::200"  # not local, unowned
CLI4, CLI6 = "10.7.0.2", "2001:db8:7::2"
OTH4, OTH6 = "10.8.0.2", "2001:db8:8::2"
MANAGED = {A11, A11X, A11_6, A11X_6, A12, A12_6, D12, D12_6, A13, A13_6}

POLICY = f"""\
{A11} u11 111
{A11X} u11 111
{A11_6} u11 111
{A11X_6} u11 111
{A12} u12 112
{D12} u12 112
{A12_6} u12 112
{D12_6} u12 112
{A13} u13 113 dev w0
{A13_6} u13 113 dev w0
"""

SYSCTLS = {
    "net/ipv6/conf/all/accept_dad": "0",
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv4/ping_group_range": "0 2147483647",
    "net/ipv4/icmp_ratelimit": "0",
    "net/ipv6/icmp/ratelimit": "0",
}

# One `ip -batch` per namespace: every exec costs under TCG.
SETUP = """\
set -e
ip -n es -batch - <<'EOF'
link add name v0 type veth peer name v1 netns ec
link add name w0 type veth peer name w1 netns eo
link add name d0 type dummy
link set lo up
link set v0 up
link set w0 up
link set d0 up
addr add 10.7.0.11/24 dev v0
addr add 10.7.0.1/24 dev v0
addr add 10.7.0.12/24 dev v0
addr add 10.7.0.13/24 dev v0
addr add 10.7.0.3/24 dev v0
addr add 2001:db8:7::1/64 dev v0 nodad
addr add 2001:db8:7::11/64 dev v0 nodad
addr add 2001:db8:7::12/64 dev v0 nodad
addr add 2001:db8:7::13/64 dev v0 nodad
addr add 10.8.0.1/24 dev w0
addr add 10.8.0.13/24 dev w0
addr add 2001:db8:8::1/64 dev w0 nodad
addr add 2001:db8:8::13/64 dev w0 nodad
addr add 10.6.0.1/24 dev d0
addr add 10.6.0.12/24 dev d0
addr add 2001:db8:6::1/64 dev d0 nodad
addr add 2001:db8:6::12/64 dev d0 nodad
route add 10.7.1.0/24 via 10.8.0.2 dev w0
route add 2001:db8:7:1::/64 via 2001:db8:8::2 dev w0
EOF
ip -n ec -batch - <<'EOF'
link set lo up
link set v1 up
addr add 10.7.0.2/24 dev v1
addr add 2001:db8:7::2/64 dev v1 nodad
route add default via 10.7.0.1
route add default via 2001:db8:7::1
EOF
ip -n eo -batch - <<'EOF'
link set lo up
link set w1 up
addr add 10.8.0.2/24 dev w1
addr add 2001:db8:8::2/64 dev w1 nodad
route add default via 10.8.0.1
route add default via 2001:db8:8::1
EOF
"""


class Net:
    """The running topology: children started here are killed at the end."""

    def __init__(self, routing):
        self.routing = routing
        self.children = []

    def start(self, fn, *args, uid=ROOT, netns=NS, caps=()):
        child = uoa.start_as(fn, *args, uid=uid, netns=netns, caps=caps)
        self.children.append(child)
        return child

    def server(self, specs, uid=ROOT, netns=NS, caps=()):
        """Starts serve(specs) as uid; returns (child, bind results)."""
        child = self.start(serve, specs, uid=uid, netns=netns, caps=caps)
        return child, child.wait_ready()

    def stop(self, child):
        child.stop()
        if child in self.children:
            self.children.remove(child)

    def policy(self, text=POLICY):
        """Makes the policy of es exactly `text` (uoamap apply)."""
        flag = "" if self.routing else "--no-routing "
        uoa.sh(f"{uoa.UOAMAP} {flag}apply -", netns=NS, input=text)

    def uoamap(self, args, check=True):
        flag = "" if self.routing else "--no-routing "
        return uoa.uoamap(flag + args, netns=NS, check=check)


@contextlib.contextmanager
def network(routing=False, policy=POLICY):
    """Builds the three namespaces, applies `policy` in es (with uoamap's
    rules and tables if `routing`), yields a Net, and tears it all down."""
    uoa.sh("for n in es ec eo; do if [ -e /run/netns/$n ]; then ip netns del $n; fi; done; ip -batch -",
           input="netns add es\nnetns add ec\nnetns add eo\n")
    uoa.run_as(_sysctls)
    uoa.sh(SETUP)
    net = Net(routing)
    try:
        if policy:
            net.policy(policy)
        yield net
    finally:
        for child in net.children:
            child.stop()
        uoa.sh("ip -batch -", input=f"netns del {NS}\nnetns del {CLI}\nnetns del {OTH}\n", check=False)


def _sysctls():
    """As root: SYSCTLS in each of the three namespaces, without an exec."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for name in (NS, CLI, OTH):
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        if libc.setns(fd, uoa.CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        os.close(fd)
        for key, value in SYSCTLS.items():
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)


# --- outcomes ---


def ename(e):
    if isinstance(e, socket.timeout) or e.errno is None:
        return "timeout"
    return errno.errorcode.get(e.errno, str(e.errno))


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def plain(addr):
    """An address as the tests write it: no v4-mapped prefix, no scope."""
    addr = addr.split("%")[0]
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


# --- socket options the socket module does not name ---

SOL_IP, SOL_IPV6 = socket.IPPROTO_IP, socket.IPPROTO_IPV6
IP_PKTINFO, IP_FREEBIND, IP_TRANSPARENT, IP_UNICAST_IF = 8, 15, 19, 50
IPV6_RECVPKTINFO, IPV6_PKTINFO, IPV6_TRANSPARENT, IPV6_UNICAST_IF, IPV6_FREEBIND = 49, 50, 75, 76, 78
SO_BINDTODEVICE, SO_REUSEPORT = 25, 15

KINDS = {
    "tcp": (socket.SOCK_STREAM, 0, 0),
    "udp": (socket.SOCK_DGRAM, 0, 0),
    "raw": (socket.SOCK_RAW, socket.IPPROTO_UDP, socket.IPPROTO_UDP),
    "ping": (socket.SOCK_DGRAM, socket.IPPROTO_ICMP, socket.IPPROTO_ICMPV6),
}


def new_socket(kind, fam, opts=()):
    type_, proto4, proto6 = KINDS[kind]
    s = socket.socket(fam, type_, proto6 if fam == socket.AF_INET6 else proto4)
    for level, name, value in opts:
        s.setsockopt(level, name, value)
    return s


def sockaddr(addr, port):
    return (addr, port, 0, 0) if family(addr) == socket.AF_INET6 else (addr, port)


def bind(kind, addr, port=0, opts=(), fam=None):
    """bind() of a new `kind` socket to addr:port: "ok" or the errno name."""
    s = None
    try:
        s = new_socket(kind, fam or family(addr), opts)
        s.bind(sockaddr(addr, port))
        return "ok"
    except OSError as e:
        return ename(e)
    finally:
        if s is not None:
            s.close()


def binds(cases):
    """[bind(*case) ...] in one child."""
    return [bind(*case) for case in cases]


def held_binds(cases):
    """Binds (and for TCP listens on) each case in turn, keeping the
    sockets open: the results show conflicts among them."""
    socks, out = [], []
    for kind, addr, port, opts in cases:
        s = new_socket(kind, family(addr), opts)
        try:
            s.bind(sockaddr(addr, port))
            if kind == "tcp":
                s.listen(4)
            out.append("ok")
            socks.append(s)
        except OSError as e:
            out.append(ename(e))
            s.close()
    for s in socks:
        s.close()
    return out


# --- servers ---


def _pktinfo_dst(ancdata):
    for level, kind, data in ancdata:
        if level == SOL_IP and kind == IP_PKTINFO:
            return socket.inet_ntop(socket.AF_INET, data[8:12])
        if level == SOL_IPV6 and kind == IPV6_PKTINFO:
            return plain(socket.inet_ntop(socket.AF_INET6, data[:16]))
    return "?"


def _reply_cmsg(fam, dst):
    if family(dst) == socket.AF_INET6:
        return [(SOL_IPV6, IPV6_PKTINFO, socket.inet_pton(socket.AF_INET6, dst) + struct.pack("=I", 0))]
    if fam == socket.AF_INET6:
        mapped = socket.inet_pton(socket.AF_INET6, "::ffff:" + dst)
        return [(SOL_IPV6, IPV6_PKTINFO, mapped + struct.pack("=I", 0))]
    return [(SOL_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, socket.inet_aton(dst), bytes(4)))]


def serve(specs):
    """A server: binds each (kind, addr, port, opts) of specs ("tcp"
    listens), calls uoa.ready(bind results), then answers until killed.
    TCP: sends "UID LOCAL PEER\\n" to each connection, then records what
    the client sends. UDP: answers each datagram with "UID LOCAL PEER" from
    the address it was sent to. A UDP datagram "?TAG" asks whether TAG
    (a datagram or a TCP read) came before: "yes" or "no"; "?TAG@ADDR",
    whether it came from ADDR."""
    uid = os.getuid()
    socks, results = [], []
    for kind, addr, port, opts in specs:
        fam = family(addr)
        s = new_socket(kind, fam, opts)
        if kind == "udp":
            s.setsockopt(SOL_IP, IP_PKTINFO, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(SOL_IPV6, IPV6_RECVPKTINFO, 1)
        try:
            s.bind(sockaddr(addr, port))
            if kind == "tcp":
                s.listen(64)
            results.append("ok")
            socks.append((kind, fam, s))
        except OSError as e:
            results.append(ename(e))
            s.close()
    uoa.ready(results)
    seen = set()
    table = {s.fileno(): (kind, fam, s, None) for kind, fam, s in socks}
    poller = select.poll()
    for fd in table:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            kind, fam, s, from_ = table[fd]
            try:
                if kind == "tcp":
                    c, peer = s.accept()
                    c.sendall(f"{uid} {plain(c.getsockname()[0])} {plain(peer[0])}\n".encode())
                    c.setblocking(False)
                    table[c.fileno()] = ("conn", fam, c, plain(peer[0]).encode())
                    poller.register(c.fileno(), select.POLLIN)
                elif kind == "conn":
                    data = s.recv(4096)
                    if data:
                        seen.update((data, data + b"@" + from_))
                    else:  # the client closed first: TIME_WAIT is on its side
                        poller.unregister(fd)
                        del table[fd]
                        s.close()
                else:
                    data, anc, _, peer = s.recvmsg(4096, 512)
                    dst = _pktinfo_dst(anc)
                    if data.startswith(b"?"):
                        answer = b"yes" if data[1:] in seen else b"no"
                    else:
                        seen.update((data, data + b"@" + plain(peer[0]).encode()))
                        answer = f"{uid} {dst} {plain(peer[0])}".encode()
                    try:
                        s.sendmsg([answer], _reply_cmsg(fam, dst) if dst != "?" else [], 0, peer)
                    except OSError:
                        s.sendto(answer, peer)
            except OSError:
                if kind == "conn":
                    poller.unregister(fd)
                    del table[fd]
                    s.close()


def tcp_server(addr, port, opts=()):
    return [("tcp", addr, port, opts)]


def udp_server(addr, port, opts=()):
    return [("udp", addr, port, opts)]


# --- clients ---


def tcp_ask(addr, port, src=None, opts=(), fam=None, timeout=3):
    """Connects to addr:port (from src if given) and returns the server's
    line, or the errno name of what failed."""
    s = new_socket("tcp", fam or family(addr), opts)
    s.settimeout(timeout)
    try:
        if src is not None:
            s.bind(sockaddr(src, 0))
        s.connect(sockaddr(addr, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()
    except OSError as e:
        return ename(e)
    finally:
        s.close()


def tcp_local(addr, port, src=None, opts=(), fam=None, timeout=3):
    """Connects; returns "LOCAL" (getsockname) or the errno name."""
    s = new_socket("tcp", fam or family(addr), opts)
    s.settimeout(timeout)
    try:
        if src is not None:
            s.bind(sockaddr(src, 0))
        s.connect(sockaddr(addr, port))
        return plain(s.getsockname()[0])
    except OSError as e:
        return ename(e)
    finally:
        s.close()


def udp_ask(addr, port, payload=b"hello", src=None, opts=(), fam=None, connect=False, cmsg=(), timeout=1):
    """Sends one datagram and returns the answer, "timeout", or the errno
    name of what failed."""
    s = new_socket("udp", fam or family(addr), opts)
    s.settimeout(timeout)
    try:
        if src is not None:
            s.bind(sockaddr(src, 0))
        if connect:
            s.connect(sockaddr(addr, port))
            s.sendmsg([payload], list(cmsg))
        else:
            s.sendmsg([payload], list(cmsg), 0, sockaddr(addr, port))
        return s.recv(4096).decode()
    except OSError as e:
        return ename(e)
    finally:
        s.close()


def udp_local(addr, port=9, opts=(), fam=None):
    """connect() of a UDP socket (a route lookup, no packet): returns the
    chosen source address or the errno name."""
    s = new_socket("udp", fam or family(addr), opts)
    try:
        s.connect(sockaddr(addr, port))
        return plain(s.getsockname()[0])
    except OSError as e:
        return ename(e)
    finally:
        s.close()


def asks(calls):
    """Runs each (fn, args...) of calls in this child; returns the results."""
    return [fn(*args) for fn, *args in calls]


def seen(addr, port, tag, wait=0.0):
    """Asks the UDP server at addr:port whether datagram `tag` reached it,
    polling for up to `wait` seconds: True or False."""
    deadline = time.monotonic() + wait
    while True:
        answer = udp_ask(addr, port, b"?" + tag)
        if answer == "yes":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def pktinfo4(src, ifindex=0):
    return [(SOL_IP, IP_PKTINFO, struct.pack("=I4s4s", ifindex, socket.inet_aton(src), bytes(4)))]


def pktinfo6(src, ifindex=0):
    return [(SOL_IPV6, IPV6_PKTINFO, socket.inet_pton(socket.AF_INET6, src) + struct.pack("=I", ifindex))]


# --- raw packets with our own IP header (IP_HDRINCL) ---


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_packet(src, dst, sport, dport, payload):
    """An IPv4 or IPv6 header plus UDP datagram from src to dst."""
    length = 8 + len(payload)
    if family(src) == socket.AF_INET:
        udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        return ip + udp
    s6, d6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    pseudo = s6 + d6 + struct.pack("!I3xB", length, socket.IPPROTO_UDP)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    check = _csum(pseudo + udp) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, length, check) + payload
    return struct.pack("!IHBB", 0x60000000, length, socket.IPPROTO_UDP, 64) + s6 + d6 + udp


def outcome(call, *args):
    """call(*args): "ok", or the errno name of what it raised."""
    try:
        call(*args)
        return "ok"
    except OSError as e:
        return ename(e)


def raw_send(src, dst, dport, payload):
    """Sends a UDP datagram with a forged IP header (IPPROTO_RAW implies
    IP_HDRINCL): "ok" or the errno name."""
    return raw_sends([(src, dst, dport, payload)])[0]


def raw_sends(sends):
    """raw_send for each (src, dst, dport, payload) in turn, all through one
    raw socket (of the first's family): the outcome of each."""
    s = socket.socket(family(sends[0][1]), socket.SOCK_RAW, socket.IPPROTO_RAW)
    out = []
    try:
        for src, dst, dport, payload in sends:
            out.append(outcome(s.sendto, udp_packet(src, dst, 40000, dport, payload), sockaddr(dst, 0)))
    finally:
        s.close()
    return out


def owned_sends(src, dst, port, steps, connected=True):
    """As root: one UDP socket bound to src that sends to dst:port (connected
    to it, or with sendto() every time), whose owner root changes with
    fchown() ("chown", uid) between its sends ("send", payload), as it may
    change the policy (("uoamap", arguments), in this namespace) or run a
    command (("sh", command): rmmod, insmod): the outcome of each send
    ("ok" or the errno name). The first step gives it its first owner,
    before it binds src."""
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    out = []
    try:
        for n, (what, arg) in enumerate(steps):
            if what == "chown":
                os.fchown(s.fileno(), arg, -1)
                if n == 0:
                    s.bind(sockaddr(src, 0))
                    if connected:
                        s.connect(sockaddr(dst, port))
            elif what == "uoamap":
                uoa.uoamap(arg)
            elif what == "sh":
                uoa.sh(arg)
            elif connected:
                out.append(outcome(s.send, arg))
            else:
                out.append(outcome(s.sendto, arg, sockaddr(dst, port)))
    finally:
        s.close()
    return out


def handed_listener(src, port, owner, acceptors):
    """As root: a TCP listener on src:port owned by `owner` (fchown before
    bind), handed in turn to a process of each uid in `acceptors`, which
    accepts one connection (the child socket takes the acceptor's uid) and
    writes "from UID" to it. uoa.ready() once listening; returns each
    acceptor's exit status."""
    listener = socket.socket(family(src), socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    os.fchown(listener.fileno(), owner, -1)
    listener.bind(sockaddr(src, port))
    listener.listen(8)
    uoa.ready()
    out = []
    for uid in acceptors:
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                conn, _ = listener.accept()
                conn.settimeout(5)
                with contextlib.suppress(OSError):  # the peer's view is what counts
                    conn.sendall(b"from %d\n" % uid)
                    conn.recv(1)  # until the client gives up
                os._exit(0)
            except BaseException:  # noqa: BLE001 - the status says it
                os._exit(1)
        out.append(os.waitpid(pid, 0)[1])
    listener.close()
    return out


# --- ICMP echo through a ping socket, and who the peer saw ---


def ping_once(dst, payload=b"uoa", src=None, timeout=2):
    """One echo request through an ICMP (ping) socket: "reply", "timeout"
    or the errno name."""
    fam = family(dst)
    s = new_socket("ping", fam)
    s.settimeout(timeout)
    try:
        if src is not None:
            s.bind(sockaddr(src, 0))
        kind = 8 if fam == socket.AF_INET else 128
        s.sendto(struct.pack("!BBHHH", kind, 0, 0, 0, 1) + payload, sockaddr(dst, 0))
        s.recv(1024)
        return "reply"
    except OSError as e:
        return ename(e)
    finally:
        s.close()


def echo_sniffer(fam):
    """Runs as root in the receiving namespace: records (source, payload)
    of every ICMP echo request whose payload starts with b"uoa", until one
    with payload b"uoa-end" arrives; returns the list. Calls uoa.ready()
    once listening."""
    proto = socket.IPPROTO_ICMP if fam == socket.AF_INET else socket.IPPROTO_ICMPV6
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    s.settimeout(30)
    uoa.ready()
    got = []
    while True:
        data, peer = s.recvfrom(4096)
        if fam == socket.AF_INET:
            data = data[(data[0] & 15) * 4 :]
        if data[0] not in (8, 128) or not data[8:].startswith(b"uoa"):
            continue
        if data[8:] == b"uoa-end":
            return got
        got.append((plain(peer[0]), data[8:].decode()))


def proc_listeners(port):
    """uids of the TCP listeners on `port` in this namespace (/proc/net)."""
    uids = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    uids.append(int(fields[7]))
    return sorted(uids)


def proc_time_wait(port):
    """How many TIME_WAIT sockets have local port `port` here."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "06" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    n += 1
    return n


def wait_until(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise uoa.Fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def ifindex(name):
    return socket.if_nametoindex(name)


def check_table(rows, results, what):
    """Compares results to expectations; one AssertionError listing every
    mismatch. Each row is (label, expected) where expected is a string, a
    tuple of acceptable strings, or a predicate."""
    bad = []
    for (label, expected), got in zip(rows, results):
        if callable(expected):
            ok = expected(got)
        elif isinstance(expected, tuple):
            ok = got in expected
        else:
            ok = got == expected
        if not ok:
            bad.append(f"{label}: expected {getattr(expected, '__name__', expected)!s}, got {got!r}")
    assert not bad, f"{what}: {len(bad)} of {len(rows)} wrong:\n  " + "\n  ".join(bad)


def traffic(port, targets, max_seconds=60):
    """Runs in a client namespace: a TCP connection and a UDP datagram to
    each of targets:port, round after round, until SIGUSR1 (or
    max_seconds); uoa.ready() after the first round. Returns every
    outcome."""
    import signal

    stop = []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(True))
    out, first = [], True
    end = time.monotonic() + max_seconds
    while not stop and time.monotonic() < end:
        for addr in targets:
            out.append(tcp_ask(addr, port, timeout=1))
            out.append(udp_ask(addr, port, timeout=1))
        if first:
            uoa.ready(out[:])
            first = False
    return out


def finish(child, timeout=60):
    """Stops a traffic() child and returns its outcomes."""
    import signal

    os.kill(child.pid, signal.SIGUSR1)
    return child.result(timeout)


def answered_by(results):
    """The uids (as strings) that answered, or the errno names."""
    return [r.split()[0] if r.count(" ") == 2 else r for r in results]
