//! The caller's routes out of a route dump, and how `show` prints them.
//!
//! A managed uid's dump shows its own table only, labelled main (254).
//! A route of any other table means a kernel that shows the uid every
//! table: its main is then the host's, not the uid's.

use neli::rtnl::Rtmsg;
use serde_json::{json, Map, Value};
use uoa_rtnl::{table_of, Route, RouteType, RTPROT_BOOT, RTPROT_KERNEL, RT_TABLE_MAIN};

/// The routes of a dump that are the caller's own.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnRoutes {
    pub routes: Vec<Route>,
    /// The dump showed routes of tables other than main.
    pub other_tables: bool,
}

impl OwnRoutes {
    /// The routes, if main is the caller's own (no other table was shown).
    pub fn routes_if_own(self) -> Vec<Route> {
        match self.other_tables {
            true => Vec::new(),
            false => self.routes,
        }
    }
}

/// Keeps the routes of main (RTA_TABLE, or rtm_table without it) that a
/// user may have: unicast, blackhole, unreachable, prohibit; no clones.
pub fn own_routes(msgs: &[Rtmsg]) -> OwnRoutes {
    let mut out = OwnRoutes::default();
    for m in msgs {
        if table_of(m) != RT_TABLE_MAIN {
            out.other_tables = true;
            continue;
        }
        out.routes.extend(Route::from_msg(m));
    }
    out
}

/// What `flush` deletes: what the user added, not the connected routes.
pub fn flushable(r: &Route) -> bool {
    r.protocol != RTPROT_KERNEL
}

/// `default`, `10.1.3.1` (a host), `10.20.0.0/16`.
pub fn dst_text(r: &Route) -> String {
    let host = match r.dst {
        std::net::IpAddr::V4(_) => 32,
        std::net::IpAddr::V6(_) => 128,
    };
    match r.dst_len {
        0 => "default".into(),
        n if n == host => r.dst.to_string(),
        n => format!("{}/{n}", r.dst),
    }
}

/// `ip route`'s names of the common protocols, else the number.
pub fn protocol_name(p: u8) -> String {
    match p {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        9 => "ra".into(),
        16 => "dhcp".into(),
        n => n.to_string(),
    }
}

/// The name of interface `index`, or `if7` if it has none here.
pub fn ifname(index: u32) -> String {
    // nix returns an empty name, not an error, for an unknown index.
    nix::net::if_::if_indextoname(index)
        .ok()
        .and_then(|n| n.into_string().ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("if{index}"))
}

/// One route as `show` prints it, in the order of `ip route`:
/// `[TYPE] DST [via GW] [dev IFACE] [proto P] [src ADDR] [metric N]
/// [nexthop via GW dev IFACE]...`; the type only if not unicast, the
/// protocol only if not boot (what a user's routes have).
pub fn route_line(r: &Route, ifname: impl Fn(u32) -> String) -> String {
    let mut s = String::new();
    if r.kind != RouteType::Unicast {
        s = format!("{} ", r.kind.name());
    }
    s.push_str(&dst_text(r));
    if let Some(gw) = r.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = r.oif {
        s.push_str(&format!(" dev {}", ifname(oif)));
    }
    if r.protocol != RTPROT_BOOT {
        s.push_str(&format!(" proto {}", protocol_name(r.protocol)));
    }
    if let Some(src) = r.prefsrc {
        s.push_str(&format!(" src {src}"));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    for nh in &r.nexthops {
        s.push_str(" nexthop");
        if let Some(gw) = nh.gateway {
            s.push_str(&format!(" via {gw}"));
        }
        if nh.oif != 0 {
            s.push_str(&format!(" dev {}", ifname(nh.oif)));
        }
    }
    s
}

/// One route as `show -j` prints it: {dst, via, dev, src, metric, type,
/// protocol}, absent fields left out (and `nexthops` of a multipath route).
pub fn route_json(r: &Route, ifname: impl Fn(u32) -> String) -> Value {
    let mut o = Map::new();
    o.insert("dst".into(), json!(dst_text(r)));
    if let Some(gw) = r.gateway {
        o.insert("via".into(), json!(gw.to_string()));
    }
    if let Some(oif) = r.oif {
        o.insert("dev".into(), json!(ifname(oif)));
    }
    if let Some(src) = r.prefsrc {
        o.insert("src".into(), json!(src.to_string()));
    }
    if let Some(m) = r.metric {
        o.insert("metric".into(), json!(m));
    }
    o.insert("type".into(), json!(r.kind.name()));
    o.insert("protocol".into(), json!(protocol_name(r.protocol)));
    if !r.nexthops.is_empty() {
        let hops: Vec<Value> = r
            .nexthops
            .iter()
            .map(|nh| {
                let mut h = Map::new();
                if let Some(gw) = nh.gateway {
                    h.insert("via".into(), json!(gw.to_string()));
                }
                if nh.oif != 0 {
                    h.insert("dev".into(), json!(ifname(nh.oif)));
                }
                Value::Object(h)
            })
            .collect();
        o.insert("nexthops".into(), Value::Array(hops));
    }
    Value::Object(o)
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
