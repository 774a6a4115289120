// SPDX-License-Identifier: GPL-2.0

//! A namespace's policy: an immutable [`Snapshot`] behind an RCU pointer.
//!
//! Readers load the pointer inside an RCU read-side section and use the
//! snapshot without locks or counts. A writer holds the store's own mutex
//! ([`Store::writer`]) while it builds a whole new snapshot, swaps it in,
//! waits for a grace period and frees the old one; the namespace's exit
//! unpublishes under the same mutex. Lockdep sees every writer.

use crate::policy::{
    self,
    verdict::{Counter, Managed, Tables},
    Entry, Own, Prefix, Range, Refusal, Replace, UidTable,
};
use crate::{rcu, stamp};
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use kernel::{bindings, new_mutex, prelude::*, sync::Mutex};

/// What the hooks refused or changed for one uid (uapi UOA_A_COUNTER_*).
#[derive(Default)]
pub(crate) struct Counters {
    binds_denied: AtomicU64,
    sources_denied: AtomicU64,
    sources_rewritten: AtomicU64,
    packets_dropped: AtomicU64,
    routes_changed: AtomicU64,
    routes_refused: AtomicU64,
}

impl Counters {
    fn slot(&self, c: Counter) -> &AtomicU64 {
        match c {
            Counter::BindsDenied => &self.binds_denied,
            Counter::SourcesDenied => &self.sources_denied,
            Counter::SourcesRewritten => &self.sources_rewritten,
            Counter::PacketsDropped => &self.packets_dropped,
            Counter::RoutesChanged => &self.routes_changed,
            Counter::RoutesRefused => &self.routes_refused,
        }
    }

    pub(crate) fn bump(&self, c: Counter) {
        self.slot(c).fetch_add(1, Ordering::Relaxed);
    }

    /// In the order of the uapi's counter attributes.
    pub(crate) const ORDER: [Counter; 6] = [
        Counter::BindsDenied,
        Counter::SourcesDenied,
        Counter::SourcesRewritten,
        Counter::PacketsDropped,
        Counter::RoutesChanged,
        Counter::RoutesRefused,
    ];

    pub(crate) fn values(&self) -> [u64; 6] {
        Self::ORDER.map(|c| self.slot(c).load(Ordering::Relaxed))
    }

    fn add(&self, other: &Counters) {
        for c in Self::ORDER {
            self.slot(c)
                .fetch_add(other.slot(c).load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// What the administrator set for one managed uid; it follows the uid from
/// snapshot to snapshot and goes with its last entry.
#[derive(Default)]
pub(crate) struct UidSettings {
    /// The most routes its table may hold (0: the namespace's default).
    route_limit: AtomicU32,
    /// The tc class its packets get in `skb->priority` (0: none).
    class: AtomicU32,
}

impl UidSettings {
    pub(crate) fn route_limit(&self) -> u32 {
        self.route_limit.load(Ordering::Relaxed)
    }

    pub(crate) fn class(&self) -> u32 {
        self.class.load(Ordering::Relaxed)
    }

    fn copy_from(&self, other: &UidSettings) {
        self.route_limit
            .store(other.route_limit(), Ordering::Relaxed);
        self.class.store(other.class(), Ordering::Relaxed);
    }
}

/// One version of a namespace's policy, with its lookup indexes (the
/// decisions on them are `policy::verdict`'s).
pub(crate) struct Snapshot {
    entries: KVVec<Entry>,
    ranges: KVVec<Range>,
    uids: KVVec<UidTable>,
    /// `entries` sorted by uid, for a uid's own addresses.
    by_uid: KVVec<Entry>,
    /// One per item of `uids`, same order.
    counters: KVVec<Counters>,
    /// One per item of `uids`: where its entries sit in `by_uid`, and
    /// whether they name interfaces (R1).
    own: KVVec<Own>,
    /// One per item of `uids`: what the administrator set for it. Written
    /// under the writers' lock.
    settings: KVVec<UidSettings>,
    /// One per item of `uids`: where the kernel keeps the IPv4 table of
    /// that uid's flows once it has found it (`rule_table`); null until
    /// then. Only the kernel reads and writes them.
    table_slots: KVVec<AtomicPtr<c_void>>,
    /// Hash tables for O(1) lookups: indexes into `uids` and into `entries`
    /// (host entries only).
    uid_hash: KVVec<u32>,
    table_hash: KVVec<u32>,
    host_hash: KVVec<u32>,
    /// The vectors above as the policy's decisions read them, made once:
    /// every hook reads through this one view instead of assembling its
    /// nine slices on the stack per call.
    view: Tables<'static>,
}

/// `v`'s items with an unbounded lifetime, for [`Snapshot::view`].
///
/// # Safety
///
/// `v` must not be changed (pushed, truncated, written) nor dropped while
/// the slice is in use.
unsafe fn unbounded<T>(v: &KVVec<T>) -> &'static [T] {
    // SAFETY: `as_ptr` and `len` describe `v`'s initialised items (a
    // dangling, aligned pointer when empty); the caller keeps them there.
    unsafe { core::slice::from_raw_parts(v.as_ptr(), v.len()) }
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
        let mut settings = KVVec::with_capacity(nu, GFP_KERNEL)?;
        let mut table_slots = KVVec::with_capacity(nu, GFP_KERNEL)?;
        for _ in 0..nu {
            counters.push(Counters::default(), GFP_KERNEL)?;
            settings.push(UidSettings::default(), GFP_KERNEL)?;
            table_slots.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        let mut uid_hash = KVVec::from_elem(policy::EMPTY, policy::hash_slots(nu), GFP_KERNEL)?;
        policy::build_uid_hash(&uids, &mut uid_hash).map_err(|_| EINVAL)?;
        let mut table_hash = KVVec::from_elem(policy::EMPTY, policy::hash_slots(nu), GFP_KERNEL)?;
        policy::build_table_hash(&uids, &mut table_hash).map_err(|_| EINVAL)?;
        let mut host_hash = KVVec::from_elem(policy::EMPTY, policy::hash_slots(n), GFP_KERNEL)?;
        policy::build_host_hash(&entries, &mut host_hash).map_err(|_| EINVAL)?;
        let mut own = KVVec::from_elem(Own::default(), nu, GFP_KERNEL)?;
        policy::build_own(&by_uid, &uids, &mut own).map_err(|_| EINVAL)?;
        let has_blocks = entries.iter().any(|e| !e.prefix.is_host());
        // SAFETY: the vectors move into the snapshot with the view, which
        // never changes them after this, and hands the view out only
        // borrowed from itself (`tables`); moving a KVVec leaves its items
        // where they are, and they go when the snapshot goes.
        let view = unsafe {
            Tables {
                entries: unbounded(&entries),
                ranges: unbounded(&ranges),
                uids: unbounded(&uids),
                by_uid: unbounded(&by_uid),
                own: unbounded(&own),
                uid_hash: unbounded(&uid_hash),
                table_hash: unbounded(&table_hash),
                host_hash: unbounded(&host_hash),
                has_blocks,
            }
        };
        let snapshot = Snapshot {
            entries,
            ranges,
            uids,
            by_uid,
            counters,
            own,
            settings,
            table_slots,
            uid_hash,
            table_hash,
            host_hash,
            view,
        };
        Ok(KBox::new(snapshot, GFP_KERNEL)?)
    }

    /// The snapshot as the policy's decisions read it.
    pub(crate) fn tables(&self) -> &Tables<'_> {
        &self.view
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

    /// The `i`th managed uid: its uid, table, counters and settings.
    pub(crate) fn uid_info(&self, i: usize) -> Option<(UidTable, &Counters, &UidSettings)> {
        Some((
            *self.uids.get(i)?,
            self.counters.get(i)?,
            self.settings.get(i)?,
        ))
    }

    /// What the administrator set for `m`.
    pub(crate) fn settings(&self, m: Managed) -> Option<&UidSettings> {
        self.settings.get(m.index)
    }

    /// The slot where the kernel keeps the table of the `i`th managed
    /// uid's flows (`bindings::uoa_table_slot`, one pointer), for as long
    /// as this snapshot is current.
    pub(crate) fn table_slot(&self, i: usize) -> Option<*mut bindings::uoa_table_slot> {
        // An AtomicPtr is laid out as the pointer it holds, and the
        // kernel accesses it with READ_ONCE and WRITE_ONCE only.
        self.table_slots.get(i).map(|p| p.as_ptr().cast())
    }

    /// The route limit the administrator set for `m` (0: none).
    pub(crate) fn route_limit(&self, m: Managed) -> u32 {
        self.settings(m).map_or(0, UidSettings::route_limit)
    }

    /// Keeps the settings of the uids that are in `old` too.
    fn carry_settings(&self, old: &Snapshot) {
        let t = self.tables();
        for (u, o) in old.uids.iter().zip(old.settings.iter()) {
            if let Some(mine) = t.managed(u.uid).and_then(|m| self.settings.get(m.index)) {
                mine.copy_from(o);
            }
        }
    }

    /// The counters of `m`, a managed uid of this snapshot.
    pub(crate) fn counters(&self, m: Managed) -> Option<&Counters> {
        self.counters.get(m.index)
    }

    /// Bytes allocated for this snapshot.
    pub(crate) fn memory(&self) -> usize {
        use core::mem::size_of;
        size_of::<Self>()
            + (self.entries.capacity() + self.by_uid.capacity()) * size_of::<Entry>()
            + self.ranges.capacity() * size_of::<Range>()
            + self.uids.capacity() * size_of::<UidTable>()
            + self.counters.capacity() * size_of::<Counters>()
            + self.own.capacity() * size_of::<Own>()
            + self.settings.capacity() * size_of::<UidSettings>()
            + self.table_slots.capacity() * size_of::<AtomicPtr<c_void>>()
            + (self.uid_hash.capacity() + self.table_hash.capacity() + self.host_hash.capacity())
                * size_of::<u32>()
    }

    /// Adds the counts of `old` to the uids that are in both.
    fn carry_counters(&self, old: &Snapshot) {
        let t = self.tables();
        for (uid, c) in old.uid_counters() {
            if let Some(mine) = t.managed(uid).and_then(|m| self.counters(m)) {
                mine.add(c);
            }
        }
    }
}

/// A namespace's policy.
#[repr(C)]
#[pin_data]
pub(crate) struct Store {
    /// Held by every writer: updates and the namespace's exit.
    #[pin]
    writer: Mutex<()>,
    /// The published snapshot; null while the policy is empty.
    current: AtomicPtr<Snapshot>,
    /// Unpublished by `retire`, freed by `free_retired`.
    retired: AtomicPtr<Snapshot>,
    /// Bumped by every update, so that dumps notice changes.
    generation: AtomicU64,
}

impl Store {
    /// An empty store.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Store {
            writer <- new_mutex!((), "uoa_store_writer"),
            current: AtomicPtr::new(ptr::null_mut()),
            retired: AtomicPtr::new(ptr::null_mut()),
            generation: AtomicU64::new(0),
        })
    }

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

    /// As [`Store::read`], for callers already inside an RCU read-side
    /// critical section (every hook: the core's wrappers take it), which
    /// need not take it again on each packet.
    ///
    /// # Safety
    ///
    /// The caller must hold the RCU read lock for the whole call.
    pub(crate) unsafe fn read_in_rcu<R>(&self, f: impl FnOnce(Option<&Snapshot>) -> R) -> R {
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: as in `read`: the caller's read-side section began before
        // any writer could unpublish `p`, and writers free only after a
        // grace period.
        f(unsafe { p.as_ref() })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Applies a batch (see `policy::apply`): all of it or, on a refusal or
    /// an allocation failure, none of it. Sleeps.
    pub(crate) fn update(
        &self,
        replace: Replace,
        removes: &mut [Prefix],
        adds: &mut [Entry],
    ) -> Result<(), Update> {
        let _writer = self.writer.lock();
        // Only writers replace the pointer and we hold the writers' lock,
        // so the current snapshot cannot be freed under us.
        let cur = self.current.load(Ordering::Acquire);
        // SAFETY: as above, `cur` stays alive until we replace it.
        let entries = unsafe { cur.as_ref() }.map_or(&[][..], |s| s.entries());
        let cap = entries
            .len()
            .checked_add(adds.len())
            .ok_or(Update::Error(ENOMEM))?;
        let alloc_err = |e: kernel::alloc::AllocError| Update::Error(e.into());
        let mut out = KVVec::from_elem(Entry::default(), cap, GFP_KERNEL).map_err(alloc_err)?;
        let mut pairs =
            KVVec::from_elem(UidTable::default(), cap, GFP_KERNEL).map_err(alloc_err)?;
        let n = policy::apply(entries, replace, removes, adds, &mut out, &mut pairs)
            .map_err(Update::Refused)?;
        // SAFETY: `apply` wrote `n` items; the rest are `Copy` values.
        unsafe { out.set_len(n) };
        let new = if n == 0 {
            ptr::null_mut()
        } else {
            let new = Snapshot::new(out).map_err(Update::Error)?;
            // Settings change only under the writers' lock: copy them before
            // the new snapshot is seen, so no route slips past a limit and
            // no packet misses its class.
            // SAFETY: as above.
            if let Some(cur) = unsafe { cur.as_ref() } {
                new.carry_settings(cur);
            }
            KBox::into_raw(new)
        };
        let old = self.current.swap(new, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        stamp::policy_changed();
        if !old.is_null() {
            rcu::synchronize();
            // SAFETY: `old` came from `KBox::into_raw` and, after the grace
            // period, no reader can still see it.
            let old = unsafe { KBox::from_raw(old) };
            // SAFETY: `new` is the published snapshot; only writers replace
            // it, and we hold the writers' lock.
            if let Some(new) = unsafe { new.as_ref() } {
                // No reader counts into `old` any more: keep its counts.
                new.carry_counters(&old);
            }
        }
        Ok(())
    }

    /// Sets the route limit (0: the default) and/or the tc class (0: none)
    /// of managed uid `uid`; `Err` (and nothing set) if it is not managed.
    pub(crate) fn set_uid(
        &self,
        uid: u32,
        route_limit: Option<u32>,
        class: Option<u32>,
    ) -> Result<(), ()> {
        let _writer = self.writer.lock();
        self.read(|s| {
            let s = s.ok_or(())?;
            let m = s.tables().managed(uid).ok_or(())?;
            let mine = s.settings(m).ok_or(())?;
            if let Some(l) = route_limit {
                mine.route_limit.store(l, Ordering::Relaxed);
            }
            if let Some(c) = class {
                mine.class.store(c, Ordering::Relaxed);
                stamp::policy_changed();
            }
            Ok(())
        })
    }

    /// Unpublishes the policy when the namespace starts to go away (pernet
    /// `pre_exit`); the kernel waits for a grace period before `exit`.
    pub(crate) fn retire(&self) {
        let _writer = self.writer.lock();
        let old = self.current.swap(ptr::null_mut(), Ordering::AcqRel);
        self.retired.store(old, Ordering::Release);
        stamp::policy_changed();
    }

    /// Frees what `retire` unpublished (pernet `exit`).
    pub(crate) fn free_retired(&self) {
        let _writer = self.writer.lock();
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
