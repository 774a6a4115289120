// SPDX-License-Identifier: GPL-2.0

//! The socket hooks (`include/net/uoa.h`): bind, port conflicts, receive
//! lookup and source selection, for managed uids and for the others.
//!
//! The kernel calls them under RCU in any context, softirq included: they
//! read the namespace's snapshot without locks, never sleep or allocate,
//! and count into atomics. The rules themselves are in `policy`.

use crate::{
    cstatic::CStatic,
    netns::{self, NetState},
    policy::{self, Bound, Family, Owner},
    store::{Counters, Snapshot},
};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

/// `UOA_NO_UID`: the owner of a TIME_WAIT or request socket.
const NO_UID: u32 = u32::MAX;
const PORT_OK: c_int = bindings::UOA_BIND_PORT_OK as c_int;
const RESERVED: c_int = bindings::UOA_SADDR_RESERVED as c_int;
/// Below this port, binding needs CAP_NET_BIND_SERVICE (the default of
/// net.ipv4.ip_unprivileged_port_start).
const PRIVILEGED_PORTS: u16 = 1024;

fn neg(e: u32) -> c_int {
    -(e as c_int)
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
        Family::V4 => unsafe { p.cast::<[u8; 4]>().write_unaligned((addr as u32).to_be_bytes()) },
        // SAFETY: 16 writable bytes for AF_INET6, per the contract.
        Family::V6 => unsafe { p.cast::<[u8; 16]>().write_unaligned(addr.to_be_bytes()) },
    }
}

/// Runs `f` on the namespace's state and policy; `empty` if it has none.
///
/// # Safety
///
/// `net` must be a live namespace and the pernet registration must exist
/// (the hooks are registered only while it does).
unsafe fn with_policy<R>(net: *const bindings::net, empty: R, f: impl FnOnce(&NetState, &Snapshot) -> R) -> R {
    // SAFETY: per the contract.
    let state = unsafe { netns::state(net) };
    state.store.read(|s| match s {
        Some(s) => f(state, s),
        None => empty,
    })
}

/// The address a callback is about, or `None` when the policy has nothing
/// to say: root, an unknown owner, or a family that is not IP.
///
/// # Safety
///
/// As for [`read_addr`].
unsafe fn subject(uid: u32, family: c_int, p: *const c_void) -> Option<(Family, u128)> {
    if uid == 0 || uid == NO_UID {
        return None;
    }
    // SAFETY: per the contract.
    unsafe { read_addr(family as u32, p) }
}

fn owner(s: &Snapshot, uid: u32) -> Owner {
    match uid {
        NO_UID => Owner::Unknown,
        0 => Owner::Root,
        u if s.managed(u).is_some() => Owner::Managed(u),
        u => Owner::Unmanaged(u),
    }
}

/// bind(): a managed uid may bind only its own addresses or the wildcard;
/// anyone else but root may not bind a managed uid's address.
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
    // SAFETY: the core passes 4 or 16 bytes as `family` says.
    let Some((family, addr)) = (unsafe { subject(uid, family, addr) }) else {
        return 0;
    };
    // SAFETY: the core passes the socket's live namespace.
    unsafe {
        with_policy(net, 0, |state, s| {
            let holder = (addr != 0).then(|| s.owner(family, addr)).flatten();
            match s.managed(uid) {
                Some(m) if addr != 0 && holder != Some(uid) => {
                    Counters::bump(&m.counters.binds_denied);
                    neg(bindings::EADDRNOTAVAIL)
                }
                Some(_) if port != 0 && port < PRIVILEGED_PORTS && state.low_ports() => PORT_OK,
                Some(_) => 0,
                None if holder.is_some() => {
                    Counters::bump(&state.others.binds_denied);
                    neg(bindings::EADDRNOTAVAIL)
                }
                None => 0,
            }
        })
    }
}

fn bound(b: &bindings::uoa_bound) -> Option<Bound> {
    // SAFETY: `addr` has 16 bytes, enough for either family.
    let (family, addr) = unsafe { read_addr(u32::from(b.family), b.addr.as_ptr().cast()) }?;
    Some(match addr {
        0 => Bound::Any { family, v6only: b.v6only },
        a => Bound::Addr(family, a),
    })
}

/// Port conflicts: sockets of different uids whose address sets are
/// disjoint may share a port (`policy::bind_disjoint`).
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
    // SAFETY: the core passes two valid descriptions on its stack.
    let (a, b) = unsafe { (&*a, &*b) };
    let (Some(ba), Some(bb)) = (bound(a), bound(b)) else {
        return false;
    };
    // SAFETY: the core passes the socket's live namespace.
    unsafe {
        with_policy(net, false, |_, s| {
            policy::bind_disjoint((owner(s, a.uid), ba), (owner(s, b.uid), bb), |f, x| s.owner(f, x))
        })
    }
}

/// Receive lookup: a managed uid's socket gets only packets to its own
/// addresses (on its interfaces, if it has any); a socket of another
/// non-root uid gets none to a managed uid's address.
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
    // SAFETY: the core passes 4 or 16 bytes as `family` says.
    let Some((family, daddr)) = (unsafe { subject(uid, family, daddr) }) else {
        return true;
    };
    // SAFETY: the core passes the socket's live namespace.
    unsafe {
        with_policy(net, true, |_, s| match s.owner(family, daddr) {
            Some(o) if o == uid => s.managed(uid).is_some_and(|m| s.interface_allowed(m, dif as u32)),
            Some(_) => false,
            None => s.managed(uid).is_none(),
        })
    }
}

/// Output routes: a managed uid leaves only from its own addresses (the
/// kernel's choice replaced by the closest one, a given one checked) and
/// only through its interfaces; anyone else but root is told that a
/// managed uid's address is reserved.
///
/// # Safety
///
/// Called by the hook core only, with a live `net` and addresses as
/// [`read_addr`] needs; `saddr` writable.
unsafe extern "C" fn route_saddr(
    net: *const bindings::net,
    uid: u32,
    family: c_int,
    daddr: *const c_void,
    oif: c_int,
    saddr: *mut c_void,
    user_saddr: bool,
) -> c_int {
    // SAFETY: the core passes 4 or 16 bytes as `family` says, for both.
    let (Some((fam, dst)), Some((_, src))) =
        (unsafe { (subject(uid, family, daddr), read_addr(family as u32, saddr)) })
    else {
        return 0;
    };
    let oif = oif as u32;
    // SAFETY: the core passes the flow's live namespace.
    unsafe {
        with_policy(net, 0, |_, s| {
            let holder = (src != 0).then(|| s.owner(fam, src)).flatten();
            let Some(m) = s.managed(uid) else {
                return if holder.is_some() { RESERVED } else { 0 };
            };
            let c = m.counters;
            if !s.interface_allowed(m, oif) {
                Counters::bump(&c.sources_denied);
                return neg(bindings::ENETUNREACH);
            }
            if holder == Some(uid) {
                return 0;
            }
            if user_saddr {
                Counters::bump(&c.sources_denied);
                return neg(bindings::EADDRNOTAVAIL);
            }
            match policy::closest_source(s.entries_of(uid), fam, dst, oif) {
                Some(p) => {
                    // SAFETY: `saddr` holds an address of `family`.
                    write_addr(fam, p.addr(), saddr);
                    Counters::bump(&c.sources_rewritten);
                    0
                }
                None => {
                    Counters::bump(&c.sources_denied);
                    neg(bindings::EADDRNOTAVAIL)
                }
            }
        })
    }
}

static OPS: CStatic<bindings::uoa_ops> = CStatic::uninit();

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
        let ops = bindings::uoa_ops {
            bind_check: Some(bind_check),
            bind_disjoint: Some(bind_disjoint),
            rcv_ok: Some(rcv_ok),
            route_saddr: Some(route_saddr),
        };
        // SAFETY: `OPS` is not registered yet (module init runs once), so
        // nothing reads it while we write it.
        unsafe { OPS.get().write(ops) };
        // SAFETY: `OPS` is fully written and static; it stays registered
        // until `drop`.
        to_result(unsafe { bindings::uoa_register_ops(OPS.get()) })?;
        ACTIVE.store(true, Ordering::Release);
        Ok(Registration(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::Release);
        // SAFETY: `OPS` was registered by `register`; unregistering waits for
        // running callbacks (synchronize_rcu).
        unsafe { bindings::uoa_unregister_ops(OPS.get()) };
    }
}
