// SPDX-License-Identifier: GPL-2.0

//! The catch-all at LOCAL_OUT: whatever the socket hooks did not see (raw
//! IP_HDRINCL headers, routes cached before a policy change), a packet from
//! a managed uid's socket leaves only from that uid's address and through
//! its interfaces, and one from another non-root uid's socket never from a
//! managed uid's address (the rule is `policy::verdict::local_out`).
//! Anything else is dropped, counted, and the sender gets EPERM.
//!
//! In a namespace with a policy ([`enable`]), the output paths call the
//! core's `__uoa_local_out()` (patch 24) just before netfilter's LOCAL_OUT
//! hooks: it finds the sending socket and passes, on two compares, a
//! packet whose IPv4 source and device the socket remembers (`stamp`); it
//! calls [`local_out`] for the rest of a non-root owner's packets.
//!
//! A managed uid's packet that passes gets the uid's tc class in
//! `skb->priority` when its device's root qdisc is UOA's HTB
//! (`policy::shaping::priority`): HTB then classifies it without a filter.

use crate::{
    hooks::{self, read_addr},
    policy::{
        shaping,
        verdict::{self, Packet},
        Family,
    },
    stamp::{self, Stamps},
};
use kernel::{bindings, ffi::c_int};

/// Turns the catch-all on in `net` (patch 24's flag in `struct net`), before
/// its first entry is published: the core asks about no other namespace's
/// packets. It stays on until the namespace goes.
///
/// # Safety
///
/// `net` must be a live namespace.
pub(crate) unsafe fn enable(net: *mut bindings::net) {
    if !crate::NOOP_LOCAL_OUT {
        // SAFETY: `net` is live, per the contract.
        unsafe { bindings::uoa_local_out_enable(net) };
    }
}

/// LOCAL_OUT, what the socket `sk` does not remember:
/// `verdict::local_out` of the packet's source and device, remembered when
/// it passes; the uid's tc class in `skb->priority`. A namespace whose
/// policy is gone lets everything pass, which is remembered too.
///
/// # Safety
///
/// Called by the hook core only, under RCU, with a live `net`, a packet
/// `skb` of `family` whose network header is set, `out` null or a live
/// device, and the packet's full socket `sk`, owned by `uid`.
pub(crate) unsafe extern "C" fn local_out(
    net: *mut bindings::net,
    skb: *mut bindings::sk_buff,
    family: c_int,
    out: *const bindings::net_device,
    sk: *mut bindings::sock,
    uid: u32,
) -> c_int {
    if !hooks::active() {
        return 0;
    }
    // SAFETY: `out` is null or live during the call, per the contract.
    let ifindex = unsafe { out.as_ref() }.map_or(0, |d| d.ifindex as u32);
    // SAFETY: the core passes the packet's full socket, alive with it.
    let stamps = unsafe { Stamps::of(sk) };
    // IPv4 only: an IPv6 source does not fit in the word beside the version.
    let v4 = (family as u32 == bindings::AF_INET).then(|| {
        // SAFETY: an IPv4 packet, whose header holds 4 bytes of source.
        unsafe {
            core::ptr::addr_of!(
                (*bindings::ip_hdr(skb))
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .saddr
            )
            .read_unaligned()
        }
    });
    // Before the snapshot is read: a verdict is remembered under a version
    // no newer than the policy it was taken from.
    let version = stamp::version();
    let (family, src) = match v4 {
        // The header's source, in network order.
        Some(a) => (Family::V4, u128::from(u32::from_be(a))),
        None => {
            // SAFETY: not IPv4, so an IPv6 packet, per the contract.
            let p = unsafe {
                core::ptr::addr_of!(
                    (*bindings::ipv6_hdr(skb))
                        .__bindgen_anon_1
                        .__bindgen_anon_1
                        .saddr
                )
            };
            // SAFETY: an IPv6 header holds 16 bytes of source.
            let Some(addr) = (unsafe { read_addr(bindings::AF_INET6, p.cast()) }) else {
                return 0;
            };
            addr
        }
    };
    // The uid's tc class, if it passes.
    let mut class = 0;
    // SAFETY: the pernet state exists while the hooks are registered, `net`
    // is alive while its packets are, and the core holds the RCU read lock.
    let (verdict, remember) = unsafe {
        hooks::with_policy(net, (Packet::Accept, true), |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            let verdict = verdict::local_out(&t, who, family, src, ifindex);
            match verdict {
                Packet::Accept => class = hooks::class_of(s, who),
                Packet::Drop(_, c) => hooks::charge(state, s, who, c),
            }
            (verdict, verdict::may_remember(who, class))
        })
    };
    match verdict {
        Packet::Accept => {
            if let Some(src) = v4.filter(|_| remember) {
                stamps.remember(uid, version, src, ifindex);
            }
            if class != 0 {
                // SAFETY: `out` is null or live, and the core holds the RCU
                // read lock that `out->qdisc` needs.
                let root = unsafe { root_handle(out) };
                if let Some(p) = shaping::priority(class, root) {
                    // SAFETY: the core hands us the skb for this call.
                    unsafe { (*skb).__bindgen_anon_4.__bindgen_anon_1.as_mut().priority = p };
                }
            }
            0
        }
        Packet::Drop(e, _) => hooks::neg(e),
    }
}

/// The handle of `dev`'s root qdisc (`0`: no device, or none attached).
///
/// # Safety
///
/// `dev` is NULL or a live device, and the caller holds the RCU read lock.
unsafe fn root_handle(dev: *const bindings::net_device) -> u32 {
    // SAFETY: per the contract; a volatile read as `rcu_dereference` does.
    unsafe {
        dev.as_ref().map_or(0, |d| {
            let q = core::ptr::read_volatile(core::ptr::addr_of!(d.qdisc));
            q.as_ref().map_or(0, |q| q.handle)
        })
    }
}
