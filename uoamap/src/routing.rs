//! Policy routing for managed uids (R3), over rtnetlink as `ip rule` and
//! `ip route` would set it, for each uid U with table T:
//!
//! ```text
//! 1000: from all uidrange U-U lookup T      (IPv4 and IPv6)
//! 1000: from PREFIX lookup T                (each of U's prefixes)
//! 1001: from all uidrange U-U unreachable   (a miss in T never reaches main)
//! 1001: from PREFIX unreachable
//! ```
//!
//! and T holds the connected route of each of U's addresses that is
//! configured on an interface.

use anyhow::{anyhow, Result};
use neli::{
    consts::{
        nl::NlmF,
        rtnl::{FrAct, Frattr, Ifa, RtScope, RtTable, Rta, Rtm, Rtn, Rtprot},
    },
    rtnl::{Fibmsg, FibmsgBuilder, Ifaddrmsg, IfaddrmsgBuilder, Rtattr, Rtmsg},
    types::{Buffer, RtBuffer},
};
use std::collections::{BTreeSet, HashMap};
use uoa_genl::{Entry, Family, Prefix};
use uoa_rtnl::{
    af, attr,
    errno::{EEXIST, ENOENT, ESRCH},
    prefix_bytes, rtmsg, Rtnl,
};

pub const PREF_LOOKUP: u32 = 1000;
pub const PREF_UNREACHABLE: u32 = 1001;

/// The addresses configured here (see `PolicyRouting::addresses`).
type Addresses = HashMap<Prefix, (u32, u8, Prefix)>;

/// A rule as this module writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Selector {
    Uid(u32),
    From(Prefix),
}

/// Rules and tables of the managed uids, over one rtnetlink socket.
pub struct PolicyRouting {
    rtnl: Rtnl,
}

impl PolicyRouting {
    pub fn connect() -> Result<Self> {
        Ok(PolicyRouting {
            rtnl: Rtnl::connect()?,
        })
    }

    /// Sends one request and waits for its ack; `ok_errnos` count as done.
    fn call<P: neli::Size + neli::ToBytes>(
        &self,
        what: &str,
        kind: Rtm,
        flags: NlmF,
        msg: P,
        ok_errnos: &[i32],
    ) -> Result<()> {
        match self.rtnl.call(kind, flags, &msg) {
            Err(e) if !e.is_errno(ok_errnos) => Err(anyhow!("{what}: {e}")),
            _ => Ok(()),
        }
    }

    fn rule(&self, add: bool, family: Family, pref: u32, sel: Selector, table: u32) -> Result<()> {
        let mut attrs = RtBuffer::new();
        attrs.push(attr(Frattr::Priority, pref)?);
        let action = if pref == PREF_LOOKUP {
            attrs.push(attr(Frattr::Table, table)?);
            FrAct::FrActToTbl
        } else {
            FrAct::FrActUnreachable
        };
        let mut src_len = 0;
        match sel {
            Selector::Uid(uid) => {
                let mut range = uid.to_ne_bytes().to_vec();
                range.extend(uid.to_ne_bytes());
                attrs.push(attr(Frattr::UidRange, Buffer::from(range))?);
            }
            Selector::From(p) => {
                attrs.push(attr(Frattr::Src, prefix_bytes(&p))?);
                src_len = p.len();
            }
        }
        let msg = FibmsgBuilder::default()
            .fib_family(af(family))
            .fib_dst_len(0)
            .fib_src_len(src_len)
            .fib_tos(0)
            .fib_table(RtTable::Unspec)
            .fib_action(action)
            .rtattrs(attrs)
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        let what = format!(
            "{} rule {pref} {sel:?} table {table}",
            if add { "adding" } else { "deleting" }
        );
        if add {
            self.call::<Fibmsg>(
                &what,
                Rtm::Newrule,
                NlmF::CREATE | NlmF::EXCL,
                msg,
                &[EEXIST],
            )
        } else {
            self.call::<Fibmsg>(&what, Rtm::Delrule, NlmF::empty(), msg, &[ENOENT])
        }
    }

    fn rules(&self, add: bool, family: Family, sel: Selector, table: u32) -> Result<()> {
        self.rule(add, family, PREF_LOOKUP, sel, table)?;
        self.rule(add, family, PREF_UNREACHABLE, sel, table)
    }

    /// Every address configured here, both families, in one dump each:
    /// address -> (interface, prefix length, network address: the peer's on
    /// a point-to-point link, `ip addr add A peer P`, else the address).
    fn addresses(&self) -> Result<Addresses> {
        let mut found = Addresses::new();
        for family in [Family::V4, Family::V6] {
            let msg = IfaddrmsgBuilder::default()
                .ifa_family(af(family))
                .ifa_prefixlen(0)
                .ifa_scope(RtScope::Universe)
                .ifa_index(0)
                .build()
                .map_err(|e| anyhow!("{e}"))?;
            let replies: Vec<Ifaddrmsg> = self
                .rtnl
                .dump(Rtm::Getaddr, &msg)
                .map_err(|e| anyhow!("listing addresses: {e}"))?;
            // IPv4 names the local address IFA_LOCAL and the network (or
            // the peer) IFA_ADDRESS; IPv6 has IFA_LOCAL only on p2p links.
            let (local, network) = match family {
                Family::V4 => (Ifa::Local, Ifa::Address),
                Family::V6 => (Ifa::Address, Ifa::Address),
            };
            let full = if family == Family::V4 { 32 } else { 128 };
            for a in &replies {
                let get = |kind| {
                    a.rtattrs()
                        .iter()
                        .find(|ra| *ra.rta_type() == kind)
                        .and_then(|ra| Prefix::from_bytes(ra.rta_payload().as_ref(), full).ok())
                };
                if let Some(addr) = get(local) {
                    let net = get(network).unwrap_or(addr);
                    found.insert(addr, (*a.ifa_index(), *a.ifa_prefixlen(), net));
                }
            }
        }
        Ok(found)
    }

    /// Adds to `table` the connected route of `addr`, if it is configured
    /// (in `here`); one that exists already is left as it is.
    fn connected_route(&self, here: &Addresses, table: u32, addr: &Prefix) -> Result<()> {
        let Some(&(ifindex, len, network)) = here.get(addr) else {
            return Ok(());
        };
        let net = network.truncate(len).map_err(|e| anyhow!("{e}"))?;
        let mut attrs = RtBuffer::new();
        attrs.push(attr(Rta::Table, table)?);
        attrs.push(attr(Rta::Dst, prefix_bytes(&net))?);
        attrs.push(attr(Rta::Oif, ifindex)?);
        attrs.push(attr(Rta::Prefsrc, prefix_bytes(addr))?);
        let msg = rtmsg(
            addr.family(),
            len,
            0,
            RtTable::Unspec,
            Rtprot::Kernel,
            RtScope::Link,
            Rtn::Unicast,
            attrs,
        )?;
        self.call::<Rtmsg>(
            &format!("adding route {net} to table {table}"),
            Rtm::Newroute,
            NlmF::CREATE | NlmF::EXCL,
            msg,
            &[EEXIST],
        )
    }

    /// Puts back the connected routes of every host entry whose address is
    /// configured: a link that went down took them from the uid's table,
    /// and the kernel gives them back to main only when it comes up.
    pub fn restore_connected(&self, entries: &[Entry]) -> Result<()> {
        let here = self.addresses()?;
        for e in entries.iter().filter(|e| e.prefix.is_host()) {
            self.connected_route(&here, e.table, &e.prefix)?;
        }
        Ok(())
    }

    /// Deletes every route of `table` in `family`.
    fn flush_table(&self, family: Family, table: u32) -> Result<()> {
        let replies = self
            .rtnl
            .routes(family)
            .map_err(|e| anyhow!("listing routes: {e}"))?;
        // (dst_len, RTA_DST and RTA_OIF) of each route in the table.
        let mut doomed: Vec<(u8, Vec<Rtattr<Rta, Buffer>>)> = Vec::new();
        for m in &replies {
            let attrs = m.rtattrs();
            let in_table = attrs.iter().any(|a| {
                *a.rta_type() == Rta::Table && a.rta_payload().as_ref() == table.to_ne_bytes()
            });
            if in_table {
                let keys = attrs
                    .iter()
                    .filter(|a| matches!(a.rta_type(), Rta::Dst | Rta::Oif));
                doomed.push((
                    *m.rtm_dst_len(),
                    keys.map(|a| attr(*a.rta_type(), a.rta_payload().clone()))
                        .collect::<Result<_, _>>()?,
                ));
            }
        }
        for (dst_len, keys) in doomed {
            let mut attrs = RtBuffer::new();
            attrs.push(attr(Rta::Table, table)?);
            for k in keys {
                attrs.push(k);
            }
            let msg = rtmsg(
                family,
                dst_len,
                0,
                RtTable::Unspec,
                Rtprot::Unspec,
                RtScope::Nowhere,
                Rtn::Unspec,
                attrs,
            )?;
            self.call::<Rtmsg>(
                &format!("deleting a route of table {table}"),
                Rtm::Delroute,
                NlmF::empty(),
                msg,
                &[ESRCH, ENOENT],
            )?;
        }
        Ok(())
    }

    /// Changes rules and tables from what `before` needed to what `after`
    /// needs, touching only the difference: rules of new uids and prefixes
    /// added (with connected routes), those of gone ones deleted, tables of
    /// gone uids emptied.
    pub fn sync(&self, before: &[Entry], after: &[Entry]) -> Result<()> {
        let uids = |es: &[Entry]| es.iter().map(|e| (e.uid, e.table)).collect::<BTreeSet<_>>();
        let froms = |es: &[Entry]| {
            es.iter()
                .map(|e| (e.prefix, e.table))
                .collect::<BTreeSet<_>>()
        };
        let (uids_before, uids_after) = (uids(before), uids(after));
        let (from_before, from_after) = (froms(before), froms(after));

        for &(uid, table) in uids_before.difference(&uids_after) {
            for f in [Family::V4, Family::V6] {
                self.rules(false, f, Selector::Uid(uid), table)?;
                self.flush_table(f, table)?;
            }
        }
        for &(p, table) in from_before.difference(&from_after) {
            self.rules(false, p.family(), Selector::From(p), table)?;
        }
        for &(uid, table) in uids_after.difference(&uids_before) {
            for f in [Family::V4, Family::V6] {
                self.rules(true, f, Selector::Uid(uid), table)?;
            }
        }
        let here = self.addresses()?;
        for &(p, table) in from_after.difference(&from_before) {
            self.rules(true, p.family(), Selector::From(p), table)?;
            if p.is_host() {
                self.connected_route(&here, table, &p)?;
            }
        }
        Ok(())
    }
}
