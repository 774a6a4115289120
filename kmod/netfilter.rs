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

/// The full socket that sends a packet, as `sk_to_full_sk()` and
/// `sk_fullsock()` find it: a request socket's listener, none for a
/// TIME_WAIT one. The common case, a full socket, costs one load instead of
/// the two C helpers' calls.
///
/// # Safety
///
/// `sk` must be a live socket (of any kind).
#[inline]
unsafe fn sending_socket(sk: *mut bindings::sock) -> Option<*mut bindings::sock> {
    // SAFETY: a live socket, per the contract; the state is read once, as
    // the C helpers do.
    let state =
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*sk).__sk_common.skc_state)) };
    match u32::from(state) {
        bindings::TCP_NEW_SYN_RECV => {
            // SAFETY: a live request socket leads to its listener.
            let sk = unsafe { bindings::sk_to_full_sk(sk) };
            // SAFETY: the listener is live while its request is.
            (!sk.is_null() && unsafe { bindings::sk_fullsock(sk) }).then_some(sk)
        }
        bindings::TCP_TIME_WAIT => None,
        _ => Some(sk),
    }
}

/// The LOCAL_OUT hook: a packet whose socket remembers its source and
/// device passes here on two compares; anything else asks the policy in
/// [`local_out_policy`].
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
    // SAFETY: netfilter passes a valid hook state.
    let st = unsafe { &*state };
    // The socket that sends this IP packet, not `skb->sk`: a tunnel (GRE,
    // ip6ip6) sends its outer packet with no socket while the skb still
    // belongs to the user's socket, and the outer packet's source and
    // device are the tunnel's, not the user's.
    if st.sk.is_null() {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: the hook state's socket is live while its packet is.
    let Some(sk) = (unsafe { sending_socket(st.sk) }) else {
        return bindings::NF_ACCEPT;
    };
    // SAFETY: a full socket, so `sk_uid` is there.
    let uid = unsafe { (*sk).sk_uid.val };
    if verdict::exempt(uid) {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: the hook state's device lives at least as long as this call.
    let out = unsafe { st.out.as_ref() }.map_or(0, |d| d.ifindex as u32);
    // SAFETY: `sk` is the full socket above, alive while its packet is.
    let stamps = unsafe { Stamps::of(sk) };
    // IPv4 only: an IPv6 source does not fit in the word beside the version.
    let v4 = (u32::from(st.pf) == bindings::NFPROTO_IPV4).then(|| {
        // SAFETY: netfilter passes an IPv4 packet at an IPv4 hook.
        unsafe { ipv4_source(skb) }
    });
    if v4.is_some_and(|src| stamps.hold(src, out)) {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: as above; `sk` is a full socket of `uid`.
    unsafe { local_out_policy(skb, st, &stamps, uid, out, v4) }
}

/// The source of IPv4 packet `skb`, in network order: `ip_hdr()`'s
/// arithmetic, which a call to its helper for every packet would double.
///
/// # Safety
///
/// `skb` is a live packet whose network header is an IPv4 one.
#[inline]
unsafe fn ipv4_source(skb: *const bindings::sk_buff) -> u32 {
    // SAFETY: per the contract the network header lies in the buffer at
    // `head`, and holds 4 bytes of source.
    unsafe {
        let skb = &*skb;
        let at = skb
            .__bindgen_anon_4
            .__bindgen_anon_1
            .as_ref()
            .network_header;
        let iph = skb.head.add(usize::from(at)).cast::<bindings::iphdr>();
        core::ptr::addr_of!((*iph).__bindgen_anon_1.__bindgen_anon_1.saddr).read_unaligned()
    }
}

/// LOCAL_OUT, what the socket does not remember: `verdict::local_out` of
/// the packet's source and device, remembered when it passes; the uid's tc
/// class in `skb->priority`.
///
/// # Safety
///
/// As [`local_out`]; `stamps` are those of the packet's full socket, owned
/// by `uid`, and `v4` is the source of an IPv4 packet.
#[inline(never)]
unsafe fn local_out_policy(
    skb: *mut bindings::sk_buff,
    st: &bindings::nf_hook_state,
    stamps: &Stamps,
    uid: u32,
    out: u32,
    v4: Option<u32>,
) -> c_uint {
    // Before the snapshot is read: a verdict is remembered under a version
    // no newer than the policy it was taken from.
    let version = stamp::version();
    let (family, src) = match v4 {
        // The source as the fast path read it, in network order.
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
