//! A route change as the user writes it, in the words of `ip route`:
//! `[TYPE] PREFIX [via GW] [dev IFACE] [src ADDR] [metric N]`.

use anyhow::{anyhow, bail, Result};
use neli::{consts::nl::NlmF, consts::rtnl::Rtm, rtnl::Rtmsg};
use std::net::IpAddr;
use uoa_genl::{Family, Prefix, Refusal};
use uoa_rtnl::{family_of, ip_of, Route, RouteType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Del,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Replace => "replace",
            Op::Del => "del",
        }
    }

    pub fn msg_type(self) -> Rtm {
        match self {
            Op::Add | Op::Replace => Rtm::Newroute,
            Op::Del => Rtm::Delroute,
        }
    }

    /// The request flags beyond NLM_F_REQUEST and NLM_F_ACK.
    pub fn flags(self) -> NlmF {
        match self {
            Op::Add => NlmF::CREATE | NlmF::EXCL,
            Op::Replace => NlmF::CREATE | NlmF::REPLACE,
            Op::Del => NlmF::empty(),
        }
    }
}

/// A parsed change; the interface still by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub op: Op,
    pub route: Route,
    pub dev: Option<String>,
}

const SYNTAX: &str = "[TYPE] PREFIX [via GW] [dev IFACE] [src ADDR] [metric N]";

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// A destination other than `default`: an address, or a prefix without
/// host bits.
fn parse_prefix(word: &str) -> Result<Prefix> {
    word.parse::<Prefix>().map_err(|e| match e {
        Refusal::HostBits(p) => match p.truncate(p.len()) {
            Ok(net) => anyhow!("{word} has host bits set: the network is {net}"),
            Err(_) => anyhow!("{word} has host bits set"),
        },
        other => anyhow!("{word}: {other}"),
    })
}

fn parse_addr(keyword: &str, word: &str) -> Result<IpAddr> {
    word.parse()
        .map_err(|_| anyhow!("{keyword} {word}: not an IPv4 or IPv6 address"))
}

/// Parses the words after `add`, `replace` or `del`.
pub fn parse(op: Op, words: &[&str]) -> Result<Request> {
    let (kind, words) = match words.split_first() {
        Some((first, rest)) => match RouteType::from_name(first) {
            Some(kind) => (kind, rest),
            None => (RouteType::Unicast, words),
        },
        None => bail!("expected {SYNTAX}"),
    };
    let Some((&dst_word, mut rest)) = words.split_first() else {
        bail!("expected a PREFIX after {}: {SYNTAX}", kind.name());
    };
    let dst = match dst_word {
        "default" => None,
        w => Some(parse_prefix(w)?),
    };

    let (mut via, mut dev, mut src, mut metric) = (None, None, None, None);
    while let Some((&keyword, after)) = rest.split_first() {
        if !matches!(keyword, "via" | "dev" | "src" | "metric") {
            bail!("unexpected {keyword:?}: expected via GW, dev IFACE, src ADDR or metric N");
        }
        let Some((&value, after)) = after.split_first() else {
            bail!("{keyword} needs a value: {SYNTAX}");
        };
        let twice = || anyhow!("{keyword} is given twice");
        match keyword {
            "via" if via.is_some() => return Err(twice()),
            "via" => via = Some(parse_addr(keyword, value)?),
            "dev" if dev.is_some() => return Err(twice()),
            "dev" => dev = Some(value.to_string()),
            "src" if op == Op::Del => bail!(
                "src is for add and replace; del takes PREFIX [via GW] [dev IFACE] [metric N]"
            ),
            "src" if src.is_some() => return Err(twice()),
            "src" => src = Some(parse_addr(keyword, value)?),
            "metric" if metric.is_some() => return Err(twice()),
            "metric" => {
                metric =
                    Some(value.parse::<u32>().map_err(|_| {
                        anyhow!("metric {value}: not a number from 0 to 4294967295")
                    })?)
            }
            _ => unreachable!("keywords are checked above"),
        }
        rest = after;
    }

    // `default` takes the family of its gateway or source, else IPv4.
    let given = via.or(src).map(|a| family_of(&a));
    let family = dst.map(|p| p.family()).or(given).unwrap_or(Family::V4);
    let dst_text = dst.map_or("default".to_string(), |p| p.to_string());
    for (keyword, addr) in [("via", via), ("src", src)] {
        if let Some(a) = addr {
            if family_of(&a) != family {
                bail!(
                    "{keyword} {a} is {} but {dst_text} is {}",
                    family_name(family_of(&a)),
                    family_name(family)
                );
            }
        }
    }
    if kind != RouteType::Unicast && (via.is_some() || dev.is_some()) {
        bail!("a {} route has no via or dev", kind.name());
    }
    if kind == RouteType::Unicast && op != Op::Del && via.is_none() && dev.is_none() {
        bail!(
            "{dst_text} needs via GW or dev IFACE (or a type first: blackhole, unreachable, prohibit)"
        );
    }

    let (addr, len) = match dst {
        Some(p) => (ip_of(&p), p.len()),
        None if family == Family::V6 => (IpAddr::V6(0u128.into()), 0),
        None => (IpAddr::V4(0u32.into()), 0),
    };
    let mut route = Route::new(kind, addr, len);
    route.gateway = via;
    route.prefsrc = src;
    route.metric = metric;
    Ok(Request { op, route, dev })
}

impl Request {
    /// What the error messages call it: `add 10.30.0.0/16`, `del blackhole 10.9.0.0/16`.
    pub fn describe(&self) -> String {
        let mut s = self.op.name().to_string();
        if self.route.kind != RouteType::Unicast {
            s = format!("{s} {}", self.route.kind.name());
        }
        format!("{s} {}", crate::listing::dst_text(&self.route))
    }

    /// The route with its interface resolved by `ifindex_of`.
    pub fn resolve(&self, ifindex_of: impl Fn(&str) -> Result<u32>) -> Result<Route> {
        let mut route = self.route.clone();
        route.oif = self.dev.as_deref().map(ifindex_of).transpose()?;
        Ok(route)
    }

    /// The RTM_NEWROUTE or RTM_DELROUTE payload of the resolved `route`.
    pub fn message(&self, route: &Route) -> Result<Rtmsg> {
        Ok(match self.op {
            Op::Add | Op::Replace => route.add_msg()?,
            Op::Del => route.del_msg()?,
        })
    }
}

/// The index of interface `name` in this network namespace.
pub fn ifindex_of(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name)
        .map_err(|_| anyhow!("dev {name}: no such interface here (see `ip link`)"))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
