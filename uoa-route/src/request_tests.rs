use super::*;
use neli::consts::rtnl::{RtAddrFamily, RtScope, RtTable, Rta, Rtn, Rtprot};
use std::collections::BTreeMap;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn req(op: Op, line: &str) -> Result<Request> {
    let words: Vec<&str> = line.split_whitespace().collect();
    parse(op, &words)
}

fn route(kind: RouteType, dst: &str, len: u8) -> Route {
    Route::new(kind, ip(dst), len)
}

#[test]
fn routes_as_written() {
    let with = |mut r: Route, f: &dyn Fn(&mut Route)| {
        f(&mut r);
        r
    };
    let cases: Vec<(Op, &str, Route, Option<&str>)> = vec![
        (
            Op::Add,
            "10.20.0.0/16 via 10.1.3.2",
            with(route(RouteType::Unicast, "10.20.0.0", 16), &|r| {
                r.gateway = Some(ip("10.1.3.2"))
            }),
            None,
        ),
        (
            Op::Add,
            "10.22.0.0/16 dev dummy0 src 10.1.3.1 metric 7",
            with(route(RouteType::Unicast, "10.22.0.0", 16), &|r| {
                r.prefsrc = Some(ip("10.1.3.1"));
                r.metric = Some(7);
            }),
            Some("dummy0"),
        ),
        (
            Op::Add,
            "10.1.3.9 dev dummy0",
            route(RouteType::Unicast, "10.1.3.9", 32),
            Some("dummy0"),
        ),
        (
            Op::Add,
            "blackhole 10.9.0.0/16",
            route(RouteType::Blackhole, "10.9.0.0", 16),
            None,
        ),
        (
            Op::Replace,
            "unreachable 2001:db8:30::/48 metric 5",
            with(route(RouteType::Unreachable, "2001:db8:30::", 48), &|r| {
                r.metric = Some(5)
            }),
            None,
        ),
        (
            Op::Add,
            "prohibit 10.1.3.7",
            route(RouteType::Prohibit, "10.1.3.7", 32),
            None,
        ),
        (
            Op::Add,
            "unicast 2001:db8:20::/48 via 2001:db8:1::2",
            with(route(RouteType::Unicast, "2001:db8:20::", 48), &|r| {
                r.gateway = Some(ip("2001:db8:1::2"))
            }),
            None,
        ),
        (
            Op::Add,
            "default via 10.1.3.254",
            with(route(RouteType::Unicast, "0.0.0.0", 0), &|r| {
                r.gateway = Some(ip("10.1.3.254"))
            }),
            None,
        ),
        (
            Op::Add,
            "default via 2001:db8:1::1 dev dummy0",
            with(route(RouteType::Unicast, "::", 0), &|r| {
                r.gateway = Some(ip("2001:db8:1::1"))
            }),
            Some("dummy0"),
        ),
        (
            Op::Del,
            "10.20.0.0/16",
            route(RouteType::Unicast, "10.20.0.0", 16),
            None,
        ),
        (
            Op::Del,
            "10.20.0.0/16 via 10.1.3.2 dev dummy0 metric 7",
            with(route(RouteType::Unicast, "10.20.0.0", 16), &|r| {
                r.gateway = Some(ip("10.1.3.2"));
                r.metric = Some(7);
            }),
            Some("dummy0"),
        ),
        (
            Op::Del,
            "blackhole 10.9.0.0/16",
            route(RouteType::Blackhole, "10.9.0.0", 16),
            None,
        ),
    ];
    for (op, line, want, dev) in cases {
        let got = req(op, line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(got.op, op, "{line}");
        assert_eq!(got.route, want, "{line}");
        assert_eq!(got.dev.as_deref(), dev, "{line}");
    }
}

#[test]
fn mistakes_say_what_is_wrong() {
    let cases = [
        (Op::Add, "", "expected [TYPE] PREFIX [via GW] [dev IFACE] [src ADDR] [metric N]"),
        (Op::Add, "blackhole", "expected a PREFIX after blackhole"),
        (
            Op::Add,
            "10.20.0.1/16 via 10.1.3.2",
            "10.20.0.1/16 has host bits set: the network is 10.20.0.0/16",
        ),
        (
            Op::Del,
            "2001:db8:20::1/48",
            "2001:db8:20::1/48 has host bits set: the network is 2001:db8:20::/48",
        ),
        (Op::Add, "10.20.0.0/33 dev dummy0", "10.20.0.0/33: prefix length 33 exceeds 32"),
        (
            Op::Add,
            "10.20.0/16 dev dummy0",
            "10.20.0/16: not an IPv4 or IPv6 address or prefix",
        ),
        (
            Op::Add,
            "10.20.0.0/16 via 2001:db8::1",
            "via 2001:db8::1 is IPv6 but 10.20.0.0/16 is IPv4",
        ),
        (
            Op::Add,
            "2001:db8::/32 dev dummy0 src 10.1.3.1",
            "src 10.1.3.1 is IPv4 but 2001:db8::/32 is IPv6",
        ),
        (
            Op::Add,
            "default via 10.1.3.1 src 2001:db8::1",
            "src 2001:db8::1 is IPv6 but default is IPv4",
        ),
        (
            Op::Add,
            "10.20.0.0/16",
            "10.20.0.0/16 needs via GW or dev IFACE (or a type first: blackhole, unreachable, prohibit)",
        ),
        (
            Op::Replace,
            "10.20.0.0/16 metric 3",
            "10.20.0.0/16 needs via GW or dev IFACE",
        ),
        (
            Op::Add,
            "blackhole 10.9.0.0/16 dev dummy0",
            "a blackhole route has no via or dev",
        ),
        (
            Op::Add,
            "prohibit 10.9.0.0/16 via 10.1.3.2",
            "a prohibit route has no via or dev",
        ),
        (Op::Add, "10.20.0.0/16 via", "via needs a value"),
        (Op::Add, "10.20.0.0/16 dev a table", "unexpected \"table\""),
        (
            Op::Add,
            "10.20.0.0/16 via gw1",
            "via gw1: not an IPv4 or IPv6 address",
        ),
        (Op::Add, "10.20.0.0/16 dev a dev b", "dev is given twice"),
        (
            Op::Add,
            "10.20.0.0/16 dev a metric x",
            "metric x: not a number from 0 to 4294967295",
        ),
        (
            Op::Add,
            "10.20.0.0/16 dev a metric 4294967296",
            "metric 4294967296: not a number",
        ),
        (
            Op::Add,
            "10.20.0.0/16 dev a table 100",
            "unexpected \"table\": expected via GW, dev IFACE, src ADDR or metric N",
        ),
        // The prefix comes first, as in ip.
        (
            Op::Add,
            "metric 7 10.1.3.9 dev a",
            "metric: not an IPv4 or IPv6 address or prefix",
        ),
        (
            Op::Add,
            "local 10.1.3.1 dev a",
            "local: not an IPv4 or IPv6 address or prefix",
        ),
        (
            Op::Del,
            "10.20.0.0/16 src 10.1.3.1",
            "src is for add and replace; del takes PREFIX [via GW] [dev IFACE] [metric N]",
        ),
    ];
    for (op, line, want) in cases {
        match req(op, line) {
            Ok(r) => panic!("{line}: accepted as {r:?}"),
            Err(e) => assert!(e.to_string().starts_with(want), "{line}: {e}"),
        }
    }
}

#[test]
fn describe_names_the_change() {
    let d = |op, line| req(op, line).unwrap().describe();
    assert_eq!(d(Op::Add, "10.30.0.0/16 dev dummy0"), "add 10.30.0.0/16");
    assert_eq!(
        d(Op::Del, "blackhole 10.9.0.0/16"),
        "del blackhole 10.9.0.0/16"
    );
    assert_eq!(d(Op::Replace, "default via 2001:db8::1"), "replace default");
    assert_eq!(d(Op::Add, "10.1.3.7 dev dummy0"), "add 10.1.3.7");
}

fn interfaces(name: &str) -> Result<u32> {
    let known = BTreeMap::from([("dummy0", 7), ("dummy1", 8)]);
    known
        .get(name)
        .copied()
        .ok_or_else(|| anyhow!("dev {name}: no such interface here"))
}

#[test]
fn interfaces_resolve_or_fail_clearly() {
    let r = req(Op::Add, "10.22.0.0/16 dev dummy1").unwrap();
    assert_eq!(r.resolve(interfaces).unwrap().oif, Some(8));
    let r = req(Op::Add, "10.22.0.0/16 via 10.1.3.2").unwrap();
    assert_eq!(r.resolve(interfaces).unwrap().oif, None);
    let r = req(Op::Add, "10.22.0.0/16 dev eth9").unwrap();
    assert_eq!(
        r.resolve(interfaces).unwrap_err().to_string(),
        "dev eth9: no such interface here"
    );
    // The real lookup: `lo` is there in every namespace; the error names it.
    assert!(ifindex_of("lo").is_ok());
    assert_eq!(
        ifindex_of("uoa-no-such0").unwrap_err().to_string(),
        "dev uoa-no-such0: no such interface here (see `ip link`)"
    );
}

/// The message of `line` as sent: header fields and attributes.
fn sent(op: Op, line: &str) -> (Rtmsg, Vec<(Rta, Vec<u8>)>) {
    let r = req(op, line).unwrap();
    let m = r.message(&r.resolve(interfaces).unwrap()).unwrap();
    let attrs = m
        .rtattrs()
        .iter()
        .map(|a| (*a.rta_type(), a.rta_payload().as_ref().to_vec()))
        .collect();
    (m, attrs)
}

#[test]
fn add_sends_a_boot_route_of_main() {
    let (m, attrs) = sent(
        Op::Add,
        "10.20.0.0/16 via 10.1.3.2 dev dummy0 src 10.1.3.1 metric 7",
    );
    assert_eq!(*m.rtm_family(), RtAddrFamily::Inet);
    assert_eq!(*m.rtm_dst_len(), 16);
    assert_eq!(*m.rtm_table(), RtTable::Main);
    assert_eq!(u8::from(*m.rtm_table()), 254);
    assert_eq!(*m.rtm_protocol(), Rtprot::Boot);
    assert_eq!(*m.rtm_scope(), RtScope::Universe);
    assert_eq!(*m.rtm_type(), Rtn::Unicast);
    assert_eq!(
        attrs,
        [
            (Rta::Dst, vec![10, 20, 0, 0]),
            (Rta::Gateway, vec![10, 1, 3, 2]),
            (Rta::Oif, 7u32.to_ne_bytes().to_vec()),
            (Rta::Prefsrc, vec![10, 1, 3, 1]),
            (Rta::Priority, 7u32.to_ne_bytes().to_vec()),
        ]
    );
    // Straight to an interface: scope link; IPv6: universe still.
    let (m, _) = sent(Op::Add, "10.22.0.0/16 dev dummy0");
    assert_eq!(*m.rtm_scope(), RtScope::Link);
    let (m, attrs) = sent(Op::Replace, "2001:db8:20::/48 dev dummy0");
    assert_eq!(
        (*m.rtm_family(), *m.rtm_dst_len(), *m.rtm_scope()),
        (RtAddrFamily::Inet6, 48, RtScope::Universe)
    );
    assert_eq!(attrs[0].0, Rta::Dst);
    assert_eq!(attrs[0].1.len(), 16);
    let (m, attrs) = sent(Op::Add, "blackhole 10.9.0.0/16");
    assert_eq!(
        (*m.rtm_type(), *m.rtm_scope()),
        (Rtn::Blackhole, RtScope::Universe)
    );
    assert_eq!(attrs, [(Rta::Dst, vec![10, 9, 0, 0])]);
}

#[test]
fn del_sends_what_ip_route_del_sends() {
    let (m, attrs) = sent(Op::Del, "10.20.0.0/16 dev dummy0 metric 7");
    assert_eq!(u8::from(*m.rtm_table()), 254);
    assert_eq!(u8::from(*m.rtm_protocol()), 0);
    assert_eq!(*m.rtm_scope(), RtScope::Nowhere);
    assert_eq!(u8::from(*m.rtm_type()), 0);
    assert_eq!(
        attrs,
        [
            (Rta::Dst, vec![10, 20, 0, 0]),
            (Rta::Oif, 7u32.to_ne_bytes().to_vec()),
            (Rta::Priority, 7u32.to_ne_bytes().to_vec()),
        ]
    );
    let (m, _) = sent(Op::Del, "unreachable 10.9.0.0/16");
    assert_eq!(*m.rtm_type(), Rtn::Unreachable);
}

#[test]
fn each_op_has_its_message_type_and_flags() {
    // NLM_F_CREATE 0x400, NLM_F_EXCL 0x200, NLM_F_REPLACE 0x100.
    assert_eq!(
        (Op::Add.msg_type(), Op::Add.flags().bits()),
        (Rtm::Newroute, 0x600)
    );
    assert_eq!(
        (Op::Replace.msg_type(), Op::Replace.flags().bits()),
        (Rtm::Newroute, 0x500)
    );
    assert_eq!(
        (Op::Del.msg_type(), Op::Del.flags().bits()),
        (Rtm::Delroute, 0)
    );
}
