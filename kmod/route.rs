// SPDX-License-Identifier: GPL-2.0

//! The route delegation hooks (R4, `include/net/uoa.h`): rtnetlink's
//! permission, the parsed route change, and the table of dumps and of the
//! messages a user receives. Each converts its C arguments, asks
//! `policy::route` on the namespace's snapshot, counts and returns.

use crate::{
    hooks::{charge, read_addr, with_policy},
    netlink::Extack,
    policy::{
        route::{self, Change, Permit, Route},
        verdict::{self, Subject},
    },
};
use core::ffi::c_void;
use kernel::{bindings, ffi::c_int};

// The policy's numbers are the kernel's.
const _: () = {
    assert!(route::RTM_NEWROUTE as u32 == bindings::RTM_NEWROUTE);
    assert!(route::RTM_DELROUTE as u32 == bindings::RTM_DELROUTE);
    assert!(route::AF_INET as u32 == bindings::AF_INET);
    assert!(route::AF_INET6 as u32 == bindings::AF_INET6);
    assert!(route::RTN_UNICAST as u32 == bindings::RTN_UNICAST);
    assert!(route::RTN_BLACKHOLE as u32 == bindings::RTN_BLACKHOLE);
    assert!(route::RTN_UNREACHABLE as u32 == bindings::RTN_UNREACHABLE);
    assert!(route::RTN_PROHIBIT as u32 == bindings::RTN_PROHIBIT);
    assert!(route::RT_TABLE_MAIN == bindings::rt_class_t_RT_TABLE_MAIN);
};

/// rtnetlink, a sender without CAP_NET_ADMIN: `route::permit`.
///
/// # Safety
///
/// Called by the hook core only, with a live `net` and the request's
/// extack (or null).
pub(crate) unsafe extern "C" fn rtnl_permit(
    net: *const bindings::net,
    uid: u32,
    family: c_int,
    msgtype: c_int,
    extack: *mut bindings::netlink_ext_ack,
) -> bool {
    if verdict::exempt(uid) {
        return false;
    }
    // SAFETY: the core passes the request's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, false, |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            match route::permit(who, family as u8, msgtype as u16) {
                Permit::Allow => true,
                Permit::Stock => false,
                Permit::Refuse(why) => {
                    charge(state, s, who, route::COUNT_REFUSED);
                    // SAFETY: the core passes the request's extack.
                    Extack::from_raw(extack).say(None, format_args!("{}", why.message(None)));
                    false
                }
            }
        })
    }
}

/// A route change, parsed: `route::route_change`; the table to use is
/// written back.
///
/// # Safety
///
/// Called by the hook core only, under RTNL, with a live `net`, a valid
/// description whose `oifs` holds `n_oifs` indexes, and the request's
/// extack (or null).
pub(crate) unsafe extern "C" fn route_change(
    net: *const bindings::net,
    uid: u32,
    r: *mut bindings::uoa_route,
    extack: *mut bindings::netlink_ext_ack,
) -> c_int {
    if verdict::exempt(uid) {
        return 0;
    }
    // SAFETY: the core passes a valid description, ours for the call.
    let r = unsafe { &mut *r };
    // SAFETY: `prefsrc` has 16 bytes, enough for either family.
    let Some((family, prefsrc)) =
        (unsafe { read_addr(u32::from(r.family), r.prefsrc.as_ptr().cast()) })
    else {
        return 0;
    };
    let oifs: &[u32] = match usize::try_from(r.n_oifs) {
        // SAFETY: `oifs` holds `n_oifs` interface indexes (positive, so
        // the same as `u32`s) for the whole call.
        Ok(n) if n > 0 && !r.oifs.is_null() => unsafe {
            core::slice::from_raw_parts(r.oifs.cast(), n)
        },
        _ => &[],
    };
    let change = Change {
        family,
        delete: u32::from(r.cmd) == bindings::RTM_DELROUTE,
        rtype: r.type_,
        table: r.table,
        admin: r.admin,
        nexthop_object: r.nh_id,
        encap: r.encap,
        prefsrc: r.prefsrc_set.then_some(prefsrc),
        oifs,
    };
    // SAFETY: the core passes the request's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            match route::route_change(&t, who, &change) {
                Route::Stock => 0,
                Route::Place(table) => {
                    charge(state, s, who, route::COUNT_CHANGED);
                    r.table = table;
                    0
                }
                Route::Refuse(why) => {
                    charge(state, s, who, route::COUNT_REFUSED);
                    let mut name = [0u8; bindings::IFNAMSIZ as usize];
                    let ifname = match why {
                        route::Refusal::Interface { ifindex, .. } => {
                            ifname(net, ifindex, &mut name)
                        }
                        _ => None,
                    };
                    // SAFETY: the core passes the request's extack.
                    Extack::from_raw(extack).say(None, format_args!("{}", why.message(ifname)));
                    -(bindings::EPERM as c_int)
                }
            }
        })
    }
}

/// The name of interface `ifindex` of `net`, copied into `buf`.
///
/// # Safety
///
/// `net` must be live and the caller inside an RCU read-side section.
unsafe fn ifname<'a>(
    net: *const bindings::net,
    ifindex: u32,
    buf: &'a mut [u8],
) -> Option<&'a str> {
    // SAFETY: per the contract; the device stays alive during the section.
    let dev = unsafe { bindings::dev_get_by_index_rcu(net.cast_mut(), ifindex as c_int).as_ref() }?;
    for (b, c) in buf.iter_mut().zip(dev.name.iter()) {
        *b = *c as u8;
    }
    let end = buf.iter().position(|&b| b == 0)?;
    core::str::from_utf8(buf.get(..end)?).ok()
}

/// Route dumps and messages to `uid`: `route::dump_table` (a dump of
/// `table`) or `route::shown_table` (`show`); 0 leaves the id as it is.
///
/// # Safety
///
/// Called by the hook core only, with a live `net`, under RCU.
pub(crate) unsafe extern "C" fn route_table(
    net: *const bindings::net,
    uid: u32,
    table: u32,
    show: bool,
) -> u32 {
    if verdict::exempt(uid) {
        return 0;
    }
    // SAFETY: the core passes the socket's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |_, s| {
            let who = s.tables().subject(uid);
            match show {
                true => route::shown_table(who, table),
                false => route::dump_table(who, table),
            }
            .unwrap_or(0)
        })
    }
}

/// An l3mdev rule that no L3 master device claimed: `route::rule_table`
/// of the flow's uid and source (0: the rule does not match). For a
/// managed uid's own flow, `*slot` (if the core asks) is the uid's slot in
/// the snapshot, where the core keeps the table between lookups: valid
/// while the snapshot is, that is within the core's RCU read-side section.
/// Only then: the core takes a slot to mean that the answer is the uid's
/// whatever the source, which the flow's socket may remember (patch 22).
///
/// # Safety
///
/// Called by the hook core only, under RCU, with a live `net`, a source
/// address as [`read_addr`] needs, and `slot` null or writable.
pub(crate) unsafe extern "C" fn rule_table(
    net: *const bindings::net,
    uid: u32,
    family: c_int,
    saddr: *const c_void,
    slot: *mut *mut bindings::uoa_table_slot,
) -> u32 {
    if crate::NOOP_RULE {
        return 0;
    }
    // SAFETY: the core passes 4 or 16 bytes by family.
    let Some((family, saddr)) = (unsafe { read_addr(family as u32, saddr) }) else {
        return 0;
    };
    // SAFETY: the core passes the lookup's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |_, s| {
            let Some(answer) = route::rule_table(&s.tables(), uid, family, saddr) else {
                return 0;
            };
            if let Some(p) = answer.user.and_then(|i| s.table_slot(i)) {
                if !slot.is_null() {
                    // SAFETY: not null, so writable, per the contract.
                    *slot = p;
                }
            }
            answer.table
        })
    }
}

/// A new route about to enter `table`, from any sender: `route::route_add`
/// with the routes the FIB counts in it, for IPv4 and IPv6 together.
///
/// # Safety
///
/// Called by the hook core only, with a live `net`, under RTNL (and, for
/// IPv6, the table's spinlock), with the request's extack or null.
pub(crate) unsafe extern "C" fn route_add(
    net: *const bindings::net,
    table: u32,
    extack: *mut bindings::netlink_ext_ack,
) -> c_int {
    // SAFETY: the core passes a live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |state, s| {
            let t = s.tables();
            let Some(m) = t.table_user(table) else {
                return 0;
            };
            let limit = route::route_limit(s.route_limit(m), state.route_limit());
            // SAFETY: `net` is live; the count is read under RCU.
            let routes = bindings::uoa_table_routes(net.cast_mut(), table);
            match route::route_add(Some(m), routes, limit) {
                Ok(()) => 0,
                Err(why) => {
                    charge(state, s, Subject::Managed(m), route::COUNT_REFUSED);
                    // SAFETY: the core passes the request's extack or null.
                    Extack::from_raw(extack).say(None, format_args!("{}", why.message(None)));
                    -(bindings::EPERM as c_int)
                }
            }
        })
    }
}
