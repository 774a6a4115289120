"""R3 as uoamap sets it up: two l3mdev rules per family whatever the number
of uids (the module picks each flow's table), the uid's table filled with
its connected routes, no fall-through to main, the kernel's own replies
from a uid's address routed by its table, and the rules gone with the last
entry. Checked with `ip rule`, `ip route` and route lookups made by the
managed uid itself."""

import errno
import socket

import enforce_net as en
import uoa

U11, U13 = 1011, 1013
NS = "r1"


def setup():
    uoa.netns(NS)
    uoa.sh(
        "ip link add dummy0 type dummy && ip link set dummy0 up && "
        "ip addr add 10.1.3.1/24 dev dummy0 && ip addr add 10.1.4.1/24 dev dummy0 && "
        "ip addr add 10.1.5.1/24 dev dummy0 && ip addr add 2001:db8:1::11/64 dev dummy0 nodad && "
        # Only in main. Its src keeps stock source selection off u11's
        # addresses until the source-selection hook (issue 4) does that.
        "ip route add 10.9.0.0/16 dev dummy0 src 10.1.5.1 && "
        "ip -6 route add 2001:db8:9::/48 dev dummy0",
        netns=NS,
    )


def ip(args):
    return uoa.sh(f"ip {args}", netns=NS).stdout


def test_rules_and_table_follow_the_entries():
    setup()
    try:
        uoa.uoamap("add 10.1.3.1 u11 32811 dev dummy0", netns=NS)
        uoa.uoamap("add 2001:db8:1::11 u11 32811", netns=NS)
        for family in ("-4", "-6"):
            rules = [r.rstrip() for r in ip(f"{family} rule show").splitlines()]
            assert rules == [
                "0:\tfrom all lookup local",
                "1000:\tfrom all lookup [l3mdev-table]",
                "1001:\tfrom all lookup [l3mdev-table] unreachable",
                "32766:\tfrom all lookup main",
            ] + (["32767:\tfrom all lookup default"] if family == "-4" else []), rules
        table = ip("route show table 32811")
        assert table.strip() == "10.1.3.0/24 dev dummy0 proto kernel scope link src 10.1.3.1", table
        table6 = ip("-6 route show table 32811")
        assert "2001:db8:1::/64 dev dummy0 proto kernel" in table6, table6

        # The managed uid's own lookups use its table, and miss nothing into main.
        got = uoa.sh("ip route get 10.1.3.77", uid=U11, netns=NS).stdout
        # The uid sees its table as main (R4); root sees which one it is.
        assert "table" not in got and "src 10.1.3.1" in got, got
        got = ip("route get 10.1.3.77 uid 1011")
        assert "table 32811" in got and "src 10.1.3.1" in got, got
        miss = uoa.sh("ip route get 10.9.9.9", uid=U11, netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        got = uoa.run_as(uoa.connect_udp, socket.AF_INET, "10.9.9.9", uid=U11, netns=NS)
        assert got == errno.ENETUNREACH, got
        got = uoa.run_as(uoa.connect_udp, socket.AF_INET, "10.1.3.77", uid=U11, netns=NS)
        assert got == "10.1.3.1", got
        # Root and an unmanaged uid still route by main.
        got = uoa.sh("ip route get 10.9.9.9", uid=U13, netns=NS).stdout
        assert "table" not in got, got
        got = uoa.run_as(uoa.connect_udp, socket.AF_INET, "10.9.9.9", uid=U13, netns=NS)
        assert got == "10.1.5.1", got
        got = ip("route get 10.9.9.9")
        assert "dev dummy0" in got, got
        # IPv6 alike: main has 2001:db8:9::/48, u11's table does not.
        miss = uoa.sh("ip -6 route get 2001:db8:9::1 uid 1011", netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        miss = uoa.sh("ip -6 route get 2001:db8:9::1", uid=U11, netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        got = ip("-6 route get 2001:db8:9::1 uid 1013")
        assert "dev dummy0" in got and "table" not in got, got
        # The kernel's replies from u11's address (flow uid 0: ICMP errors,
        # TIME_WAIT resets) follow u11's table, not main.
        miss = uoa.sh("ip route get 10.9.9.9 from 10.1.3.1", netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        got = ip("route get 10.1.3.77 from 10.1.3.1")
        assert "table 32811" in got, got

        # More entries and uids add routes to their tables, never a rule.
        uoa.uoamap("add 10.1.4.1 u11 32811", netns=NS)
        uoa.uoamap("add 10.1.5.1 u12 32812", netns=NS)
        assert ip("rule show").count("\n") == 5, ip("rule show")
        table = ip("route show table 32811")
        assert "10.1.4.0/24 dev dummy0" in table, table
        table = ip("route show table 32812")
        assert "10.1.5.0/24 dev dummy0" in table, table
        got = ip("route get 10.1.5.77 uid 1012")
        assert "table 32812" in got and "src 10.1.5.1" in got, got
        # Given another table, a uid is routed by it at once: the kernel
        # keeps a uid's table at hand only under the policy that named it.
        uoa.uoamap("flush u12", netns=NS)
        uoa.uoamap("add 10.1.5.1 u12 32813", netns=NS)
        got = ip("route get 10.1.5.77 uid 1012")
        assert "table 32813" in got and "src 10.1.5.1" in got, got

        # The rules stay while a uid is managed and go with the last entry.
        uoa.uoamap("del 10.1.3.1", netns=NS)
        assert "l3mdev" in ip("rule show"), ip("rule show")
        uoa.uoamap("flush u12", netns=NS)
        uoa.uoamap("flush u11", netns=NS)
        rules = ip("rule show") + ip("-6 rule show")
        assert "l3mdev" not in rules and "1000:" not in rules, rules
        tables = ip("route show table 32811") + ip("-6 route show table 32811")
        assert tables.strip() == "", tables
        got = uoa.sh("ip route get 10.9.9.9", uid=U11, netns=NS).stdout
        assert "table" not in got, got
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_a_socket_routes_by_the_table_its_owner_has_now():
    """An unconnected socket remembers its owner's table for the routes of
    its next datagrams (patch 22), only while the policy stays: once u11 is
    given another table, the next datagram of the same socket is routed by
    that one (unreachable: it has no route there yet), though the old table
    still has the route; with the route in the new table, it goes."""
    setup()
    try:
        uoa.uoamap("add 10.1.3.1 u11 32811 dev dummy0", netns=NS)
        uoa.sh("ip route add 10.9.0.0/16 dev dummy0 table 32811", netns=NS)
        steps = [("chown", U11), ("send", b"t1"), ("send", b"t2"), ("uoamap", "flush u11"),
                 ("uoamap", "add 10.1.3.1 u11 32813 dev dummy0"),
                 ("sh", "ip route add 10.9.0.0/16 dev dummy0 table 32811"), ("send", b"t3"),
                 ("sh", "ip route add 10.9.0.0/16 dev dummy0 table 32813"), ("send", b"t4")]
        got = uoa.run_as(en.owned_sends, "10.1.3.1", "10.9.9.9", 7490, steps, False, netns=NS)
        assert got == ["ok", "ok", "ENETUNREACH", "ok"], got
        assert "table 32813" in ip("route get 10.9.9.9 uid 1011"), ip("route get 10.9.9.9 uid 1011")
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_any_other_rule_takes_effect_among_uoa_s():
    """While the rules are the stock ones and UOA's pair, the kernel follows
    them without walking the list (patch 20); any other rule, wherever it
    sits, must be walked, and UOA's routing must come back when it goes."""
    setup()
    try:
        uoa.uoamap("add 10.1.3.1 u11 32811 dev dummy0", netns=NS)
        uoa.sh("ip route add 10.9.9.0/24 dev dummy0 table 100", netns=NS)

        def table_of(uid):
            got = uoa.sh(f"ip route get 10.9.9.9 uid {uid}", netns=NS, check=False)
            if got.returncode != 0:
                assert "unreachable" in got.stderr.lower(), got.stderr
                return "unreachable"
            return "100" if "table 100" in got.stdout else "main"

        assert (table_of(U11), table_of(U13)) == ("unreachable", "main")
        # Before UOA's pair, with a selector: the managed uid's flows too.
        uoa.sh("ip rule add pref 500 to 10.9.9.0/24 lookup 100", netns=NS)
        assert (table_of(U11), table_of(U13)) == ("100", "100")
        uoa.sh("ip rule del pref 500", netns=NS)
        assert (table_of(U11), table_of(U13)) == ("unreachable", "main")
        # Between UOA's pair and main, no selector: everyone UOA does not claim.
        uoa.sh("ip rule add pref 2000 lookup 100", netns=NS)
        assert (table_of(U11), table_of(U13)) == ("unreachable", "100")
        # With UOA's pair gone, the same rule still counts.
        uoa.uoamap("flush u11", netns=NS)
        assert (table_of(U11), table_of(U13)) == ("100", "100")
        uoa.sh("ip rule del pref 2000", netns=NS)
        assert (table_of(U11), table_of(U13)) == ("main", "main")
        # A mark mask is a selector too: "fwmark 0/0xff" takes unmarked flows only.
        uoa.sh("ip rule del pref 32766 && ip rule add pref 32766 fwmark 0/0xff lookup main", netns=NS)
        miss = uoa.sh("ip route get 10.9.9.9 mark 1", netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        assert "dev dummy0" in ip("route get 10.9.9.9"), ip("route get 10.9.9.9")
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_no_routing_leaves_rules_alone():
    setup()
    try:
        uoa.uoamap("--no-routing add 10.1.3.1 u11 32811", netns=NS)
        assert "l3mdev" not in ip("rule show")
        assert uoa.uoamap("show", netns=NS).stdout.strip() == "10.1.3.1 u11 32811"
    finally:
        uoa.sh(f"ip netns del {NS}")
