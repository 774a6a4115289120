"""R4: a managed uid changes its own routing table with plain `ip route`,
without capabilities, and sees it as main; everything else it tries over
rtnetlink is refused with its reason. Root and unmanaged uids see a stock
kernel. Driven with iproute2 as each uid, checked with `ip route` as root."""

import errno
import json
import socket
import struct

import uoa

U11, U12, U13 = 1011, 1012, 1013
T11, T12 = 32811, 32812
NS = "rd"
# Attempts for which iproute2 sends two change requests.
TWO_REQUESTS = {"link add d9 type dummy"}


def setup():
    uoa.netns(NS)
    uoa.sh(
        "ip link add dummy0 type dummy && ip link set dummy0 up && "
        "ip link add dummy1 type dummy && ip link set dummy1 up && "
        "ip addr add 10.1.3.1/24 dev dummy0 && ip addr add 10.1.4.1/24 dev dummy0 && "
        "ip addr add 10.1.5.1/24 dev dummy0 && ip addr add 2001:db8:1::11/64 dev dummy0 nodad && "
        "ip route add 10.9.0.0/16 dev dummy0 src 10.1.5.1",
        netns=NS,
    )
    uoa.uoamap(f"add 10.1.3.1 u11 {T11}", netns=NS)
    uoa.uoamap(f"add 2001:db8:1::11 u11 {T11}", netns=NS)
    # u12's entry names dummy0 (R1): its routes may leave through it only.
    uoa.uoamap(f"add 10.1.4.1 u12 {T12} dev dummy0", netns=NS)


def ip(args, uid=None, check=True):
    return uoa.sh(f"ip {args}", uid=uid, netns=NS, check=check)


def refused(args, uid):
    """`ip ARGS` as uid must fail; returns what it printed."""
    p = ip(args, uid=uid, check=False)
    assert p.returncode != 0, (args, uid, p.stdout)
    return p.stderr.strip()


def table(t, family="-4"):
    return ip(f"{family} route show table {t}").stdout


def test_user_routes_land_in_its_own_table():
    setup()
    try:
        main_before = table("main")
        # Before: u11's table has its connected route only; 10.20/16 is unreachable.
        assert uoa.run_as(uoa.connect_udp, socket.AF_INET, "10.20.1.1", uid=U11, netns=NS) == errno.ENETUNREACH
        ip("route add 10.20.0.0/16 via 10.1.3.2", uid=U11)
        ip("-6 route add 2001:db8:20::/48 via 2001:db8:1::2", uid=U11)
        ip("route add blackhole 10.21.0.0/16", uid=U11)
        ip("route add 10.22.0.0/16 dev dummy0 src 10.1.3.1 metric 7", uid=U11)
        t11 = table(T11)
        assert "10.20.0.0/16 via 10.1.3.2 dev dummy0" in t11, t11
        assert "blackhole 10.21.0.0/16" in t11, t11
        assert "10.22.0.0/16 dev dummy0 scope link src 10.1.3.1 metric 7" in t11, t11
        assert "2001:db8:20::/48 via 2001:db8:1::2 dev dummy0" in table(T11, "-6")
        assert table("main") == main_before, "main is untouched"
        assert "10.20.0.0" not in table(T12)

        # u11 sees its table as main: no table id anywhere, nothing of main's.
        shown = ip("route show", uid=U11).stdout
        assert "10.20.0.0/16 via 10.1.3.2 dev dummy0" in shown, shown
        assert "10.1.3.0/24 dev dummy0" in shown, shown
        assert "10.9.0.0/16" not in shown and "table" not in shown, shown
        everything = ip("route show table all", uid=U11).stdout + ip("-6 route show table all", uid=U11).stdout
        assert "table" not in everything and "10.9.0.0" not in everything, everything
        got = ip("route get 10.20.1.1", uid=U11).stdout
        assert "via 10.1.3.2" in got and "table" not in got, got
        # ... and its traffic follows it.
        assert uoa.run_as(uoa.connect_udp, socket.AF_INET, "10.20.1.1", uid=U11, netns=NS) == "10.1.3.1"

        # replace, change, append, del, flush: all in its own table.
        ip("route replace 10.20.0.0/16 via 10.1.3.3", uid=U11)
        assert "10.20.0.0/16 via 10.1.3.3 dev dummy0" in table(T11)
        ip("route change 10.20.0.0/16 via 10.1.3.4", uid=U11)
        assert "10.20.0.0/16 via 10.1.3.4 dev dummy0" in table(T11)
        ip("route append 10.23.0.0/16 via 10.1.3.2", uid=U11)
        ip("route del 10.20.0.0/16", uid=U11)
        t11 = table(T11)
        assert "10.20.0.0" not in t11 and "10.23.0.0/16 via 10.1.3.2" in t11, t11
        ip("-6 route del 2001:db8:20::/48", uid=U11)
        assert "2001:db8:20::" not in table(T11, "-6")
        ip("route flush proto boot", uid=U11)
        t11 = table(T11)
        assert "10.21.0.0" not in t11 and "10.23.0.0" not in t11, t11
        assert "10.1.3.0/24 dev dummy0 proto kernel" in t11, "the connected route stays"
        assert table("main") == main_before

        # Counted: the changes made.
        assert uoa.counters(netns=NS)[U11]["routes_changed"] >= 10
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_everything_else_is_refused_with_its_reason():
    setup()
    try:
        ip(f"route add 10.40.0.0/16 dev dummy0 table {T12}")
        main_before, t12_before = table("main"), table(T12)
        before = uoa.counters(netns=NS)[U11]["routes_refused"]
        attempts = {
            # Another table, by rtm_table, by RTA_TABLE (ids >= 256), by 32-bit id.
            f"route add 10.30.0.0/16 dev dummy0 table {T12}": f"table {T12} belongs to uid {U12}",
            "route add 10.30.0.0/16 dev dummy0 table 100": f"table 100 is not the table of uid {U11}: use main or {T11}",
            "route add 10.30.0.0/16 dev dummy0 table local": f"table 255 is not the table of uid {U11}",
            "route add 10.30.0.0/16 dev dummy0 table 4294967295": "table 4294967295 is not the table",
            f"-6 route add 2001:db8:30::/48 dev dummy0 table {T12}": f"table {T12} belongs to uid {U12}",
            # Types other than unicast, blackhole, unreachable, prohibit.
            "route add local 10.30.0.1 dev dummy0 table main": "uid 1011 may not add local routes (type 2)",
            "route add broadcast 10.30.0.255 dev dummy0 table main": "uid 1011 may not add broadcast routes (type 3)",
            "route add anycast 10.30.0.0 dev dummy0 table main": "uid 1011 may not add anycast routes (type 4)",
            "route add multicast 224.1.0.0/16 dev dummy0 table main": "uid 1011 may not add multicast routes (type 5)",
            "route add nat 10.30.0.1 via 10.1.3.9 table main": "uid 1011 may not add nat routes (type 10)",
            "route add prohibit 10.30.0.0/16 table 253": "table 253 is not the table of uid 1011",
            # A source and a nexthop object that are not its own.
            "route add 10.30.0.0/16 dev dummy0 src 10.1.4.1": "10.1.4.1 is not an address of uid 1011",
            "route add 10.30.0.0/16 dev dummy0 src 10.1.5.1": "10.1.5.1 is not an address of uid 1011",
            "route add 10.30.0.0/16 nhid 1": "uid 1011 may not use nexthop objects (nhid)",
            # Deleting or replacing what is in main or in another table.
            f"route del 10.40.0.0/16 table {T12}": f"table {T12} belongs to uid {U12}",
            f"route replace 10.40.0.0/16 dev dummy0 table {T12}": f"table {T12} belongs to uid {U12}",
            # Anything but routes.
            "rule add from 10.1.3.1 lookup 100": "uid 1011 may change only its own routes",
            "link add d9 type dummy": "uid 1011 may change only its own routes",
            "addr add 10.1.3.9/24 dev dummy0": "uid 1011 may change only its own routes",
            "neigh add 10.1.3.7 lladdr 02:00:00:00:00:01 dev dummy0": "uid 1011 may change only its own routes",
            "nexthop add id 5 dev dummy0": "uid 1011 may change only its own routes",
            "-6 rule add from 2001:db8:1::11 lookup 100": "uid 1011 may change only its own routes",
        }
        for args, reason in attempts.items():
            count = uoa.counters(netns=NS)[U11]["routes_refused"]
            err = refused(args, U11)
            assert reason in err, (args, err)
            # Each refusal counted once (some tools send two requests).
            counted = uoa.counters(netns=NS)[U11]["routes_refused"] - count
            assert counted == (2 if args in TWO_REQUESTS else 1), (args, counted)
        # R1: u12 may route through dummy0 only, every nexthop included.
        for args in ("route add 10.31.0.0/16 dev dummy1",
                     "route add 10.31.0.0/16 nexthop dev dummy0 nexthop dev dummy1"):
            err = refused(args, U12)
            assert "dev dummy1 is not an interface of uid 1012" in err, (args, err)
        ip("route add 10.31.0.0/16 dev dummy0", uid=U12)
        # A route only main has: u11's delete looks in its own table.
        err = refused("route del 10.9.0.0/16", U11)
        assert "No such process" in err or "No such file" in err, err
        # A dump filtered on another table shows nothing of it.
        assert "10.40.0.0" not in ip(f"route show table {T12}", uid=U11).stdout
        assert table("main") == main_before
        t12 = table(T12)
        assert "10.31.0.0/16 dev dummy0 scope link" in t12, t12
        assert len(t12.splitlines()) == len(t12_before.splitlines()) + 1, (t12_before, t12)
        after = uoa.counters(netns=NS)[U11]["routes_refused"]
        assert after - before == len(attempts) + len(TWO_REQUESTS), (before, after)

        # The ioctl interface stays root-only.
        def sioc_addrt():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                import fcntl
                fcntl.ioctl(s, 0x890B, bytes(struct.calcsize("L16s16s16sH") + 128))
            except OSError as e:
                return e.errno
            finally:
                s.close()
        assert uoa.run_as(sioc_addrt, uid=U11, netns=NS) == errno.EPERM

        # The same attempts as an unmanaged uid get the stock refusal, and as
        # root the stock outcome (most succeed): never a reason of UOA's.
        uoa_words = ("uid 101", "belongs to", "is not the table", "is not an address", "may not")
        for args in attempts:
            err = refused(args, U13)
            assert "Operation not permitted" in err and not any(w in err for w in uoa_words), (args, err)
        for args in attempts:
            p = ip(args, check=False)
            assert not any(w in p.stderr for w in uoa_words), (args, p.stderr)
        assert "10.30.0.0/16 dev dummy0" in table(T12), "root's change lands where it says"
        assert "10.30.0.0/16 dev dummy0" in table("100")
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_root_and_unmanaged_see_a_stock_kernel():
    setup()
    try:
        # An unmanaged uid: the stock refusal, no UOA message.
        err = refused("route add 10.50.0.0/16 dev dummy0", U13)
        assert "Operation not permitted" in err and "uid" not in err, err
        # Its dumps show main as main, with everything.
        shown = ip("route show", uid=U13).stdout
        assert "10.9.0.0/16 dev dummy0" in shown, shown
        assert f"table {T11}" in ip("route show table all", uid=U13).stdout
        # Root: main as always, and any table.
        ip("route add 10.50.0.0/16 dev dummy0")
        assert "10.50.0.0/16 dev dummy0" in table("main")
        ip(f"route add 10.51.0.0/16 dev dummy0 table {T11}")
        assert "10.51.0.0/16" in table(T11)
        # ... which u11 then sees as its own, as main.
        assert "10.51.0.0/16 dev dummy0" in ip("route show", uid=U11).stdout
        assert "10.50.0.0" not in ip("route show", uid=U11).stdout
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_uoa_route_is_the_users_tool_for_its_table():
    setup()
    route = uoa.UOAMAP.replace("uoamap", "uoa-route")

    def as_user(args, uid=U11, check=True):
        return uoa.sh(f"{route} {args}", uid=uid, netns=NS, check=check)

    try:
        as_user("add 10.60.0.0/16 via 10.1.3.2 metric 5")
        as_user("add 2001:db8:60::/48 via 2001:db8:1::2")
        as_user("add blackhole 10.61.0.0/16")
        assert "10.60.0.0/16 via 10.1.3.2 dev dummy0 metric 5" in table(T11)
        assert "2001:db8:60::/48 via 2001:db8:1::2 dev dummy0" in table(T11, "-6")
        lines = as_user("show").stdout.splitlines()
        assert "route: 10.60.0.0/16 via 10.1.3.2 dev dummy0 metric 5" in lines, lines
        assert "route: blackhole 10.61.0.0/16" in lines, lines
        shown = json.loads(as_user("-j show").stdout)
        dsts = {r["dst"] for r in shown["routes"]}
        assert {"10.60.0.0/16", "2001:db8:60::/48", "10.61.0.0/16"} <= dsts, shown
        as_user("replace 10.60.0.0/16 via 10.1.3.3 metric 5")
        assert "10.60.0.0/16 via 10.1.3.3 dev dummy0 metric 5" in table(T11)
        as_user("del 10.60.0.0/16 metric 5")
        assert "10.60.0.0" not in table(T11)
        # A refusal prints the kernel's reason and changes nothing.
        p = as_user("add 10.62.0.0/16 dev dummy0 src 10.1.4.1", check=False)
        assert p.returncode == 1 and "10.1.4.1 is not an address of uid 1011" in p.stderr, p.stderr
        p = as_user("add 10.62.0.0/16 dev dummy1", uid=U12, check=False)
        assert p.returncode == 1 and "dev dummy1 is not an interface of uid 1012" in p.stderr, p.stderr
        assert "10.62.0.0" not in table(T11) + table(T12)
        # flush takes what the user added, both families, not the connected routes.
        assert as_user("flush").stdout.strip() == "2 routes removed"
        t11 = table(T11) + table(T11, "-6")
        assert "10.61.0.0" not in t11 and "2001:db8:60::" not in t11, t11
        assert "10.1.3.0/24 dev dummy0 proto kernel" in t11, t11
        # An unmanaged user is told why and whom to ask.
        p = as_user("add 10.63.0.0/16 dev dummy0", uid=U13, check=False)
        assert p.returncode == 1 and "uid 1013 has no UOA addresses here" in p.stderr, p.stderr
        assert "10.63.0.0" not in table("main")
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_route_limit_counts_every_route_of_the_table():
    """A managed uid's table holds at most its limit, IPv4 and IPv6 together,
    counted by the kernel whatever adds or removes a route; a replacement is
    no new route; the limit is the table's, so root meets it too."""
    setup()
    try:
        uoa.sh("ip link add dummy2 type dummy && ip link set dummy2 up", netns=NS)
        base = uoa.counters(netns=NS)[U11]
        # What uoamap put there: the connected routes of u11's addresses.
        held = len(table(T11).splitlines()) + len(table(T11, "-6").splitlines())
        assert base["routes"] == held > 0, (base, table(T11), table(T11, "-6"))
        assert base["route_limit"] == 1_500_000, base
        limit = held + 2
        uoa.uoamap(f"route-limit {limit} u11", netns=NS)
        assert uoa.counters(netns=NS)[U11]["route_limit"] == limit
        assert uoa.counters(netns=NS)[U12]["route_limit"] == 1_500_000, "u12 keeps the default"
        ip("route add 10.80.0.0/16 via 10.1.3.2", uid=U11)
        ip("-6 route add 2001:db8:80::/48 via 2001:db8:1::2", uid=U11)
        full = f"uid 1011 has reached its limit of {limit} routes"
        refused_before = uoa.counters(netns=NS)[U11]["routes_refused"]
        for args, uid in (("route add 10.81.0.0/16 via 10.1.3.2", U11),
                          ("-6 route add 2001:db8:81::/48 via 2001:db8:1::2", U11),
                          ("route append 10.80.0.0/16 via 10.1.3.3", U11),
                          (f"route add 10.82.0.0/16 dev dummy0 table {T11}", None)):
            err = refused(args, uid)
            assert full in err, (args, err)
        # iproute2 prints the message alone; the errno is EPERM.
        oif = int(uoa.sh("cat /sys/class/net/dummy0/ifindex", netns=NS).stdout)
        assert uoa.run_as(raw_newroute, "10.87.0.0", oif, 254, [], uid=U11, netns=NS) == (errno.EPERM, full)
        assert uoa.counters(netns=NS)[U11]["routes_refused"] - refused_before == 5
        assert "10.81.0.0" not in table(T11) and "10.82.0.0" not in table(T11)
        # A replacement at the limit is no new route.
        ip("route replace 10.80.0.0/16 via 10.1.3.3", uid=U11)
        assert "10.80.0.0/16 via 10.1.3.3" in table(T11)
        # Whatever removes a route frees its place: a deletion, a link going down.
        ip("route del 10.80.0.0/16", uid=U11)
        ip("route add 10.83.0.0/16 dev dummy2", uid=U11)
        assert uoa.counters(netns=NS)[U11]["routes"] == limit
        uoa.sh("ip link set dummy2 down", netns=NS)
        assert "10.83.0.0" not in table(T11)
        assert uoa.counters(netns=NS)[U11]["routes"] == limit - 1
        ip("route add 10.84.0.0/16 via 10.1.3.2", uid=U11)
        # The user sees its own count; the admin's bad input changes nothing.
        shown = uoa.sh(f"{uoa.UOAMAP.replace('uoamap', 'uoa-route')} show -s", uid=U11, netns=NS).stdout
        assert f"routes {limit} of {limit}" in shown, shown
        for bad in ("0 u11", "default", "lots u11", "5 u13"):
            p = uoa.uoamap(f"route-limit {bad}", netns=NS, check=False)
            assert p.returncode == 1 and p.stderr.startswith("uoamap: "), (bad, p.stderr)
        assert "uid 1013 is not managed" in uoa.uoamap("route-limit 5 u13", netns=NS, check=False).stderr
        assert uoa.counters(netns=NS)[U11]["route_limit"] == limit
        # save writes the limit down and apply brings it back; of two
        # lines for one user, the last wins.
        saved = uoa.uoamap("save", netns=NS).stdout
        assert f"route-limit {limit} u11" in saved.splitlines(), saved
        uoa.uoamap("route-limit default u11", netns=NS)
        with open("/tmp/uoa-limits.conf", "w") as f:
            f.write(f"route-limit {limit + 1} u11\n" + saved)
        assert uoa.uoamap("apply /tmp/uoa-limits.conf", netns=NS).stdout.strip() == "0 added, 0 removed"
        assert uoa.counters(netns=NS)[U11]["route_limit"] == limit
        # Back to the default: room again. Root and unmanaged tables have no limit.
        uoa.uoamap("route-limit default u11", netns=NS)
        ip("route add 10.85.0.0/16 via 10.1.3.2", uid=U11)
        uoa.uoamap("route-limit 1", netns=NS)
        assert uoa.counters(netns=NS)[U12]["route_limit"] == 1
        ip("route add 10.86.0.0/16 dev dummy0")
        assert "10.86.0.0/16" in table("main")
        # Users the module does not hold yet (after a flush) get the file's
        # limits too: the namespace's default (raised from 1 before their
        # connected routes go in), then a user's own.
        entries = "".join(f"{l}\n" for l in saved.splitlines() if not l.startswith("route-limit"))
        for head, want11, want12 in (("route-limit 9\n", 9, 9),
                                     (f"route-limit {limit} u11\n", limit, 1_500_000)):
            uoa.uoamap("flush", netns=NS)
            with open("/tmp/uoa-limits.conf", "w") as f:
                f.write(head + entries)
            assert uoa.uoamap("apply /tmp/uoa-limits.conf", netns=NS).stdout.strip().endswith(" 0 removed")
            got = uoa.counters(netns=NS)
            assert (got[U11]["route_limit"], got[U12]["route_limit"]) == (want11, want12), (head, got)
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_apply_restores_connected_routes_after_a_link_flap():
    """A link going down takes the connected routes uoamap put in a uid's
    table, and coming up gives them back to main only; `uoamap apply` of
    the same file puts them back in the uid's table, once."""
    setup()
    try:
        saved = uoa.uoamap("save", netns=NS).stdout
        before = table(T11)
        assert "10.1.3.0/24 dev dummy0 proto kernel scope link src 10.1.3.1" in before, before
        uoa.sh("ip link set dummy0 down && ip link set dummy0 up", netns=NS)
        assert "10.1.3.0/24" not in table(T11) and "10.1.3.0/24" in table("main")
        with open("/tmp/uoa-flap.conf", "w") as f:
            f.write(saved)
        for _ in range(2):
            assert uoa.uoamap("apply /tmp/uoa-flap.conf", netns=NS).stdout.strip() == "0 added, 0 removed"
            assert table(T11) == before
    finally:
        uoa.sh(f"ip netns del {NS}")


RTM_NEWROUTE, RTA_DST, RTA_OIF, RTA_TABLE, RTA_ENCAP = 24, 1, 4, 15, 22
NLA_F_NESTED = 0x8000
NLM_F_CREATE_EXCL = 0x400 | 0x200


def raw_newroute(dst, oif, table_byte, attrs):
    """RTM_NEWROUTE of dst/24 built by hand, with `attrs` (kind, payload)
    after RTA_DST and RTA_OIF; returns (errno, extack message), 0 if done."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.setsockopt(uoa.SOL_NETLINK, uoa.NETLINK_EXT_ACK, 1)
        sock.setsockopt(uoa.SOL_NETLINK, uoa.NETLINK_CAP_ACK, 1)
        # AF_INET, /24, RT_SCOPE_LINK, RTN_UNICAST, protocol boot
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 24, 0, 0, table_byte, 3, 253, 1, 0)
        body += uoa.nla(RTA_DST, socket.inet_aton(dst)) + uoa.nla(RTA_OIF, struct.pack("=i", oif))
        for kind, payload in attrs:
            body += uoa.nla(kind, payload)
        flags = uoa.NLM_F_REQUEST | uoa.NLM_F_ACK | NLM_F_CREATE_EXCL
        sock.send(struct.pack("=IHHII", 16 + len(body), RTM_NEWROUTE, flags, 1, 0) + body)
        data = sock.recv(65536)
        (err,) = struct.unpack_from("=i", data, 16)
        text = uoa.parse_attrs(data[16 + 4 + 16:]).get(uoa.NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode()
        return -err, text
    finally:
        sock.close()


def test_raw_rtnetlink_attacks():
    """What iproute2 would never send: the table twice, an id that does not
    fit rtm_table, a truncated attribute, NLM_F_REPLACE onto main's prefix."""
    setup()
    try:
        oif = int(uoa.sh("cat /sys/class/net/dummy0/ifindex", netns=NS).stdout)
        main_before = table("main")
        u32 = lambda v: struct.pack("=I", v)  # noqa: E731
        cases = [
            # RTA_TABLE twice: the kernel takes the last one.
            (254, [(RTA_TABLE, u32(254)), (RTA_TABLE, u32(T12))], {errno.EPERM}, f"table {T12} belongs to uid {U12}"),
            # rtm_table says main, RTA_TABLE another uid's: RTA_TABLE wins.
            (254, [(RTA_TABLE, u32(T12))], {errno.EPERM}, f"table {T12} belongs to uid {U12}"),
            # rtm_table alone naming local.
            (255, [], {errno.EPERM}, "table 255 is not the table of uid 1011"),
            # A truncated RTA_TABLE: refused by the kernel's own parser.
            (254, [(RTA_TABLE, b"\x01\x02")], {errno.EINVAL, errno.ERANGE}, ""),
            # An encapsulation without its type, which no tool would send.
            (254, [(RTA_ENCAP | NLA_F_NESTED, b"")], {errno.EPERM}, "uid 1011 may not use encapsulation"),
        ]
        for table_byte, attrs, want, reason in cases:
            got, text = uoa.run_as(raw_newroute, "10.70.0.0", oif, table_byte, attrs, uid=U11, netns=NS)
            assert got in want and reason in text, (table_byte, attrs, got, text)
        # The same requests as root do what they say (stock): RTA_TABLE's table.
        got, _ = raw_newroute_in(NS, "10.71.0.0", oif, 254, [(RTA_TABLE, u32(254)), (RTA_TABLE, u32(T12))])
        assert got == 0 and "10.71.0.0/24" in table(T12)
        # A managed replace of a prefix that main has lands in its own table.
        ip("route replace 10.9.0.0/16 dev dummy0", uid=U11)
        assert "10.9.0.0/16 dev dummy0" in table(T11)
        assert table("main") == main_before
    finally:
        uoa.sh(f"ip netns del {NS}")


def raw_newroute_in(netns, *args):
    return uoa.run_as(raw_newroute, *args, netns=netns)
