// SPDX-License-Identifier: GPL-2.0

//! What a socket remembers of its owner (`sk->sk_uoa_stamp`, patches 18
//! and 21): that it may use an IPv4 address, and a device, under the
//! current policy version. The core keeps the words and their encoding,
//! and answers the source hook, the receive lookup and LOCAL_OUT from them
//! before it calls the module, which stores them after an allowed route of
//! the socket or an accepted packet: all of these ask the same two halves
//! of the policy. (The words after those two hold the owner's table for
//! the l3mdev rules, patch 22, which the core remembers from `rule_table`'s
//! answer itself.)

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;

/// A full socket's stamps.
pub(crate) struct Stamps {
    sk: *mut bindings::sock,
}

impl Stamps {
    /// The stamps of `sk`.
    ///
    /// # Safety
    ///
    /// `sk` must be a live full socket (not a request or TIME_WAIT one,
    /// which have no such field) for as long as the result is used.
    pub(crate) unsafe fn of(sk: *const bindings::sock) -> Self {
        // The core writes the words whole with WRITE_ONCE; `*mut` only for
        // its signature.
        Stamps { sk: sk.cast_mut() }
    }

    /// Remembers that owner `uid` may use `addr` and `ifindex` under
    /// `version`, read before the policy that said so; the core forgets it
    /// again if the owner changed meanwhile.
    pub(crate) fn remember(&self, uid: u32, version: u32, addr: u32, ifindex: u32) {
        // SAFETY: a live full socket, per `of`'s contract.
        unsafe { bindings::uoa_stamps_remember4(self.sk, uid, version, addr, ifindex as i32) };
    }
}

/// The current policy version (patch 21's `uoa_policy_version`), read
/// before the snapshot that a verdict to remember comes from: acquire,
/// against `uoa_policy_changed()`'s release, so that the verdict is no
/// older than the version.
pub(crate) fn version() -> u32 {
    // SAFETY: the core's exported u32, which lives as long as the kernel
    // and is only accessed atomically (READ_ONCE, cmpxchg, this load).
    unsafe { AtomicU32::from_ptr(core::ptr::addr_of_mut!(bindings::uoa_policy_version)) }
        .load(Ordering::Acquire)
}

/// Makes every socket's stamps stale; after a change is published.
pub(crate) fn policy_changed() {
    // SAFETY: no preconditions.
    unsafe { bindings::uoa_policy_changed() };
}
