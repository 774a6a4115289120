//! Route delegation (R4), decision by decision, in the namespace of
//! `verdict_tests` (1011 owns 10.1.3.1, 10.1.7.1 and 2001:db8::11 with
//! table 100; 1012 a block with table 101; 1013 an address on interface 3
//! with table 102; 1014 is unmanaged).

use super::route::*;
use super::verdict::{Counter, Subject, NO_UID};
use super::verdict_tests::{at, fixture, Host, ETH0, ETH1, OTHER, R1, U, UNMANAGED};
use super::Family;
use proptest::prelude::*;

const RTM_NEWRULE: u16 = 32;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWNEIGH: u16 = 28;
const RTM_NEWNEXTHOP: u16 = 104;
const RTM_NEWQDISC: u16 = 36;
const RTNL_FAMILY_IPMR: u8 = 128;
const AF_MPLS: u8 = 28;
const RTN_LOCAL: u8 = 2;
const RTN_BROADCAST: u8 = 3;
const RTN_ANYCAST: u8 = 4;
const RTN_MULTICAST: u8 = 5;
const RTN_NAT: u8 = 10;

fn add(table: u32) -> Change<'static> {
    Change {
        family: Family::V4,
        delete: false,
        rtype: RTN_UNICAST,
        table,
        admin: false,
        nexthop_object: false,
        encap: false,
        prefsrc: None,
        oifs: &[],
    }
}

fn change_as(h: &Host, uid: u32, c: &Change<'_>) -> Route {
    let t = h.tables();
    route_change(&t, t.subject(uid), c)
}

#[test]
fn only_route_changes_of_ip_are_permitted() {
    let h = fixture();
    let t = h.tables();
    let u = t.subject(U);
    assert_eq!(permit(u, AF_INET, RTM_NEWROUTE), Permit::Allow);
    assert_eq!(permit(u, AF_INET6, RTM_DELROUTE), Permit::Allow);
    for (family, msgtype) in [
        (AF_INET, RTM_NEWRULE),
        (AF_INET, RTM_NEWLINK),
        (AF_INET6, RTM_NEWADDR),
        (AF_INET, RTM_NEWNEIGH),
        (AF_INET, RTM_NEWNEXTHOP),
        (0, RTM_NEWQDISC),
        (RTNL_FAMILY_IPMR, RTM_NEWROUTE),
        (AF_MPLS, RTM_NEWROUTE),
        (0, RTM_NEWROUTE),
    ] {
        let want = Permit::Refuse(Refusal::Message {
            uid: U,
            family,
            msgtype,
        });
        assert_eq!(permit(u, family, msgtype), want, "{family} {msgtype}");
    }
    let Permit::Refuse(r) = permit(u, AF_INET, RTM_NEWRULE) else {
        unreachable!()
    };
    assert_eq!(
        r.message(None).to_string(),
        "uid 1011 may change only its own routes (RTM_NEWROUTE, RTM_DELROUTE)"
    );
    // Everyone else: the stock EPERM.
    for uid in [UNMANAGED, 0, NO_UID] {
        assert_eq!(permit(t.subject(uid), AF_INET, RTM_NEWROUTE), Permit::Stock);
    }
}

#[test]
fn changes_land_in_the_own_table() {
    let h = fixture();
    for table in [0, RT_TABLE_MAIN, 100] {
        assert_eq!(
            change_as(&h, U, &add(table)),
            Route::Place(100),
            "table {table}"
        );
        let del = Change {
            delete: true,
            rtype: 0,
            ..add(table)
        };
        assert_eq!(change_as(&h, U, &del), Route::Place(100));
    }
    let v6 = Change {
        family: Family::V6,
        ..add(0)
    };
    assert_eq!(change_as(&h, U, &v6), Route::Place(100));
    for rtype in [RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT] {
        assert_eq!(
            change_as(&h, U, &Change { rtype, ..add(0) }),
            Route::Place(100)
        );
    }
}

#[test]
fn other_tables_are_refused_with_their_owner() {
    let h = fixture();
    let refuse = |c: &Change<'_>| match change_as(&h, U, c) {
        Route::Refuse(r) => r.message(None).to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(refuse(&add(101)), "table 101 belongs to uid 1012");
    assert_eq!(
        refuse(&add(255)),
        "table 255 is not the table of uid 1011: use main or 100"
    );
    assert_eq!(
        refuse(&add(253)),
        "table 253 is not the table of uid 1011: use main or 100"
    );
    assert_eq!(
        refuse(&add(0x1_0000 + 100)),
        "table 65636 is not the table of uid 1011: use main or 100"
    );
    let del = Change {
        delete: true,
        rtype: 0,
        ..add(102)
    };
    assert_eq!(refuse(&del), "table 102 belongs to uid 1013");
}

#[test]
fn types_nexthops_encap_interfaces_and_sources() {
    let h = fixture();
    let refusal = |uid, c: &Change<'_>| match change_as(&h, uid, c) {
        Route::Refuse(r) => r,
        other => panic!("{other:?}"),
    };
    for rtype in [
        RTN_LOCAL,
        RTN_BROADCAST,
        RTN_ANYCAST,
        RTN_MULTICAST,
        RTN_NAT,
        0,
    ] {
        let r = refusal(U, &Change { rtype, ..add(0) });
        assert_eq!(r, Refusal::Type { uid: U, rtype });
        // Deleting one is as refused, except type 0 (any).
        if rtype != 0 {
            assert_eq!(
                refusal(
                    U,
                    &Change {
                        rtype,
                        delete: true,
                        ..add(0)
                    }
                ),
                r
            );
        }
    }
    let nh = refusal(
        U,
        &Change {
            nexthop_object: true,
            ..add(0)
        },
    );
    assert_eq!(
        nh.message(None).to_string(),
        "uid 1011 may not use nexthop objects (nhid)"
    );
    let encap = refusal(
        U,
        &Change {
            encap: true,
            ..add(0)
        },
    );
    assert_eq!(
        encap.message(None).to_string(),
        "uid 1011 may not use encapsulation (encap)"
    );
    // R1: 1013 may use interface 3 (and loopback) only, every nexthop's too.
    assert_eq!(
        change_as(
            &h,
            R1,
            &Change {
                oifs: &[ETH1, 1],
                ..add(0)
            }
        ),
        Route::Place(102)
    );
    let r = refusal(
        R1,
        &Change {
            oifs: &[ETH1, ETH0],
            ..add(0)
        },
    );
    assert_eq!(
        r.message(Some("eth0")).to_string(),
        "dev eth0 is not an interface of uid 1013"
    );
    assert_eq!(
        r.message(None).to_string(),
        "interface 2 is not an interface of uid 1013"
    );
    // A uid without interfaces may use all of them.
    assert_eq!(
        change_as(
            &h,
            U,
            &Change {
                oifs: &[ETH0, ETH1],
                ..add(0)
            }
        ),
        Route::Place(100)
    );
    // prefsrc only among its own addresses.
    let own = at("10.1.3.1").1;
    assert_eq!(
        change_as(
            &h,
            U,
            &Change {
                prefsrc: Some(own),
                ..add(0)
            }
        ),
        Route::Place(100)
    );
    let r = refusal(
        U,
        &Change {
            prefsrc: Some(at("10.2.0.1").1),
            ..add(0)
        },
    );
    assert_eq!(
        r.message(None).to_string(),
        "10.2.0.1 is not an address of uid 1011"
    );
    let v6 = Change {
        family: Family::V6,
        prefsrc: Some(at("2001:db8::12").1),
        ..add(0)
    };
    assert_eq!(
        refusal(U, &v6).message(None).to_string(),
        "2001:db8::12 is not an address of uid 1011"
    );
    // A deletion needs only its table and type.
    let del = Change {
        delete: true,
        rtype: 0,
        encap: true,
        oifs: &[ETH0],
        ..add(0)
    };
    assert_eq!(change_as(&h, R1, &del), Route::Place(102));
}

#[test]
fn root_unmanaged_and_admins_see_a_stock_kernel() {
    let h = fixture();
    for uid in [0, NO_UID, UNMANAGED] {
        for c in [
            add(0),
            add(101),
            Change {
                rtype: RTN_LOCAL,
                encap: true,
                ..add(7)
            },
        ] {
            assert_eq!(change_as(&h, uid, &c), Route::Stock);
        }
    }
    assert_eq!(
        change_as(
            &h,
            U,
            &Change {
                admin: true,
                ..add(101)
            }
        ),
        Route::Stock
    );
    let t = h.tables();
    for uid in [0, UNMANAGED] {
        assert_eq!(dump_table(t.subject(uid), 0), None);
        assert_eq!(shown_table(t.subject(uid), 100), None);
    }
}

#[test]
fn dumps_read_and_show_the_own_table_as_main() {
    let h = fixture();
    let t = h.tables();
    let u = t.subject(U);
    for asked in [0, RT_TABLE_MAIN, 100, 101, 255] {
        assert_eq!(dump_table(u, asked), Some(100));
    }
    assert_eq!(shown_table(u, 100), Some(RT_TABLE_MAIN));
    assert_eq!(shown_table(u, 255), None, "local stays local");
    assert_eq!(shown_table(t.subject(OTHER), 100), None);
    assert_eq!(COUNT_CHANGED, Counter::RoutesChanged);
    assert_eq!(COUNT_REFUSED, Counter::RoutesRefused);
}

proptest! {
    /// Whatever a managed uid asks, a change it may make goes to its own
    /// table, and every other uid's are stock.
    #[test]
    fn a_placed_route_is_always_in_the_own_table(
        uid in prop::sample::select(vec![0u32, U, OTHER, R1, UNMANAGED, NO_UID]),
        table in prop::sample::select(vec![0u32, 100, 101, 102, 253, 254, 255, 7]),
        rtype in 0u8..12,
        (delete, admin, nexthop_object, encap) in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        oif in 0u32..5,
        src in prop::sample::select(vec![None, Some("10.1.3.1"), Some("10.2.0.1"), Some("10.1.5.1")]),
    ) {
        let h = fixture();
        let t = h.tables();
        let oifs = [oif];
        let c = Change { family: Family::V4, delete, rtype, table, admin, nexthop_object, encap,
            prefsrc: src.map(|s| at(s).1), oifs: &oifs };
        let who = t.subject(uid);
        match (route_change(&t, who, &c), who) {
            (Route::Place(tb), Subject::Managed(m)) => {
                prop_assert_eq!(tb, m.table);
                prop_assert!(!admin && matches!(table, 0 | 254) || table == m.table);
                if !delete {
                    prop_assert!(!nexthop_object && !encap);
                    prop_assert!(src.is_none_or(|s| t.owner(Family::V4, at(s).1) == Some(m.uid)));
                }
            }
            (Route::Refuse(_), Subject::Managed(_)) => prop_assert!(!admin),
            (Route::Stock, Subject::Managed(_)) => prop_assert!(admin),
            (Route::Stock, _) => {}
            (other, w) => prop_assert!(false, "{other:?} for {w:?}"),
        }
    }
}

#[test]
fn every_message_fits_the_extack_buffer() {
    let uid = u32::MAX - 1;
    let longest = [
        Refusal::Message {
            uid,
            family: 255,
            msgtype: u16::MAX,
        },
        Refusal::Table {
            uid,
            table: u32::MAX,
            own: u32::MAX - 1,
            owner: None,
        },
        Refusal::Table {
            uid,
            table: u32::MAX,
            own: 1,
            owner: Some(uid),
        },
        Refusal::Type { uid, rtype: 11 },
        Refusal::Type { uid, rtype: 255 },
        Refusal::Interface {
            uid,
            ifindex: u32::MAX,
        },
        Refusal::Source {
            uid,
            family: Family::V6,
            addr: u128::MAX - 1,
        },
        Refusal::NexthopObject { uid },
        Refusal::Encap { uid },
        Refusal::Limit {
            uid,
            limit: u32::MAX,
        },
    ];
    for r in longest {
        for name in [None, Some("fifteen-chars-x")] {
            let m = r.message(name).to_string();
            assert!(m.len() < MESSAGE_MAX, "{} bytes: {m}", m.len());
        }
    }
    assert_eq!(
        Refusal::Type { uid: U, rtype: 2 }.message(None).to_string(),
        "uid 1011 may not add local routes (type 2)"
    );
}

#[test]
fn a_table_is_found_by_its_id_in_o1() {
    let h = fixture();
    let t = h.tables();
    assert_eq!(t.table_owner(100), Some(U));
    assert_eq!(t.table_owner(101), Some(1012));
    assert_eq!(
        t.table_user(102).map(|m| (m.uid, m.table)),
        Some((1013, 102))
    );
    for other in [0, 99, 103, 254, 255, u32::MAX] {
        assert_eq!(t.table_owner(other), None, "table {other}");
    }
}

#[test]
fn the_route_limit_is_the_uids_own_else_the_default() {
    assert_eq!(route_limit(0, 0), DEFAULT_ROUTE_LIMIT);
    assert_eq!(route_limit(0, 10), 10);
    assert_eq!(route_limit(3, 10), 3);
    assert_eq!(route_limit(30, 10), 30);
}

#[test]
fn a_full_table_takes_no_new_route() {
    let h = fixture();
    let t = h.tables();
    let own = t.table_user(100);
    assert_eq!(route_add(own, 0, 3), Ok(()));
    assert_eq!(route_add(own, 2, 3), Ok(()));
    let full = Refusal::Limit { uid: U, limit: 3 };
    assert_eq!(route_add(own, 3, 3), Err(full));
    assert_eq!(route_add(own, 4, 3), Err(full));
    assert_eq!(
        full.message(None).to_string(),
        "uid 1011 has reached its limit of 3 routes"
    );
    // Tables nobody manages (main, root's) have no limit.
    assert_eq!(route_add(t.table_user(254), u32::MAX, 3), Ok(()));
}

#[test]
fn the_rule_table_is_the_flows_uids_then_its_sources_owners() {
    let h = fixture();
    let t = h.tables();
    let answer = |uid, src: &str| {
        let (f, a) = at(src);
        rule_table(&t, uid, f, a)
    };
    let table = |uid, src: &str| answer(uid, src).map(|r| r.table);
    // A managed uid's flows, source chosen or not, in either family.
    assert_eq!(table(U, "0.0.0.0"), Some(100));
    assert_eq!(table(U, "10.1.3.1"), Some(100));
    assert_eq!(table(U, "::"), Some(100));
    assert_eq!(table(OTHER, "10.2.0.1"), Some(101));
    // The uid wins over the source (which route_source refuses later).
    assert_eq!(table(U, "10.2.0.1"), Some(100));
    // The kernel's replies (uid 0) and unknown owners, from a managed
    // address, a host entry or inside a block: the owner's table.
    assert_eq!(table(0, "10.1.7.1"), Some(100));
    assert_eq!(table(0, "2001:db8::11"), Some(100));
    assert_eq!(table(NO_UID, "10.2.9.9"), Some(101));
    assert_eq!(table(0, "10.1.5.1"), Some(102));
    // Root and unmanaged uids from no or another address: the rule does
    // not match, their flows go on to main.
    assert_eq!(table(0, "0.0.0.0"), None);
    assert_eq!(table(0, "::"), None);
    assert_eq!(table(0, "10.9.9.9"), None);
    assert_eq!(table(UNMANAGED, "0.0.0.0"), None);
    assert_eq!(table(UNMANAGED, "10.9.9.9"), None);
    // Only a uid's own flows name the uid whose slot may keep the table.
    let own = t.managed(U).map(|m| m.index);
    assert!(own.is_some());
    assert_eq!(answer(U, "0.0.0.0").and_then(|r| r.user), own);
    assert_eq!(answer(U, "10.2.0.1").and_then(|r| r.user), own);
    assert_eq!(answer(0, "10.1.7.1").map(|r| r.user), Some(None));
    // An unmanaged uid trying a managed address: routed by the owner's
    // table, then refused by the source check.
    assert_eq!(table(UNMANAGED, "10.1.3.1"), Some(100));
}
