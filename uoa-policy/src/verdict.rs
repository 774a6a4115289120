//! What the kernel decides at each hook, as pure functions of a policy
//! [`Tables`] and plain values. The module's hooks (`kmod/hooks.rs`,
//! `kmod/netfilter.rs`) only convert the C arguments, call these, count
//! what they are told to count and return; `cargo test` checks every
//! decision here, row by row of the README's enforcement table.
//!
//! Every function is O(1) in the number of entries and uids (hash
//! lookups) except where a uid's own entries are walked (O(k) in them).

use super::{
    closest_source, find_host, find_table, find_uid, owner, Entry, Family, Own, Range, UidTable,
    LOOPBACK_IFINDEX,
};

/// `UOA_NO_UID`: the owner of a TIME_WAIT or request socket is unknown.
pub const NO_UID: u32 = u32::MAX;

/// Below this port, binding needs CAP_NET_BIND_SERVICE (the default of
/// net.ipv4.ip_unprivileged_port_start).
pub const PRIVILEGED_PORTS: u16 = 1024;

/// The errors a hook returns (the module checks at build time that these
/// are the kernel's numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// EPERM: a packet dropped at LOCAL_OUT.
    Perm,
    /// EADDRNOTAVAIL: not one of the caller's addresses.
    AddrNotAvail,
    /// ENETUNREACH: not one of the caller's interfaces (R1).
    NetUnreach,
}

impl Errno {
    pub const fn get(self) -> i32 {
        match self {
            Errno::Perm => 1,
            Errno::AddrNotAvail => 99,
            Errno::NetUnreach => 101,
        }
    }
}

/// What a hook counts when it refuses or changes something, charged to the
/// managed uid that asked, or to "others" for anyone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    BindsDenied,
    SourcesDenied,
    SourcesRewritten,
    PacketsDropped,
    /// Route changes let through to the uid's own table (R4).
    RoutesChanged,
    /// Route and other rtnetlink changes refused (R4).
    RoutesRefused,
}

/// A managed uid as one snapshot knows it: `index` is its position in the
/// snapshot's uid table (where its counters sit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Managed {
    pub uid: u32,
    /// Its routing table.
    pub table: u32,
    pub index: usize,
    /// Whether its entries name interfaces (R1).
    pub has_interfaces: bool,
}

/// Who calls a hook, as far as the policy is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The owner is unknown (a TIME_WAIT or request socket).
    Unknown,
    Root,
    /// A uid with entries.
    Managed(Managed),
    /// Any other uid.
    Unmanaged(u32),
}

impl Subject {
    fn uid(self) -> Option<u32> {
        match self {
            Subject::Managed(m) => Some(m.uid),
            Subject::Unmanaged(u) => Some(u),
            Subject::Root => Some(0),
            Subject::Unknown => None,
        }
    }
}

/// Root and unknown owners see a stock kernel: the hooks may return
/// before they look at the policy at all.
pub const fn exempt(uid: u32) -> bool {
    uid == 0 || uid == NO_UID
}

/// One version of a namespace's policy with its lookup indexes, as slices
/// that the module (or a test) owns. Built from a valid list by
/// [`crate::build_index`], [`crate::sort_by_uid`], [`crate::build_own`],
/// [`crate::build_uid_hash`], [`crate::build_table_hash`] and
/// [`crate::build_host_hash`].
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    pub entries: &'a [Entry],
    pub ranges: &'a [Range],
    pub uids: &'a [UidTable],
    /// `entries` sorted by uid.
    pub by_uid: &'a [Entry],
    /// One per item of `uids`: where its entries sit in `by_uid`.
    pub own: &'a [Own],
    pub uid_hash: &'a [u32],
    /// `uids` by routing table.
    pub table_hash: &'a [u32],
    pub host_hash: &'a [u32],
    /// Whether any entry is a block, so that an address missing from
    /// `host_hash` may still be owned.
    pub has_blocks: bool,
}

impl<'a> Tables<'a> {
    /// Who `uid` is. O(1).
    #[inline]
    pub fn subject(&self, uid: u32) -> Subject {
        match uid {
            NO_UID => Subject::Unknown,
            0 => Subject::Root,
            u => match self.managed(u) {
                Some(m) => Subject::Managed(m),
                None => Subject::Unmanaged(u),
            },
        }
    }

    /// `uid` if it is managed. O(1).
    #[inline]
    pub fn managed(&self, uid: u32) -> Option<Managed> {
        let index = find_uid(self.uids, self.uid_hash, uid)?;
        Some(Managed {
            uid,
            table: self.uids.get(index)?.table,
            index,
            has_interfaces: self.own.get(index).is_some_and(|o| o.has_interfaces),
        })
    }

    /// The uid that owns `addr`: O(1) for host entries, O(log n) when the
    /// policy has blocks and `addr` is no host entry.
    #[inline]
    pub fn owner(&self, family: Family, addr: u128) -> Option<u32> {
        match find_host(self.entries, self.host_hash, family, addr) {
            Some(e) => Some(e.uid),
            None if self.has_blocks => owner(self.ranges, family, addr),
            None => None,
        }
    }

    /// The routing table of the uid that owns `addr`: O(1) for host
    /// entries (each holds its uid's table), O(log n) through the blocks.
    #[inline]
    pub fn owner_table(&self, family: Family, addr: u128) -> Option<u32> {
        match find_host(self.entries, self.host_hash, family, addr) {
            Some(e) => Some(e.table),
            None if self.has_blocks => self
                .managed(owner(self.ranges, family, addr)?)
                .map(|m| m.table),
            None => None,
        }
    }

    /// The uid whose table is `table`. O(1).
    pub fn table_owner(&self, table: u32) -> Option<u32> {
        self.table_user(table).map(|m| m.uid)
    }

    /// The managed uid whose table is `table`. O(1).
    #[inline]
    pub fn table_user(&self, table: u32) -> Option<Managed> {
        let index = find_table(self.uids, self.table_hash, table)?;
        self.managed(self.uids.get(index)?.uid)
    }

    /// The entries of `m`. O(1).
    #[inline]
    pub fn entries_of(&self, m: Managed) -> &'a [Entry] {
        self.own.get(m.index).map_or(&[], |o| o.of(self.by_uid))
    }

    /// R1: may `m` use interface `ifindex` (0: none given)? A uid whose
    /// entries name no interface may use all; loopback is always allowed.
    /// O(1) unless its entries name interfaces, then O(k) in them.
    #[inline]
    pub fn interface_allowed(&self, m: Managed, ifindex: u32) -> bool {
        ifindex == 0
            || ifindex == LOOPBACK_IFINDEX
            || !m.has_interfaces
            || self.entries_of(m).iter().any(|e| e.ifindex == ifindex)
    }

    /// The owner of a specific address; `None` for the wildcard (0).
    #[inline]
    fn holder(&self, family: Family, addr: u128) -> Option<u32> {
        if addr == 0 {
            return None;
        }
        self.owner(family, addr)
    }
}

/// The verdict of `bind()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Allow,
    /// Allowed, and the port needs no CAP_NET_BIND_SERVICE.
    AllowLowPort,
    Deny(Errno, Counter),
}

/// `bind()` of `addr` (0: the wildcard) and `port` (0: any): a managed uid
/// may bind only its own addresses or the wildcard (and ports below 1024
/// when `low_ports` is on); anyone else but root may not bind a managed
/// uid's address.
pub fn bind(
    t: &Tables<'_>,
    who: Subject,
    family: Family,
    addr: u128,
    port: u16,
    low_ports: bool,
) -> Bind {
    const DENY: Bind = Bind::Deny(Errno::AddrNotAvail, Counter::BindsDenied);
    match who {
        Subject::Root | Subject::Unknown => Bind::Allow,
        Subject::Managed(m) if addr != 0 && t.holder(family, addr) != Some(m.uid) => DENY,
        Subject::Managed(_) if low_ports && port != 0 && port < PRIVILEGED_PORTS => {
            Bind::AllowLowPort
        }
        Subject::Managed(_) => Bind::Allow,
        Subject::Unmanaged(_) if t.holder(family, addr).is_some() => DENY,
        Subject::Unmanaged(_) => Bind::Allow,
    }
}

/// The local address of a bound socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A specific address.
    Addr(Family, u128),
    /// The wildcard of `family`; an IPv6 one that is not v6only covers IPv4
    /// as well.
    Any { family: Family, v6only: bool },
}

impl Bound {
    /// A socket's local address as the kernel passes it (0: wildcard).
    pub fn new(family: Family, addr: u128, v6only: bool) -> Self {
        match addr {
            0 => Bound::Any { family, v6only },
            a => Bound::Addr(family, a),
        }
    }

    fn covers_family(&self, f: Family) -> bool {
        match *self {
            Bound::Addr(family, _) => family == f,
            Bound::Any { family, v6only } => family == f || (family == Family::V6 && !v6only),
        }
    }
}

/// Port conflicts: are the address sets of two sockets of different owners
/// disjoint, so that they may share a port? A managed uid's wildcard stands
/// for its own addresses, an unmanaged uid's for every address but the
/// managed ones (which are reserved), root's for every address. `false`
/// means "no opinion": stock rules.
pub fn bind_disjoint(t: &Tables<'_>, a: (Subject, Bound), b: (Subject, Bound)) -> bool {
    if a.0.uid().is_some() && a.0.uid() == b.0.uid() {
        return false;
    }
    // The wildcard side's view of one specific address.
    let excludes = |who: Subject, family: Family, addr: u128| match who {
        Subject::Managed(m) => t.owner(family, addr) != Some(m.uid),
        Subject::Unmanaged(_) => t.owner(family, addr).is_some(),
        Subject::Root | Subject::Unknown => false,
    };
    match (a.1, b.1) {
        // Two specific addresses: stock compares them.
        (Bound::Addr(..), Bound::Addr(..)) => false,
        (Bound::Addr(f, x), w @ Bound::Any { .. }) => !w.covers_family(f) || excludes(b.0, f, x),
        (w @ Bound::Any { .. }, Bound::Addr(f, x)) => !w.covers_family(f) || excludes(a.0, f, x),
        (Bound::Any { .. }, Bound::Any { .. }) => matches!(
            (a.0, b.0),
            (
                Subject::Managed(_),
                Subject::Managed(_) | Subject::Unmanaged(_)
            ) | (Subject::Unmanaged(_), Subject::Managed(_))
        ),
    }
}

/// Receive lookup: may a packet to `daddr` that arrived on `dif` reach a
/// socket of `who`? A managed uid's socket gets only packets to its own
/// addresses (on its interfaces, if it has any); another non-root uid's
/// socket none to a managed uid's address. The very halves that
/// [`local_out`] asks of a source and a device, so that what a socket
/// remembers of them (see [`may_remember`]) answers both.
#[inline]
pub fn receive(t: &Tables<'_>, who: Subject, family: Family, daddr: u128, dif: u32) -> bool {
    local_out_source(t, who, family, daddr) && local_out_device(t, who, dif)
}

/// The verdict on an output route's source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Allow,
    /// The kernel's choice is a managed uid's address and the caller is not
    /// that uid: the core looks for another local address and asks again
    /// (with `given` set) for each candidate.
    Reserved,
    /// Leave from this address instead (one of the caller's).
    Rewrite(u128, Counter),
    Deny(Errno, Counter),
}

/// Output routes: the source `src` of a flow of `who` to `dst` leaving
/// through `oif`, either `given` (a bound socket, PKTINFO) or chosen by the
/// kernel. A managed uid leaves only from its own addresses (the kernel's
/// choice replaced by the closest one, a given one checked) and only through
/// its interfaces; anyone else but root never from a managed uid's address.
pub fn route_source(
    t: &Tables<'_>,
    who: Subject,
    family: Family,
    dst: u128,
    oif: u32,
    src: u128,
    given: bool,
) -> Source {
    let m = match who {
        Subject::Root | Subject::Unknown => return Source::Allow,
        Subject::Unmanaged(_) if t.holder(family, src).is_some() => return Source::Reserved,
        Subject::Unmanaged(_) => return Source::Allow,
        Subject::Managed(m) => m,
    };
    if !t.interface_allowed(m, oif) {
        return Source::Deny(Errno::NetUnreach, Counter::SourcesDenied);
    }
    if t.holder(family, src) == Some(m.uid) {
        return Source::Allow;
    }
    if given {
        return Source::Deny(Errno::AddrNotAvail, Counter::SourcesDenied);
    }
    match closest_source(t.entries_of(m), family, dst, oif) {
        Some(p) => Source::Rewrite(p.addr(), Counter::SourcesRewritten),
        None => Source::Deny(Errno::AddrNotAvail, Counter::SourcesDenied),
    }
}

/// The verdict on a packet at LOCAL_OUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    Accept,
    /// Drop it and fail the sender's call with this errno.
    Drop(Errno, Counter),
}

/// The catch-all at LOCAL_OUT, for what the socket hooks did not see (raw
/// IP_HDRINCL headers, routes cached before a policy change): a packet of
/// a managed uid's socket leaves only from that uid's address and through
/// its interfaces, one of another non-root uid's socket never from a
/// managed uid's address. The source's half and the device's half are
/// independent, so that a socket can remember each ([`may_remember`]).
#[inline]
pub fn local_out(t: &Tables<'_>, who: Subject, family: Family, src: u128, out: u32) -> Packet {
    if local_out_source(t, who, family, src) && local_out_device(t, who, out) {
        Packet::Accept
    } else {
        Packet::Drop(Errno::Perm, Counter::PacketsDropped)
    }
}

/// [`local_out`]'s source half: may `who` send from `src`?
#[inline]
pub fn local_out_source(t: &Tables<'_>, who: Subject, family: Family, src: u128) -> bool {
    match who {
        Subject::Root | Subject::Unknown => true,
        Subject::Managed(m) => t.owner(family, src) == Some(m.uid),
        Subject::Unmanaged(_) => t.owner(family, src).is_none(),
    }
}

/// [`local_out`]'s device half: may `who` send through interface `out`
/// (R1)?
#[inline]
pub fn local_out_device(t: &Tables<'_>, who: Subject, out: u32) -> bool {
    match who {
        Subject::Managed(m) => t.interface_allowed(m, out),
        _ => true,
    }
}

/// A socket may remember each half of a LOCAL_OUT verdict of IPv4: "this
/// socket's uid may use address A" ([`local_out_source`]) and "interface
/// I" ([`local_out_device`]) under the policy's current version (the
/// kernel's `sk->sk_uoa_stamp[]`). The socket fixes the rest of what they
/// read (its namespace, and its uid: the kernel forgets the stamps when
/// the owner changes), so a packet whose source and device both match is
/// accepted on two compares, and so is a packet to that address through
/// that device at [`receive`]; the halves being independent, stamps
/// written by different packets still make a true verdict. Every change of
/// any namespace's entries or of a uid's tc class makes a new version.
///
/// May LOCAL_OUT remember an `Accept` for `who`'s socket? Not when the uid
/// has a tc class (its packets get the class in `skb->priority` one by
/// one), nor for root, whom it never asks.
#[inline]
pub fn may_remember(who: Subject, class: u32) -> bool {
    match who {
        Subject::Managed(_) => class == 0,
        Subject::Unmanaged(_) => true,
        Subject::Root | Subject::Unknown => false,
    }
}
