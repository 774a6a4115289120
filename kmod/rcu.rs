// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections (`include/linux/rcupdate.h`).

use kernel::bindings;

/// Holds the RCU read lock until dropped: what is read under it stays alive.
/// Must not be held across anything that sleeps.
pub(crate) struct ReadGuard(());

impl ReadGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: entering a read-side critical section is always allowed;
        // `drop` leaves it.
        unsafe { bindings::rcu_read_lock() };
        ReadGuard(())
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        // SAFETY: `new` entered the critical section this leaves.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Waits until every read-side critical section that began before has ended.
/// Sleeps.
pub(crate) fn synchronize() {
    // SAFETY: called from process context only (genl handlers, pernet exit).
    unsafe { bindings::synchronize_rcu() };
}
