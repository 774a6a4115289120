//! Route delegation (R4): what a managed uid may do over rtnetlink without
//! CAP_NET_ADMIN, and how its own table T looks to it. Pure functions of a
//! snapshot's [`Tables`], like the socket hooks' in [`crate::verdict`].
//!
//! A managed uid may send RTM_NEWROUTE and RTM_DELROUTE of IPv4 and IPv6 and
//! nothing else; its changes land in T whatever table they name among 0,
//! main and T; they may use only its interfaces (R1) and its addresses as
//! preferred source, no nexthop objects and no encapsulation. Its dumps read
//! T only, and show T as main. Root, unmanaged uids and senders with
//! CAP_NET_ADMIN see a stock kernel.

use super::verdict::{Counter, Managed, Subject, Tables};
use super::Family;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// `RT_TABLE_MAIN`: the table a user's tools ask for and are shown.
pub const RT_TABLE_MAIN: u32 = 254;

/// rtnetlink message types and families (`linux/rtnetlink.h`,
/// `linux/socket.h`), checked against the kernel's by the module.
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// The route types a user may add (`RTN_*`).
pub const RTN_UNICAST: u8 = 1;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;
pub const RTN_PROHIBIT: u8 = 8;

/// Why a route change of a managed uid is refused; `Display` (through
/// [`Refusal::message`]) is the extack message. All are EPERM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a route change of IPv4 or IPv6.
    Message { uid: u32, family: u8, msgtype: u16 },
    /// A table other than 0, main and the uid's own; `owner` is its uid.
    Table {
        uid: u32,
        table: u32,
        own: u32,
        owner: Option<u32>,
    },
    /// A type other than unicast, unreachable, blackhole and prohibit.
    Type { uid: u32, rtype: u8 },
    /// An output interface that is not one of the uid's (R1).
    Interface { uid: u32, ifindex: u32 },
    /// A preferred source that is not one of the uid's addresses.
    Source {
        uid: u32,
        family: Family,
        addr: u128,
    },
    /// A nexthop object (`nhid`): shared objects are the admin's.
    NexthopObject { uid: u32 },
    /// An encapsulation (`encap`).
    Encap { uid: u32 },
    /// A new route for a table that holds as many as its uid may have.
    Limit { uid: u32, limit: u32 },
}

impl Refusal {
    /// The message, with `ifname` the name of the interface of an
    /// [`Refusal::Interface`] if the caller knows it.
    pub fn message<'a>(&'a self, ifname: Option<&'a str>) -> impl fmt::Display + 'a {
        Message(self, ifname)
    }
}

struct Message<'a>(&'a Refusal, Option<&'a str>);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            Refusal::Message { uid, .. } => {
                write!(
                    f,
                    "uid {uid} may change only its own routes (RTM_NEWROUTE, RTM_DELROUTE)"
                )
            }
            Refusal::Table {
                table,
                owner: Some(o),
                ..
            } => write!(f, "table {table} belongs to uid {o}"),
            Refusal::Table {
                uid,
                table,
                own,
                owner: None,
            } => {
                write!(
                    f,
                    "table {table} is not the table of uid {uid}: use main or {own}"
                )
            }
            Refusal::Type { uid, rtype } => {
                write!(
                    f,
                    "uid {uid} may not add {} routes (type {rtype})",
                    type_name(rtype)
                )
            }
            Refusal::Interface { uid, ifindex } => match self.1 {
                Some(name) => write!(f, "dev {name} is not an interface of uid {uid}"),
                None => write!(f, "interface {ifindex} is not an interface of uid {uid}"),
            },
            Refusal::Source {
                uid,
                family: Family::V4,
                addr,
            } => {
                write!(
                    f,
                    "{} is not an address of uid {uid}",
                    Ipv4Addr::from(addr as u32)
                )
            }
            Refusal::Source {
                uid,
                family: Family::V6,
                addr,
            } => {
                write!(f, "{} is not an address of uid {uid}", Ipv6Addr::from(addr))
            }
            Refusal::NexthopObject { uid } => {
                write!(f, "uid {uid} may not use nexthop objects (nhid)")
            }
            Refusal::Encap { uid } => write!(f, "uid {uid} may not use encapsulation (encap)"),
            Refusal::Limit { uid, limit } => {
                write!(f, "uid {uid} has reached its limit of {limit} routes")
            }
        }
    }
}

/// The extack buffer holds this many bytes with its NUL
/// (NETLINK_MAX_FMTMSG_LEN): every message must fit.
pub const MESSAGE_MAX: usize = 80;

/// iproute2's name of a route type.
fn type_name(rtype: u8) -> &'static str {
    match rtype {
        0 => "unspecified",
        2 => "local",
        3 => "broadcast",
        4 => "anycast",
        5 => "multicast",
        9 => "throw",
        10 => "nat",
        11 => "xresolve",
        _ => "such",
    }
}

/// What counts a refusal or a change charges to the uid.
pub const COUNT_CHANGED: Counter = Counter::RoutesChanged;
pub const COUNT_REFUSED: Counter = Counter::RoutesRefused;

/// The verdict on an rtnetlink change of a sender without CAP_NET_ADMIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// Let it through (to [`route_change`]).
    Allow,
    /// EPERM, saying why.
    Refuse(Refusal),
    /// EPERM as a stock kernel says it.
    Stock,
}

/// rtnetlink, a sender without CAP_NET_ADMIN: a managed uid may send route
/// changes (RTM_NEWROUTE, RTM_DELROUTE) of IPv4 and IPv6, nothing else.
pub fn permit(who: Subject, family: u8, msgtype: u16) -> Permit {
    let Subject::Managed(m) = who else {
        return Permit::Stock;
    };
    let route = matches!(msgtype, RTM_NEWROUTE | RTM_DELROUTE);
    let inet = matches!(family, AF_INET | AF_INET6);
    match route && inet {
        true => Permit::Allow,
        false => Permit::Refuse(Refusal::Message {
            uid: m.uid,
            family,
            msgtype,
        }),
    }
}

/// A route change as the kernel parsed it.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub family: Family,
    pub delete: bool,
    /// `RTN_*`; 0 in most deletions.
    pub rtype: u8,
    /// As asked; 0 means main.
    pub table: u32,
    /// The sender has CAP_NET_ADMIN: an administrator's change.
    pub admin: bool,
    pub nexthop_object: bool,
    pub encap: bool,
    pub prefsrc: Option<u128>,
    /// The output interfaces: `dev` and every nexthop's.
    pub oifs: &'a [u32],
}

/// The verdict on a route change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Not a managed uid's change: as a stock kernel does it.
    Stock,
    /// Into this table, the uid's own.
    Place(u32),
    /// EPERM, saying why.
    Refuse(Refusal),
}

/// A route change of `who`: a managed uid's goes to its own table, with
/// only its interfaces and addresses; deletions need only the table.
pub fn route_change(t: &Tables<'_>, who: Subject, c: &Change<'_>) -> Route {
    let m = match who {
        Subject::Managed(m) if !c.admin => m,
        _ => return Route::Stock,
    };
    let (uid, own) = (m.uid, m.table);
    if !matches!(c.table, 0 | RT_TABLE_MAIN) && c.table != own {
        return Route::Refuse(Refusal::Table {
            uid,
            table: c.table,
            own,
            owner: t.table_owner(c.table),
        });
    }
    let allowed = matches!(
        c.rtype,
        RTN_UNICAST | RTN_BLACKHOLE | RTN_UNREACHABLE | RTN_PROHIBIT
    );
    // A deletion of type 0 matches a route of any type.
    if !(allowed || c.delete && c.rtype == 0) {
        return Route::Refuse(Refusal::Type {
            uid,
            rtype: c.rtype,
        });
    }
    if c.delete {
        return Route::Place(own);
    }
    if c.nexthop_object {
        return Route::Refuse(Refusal::NexthopObject { uid });
    }
    if c.encap {
        return Route::Refuse(Refusal::Encap { uid });
    }
    if let Some(&ifindex) = c.oifs.iter().find(|&&i| !t.interface_allowed(m, i)) {
        return Route::Refuse(Refusal::Interface { uid, ifindex });
    }
    if let Some(addr) = c.prefsrc {
        if t.owner(c.family, addr) != Some(uid) {
            return Route::Refuse(Refusal::Source {
                uid,
                family: c.family,
                addr,
            });
        }
    }
    Route::Place(own)
}

/// The table a route dump of `who` for `table` (0: all) reads: a managed
/// uid's reads its own, whatever it asked for. `None`: stock.
pub fn dump_table(who: Subject, _table: u32) -> Option<u32> {
    match who {
        Subject::Managed(m) => Some(m.table),
        _ => None,
    }
}

/// The table id a route message to `who` shows for `table`: a managed
/// uid sees its own as main. `None`: as it is.
pub fn shown_table(who: Subject, table: u32) -> Option<u32> {
    match who {
        Subject::Managed(m) if table == m.table => Some(RT_TABLE_MAIN),
        _ => None,
    }
}

/// The table an l3mdev rule (`ip rule add l3mdev`) selects for a flow of
/// `uid` from `saddr` (0: not chosen yet), so that one rule per family
/// routes every managed uid by its own table, however many there are
/// (R3): a managed uid's flows go to its table; a flow from an address a
/// managed uid owns goes to the owner's, since the kernel's own replies
/// from a user's addresses (ICMP errors, TIME_WAIT resets) carry uid 0;
/// anything else: `None`, the rule does not match, and root's and
/// unmanaged uids' flows go on to main. O(1) for host entries.
pub fn rule_table(t: &Tables<'_>, uid: u32, family: Family, saddr: u128) -> Option<RuleTable> {
    if let Subject::Managed(m) = t.subject(uid) {
        return Some(RuleTable {
            table: m.table,
            user: Some(m.index),
        });
    }
    if saddr == 0 {
        return None;
    }
    owner_table(t, family, saddr)
}

/// [`rule_table`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleTable {
    pub table: u32,
    /// The index of the managed uid whose own flow it is, whose table the
    /// kernel may keep at hand for its next flows; `None` for a flow that
    /// its source's owner's table routes.
    pub user: Option<usize>,
}

/// Out of line: a managed uid's flows, above, are the ones each packet
/// asks about, and they need not pay for the registers of this lookup.
#[inline(never)]
fn owner_table(t: &Tables<'_>, family: Family, saddr: u128) -> Option<RuleTable> {
    let table = t.owner_table(family, saddr)?;
    Some(RuleTable { table, user: None })
}

/// The routes a managed uid's table may hold (IPv4 and IPv6 together)
/// unless the administrator says otherwise: a full BGP table of each
/// family (about 1,050,000 IPv4 and 230,000 IPv6 prefixes in 2026) with
/// room to grow.
pub const DEFAULT_ROUTE_LIMIT: u32 = 1_500_000;

/// The limit in force for a uid: its own (`0`: none set), else the
/// namespace's default (`0`: none set, [`DEFAULT_ROUTE_LIMIT`]).
pub fn route_limit(own: u32, default: u32) -> u32 {
    match (own, default) {
        (0, 0) => DEFAULT_ROUTE_LIMIT,
        (0, d) => d,
        (o, _) => o,
    }
}

/// A new route (not a replacement) about to enter `table`, which holds
/// `routes`: refused when the table is `owner`'s and full. Whoever sends
/// it, the administrator included: the limit is the table's.
pub fn route_add(owner: Option<Managed>, routes: u32, limit: u32) -> Result<(), Refusal> {
    match owner {
        Some(m) if routes >= limit => Err(Refusal::Limit { uid: m.uid, limit }),
        _ => Ok(()),
    }
}
