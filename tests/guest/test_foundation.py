"""The foundation: uoa.ko loads and unloads cleanly, and its generic netlink
family answers in every network namespace, to any uid, with strict input
checking."""

import errno
import struct

import uoa
from uoa import Genl, NetlinkError, nla, u64

UNPRIVILEGED = 1001


def status():
    """GET_STATUS over a raw netlink socket in the caller's netns; returns
    (reply attributes, the socket's own netns cookie)."""
    g = Genl()
    try:
        fid = g.family_id("uoa")
        return g.request(fid, uoa.UOA_CMD_GET_STATUS), g.netns_cookie()
    finally:
        g.close()


def family_missing():
    g = Genl()
    try:
        g.family_id("uoa")
        return False
    except NetlinkError as e:
        return e.errno == errno.ENOENT
    finally:
        g.close()


def test_module_loads_and_unloads_repeatedly():
    for _ in range(5):
        uoa.unload_module()
        assert not uoa.module_loaded()
        assert family_missing(), "family still registered after rmmod"
        uoa.load_module()
        attrs, _ = status()
        assert attrs[uoa.UOA_A_VERSION] == b"0.1.0\0"
    assert "uoa: loaded, version 0.1.0" in uoa.dmesg()


def test_status_in_initial_netns():
    attrs, cookie = status()
    assert u64(attrs[uoa.UOA_A_NETNS_COOKIE]) == cookie
    first = u64(attrs[uoa.UOA_A_STATUS_REQUESTS])
    attrs, _ = status()
    assert u64(attrs[uoa.UOA_A_STATUS_REQUESTS]) == first + 1


def test_status_in_second_netns_is_that_netns():
    uoa.netns("n2")
    try:
        host_attrs, host_cookie = status()
        attrs, cookie = uoa.run_as(status, netns="n2")
        assert cookie != host_cookie
        assert u64(attrs[uoa.UOA_A_NETNS_COOKIE]) == cookie
        # A namespace created after the module loaded starts its own count.
        assert u64(attrs[uoa.UOA_A_STATUS_REQUESTS]) == 1
        attrs, _ = status()
        assert u64(attrs[uoa.UOA_A_STATUS_REQUESTS]) == u64(host_attrs[uoa.UOA_A_STATUS_REQUESTS]) + 1
    finally:
        uoa.sh("ip netns del n2")


def test_module_reload_with_namespaces_alive():
    uoa.netns("n3")
    try:
        uoa.unload_module()
        uoa.load_module()
        # pernet init ran for the namespace that already existed.
        attrs, cookie = uoa.run_as(status, netns="n3")
        assert u64(attrs[uoa.UOA_A_NETNS_COOKIE]) == cookie
        assert u64(attrs[uoa.UOA_A_STATUS_REQUESTS]) == 1
    finally:
        uoa.sh("ip netns del n3")
    uoa.unload_module()  # exit after the namespace went away
    uoa.load_module()


def test_status_unprivileged_uid():
    attrs, cookie = uoa.run_as(status, uid=UNPRIVILEGED)
    assert u64(attrs[uoa.UOA_A_NETNS_COOKIE]) == cookie


def test_request_attributes_refused():
    g = Genl()
    try:
        fid = g.family_id("uoa")
        cases = [
            nla(uoa.UOA_A_VERSION, b"0.1.0\0"),  # an attribute the command does not take
            nla(99, struct.pack("=I", 1)),  # beyond UOA_A_MAX
            nla(0, b""),  # UOA_A_UNSPEC
            struct.pack("=HH", 2, uoa.UOA_A_NETNS_COOKIE),  # truncated header
        ]
        for payload in cases:
            try:
                g.request(fid, uoa.UOA_CMD_GET_STATUS, payload)
            except NetlinkError as e:
                assert e.errno == errno.EINVAL, (payload, e)
            else:
                raise AssertionError(f"request with {payload!r} was accepted")
        try:
            g.request(fid, uoa.UOA_CMD_GET_STATUS, reserved=7)
        except NetlinkError as e:
            assert e.errno == errno.EINVAL, e
        else:
            raise AssertionError("non-zero reserved header field accepted")
        try:
            g.request(fid, 77)
        except NetlinkError as e:
            assert e.errno == errno.EOPNOTSUPP, e
        else:
            raise AssertionError("unknown command accepted")
        # The socket still works after all that.
        assert uoa.UOA_A_VERSION in g.request(fid, uoa.UOA_CMD_GET_STATUS)
    finally:
        g.close()


def test_extack_names_the_problem():
    g = Genl()
    try:
        fid = g.family_id("uoa")
        try:
            g.request(fid, uoa.UOA_CMD_GET_STATUS, nla(uoa.UOA_A_VERSION, b"x\0"))
        except NetlinkError as e:
            assert e.msg, "no extack message"
        else:
            raise AssertionError("accepted")
    finally:
        g.close()


def test_uoamap_status_in_each_netns():
    uoa.netns("n4")
    try:
        host = uoa.uoamap_json("status")
        other = uoa.uoamap_json("status", netns="n4")
        assert host["version"] == other["version"] == "0.1.0"
        assert host["netns_cookie"] != other["netns_cookie"]
        _, cookie = uoa.run_as(status, netns="n4")
        assert other["netns_cookie"] == cookie
        text = uoa.uoamap("status", uid=UNPRIVILEGED).stdout
        assert "module: uoa 0.1.0" in text, text
    finally:
        uoa.sh("ip netns del n4")


def test_tools_without_module_say_so():
    uoa.unload_module()
    for tool in (uoa.UOAMAP, uoa.UOAMAP.replace("uoamap", "uoa-route")):
        p = uoa.sh(f"{tool} status", check=False)
        assert p.returncode == 1, (tool, p.returncode)
        assert "is the uoa kernel module loaded?" in p.stderr, p.stderr
    uoa.load_module()


def test_kernel_log_clean():
    trouble = uoa.kernel_trouble(uoa.dmesg())
    assert not trouble, trouble
