// SPDX-License-Identifier: GPL-2.0

//! The catch-all at LOCAL_OUT (`include/linux/netfilter.h`): whatever the
//! socket hooks did not see (raw IP_HDRINCL headers, routes cached before a
//! policy change), a packet from a managed uid's socket leaves only from
//! that uid's address and through its interfaces, and one from another
//! non-root uid's socket never from a managed uid's address (the rule is
//! `policy::verdict::local_out`). Anything else is dropped, counted, and the
//! sender gets EPERM.
//!
//! The hook itself is the core's `uoa_nf_local_out()` (patch 21): it finds
//! the sending socket and passes, on two compares, a packet whose IPv4
//! source and device the socket remembers (`stamp`); it calls
//! [`local_out`] for the rest of a non-root owner's packets.
//!
//! A managed uid's packet that passes gets the uid's tc class in
//! `skb->priority` when its device's root qdisc is UOA's HTB
//! (`policy::shaping::priority`): HTB then classifies it without a filter.

use crate::{
    cstatic::CConst,
    hooks::{self, read_addr},
    policy::{
        shaping,
        verdict::{self, Packet},
        Family,
    },
    stamp::{self, Stamps},
};
use core::ffi::c_void;
use kernel::{bindings, error::to_result, ffi::c_uint, prelude::*};

/// The hook at LOCAL_OUT of `pf`, just after the filter table's
/// `priority`: an admin's own rules come first.
const fn hook(pf: u32, priority: i32) -> bindings::nf_hook_ops {
    bindings::nf_hook_ops {
        hook: if crate::NOOP_LOCAL_OUT_EMPTY {
            Some(accept)
        } else {
            Some(bindings::uoa_nf_local_out)
        },
        pf: pf as u8,
        hooknum: bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
        priority: priority + 1,
        // SAFETY: all-zero is a valid `nf_hook_ops` (an unlinked list head,
        // no device, no private data, NF_HOOK_OP_UNDEFINED).
        ..unsafe { core::mem::zeroed() }
    }
}

/// The hooks; netfilter only reads them (it copies what it needs per
/// namespace).
static OPS: CConst<[bindings::nf_hook_ops; 2]> = CConst([
    hook(
        bindings::NFPROTO_IPV4,
        bindings::nf_ip_hook_priorities_NF_IP_PRI_FILTER,
    ),
    hook(
        bindings::NFPROTO_IPV6,
        bindings::nf_ip6_hook_priorities_NF_IP6_PRI_FILTER,
    ),
]);

/// Registers the hooks in `net` (with its first entry).
///
/// # Safety
///
/// `net` must be a live namespace where they are not registered.
pub(crate) unsafe fn register(net: *mut bindings::net) -> Result {
    // SAFETY: `OPS` is static; the kernel keeps a reference per namespace
    // until `unregister`.
    to_result(unsafe { bindings::nf_register_net_hooks(net, OPS.as_ptr().cast(), 2) })
}

/// Unregisters the hooks from `net` (pernet exit, if it had entries).
///
/// # Safety
///
/// `register` must have succeeded for `net`.
pub(crate) unsafe fn unregister(net: *mut bindings::net) {
    // SAFETY: registered for `net`, per the contract.
    unsafe { bindings::nf_unregister_net_hooks(net, OPS.as_ptr().cast(), 2) };
}

/// The hook of a benchmark build (`UOA_KMOD_NOOP=local_out_empty`):
/// netfilter's call alone.
unsafe extern "C" fn accept(
    _priv: *mut c_void,
    _skb: *mut bindings::sk_buff,
    _state: *const bindings::nf_hook_state,
) -> c_uint {
    bindings::NF_ACCEPT
}

/// LOCAL_OUT, what the socket `sk` does not remember:
/// `verdict::local_out` of the packet's source and device, remembered when
/// it passes; the uid's tc class in `skb->priority`.
///
/// # Safety
///
/// Called by the core's hook only, under RCU, with netfilter's valid
/// packet and state and the packet's full socket `sk`, owned by `uid`.
pub(crate) unsafe extern "C" fn local_out(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
    sk: *mut bindings::sock,
    uid: u32,
) -> c_uint {
    if !hooks::active() {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: netfilter passes a valid hook state.
    let st = unsafe { &*state };
    // SAFETY: the hook state's device lives at least as long as this call.
    let out = unsafe { st.out.as_ref() }.map_or(0, |d| d.ifindex as u32);
    // SAFETY: the core passes the packet's full socket, alive with it.
    let stamps = unsafe { Stamps::of(sk) };
    // IPv4 only: an IPv6 source does not fit in the word beside the version.
    let v4 = (u32::from(st.pf) == bindings::NFPROTO_IPV4).then(|| {
        // SAFETY: netfilter passes an IPv4 packet at an IPv4 hook, whose
        // header holds 4 bytes of source.
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
            // SAFETY: netfilter passes an IPv6 packet at the IPv6 hook.
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
                return bindings::NF_ACCEPT;
            };
            addr
        }
    };
    let dev: *const bindings::net_device = st.out;
    // The uid's tc class, if it passes.
    let mut class = 0;
    // SAFETY: the hook is registered in `net` only while the pernet state
    // exists, and `net` is alive while its packets are.
    let verdict = unsafe {
        hooks::with_policy(st.net, bindings::NF_ACCEPT, |state, s| {
            let t = s.tables();
            let who = t.subject(uid);
            match verdict::local_out(&t, who, family, src, out) {
                Packet::Accept => {
                    class = hooks::class_of(s, who);
                    if let Some(src) = v4.filter(|_| verdict::may_remember(who, class)) {
                        stamps.remember(uid, version, src, out);
                    }
                    bindings::NF_ACCEPT
                }
                Packet::Drop(e, c) => {
                    hooks::charge(state, s, who, c);
                    // NF_DROP_ERR(-e): drop, and fail the sender's call with e.
                    ((e.get() as c_uint) << 16) | bindings::NF_DROP
                }
            }
        })
    };
    if class != 0 {
        // SAFETY: `dev` is the hook state's, and netfilter holds the RCU
        // read lock that `dev->qdisc` needs.
        let root = unsafe { root_handle(dev) };
        if let Some(p) = shaping::priority(class, root) {
            // SAFETY: netfilter hands us the skb for this call.
            unsafe { (*skb).__bindgen_anon_4.__bindgen_anon_1.as_mut().priority = p };
        }
    }
    verdict
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
