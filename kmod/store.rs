// SPDX-License-Identifier: GPL-2.0

//! A namespace's policy: an immutable [`Snapshot`] behind an RCU pointer.
//!
//! Readers load the pointer inside an RCU read-side section and use the
//! snapshot without locks or counts. The writer builds a whole new snapshot,
//! swaps it in, waits for a grace period and frees the old one. Writers are
//! serialised by genetlink: the family does not set `parallel_ops`, so all
//! of its handlers run under the genl mutex.

use crate::policy::{self, Entry, Family, Prefix, Range, Refusal, Replace, UidTable};
use crate::rcu;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::prelude::*;

/// What the hooks refused or changed for one uid (uapi UOA_A_COUNTER_*).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) binds_denied: AtomicU64,
    pub(crate) sources_denied: AtomicU64,
    pub(crate) sources_rewritten: AtomicU64,
    pub(crate) packets_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn values(&self) -> [u64; 4] {
        [&self.binds_denied, &self.sources_denied, &self.sources_rewritten, &self.packets_dropped]
            .map(|c| c.load(Ordering::Relaxed))
    }

    fn add(&self, other: &Counters) {
        let v = other.values();
        let mine = [&self.binds_denied, &self.sources_denied, &self.sources_rewritten, &self.packets_dropped];
        for (c, n) in mine.into_iter().zip(v) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A managed uid as the data path sees it (from [`Snapshot::managed`]).
#[derive(Clone, Copy)]
pub(crate) struct Managed<'a> {
    pub(crate) counters: &'a Counters,
    uid: u32,
    /// Whether its entries name interfaces (R1).
    has_ifaces: bool,
}

/// One version of a namespace's policy, with its lookup indexes.
pub(crate) struct Snapshot {
    entries: KVVec<Entry>,
    ranges: KVVec<Range>,
    uids: KVVec<UidTable>,
    /// `entries` sorted by uid, for a uid's own addresses.
    by_uid: KVVec<Entry>,
    /// One per item of `uids`, same order.
    counters: KVVec<Counters>,
    /// One per item of `uids`: do the uid's entries name interfaces (R1)?
    ifaces: KVVec<bool>,
    /// Hash tables for O(1) lookups: indexes into `uids` and into `entries`
    /// (host entries only).
    uid_hash: KVVec<u32>,
    host_hash: KVVec<u32>,
    /// Whether any entry is a block, so that an address missing from
    /// `host_hash` may still be owned.
    has_blocks: bool,
}

impl Snapshot {
    /// Builds the indexes of `entries`, a valid list as `policy::apply` makes.
    fn new(entries: KVVec<Entry>) -> Result<KBox<Self>> {
        let n = entries.len();
        let mut ranges = KVVec::from_elem(Range::default(), n, GFP_KERNEL)?;
        let mut uids = KVVec::from_elem(UidTable::default(), n, GFP_KERNEL)?;
        let (nr, nu) = policy::build_index(&entries, &mut ranges, &mut uids).map_err(|_| EINVAL)?;
        // SAFETY: `build_index` wrote that many items and the rest are
        // `Copy` values that need no drop.
        unsafe {
            ranges.set_len(nr);
            uids.set_len(nu);
        }
        let mut by_uid = KVVec::with_capacity(n, GFP_KERNEL)?;
        by_uid.extend_from_slice(&entries, GFP_KERNEL)?;
        policy::sort_by_uid(&mut by_uid);
        let mut counters = KVVec::with_capacity(nu, GFP_KERNEL)?;
        for _ in 0..nu {
            counters.push(Counters::default(), GFP_KERNEL)?;
        }
        let mut uid_hash = KVVec::from_elem(policy::EMPTY, policy::hash_slots(nu), GFP_KERNEL)?;
        policy::build_uid_hash(&uids, &mut uid_hash).map_err(|_| EINVAL)?;
        let mut host_hash = KVVec::from_elem(policy::EMPTY, policy::hash_slots(n), GFP_KERNEL)?;
        policy::build_host_hash(&entries, &mut host_hash).map_err(|_| EINVAL)?;
        let mut ifaces = KVVec::from_elem(false, nu, GFP_KERNEL)?;
        for e in entries.iter().filter(|e| e.ifindex != 0) {
            if let Some(slot) = policy::find_uid(&uids, &uid_hash, e.uid).and_then(|i| ifaces.get_mut(i)) {
                *slot = true;
            }
        }
        let has_blocks = entries.iter().any(|e| !e.prefix.is_host());
        let snapshot = Snapshot { entries, ranges, uids, by_uid, counters, ifaces, uid_hash, host_hash, has_blocks };
        Ok(KBox::new(snapshot, GFP_KERNEL)?)
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub(crate) fn uid_count(&self) -> usize {
        self.uids.len()
    }

    /// The managed uids and their counters, by uid.
    pub(crate) fn uid_counters(&self) -> impl Iterator<Item = (u32, &Counters)> {
        self.uids.iter().map(|u| u.uid).zip(self.counters.iter())
    }

    /// `uid` if it is managed (its entries exist), with its counters. O(1).
    pub(crate) fn managed(&self, uid: u32) -> Option<Managed<'_>> {
        let i = policy::find_uid(&self.uids, &self.uid_hash, uid)?;
        Some(Managed {
            counters: self.counters.get(i)?,
            uid,
            has_ifaces: self.ifaces.get(i).copied().unwrap_or(false),
        })
    }

    /// The uid that owns `addr`: O(1) for host entries, O(log n) when the
    /// policy has blocks and `addr` is no host entry.
    pub(crate) fn owner(&self, family: Family, addr: u128) -> Option<u32> {
        match policy::find_host(&self.entries, &self.host_hash, family, addr) {
            Some(e) => Some(e.uid),
            None if self.has_blocks => policy::owner(&self.ranges, family, addr),
            None => None,
        }
    }

    /// R1: may managed `m` use interface `ifindex`? O(1) unless its
    /// entries name interfaces, then O(k) in its entries.
    pub(crate) fn interface_allowed(&self, m: Managed<'_>, ifindex: u32) -> bool {
        ifindex == 0
            || ifindex == policy::LOOPBACK_IFINDEX
            || !m.has_ifaces
            || policy::interface_allowed(self.entries_of(m.uid), ifindex)
    }

    /// The entries of `uid`. O(log n).
    pub(crate) fn entries_of(&self, uid: u32) -> &[Entry] {
        policy::entries_of(&self.by_uid, uid)
    }

    /// Bytes allocated for this snapshot.
    pub(crate) fn memory(&self) -> usize {
        use core::mem::size_of;
        size_of::<Self>()
            + (self.entries.capacity() + self.by_uid.capacity()) * size_of::<Entry>()
            + self.ranges.capacity() * size_of::<Range>()
            + self.uids.capacity() * size_of::<UidTable>()
            + self.counters.capacity() * size_of::<Counters>()
            + self.ifaces.capacity() * size_of::<bool>()
            + (self.uid_hash.capacity() + self.host_hash.capacity()) * size_of::<u32>()
    }

    /// Adds the counts of `old` to the uids that are in both.
    fn carry_counters(&self, old: &Snapshot) {
        for (uid, c) in old.uid_counters() {
            if let Some(mine) = self.managed(uid) {
                mine.counters.add(c);
            }
        }
    }
}

/// A namespace's policy. All-zero is an empty store.
#[repr(C)]
pub(crate) struct Store {
    /// The published snapshot; null while the policy is empty.
    current: AtomicPtr<Snapshot>,
    /// Unpublished by `retire`, freed by `free_retired`.
    retired: AtomicPtr<Snapshot>,
    /// Bumped by every update, so that dumps notice changes.
    generation: AtomicU64,
}

impl Store {
    /// Runs `f` on the current snapshot (`None`: empty policy) under RCU.
    /// `f` must not sleep.
    pub(crate) fn read<R>(&self, f: impl FnOnce(Option<&Snapshot>) -> R) -> R {
        let _guard = rcu::ReadGuard::new();
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: a non-null pointer is a live `KBox<Snapshot>`; the writer
        // frees it only after a grace period, and we are inside a read-side
        // section that began before it was unpublished.
        f(unsafe { p.as_ref() })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Applies a batch (see `policy::apply`): all of it or, on a refusal or
    /// an allocation failure, none of it. Sleeps. Callers must be serialised
    /// (the genl mutex).
    pub(crate) fn update(
        &self,
        replace: Replace,
        removes: &mut [Prefix],
        adds: &mut [Entry],
    ) -> Result<(), Update> {
        // Only writers replace the pointer and writers are serialised, so
        // the current snapshot cannot be freed under us.
        let cur = self.current.load(Ordering::Acquire);
        // SAFETY: as above, `cur` stays alive until we replace it.
        let entries = unsafe { cur.as_ref() }.map_or(&[][..], |s| s.entries());
        let cap = entries.len().checked_add(adds.len()).ok_or(Update::Error(ENOMEM))?;
        let alloc_err = |e: kernel::alloc::AllocError| Update::Error(e.into());
        let mut out = KVVec::from_elem(Entry::default(), cap, GFP_KERNEL).map_err(alloc_err)?;
        let mut pairs = KVVec::from_elem(UidTable::default(), cap, GFP_KERNEL).map_err(alloc_err)?;
        let n = policy::apply(entries, replace, removes, adds, &mut out, &mut pairs)
            .map_err(Update::Refused)?;
        // SAFETY: `apply` wrote `n` items; the rest are `Copy` values.
        unsafe { out.set_len(n) };
        let new = if n == 0 {
            ptr::null_mut()
        } else {
            KBox::into_raw(Snapshot::new(out).map_err(Update::Error)?)
        };
        let old = self.current.swap(new, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        if !old.is_null() {
            rcu::synchronize();
            // SAFETY: `old` came from `KBox::into_raw` and, after the grace
            // period, no reader can still see it.
            let old = unsafe { KBox::from_raw(old) };
            // SAFETY: `new` is the published snapshot; only writers replace
            // it, and we are the writer.
            if let Some(new) = unsafe { new.as_ref() } {
                // No reader counts into `old` any more: keep its counts.
                new.carry_counters(&old);
            }
        }
        Ok(())
    }

    /// Unpublishes the policy when the namespace starts to go away (pernet
    /// `pre_exit`); the kernel waits for a grace period before `exit`.
    pub(crate) fn retire(&self) {
        let old = self.current.swap(ptr::null_mut(), Ordering::AcqRel);
        self.retired.store(old, Ordering::Release);
    }

    /// Frees what `retire` unpublished (pernet `exit`).
    pub(crate) fn free_retired(&self) {
        let old = self.retired.swap(ptr::null_mut(), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` came from `KBox::into_raw`; it was unpublished in
            // `pre_exit` and a grace period has passed since.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

/// Why an update did not apply.
pub(crate) enum Update {
    Refused(Refusal),
    Error(Error),
}
