"""R3 as uoamap sets it up: per-uid rules in both families, the uid's table
filled with its connected routes, no fall-through to main, and everything
removed with the uid's last entry. Checked with `ip rule`, `ip route` and
route lookups made by the managed uid itself."""

import errno
import socket

import uoa

U11, U13 = 1011, 1013
NS = "r1"


def setup():
    uoa.netns(NS)
    uoa.sh(
        "ip link add dummy0 type dummy && ip link set dummy0 up && "
        "ip addr add 10.1.3.1/24 dev dummy0 && ip addr add 10.1.4.1/24 dev dummy0 && "
        "ip addr add 2001:db8:1::11/64 dev dummy0 nodad && "
        "ip route add 10.9.0.0/16 dev dummy0",  # only in main
        netns=NS,
    )


def ip(args):
    return uoa.sh(f"ip {args}", netns=NS).stdout


def connect_udp(family, addr):
    """connect() of a UDP socket: a route lookup as the caller, no packet."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.connect((addr, 9))
        return s.getsockname()[0]
    except OSError as e:
        return e.errno
    finally:
        s.close()


def test_rules_and_table_follow_the_entries():
    setup()
    try:
        uoa.uoamap("add 10.1.3.1 u11 32811 dev dummy0", netns=NS)
        uoa.uoamap("add 2001:db8:1::11 u11 32811", netns=NS)
        rules4 = ip("rule show")
        for want in (
            "1000:\tfrom all uidrange 1011-1011 lookup 32811",
            "1000:\tfrom 10.1.3.1 lookup 32811",
            "1001:\tfrom all uidrange 1011-1011 unreachable",
            "1001:\tfrom 10.1.3.1 unreachable",
        ):
            assert want in rules4, (want, rules4)
        rules6 = ip("-6 rule show")
        assert "1000:\tfrom all uidrange 1011-1011 lookup 32811" in rules6, rules6
        assert "1000:\tfrom 2001:db8:1::11 lookup 32811" in rules6, rules6
        assert "1001:\tfrom 2001:db8:1::11 unreachable" in rules6, rules6
        table = ip("route show table 32811")
        assert table.strip() == "10.1.3.0/24 dev dummy0 proto kernel scope link src 10.1.3.1", table
        assert "2001:db8:1::/64 dev dummy0 proto kernel" in ip("-6 route show table 32811")

        # The managed uid's own lookups use its table, and miss nothing into main.
        got = uoa.sh("ip route get 10.1.3.77", uid=U11, netns=NS).stdout
        assert "table 32811" in got and "src 10.1.3.1" in got, got
        miss = uoa.sh("ip route get 10.9.9.9", uid=U11, netns=NS, check=False)
        assert miss.returncode != 0 and "unreachable" in miss.stderr.lower(), (miss.stdout, miss.stderr)
        assert uoa.run_as(connect_udp, socket.AF_INET, "10.9.9.9", uid=U11, netns=NS) == errno.ENETUNREACH
        assert uoa.run_as(connect_udp, socket.AF_INET, "10.1.3.77", uid=U11, netns=NS) == "10.1.3.1"
        # Root and an unmanaged uid still route by main.
        assert "table" not in uoa.sh("ip route get 10.9.9.9", uid=U13, netns=NS).stdout
        assert uoa.run_as(connect_udp, socket.AF_INET, "10.9.9.9", uid=U13, netns=NS) in ("10.1.3.1", "10.1.4.1")
        assert "dev dummy0" in ip("route get 10.9.9.9")

        # A second entry of the same uid adds its own from-rules only.
        uoa.uoamap("add 10.1.4.1 u11 32811", netns=NS)
        assert ip("rule show").count("uidrange 1011-1011") == 2
        assert "10.1.4.0/24 dev dummy0" in ip("route show table 32811")

        # Deleting one prefix removes its rules; the last one removes all.
        uoa.uoamap("del 10.1.3.1", netns=NS)
        assert "from 10.1.3.1" not in ip("rule show")
        assert "uidrange 1011-1011" in ip("rule show")
        uoa.uoamap("flush u11", netns=NS)
        assert "1011" not in ip("rule show") and "1011" not in ip("-6 rule show")
        assert ip("route show table 32811").strip() == ""
        assert ip("-6 route show table 32811").strip() == ""
        assert "table" not in uoa.sh("ip route get 10.9.9.9", uid=U11, netns=NS).stdout
    finally:
        uoa.sh(f"ip netns del {NS}")


def test_no_routing_leaves_rules_alone():
    setup()
    try:
        uoa.uoamap("--no-routing add 10.1.3.1 u11 32811", netns=NS)
        assert "1011" not in ip("rule show")
        assert uoa.uoamap("show", netns=NS).stdout.strip() == "10.1.3.1 u11 32811"
    finally:
        uoa.sh(f"ip netns del {NS}")
