// SPDX-License-Identifier: GPL-2.0

//! The catch-all at LOCAL_OUT (`include/linux/netfilter.h`): whatever the
//! socket hooks did not see (raw IP_HDRINCL headers, routes cached before a
//! policy change), a packet from a managed uid's socket leaves only from
//! that uid's address and through its interfaces, and one from another
//! non-root uid's socket never from a managed uid's address (the rule is
//! `policy::verdict::local_out`). Anything else is dropped, counted, and the
//! sender gets EPERM.
//!
//! A socket remembers the IPv4 source and the device of its last accepted
//! packet or allowed route (`stamp`) until the policy changes, so that its
//! packets from that source through that device cost two compares instead
//! of the policy's lookups.
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
    },
    stamp::Stamps,
    store,
};
use core::ffi::c_void;
use kernel::{bindings, error::to_result, ffi::c_uint, prelude::*};

/// The hook at LOCAL_OUT of `pf`, just after the filter table's
/// `priority`: an admin's own rules come first.
const fn hook(pf: u32, priority: i32) -> bindings::nf_hook_ops {
    bindings::nf_hook_ops {
        hook: Some(local_out),
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

/// The LOCAL_OUT hook.
///
/// # Safety
///
/// Called by netfilter only, with a valid packet and state, under RCU.
unsafe extern "C" fn local_out(
    _priv: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    if crate::NOOP_LOCAL_OUT_EMPTY || !hooks::active() {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: netfilter passes a valid skb and hook state; a request socket
    // leads to its listener, and `sk_uid` is read only from a full socket.
    let (uid, net, pf, dev, saddr, sk) = unsafe {
        // The socket that sends this IP packet, not `skb->sk`: a tunnel
        // (GRE, ip6ip6) sends its outer packet with no socket while the skb
        // still belongs to the user's socket, and the outer packet's source
        // and device are the tunnel's, not the user's.
        let sk = (*state).sk;
        if sk.is_null() {
            return bindings::NF_ACCEPT;
        }
        let sk = bindings::sk_to_full_sk(sk);
        if sk.is_null() || !bindings::sk_fullsock(sk) {
            return bindings::NF_ACCEPT;
        }
        let uid = (*sk).sk_uid.val;
        if verdict::exempt(uid) {
            return bindings::NF_ACCEPT;
        }
        let st = &*state;
        let dev: *const bindings::net_device = st.out;
        let saddr: *const c_void = if u32::from(st.pf) == bindings::NFPROTO_IPV4 {
            core::ptr::addr_of!(
                (*bindings::ip_hdr(skb))
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .saddr
            )
            .cast()
        } else {
            core::ptr::addr_of!(
                (*bindings::ipv6_hdr(skb))
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .saddr
            )
            .cast()
        };
        (uid, st.net, u32::from(st.pf), dev, saddr, sk)
    };
    // Before the snapshot is read: a verdict is remembered under a version
    // no newer than the policy it was taken from.
    let version = store::version();
    // SAFETY: the hook state's device lives at least as long as this call.
    let out = unsafe { dev.as_ref() }.map_or(0, |d| d.ifindex as u32);
    // SAFETY: `sk` is the full socket above, alive while its packet is.
    let stamps = unsafe { Stamps::of(sk) };
    // IPv4 only: an IPv6 source does not fit in the word beside the version.
    let v4 = (pf == bindings::NFPROTO_IPV4).then(|| {
        // SAFETY: an IPv4 header holds 4 bytes of source at `saddr`.
        unsafe { saddr.cast::<u32>().read_unaligned() }
    });
    if v4.is_some_and(|src| stamps.hold(version, src, out)) {
        return bindings::NF_ACCEPT;
    }
    let family = if pf == bindings::NFPROTO_IPV4 {
        bindings::AF_INET
    } else {
        bindings::AF_INET6
    };
    // SAFETY: the network header holds the source address of its family.
    let Some((family, src)) = (unsafe { read_addr(family, saddr) }) else {
        return bindings::NF_ACCEPT;
    };
    // The uid's tc class, if it passes.
    let mut class = 0;
    // SAFETY: the hook is registered in `net` only while the pernet state
    // exists, and `net` is alive while its packets are.
    let verdict = unsafe {
        hooks::with_policy(net, bindings::NF_ACCEPT, |state, s| {
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
