// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state (`include/net/net_namespace.h`,
//! `include/net/netns/generic.h`).
//!
//! The kernel allocates a zeroed [`NetState`] for every namespace, existing
//! and new, and frees it after the namespace's last user is gone; pernet
//! `init` initialises the store's writer lock in it before anything else
//! sees the namespace.

use crate::{
    cstatic::CStatic,
    store::{Counters, Store},
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

/// UOA's state in one network namespace: all-zero, then `init` sets up
/// `store`.
#[repr(C)]
pub(crate) struct NetState {
    status_requests: AtomicU64,
    /// `UOA_OPT_*` bits.
    options: AtomicU32,
    /// The default limit on a managed uid's routes; 0: the policy's.
    route_limit: AtomicU32,
    /// What was refused to uids that are not managed.
    pub(crate) others: Counters,
    pub(crate) store: Store,
}

impl NetState {
    /// Counts one status request and returns the count, this one included.
    pub(crate) fn count_status_request(&self) -> u64 {
        self.status_requests
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    pub(crate) fn options(&self) -> u32 {
        self.options.load(Ordering::Relaxed)
    }

    pub(crate) fn set_options(&self, options: u32) {
        self.options.store(options, Ordering::Relaxed);
    }

    /// The default limit on the routes of a managed uid's table.
    pub(crate) fn route_limit(&self) -> u32 {
        crate::policy::route::route_limit(0, self.route_limit.load(Ordering::Relaxed))
    }

    pub(crate) fn set_route_limit(&self, limit: u32) {
        self.route_limit.store(limit, Ordering::Relaxed);
    }

    /// May managed uids bind ports below 1024 on their own addresses?
    pub(crate) fn low_ports(&self) -> bool {
        self.options() & bindings::uoa_options_UOA_OPT_LOW_PORTS != 0
    }
}

static NET_ID: AtomicU32 = AtomicU32::new(0);
static NET_OPS: CStatic<bindings::pernet_operations> = CStatic::uninit();

/// UOA's state in `net`.
///
/// # Safety
///
/// `net` must be a live namespace and [`Registration`] must exist.
pub(crate) unsafe fn state(net: *const bindings::net) -> &'static NetState {
    // SAFETY: per the contract, our pernet id is registered for `net`, so
    // `net_generic` returns its zeroed `NetState` area, which lives as long as
    // `net`; all-zero is a valid `NetState`.
    unsafe { &*bindings::net_generic(net, NET_ID.load(Ordering::Relaxed)).cast::<NetState>() }
}

/// Registration of UOA's pernet subsystem; dropping it frees every
/// namespace's [`NetState`].
pub(crate) struct Registration(());

impl Registration {
    pub(crate) fn register() -> Result<Self> {
        let ops = bindings::pernet_operations {
            id: NET_ID.as_ptr(),
            size: core::mem::size_of::<NetState>(),
            init: Some(init),
            pre_exit: Some(pre_exit),
            exit: Some(exit),
            ..Default::default()
        };
        // SAFETY: `NET_OPS` is not registered yet (module init runs once), so
        // nothing else reads it while we write it.
        unsafe { NET_OPS.get().write(ops) };
        // SAFETY: `NET_OPS` is a valid, fully written `pernet_operations` with
        // static storage; it stays registered until `drop`.
        to_result(unsafe { bindings::register_pernet_subsys(NET_OPS.get()) })?;
        Ok(Registration(()))
    }
}

/// A namespace (or, at registration, each existing one) gets its store.
///
/// # Safety
///
/// Called by the pernet core only, for a namespace being set up.
unsafe extern "C" fn init(net: *mut bindings::net) -> c_int {
    // SAFETY: our pernet id is registered for `net`, whose zeroed
    // `NetState` area nobody else uses until `init` returns; the store is
    // initialised in place and never moves (the area is freed with `net`).
    let slot = unsafe {
        let state = bindings::net_generic(net, NET_ID.load(Ordering::Relaxed)).cast::<NetState>();
        core::ptr::addr_of_mut!((*state).store)
    };
    // SAFETY: `slot` is valid for writes and pinned, as above.
    match unsafe { Store::new().__pinned_init(slot) } {
        Ok(()) => 0,
        Err(never) => match never {},
    }
}

/// The namespace is going away: unpublish its policy. The kernel waits for
/// an RCU grace period between `pre_exit` and `exit`.
///
/// # Safety
///
/// Called by the pernet core only, for a namespace our ops are registered in.
unsafe extern "C" fn pre_exit(net: *mut bindings::net) {
    // SAFETY: called by the pernet core for a namespace of ours.
    unsafe { state(net) }.store.retire();
}

/// Frees what `pre_exit` unpublished.
///
/// # Safety
///
/// As for `pre_exit`; called after it and a grace period.
unsafe extern "C" fn exit(net: *mut bindings::net) {
    // SAFETY: as in `pre_exit`; its state is freed only after we return.
    unsafe { state(net) }.store.free_retired();
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `NET_OPS` was registered by `register`, which is the only way
        // to obtain a `Registration`.
        unsafe { bindings::unregister_pernet_subsys(NET_OPS.get()) };
    }
}
