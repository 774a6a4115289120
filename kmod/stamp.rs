// SPDX-License-Identifier: GPL-2.0

//! What a socket remembers of its owner (`sk->sk_uoa_stamp`, patch 18;
//! `policy::verdict::OutStamp`): that it may use an IPv4 address, and a
//! device, under a policy version. The output route hook stores them after
//! an allowed route of the socket, LOCAL_OUT after an accepted packet; both
//! and the receive lookup answer from them while they hold, since all three
//! ask the same two halves of the policy.

use crate::policy::verdict::OutStamp;
use core::sync::atomic::{fence, AtomicU64, Ordering};
use kernel::bindings;

/// A full socket's two words. Each is read and written whole, since the
/// socket's senders and receivers on several CPUs race on them and a torn
/// word could name an address that was never checked; the two need not
/// agree, as each half stands on its own.
pub(crate) struct Stamps<'a> {
    sk: *const bindings::sock,
    words: [&'a AtomicU64; 2],
}

impl Stamps<'_> {
    /// The words of `sk`.
    ///
    /// # Safety
    ///
    /// `sk` must be a live full socket (not a request or TIME_WAIT one,
    /// which have no such field) for as long as the result is used.
    pub(crate) unsafe fn of(sk: *const bindings::sock) -> Self {
        // SAFETY: the fields are naturally aligned u64s of a live full
        // socket, per the contract, and every access to them is atomic
        // (these, the kernel's WRITE_ONCE in sk_uoa_forget() and the
        // zeroing of a new socket before anyone else sees it).
        unsafe {
            let words = core::ptr::addr_of!((*sk).sk_uoa_stamp)
                .cast::<u64>()
                .cast_mut();
            Stamps {
                sk,
                words: [
                    AtomicU64::from_ptr(words),
                    AtomicU64::from_ptr(words.add(1)),
                ],
            }
        }
    }

    /// Whether the socket's owner may use IPv4 address `addr` (as the
    /// header has it) and device `ifindex` under `version`, as remembered.
    #[inline]
    pub(crate) fn hold(&self, version: u32, addr: u32, ifindex: u32) -> bool {
        pair(version, addr, ifindex).is_some_and(|(a, d)| {
            self.words[0].load(Ordering::Relaxed) == a && self.words[1].load(Ordering::Relaxed) == d
        })
    }

    /// Remembers that owner `uid` may use `addr` and `ifindex` under
    /// `version`, then forgets it again if the owner changed meanwhile
    /// (accept's `sock_graft`, fchown: the kernel forgets behind a full
    /// barrier after the new owner, this re-reads it behind one after the
    /// store, so one of the two sees the other).
    pub(crate) fn remember(&self, uid: u32, version: u32, addr: u32, ifindex: u32) {
        let Some((a, d)) = pair(version, addr, ifindex) else {
            return;
        };
        self.words[0].store(a, Ordering::Relaxed);
        self.words[1].store(d, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // SAFETY: `sk` is a live full socket, per `of`'s contract; the
        // owner is read once, as READ_ONCE would.
        let now = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.sk).sk_uid.val)) };
        if now != uid {
            self.words[0].store(0, Ordering::Relaxed);
            self.words[1].store(0, Ordering::Relaxed);
        }
    }
}

/// The two words that say `addr` and `ifindex` under `version`; `None`
/// when the version may not be remembered.
#[inline]
fn pair(version: u32, addr: u32, ifindex: u32) -> Option<(u64, u64)> {
    Some((
        OutStamp::new(version, addr)?.get(),
        OutStamp::new(version, ifindex)?.get(),
    ))
}
