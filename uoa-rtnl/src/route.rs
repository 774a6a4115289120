//! Routes as `ip route` sends them and as a dump shows them.
//!
//! [`Route::add_msg`] is the RTM_NEWROUTE payload of `ip route add` (and
//! `replace`): table main, protocol as set (boot for a user's), scope link
//! for an IPv4 unicast route without a gateway, universe otherwise.
//! [`Route::del_msg`] is that of `ip route del`: protocol 0, scope nowhere,
//! type 0 unless a type was named, so that it matches any route to the
//! destination the other keys allow.

use super::{attr, find_attr, ip_bytes, ip_from_bytes, u32_of, Error};
use neli::{
    consts::rtnl::{RtAddrFamily, RtScope, RtTable, Rta, RtmF, Rtn, Rtprot},
    rtnl::Rtmsg,
    types::{Buffer, RtBuffer},
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use uoa_genl::Family;

/// `RT_TABLE_MAIN`: the table a managed uid names and is shown as its own.
pub const RT_TABLE_MAIN: u32 = 254;
/// `RTPROT_KERNEL`: a route the kernel made (a connected route).
pub const RTPROT_KERNEL: u8 = 2;
/// `RTPROT_BOOT`: what `ip route add` gives a route.
pub const RTPROT_BOOT: u8 = 3;

/// The route types a user may have (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteType {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteType {
    pub const ALL: [RouteType; 4] = [
        RouteType::Unicast,
        RouteType::Blackhole,
        RouteType::Unreachable,
        RouteType::Prohibit,
    ];

    /// The name `ip route` gives it.
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn rtn(self) -> Rtn {
        match self {
            RouteType::Unicast => Rtn::Unicast,
            RouteType::Blackhole => Rtn::Blackhole,
            RouteType::Unreachable => Rtn::Unreachable,
            RouteType::Prohibit => Rtn::Prohibit,
        }
    }

    fn from_rtn(t: Rtn) -> Option<Self> {
        match t {
            Rtn::Unicast => Some(RouteType::Unicast),
            Rtn::Blackhole => Some(RouteType::Blackhole),
            Rtn::Unreachable => Some(RouteType::Unreachable),
            Rtn::Prohibit => Some(RouteType::Prohibit),
            _ => None,
        }
    }
}

/// One nexthop of a multipath route (RTA_MULTIPATH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nexthop {
    pub gateway: Option<IpAddr>,
    /// 0: none.
    pub oif: u32,
}

/// A route of one table, with the keys and attributes a user sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub kind: RouteType,
    /// The destination's network address; `dst_len` 0 is the default route.
    pub dst: IpAddr,
    pub dst_len: u8,
    pub tos: u8,
    /// `RTPROT_*`: who made the route.
    pub protocol: u8,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub prefsrc: Option<IpAddr>,
    /// RTA_PRIORITY.
    pub metric: Option<u32>,
    /// Read from dumps only; never sent.
    pub nexthops: Vec<Nexthop>,
}

impl Route {
    /// A route of `kind` to `dst`/`dst_len` as a user adds it (protocol boot).
    pub fn new(kind: RouteType, dst: IpAddr, dst_len: u8) -> Self {
        Route {
            kind,
            dst,
            dst_len,
            tos: 0,
            protocol: RTPROT_BOOT,
            gateway: None,
            oif: None,
            prefsrc: None,
            metric: None,
            nexthops: Vec::new(),
        }
    }

    pub fn family(&self) -> Family {
        super::family_of(&self.dst)
    }

    /// The scope `ip route add` gives it: link for an IPv4 unicast route
    /// straight to an interface, universe otherwise (IPv6 always).
    pub fn scope(&self) -> RtScope {
        let direct = self.gateway.is_none() && self.nexthops.is_empty();
        match (self.family(), self.kind) {
            (Family::V4, RouteType::Unicast) if direct => RtScope::Link,
            _ => RtScope::Universe,
        }
    }

    /// The RTM_NEWROUTE payload that adds (or replaces) it in main.
    pub fn add_msg(&self) -> Result<Rtmsg, Error> {
        self.header(
            Rtprot::from(self.protocol),
            self.scope(),
            self.kind.rtn(),
            self.attrs()?,
        )
    }

    /// The RTM_DELROUTE payload that deletes it from main. A route of
    /// another type than unicast has no nexthop to match (IPv6 shows one on
    /// `lo`): it goes by destination, tos and metric.
    pub fn del_msg(&self) -> Result<Rtmsg, Error> {
        let (kind, key) = match self.kind {
            RouteType::Unicast => (Rtn::Unspec, self.clone()),
            other => (
                other.rtn(),
                Route {
                    gateway: None,
                    oif: None,
                    ..self.clone()
                },
            ),
        };
        self.header(Rtprot::Unspec, RtScope::Nowhere, kind, key.attrs()?)
    }

    /// RTA_DST (none for the default route), RTA_GATEWAY, RTA_OIF,
    /// RTA_PREFSRC, RTA_PRIORITY: those that are set, in this order.
    fn attrs(&self) -> Result<RtBuffer<Rta, Buffer>, Error> {
        let mut attrs = RtBuffer::new();
        if self.dst_len > 0 {
            attrs.push(attr(Rta::Dst, ip_bytes(&self.dst))?);
        }
        if let Some(gw) = &self.gateway {
            attrs.push(attr(Rta::Gateway, ip_bytes(gw))?);
        }
        if let Some(oif) = self.oif {
            attrs.push(attr(Rta::Oif, oif)?);
        }
        if let Some(src) = &self.prefsrc {
            attrs.push(attr(Rta::Prefsrc, ip_bytes(src))?);
        }
        if let Some(m) = self.metric {
            attrs.push(attr(Rta::Priority, m)?);
        }
        Ok(attrs)
    }

    fn header(
        &self,
        protocol: Rtprot,
        scope: RtScope,
        kind: Rtn,
        attrs: RtBuffer<Rta, Buffer>,
    ) -> Result<Rtmsg, Error> {
        super::rtmsg(
            self.family(),
            self.dst_len,
            self.tos,
            RtTable::Main,
            protocol,
            scope,
            kind,
            attrs,
        )
    }

    /// The route a dump message shows, if it is of IPv4 or IPv6, of a type
    /// a user may have, and not a cached clone; the table is not looked at
    /// (see [`table_of`]).
    pub fn from_msg(m: &Rtmsg) -> Option<Route> {
        if m.rtm_flags().contains(RtmF::CLONED) {
            return None;
        }
        let kind = RouteType::from_rtn(*m.rtm_type())?;
        let attrs = m.rtattrs();
        let dst = match (m.rtm_family(), find_attr(attrs, Rta::Dst)) {
            (_, Some(bytes)) => ip_from_bytes(bytes)?,
            (RtAddrFamily::Inet, None) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (RtAddrFamily::Inet6, None) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => return None,
        };
        let matches_family = match dst {
            IpAddr::V4(_) => *m.rtm_family() == RtAddrFamily::Inet,
            IpAddr::V6(_) => *m.rtm_family() == RtAddrFamily::Inet6,
        };
        if !matches_family {
            return None;
        }
        let ip = |kind| find_attr(attrs, kind).and_then(ip_from_bytes);
        let num = |kind| find_attr(attrs, kind).and_then(u32_of);
        Some(Route {
            kind,
            dst,
            dst_len: *m.rtm_dst_len(),
            tos: *m.rtm_tos(),
            protocol: u8::from(*m.rtm_protocol()),
            gateway: ip(Rta::Gateway),
            oif: num(Rta::Oif),
            prefsrc: ip(Rta::Prefsrc),
            metric: num(Rta::Priority),
            nexthops: find_attr(attrs, Rta::Multipath)
                .map(nexthops_of)
                .unwrap_or_default(),
        })
    }
}

/// The table of a dumped route: RTA_TABLE, or rtm_table without it.
pub fn table_of(m: &Rtmsg) -> u32 {
    find_attr(m.rtattrs(), Rta::Table)
        .and_then(u32_of)
        .unwrap_or_else(|| u8::from(*m.rtm_table()).into())
}

/// The nexthops of an RTA_MULTIPATH payload: `struct rtnexthop` (len u16,
/// flags u8, hops u8, ifindex i32) each followed by its attributes.
fn nexthops_of(mut bytes: &[u8]) -> Vec<Nexthop> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let len = usize::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
        if len < 8 || len > bytes.len() {
            break;
        }
        let oif = u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let mut gateway = None;
        let mut rest = &bytes[8..len];
        while rest.len() >= 4 {
            let alen = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
            let kind = u16::from_ne_bytes([rest[2], rest[3]]);
            if alen < 4 || alen > rest.len() {
                break;
            }
            if kind == u16::from(Rta::Gateway) {
                gateway = ip_from_bytes(&rest[4..alen]);
            }
            rest = &rest[alen.next_multiple_of(4).min(rest.len())..];
        }
        out.push(Nexthop { gateway, oif });
        bytes = &bytes[len.next_multiple_of(4).min(bytes.len())..];
    }
    out
}
