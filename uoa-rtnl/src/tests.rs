use super::*;
use neli::consts::rtnl::RtmF;

fn rta(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

/// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope,
/// type, flags (u32).
fn rtm(header: [u8; 8], flags: u32) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend(flags.to_ne_bytes());
    v
}

fn bytes_of(m: &Rtmsg) -> Vec<u8> {
    payload_bytes(m).unwrap().as_ref().to_vec()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const DST: u16 = 1;
const OIF: u16 = 4;
const GATEWAY: u16 = 5;
const PRIORITY: u16 = 6;
const PREFSRC: u16 = 7;
const MULTIPATH: u16 = 9;
const TABLE: u16 = 15;

#[test]
fn add_msg_of_a_full_ipv4_route() {
    // uoa-route add 10.20.0.0/16 via 10.1.3.2 dev (7) src 10.1.3.1 metric 9
    let mut r = Route::new(RouteType::Unicast, ip("10.20.0.0"), 16);
    r.gateway = Some(ip("10.1.3.2"));
    r.oif = Some(7);
    r.prefsrc = Some(ip("10.1.3.1"));
    r.metric = Some(9);
    // AF_INET, /16, table main, proto boot, scope universe, unicast.
    let mut want = rtm([2, 16, 0, 0, 254, 3, 0, 1], 0);
    want.extend(rta(DST, &[10, 20, 0, 0]));
    want.extend(rta(GATEWAY, &[10, 1, 3, 2]));
    want.extend(rta(OIF, &7u32.to_ne_bytes()));
    want.extend(rta(PREFSRC, &[10, 1, 3, 1]));
    want.extend(rta(PRIORITY, &9u32.to_ne_bytes()));
    assert_eq!(bytes_of(&r.add_msg().unwrap()), want);
}

#[test]
fn scope_is_link_only_for_ipv4_unicast_without_gateway() {
    let mut r = Route::new(RouteType::Unicast, ip("10.22.0.0"), 16);
    r.oif = Some(3);
    let mut want = rtm([2, 16, 0, 0, 254, 3, 253, 1], 0);
    want.extend(rta(DST, &[10, 22, 0, 0]));
    want.extend(rta(OIF, &3u32.to_ne_bytes()));
    assert_eq!(bytes_of(&r.add_msg().unwrap()), want);

    // IPv6: universe, with or without a gateway.
    let mut r = Route::new(RouteType::Unicast, ip("2001:db8:20::"), 48);
    r.oif = Some(3);
    let m = r.add_msg().unwrap();
    assert_eq!(
        (*m.rtm_scope(), *m.rtm_family()),
        (RtScope::Universe, RtAddrFamily::Inet6)
    );
    let mut want = rtm([10, 48, 0, 0, 254, 3, 0, 1], 0);
    let mut dst = [0u8; 16];
    dst[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0x20]);
    want.extend(rta(DST, &dst));
    want.extend(rta(OIF, &3u32.to_ne_bytes()));
    assert_eq!(bytes_of(&m), want);

    // A blackhole: universe, its type, no nexthop.
    let r = Route::new(RouteType::Blackhole, ip("10.9.0.0"), 16);
    let mut want = rtm([2, 16, 0, 0, 254, 3, 0, 6], 0);
    want.extend(rta(DST, &[10, 9, 0, 0]));
    assert_eq!(bytes_of(&r.add_msg().unwrap()), want);
    for (t, n) in [(RouteType::Unreachable, 7), (RouteType::Prohibit, 8)] {
        let m = Route::new(t, ip("10.9.0.0"), 16).add_msg().unwrap();
        assert_eq!(u8::from(*m.rtm_type()), n);
        assert_eq!(*m.rtm_scope(), RtScope::Universe);
    }
}

#[test]
fn del_msg_is_what_ip_route_del_sends() {
    // uoa-route del 10.20.0.0/16 via 10.1.3.2 metric 9: proto 0, scope
    // nowhere, type 0.
    let mut r = Route::new(RouteType::Unicast, ip("10.20.0.0"), 16);
    r.gateway = Some(ip("10.1.3.2"));
    r.metric = Some(9);
    let mut want = rtm([2, 16, 0, 0, 254, 0, 255, 0], 0);
    want.extend(rta(DST, &[10, 20, 0, 0]));
    want.extend(rta(GATEWAY, &[10, 1, 3, 2]));
    want.extend(rta(PRIORITY, &9u32.to_ne_bytes()));
    assert_eq!(bytes_of(&r.del_msg().unwrap()), want);
    // A named type is kept.
    let m = Route::new(RouteType::Prohibit, ip("10.9.0.0"), 16)
        .del_msg()
        .unwrap();
    assert_eq!(bytes_of(&m)[..8], [2, 16, 0, 0, 254, 0, 255, 8]);
    // An IPv6 reject route dumps with dev lo; it is deleted without it.
    let mut r = Route::new(RouteType::Unreachable, ip("2001:db8:30::"), 48);
    r.oif = Some(1);
    r.metric = Some(1024);
    let m = r.del_msg().unwrap();
    let kinds: Vec<Rta> = m.rtattrs().iter().map(|a| *a.rta_type()).collect();
    assert_eq!(kinds, [Rta::Dst, Rta::Priority]);
    assert_eq!(u8::from(*m.rtm_type()), 7);
}

#[test]
fn the_default_route_has_no_rta_dst() {
    let mut r = Route::new(RouteType::Unicast, ip("::"), 0);
    r.gateway = Some(ip("2001:db8::1"));
    let mut want = rtm([10, 0, 0, 0, 254, 3, 0, 1], 0);
    want.extend(rta(GATEWAY, ip_bytes(&ip("2001:db8::1")).as_ref()));
    assert_eq!(bytes_of(&r.add_msg().unwrap()), want);
}

#[test]
fn request_header_carries_request_ack_and_the_flags() {
    let r = Route::new(RouteType::Blackhole, ip("10.9.0.0"), 16);
    let payload = payload_bytes(&r.add_msg().unwrap()).unwrap();
    let msg = request(
        Rtm::Newroute,
        NlmF::ACK | NlmF::CREATE | NlmF::EXCL,
        42,
        payload.clone(),
    )
    .unwrap();
    let bytes = payload_bytes(&msg).unwrap();
    let bytes = bytes.as_ref();
    let len = 16 + payload.as_ref().len() as u32;
    assert_eq!(bytes[..4], len.to_ne_bytes());
    assert_eq!(bytes[4..6], 24u16.to_ne_bytes(), "RTM_NEWROUTE");
    // NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    assert_eq!(bytes[6..8], 0x0605u16.to_ne_bytes());
    assert_eq!(bytes[8..12], 42u32.to_ne_bytes());
    assert_eq!(&bytes[16..], payload.as_ref());
}

// How the replies are read is uoa_genl::replies's, and tested there; what
// is this crate's is how its errors read.

#[test]
fn errors_keep_the_errno_and_the_extack_message() {
    let e = Error::from(replies::Error::Kernel {
        errno: 1,
        message: Some("table 100 belongs to uid 1012".into()),
    });
    assert_eq!(
        e,
        Error::Kernel {
            errno: 1,
            message: Some("table 100 belongs to uid 1012".into())
        }
    );
    assert_eq!(e.errno(), Some(errno::EPERM));
    assert_eq!(e.message(), Some("table 100 belongs to uid 1012"));
    assert!(e.is_errno(&[errno::EPERM]) && !e.is_errno(&[errno::EEXIST]));
    assert_eq!(
        e.to_string(),
        "table 100 belongs to uid 1012 (Operation not permitted (os error 1))"
    );
    // A stock kernel's EPERM has no message.
    let e = Error::from(replies::Error::Kernel {
        errno: 1,
        message: None,
    });
    assert_eq!(e.message(), None);
    assert_eq!(e.to_string(), "Operation not permitted (os error 1)");
    // Not the kernel's: no errno.
    let e = Error::from(replies::Error::Netlink("socket: EMFILE".into()));
    assert_eq!(e, Error::Netlink("socket: EMFILE".into()));
    assert_eq!((e.errno(), e.message()), (None, None));
    assert_eq!(e.to_string(), "rtnetlink: socket: EMFILE");
}

#[test]
fn a_dump_that_keeps_being_interrupted_names_the_routes() {
    let mut tries = 0;
    let e = retry_dump(|| {
        tries += 1;
        Ok::<_, Error>(replies::Outcome::<Buffer>::Interrupted)
    })
    .unwrap_err();
    assert_eq!((tries, &e), (DUMP_ATTEMPTS, &Error::DumpInterrupted));
    assert_eq!(
        e.to_string(),
        "the routes kept changing during the dump; try again"
    );
}

/// A dumped route: `header` as in [`rtm`], then `attrs`.
fn dumped(header: [u8; 8], flags: u32, attrs: &[Vec<u8>]) -> Rtmsg {
    let mut b = rtm(header, flags);
    for a in attrs {
        b.extend(a);
    }
    parse(&Buffer::from(b)).unwrap()
}

#[test]
fn a_dumped_route_reads_back() {
    let m = dumped(
        [2, 16, 0, 0, 254, 3, 0, 1],
        0,
        &[
            rta(TABLE, &254u32.to_ne_bytes()),
            rta(DST, &[10, 20, 0, 0]),
            rta(GATEWAY, &[10, 1, 3, 2]),
            rta(OIF, &7u32.to_ne_bytes()),
            rta(PRIORITY, &7u32.to_ne_bytes()),
        ],
    );
    assert_eq!(table_of(&m), 254);
    let mut want = Route::new(RouteType::Unicast, ip("10.20.0.0"), 16);
    want.gateway = Some(ip("10.1.3.2"));
    want.oif = Some(7);
    want.metric = Some(7);
    assert_eq!(Route::from_msg(&m), Some(want.clone()));
    // What it deletes is what `del 10.20.0.0/16 via 10.1.3.2 dev 7 metric 7` does.
    let mut del = rtm([2, 16, 0, 0, 254, 0, 255, 0], 0);
    del.extend(rta(DST, &[10, 20, 0, 0]));
    del.extend(rta(GATEWAY, &[10, 1, 3, 2]));
    del.extend(rta(OIF, &7u32.to_ne_bytes()));
    del.extend(rta(PRIORITY, &7u32.to_ne_bytes()));
    assert_eq!(bytes_of(&want.del_msg().unwrap()), del);
}

#[test]
fn dumped_routes_of_other_kinds() {
    // A connected route: proto kernel, scope link, prefsrc; table in
    // rtm_table only.
    let m = dumped(
        [2, 24, 0, 0, 100, 2, 253, 1],
        0,
        &[
            rta(DST, &[10, 1, 3, 0]),
            rta(OIF, &3u32.to_ne_bytes()),
            rta(PREFSRC, &[10, 1, 3, 1]),
        ],
    );
    assert_eq!(table_of(&m), 100);
    let r = Route::from_msg(&m).unwrap();
    assert_eq!(
        (r.protocol, r.prefsrc, r.oif),
        (RTPROT_KERNEL, Some(ip("10.1.3.1")), Some(3))
    );
    // RTA_TABLE wins over rtm_table (tables above 255 show as 252).
    let m = dumped(
        [2, 24, 0, 0, 252, 2, 253, 1],
        0,
        &[rta(TABLE, &32811u32.to_ne_bytes())],
    );
    assert_eq!(table_of(&m), 32811);
    // The default route has no RTA_DST.
    let m = dumped(
        [10, 0, 0, 0, 254, 3, 0, 7],
        0,
        &[rta(PRIORITY, &1024u32.to_ne_bytes())],
    );
    let r = Route::from_msg(&m).unwrap();
    assert_eq!(
        (r.kind, r.dst, r.dst_len, r.metric),
        (RouteType::Unreachable, ip("::"), 0, Some(1024))
    );
    // Multipath: one rtnexthop with a gateway, one without.
    let mut nh = Vec::new();
    let gw = rta(GATEWAY, &[10, 1, 3, 2]);
    nh.extend(((8 + gw.len()) as u16).to_ne_bytes());
    nh.extend([0, 0]);
    nh.extend(3u32.to_ne_bytes());
    nh.extend(&gw);
    nh.extend(8u16.to_ne_bytes());
    nh.extend([0, 0]);
    nh.extend(4u32.to_ne_bytes());
    let m = dumped(
        [2, 16, 0, 0, 254, 3, 0, 1],
        0,
        &[rta(DST, &[10, 31, 0, 0]), rta(MULTIPATH, &nh)],
    );
    let r = Route::from_msg(&m).unwrap();
    assert_eq!(
        r.nexthops,
        [
            Nexthop {
                gateway: Some(ip("10.1.3.2")),
                oif: 3
            },
            Nexthop {
                gateway: None,
                oif: 4
            }
        ]
    );
    assert_eq!(r.scope(), RtScope::Universe);
    // Not a user's: local, broadcast, multicast; cached clones.
    for t in [2, 3, 5] {
        let m = dumped(
            [2, 32, 0, 0, 254, 2, 254, t],
            0,
            &[rta(DST, &[10, 1, 3, 1])],
        );
        assert_eq!(Route::from_msg(&m), None, "type {t}");
    }
    let cloned = RtmF::CLONED.bits();
    let m = dumped([10, 128, 0, 0, 254, 0, 0, 1], cloned, &[]);
    assert_eq!(Route::from_msg(&m), None);
}

#[test]
fn route_types_by_name() {
    for t in RouteType::ALL {
        assert_eq!(RouteType::from_name(t.name()), Some(t));
    }
    assert_eq!(RouteType::from_name("local"), None);
}

/// A dumped address: `struct ifaddrmsg` (family, prefixlen, flags, scope,
/// index), then `attrs`.
fn ifaddr(family: u8, prefixlen: u8, index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![family, prefixlen, 0, 0];
    v.extend(index.to_ne_bytes());
    for a in attrs {
        v.extend(a);
    }
    v
}

#[test]
fn dumped_addresses_read_back() {
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    let p = |s: &str| s.parse::<Prefix>().unwrap();
    // IPv4 on a point-to-point link: IFA_LOCAL is the address, IFA_ADDRESS
    // the peer the prefix length applies to.
    let m = ifaddr(
        2,
        30,
        7,
        &[
            rta(IFA_ADDRESS, &[10, 9, 0, 2]),
            rta(IFA_LOCAL, &[10, 9, 0, 1]),
            rta(IFA_LABEL, b"ppp0\0"),
        ],
    );
    assert_eq!(
        Address::from_bytes(Family::V4, &m).unwrap(),
        Some(Address {
            local: p("10.9.0.1/32"),
            ifindex: 7,
            prefixlen: 30,
            network: p("10.9.0.2/32"),
        })
    );
    // IPv6: IFA_ADDRESS alone is the address.
    let v6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let m = ifaddr(10, 64, 3, &[rta(IFA_ADDRESS, &v6)]);
    let a = Address::from_bytes(Family::V6, &m).unwrap().unwrap();
    assert_eq!(
        (a.local, a.network, a.ifindex, a.prefixlen),
        (p("2001:db8::1/128"), p("2001:db8::1/128"), 3, 64)
    );
    // No address of the family: nothing; a short or torn message: an error
    // that says so.
    assert_eq!(
        Address::from_bytes(Family::V4, &ifaddr(2, 24, 1, &[])).unwrap(),
        None
    );
    let e = Address::from_bytes(Family::V4, &[2, 24, 0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "malformed rtnetlink reply: address message of 3 bytes"
    );
    let mut torn = ifaddr(2, 24, 1, &[rta(IFA_LOCAL, &[10, 0, 0, 1])]);
    torn.truncate(torn.len() - 2);
    let e = Address::from_bytes(Family::V4, &torn).unwrap_err();
    assert!(
        e.to_string()
            .contains("address: attribute 2 at byte 0 has length 8 with 6 bytes left"),
        "{e}"
    );
}
