//! Policy routing for managed uids (R3), over rtnetlink as `ip rule` and
//! `ip route` would set it. Two rules per family route every managed uid,
//! however many there are:
//!
//! ```text
//! 1000: from all lookup [l3mdev-table]               (ip rule add l3mdev)
//! 1001: from all lookup [l3mdev-table] unreachable   (a miss never reaches main)
//! ```
//!
//! An l3mdev rule takes its table from the flow at lookup time; with UOA's
//! kernel patch, when no VRF device claims the flow the module answers:
//! the table T of the flow's uid, or of the uid owning its source (the
//! kernel's replies from a user's addresses), else no match, so root and
//! unmanaged uids go on to main. T holds the connected route of each of
//! U's addresses that is configured on an interface.

use anyhow::{anyhow, Result};
use neli::{
    consts::{
        nl::NlmF,
        rtnl::{FrAct, Frattr, RtScope, RtTable, Rta, Rtm, Rtn, Rtprot},
    },
    rtnl::{Fibmsg, FibmsgBuilder, Rtattr, Rtmsg},
    types::{Buffer, RtBuffer},
};
use std::collections::{BTreeSet, HashMap, HashSet};
use uoa_genl::{Entry, Family, Prefix};
use uoa_rtnl::{
    af, attr,
    errno::{EEXIST, ENOENT, ESRCH},
    find_attr, prefix_bytes, rtmsg, table_of, Rtnl,
};

pub const PREF_LOOKUP: u32 = 1000;
pub const PREF_UNREACHABLE: u32 = 1001;

/// The addresses configured here (see `PolicyRouting::addresses`).
type Addresses = HashMap<Prefix, (u32, u8, Prefix)>;

/// An attribute that names a route to delete (RTA_DST, RTA_OIF).
type RouteKey = Rtattr<Rta, Buffer>;

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

    /// Adds or deletes the l3mdev rule at `pref` in `family`.
    fn rule(&self, add: bool, family: Family, pref: u32) -> Result<()> {
        let action = match pref {
            PREF_LOOKUP => FrAct::FrActToTbl,
            _ => FrAct::FrActUnreachable,
        };
        let mut attrs = RtBuffer::new();
        attrs.push(attr(Frattr::Priority, pref)?);
        attrs.push(attr(Frattr::L3mdev, 1u8)?);
        let msg = FibmsgBuilder::default()
            .fib_family(af(family))
            .fib_dst_len(0)
            .fib_src_len(0)
            .fib_tos(0)
            .fib_table(RtTable::Unspec)
            .fib_action(action)
            .rtattrs(attrs)
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        let what = format!(
            "{} {family:?} l3mdev rule {pref}",
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

    /// Makes the two l3mdev rules of each family exist while there are
    /// managed uids, and go with the last one.
    fn rules(&self, wanted: bool) -> Result<()> {
        for family in [Family::V4, Family::V6] {
            for pref in [PREF_LOOKUP, PREF_UNREACHABLE] {
                self.rule(wanted, family, pref)?;
            }
        }
        Ok(())
    }

    /// Every address configured here, both families, in one dump each:
    /// address -> (interface, prefix length, network address: the peer's on
    /// a point-to-point link, `ip addr add A peer P`, else the address).
    fn addresses(&self) -> Result<Addresses> {
        let mut found = Addresses::new();
        for family in [Family::V4, Family::V6] {
            let here = self
                .rtnl
                .addresses(family)
                .map_err(|e| anyhow!("listing addresses: {e}"))?;
            found.extend(
                here.into_iter()
                    .map(|a| (a.local, (a.ifindex, a.prefixlen, a.network))),
            );
        }
        Ok(found)
    }

    /// Sends `msgs` in batches (see `Rtnl::call_all`); `ok_errnos` count
    /// as done; the first other refusal is the error, named by `what` of
    /// its index.
    fn call_all(
        &self,
        kind: Rtm,
        flags: NlmF,
        msgs: &[Rtmsg],
        ok_errnos: &[i32],
        what: impl Fn(usize) -> String,
    ) -> Result<()> {
        let outcomes = self
            .rtnl
            .call_all(kind, flags, msgs)
            .map_err(|e| anyhow!("{}: {e}", what(0)))?;
        for (i, r) in outcomes.into_iter().enumerate() {
            match r {
                Err(e) if !e.is_errno(ok_errnos) => return Err(anyhow!("{}: {e}", what(i))),
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds to their tables the connected routes of `hosts` (address,
    /// table) that are configured (in `here`); those that exist already
    /// are left as they are.
    fn connected_routes<'a>(
        &self,
        here: &Addresses,
        hosts: impl Iterator<Item = (&'a Prefix, u32)>,
    ) -> Result<()> {
        let mut names = Vec::new();
        let mut msgs = Vec::new();
        for (addr, table) in hosts {
            let Some(&(ifindex, len, network)) = here.get(addr) else {
                continue;
            };
            let net = network.truncate(len).map_err(|e| anyhow!("{e}"))?;
            let mut attrs = RtBuffer::new();
            attrs.push(attr(Rta::Table, table)?);
            attrs.push(attr(Rta::Dst, prefix_bytes(&net))?);
            attrs.push(attr(Rta::Oif, ifindex)?);
            attrs.push(attr(Rta::Prefsrc, prefix_bytes(addr))?);
            msgs.push(rtmsg(
                addr.family(),
                len,
                0,
                RtTable::Unspec,
                Rtprot::Kernel,
                RtScope::Link,
                Rtn::Unicast,
                attrs,
            )?);
            names.push((net, table));
        }
        self.call_all(
            Rtm::Newroute,
            NlmF::CREATE | NlmF::EXCL,
            &msgs,
            &[EEXIST],
            |i| match names.get(i) {
                Some((net, table)) => format!("adding route {net} to table {table}"),
                None => "adding routes".into(),
            },
        )
    }

    /// Puts back the connected routes of every host entry whose address is
    /// configured: a link that went down took them from the uid's table,
    /// and the kernel gives them back to main only when it comes up. One
    /// dump of addresses and of routes; a request only per missing route.
    pub fn restore_connected(&self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let here = self.addresses()?;
        let mut present = HashSet::new();
        for family in [Family::V4, Family::V6] {
            let replies = self
                .rtnl
                .routes(family)
                .map_err(|e| anyhow!("listing routes: {e}"))?;
            let full = if family == Family::V4 { 32 } else { 128 };
            for m in &replies {
                let dst = find_attr(m.rtattrs(), Rta::Dst)
                    .and_then(|b| Prefix::from_bytes(b, full).ok())
                    .and_then(|p| p.truncate(*m.rtm_dst_len()).ok());
                if let Some(dst) = dst {
                    present.insert((table_of(m), dst));
                }
            }
        }
        let missing = entries.iter().filter(|e| {
            e.prefix.is_host()
                && here.get(&e.prefix).is_some_and(|&(_, len, network)| {
                    network
                        .truncate(len)
                        .is_ok_and(|net| !present.contains(&(e.table, net)))
                })
        });
        self.connected_routes(&here, missing.map(|e| (&e.prefix, e.table)))
    }

    /// Deletes every route of `tables` in `family`, from one dump (a
    /// dump per table would make removing n uids quadratic).
    fn flush_tables(&self, family: Family, tables: &BTreeSet<u32>) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let replies = self
            .rtnl
            .routes(family)
            .map_err(|e| anyhow!("listing routes: {e}"))?;
        // (table, dst_len, RTA_DST and RTA_OIF) of each route to delete.
        let mut doomed: Vec<(u32, u8, Vec<RouteKey>)> = Vec::new();
        for m in &replies {
            let attrs = m.rtattrs();
            let table = table_of(m);
            if !tables.contains(&table) {
                continue;
            }
            let keys = attrs
                .iter()
                .filter(|a| matches!(a.rta_type(), Rta::Dst | Rta::Oif));
            doomed.push((
                table,
                *m.rtm_dst_len(),
                keys.map(|a| attr(*a.rta_type(), a.rta_payload().clone()))
                    .collect::<Result<_, _>>()?,
            ));
        }
        let mut msgs = Vec::with_capacity(doomed.len());
        for (table, dst_len, keys) in &doomed {
            let mut attrs = RtBuffer::new();
            attrs.push(attr(Rta::Table, *table)?);
            for k in keys {
                attrs.push(k.clone());
            }
            msgs.push(rtmsg(
                family,
                *dst_len,
                0,
                RtTable::Unspec,
                Rtprot::Unspec,
                RtScope::Nowhere,
                Rtn::Unspec,
                attrs,
            )?);
        }
        self.call_all(
            Rtm::Delroute,
            NlmF::empty(),
            &msgs,
            &[ESRCH, ENOENT],
            |i| match doomed.get(i) {
                Some((table, ..)) => format!("deleting a route of table {table}"),
                None => "deleting routes".into(),
            },
        )
    }

    /// Changes rules and tables from what `before` needed to what `after`
    /// needs, touching only the difference: the rules made or removed with
    /// the first or last managed uid, connected routes of new host entries
    /// added, tables of gone uids emptied.
    pub fn sync(&self, before: &[Entry], after: &[Entry]) -> Result<()> {
        let uids = |es: &[Entry]| es.iter().map(|e| (e.uid, e.table)).collect::<BTreeSet<_>>();
        let hosts = |es: &[Entry]| {
            es.iter()
                .filter(|e| e.prefix.is_host())
                .map(|e| (e.prefix, e.table))
                .collect::<BTreeSet<_>>()
        };
        self.rules(!after.is_empty())?;
        let gone: BTreeSet<u32> = uids(before)
            .difference(&uids(after))
            .map(|&(_, table)| table)
            .collect();
        for f in [Family::V4, Family::V6] {
            self.flush_tables(f, &gone)?;
        }
        let new_hosts = hosts(after);
        let old_hosts = hosts(before);
        let mut added = new_hosts.difference(&old_hosts).peekable();
        if added.peek().is_none() {
            return Ok(());
        }
        let here = self.addresses()?;
        self.connected_routes(&here, added.map(|(p, table)| (p, *table)))
    }
}
