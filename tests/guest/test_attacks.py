"""Attack matrix: ways a user might get around UOA's rules, one row each,
each tried by three actors in the UOA host es: the attacker (managed
u12, whose victim is u11; for the R1 rows u13, held to w0), an unmanaged
uid (1014) and root. Each row names the outcome it expects for each
actor: an errno name, "ok", or what the other side saw. The unmanaged and
root columns show stock behaviour, except that an address of a managed
uid is reserved for it. The network and the policy are in enforce_net.py,
plus a block of u11's (10.7.5.0/24, 2001:db8:75::/64)."""

import ctypes
import errno
import os
import socket
import struct

import uoa
import enforce_net as en
from enforce_net import (A11, A11_6, A12, A12_6, CLI, CLI4, CLI6, FREE, FREE_6, FREE13_6, NONLOCAL, NONLOCAL_6,
                         NS, OTH4, ROOT, U11, U12, U13, V, SOL_IP, SOL_IPV6)

E = "EADDRNOTAVAIL"
PORT = 7600  # the servers in ec (root): TCP and UDP, IPv4 and IPv6
BLOCK, BLOCK_6 = "10.7.5.9", "2001:db8:75::9"  # in u11's blocks, not configured
POLICY = en.POLICY + "10.7.5.0/24 u11 111\n2001:db8:75::/64 u11 111\n"
SOL_SOCKET = socket.SOL_SOCKET
REUSEADDR = ((SOL_SOCKET, socket.SO_REUSEADDR, 1),)
REUSEPORT = ((SOL_SOCKET, en.SO_REUSEPORT, 1),)
DUAL = ((SOL_IPV6, socket.IPV6_V6ONLY, 0),)
V6ONLY = ((SOL_IPV6, socket.IPV6_V6ONLY, 1),)
V0_V6 = {FREE_6, A11_6, A12_6, FREE13_6}


class Row:
    def __init__(self, name, call, managed, unmanaged, root, caps=(), setup=None, attacker=U12):
        self.name, self.call, self.caps, self.setup, self.attacker = name, call, caps, setup, attacker
        self.expect = (managed, unmanaged, root)


def sh(cmd):
    """A row run as a shell command."""
    return ("sh", cmd)


# --- what the actors run (in a child, as the actor, in es) ---


def attempt(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - a row reports, the matrix goes on
        return f"exception {type(e).__name__}: {e}"


def bind_scoped(kind, addr, ifname):
    s = en.new_socket(kind, socket.AF_INET6)
    try:
        s.bind((addr, 0, 0, socket.if_nametoindex(ifname)))
        return "ok"
    except OSError as e:
        return en.ename(e)
    finally:
        s.close()


def raw_bind_unspec(addr):
    """bind() of a raw IPv4 socket with sin_family AF_UNSPEC: raw_bind()
    never looks at the family."""
    libc = ctypes.CDLL(None, use_errno=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    try:
        sa = struct.pack("=HH4s8x", socket.AF_UNSPEC, 0, socket.inet_aton(addr))
        if libc.bind(s.fileno(), sa, len(sa)) != 0:
            return errno.errorcode[ctypes.get_errno()]
        return "ok"
    finally:
        s.close()


def fchown_then_bind(to_uid, addr):
    s = en.new_socket("tcp", socket.AF_INET)
    try:
        os.fchown(s.fileno(), to_uid, -1)
    except OSError as e:
        s.close()
        return en.ename(e)
    try:
        s.bind((addr, 0))
        return "ok/ok"
    except OSError as e:
        return "ok/" + en.ename(e)
    finally:
        s.close()


_tags = iter(range(1, 1 << 30))


def delivered(dst, tag, src, sent):
    """The outcome of a send: its errno, or whether the server in ec got
    the tag from src ("ok"), from elsewhere, or not at all."""
    if sent != "ok":
        return sent + "+delivered" if en.seen(dst, PORT, tag) else sent
    if en.seen(dst, PORT, tag + b"@" + src.encode(), 2):
        return "ok"
    return "wrong-source" if en.seen(dst, PORT, tag) else "lost"


def send(dst, cmsg=(), opts=(), fam=None, payload=None, expect_src=None):
    """One UDP datagram to the server in ec; see delivered()."""
    tag = payload or f"t{os.getpid()}-{next(_tags)}".encode()
    s = None
    try:
        s = en.new_socket("udp", fam or en.family(dst), opts)
        s.sendmsg([tag], list(cmsg), 0, en.sockaddr(dst, PORT))
        sent = "ok"
    except OSError as e:
        sent = en.ename(e)
    finally:
        if s is not None:
            s.close()
    if expect_src is None:
        return sent
    return delivered(en.plain(dst), tag, expect_src, sent)


def send_pktinfo(dst, src):
    cmsg = en.pktinfo6(src) if ":" in src else en.pktinfo4(src)
    return send(dst, cmsg, expect_src=en.plain(src))


def send_2292pktinfo(dst, src):
    """The RFC 2292 spelling of the IPv6 source cmsg (IPV6_2292PKTINFO)."""
    cmsg = [(SOL_IPV6, 2, socket.inet_pton(socket.AF_INET6, src) + struct.pack("=I", 0))]
    return send(dst, cmsg, expect_src=src)


def send_mapped_pktinfo(dst4, src4):
    return send("::ffff:" + dst4, en.pktinfo6("::ffff:" + src4), fam=socket.AF_INET6, expect_src=src4)


def send_transparent_pktinfo(dst, src):
    return send(dst, en.pktinfo4(src), opts=((SOL_IP, en.IP_TRANSPARENT, 1),), expect_src=src)


def send_raw_pktinfo(dst, src):
    """A raw (not IP_HDRINCL) UDP socket: the kernel builds the IP header
    with the IP_PKTINFO source."""
    tag = f"raw{os.getpid()}-{next(_tags)}".encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    try:
        s.sendmsg([struct.pack("!HHHH", 40001, PORT, 8 + len(tag), 0) + tag], en.pktinfo4(src), 0, (dst, 0))
        sent = "ok"
    except OSError as e:
        sent = en.ename(e)
    finally:
        s.close()
    return delivered(dst, tag, src, sent)


def send_multicast_if(addr):
    """IP_MULTICAST_IF naming an address: it becomes the source of
    multicast datagrams."""
    return send("239.1.2.3", opts=((SOL_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr)),))


def spoof(src, dst):
    tag = f"spoof{os.getpid()}-{next(_tags)}".encode()
    return delivered(dst, tag, src, en.raw_send(src, dst, PORT, tag))


def peer_seen(fn, dst, *args):
    """What source the server in ec (or in es) saw for an unbound socket's
    connection or datagram."""
    got = fn(dst, *args)
    return got.split()[2] if got.count(" ") == 2 else got


def connect_transparent(dst):
    return peer_seen(en.tcp_ask, dst, PORT, None, ((SOL_IP, en.IP_TRANSPARENT, 1),))


def r1_connect(dst, opts, fam=None):
    got = en.udp_local(dst, 9, opts, fam)
    return "ok" if got.replace(".", ":").count(":") else got


def send_unicast_if(dst, ifname):
    return send(dst, opts=((SOL_IP, en.IP_UNICAST_IF, struct.pack("!I", socket.if_nametoindex(ifname))),))


def send_pktinfo_ifindex(dst, ifname):
    return send(dst, en.pktinfo4("0.0.0.0", socket.if_nametoindex(ifname)))


def steal(kind, addr, port, opts, target):
    """Binds (and listens on) addr:port, then sends to the victim's
    target:port from a second socket: which uid answered, and whether our
    socket got any of it ("ok/1011" means the bind worked and only u11's
    socket saw the traffic)."""
    s = en.new_socket(kind, en.family(addr), opts)
    try:
        s.bind(en.sockaddr(addr, port))
        if kind == "tcp":
            s.listen(8)
    except OSError as e:
        s.close()
        return en.ename(e)
    ask = en.tcp_ask if kind == "tcp" else en.udp_ask
    answers = {a.split()[0] if a.count(" ") == 2 else a for a in (ask(target, port, timeout=1) for _ in range(3))}
    s.setblocking(False)
    stolen = 0
    while True:
        try:
            if kind == "tcp":
                s.accept()[0].close()
            else:
                s.recv(512)
            stolen += 1
        except BlockingIOError:
            break
    s.close()
    return "ok/" + ",".join(sorted(answers)) + ("/stolen" if stolen else "")


def time_wait_reuse(port):
    """Binds the victim's TIME_WAIT address and port (SO_REUSEADDR) and
    connects to the same peer: the TIME_WAIT's 4-tuple."""
    s = en.new_socket("tcp", socket.AF_INET, REUSEADDR)
    s.settimeout(3)
    try:
        try:
            s.bind((A11, port))
        except OSError as e:
            return "bind:" + en.ename(e)
        try:
            s.connect((CLI4, PORT))
            return "connected"
        except OSError as e:
            return "connect:" + en.ename(e)
    finally:
        s.close()


def make_time_wait(port):
    """As u11: a connection from 10.7.0.11:port that this side closes
    first, leaving it in TIME_WAIT."""
    s = en.new_socket("tcp", socket.AF_INET, REUSEADDR)
    s.settimeout(3)
    s.bind((A11, port))
    s.connect((CLI4, PORT))
    s.recv(256)
    s.close()
    en.wait_until(lambda: en.proc_time_wait(port) > 0, 10, "TIME_WAIT")


# --- row setups (in the parent, as root); each returns its undo ---


def sysctls(*pairs):
    def setup(net):
        for name, value in pairs:
            uoa.sysctl(name, value, netns=NS)
        return lambda: [uoa.sysctl(name, 0, netns=NS) for name, _ in pairs]
    return setup


def low_ports(net):
    net.uoamap("set low-ports on")
    return lambda: net.uoamap("set low-ports off")


def time_wait_still_there(port):
    """Fails the row if u11's TIME_WAIT on port, made at the test's start,
    is gone: then a wildcard bind that succeeds says nothing about UOA."""
    def setup(net):
        if not uoa.run_as(en.proc_time_wait, port, uid=0, netns=NS):
            raise AssertionError(f"u11's TIME_WAIT on port {port} ended before its row")
    return setup


def victim(specs):
    """u11 serves specs during the row."""
    def setup(net):
        child, got = net.server(specs, uid=U11)
        assert got == ["ok"] * len(specs), got
        return lambda: net.stop(child)
    return setup


def root_server(specs):
    def setup(net):
        child, got = net.server(specs)
        assert got == ["ok"] * len(specs), got
        return lambda: net.stop(child)
    return setup


def not_managed(addr):
    return addr not in en.MANAGED and addr.replace(".", ":").count(":") > 0


def in_v0_v6(addr):
    return addr in V0_V6


def unmanaged_v0_v6(addr):
    return addr in V0_V6 - en.MANAGED


def bound_ok(result):
    return result.startswith("ok")


# --- the matrix ---

RAW, ADMIN = [uoa.CAP_NET_RAW], [uoa.CAP_NET_ADMIN]
FB4, FB6 = ((SOL_IP, en.IP_FREEBIND, 1),), ((SOL_IPV6, en.IPV6_FREEBIND, 1),)
TP4, TP6 = ((SOL_IP, en.IP_TRANSPARENT, 1),), ((SOL_IPV6, en.IPV6_TRANSPARENT, 1),)
TO_V0 = ((SOL_SOCKET, en.SO_BINDTODEVICE, b"v0"),)  # v0 is not u13's (w0 is)


def bind_rows(ll):
    b = en.bind
    return [
        Row("tcp4 bind other uid's address", (b, "tcp", A11), E, E, "ok"),
        Row("tcp6 bind other uid's address", (b, "tcp", A11_6), E, E, "ok"),
        Row("udp4 bind other uid's address", (b, "udp", A11), E, E, "ok"),
        Row("udp6 bind other uid's address", (b, "udp", A11_6), E, E, "ok"),
        Row("tcp6 bind other uid's address v4-mapped", (b, "tcp", "::ffff:" + A11), E, E, "ok"),
        Row("udp6 bind unowned address v4-mapped", (b, "udp", "::ffff:" + FREE), E, "ok", "ok"),
        Row("tcp4 bind unowned local address", (b, "tcp", FREE), E, "ok", "ok"),
        Row("udp6 bind unowned local address", (b, "udp", FREE_6), E, "ok", "ok"),
        Row("udp6 bind link-local address of v0", (bind_scoped, "udp", ll, "v0"), E, "ok", "ok"),
        Row("tcp4 bind 127.0.0.1", (b, "tcp", "127.0.0.1"), E, "ok", "ok"),
        Row("udp6 bind ::1", (b, "udp", "::1"), E, "ok", "ok"),
        Row("udp4 bind 127.0.0.5 (lo's /8)", (b, "udp", "127.0.0.5"), E, "ok", "ok"),
        Row("IP_FREEBIND bind other uid's address", (b, "tcp", A11, 0, FB4), E, E, "ok"),
        Row("IP_FREEBIND bind into other uid's block", (b, "udp", BLOCK, 0, FB4), E, E, "ok"),
        Row("IPV6_FREEBIND bind into other uid's block", (b, "tcp", BLOCK_6, 0, FB6), E, E, "ok"),
        Row("IP_FREEBIND bind non-local address", (b, "udp", NONLOCAL, 0, FB4), E, "ok", "ok"),
        Row("IPV6_FREEBIND bind non-local address", (b, "tcp", NONLOCAL_6, 0, FB6), E, "ok", "ok"),
        Row("IP_TRANSPARENT bind other uid's address", (b, "tcp", A11, 0, TP4), E, E, "ok", caps=ADMIN),
        Row("IPV6_TRANSPARENT bind other uid's address", (b, "udp", A11_6, 0, TP6), E, E, "ok", caps=ADMIN),
        Row("IP_TRANSPARENT bind non-local address", (b, "tcp", NONLOCAL, 0, TP4), E, "ok", "ok", caps=ADMIN),
        Row("ip_nonlocal_bind=1, bind non-local address", (b, "tcp", NONLOCAL), E, "ok", "ok",
            setup=sysctls(("net.ipv4.ip_nonlocal_bind", 1))),
        Row("ipv6 ip_nonlocal_bind=1, bind into other uid's block", (b, "udp", BLOCK_6), E, E, "ok",
            setup=sysctls(("net.ipv6.ip_nonlocal_bind", 1))),
        Row("raw4 bind other uid's address", (b, "raw", A11), E, E, "ok", caps=RAW),
        Row("raw6 bind other uid's address", (b, "raw", A11_6), E, E, "ok", caps=RAW),
        Row("raw4 bind other uid's address, sin_family AF_UNSPEC", (raw_bind_unspec, A11), E, E, "ok", caps=RAW),
        Row("ping4 socket bind other uid's address", (b, "ping", A11), E, E, "ok"),
        Row("ping6 socket bind other uid's address", (b, "ping", A11_6), E, E, "ok"),
        Row("tcp6 bind [::]:80, low-ports off", (b, "tcp", "::", 80), "EACCES", "EACCES", "ok"),
        Row("low-ports on: tcp4 bind other uid's address :80", (b, "tcp", A11, 80), E, E, "ok", setup=low_ports),
        Row("low-ports on: tcp4 bind unowned address :80", (b, "tcp", FREE, 80), E, "EACCES", "ok",
            setup=low_ports),
        Row("low-ports on: udp6 bind [::]:53", (b, "udp", "::", 53), "ok", "EACCES", "ok", setup=low_ports),
        Row("fchown socket to u11, then bind unowned address", (fchown_then_bind, U11, FREE), "EPERM", "EPERM",
            "ok/" + E),
        Row("socat connect bound to other uid's address",
            sh(f"socat -u /dev/null TCP:{CLI4}:{PORT},bind={A11},connect-timeout=5"), E, E, "ok"),
        Row("(control) bind own address", (b, "tcp", A12), "ok", E, "ok"),
    ]


def source_rows():
    return [
        Row("IP_PKTINFO source other uid's address", (send_pktinfo, CLI4, A11), E, E, "ok"),
        Row("IP_PKTINFO source unowned address", (send_pktinfo, CLI4, FREE), E, "ok", "ok"),
        Row("IPV6_PKTINFO source other uid's address", (send_pktinfo, CLI6, A11_6), E, E, "ok"),
        Row("IPV6_PKTINFO source unowned address", (send_pktinfo, CLI6, FREE_6), E, "ok", "ok"),
        Row("IPV6_2292PKTINFO source other uid's address", (send_2292pktinfo, CLI6, A11_6), E, E, "ok"),
        Row("IPV6_PKTINFO v4-mapped other uid's, to v4-mapped", (send_mapped_pktinfo, CLI4, A11), E, E, "ok"),
        Row("raw socket with IP_PKTINFO other uid's", (send_raw_pktinfo, CLI4, A11), E, E, "ok", caps=RAW),
        Row("IP_TRANSPARENT + IP_PKTINFO non-local source", (send_transparent_pktinfo, CLI4, NONLOCAL), E, "ok", "ok",
            caps=ADMIN),
        Row("IP_MULTICAST_IF other uid's address", (send_multicast_if, A11), E, E, "ok"),
        Row("raw IP_HDRINCL v4 header from other uid's", (spoof, A11, CLI4), "EPERM", "EPERM", "ok", caps=RAW),
        Row("raw IP_HDRINCL v4 header from unowned", (spoof, FREE, CLI4), "EPERM", "ok", "ok", caps=RAW),
        Row("raw IP_HDRINCL v6 header from other uid's", (spoof, A11_6, CLI6), "EPERM", "EPERM", "ok", caps=RAW),
        Row("raw IP_HDRINCL v6 header from unowned", (spoof, FREE_6, CLI6), "EPERM", "ok", "ok", caps=RAW),
        Row("tcp4 connect without bind: source", (peer_seen, en.tcp_ask, CLI4, PORT), A12, FREE, A11),
        Row("tcp6 connect without bind: source", (peer_seen, en.tcp_ask, CLI6, PORT), A12_6, unmanaged_v0_v6,
            in_v0_v6),
        Row("udp4 sendto without bind: source", (peer_seen, en.udp_ask, CLI4, PORT), A12, FREE, A11),
        Row("udp6 sendto without bind: source", (peer_seen, en.udp_ask, CLI6, PORT), A12_6, unmanaged_v0_v6,
            in_v0_v6),
        Row("tcp6 socket to v4-mapped peer without bind: source", (peer_seen, en.tcp_ask, "::ffff:" + CLI4, PORT),
            A12, FREE, A11),
        Row("IP_TRANSPARENT connect without bind: source", (connect_transparent, CLI4), A12, FREE, A11, caps=ADMIN),
        Row("connect to other uid's local address: source", (peer_seen, en.tcp_ask, A11, PORT + 1), A12,
            not_managed, A11, setup=root_server([("tcp", A11, PORT + 1, ())])),
        Row("ping -I other uid's address", sh(f"ping -c1 -W2 -I {A11} {CLI4}"), E, E, "ok"),
        Row("ping -6 -I other uid's address", sh(f"ping -6 -c1 -W2 -I {A11_6} {CLI6}"), E, E, "ok"),
        Row("ip route get from other uid's address", sh(f"ip route get {CLI4} from {A11}"), E, E, "ok"),
        Row("nc -u -s other uid's address", sh(f"nc -u -w0 -s {A11} {CLI4} {PORT} </dev/null"), E, E, "ok"),
        Row("R1: SO_BINDTODEVICE to a foreign interface", (r1_connect, OTH4, TO_V0), "ENETUNREACH", "ok", "ok",
            attacker=U13),
        Row("R1: SO_BINDTODEVICE to a foreign interface, IPv6", (r1_connect, CLI6, TO_V0), "ENETUNREACH", "ok",
            "ok", attacker=U13),
        Row("R1: IP_UNICAST_IF a foreign interface", (send_unicast_if, CLI4, "v0"), "ENETUNREACH", "ok", "ok",
            attacker=U13),
        Row("R1: IP_PKTINFO ifindex of a foreign interface", (send_pktinfo_ifindex, CLI4, "v0"), "ENETUNREACH",
            "ok", "ok", attacker=U13),
    ]


def sharing_rows():
    P = PORT + 10
    return [
        Row("SO_REUSEPORT wildcard next to u11's SO_REUSEPORT listener",
            (steal, "tcp", "0.0.0.0", P, REUSEPORT, A11), "ok/1011", "ok/1011", "EADDRINUSE",
            setup=victim([("tcp", "0.0.0.0", P, REUSEPORT)])),
        Row("SO_REUSEPORT on u11's address next to its listener", (en.bind, "tcp", A11, P + 1, REUSEPORT), E, E,
            "EADDRINUSE", setup=victim([("tcp", "0.0.0.0", P + 1, REUSEPORT)])),
        Row("udp SO_REUSEADDR wildcard next to u11's", (steal, "udp", "0.0.0.0", P + 2, REUSEADDR, A11),
            "ok/1011", "ok/1011", bound_ok, setup=victim([("udp", "0.0.0.0", P + 2, REUSEADDR)])),
        Row("tcp SO_REUSEADDR on u11's listening address", (en.bind, "tcp", A11, P + 3, REUSEADDR), E, E,
            "EADDRINUSE", setup=victim([("tcp", A11, P + 3, REUSEADDR)])),
        Row("udp wildcard on u11's port, datagrams to u11", (steal, "udp", "0.0.0.0", P + 4, (), A11),
            "ok/1011", "ok/1011", "EADDRINUSE", setup=victim([("udp", "0.0.0.0", P + 4, ())])),
        Row("tcp6 dual-stack wildcard over u11's IPv4 wildcard", (steal, "tcp", "::", P + 5, DUAL, A11),
            "ok/1011", "ok/1011", "EADDRINUSE", setup=victim([("tcp", "0.0.0.0", P + 5, ())])),
        Row("udp6 wildcard on u11's port, datagrams to u11's IPv6", (steal, "udp", "::", P + 6, V6ONLY, A11_6),
            "ok/1011", "ok/1011", "EADDRINUSE", setup=victim([("udp", "::", P + 6, V6ONLY)])),
        Row("TIME_WAIT: wildcard on the port of u11's TIME_WAIT", (en.bind, "tcp", "0.0.0.0", P + 7), "ok", "ok",
            "EADDRINUSE", setup=time_wait_still_there(P + 7)),
        # Root may take over a TIME_WAIT 4-tuple from a bound port (stock,
        # with TCP timestamps): the last row, as it ends the TIME_WAIT.
        Row("TIME_WAIT: reuse u11's 4-tuple", (time_wait_reuse, P + 7), "bind:" + E, "bind:" + E, "connected"),
    ]


def shell_outcome(cmd, uid):
    p = uoa.sh(cmd, uid=uid, netns=NS, check=False)
    if p.returncode == 0:
        return "ok"
    for text, name in (("Cannot assign requested address", E), ("Network is unreachable", "ENETUNREACH"),
                       ("Permission denied", "EACCES"), ("Operation not permitted", "EPERM")):
        if text in p.stderr + p.stdout:
            return name
    return f"rc={p.returncode}: {(p.stderr or p.stdout).strip()[:120]}"


def matches(expected, got):
    return expected(got) if callable(expected) else got == expected


def run_matrix(net, rows, what):
    bad, tried = [], 0
    for row in rows:
        undo = row.setup(net) if row.setup else None
        try:
            for col, uid in enumerate((row.attacker, V, ROOT)):
                if row.call[0] == "sh":
                    got = shell_outcome(row.call[1], uid)
                else:
                    got = uoa.run_caps(attempt, *row.call, uid=uid, netns=NS, caps=row.caps if uid else ())
                tried += 1
                expected = row.expect[col]
                if not matches(expected, got):
                    who = {U12: "u12", U13: "u13", V: "unmanaged", ROOT: "root"}[uid]
                    bad.append(f"{row.name} [{who}]: expected {getattr(expected, '__name__', expected)}, got {got!r}")
        finally:
            if undo:
                undo()
    assert not bad, f"{what}: {len(bad)} of {tried} attempts wrong:\n  " + "\n  ".join(bad)


def test_attacks_on_bind():
    with en.network(policy=POLICY) as net:
        net.server([("tcp", "0.0.0.0", PORT, ()), ("tcp", "::", PORT, V6ONLY)], netns=CLI)
        out = uoa.sh("ip -n es -6 -o addr show dev v0 scope link", netns=None).stdout
        ll = out.split("inet6 ")[1].split("/")[0]
        run_matrix(net, bind_rows(ll), "attacks on bind")


def test_attacks_on_sources():
    with en.network(policy=POLICY) as net:
        net.server([(k, a, PORT, V6ONLY if ":" in a else ()) for k in ("tcp", "udp") for a in ("0.0.0.0", "::")],
                   netns=CLI)
        run_matrix(net, source_rows(), "attacks on sources")


def test_attacks_on_port_sharing():
    with en.network(policy=POLICY) as net:
        net.server([(k, a, PORT, V6ONLY if ":" in a else ()) for k in ("tcp", "udp") for a in ("0.0.0.0", "::")],
                   netns=CLI)
        uoa.run_as(make_time_wait, PORT + 17, uid=U11, netns=NS)
        run_matrix(net, sharing_rows(), "attacks on port sharing")


def test_matrix_is_big_enough():
    """The issue asks for at least 30 distinct attempts."""
    rows = bind_rows("fe80::1") + source_rows() + sharing_rows()
    names = {r.name for r in rows}
    assert len(names) == len(rows) >= 30, len(rows)
