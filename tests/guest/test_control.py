"""The control plane: entries per namespace through uoamap and through the
kernel tree's own YNL client, the invariants refused with their messages,
permissions, and malformed requests refused without harm."""

import errno
import json
import os
import struct

import uoa
from uoa import Genl, NetlinkError, nla

U11, U12, U13 = 1011, 1012, 1013


def fresh():
    uoa.uoamap("flush")


def show(**kw):
    return uoa.uoamap("show", **kw).stdout.splitlines()


def refused(args, message, **kw):
    """uoamap ARGS must fail with exit 1 and MESSAGE, and change nothing."""
    before = show()
    p = uoa.uoamap(args, check=False, **kw)
    assert p.returncode == 1, (args, p.returncode, p.stdout)
    assert message in p.stderr, (args, p.stderr)
    assert show() == before, f"{args} changed the table"


def test_mission_command_exactly_as_written():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 32811")
    assert show() == ["10.1.3.1 u11 32811"]
    rows = uoa.uoamap_json("show")
    assert rows == [{"prefix": "10.1.3.1", "uid": U11, "user": "u11", "table": 32811, "dev": None}], rows


def test_add_del_show_flush_both_families():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    uoa.uoamap("add 2001:db8::11 1011 100")
    uoa.uoamap("add 10.2.0.0/16 u12 200 dev lo")
    uoa.uoamap("add 2001:db8:12::/48 u12 200")
    assert show() == [
        "10.1.3.1 u11 100",
        "10.2.0.0/16 u12 200 dev lo",
        "2001:db8::11 u11 100",
        "2001:db8:12::/48 u12 200",
    ], show()
    assert uoa.uoamap("show u12").stdout.splitlines() == ["10.2.0.0/16 u12 200 dev lo", "2001:db8:12::/48 u12 200"]
    uoa.uoamap("del 10.2.0.0/16")
    assert "10.2.0.0/16 u12 200 dev lo" not in show()
    uoa.uoamap("flush u11")
    assert show() == ["2001:db8:12::/48 u12 200"]
    status = uoa.uoamap_json("status")
    assert (status["entries"], status["uids"]) == (1, 1) and status["memory_bytes"] > 0, status
    uoa.uoamap("flush")
    assert show() == []
    assert uoa.uoamap_json("status")["entries"] == 0


def test_every_invariant_refused_with_its_reason():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    uoa.uoamap("add 2001:db8::11 u11 100")
    refused("add 10.1.3.1 u12 200", "10.1.3.1 already belongs to uid 1011 (File exists")
    refused("add 10.1.3.0/24 u12 200", "10.1.3.0/24 overlaps 10.1.3.1 of uid 1011")
    refused("add 2001:db8::/64 u12 200", "2001:db8::/64 overlaps 2001:db8::11 of uid 1011")
    refused("add 10.1.3.1 u11 100", "10.1.3.1 is already an entry of uid 1011")
    refused("add 10.1.3.2 u11 101", "uid 1011 already uses table 100")
    refused("add 10.1.3.2 u12 100", "table 100 already belongs to uid 1011")
    refused("add 10.1.3.2 0 300", "uid 0 cannot be managed")
    refused("add 10.1.3.2 root 300", "uid 0 cannot be managed")
    for table in (0, 253, 254, 255):
        refused(f"add 10.1.3.2 u12 {table}", f"table {table} is reserved")
    refused("add 10.1.3.2/24 u12 300", "10.1.3.2/24 has host bits set")
    refused("add ::ffff:10.1.3.2 u12 300", "::ffff:10.1.3.2 is IPv4-mapped")
    refused("del 10.1.3.9", "10.1.3.9 is not an entry (No such file or directory")
    refused("add 10.1.3.2 nosuchuser 300", "no such user: nosuchuser")
    refused("add 10.1.3.2 u12 300 dev nosuchif", "no such interface: nosuchif")


def test_save_apply_round_trip_and_idempotence():
    fresh()
    for args in ("10.1.3.1 u11 100", "10.1.3.2 u11 100", "2001:db8::12 u12 200", "10.9.0.0/16 u13 300 dev lo"):
        uoa.uoamap(f"add {args}")
    saved = uoa.uoamap("save").stdout
    uoa.uoamap("flush")
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input=saved)
    assert p.stdout.strip() == "4 added, 0 removed", p.stdout
    assert uoa.uoamap("save").stdout == saved
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input=saved)
    assert p.stdout.strip() == "0 added, 0 removed", p.stdout
    # Only the difference changes: one line moves to another user.
    moved = saved.replace("10.1.3.2 u11 100", "10.1.3.2 u13 300")
    p = uoa.sh(f"{uoa.UOAMAP} -j apply -", input=moved)
    assert json.loads(p.stdout) == {"added": 1, "removed": 1}, p.stdout
    assert "10.1.3.2 u13 300" in show()


def test_apply_is_atomic():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    before = show()
    bad = "10.1.3.1 u11 100\n10.1.3.5 u12 200\n10.1.3.0/24 u13 300\n"
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input=bad, check=False)
    assert p.returncode == 1 and "overlaps" in p.stderr, p.stderr
    assert show() == before
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input="10.1.3.1 u11 100\n10.1.3.7/24 u12 200\n", check=False)
    assert p.returncode == 1 and "line 2" in p.stderr and "host bits" in p.stderr, p.stderr
    assert show() == before


def test_entries_are_per_namespace():
    fresh()
    uoa.netns("c1")
    uoa.netns("c2")
    try:
        uoa.uoamap("add 10.1.3.1 u11 100", netns="c1")
        uoa.uoamap("add 10.1.3.1 u12 200", netns="c2")  # the same address, another namespace
        assert show(netns="c1") == ["10.1.3.1 u11 100"]
        assert show(netns="c2") == ["10.1.3.1 u12 200"]
        assert show() == []
    finally:
        uoa.sh("ip netns del c1; ip netns del c2")  # with entries: freed at netns exit


def test_permissions():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    uoa.uoamap("add 10.1.3.2 u12 200")
    # Writes need CAP_NET_ADMIN.
    for args in ("add 10.1.3.3 u11 100", "del 10.1.3.1", "flush", "flush u11"):
        refused(args, "changing UOA entries needs CAP_NET_ADMIN (Operation not permitted", uid=U11)
    # A user reads its own entries only.
    assert show(uid=U11) == ["10.1.3.1 u11 100"]
    assert show(uid=U12) == ["10.1.3.2 u12 200"]
    assert show(uid=U13) == []
    assert uoa.uoamap("show u11", uid=U11).stdout.splitlines() == ["10.1.3.1 u11 100"]
    refused("show u12", "only CAP_NET_ADMIN may read other uids' entries", uid=U11)
    assert uoa.uoamap_json("status", uid=U13)["entries"] == 2


def test_large_table_dumps_in_many_messages():
    fresh()
    lines = [f"10.{i >> 8 & 255}.{i & 255}.1 {2000 + i % 500} {3000 + i % 500}" for i in range(6000)]
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input="\n".join(lines) + "\n")
    assert p.stdout.strip() == "6000 added, 0 removed"
    assert len(show()) == 6000
    status = uoa.uoamap_json("status")
    assert (status["entries"], status["uids"]) == (6000, 500), status
    # The kernel's own count of dump messages: more than one.
    g = Genl()
    try:
        fid = g.family_id("uoa")
        msgs = g.dump(fid, uoa.UOA_CMD_GET_ENTRIES)
        assert len(msgs) > 1 and sum(len(m) for m in msgs) == 6000, len(msgs)
        assert all(kind == uoa.UOA_A_ENTRY for m in msgs for kind, _ in m)
    finally:
        g.close()
    uoa.uoamap("flush")
    # A refused request of as many entries still names what is wrong (the
    # kernel's error does not quote the request, some hundred kilobytes),
    # and changes nothing.
    bad = "\n".join(lines + ["10.0.0.0/8 2999 3999"]) + "\n"
    p = uoa.sh(f"{uoa.UOAMAP} apply -", input=bad, check=False)
    assert p.returncode == 1 and "overlaps" in p.stderr and "10.0.0.0/8" in p.stderr, p.stderr
    assert show() == []


def set_raw(payload):
    g = Genl()
    try:
        return g.request(g.family_id("uoa"), uoa.UOA_CMD_SET_ENTRIES, payload)
    finally:
        g.close()


def entry(*attrs):
    return nla(uoa.UOA_A_ENTRY | uoa.NLA_F_NESTED, b"".join(attrs))


def u32(kind, v):
    return nla(kind, struct.pack("=I", v))


ADDR = nla(uoa.UOA_A_ENTRY_ADDR, bytes([10, 1, 3, 1]))
UID = u32(uoa.UOA_A_ENTRY_UID, U11)
TABLE = u32(uoa.UOA_A_ENTRY_TABLE, 100)


def test_malformed_requests_refused():
    fresh()
    cases = {
        "entry not nested": u32(uoa.UOA_A_ENTRY, 1),
        "address of 5 bytes": entry(nla(uoa.UOA_A_ENTRY_ADDR, b"\x0a\x01\x03\x01\x00"), UID, TABLE),
        "address of 17 bytes": entry(nla(uoa.UOA_A_ENTRY_ADDR, bytes(17)), UID, TABLE),
        "prefix length 33": entry(ADDR, nla(uoa.UOA_A_ENTRY_PREFIXLEN, b"\x21"), UID, TABLE),
        "uid of 2 bytes": entry(ADDR, nla(uoa.UOA_A_ENTRY_UID, b"\x01\x02"), TABLE),
        "unknown entry attribute": entry(ADDR, UID, TABLE, u32(42, 1)),
        "unknown entry flag": entry(ADDR, UID, TABLE, u32(uoa.UOA_A_ENTRY_FLAGS, 2)),
        "unknown set flag": u32(uoa.UOA_A_FLAGS, 4) + entry(ADDR, UID, TABLE),
        "uid without replace": u32(uoa.UOA_A_UID, U11),
        "no address": entry(UID, TABLE),
        "no table": entry(ADDR, UID),
        "status attribute in a set": u32(uoa.UOA_A_STATUS_ENTRIES, 1),
        "unknown top-level attribute": u32(99, 1),
        "truncated attribute": struct.pack("=HH", 40, uoa.UOA_A_ENTRY | uoa.NLA_F_NESTED) + ADDR,
    }
    for what, payload in cases.items():
        try:
            set_raw(payload)
        except NetlinkError as e:
            # The core answers ERANGE for a binary attribute over its maximum.
            assert e.errno in (errno.EINVAL, errno.ERANGE), (what, e)
            assert e.msg, f"{what}: no extack message"
        else:
            raise AssertionError(f"{what}: accepted")
    assert show() == []
    # The well-formed version of the same request works.
    set_raw(entry(ADDR, UID, TABLE))
    assert show() == ["10.1.3.1 u11 100"]


def test_ynl_cli_drives_the_family():
    fresh()
    assert uoa.KSRC, "UOA_KSRC not set"
    cli = f"/usr/bin/python3 {uoa.KSRC}/tools/net/ynl/cli.py --spec {uoa.KSRC}/Documentation/netlink/specs/uoa.yaml"
    request = {"entry": [{"addr": "0a010301", "uid": U11, "table": 100}, {"addr": "0a020000", "prefixlen": 16, "uid": U12, "table": 200}]}
    uoa.sh(f"{cli} --do set-entries --json '{json.dumps(request)}'")
    assert show() == ["10.1.3.1 u11 100", "10.2.0.0/16 u12 200"]
    out = uoa.sh(f"{cli} --dump get-entries --output-json").stdout
    dumped = [e for msg in json.loads(out) for e in msg["entry"]]
    assert [(e["addr"], e["prefixlen"], e["uid"], e["table"]) for e in dumped] == [
        ("0a010301", 32, U11, 100),
        ("0a020000", 16, U12, 200),
    ], dumped
    status = json.loads(uoa.sh(f"{cli} --do get-status --output-json").stdout)
    assert status["status-entries"] == 2 and status["version"] == "0.1.0", status
    uoa.sh(f"{cli} --do set-entries --json '{json.dumps({'flags': 1})}'")  # UOA_F_REPLACE alone: flush
    assert show() == []


def test_policy_survives_module_reload_empty():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    uoa.unload_module()
    uoa.load_module()
    assert show() == []


def test_uoa_route_shows_the_callers_own():
    fresh()
    uoa.uoamap("add 10.1.3.1 u11 100")
    uoa.uoamap("add 2001:db8::11 u11 100")
    uoa.uoamap("add 10.1.3.2 u12 200")
    route = uoa.UOAMAP.replace("uoamap", "uoa-route")
    out = uoa.sh(f"{route} show", uid=U11).stdout
    assert out.splitlines() == ["table: 100", "address: 10.1.3.1", "address: 2001:db8::11"], out
    got = json.loads(uoa.sh(f"{route} -j show", uid=U12).stdout)
    assert got == {"uid": U12, "table": 200, "addresses": ["10.1.3.2"]}, got
    assert "has no UOA addresses" in uoa.sh(f"{route} show", uid=U13).stdout
    # -s: the caller's own counters, read without privileges.
    out = uoa.sh(f"{route} show -s", uid=U11).stdout.splitlines()
    assert out[-1] == ("binds denied 0, sources denied 0, sources rewritten 0, packets dropped 0, "
                       "routes changed 0, routes refused 0, routes 0 of 1500000"), out
    got = json.loads(uoa.sh(f"{route} -j show -s", uid=U12).stdout)["counters"]
    assert got == {"uid": U12, "binds_denied": 0, "sources_denied": 0, "sources_rewritten": 0,
                   "packets_dropped": 0, "routes_changed": 0, "routes_refused": 0,
                   "routes": 0, "route_limit": 1500000}, got
