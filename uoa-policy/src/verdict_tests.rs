//! The hooks' decisions (`verdict`), row by row of the README's
//! enforcement table, then against a naive model of the same rules.

use super::verdict::*;
use super::*;
use proptest::prelude::*;

/// A snapshot's tables built from a list the way the module builds them
/// (`kmod/store.rs`, `Snapshot::new`), in `Vec`s.
pub(crate) struct Host {
    entries: Vec<Entry>,
    ranges: Vec<Range>,
    uids: Vec<UidTable>,
    by_uid: Vec<Entry>,
    own: Vec<Own>,
    uid_hash: Vec<u32>,
    table_hash: Vec<u32>,
    host_hash: Vec<u32>,
}

impl Host {
    /// The tables of `adds` applied to an empty policy (which must accept them).
    pub(crate) fn new(adds: &[Entry]) -> Self {
        let (mut removes, mut adds) = (Vec::new(), adds.to_vec());
        let mut out = vec![Entry::default(); adds.len()];
        let mut pairs = vec![UidTable::default(); adds.len()];
        let n = apply(
            &[],
            Replace::Nothing,
            &mut removes,
            &mut adds,
            &mut out,
            &mut pairs,
        )
        .unwrap();
        out.truncate(n);
        Self::of(out)
    }

    fn of(entries: Vec<Entry>) -> Self {
        let n = entries.len();
        let mut ranges = vec![Range::default(); n];
        let mut uids = vec![UidTable::default(); n];
        let (nr, nu) = build_index(&entries, &mut ranges, &mut uids).unwrap();
        ranges.truncate(nr);
        uids.truncate(nu);
        let mut by_uid = entries.clone();
        sort_by_uid(&mut by_uid);
        let mut uid_hash = vec![EMPTY; hash_slots(nu)];
        build_uid_hash(&uids, &mut uid_hash).unwrap();
        let mut table_hash = vec![EMPTY; hash_slots(nu)];
        build_table_hash(&uids, &mut table_hash).unwrap();
        let mut host_hash = vec![EMPTY; hash_slots(n)];
        build_host_hash(&entries, &mut host_hash).unwrap();
        let mut own = vec![Own::default(); nu];
        build_own(&by_uid, &uids, &mut own).unwrap();
        Host {
            entries,
            ranges,
            uids,
            by_uid,
            own,
            uid_hash,
            table_hash,
            host_hash,
        }
    }

    pub(crate) fn tables(&self) -> Tables<'_> {
        Tables {
            entries: &self.entries,
            ranges: &self.ranges,
            uids: &self.uids,
            by_uid: &self.by_uid,
            own: &self.own,
            uid_hash: &self.uid_hash,
            table_hash: &self.table_hash,
            host_hash: &self.host_hash,
            has_blocks: self.entries.iter().any(|e| !e.prefix.is_host()),
        }
    }
}

pub(crate) fn at(s: &str) -> (Family, u128) {
    let p: Prefix = s.parse().unwrap();
    (p.family(), p.addr())
}

pub(crate) fn e(p: &str, uid: u32, table: u32, ifindex: u32) -> Entry {
    Entry {
        prefix: p.parse().unwrap(),
        uid,
        table,
        ifindex,
    }
}

// The namespace of these tests: U = 1011 with two IPv4 and one IPv6
// address; 1012 with a block and a host address; 1013 with an address on
// interface 3 (R1); 1014 unmanaged. 10.9.9.9 is nobody's.
pub(crate) const U: u32 = 1011;
pub(crate) const OTHER: u32 = 1012;
pub(crate) const R1: u32 = 1013;
pub(crate) const UNMANAGED: u32 = 1014;
pub(crate) const ETH0: u32 = 2;
pub(crate) const ETH1: u32 = 3;

pub(crate) fn fixture() -> Host {
    Host::new(&[
        e("10.1.3.1", U, 100, 0),
        e("10.1.7.1", U, 100, 0),
        e("2001:db8::11", U, 100, 0),
        e("10.2.0.0/16", OTHER, 101, 0),
        e("10.2.0.1", OTHER, 101, 0),
        e("10.1.5.1", R1, 102, ETH1),
    ])
}

const DENY_BIND: Bind = Bind::Deny(Errno::AddrNotAvail, Counter::BindsDenied);
const DENY_SRC: Source = Source::Deny(Errno::AddrNotAvail, Counter::SourcesDenied);
const DROP: Packet = Packet::Drop(Errno::Perm, Counter::PacketsDropped);

fn bind_as(h: &Host, uid: u32, addr: &str, port: u16, low_ports: bool) -> Bind {
    let t = h.tables();
    let (f, a) = at(addr);
    bind(&t, t.subject(uid), f, a, port, low_ports)
}

fn source_as(h: &Host, uid: u32, dst: &str, oif: u32, src: &str, given: bool) -> Source {
    let t = h.tables();
    let (f, d) = at(dst);
    let (_, s) = at(src);
    route_source(&t, t.subject(uid), f, d, oif, s, given)
}

fn receive_as(h: &Host, uid: u32, daddr: &str, dif: u32) -> bool {
    let t = h.tables();
    let (f, d) = at(daddr);
    receive(&t, t.subject(uid), f, d, dif)
}

fn local_out_as(h: &Host, uid: u32, src: &str, out: u32) -> Packet {
    let t = h.tables();
    let (f, s) = at(src);
    local_out(&t, t.subject(uid), f, s, out)
}

#[test]
fn subjects() {
    let h = fixture();
    let t = h.tables();
    assert_eq!(t.subject(0), Subject::Root);
    assert_eq!(t.subject(NO_UID), Subject::Unknown);
    assert_eq!(t.subject(UNMANAGED), Subject::Unmanaged(UNMANAGED));
    let Subject::Managed(m) = t.subject(R1) else {
        panic!("1013 is managed")
    };
    assert!(m.has_interfaces);
    let Subject::Managed(m) = t.subject(U) else {
        panic!("1011 is managed")
    };
    assert!(!m.has_interfaces);
    assert_eq!(t.uids[m.index].uid, U);
    assert!(exempt(0) && exempt(NO_UID) && !exempt(U));
}

/// Row: `bind()` a specific address: only U's own, else EADDRNOTAVAIL
/// (loopback included), also for IPv6 and inside a block.
#[test]
fn row_bind_specific_address() {
    let h = fixture();
    assert_eq!(bind_as(&h, U, "10.1.3.1", 8080, false), Bind::Allow);
    assert_eq!(bind_as(&h, U, "2001:db8::11", 8080, false), Bind::Allow);
    assert_eq!(
        bind_as(&h, OTHER, "10.2.77.1", 8080, false),
        Bind::Allow,
        "inside its block"
    );
    assert_eq!(
        bind_as(&h, U, "10.2.0.1", 8080, false),
        DENY_BIND,
        "another uid's"
    );
    assert_eq!(
        bind_as(&h, U, "10.2.77.1", 8080, false),
        DENY_BIND,
        "another uid's block"
    );
    assert_eq!(
        bind_as(&h, U, "10.9.9.9", 8080, false),
        DENY_BIND,
        "nobody's"
    );
    assert_eq!(
        bind_as(&h, U, "127.0.0.1", 8080, false),
        DENY_BIND,
        "loopback"
    );
    assert_eq!(bind_as(&h, U, "::1", 8080, false), DENY_BIND, "loopback");
    assert_eq!(bind_as(&h, U, "2001:db8::12", 8080, false), DENY_BIND);
}

/// Row: `bind()` the wildcard means "all my addresses": two managed uids
/// share :80, each receives only what goes to its own addresses.
#[test]
fn row_bind_wildcard() {
    let h = fixture();
    let t = h.tables();
    assert_eq!(bind_as(&h, U, "0.0.0.0", 80, true), Bind::AllowLowPort);
    assert_eq!(bind_as(&h, OTHER, "::", 8080, false), Bind::Allow);
    let any4 = Bound::new(Family::V4, 0, false);
    let any6 = Bound::new(Family::V6, 0, false);
    let (u, o) = (t.subject(U), t.subject(OTHER));
    assert!(bind_disjoint(&t, (u, any4), (o, any4)));
    assert!(bind_disjoint(&t, (u, any6), (o, any4)));
    assert!(receive_as(&h, U, "10.1.3.1", ETH0));
    assert!(receive_as(&h, U, "2001:db8::11", ETH0));
    assert!(!receive_as(&h, U, "10.2.0.1", ETH0));
    assert!(!receive_as(&h, U, "10.9.9.9", ETH0), "nobody's address");
    assert!(receive_as(&h, OTHER, "10.2.0.1", ETH0));
    assert!(
        receive_as(&h, OTHER, "10.2.200.9", ETH0),
        "inside its block"
    );
    assert!(!receive_as(&h, OTHER, "10.1.3.1", ETH0));
}

/// Row: ports below 1024 need the capability unless low-ports is on, and
/// then only on U's own addresses and its wildcard.
#[test]
fn row_low_ports() {
    let h = fixture();
    assert_eq!(
        bind_as(&h, U, "10.1.3.1", 80, false),
        Bind::Allow,
        "stock EACCES applies"
    );
    assert_eq!(bind_as(&h, U, "10.1.3.1", 80, true), Bind::AllowLowPort);
    assert_eq!(bind_as(&h, U, "0.0.0.0", 1023, true), Bind::AllowLowPort);
    assert_eq!(bind_as(&h, U, "10.1.3.1", 1024, true), Bind::Allow);
    assert_eq!(
        bind_as(&h, U, "10.1.3.1", 0, true),
        Bind::Allow,
        "an ephemeral port"
    );
    assert_eq!(bind_as(&h, U, "10.2.0.1", 80, true), DENY_BIND);
    assert_eq!(
        bind_as(&h, UNMANAGED, "10.9.9.9", 80, true),
        Bind::Allow,
        "stock: not waived"
    );
    assert_eq!(bind_as(&h, 0, "10.9.9.9", 80, true), Bind::Allow);
}

/// Row: `connect()`/`sendto()` unbound: the kernel's choice if it is U's,
/// else U's address whose entry names the output interface, else the
/// closest by prefix; none of that family: EADDRNOTAVAIL.
#[test]
fn row_source_choice() {
    let h = fixture();
    let rewrite = |s: &str| Source::Rewrite(at(s).1, Counter::SourcesRewritten);
    assert_eq!(
        source_as(&h, U, "10.1.7.9", ETH0, "10.1.7.1", false),
        Source::Allow
    );
    assert_eq!(
        source_as(&h, U, "10.1.7.9", ETH0, "10.9.9.9", false),
        rewrite("10.1.7.1")
    );
    assert_eq!(
        source_as(&h, U, "10.1.3.200", ETH0, "0.0.0.0", false),
        rewrite("10.1.3.1")
    );
    assert_eq!(
        source_as(&h, U, "2001:db8::99", ETH0, "2001:db8::1", false),
        rewrite("2001:db8::11")
    );
    assert_eq!(
        source_as(&h, R1, "10.1.3.9", ETH1, "10.9.9.9", false),
        rewrite("10.1.5.1")
    );
    // 1012 has no IPv6 address; a block is never a source.
    assert_eq!(
        source_as(&h, OTHER, "2001:db8::99", ETH0, "2001:db8::1", false),
        DENY_SRC
    );
    let only_block = Host::new(&[e("10.2.0.0/16", OTHER, 101, 0)]);
    assert_eq!(
        source_as(&only_block, OTHER, "10.2.9.9", ETH0, "10.9.9.9", false),
        DENY_SRC
    );
}

/// Row: an explicit source (bound socket, PKTINFO) must be U's.
#[test]
fn row_source_given() {
    let h = fixture();
    assert_eq!(
        source_as(&h, U, "10.9.0.1", ETH0, "10.1.3.1", true),
        Source::Allow
    );
    assert_eq!(
        source_as(&h, U, "10.9.0.1", ETH0, "10.2.0.1", true),
        DENY_SRC
    );
    assert_eq!(
        source_as(&h, U, "10.9.0.1", ETH0, "10.9.9.9", true),
        DENY_SRC
    );
    assert_eq!(
        source_as(&h, U, "::1", 1, "::1", true),
        DENY_SRC,
        "loopback is not U's"
    );
}

/// Row: a raw IP_HDRINCL packet with another source, or a packet from an
/// address taken away, is dropped at LOCAL_OUT and counted; EPERM.
#[test]
fn row_local_out() {
    let h = fixture();
    assert_eq!(local_out_as(&h, U, "10.1.3.1", ETH0), Packet::Accept);
    assert_eq!(local_out_as(&h, U, "10.2.0.1", ETH0), DROP);
    assert_eq!(local_out_as(&h, U, "10.9.9.9", ETH0), DROP);
    // The address taken away: the same socket's next packet is dropped.
    let after = Host::new(&[e("10.1.7.1", U, 100, 0)]);
    assert_eq!(local_out_as(&after, U, "10.1.3.1", ETH0), DROP);
    assert_eq!(Errno::Perm.get(), 1);
}

/// The halves of a LOCAL_OUT verdict are independent (each pair of
/// accepted halves makes an accepted packet, and lets a packet to that
/// address through that device reach the socket); a verdict with a tc
/// class is not remembered.
#[test]
fn local_out_stamps() {
    let h = fixture();
    let t = h.tables();
    assert!(may_remember(t.subject(U), 0));
    assert!(
        !may_remember(t.subject(U), 0x10_0011),
        "its class is per packet"
    );
    assert!(may_remember(t.subject(R1), 0));
    assert!(may_remember(t.subject(UNMANAGED), 0));
    assert!(!may_remember(t.subject(0), 0), "root is never asked");
    // The verdict is the conjunction of the halves, for every subject,
    // source and device of the fixture.
    for uid in [0, U, R1, UNMANAGED, NO_UID] {
        let who = t.subject(uid);
        for src in [
            "10.1.3.1",
            "10.1.5.1",
            "10.2.0.1",
            "10.9.9.9",
            "2001:db8::1",
        ] {
            let (f, s) = at(src);
            for out in [0, 1, ETH0, ETH1, 7] {
                let halves = local_out_source(&t, who, f, s) && local_out_device(&t, who, out);
                assert_eq!(
                    local_out(&t, who, f, s, out) == Packet::Accept,
                    halves,
                    "{uid} {src} {out}"
                );
                // The receive lookup asks the same of a destination, so
                // the stamps answer it too.
                assert_eq!(
                    receive(&t, who, f, s, out),
                    halves,
                    "receive {uid} {src} {out}"
                );
                // An output route's source is allowed exactly when its
                // packets would pass, for whoever may remember: the route
                // hook answers from the stamps and stamps what it allows.
                if may_remember(who, 0) {
                    for given in [true, false] {
                        assert_eq!(
                            route_source(&t, who, f, s, out, s, given) == Source::Allow,
                            halves,
                            "route {uid} {src} {out} {given}"
                        );
                    }
                }
            }
        }
    }
}

/// Row: entries with `dev IFACE` (R1): out only through those interfaces
/// (or loopback), ENETUNREACH; packets arriving elsewhere do not reach
/// U's sockets.
#[test]
fn row_interfaces() {
    let h = fixture();
    let unreach = Source::Deny(Errno::NetUnreach, Counter::SourcesDenied);
    assert_eq!(
        source_as(&h, R1, "10.9.0.1", ETH1, "10.1.5.1", true),
        Source::Allow
    );
    assert_eq!(
        source_as(&h, R1, "10.9.0.1", ETH0, "10.1.5.1", true),
        unreach
    );
    assert_eq!(
        source_as(&h, R1, "10.9.0.1", ETH0, "10.9.9.9", false),
        unreach
    );
    assert_eq!(
        source_as(&h, R1, "10.1.5.1", 1, "10.1.5.1", true),
        Source::Allow,
        "loopback"
    );
    assert_eq!(
        source_as(&h, R1, "10.9.0.1", 0, "10.1.5.1", true),
        Source::Allow,
        "no device yet"
    );
    assert!(receive_as(&h, R1, "10.1.5.1", ETH1));
    assert!(receive_as(&h, R1, "10.1.5.1", 1));
    assert!(!receive_as(&h, R1, "10.1.5.1", ETH0));
    assert_eq!(local_out_as(&h, R1, "10.1.5.1", ETH1), Packet::Accept);
    assert_eq!(local_out_as(&h, R1, "10.1.5.1", ETH0), DROP);
    // A uid without interfaces may use all of them.
    assert_eq!(
        source_as(&h, U, "10.9.0.1", ETH1, "10.1.3.1", true),
        Source::Allow
    );
    assert!(receive_as(&h, U, "10.1.3.1", 7));
}

/// Rows for every other non-root uid: a stock kernel, except that managed
/// addresses are reserved.
#[test]
fn row_unmanaged() {
    let h = fixture();
    let t = h.tables();
    let v = UNMANAGED;
    assert_eq!(bind_as(&h, v, "10.9.9.9", 8080, false), Bind::Allow);
    assert_eq!(bind_as(&h, v, "0.0.0.0", 8080, false), Bind::Allow);
    assert_eq!(bind_as(&h, v, "127.0.0.1", 8080, false), Bind::Allow);
    assert_eq!(bind_as(&h, v, "10.1.3.1", 8080, false), DENY_BIND);
    assert_eq!(
        bind_as(&h, v, "10.2.99.1", 8080, false),
        DENY_BIND,
        "inside a block"
    );
    // The kernel never picks a managed address as its source, and a given
    // one is refused: the core tries the other local addresses.
    assert_eq!(
        source_as(&h, v, "10.1.3.9", ETH0, "10.1.3.1", false),
        Source::Reserved
    );
    assert_eq!(
        source_as(&h, v, "10.1.3.9", ETH0, "10.1.3.1", true),
        Source::Reserved
    );
    assert_eq!(
        source_as(&h, v, "10.1.3.9", ETH0, "10.9.9.9", false),
        Source::Allow
    );
    assert_eq!(
        source_as(&h, v, "10.1.3.9", ETH1, "10.9.9.9", true),
        Source::Allow,
        "no R1"
    );
    // Its wildcard sockets do not receive what goes to managed addresses.
    assert!(receive_as(&h, v, "10.9.9.9", ETH0));
    assert!(!receive_as(&h, v, "10.1.3.1", ETH0));
    assert!(!receive_as(&h, v, "10.2.3.4", ETH0));
    assert_eq!(local_out_as(&h, v, "10.9.9.9", ETH1), Packet::Accept);
    assert_eq!(local_out_as(&h, v, "10.1.3.1", ETH0), DROP);
    // Port sharing: its wildcard excludes the managed addresses.
    let any4 = Bound::new(Family::V4, 0, false);
    let (uu, vv) = (t.subject(U), t.subject(v));
    assert!(bind_disjoint(&t, (vv, any4), (uu, any4)));
    let (f, a) = at("10.1.3.1");
    assert!(bind_disjoint(&t, (vv, any4), (uu, Bound::new(f, a, false))));
    let (f, a) = at("10.9.9.9");
    assert!(!bind_disjoint(
        &t,
        (vv, Bound::new(f, a, false)),
        (t.subject(1015), any4)
    ));
    assert!(
        !bind_disjoint(&t, (vv, any4), (t.subject(1015), any4)),
        "two unmanaged: stock"
    );
}

/// Rows for root (and sockets whose owner is unknown): a stock kernel.
#[test]
fn row_root_and_unknown() {
    let h = fixture();
    let t = h.tables();
    for uid in [0, NO_UID] {
        for addr in ["10.1.3.1", "10.2.0.1", "10.9.9.9", "0.0.0.0", "::1"] {
            assert_eq!(
                bind_as(&h, uid, addr, 80, false),
                Bind::Allow,
                "{uid} {addr}"
            );
            assert!(receive_as(&h, uid, addr, ETH1), "{uid} {addr}");
            assert_eq!(local_out_as(&h, uid, addr, ETH0), Packet::Accept);
            assert_eq!(
                source_as(&h, uid, "10.9.0.1", ETH0, addr, true),
                Source::Allow
            );
            assert_eq!(
                source_as(&h, uid, "10.9.0.1", ETH0, addr, false),
                Source::Allow
            );
        }
    }
    let any4 = Bound::new(Family::V4, 0, false);
    let (f, a) = at("10.1.3.1");
    let (m, root) = (t.subject(U), t.subject(0));
    assert!(
        !bind_disjoint(&t, (m, any4), (root, any4)),
        "root's wildcard is everything"
    );
    assert!(!bind_disjoint(
        &t,
        (m, any4),
        (root, Bound::new(f, a, false))
    ));
    let (f9, a9) = at("10.9.9.9");
    assert!(bind_disjoint(
        &t,
        (m, any4),
        (root, Bound::new(f9, a9, false))
    ));
    let unknown = t.subject(NO_UID);
    let (f4, a4) = at("10.2.0.1");
    assert!(
        bind_disjoint(&t, (m, any4), (unknown, Bound::new(f4, a4, false))),
        "TIME_WAIT elsewhere"
    );
    assert!(!bind_disjoint(
        &t,
        (m, any4),
        (unknown, Bound::new(f, a, false))
    ));
}

#[test]
fn port_sharing_details() {
    let h = fixture();
    let t = h.tables();
    let (u, o) = (t.subject(U), t.subject(OTHER));
    let any = |family, v6only| Bound::new(family, 0, v6only);
    let addr = |s: &str| {
        let (f, a) = at(s);
        Bound::new(f, a, false)
    };
    assert!(
        !bind_disjoint(&t, (u, any(Family::V4, false)), (u, any(Family::V4, false))),
        "same uid"
    );
    assert!(
        !bind_disjoint(&t, (u, addr("10.1.3.1")), (o, addr("10.2.0.1"))),
        "two addresses: stock"
    );
    assert!(
        bind_disjoint(
            &t,
            (t.subject(0), any(Family::V6, true)),
            (u, addr("10.1.3.1"))
        ),
        "v6only"
    );
    assert!(bind_disjoint(
        &t,
        (u, any(Family::V4, false)),
        (o, addr("10.2.0.1"))
    ));
    assert!(!bind_disjoint(
        &t,
        (u, any(Family::V4, false)),
        (o, addr("10.1.3.1"))
    ));
}

// ---- against a naive model: the same rules, read off the list by scans ----

struct Model<'a>(&'a [Entry]);

impl Model<'_> {
    fn owner(&self, f: Family, a: u128) -> Option<u32> {
        self.0
            .iter()
            .find(|e| e.prefix.contains(f, a))
            .map(|e| e.uid)
    }
    fn managed(&self, uid: u32) -> bool {
        uid != 0 && uid != NO_UID && self.0.iter().any(|e| e.uid == uid)
    }
    fn iface_ok(&self, uid: u32, i: u32) -> bool {
        let mut devs = self.0.iter().filter(|e| e.uid == uid && e.ifindex != 0);
        i == 0 || i == 1 || devs.clone().next().is_none() || devs.any(|e| e.ifindex == i)
    }
    fn stock(uid: u32) -> bool {
        uid == 0 || uid == NO_UID
    }
}

fn arb_addr() -> impl Strategy<Value = (Family, u128)> {
    prop_oneof![
        (0u128..20).prop_map(|a| (Family::V4, if a == 19 { 0 } else { 0x0a00_0000 | a })),
        (0u128..20).prop_map(|a| (Family::V6, if a == 19 { 0 } else { 0x2001_0db8 << 96 | a })),
    ]
}

fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
    let one = (
        prop_oneof![
            (0u128..16, 28u8..=32).prop_map(|(a, l)| (Family::V4, 0x0a00_0000 | a, l)),
            (0u128..16, 124u8..=128).prop_map(|(a, l)| (Family::V6, 0x2001_0db8 << 96 | a, l)),
        ],
        1u32..5,
        prop::sample::select(vec![0u32, 0, 2, 3]),
    )
        .prop_map(|((f, a, l), uid, ifindex)| {
            let host = (1u128 << (f.bits() - l)) - 1;
            Entry {
                prefix: Prefix::new(f, a & !host, l).unwrap(),
                uid,
                table: 100 + uid,
                ifindex,
            }
        });
    prop::collection::vec(one, 0..10)
}

/// Keeps what a valid policy can hold: each new entry joins if `apply`
/// accepts it.
fn valid(adds: &[Entry]) -> Vec<Entry> {
    let mut list: Vec<Entry> = Vec::new();
    for a in adds {
        let mut out = vec![Entry::default(); list.len() + 1];
        let mut pairs = vec![UidTable::default(); list.len() + 1];
        if let Ok(n) = apply(
            &list,
            Replace::Nothing,
            &mut [],
            &mut [*a],
            &mut out,
            &mut pairs,
        ) {
            out.truncate(n);
            list = out;
        }
    }
    list
}

proptest! {
    #[test]
    fn verdicts_match_model(
        adds in arb_entries(),
        uid in prop::sample::select(vec![0u32, 1, 2, 3, 4, 5, NO_UID]),
        (family, addr) in arb_addr(),
        dst in 0u128..20,
        ifindex in 0u32..4,
        port in prop::sample::select(vec![0u16, 80, 1023, 1024, 8080]),
        (low_ports, given) in (any::<bool>(), any::<bool>()),
    ) {
        let list = valid(&adds);
        let h = Host::of(list.clone());
        let t = h.tables();
        let m = Model(&list);
        let who = t.subject(uid);
        prop_assert_eq!(matches!(who, Subject::Managed(_)), m.managed(uid));
        let holder = if addr == 0 { None } else { m.owner(family, addr) };
        let dst = if family == Family::V4 { 0x0a00_0000 | dst } else { 0x2001_0db8 << 96 | dst };

        let want_bind = if Model::stock(uid) {
            Bind::Allow
        } else if m.managed(uid) && addr != 0 && holder != Some(uid) {
            DENY_BIND
        } else if m.managed(uid) && low_ports && port != 0 && port < 1024 {
            Bind::AllowLowPort
        } else if !m.managed(uid) && holder.is_some() {
            DENY_BIND
        } else {
            Bind::Allow
        };
        prop_assert_eq!(bind(&t, who, family, addr, port, low_ports), want_bind);

        let want_rcv = Model::stock(uid)
            || if m.managed(uid) {
                m.owner(family, addr) == Some(uid) && m.iface_ok(uid, ifindex)
            } else {
                m.owner(family, addr).is_none()
            };
        prop_assert_eq!(receive(&t, who, family, addr, ifindex), want_rcv);

        let want_out = if Model::stock(uid)
            || (m.managed(uid) && m.owner(family, addr) == Some(uid) && m.iface_ok(uid, ifindex))
            || (!m.managed(uid) && m.owner(family, addr).is_none())
        {
            Packet::Accept
        } else {
            DROP
        };
        prop_assert_eq!(local_out(&t, who, family, addr, ifindex), want_out);
        let owners_table = m.owner(family, addr).and_then(|u| list.iter().find(|e| e.uid == u)).map(|e| e.table);
        prop_assert_eq!(t.owner_table(family, addr), owners_table);

        let got = route_source(&t, who, family, dst, ifindex, addr, given);
        if may_remember(who, 0) {
            // What the stamps hold is what an output route allows.
            prop_assert_eq!(got == Source::Allow, want_out == Packet::Accept);
        }
        let own: Vec<Entry> = list.iter().filter(|e| e.uid == uid).copied().collect();
        let want_src = if Model::stock(uid) {
            Source::Allow
        } else if !m.managed(uid) {
            if holder.is_some() { Source::Reserved } else { Source::Allow }
        } else if !m.iface_ok(uid, ifindex) {
            Source::Deny(Errno::NetUnreach, Counter::SourcesDenied)
        } else if holder == Some(uid) {
            Source::Allow
        } else if given {
            DENY_SRC
        } else {
            // Any host address of U's in the family will do for the model;
            // which one is `closest_source`'s (tested on its own).
            match own.iter().any(|e| e.prefix.family() == family && e.prefix.is_host()) {
                true => Source::Rewrite(closest_source(&own, family, dst, ifindex).unwrap().addr(), Counter::SourcesRewritten),
                false => DENY_SRC,
            }
        };
        prop_assert_eq!(got, want_src);
        if let Source::Rewrite(a, _) = got {
            prop_assert_eq!(m.owner(family, a), Some(uid), "a rewrite is always to U's own");
        }
    }
}
