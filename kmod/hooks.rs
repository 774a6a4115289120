// SPDX-License-Identifier: GPL-2.0

//! The socket hooks (`include/net/uoa.h`): bind, port conflicts, receive
//! lookup and source selection.
//!
//! The kernel calls them under RCU in any context, softirq included. Each
//! converts its C arguments, asks `policy::verdict` on the namespace's
//! snapshot (read without locks), counts what the verdict says and returns
//! it in the core's terms; the rules themselves are all in `policy`.

use crate::{
    netns::{self, NetState},
    policy::{
        verdict::{self, Bind, Bound, Counter, Errno, Source, Subject},
        Family,
    },
    stamp::{self, Stamps},
    store::Snapshot,
};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

const PORT_OK: c_int = bindings::UOA_BIND_PORT_OK as c_int;
const RESERVED: c_int = bindings::UOA_SADDR_RESERVED as c_int;

// The policy's numbers are the kernel's.
const _: () = {
    assert!(Errno::Perm.get() == bindings::EPERM as i32);
    assert!(Errno::AddrNotAvail.get() == bindings::EADDRNOTAVAIL as i32);
    assert!(Errno::NetUnreach.get() == bindings::ENETUNREACH as i32);
    assert!(crate::policy::LOOPBACK_IFINDEX == bindings::LOOPBACK_IFINDEX);
};

pub(crate) fn neg(e: Errno) -> c_int {
    -e.get()
}

/// Reads an address the core passes: 4 or 16 bytes in network order.
///
/// # Safety
///
/// `p` must point to 4 readable bytes for `AF_INET` and 16 for `AF_INET6`.
pub(crate) unsafe fn read_addr(family: u32, p: *const c_void) -> Option<(Family, u128)> {
    match family {
        bindings::AF_INET => {
            // SAFETY: 4 bytes for AF_INET, per the contract.
            let b = unsafe { p.cast::<[u8; 4]>().read_unaligned() };
            Some((Family::V4, u128::from(u32::from_be_bytes(b))))
        }
        bindings::AF_INET6 => {
            // SAFETY: 16 bytes for AF_INET6, per the contract.
            let b = unsafe { p.cast::<[u8; 16]>().read_unaligned() };
            Some((Family::V6, u128::from_be_bytes(b)))
        }
        _ => None,
    }
}

/// Writes a host address of `family` where the core reads it back.
///
/// # Safety
///
/// As for [`read_addr`], for writing.
unsafe fn write_addr(family: Family, addr: u128, p: *mut c_void) {
    match family {
        // SAFETY: 4 writable bytes for AF_INET, per the contract; IPv4
        // addresses sit in the low 32 bits.
        Family::V4 => unsafe {
            p.cast::<[u8; 4]>()
                .write_unaligned((addr as u32).to_be_bytes())
        },
        // SAFETY: 16 writable bytes for AF_INET6, per the contract.
        Family::V6 => unsafe { p.cast::<[u8; 16]>().write_unaligned(addr.to_be_bytes()) },
    }
}

/// Runs `f` on the namespace's state and policy; `empty` if it has none.
///
/// # Safety
///
/// `net` must be a live namespace, the pernet registration must exist (the
/// hooks are registered only while it does), and the caller must hold the
/// RCU read lock (the hook core's wrappers do).
pub(crate) unsafe fn with_policy<R>(
    net: *const bindings::net,
    empty: R,
    f: impl FnOnce(&NetState, &Snapshot) -> R,
) -> R {
    // SAFETY: per the contract.
    let state = unsafe { netns::state(net) };
    // SAFETY: the caller holds the RCU read lock, per the contract.
    unsafe {
        state.store.read_in_rcu(|s| match s {
            Some(s) => f(state, s),
            None => empty,
        })
    }
}

/// Counts `c` for `who`: a managed uid's own counters, or the namespace's
/// counters of everyone else.
pub(crate) fn charge(state: &NetState, s: &Snapshot, who: Subject, c: Counter) {
    match who {
        Subject::Managed(m) => {
            if let Some(counters) = s.counters(m) {
                counters.bump(c);
            }
        }
        _ => state.others.bump(c),
    }
}

/// bind(): `verdict::bind`.
///
/// # Safety
///
/// Called by the hook core only, with a live `net` and an address as
/// [`read_addr`] needs.
unsafe extern "C" fn bind_check(
    net: *const bindings::net,
    uid: u32,
    family: c_int,
    addr: *const c_void,
    port: u16,
    _ifindex: c_int,
) -> c_int {
    if crate::NOOP_BIND || verdict::exempt(uid) {
        return 0;
    }
    // SAFETY: the core passes 4 or 16 bytes as `family` says.
    let Some((family, addr)) = (unsafe { read_addr(family as u32, addr) }) else {
        return 0;
    };
    // SAFETY: the core passes the socket's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            match verdict::bind(&t, who, family, addr, port, state.low_ports()) {
                Bind::Allow => 0,
                Bind::AllowLowPort => PORT_OK,
                Bind::Deny(e, c) => {
                    charge(state, s, who, c);
                    neg(e)
                }
            }
        })
    }
}

fn bound(b: &bindings::uoa_bound) -> Option<Bound> {
    // SAFETY: `addr` has 16 bytes, enough for either family.
    let (family, addr) = unsafe { read_addr(u32::from(b.family), b.addr.as_ptr().cast()) }?;
    Some(Bound::new(family, addr, b.v6only))
}

/// Port conflicts: `verdict::bind_disjoint`.
///
/// # Safety
///
/// Called by the hook core only, with a live `net` and two valid
/// descriptions.
unsafe extern "C" fn bind_disjoint(
    net: *const bindings::net,
    a: *const bindings::uoa_bound,
    b: *const bindings::uoa_bound,
) -> bool {
    if crate::NOOP_BIND {
        return false;
    }
    // SAFETY: the core passes two valid descriptions on its stack.
    let (a, b) = unsafe { (&*a, &*b) };
    let (Some(ba), Some(bb)) = (bound(a), bound(b)) else {
        return false;
    };
    // SAFETY: the core passes the socket's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, false, |_, s| {
            let t = s.tables();
            verdict::bind_disjoint(&t, (t.subject(a.uid), ba), (t.subject(b.uid), bb))
        })
    }
}

/// Receive lookup: `verdict::receive`, which asks the same two halves as
/// LOCAL_OUT of the packet's destination and device. The core does not
/// ask when the candidate socket remembers them (`stamp`).
///
/// # Safety
///
/// Called by the hook core only, with a live `net` and an address as
/// [`read_addr`] needs.
unsafe extern "C" fn rcv_ok(
    net: *const bindings::net,
    uid: u32,
    family: c_int,
    daddr: *const c_void,
    dif: c_int,
    _sdif: c_int,
) -> bool {
    if crate::NOOP_RECEIVE || verdict::exempt(uid) {
        return true;
    }
    // SAFETY: the core passes 4 or 16 bytes as `family` says.
    let Some((family, daddr)) = (unsafe { read_addr(family as u32, daddr) }) else {
        return true;
    };
    // SAFETY: the core passes the socket's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, true, |_, s| {
            let t = s.tables();
            verdict::receive(&t, t.subject(uid), family, daddr, dif as u32)
        })
    }
}

/// The tc class of `who`'s packets (0: none).
pub(crate) fn class_of(s: &Snapshot, who: Subject) -> u32 {
    match who {
        Subject::Managed(m) => s.settings(m).map_or(0, |x| x.class()),
        _ => 0,
    }
}

/// Output routes: `verdict::route_source`; a rewrite is written back to
/// `saddr`. The core does not ask for a flow whose socket `sk` remembers
/// its IPv4 source and device (`stamp`); an allowed route's verdict is
/// remembered there, for the next route and for LOCAL_OUT: the policy
/// allows a route's source exactly when it would let its packets pass.
///
/// # Safety
///
/// Called by the hook core only, with a live `net`, `sk` null or a full
/// socket of `uid` alive during the lookup, and addresses as [`read_addr`]
/// needs; `saddr` writable.
unsafe extern "C" fn route_saddr(
    net: *const bindings::net,
    sk: *const bindings::sock,
    uid: u32,
    family: c_int,
    daddr: *const c_void,
    oif: c_int,
    saddr: *mut c_void,
    user_saddr: bool,
) -> c_int {
    if crate::NOOP_SOURCE || verdict::exempt(uid) {
        return 0;
    }
    // Before the snapshot is read, as at LOCAL_OUT.
    let version = stamp::version();
    let v4 = (family as u32 == bindings::AF_INET && !sk.is_null()).then(|| {
        // SAFETY: a full socket alive during the lookup, per the contract;
        // AF_INET gives 4 bytes at `saddr`.
        unsafe { (Stamps::of(sk), saddr.cast::<u32>().read_unaligned()) }
    });
    // SAFETY: the core passes 4 or 16 bytes as `family` says, for both.
    let (Some((fam, dst)), Some((_, src))) = (unsafe {
        (
            read_addr(family as u32, daddr),
            read_addr(family as u32, saddr),
        )
    }) else {
        return 0;
    };
    // SAFETY: the core passes the flow's live namespace, and calls
    // under its RCU read lock.
    unsafe {
        with_policy(net, 0, |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            match verdict::route_source(&t, who, fam, dst, oif as u32, src, user_saddr) {
                Source::Allow => {
                    if let Some((stamps, src)) = v4 {
                        if verdict::may_remember(who, class_of(s, who)) {
                            stamps.remember(uid, version, src, oif as u32);
                        }
                    }
                    0
                }
                Source::Reserved => RESERVED,
                Source::Rewrite(addr, c) => {
                    // SAFETY: `saddr` holds an address of `family`.
                    write_addr(fam, addr, saddr);
                    charge(state, s, who, c);
                    0
                }
                Source::Deny(e, c) => {
                    charge(state, s, who, c);
                    neg(e)
                }
            }
        })
    }
}

/// The callbacks; the core only reads them.
static OPS: bindings::uoa_ops = bindings::uoa_ops {
    bind_check: Some(bind_check),
    bind_disjoint: Some(bind_disjoint),
    rcv_ok: Some(rcv_ok),
    route_saddr: Some(route_saddr),
    rtnl_permit: Some(crate::route::rtnl_permit),
    route_change: Some(crate::route::route_change),
    route_table: Some(crate::route::route_table),
    route_add: Some(crate::route::route_add),
    rule_table: Some(crate::route::rule_table),
    local_out: Some(crate::local_out::local_out),
};

/// Whether the socket hooks are registered. The LOCAL_OUT catch-all stands
/// down before they go: once lookups are stock again a packet may reach
/// another uid's wildcard socket, whose replies must not be dropped.
static ACTIVE: AtomicBool = AtomicBool::new(false);

pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// The registered hooks; dropping the registration waits until no callback
/// runs any more.
pub(crate) struct Registration(());

impl Registration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: `OPS` is static; it stays registered until `drop`.
        to_result(unsafe { bindings::uoa_register_ops(&OPS) })?;
        ACTIVE.store(true, Ordering::Release);
        Ok(Registration(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::Release);
        // SAFETY: `OPS` was registered by `register`; unregistering waits for
        // running callbacks (synchronize_rcu).
        unsafe { bindings::uoa_unregister_ops(&OPS) };
    }
}
