use super::*;
use proptest::prelude::*;

fn v4(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    let a: Ipv4Addr = a.parse().unwrap();
    Prefix::new(Family::V4, u32::from(a).into(), l.parse().unwrap()).unwrap()
}

fn v6(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap_or((s, "128"));
    let a: Ipv6Addr = a.parse().unwrap();
    Prefix::new(Family::V6, u128::from(a), l.parse().unwrap()).unwrap()
}

fn entry(prefix: Prefix, uid: u32, table: u32) -> Entry {
    Entry {
        prefix,
        uid,
        table,
        ifindex: 0,
    }
}

/// `apply` with buffers sized as the module sizes them.
fn run(
    current: &[Entry],
    replace: Replace,
    removes: &[Prefix],
    adds: &[Entry],
) -> Result<Vec<Entry>, Refusal> {
    let (mut removes, mut adds) = (removes.to_vec(), adds.to_vec());
    let cap = current.len() + adds.len();
    let mut out = vec![Entry::default(); cap];
    let mut pairs = vec![UidTable::default(); cap];
    let n = apply(
        current,
        replace,
        &mut removes,
        &mut adds,
        &mut out,
        &mut pairs,
    )?;
    out.truncate(n);
    Ok(out)
}

fn add(current: &[Entry], adds: &[Entry]) -> Result<Vec<Entry>, Refusal> {
    run(current, Replace::Nothing, &[], adds)
}

fn message(r: Result<Vec<Entry>, Refusal>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn mission_example() {
    let list = add(&[], &[entry(v4("10.1.3.1"), 32811, 32811)]).unwrap();
    assert_eq!(list, vec![entry(v4("10.1.3.1"), 32811, 32811)]);
}

#[test]
fn refusals_name_the_reason() {
    let base = add(
        &[],
        &[
            entry(v4("10.1.3.1"), 1011, 100),
            entry(v6("2001:db8::1"), 1011, 100),
        ],
    )
    .unwrap();
    let cases = [
        (
            entry(v4("10.1.3.1"), 1012, 101),
            "10.1.3.1 already belongs to uid 1011",
        ),
        (
            entry(v4("10.1.3.0/24"), 1012, 101),
            "10.1.3.0/24 overlaps 10.1.3.1 of uid 1011",
        ),
        (
            entry(v4("10.1.3.1"), 1011, 100),
            "10.1.3.1 is already an entry of uid 1011",
        ),
        (
            entry(v6("2001:db8::1"), 1012, 101),
            "2001:db8::1 already belongs to uid 1011",
        ),
        (
            entry(v4("10.1.3.2"), 1011, 101),
            "uid 1011 already uses table 100",
        ),
        (
            entry(v4("10.1.3.2"), 1012, 100),
            "table 100 already belongs to uid 1011",
        ),
        (entry(v4("10.1.3.2"), 0, 100), "uid 0 cannot be managed"),
        (entry(v4("10.1.3.2"), 1012, 254), "table 254 is reserved"),
    ];
    for (e, want) in cases {
        assert_eq!(message(add(&base, &[e])), want, "{e:?}");
    }
    for t in [0, 253, 254, 255] {
        assert_eq!(
            add(&base, &[entry(v4("10.9.9.9"), 7, t)]).unwrap_err(),
            Refusal::ReservedTable(t)
        );
    }
    assert_eq!(
        message(run(&base, Replace::Nothing, &[v4("10.1.3.9")], &[])),
        "10.1.3.9 is not an entry"
    );
}

#[test]
fn prefixes_are_checked() {
    assert_eq!(
        Prefix::new(Family::V4, 0x0a010301, 24)
            .unwrap_err()
            .to_string(),
        "10.1.3.1/24 has host bits set"
    );
    assert_eq!(
        Prefix::new(Family::V4, 0, 33).unwrap_err().to_string(),
        "prefix length 33 exceeds 32"
    );
    assert_eq!(
        Prefix::new(Family::V6, 0, 129).unwrap_err().to_string(),
        "prefix length 129 exceeds 128"
    );
    let mapped = u128::from(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0301]));
    assert_eq!(
        Prefix::new(Family::V6, mapped, 128)
            .unwrap_err()
            .to_string(),
        "::ffff:10.1.3.1 is IPv4-mapped: use the IPv4 address"
    );
    assert_eq!(
        Prefix::from_bytes(&[10, 1, 3, 1], 32).unwrap(),
        v4("10.1.3.1")
    );
    assert_eq!(
        Prefix::from_bytes(&[10, 1, 3], 24),
        Err(Refusal::BadAddress)
    );
    assert_eq!(v4("0.0.0.0/0").last(), u128::from(u32::MAX));
    assert_eq!(v6("::/0").last(), u128::MAX);
    assert_eq!(v4("10.0.0.0/8").to_string(), "10.0.0.0/8");
    assert_eq!(v4("10.1.3.1").truncate(24).unwrap(), v4("10.1.3.0/24"));
    assert_eq!(
        v6("2001:db8:1::11").truncate(64).unwrap(),
        v6("2001:db8:1::/64")
    );
    assert!(v4("10.1.3.1").truncate(33).is_err());
    let (bytes, n) = v6("2001:db8::1").to_bytes();
    assert_eq!(
        Prefix::from_bytes(&bytes[..n], 128).unwrap(),
        v6("2001:db8::1")
    );
}

#[test]
fn batch_is_all_or_nothing_and_orders_ops() {
    let base = add(&[], &[entry(v4("10.1.3.1"), 1011, 100)]).unwrap();
    // Moving an address between uids works in one batch: remove, then add.
    let moved = run(
        &base,
        Replace::Nothing,
        &[v4("10.1.3.1")],
        &[entry(v4("10.1.3.1"), 1012, 101)],
    )
    .unwrap();
    assert_eq!(moved, vec![entry(v4("10.1.3.1"), 1012, 101)]);
    // One bad entry refuses the whole batch.
    assert!(add(
        &base,
        &[
            entry(v4("10.1.3.2"), 1011, 100),
            entry(v4("10.1.3.3"), 0, 5)
        ]
    )
    .is_err());
    // A uid may change table when all its entries are replaced.
    let retabled = run(
        &base,
        Replace::Uid(1011),
        &[],
        &[entry(v4("10.1.3.1"), 1011, 200)],
    )
    .unwrap();
    assert_eq!(retabled, vec![entry(v4("10.1.3.1"), 1011, 200)]);
    assert_eq!(run(&base, Replace::All, &[], &[]).unwrap(), vec![]);
    // Nested prefixes of one uid are fine.
    add(&base, &[entry(v4("10.1.0.0/16"), 1011, 100)]).unwrap();
}

#[test]
fn lookups() {
    let list = add(
        &[],
        &[
            entry(v4("10.1.0.0/16"), 1011, 100),
            entry(v4("10.1.3.1"), 1011, 100),
            entry(v4("10.2.0.1"), 1012, 101),
            entry(v4("10.2.0.2"), 1012, 101),
            entry(v6("2001:db8::1"), 1012, 101),
            entry(v6("2001:db8:1::1"), 1012, 101),
        ],
    )
    .unwrap();
    let mut ranges = vec![Range::default(); list.len()];
    let mut uids = vec![UidTable::default(); list.len()];
    let (nr, nu) = build_index(&list, &mut ranges, &mut uids).unwrap();
    let (ranges, uids) = (&ranges[..nr], &uids[..nu]);
    assert_eq!(nr, 4, "{ranges:?}"); // 10.1/16, 10.2.0.1-2 merged, two v6
    assert_eq!(table_of(uids, 1011), Some(100));
    assert_eq!(table_of(uids, 1013), None);
    let a = |p: Prefix| p.addr();
    assert_eq!(owner(ranges, Family::V4, a(v4("10.1.200.7"))), Some(1011));
    assert_eq!(owner(ranges, Family::V4, a(v4("10.2.0.2"))), Some(1012));
    assert_eq!(owner(ranges, Family::V4, a(v4("10.2.0.3"))), None);
    assert_eq!(owner(ranges, Family::V6, a(v4("10.1.3.1"))), None);
    assert_eq!(owner(ranges, Family::V6, a(v6("2001:db8::1"))), Some(1012));
    let mut by_uid = list.clone();
    sort_by_uid(&mut by_uid);
    let mut own = vec![Own::default(); nu];
    build_own(&by_uid, uids, &mut own).unwrap();
    let entries_of = |uid| {
        let i = uids.iter().position(|u| u.uid == uid).unwrap();
        own[i].of(&by_uid)
    };
    assert_eq!(entries_of(1011).len(), 2);
    assert_eq!(entries_of(1012).len(), 4);
    let (u12, dst) = (entries_of(1012), a(v6("2001:db8:1::99")));
    assert_eq!(
        closest_source(u12, Family::V6, dst, 0),
        Some(v6("2001:db8:1::1"))
    );
    assert_eq!(
        closest_source(u12, Family::V4, a(v4("10.2.0.9")), 0),
        Some(v4("10.2.0.1"))
    );
    assert_eq!(closest_source(entries_of(1011), Family::V6, dst, 0), None);
}

#[test]
fn source_prefers_the_output_interface() {
    let e = |p: &str, ifindex| Entry {
        prefix: p.parse().unwrap(),
        uid: 1011,
        table: 100,
        ifindex,
    };
    let own = [e("10.1.3.1", 3), e("10.9.0.1", 0), e("10.1.0.0/16", 4)];
    let dst = "10.9.0.7".parse::<Prefix>().unwrap().addr();
    // longest common prefix when the output interface has none of them
    assert_eq!(
        closest_source(&own, Family::V4, dst, 0),
        Some("10.9.0.1".parse().unwrap())
    );
    assert_eq!(
        closest_source(&own, Family::V4, dst, 5),
        Some("10.9.0.1".parse().unwrap())
    );
    // the address on the output interface first, however far
    assert_eq!(
        closest_source(&own, Family::V4, dst, 3),
        Some("10.1.3.1".parse().unwrap())
    );
    // blocks are never chosen
    assert_eq!(
        closest_source(&own, Family::V4, dst, 4),
        Some("10.9.0.1".parse().unwrap())
    );
}

#[test]
fn heapsort_sorts() {
    for n in 0..40u32 {
        let mut v: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2654435761) % 17).collect();
        let mut want = v.clone();
        want.sort();
        sort_by(&mut v, |a, b| a.cmp(b));
        assert_eq!(v, want);
    }
}

#[test]
fn hash_tables_agree_with_the_binary_searches() {
    let mut entries = Vec::new();
    for i in 0..3000u32 {
        let prefix = Prefix::new(Family::V4, u128::from(0x0a80_0000 + i * 7), 32).unwrap();
        entries.push(Entry {
            prefix,
            uid: 2000 + i / 3,
            table: 2000 + i / 3,
            ifindex: 0,
        });
    }
    let block = Prefix::new(Family::V6, 0x2001_0db8 << 96, 32).unwrap();
    entries.push(Entry {
        prefix: block,
        uid: 9,
        table: 9,
        ifindex: 0,
    });
    let mut uids = vec![UidTable::default(); entries.len()];
    let mut ranges = vec![Range::default(); entries.len()];
    let (nr, nu) = build_index(&entries, &mut ranges, &mut uids).unwrap();
    let (ranges, uids) = (&ranges[..nr], &uids[..nu]);
    let mut uid_table = vec![EMPTY; hash_slots(uids.len())];
    build_uid_hash(uids, &mut uid_table).unwrap();
    let mut host_table = vec![EMPTY; hash_slots(entries.len())];
    build_host_hash(&entries, &mut host_table).unwrap();
    for uid in 0..4000 {
        let by_hash = find_uid(uids, &uid_table, uid).map(|i| uids[i].table);
        assert_eq!(by_hash, table_of(uids, uid), "uid {uid}");
    }
    for a in 0x0a80_0000u32..0x0a80_0000 + 3000 * 7 + 3 {
        let host = find_host(&entries, &host_table, Family::V4, u128::from(a)).map(|e| e.uid);
        assert_eq!(host, owner(ranges, Family::V4, u128::from(a)), "{a:x}");
    }
    // a block is not a host entry: the ranges answer for it
    assert!(find_host(&entries, &host_table, Family::V6, block.addr()).is_none());
    assert_eq!(hash_slots(0), 2);
    assert_eq!(hash_slots(3000), 8192);
}

// ---- against a naive model ----

fn naive(
    current: &[Entry],
    replace: Replace,
    removes: &[Prefix],
    adds: &[Entry],
) -> Option<Vec<Entry>> {
    let mut list: Vec<Entry> = current
        .iter()
        .filter(|e| !replace.drops(e))
        .copied()
        .collect();
    for r in removes {
        let i = list.iter().position(|e| e.prefix == *r)?;
        list.remove(i);
    }
    list.extend_from_slice(adds);
    for (i, a) in list.iter().enumerate() {
        check_entry(a).ok()?;
        for b in &list[i + 1..] {
            let (p, q) = (a.prefix, b.prefix);
            let overlap =
                p.family() == q.family() && p.first() <= q.last() && q.first() <= p.last();
            if (overlap && (a.uid != b.uid || a.prefix == b.prefix))
                || (a.uid == b.uid && a.table != b.table)
                || (a.table == b.table && a.uid != b.uid)
            {
                return None;
            }
        }
    }
    list.sort_by(Entry::cmp_prefix);
    Some(list)
}

fn arb_prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        (0u128..16, 28u8..=32).prop_map(|(a, l)| (Family::V4, 0x0a00_0000 | a, l)),
        (0u128..16, 124u8..=128).prop_map(|(a, l)| (Family::V6, 0x2001_0db8 << 96 | a, l)),
    ]
    .prop_map(|(f, a, l)| {
        let host = (1u128 << (f.bits() - l)) - 1;
        Prefix::new(f, a & !host, l).unwrap()
    })
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        arb_prefix(),
        0u32..4,
        prop::sample::select(vec![1u32, 2, 3, 254]),
    )
        .prop_map(|(prefix, uid, table)| entry(prefix, uid, table))
}

fn arb_replace() -> impl Strategy<Value = Replace> {
    prop_oneof![
        Just(Replace::Nothing),
        Just(Replace::All),
        (1u32..4).prop_map(Replace::Uid)
    ]
}

proptest! {
    #[test]
    fn apply_matches_model(
        batches in prop::collection::vec(
            (arb_replace(), prop::collection::vec(arb_prefix(), 0..3), prop::collection::vec(arb_entry(), 0..6)),
            1..8,
        )
    ) {
        let mut list = Vec::new();
        for (replace, removes, adds) in batches {
            let want = naive(&list, replace, &removes, &adds);
            let got = run(&list, replace, &removes, &adds);
            match (&want, &got) {
                (Some(w), Ok(g)) => prop_assert_eq!(w, g),
                (None, Err(_)) => {}
                _ => prop_assert!(false, "model {:?} vs apply {:?} on {:?} {:?} -{:?} +{:?}", want, got, list, replace, removes, adds),
            }
            if let Ok(g) = got {
                list = g;
            }
            // The indexes agree with a scan of the list.
            let mut ranges = vec![Range::default(); list.len()];
            let mut uids = vec![UidTable::default(); list.len()];
            let (nr, nu) = build_index(&list, &mut ranges, &mut uids).unwrap();
            for fam in [Family::V4, Family::V6] {
                let base = if fam == Family::V4 { 0x0a00_0000 } else { 0x2001_0db8 << 96 };
                for a in base..base + 18 {
                    let scan = list.iter().find(|e| e.prefix.contains(fam, a)).map(|e| e.uid);
                    prop_assert_eq!(owner(&ranges[..nr], fam, a), scan);
                }
            }
            let mut by_uid = list.clone();
            sort_by_uid(&mut by_uid);
            let mut own = vec![Own::default(); nu];
            build_own(&by_uid, &uids[..nu], &mut own).unwrap();
            for uid in 0..5 {
                let scan = list.iter().find(|e| e.uid == uid).map(|e| e.table);
                prop_assert_eq!(table_of(&uids[..nu], uid), scan);
                let mine: Vec<Entry> = list.iter().filter(|e| e.uid == uid).copied().collect();
                match uids[..nu].iter().position(|u| u.uid == uid) {
                    Some(i) => {
                        prop_assert_eq!(own[i].of(&by_uid), &mine[..]);
                        prop_assert_eq!(own[i].has_interfaces, mine.iter().any(|e| e.ifindex != 0));
                    }
                    None => prop_assert!(mine.is_empty()),
                }
            }
        }
    }
}
