"""Enforcement over time: the per-uid counters (by raw generic netlink
and by `uoamap show -s`), policy changes while sockets are open and
traffic flows, module unload and reload under traffic, and policy churn.
The network and the policy are in enforce_net.py."""

import os
import signal
import socket
import struct

import uoa
import enforce_net as en
from enforce_net import (A11, A11_6, A12, A12_6, CLI, CLI4, CLI6, FREE, FREE_6, NS, ROOT, U11, U12, U13, V,
                         SOL_IPV6)

E = "EADDRNOTAVAIL"
V6ONLY = ((SOL_IPV6, socket.IPV6_V6ONLY, 1),)
ZERO = {name: 0 for name in uoa.COUNTER_NAMES.values()}


def event_counters():
    """The per-uid counts of what was refused or changed (not the table's
    routes and limit)."""
    return {uid: {k: c[k] for k in ZERO} for uid, c in uoa.counters(NS).items()}


def quad(port):
    return [("tcp", "0.0.0.0", port, ()), ("tcp", "::", port, V6ONLY),
            ("udp", "0.0.0.0", port, ()), ("udp", "::", port, V6ONLY)]


def delta(before, after, uid):
    return {k: after[uid][k] - before.get(uid, ZERO)[k] for k in ZERO}


def test_counters_per_uid():
    P = 7500
    with en.network() as net:
        net.server(quad(P)[2:], netns=CLI)
        start = event_counters()
        assert start == {U11: ZERO, U12: ZERO, U13: ZERO}, start

        got = uoa.run_as(en.binds, [("tcp", A12, 0, ()), ("udp", A12_6, 0, ()), ("tcp", A11, 0, ())],
                         uid=U11, netns=NS)
        assert got == [E, E, "ok"], got
        after = event_counters()
        assert delta(start, after, U11) == dict(ZERO, binds_denied=2), after

        before = after
        got = uoa.run_as(en.asks, [
            (en.udp_ask, CLI4, P, b"x", None, (), None, False, en.pktinfo4(A12)),
            (en.udp_ask, CLI6, P, b"x", None, (), None, False, en.pktinfo6(A12_6)),
        ], uid=U11, netns=NS)
        assert got == [E, E], got
        after = event_counters()
        assert delta(before, after, U11) == dict(ZERO, sources_denied=2), after

        before = after
        assert uoa.run_as(en.udp_local, CLI4, uid=U12, netns=NS) == A12  # stock picked u11's 10.7.0.11
        after = event_counters()
        assert delta(before, after, U12) == dict(ZERO, sources_rewritten=1), after
        assert after[U11] == before[U11], after

        before = after
        got = uoa.run_caps(en.raw_send, A12, CLI4, P, b"spoofed", uid=U11, netns=NS, caps=[uoa.CAP_NET_RAW])
        assert got == "EPERM", got
        after = event_counters()
        assert delta(before, after, U11) == dict(ZERO, packets_dropped=1), after
        assert after[U13] == ZERO, after

        # Unmanaged uids and root are not counted per uid.
        uoa.run_as(en.binds, [("tcp", A12, 0, ())], uid=V, netns=NS)
        uoa.run_as(en.binds, [("tcp", A12, 0, ())], netns=NS)
        assert event_counters() == after

        # uoamap shows the same numbers, in JSON and in text.
        shown = uoa.uoamap_json("show -s", netns=NS)
        rows = {c["uid"]: {k: c[k] for k in ZERO} for c in shown["counters"]}
        assert rows == after, (shown, after)
        text = uoa.uoamap("show -s", netns=NS).stdout
        c = after[U11]
        line = (f"uid {U11} (u11): binds denied {c['binds_denied']}, sources denied {c['sources_denied']}, "
                f"sources rewritten {c['sources_rewritten']}, packets dropped {c['packets_dropped']}, "
                f"routes changed {c['routes_changed']}, routes refused {c['routes_refused']}, "
                f"routes 0 of 1500000")
        assert line in text.splitlines(), text
        # A user reads its own counters only.
        mine = uoa.uoamap_json("show -s", uid=U11, netns=NS)
        assert [c["uid"] for c in mine["counters"]] == [U11], mine

        # Counts survive unrelated policy changes, and start again at 0
        # when a uid gets its first entry.
        net.uoamap("add 10.7.0.55 u12 112")
        assert event_counters()[U11] == after[U11]
        net.uoamap("flush u11")
        assert U11 not in event_counters()
        net.policy()
        assert event_counters()[U11] == ZERO


def hold_flows(port):
    """As u11 in es: UDP (connected) and TCP flows from 10.7.0.11 and
    2001:db8:7::11 to ec, each sending b"before-N"; uoa.ready(); after
    SIGUSR1 each sends b"after-N". Returns the send outcomes."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    flows = []
    for kind in ("udp", "tcp"):
        for src, dst in ((A11, CLI4), (A11_6, CLI6)):
            s = en.new_socket(kind, en.family(src))
            s.settimeout(3)
            s.bind(en.sockaddr(src, 0))
            s.connect(en.sockaddr(dst, port))
            if kind == "tcp":
                s.recv(256)  # the server's line
            flows.append(s)
    for n, s in enumerate(flows):
        s.send(b"before-%d" % n)
    uoa.ready()
    signal.sigwait({signal.SIGUSR1})
    out = []
    for n, s in enumerate(flows):
        try:
            s.send(b"after-%d" % n)
            out.append("ok")
        except OSError as e:
            out.append(en.ename(e))
    return out


def test_policy_change_while_sockets_are_open():
    P = 7510
    with en.network() as net:
        net.server(quad(P), netns=CLI)
        _, got = net.server(quad(P + 1)[:2], uid=U11)
        assert got == ["ok", "ok"], got
        holder = net.start(hold_flows, P, uid=U11)
        holder.wait_ready()
        seen = uoa.run_as(en.asks, [(en.seen, CLI4, P, b"before-%d" % n, 3) for n in range(4)], netns=CLI)
        assert seen == [True] * 4, seen
        got = uoa.run_as(en.asks, [(en.tcp_ask, A11, P + 1), (en.tcp_ask, A11_6, P + 1)], netns=CLI)
        assert en.answered_by(got) == ["1011", "1011"], got
        before = event_counters()

        # u11 loses its addresses (it keeps others, so it stays managed).
        net.uoamap(f"del {A11}")
        net.uoamap(f"del {A11_6}")
        os.kill(holder.pid, signal.SIGUSR1)
        sent = holder.result()
        assert all(s in ("ok", "EPERM") for s in sent), sent
        seen = uoa.run_as(en.asks, [(en.seen, CLI4, P, b"after-%d" % n, 0.5 if n == 0 else 0) for n in range(4)],
                          netns=CLI)
        assert seen == [False] * 4, (sent, seen)
        after = event_counters()
        assert after[U11]["packets_dropped"] > before[U11]["packets_dropped"], (before, after)

        # New binds: refused to u11 (and to u12, whose they are not either),
        # allowed to the unmanaged uid and root now that nobody owns them.
        cases = [("tcp", A11, 0, ()), ("udp", A11_6, 0, ())]
        for uid, expect in ((U11, [E, E]), (U12, [E, E]), (V, ["ok", "ok"]), (ROOT, ["ok", "ok"])):
            got = uoa.run_as(en.binds, cases, uid=uid, netns=NS)
            assert got == expect, (uid, got)
        # u11's listening wildcard no longer covers them.
        got = uoa.run_as(en.asks, [(en.tcp_ask, A11, P + 1), (en.tcp_ask, A11_6, P + 1)], netns=CLI)
        assert got == ["ECONNREFUSED"] * 2, got

        # Moving them to u12 in one batch: now they are u12's.
        net.policy(en.POLICY.replace(f"{A11} u11 111", f"{A11} u12 112").replace(f"{A11_6} u11 111",
                                                                                   f"{A11_6} u12 112"))
        for uid, expect in ((U11, [E, E]), (U12, ["ok", "ok"]), (V, [E, E]), (ROOT, ["ok", "ok"])):
            got = uoa.run_as(en.binds, cases, uid=uid, netns=NS)
            assert got == expect, (uid, got)


def test_module_unload_and_reload_under_traffic():
    P = 7520
    targets = [A11, A12, A11_6, A12_6]
    with en.network() as net:
        for uid in (U11, U12):
            _, got = net.server(quad(P), uid=uid)
            assert got == ["ok"] * 4, (uid, got)
        gen = net.start(en.traffic, P, targets, netns=CLI)
        first = gen.wait_ready()
        assert en.answered_by(first) == ["1011", "1011", "1012", "1012"] * 2, first
        uoa.unload_module()
        gen2 = net.start(en.traffic, P, targets, netns=CLI)
        after = gen2.wait_ready()
        rest = en.finish(gen) + en.finish(gen2)
        # Requests are answered before, during and after the unload: by the
        # owner while the module is there, by either wildcard socket (stock)
        # after. The LOCAL_OUT catch-all stands down before the socket hooks
        # go, so no reply of a socket that stock lookup chose is dropped.
        who = en.answered_by(rest)
        assert len(who) > 8 and all(w in ("1011", "1012") for w in who), rest
        assert all(w in ("1011", "1012") for w in en.answered_by(after)), after

        # Stock, for everyone.
        assert uoa.run_as(en.binds, [("tcp", A12, 0, ()), ("udp", A12_6, 0, ()), ("tcp", FREE, 0, ())],
                          uid=U11, netns=NS) == ["ok"] * 3
        assert uoa.run_as(en.binds, [("tcp", A11, 0, ()), ("udp", A11_6, 0, ())], uid=V, netns=NS) == ["ok"] * 2
        assert uoa.run_as(en.udp_local, CLI4, uid=U12, netns=NS) == A11  # stock's choice, v0's primary
        _, got = net.server(quad(P + 1)[:1], uid=U11)
        assert got == ["ok"], got
        assert uoa.run_as(en.held_binds, quad(P + 1)[:1], uid=U12, netns=NS) == ["EADDRINUSE"]

        # Reload: the policy starts empty; apply it again and it holds.
        uoa.load_module()
        assert uoa.uoamap("show", netns=NS).stdout == ""
        net.policy()
        assert uoa.run_as(en.binds, [("tcp", A12, 0, ()), ("udp", A12_6, 0, ())], uid=U11, netns=NS) == [E, E]
        assert uoa.run_as(en.udp_local, CLI4, uid=U12, netns=NS) == A12
        _, got = net.server(quad(P + 2)[:1], uid=U11)
        assert got == ["ok"], got
        assert uoa.run_as(en.held_binds, quad(P + 2)[:1], uid=U12, netns=NS) == ["ok"]
        got = uoa.run_as(en.asks, [(en.tcp_ask, a, P) for a in targets] + [(en.udp_ask, a, P) for a in targets],
                         netns=CLI)
        assert en.answered_by(got) == ["1011", "1012", "1011", "1012"] * 2, got


def bind_churn(port):
    """As u11 in es: binds its own and u12's address until SIGUSR1;
    returns the outcomes seen."""
    stop = []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(True))
    seen, first = set(), True
    while not stop:
        for kind, addr in (("tcp", A11), ("udp", A12_6), ("tcp", "0.0.0.0")):
            seen.add(f"{kind} {addr} {en.bind(kind, addr, port)}")
        if first:
            uoa.ready()
            first = False
    return sorted(seen)


def entry(prefix, uid=None, table=None, ifindex=0):
    """One UOA_A_ENTRY: add (uid, table given) or remove (not given)."""
    addr, _, plen = prefix.partition("/")
    attrs = uoa.nla(uoa.UOA_A_ENTRY_ADDR, socket.inet_pton(en.family(addr), addr))
    if plen:
        attrs += uoa.nla(uoa.UOA_A_ENTRY_PREFIXLEN, bytes([int(plen)]))
    if uid is None:
        attrs += uoa.nla(uoa.UOA_A_ENTRY_FLAGS, struct.pack("=I", uoa.UOA_EF_REMOVE))
    else:
        attrs += uoa.nla(uoa.UOA_A_ENTRY_UID, struct.pack("=I", uid))
        attrs += uoa.nla(uoa.UOA_A_ENTRY_TABLE, struct.pack("=I", table))
        if ifindex:
            attrs += uoa.nla(uoa.UOA_A_ENTRY_IFINDEX, struct.pack("=I", ifindex))
    return uoa.nla(uoa.UOA_A_ENTRY | uoa.NLA_F_NESTED, attrs)


def genl_churn(rounds):
    """As root in es: policy changes over raw generic netlink, back to back:
    u11's and u12's addresses swap places in one batch and back, u13 gets
    more entries and is flushed and comes back. Ends with POLICY. Returns
    the number of requests."""
    w0 = socket.if_nametoindex("w0")
    g = uoa.Genl()
    fid = g.family_id("uoa")

    def request(*entries, flush_uid=None):
        head = b""
        if flush_uid is not None:
            head = uoa.nla(uoa.UOA_A_FLAGS, struct.pack("=I", uoa.UOA_F_REPLACE))
            head += uoa.nla(uoa.UOA_A_UID, struct.pack("=I", flush_uid))
        g.request(fid, uoa.UOA_CMD_SET_ENTRIES, head + b"".join(entries))

    pairs = ((A11, A12), (A11_6, A12_6))
    gone = [entry(a) for pair in pairs for a in pair]
    swapped = [e for a, b in pairs for e in (entry(a, U12, 112), entry(b, U11, 111))]
    back = [e for a, b in pairs for e in (entry(a, U11, 111), entry(b, U12, 112))]
    try:
        for _ in range(rounds):
            request(*gone, *swapped)
            request(*gone, *back)
            request(entry("10.7.0.50", U13, 113), entry("2001:db8:50::/48", U13, 113))
            request(flush_uid=U13)
            request(entry(en.A13, U13, 113, w0), entry(en.A13_6, U13, 113, w0))
    finally:
        g.close()
    return rounds * 5


def test_policy_churn_under_traffic():
    """Addresses move between u11 and u12 and entries come and go, many
    times (raw generic netlink, then uoamap), while TCP/UDP traffic from
    ec and binds in es run: nothing breaks, and the final policy holds
    exactly."""
    P = 7530
    targets = [A11, A12, A11_6, A12_6, FREE, FREE_6]
    swapped = en.POLICY.replace(f"{A11} u11 111\n", f"{A11} u12 112\n").replace(f"{A12} u12 112\n",
                                                                                f"{A12} u11 111\n")
    assert swapped.count("u12") == en.POLICY.count("u12")
    with open("/tmp/uoa-policy-a", "w") as f:
        f.write(en.POLICY)
    with open("/tmp/uoa-policy-b", "w") as f:
        f.write(swapped)
    with en.network() as net:
        for uid in (U11, U12, V):
            _, got = net.server(quad(P), uid=uid)
            assert got == ["ok"] * 4, (uid, got)
        gen = net.start(en.traffic, P, targets, netns=CLI)
        binder = net.start(bind_churn, P + 1, uid=U11)
        gen.wait_ready()
        binder.wait_ready()
        assert net.start(genl_churn, 40).result(120) == 200
        m = f"{uoa.UOAMAP} --no-routing"
        uoa.sh(f"for i in 1 2 3; do {m} apply /tmp/uoa-policy-b >/dev/null && {m} apply /tmp/uoa-policy-a "
               f">/dev/null || exit 1; done", netns=NS)
        results = en.finish(gen)
        os.kill(binder.pid, signal.SIGUSR1)
        binds = binder.result()
        assert results and all(r in ("1011", "1012", "1014", "ECONNREFUSED", "ECONNRESET", "timeout")
                               for r in en.answered_by(results)), results
        assert binds, binds

        # The final policy, exactly.
        assert sorted(uoa.uoamap("save", netns=NS).stdout.splitlines()) == sorted(en.POLICY.splitlines())
        got = uoa.run_as(en.asks, [(en.tcp_ask, a, P) for a in targets] + [(en.udp_ask, a, P) for a in targets],
                         netns=CLI)
        assert en.answered_by(got) == ["1011", "1012", "1011", "1012", "1014", "1014"] * 2, got
        got = uoa.run_as(en.binds, [("tcp", A11, 0, ()), ("tcp", A12, 0, ()), ("udp", A12_6, 0, ())],
                         uid=U11, netns=NS)
        assert got == ["ok", E, E], got
