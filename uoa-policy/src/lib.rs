//! UOA's policy logic, in plain `core` Rust: the kernel module compiles this
//! file as its `policy` module (kmod/policy links here) and `cargo test` runs
//! it on the host, against a naive model.
//!
//! A namespace's policy is a list of [`Entry`] `(prefix, uid, table)`. Every
//! function here works on caller-provided slices and never allocates, so the
//! module can size its buffers once with its own allocator.
//!
//! Invariants of a valid list (checked by [`apply`]):
//! - an address belongs to at most one uid: prefixes of different uids never
//!   overlap (those of one uid may);
//! - a uid has one table and a table one uid;
//! - no uid 0, no table 0, 253, 254 or 255; no IPv4-mapped IPv6 prefix;
//! - no prefix twice.
//!
//! [`verdict`] holds what the kernel decides at each hook (bind, port
//! sharing, receive, source choice and check, LOCAL_OUT) as pure functions
//! of a snapshot's [`verdict::Tables`]: the module's hooks only call them.
//! [`route`] does the same for route delegation (R4) over rtnetlink.

#![cfg_attr(not(test), no_std)]

use core::cmp::Ordering;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Address family of a prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    #[default]
    V4,
    V6,
}

impl Family {
    pub const fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// An address prefix. IPv4 addresses sit in the low 32 bits of `addr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    family: Family,
    addr: u128,
    len: u8,
}

impl Prefix {
    /// A prefix from an address and a length; refuses a length beyond the
    /// family's width, host bits set, and IPv4-mapped IPv6.
    pub fn new(family: Family, addr: u128, len: u8) -> Result<Self, Refusal> {
        if family == Family::V4 && addr > u128::from(u32::MAX) {
            return Err(Refusal::BadAddress);
        }
        if len > family.bits() {
            return Err(Refusal::PrefixTooLong { family, len });
        }
        let p = Prefix { family, addr, len };
        if p.first() != addr {
            return Err(Refusal::HostBits(p));
        }
        if family == Family::V6 && addr >> 32 == 0xffff {
            return Err(Refusal::Mapped(p));
        }
        Ok(p)
    }

    /// A prefix from a 4- or 16-byte address in network order.
    pub fn from_bytes(addr: &[u8], len: u8) -> Result<Self, Refusal> {
        match addr.len() {
            4 => {
                let a: [u8; 4] = addr.try_into().map_err(|_| Refusal::BadAddress)?;
                Self::new(Family::V4, u32::from_be_bytes(a).into(), len)
            }
            16 => {
                let a: [u8; 16] = addr.try_into().map_err(|_| Refusal::BadAddress)?;
                Self::new(Family::V6, u128::from_be_bytes(a), len)
            }
            _ => Err(Refusal::BadAddress),
        }
    }

    pub const fn family(&self) -> Family {
        self.family
    }
    // The prefix length, not a count: there is no "empty" prefix.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> u8 {
        self.len
    }
    pub const fn addr(&self) -> u128 {
        self.addr
    }
    /// Is this one address (/32 or /128)?
    pub const fn is_host(&self) -> bool {
        self.len == self.family.bits()
    }

    /// The address in network order; only the first 4 bytes count for IPv4.
    pub fn to_bytes(&self) -> ([u8; 16], usize) {
        let mut b = [0u8; 16];
        match self.family {
            Family::V4 => {
                b[..4].copy_from_slice(&(self.addr as u32).to_be_bytes());
                (b, 4)
            }
            Family::V6 => (self.addr.to_be_bytes(), 16),
        }
    }

    fn host_mask(&self) -> u128 {
        let host_bits = u32::from(self.family.bits() - self.len);
        1u128.checked_shl(host_bits).map_or(u128::MAX, |v| v - 1)
    }
    /// The prefix of length `len` that contains this one's address
    /// (`10.1.3.1` truncated to 24 is `10.1.3.0/24`).
    pub fn truncate(&self, len: u8) -> Result<Self, Refusal> {
        let wide = Prefix { len, ..*self };
        if len > self.family.bits() {
            return Err(Refusal::PrefixTooLong {
                family: self.family,
                len,
            });
        }
        Ok(Prefix {
            addr: wide.first(),
            ..wide
        })
    }

    /// Lowest address covered.
    pub fn first(&self) -> u128 {
        self.addr & !self.host_mask()
    }
    /// Highest address covered.
    pub fn last(&self) -> u128 {
        self.first() | self.host_mask()
    }
    pub fn contains(&self, family: Family, addr: u128) -> bool {
        self.family == family && self.first() <= addr && addr <= self.last()
    }
    /// Order of the list: family, then first address, then wider first.
    fn sort_key(&self) -> (Family, u128, u8) {
        (self.family, self.first(), self.len)
    }
}

impl core::str::FromStr for Prefix {
    type Err = Refusal;

    /// `10.1.3.1`, `10.0.0.0/8`, `2001:db8::1`, `2001:db8::/32`.
    fn from_str(s: &str) -> Result<Self, Refusal> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| Refusal::BadAddress)?)),
            None => (s, None),
        };
        match addr
            .parse::<core::net::IpAddr>()
            .map_err(|_| Refusal::BadAddress)?
        {
            core::net::IpAddr::V4(a) => {
                Self::new(Family::V4, u32::from(a).into(), len.unwrap_or(32))
            }
            core::net::IpAddr::V6(a) => Self::new(Family::V6, u128::from(a), len.unwrap_or(128)),
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V4 => write!(f, "{}", Ipv4Addr::from(self.addr as u32))?,
            Family::V6 => write!(f, "{}", Ipv6Addr::from(self.addr))?,
        }
        if !self.is_host() {
            write!(f, "/{}", self.len)?;
        }
        Ok(())
    }
}

/// One policy entry: `prefix` belongs to `uid`, whose table is `table`.
/// `ifindex` (0: none) is the interface the prefix lives on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entry {
    pub prefix: Prefix,
    pub uid: u32,
    pub table: u32,
    pub ifindex: u32,
}

impl Entry {
    fn cmp_prefix(&self, other: &Entry) -> Ordering {
        self.prefix.sort_key().cmp(&other.prefix.sort_key())
    }
}

/// A uid and its table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UidTable {
    pub uid: u32,
    pub table: u32,
}

/// Why the kernel refuses a request; `Display` is the extack message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    BadAddress,
    PrefixTooLong {
        family: Family,
        len: u8,
    },
    HostBits(Prefix),
    Mapped(Prefix),
    UidZero,
    ReservedTable(u32),
    /// `prefix` is already an entry, of `uid`.
    Duplicate {
        prefix: Prefix,
        uid: u32,
    },
    /// `prefix` overlaps `other`, which belongs to another uid, `owner`.
    Taken {
        prefix: Prefix,
        other: Prefix,
        owner: u32,
    },
    /// `uid` already has `table`.
    UidHasTable {
        uid: u32,
        table: u32,
    },
    /// `table` already belongs to `owner`.
    TableTaken {
        table: u32,
        owner: u32,
    },
    /// A removal names a prefix that is not an entry.
    NotFound(Prefix),
    /// More entries than the buffers given.
    TooMany,
}

impl Refusal {
    /// The errno the kernel returns with this refusal (positive).
    pub const fn errno(&self) -> i32 {
        const EINVAL: i32 = 22;
        const EEXIST: i32 = 17;
        const ENOENT: i32 = 2;
        const ENOSPC: i32 = 28;
        match self {
            Refusal::Duplicate { .. }
            | Refusal::Taken { .. }
            | Refusal::UidHasTable { .. }
            | Refusal::TableTaken { .. } => EEXIST,
            Refusal::NotFound(_) => ENOENT,
            Refusal::TooMany => ENOSPC,
            _ => EINVAL,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::BadAddress => write!(f, "not an IPv4 or IPv6 address or prefix"),
            Refusal::PrefixTooLong { family, len } => {
                write!(f, "prefix length {len} exceeds {}", family.bits())
            }
            Refusal::HostBits(p) => write!(f, "{}/{} has host bits set", Addr(p), p.len),
            Refusal::Mapped(p) => write!(f, "{p} is IPv4-mapped: use the IPv4 address"),
            Refusal::UidZero => write!(f, "uid 0 cannot be managed"),
            Refusal::ReservedTable(t) => write!(f, "table {t} is reserved"),
            Refusal::Duplicate { prefix, uid } => {
                write!(f, "{prefix} is already an entry of uid {uid}")
            }
            Refusal::Taken {
                prefix,
                other,
                owner,
            } if prefix == other => {
                write!(f, "{prefix} already belongs to uid {owner}")
            }
            Refusal::Taken {
                prefix,
                other,
                owner,
            } => {
                write!(f, "{prefix} overlaps {other} of uid {owner}")
            }
            Refusal::UidHasTable { uid, table } => {
                write!(f, "uid {uid} already uses table {table}")
            }
            Refusal::TableTaken { table, owner } => {
                write!(f, "table {table} already belongs to uid {owner}")
            }
            Refusal::NotFound(p) => write!(f, "{p} is not an entry"),
            Refusal::TooMany => write!(f, "too many entries"),
        }
    }
}

/// The address of a prefix without its length (for host-bit messages).
struct Addr(Prefix);
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = Prefix {
            len: self.0.family.bits(),
            ..self.0
        };
        write!(f, "{p}")
    }
}

/// Checks what can be checked of an entry on its own.
pub fn check_entry(e: &Entry) -> Result<(), Refusal> {
    if e.uid == 0 {
        return Err(Refusal::UidZero);
    }
    if matches!(e.table, 0 | 253 | 254 | 255) {
        return Err(Refusal::ReservedTable(e.table));
    }
    Ok(())
}

/// Which existing entries a batch replaces before it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    Nothing,
    All,
    Uid(u32),
}

impl Replace {
    fn drops(&self, e: &Entry) -> bool {
        match *self {
            Replace::Nothing => false,
            Replace::All => true,
            Replace::Uid(uid) => e.uid == uid,
        }
    }
}

/// Applies a batch to `current` (a valid list, sorted as this module sorts)
/// and writes the new list, sorted, to `out`, returning its length: first
/// `replace` drops entries, then `removes` drop one each, then `adds` join.
/// All or nothing: on a refusal `current` is untouched.
///
/// `adds` and `removes` are sorted in place. `out` and `pairs` need room for
/// `current.len() + adds.len()` items; `pairs` is scratch.
pub fn apply(
    current: &[Entry],
    replace: Replace,
    removes: &mut [Prefix],
    adds: &mut [Entry],
    out: &mut [Entry],
    pairs: &mut [UidTable],
) -> Result<usize, Refusal> {
    for e in adds.iter() {
        check_entry(e)?;
    }
    sort_by(adds, Entry::cmp_prefix);
    sort_by(removes, |a, b| a.sort_key().cmp(&b.sort_key()));

    // Kept entries of `current`, minus removals, merged with the additions.
    let mut n = 0;
    let mut push = |out: &mut [Entry], e: Entry| -> Result<(), Refusal> {
        *out.get_mut(n).ok_or(Refusal::TooMany)? = e;
        n += 1;
        Ok(())
    };
    let mut rm = removes.iter().peekable();
    let mut add = adds.iter().peekable();
    for cur in current.iter().filter(|e| !replace.drops(e)) {
        // Removals are sorted: one below `cur` matches nothing.
        if let Some(r) = rm.peek() {
            if r.sort_key() < cur.prefix.sort_key() {
                return Err(Refusal::NotFound(**r));
            }
        }
        if rm.peek().is_some_and(|r| **r == cur.prefix) {
            rm.next();
            continue;
        }
        while let Some(a) = add.next_if(|a| a.cmp_prefix(cur) == Ordering::Less) {
            push(out, *a)?;
        }
        push(out, *cur)?;
    }
    if let Some(r) = rm.next() {
        return Err(Refusal::NotFound(*r));
    }
    for a in add {
        push(out, *a)?;
    }
    let out = &out[..n];
    let is_new = |e: &Entry| {
        adds.binary_search_by(|a| a.cmp_prefix(e))
            .is_ok_and(|i| adds[i] == *e)
    };

    // Prefixes: sweep in order, tracking the span covered so far and its
    // one owner; anything that reaches into it must be the same uid's.
    let mut span: Option<(Entry, u128)> = None;
    for e in out {
        if let Some((held, end)) = span {
            if held.prefix.family == e.prefix.family && e.prefix.first() <= end {
                let (new, old) = if is_new(e) { (e, &held) } else { (&held, e) };
                if held.prefix == e.prefix && held.uid == e.uid {
                    return Err(Refusal::Duplicate {
                        prefix: new.prefix,
                        uid: old.uid,
                    });
                }
                if held.uid != e.uid || held.prefix == e.prefix {
                    return Err(Refusal::Taken {
                        prefix: new.prefix,
                        other: old.prefix,
                        owner: old.uid,
                    });
                }
                if e.prefix.last() > end {
                    span = Some((*e, e.prefix.last()));
                }
                continue;
            }
        }
        span = Some((*e, e.prefix.last()));
    }

    // One table per uid, one uid per table.
    let pairs = pairs.get_mut(..n).ok_or(Refusal::TooMany)?;
    for (p, e) in pairs.iter_mut().zip(out) {
        *p = UidTable {
            uid: e.uid,
            table: e.table,
        };
    }
    let pair_is_new = |p: &UidTable| adds.iter().any(|a| a.uid == p.uid && a.table == p.table);
    sort_by(pairs, |a, b| (a.uid, a.table).cmp(&(b.uid, b.table)));
    for w in pairs.windows(2) {
        if w[0].uid == w[1].uid && w[0].table != w[1].table {
            let old = if pair_is_new(&w[0]) { w[1] } else { w[0] };
            return Err(Refusal::UidHasTable {
                uid: old.uid,
                table: old.table,
            });
        }
    }
    sort_by(pairs, |a, b| (a.table, a.uid).cmp(&(b.table, b.uid)));
    for w in pairs.windows(2) {
        if w[0].table == w[1].table && w[0].uid != w[1].uid {
            let old = if pair_is_new(&w[0]) { w[1] } else { w[0] };
            return Err(Refusal::TableTaken {
                table: old.table,
                owner: old.uid,
            });
        }
    }
    Ok(n)
}

/// A run of addresses owned by one uid; a namespace's ranges are disjoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub family: Family,
    pub first: u128,
    pub last: u128,
    pub uid: u32,
}

/// Lookup indexes built from a valid, sorted list, for the data path.
///
/// `ranges` and `uids` need room for `entries.len()` items each; returns how
/// many of each were written.
pub fn build_index(
    entries: &[Entry],
    ranges: &mut [Range],
    uids: &mut [UidTable],
) -> Result<(usize, usize), Refusal> {
    let mut nr: usize = 0;
    for e in entries {
        let (first, last) = (e.prefix.first(), e.prefix.last());
        if let Some(r) = nr.checked_sub(1).and_then(|i| ranges.get_mut(i)) {
            if r.family == e.prefix.family && r.uid == e.uid && first <= r.last.saturating_add(1) {
                r.last = r.last.max(last);
                continue;
            }
        }
        *ranges.get_mut(nr).ok_or(Refusal::TooMany)? = Range {
            family: e.prefix.family,
            first,
            last,
            uid: e.uid,
        };
        nr += 1;
    }
    let mut nu = 0;
    for e in entries {
        *uids.get_mut(nu).ok_or(Refusal::TooMany)? = UidTable {
            uid: e.uid,
            table: e.table,
        };
        nu += 1;
    }
    let uids = &mut uids[..nu];
    sort_by(uids, |a, b| a.uid.cmp(&b.uid));
    let mut w = 0;
    for r in 0..uids.len() {
        if w == 0 || uids[w - 1].uid != uids[r].uid {
            uids[w] = uids[r];
            w += 1;
        }
    }
    Ok((nr, w))
}

/// Sorts `v` by `cmp` with heapsort: in place, without recursion and in
/// constant stack. The kernel stack is 16 KiB, and core's quicksort
/// recurses with frames of kilobytes for these types (it overflowed the
/// stack at a few thousand entries).
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    // Moves v[root] down the max-heap in v[..end]; every index is < end.
    let mut sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[root], &v[child]) != Ordering::Less {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// The table of `uid` if it is managed. O(log n).
pub fn table_of(uids: &[UidTable], uid: u32) -> Option<u32> {
    uids.binary_search_by_key(&uid, |u| u.uid)
        .ok()
        .and_then(|i| uids.get(i))
        .map(|u| u.table)
}

/// The uid that owns `addr`, if any. O(log n).
#[inline]
pub fn owner(ranges: &[Range], family: Family, addr: u128) -> Option<u32> {
    let i = ranges.partition_point(|r| (r.family, r.first) <= (family, addr));
    let r = ranges.get(i.checked_sub(1)?)?;
    (r.family == family && addr <= r.last).then_some(r.uid)
}

/// Sorts a copy of a list by uid (then as the list): each uid's entries
/// are then one run, which [`build_own`] indexes.
pub fn sort_by_uid(entries: &mut [Entry]) {
    sort_by(entries, |a, b| {
        a.uid.cmp(&b.uid).then_with(|| a.cmp_prefix(b))
    });
}

/// Where a uid's entries sit in the list sorted by [`sort_by_uid`], and
/// whether any of them names an interface (R1): a uid's own addresses in
/// O(1), without a search of the whole list on the data path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Own {
    pub start: u32,
    pub len: u32,
    pub has_interfaces: bool,
}

impl Own {
    /// These entries of `by_uid`.
    #[inline]
    pub fn of(self, by_uid: &[Entry]) -> &[Entry] {
        let start = self.start as usize;
        by_uid.get(start..start + self.len as usize).unwrap_or(&[])
    }
}

/// Fills `out` (one per item of `uids`, all default) with where each uid's
/// entries sit in `by_uid`. Both lists are in uid order ([`build_index`],
/// [`sort_by_uid`]), so one walk pairs them. O(n).
pub fn build_own(by_uid: &[Entry], uids: &[UidTable], out: &mut [Own]) -> Result<(), Refusal> {
    let mut i = 0;
    for (at, e) in by_uid.iter().enumerate() {
        while uids.get(i).is_some_and(|u| u.uid < e.uid) {
            i += 1;
        }
        if uids.get(i).is_none_or(|u| u.uid != e.uid) {
            return Err(Refusal::TooMany);
        }
        let own = out.get_mut(i).ok_or(Refusal::TooMany)?;
        if own.len == 0 {
            own.start = u32::try_from(at).map_err(|_| Refusal::TooMany)?;
        }
        own.len += 1;
        own.has_interfaces |= e.ifindex != 0;
    }
    Ok(())
}

/// Among a uid's entries (from [`Own::of`]), the source address for a
/// flow of `family` to `dst` leaving through interface `oif` (0: unknown):
/// a host address whose entry names `oif` if there is one, else any host
/// address; among those the one sharing the longest prefix with `dst` (the
/// first on a tie). O(k) in the uid's entries.
pub fn closest_source(own: &[Entry], family: Family, dst: u128, oif: u32) -> Option<Prefix> {
    let mut best: Option<(bool, u32, Prefix)> = None;
    for e in own {
        if e.prefix.family != family || !e.prefix.is_host() {
            continue;
        }
        let on_oif = oif != 0 && e.ifindex == oif;
        let common = (e.prefix.addr ^ dst).leading_zeros();
        if best.is_none_or(|(o, c, _)| (on_oif, common) > (o, c)) {
            best = Some((on_oif, common, e.prefix));
        }
    }
    best.map(|(_, _, p)| p)
}

/// The loopback interface's index in every namespace.
pub const LOOPBACK_IFINDEX: u32 = 1;

// ---- O(1) lookups for the data path ----
//
// A binary search over tens of thousands of items costs a dozen dependent
// loads per packet; these open-addressing tables (linear probing, load at
// most 1/2) find a uid or a host address in one or two. They hold indexes
// into the snapshot's slices; `EMPTY` marks a free slot.

/// A free slot of a hash table.
pub const EMPTY: u32 = u32::MAX;

/// The number of slots for `n` keys: a power of two, at least `2n`.
pub fn hash_slots(n: usize) -> usize {
    n.max(1).saturating_mul(2).next_power_of_two()
}

/// splitmix64's finaliser: every input bit moves every output bit.
#[inline]
const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn uid_hash(uid: u32) -> u64 {
    mix(u64::from(uid))
}

#[inline]
fn table_hash(table: u32) -> u64 {
    // Not the uid's hash: tables often equal uids plus a constant.
    mix(u64::from(table) ^ 0x5441_424C_4500_0000)
}

#[inline]
fn addr_hash(family: Family, addr: u128) -> u64 {
    // The inner round of an upper half of 0 (every IPv4 address) is a
    // constant per family: the same hash, one round fewer per packet.
    const UPPER_ZERO: [u64; 2] = [mix(Family::V4 as u64), mix(Family::V6 as u64)];
    let upper = (addr >> 64) as u64;
    let inner = match (upper, family) {
        (0, Family::V4) => UPPER_ZERO[0],
        (0, Family::V6) => UPPER_ZERO[1],
        _ => mix(upper ^ family as u64),
    };
    mix((addr as u64) ^ inner)
}

/// The first value in `table`'s probe sequence from `h` that `hit` accepts.
#[inline]
fn probe(table: &[u32], h: u64, mut hit: impl FnMut(u32) -> bool) -> Option<u32> {
    let mask = table.len().checked_sub(1)?;
    let mut i = h as usize & mask;
    for _ in 0..table.len() {
        match table.get(i).copied() {
            None | Some(EMPTY) => return None,
            Some(v) if hit(v) => return Some(v),
            Some(_) => i = (i + 1) & mask,
        }
    }
    None
}

fn insert(table: &mut [u32], h: u64, v: u32) -> Result<(), Refusal> {
    let mask = table.len().checked_sub(1).ok_or(Refusal::TooMany)?;
    let mut i = h as usize & mask;
    for _ in 0..table.len() {
        let slot = table.get_mut(i).ok_or(Refusal::TooMany)?;
        if *slot == EMPTY {
            *slot = v;
            return Ok(());
        }
        i = (i + 1) & mask;
    }
    Err(Refusal::TooMany)
}

/// Fills `table` (`hash_slots(uids.len())` slots, all `EMPTY`) with the
/// index of every uid of `uids`.
pub fn build_uid_hash(uids: &[UidTable], table: &mut [u32]) -> Result<(), Refusal> {
    for (i, u) in uids.iter().enumerate() {
        insert(
            table,
            uid_hash(u.uid),
            u32::try_from(i).map_err(|_| Refusal::TooMany)?,
        )?;
    }
    Ok(())
}

/// Fills `table` (`hash_slots(uids.len())` slots, all `EMPTY`) with the
/// index of every item of `uids`, keyed by its routing table.
pub fn build_table_hash(uids: &[UidTable], table: &mut [u32]) -> Result<(), Refusal> {
    for (i, u) in uids.iter().enumerate() {
        let at = u32::try_from(i).map_err(|_| Refusal::TooMany)?;
        insert(table, table_hash(u.table), at)?;
    }
    Ok(())
}

/// The index in `uids` of the uid whose routing table is `rt`. O(1).
#[inline]
pub fn find_table(uids: &[UidTable], table: &[u32], rt: u32) -> Option<usize> {
    probe(table, table_hash(rt), |i| {
        uids.get(i as usize).is_some_and(|u| u.table == rt)
    })
    .map(|i| i as usize)
}

/// The index of `uid` in `uids`, through its table. O(1).
#[inline]
pub fn find_uid(uids: &[UidTable], table: &[u32], uid: u32) -> Option<usize> {
    probe(table, uid_hash(uid), |i| {
        uids.get(i as usize).is_some_and(|u| u.uid == uid)
    })
    .map(|i| i as usize)
}

/// Fills `table` (`hash_slots(entries.len())` slots, all `EMPTY`) with the
/// index of every host entry (/32, /128) of `entries`.
pub fn build_host_hash(entries: &[Entry], table: &mut [u32]) -> Result<(), Refusal> {
    for (i, e) in entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.prefix.is_host())
    {
        let h = addr_hash(e.prefix.family, e.prefix.addr);
        insert(table, h, u32::try_from(i).map_err(|_| Refusal::TooMany)?)?;
    }
    Ok(())
}

/// The host entry of exactly `addr`, through its table. O(1).
#[inline]
pub fn find_host<'a>(
    entries: &'a [Entry],
    table: &[u32],
    family: Family,
    addr: u128,
) -> Option<&'a Entry> {
    let hit = |i: u32| {
        entries
            .get(i as usize)
            .is_some_and(|e| e.prefix.family == family && e.prefix.addr == addr)
    };
    probe(table, addr_hash(family, addr), hit).and_then(|i| entries.get(i as usize))
}

pub mod route;
pub mod shaping;
pub mod verdict;

#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod shaping_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdict_tests;
