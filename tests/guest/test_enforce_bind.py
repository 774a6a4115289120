"""R2, bind(): a managed uid binds only its own addresses (IPv4, IPv6,
v4-mapped; TCP, UDP, raw, ping; also with IP_FREEBIND, IP_TRANSPARENT and
ip_nonlocal_bind), the wildcard means "my addresses" so that managed uids
share ports, ports below 1024 follow the namespace's low-ports option; an
unmanaged uid cannot bind a managed address, root sees a stock kernel.
The network and the policy are in enforce_net.py."""

import socket

import uoa
import enforce_net as en
from enforce_net import (A11, A11_6, A11X, A11X_6, A12, A12_6, A13, CLI4, FREE, FREE_6, NONLOCAL, NONLOCAL_6, NS,
                         ROOT, U11, U12, V, SOL_IP, SOL_IPV6)

E = "EADDRNOTAVAIL"
V2 = 1015  # a second unmanaged uid
FREEBIND4 = ((SOL_IP, en.IP_FREEBIND, 1),)
FREEBIND6 = ((SOL_IPV6, en.IPV6_FREEBIND, 1),)
TRANSPARENT4 = ((SOL_IP, en.IP_TRANSPARENT, 1),)
TRANSPARENT6 = ((SOL_IPV6, en.IPV6_TRANSPARENT, 1),)
V6ONLY = ((SOL_IPV6, socket.IPV6_V6ONLY, 1),)
DUAL = ((SOL_IPV6, socket.IPV6_V6ONLY, 0),)


def mapped(a):
    return "::ffff:" + a


def run_rows(rows, caps=(), actors=((U11, 0), (V, 1), (ROOT, 2)), what=""):
    """rows: (label, kind, addr, opts, expected for each actor...). Runs
    every row's bind as each actor (one child per actor) and checks."""
    for uid, col in actors:
        cases = [(kind, addr, 0, opts) for _, kind, addr, opts, *_ in rows]
        got = uoa.run_caps(en.binds, cases, uid=uid, netns=NS, caps=caps)
        en.check_table([(label, exp[col]) for label, _, _, _, *exp in rows], got,
                       f"{what} as uid {uid if uid is not None else 0}")


# (label, kind, address, options, u11 (managed), V (unmanaged), root)
SPECIFIC = [
    ("tcp4 own", "tcp", A11, (), "ok", E, "ok"),
    ("tcp6 own", "tcp", A11_6, (), "ok", E, "ok"),
    ("udp4 own", "udp", A11, (), "ok", E, "ok"),
    ("udp6 own", "udp", A11_6, (), "ok", E, "ok"),
    ("tcp6 own v4-mapped", "tcp", mapped(A11), (), "ok", E, "ok"),
    ("udp6 own v4-mapped", "udp", mapped(A11), (), "ok", E, "ok"),
    ("tcp4 other uid's", "tcp", A12, (), E, E, "ok"),
    ("tcp6 other uid's", "tcp", A12_6, (), E, E, "ok"),
    ("udp4 other uid's", "udp", A12, (), E, E, "ok"),
    ("udp6 other uid's", "udp", A12_6, (), E, E, "ok"),
    ("tcp4 other uid's on another interface", "tcp", A13, (), E, E, "ok"),
    ("tcp6 other uid's v4-mapped", "tcp", mapped(A12), (), E, E, "ok"),
    ("udp6 other uid's v4-mapped", "udp", mapped(A12), (), E, E, "ok"),
    ("tcp4 unowned local", "tcp", FREE, (), E, "ok", "ok"),
    ("tcp6 unowned local", "tcp", FREE_6, (), E, "ok", "ok"),
    ("udp4 unowned local", "udp", FREE, (), E, "ok", "ok"),
    ("udp6 unowned local", "udp", FREE_6, (), E, "ok", "ok"),
    ("tcp6 unowned local v4-mapped", "tcp", mapped(FREE), (), E, "ok", "ok"),
    ("tcp4 loopback", "tcp", "127.0.0.1", (), E, "ok", "ok"),
    ("tcp6 loopback", "tcp", "::1", (), E, "ok", "ok"),
    ("udp4 loopback", "udp", "127.0.0.1", (), E, "ok", "ok"),
    ("udp6 loopback", "udp", "::1", (), E, "ok", "ok"),
    ("udp6 loopback v4-mapped", "udp", mapped("127.0.0.1"), (), E, "ok", "ok"),
    ("tcp4 wildcard", "tcp", "0.0.0.0", (), "ok", "ok", "ok"),
    ("tcp6 wildcard", "tcp", "::", (), "ok", "ok", "ok"),
    ("udp4 wildcard", "udp", "0.0.0.0", (), "ok", "ok", "ok"),
    ("udp6 wildcard", "udp", "::", (), "ok", "ok", "ok"),
    # Not local: stock refuses it unless FREEBIND/TRANSPARENT/nonlocal_bind.
    ("tcp4 own, not configured", "tcp", A11X, (), E, E, E),
    ("tcp6 own, not configured", "tcp", A11X_6, (), E, E, E),
    ("tcp4 own, not configured, FREEBIND", "tcp", A11X, FREEBIND4, "ok", E, "ok"),
    ("udp6 own, not configured, FREEBIND", "udp", A11X_6, FREEBIND6, "ok", E, "ok"),
    ("tcp4 other uid's, FREEBIND", "tcp", A12, FREEBIND4, E, E, "ok"),
    ("udp6 other uid's, FREEBIND", "udp", A12_6, FREEBIND6, E, E, "ok"),
    ("udp4 not local, FREEBIND", "udp", NONLOCAL, FREEBIND4, E, "ok", "ok"),
    ("tcp6 not local, FREEBIND", "tcp", NONLOCAL_6, FREEBIND6, E, "ok", "ok"),
    ("tcp4 loopback, FREEBIND", "tcp", "127.0.0.1", FREEBIND4, E, "ok", "ok"),
]

# With CAP_NET_ADMIN, which IP_TRANSPARENT needs.
TRANSPARENT = [
    ("tcp4 own, TRANSPARENT", "tcp", A11, TRANSPARENT4, "ok", E, "ok"),
    ("udp6 own, TRANSPARENT", "udp", A11_6, TRANSPARENT6, "ok", E, "ok"),
    ("tcp4 own, not configured, TRANSPARENT", "tcp", A11X, TRANSPARENT4, "ok", E, "ok"),
    ("tcp4 other uid's, TRANSPARENT", "tcp", A12, TRANSPARENT4, E, E, "ok"),
    ("udp4 other uid's, TRANSPARENT", "udp", A12, TRANSPARENT4, E, E, "ok"),
    ("tcp6 other uid's, TRANSPARENT", "tcp", A12_6, TRANSPARENT6, E, E, "ok"),
    ("udp6 other uid's, TRANSPARENT", "udp", A12_6, TRANSPARENT6, E, E, "ok"),
    ("tcp4 not local, TRANSPARENT", "tcp", NONLOCAL, TRANSPARENT4, E, "ok", "ok"),
    ("udp6 not local, TRANSPARENT", "udp", NONLOCAL_6, TRANSPARENT6, E, "ok", "ok"),
    ("tcp6 unowned local, TRANSPARENT", "tcp", FREE_6, TRANSPARENT6, E, "ok", "ok"),
]

# Raw (CAP_NET_RAW) and ping sockets (ping_group_range is open in es).
RAW_PING = [
    ("raw4 own", "raw", A11, (), "ok", E, "ok"),
    ("raw6 own", "raw", A11_6, (), "ok", E, "ok"),
    ("raw4 other uid's", "raw", A12, (), E, E, "ok"),
    ("raw6 other uid's", "raw", A12_6, (), E, E, "ok"),
    ("raw4 unowned local", "raw", FREE, (), E, "ok", "ok"),
    ("raw6 unowned local", "raw", FREE_6, (), E, "ok", "ok"),
    ("raw4 loopback", "raw", "127.0.0.1", (), E, "ok", "ok"),
    ("raw6 loopback", "raw", "::1", (), E, "ok", "ok"),
    ("raw4 not local, FREEBIND", "raw", NONLOCAL, FREEBIND4, E, "ok", "ok"),
    ("raw4 wildcard", "raw", "0.0.0.0", (), "ok", "ok", "ok"),
    ("ping4 own", "ping", A11, (), "ok", E, "ok"),
    ("ping6 own", "ping", A11_6, (), "ok", E, "ok"),
    ("ping4 other uid's", "ping", A12, (), E, E, "ok"),
    ("ping6 other uid's", "ping", A12_6, (), E, E, "ok"),
    ("ping4 unowned local", "ping", FREE, (), E, "ok", "ok"),
    ("ping6 unowned local", "ping", FREE_6, (), E, "ok", "ok"),
    ("ping4 loopback", "ping", "127.0.0.1", (), E, "ok", "ok"),
    ("ping6 loopback", "ping", "::1", (), E, "ok", "ok"),
    ("ping4 not local, FREEBIND", "ping", NONLOCAL, FREEBIND4, E, "ok", "ok"),
    ("ping4 wildcard", "ping", "0.0.0.0", (), "ok", "ok", "ok"),
    ("ping6 wildcard", "ping", "::", (), "ok", "ok", "ok"),
]


def test_bind_specific_addresses_tcp_udp():
    with en.network():
        run_rows(SPECIFIC, what="bind")
        run_rows(TRANSPARENT, caps=[uoa.CAP_NET_ADMIN], what="bind with IP_TRANSPARENT")


def test_bind_raw_and_ping_sockets():
    with en.network():
        ping = [r for r in RAW_PING if r[1] == "ping"]
        raw = [r for r in RAW_PING if r[1] == "raw"]
        run_rows(ping, what="bind of ping sockets")
        run_rows(raw, caps=[uoa.CAP_NET_RAW], what="bind of raw sockets")


def test_bind_with_ip_nonlocal_bind():
    with en.network():
        uoa.sysctl("net.ipv4.ip_nonlocal_bind", 1, netns=NS)
        uoa.sysctl("net.ipv6.ip_nonlocal_bind", 1, netns=NS)
        run_rows([
            ("tcp4 not local", "tcp", NONLOCAL, (), E, "ok", "ok"),
            ("udp6 not local", "udp", NONLOCAL_6, (), E, "ok", "ok"),
            ("tcp4 other uid's", "tcp", A12, (), E, E, "ok"),
            ("udp6 other uid's", "udp", A12_6, (), E, E, "ok"),
            ("tcp4 own, not configured", "tcp", A11X, (), "ok", E, "ok"),
            ("tcp6 own, not configured", "tcp", A11X_6, (), "ok", E, "ok"),
            ("udp4 loopback", "udp", "127.0.0.1", (), E, "ok", "ok"),
            ("ping4 not local", "ping", NONLOCAL, (), E, "ok", "ok"),
        ], what="bind with ip_nonlocal_bind=1")


def test_bind_with_real_clients():
    """socat and nc, as the managed uid, the unmanaged one and root."""

    def client(cmd, uid):
        p = uoa.sh(cmd, uid=uid, netns=NS, check=False)
        if p.returncode == 0:
            return "ok"
        return E if "Cannot assign requested address" in p.stderr else f"rc={p.returncode}: {p.stderr.strip()}"

    cases = [
        ("socat udp from own", f"socat -u /dev/null UDP-SENDTO:{CLI4}:9,bind={A11}", U11, "ok"),
        ("socat udp from other uid's", f"socat -u /dev/null UDP-SENDTO:{CLI4}:9,bind={A12}", U11, E),
        ("socat tcp listen on other uid's", f"timeout 5 socat -u TCP6-LISTEN:7077,bind=[{A12_6}] /dev/null", U11, E),
        ("socat udp from managed, unmanaged", f"socat -u /dev/null UDP-SENDTO:{CLI4}:9,bind={A11}", V, E),
        ("socat udp from unowned, unmanaged", f"socat -u /dev/null UDP-SENDTO:{CLI4}:9,bind={FREE}", V, "ok"),
        ("nc udp from own v6", f"nc -u -w0 -s {A11_6} {en.CLI6} 9 </dev/null", U11, "ok"),
        ("nc udp from other uid's v6", f"nc -u -w0 -s {A12_6} {en.CLI6} 9 </dev/null", U11, E),
        ("nc udp from unowned", f"nc -u -w0 -s {FREE} {CLI4} 9 </dev/null", U11, E),
        ("nc udp from managed, root", f"nc -u -w0 -s {A12} {CLI4} 9 </dev/null", ROOT, "ok"),
    ]
    with en.network() as net:
        net.server(en.udp_server(CLI4, 9) + en.udp_server(en.CLI6, 9), netns=en.CLI)
        got = [client(cmd, uid) for _, cmd, uid, _ in cases]
        en.check_table([(label, exp) for label, _, _, exp in cases], got, "real clients")


def test_low_ports_follow_the_namespace_option():
    def options():
        g = uoa.Genl()
        try:
            attrs = g.request(g.family_id("uoa"), uoa.UOA_CMD_GET_STATUS)
            return int.from_bytes(attrs[uoa.UOA_A_OPTIONS], "little")
        finally:
            g.close()

    with en.network():
        rows = [
            ("tcp4 own :80", "tcp", A11, 80),
            ("tcp6 own :80", "tcp", A11_6, 80),
            ("udp4 own :53", "udp", A11, 53),
            ("udp6 own :53", "udp", A11_6, 53),
            ("tcp4 wildcard :80", "tcp", "0.0.0.0", 80),
            ("tcp6 wildcard :80", "tcp", "::", 80),
            ("udp4 wildcard :53", "udp", "0.0.0.0", 53),
            ("udp6 wildcard :53", "udp", "::", 53),
            ("tcp4 other uid's :80", "tcp", A12, 80),
            ("tcp6 other uid's :80", "tcp", A12_6, 80),
            ("tcp4 unowned :80", "tcp", FREE, 80),
            ("udp6 unowned :53", "udp", FREE_6, 53),
            ("tcp4 own :1024", "tcp", A11, 1024),
        ]

        def check(expect_u11, expect_v, expect_root, what):
            cases = [(kind, addr, port, ()) for _, kind, addr, port in rows]
            for uid, expect in ((U11, expect_u11), (V, expect_v), (ROOT, expect_root)):
                got = uoa.run_as(en.binds, cases, uid=uid, netns=NS)
                en.check_table(list(zip([r[0] for r in rows], expect)), got, f"{what}, uid {uid or 0}")

        A, P = "EACCES", "ok"
        off_u11 = [A, A, A, A, A, A, A, A, E, E, E, E, P]
        off_v = [E, E, E, E, A, A, A, A, E, E, A, A, E]
        check(off_u11, off_v, [P] * 13, "low-ports off (default)")
        assert uoa.run_as(options, netns=NS) == 0

        uoa.uoamap("set low-ports on", netns=NS)
        assert uoa.run_as(options, netns=NS) == uoa.UOA_OPT_LOW_PORTS
        on_u11 = [P, P, P, P, P, P, P, P, E, E, E, E, P]
        check(on_u11, off_v, [P] * 13, "low-ports on")
        # Another namespace keeps its own option.
        uoa.uoamap("add 10.7.0.2 u11 111", netns=en.CLI)
        got = uoa.run_as(en.binds, [("tcp", "0.0.0.0", 80, ()), ("tcp", CLI4, 80, ())], uid=U11, netns=en.CLI)
        assert got == ["EACCES", "EACCES"], got

        uoa.uoamap("set low-ports off", netns=NS)
        assert uoa.run_as(options, netns=NS) == 0
        check(off_u11, off_v, [P] * 13, "low-ports off again")


def test_wildcard_binds_share_ports_between_uids():
    """Two managed uids (and an unmanaged one) hold 0.0.0.0:P and [::]:P,
    TCP and UDP, at once; the same uid twice, two unmanaged uids, and root
    next to a managed wildcard get EADDRINUSE as stock would."""
    P = 7300
    quad = [("tcp", "0.0.0.0", P, ()), ("tcp", "::", P, V6ONLY), ("udp", "0.0.0.0", P, ()), ("udp", "::", P, V6ONLY)]
    used = ["EADDRINUSE"] * 4
    with en.network() as net:
        for uid in (U11, U12):
            _, got = net.server(quad, uid=uid)
            assert got == ["ok"] * 4, (uid, got)
        # Root keeps stock rules: its wildcard clashes with theirs.
        assert uoa.run_as(en.held_binds, quad, netns=NS) == used
        # The same uid twice: stock.
        assert uoa.run_as(en.held_binds, quad, uid=U11, netns=NS) == used
        # An unmanaged uid's wildcard covers no managed address: it fits.
        _, got = net.server(quad, uid=V)
        assert got == ["ok"] * 4, got
        # Two unmanaged uids: stock.
        assert uoa.run_as(en.held_binds, quad, uid=V2, netns=NS) == used
        # Dual-stack wildcards ([::] without V6ONLY cover IPv4 too).
        dual = [("tcp", "::", P + 1, DUAL), ("udp", "::", P + 1, DUAL)]
        for uid in (U11, U12):
            _, got = net.server(dual, uid=uid)
            assert got == ["ok", "ok"], (uid, got)
        assert uoa.run_as(en.held_binds, [("tcp", "0.0.0.0", P + 1, ()), ("udp", "0.0.0.0", P + 1, ())],
                          uid=U11, netns=NS) == ["EADDRINUSE"] * 2
        assert uoa.run_as(en.held_binds, dual, netns=NS) == ["EADDRINUSE"] * 2  # root
        # Root's specific binds on an address that is not u11's, then u11's
        # and u12's wildcards next to them.
        specific = [("tcp", FREE, P + 2, ()), ("tcp", FREE_6, P + 2, V6ONLY), ("udp", FREE, P + 2, ()),
                    ("udp", FREE_6, P + 2, V6ONLY)]
        _, got = net.server(specific)
        assert got == ["ok"] * 4, got
        wild = [(k, "0.0.0.0" if "." in a else "::", p, o) for k, a, p, o in specific]
        for uid in (U11, U12):
            _, got = net.server(wild, uid=uid)
            assert got == ["ok"] * 4, (uid, got)
        # An unmanaged uid's wildcard does cover root's unowned address:
        # stock clash.
        assert uoa.run_as(en.held_binds, wild, uid=V, netns=NS) == used
        # A managed wildcard next to root's bind on that uid's own address
        # clashes: both cover it.
        _, got = net.server([("tcp", A11, P + 3, ()), ("udp", A11_6, P + 3, V6ONLY)])
        assert got == ["ok", "ok"], got
        got = uoa.run_as(en.held_binds, [("tcp", "0.0.0.0", P + 3, ()), ("udp", "::", P + 3, V6ONLY)], uid=U11,
                         netns=NS)
        assert got == ["EADDRINUSE"] * 2, got
        got = uoa.run_as(en.held_binds, [("tcp", "0.0.0.0", P + 3, ()), ("udp", "::", P + 3, V6ONLY)], uid=U12,
                         netns=NS)
        assert got == ["ok"] * 2, got
