// SPDX-License-Identifier: GPL-2.0

//! The catch-all at LOCAL_OUT (`include/linux/netfilter.h`): whatever the
//! socket hooks did not see (raw IP_HDRINCL headers, routes cached before a
//! policy change), a packet from a managed uid's socket leaves only from
//! that uid's address and through its interfaces, and one from another
//! non-root uid's socket never from a managed uid's address. Anything else
//! is dropped, counted, and the sender gets EPERM.

use crate::{
    cstatic::CStatic,
    hooks::{self, read_addr},
    netns,
    store::Counters,
};
use core::ffi::c_void;
use kernel::{bindings, error::to_result, ffi::c_uint, prelude::*};

static OPS: CStatic<[bindings::nf_hook_ops; 2]> = CStatic::uninit();

/// `NF_DROP_ERR(-EPERM)`: drop, and let the sender's call fail with EPERM.
const DROP_EPERM: c_uint = (bindings::EPERM << 16) | bindings::NF_DROP;

/// Fills the hook descriptions; called once before any namespace uses them.
pub(crate) fn init() {
    let ops = |pf: u32, priority: i32| {
        let mut o = bindings::nf_hook_ops::default();
        o.hook = Some(local_out);
        o.pf = pf as u8;
        o.hooknum = bindings::nf_inet_hooks_NF_INET_LOCAL_OUT;
        // Just after the filter table: an admin's own rules come first.
        o.priority = priority + 1;
        o
    };
    let all = [
        ops(bindings::NFPROTO_IPV4, bindings::nf_ip_hook_priorities_NF_IP_PRI_FILTER),
        ops(bindings::NFPROTO_IPV6, bindings::nf_ip6_hook_priorities_NF_IP6_PRI_FILTER),
    ];
    // SAFETY: module init runs this before the pernet registration, so no
    // namespace has registered `OPS` yet and nothing reads it.
    unsafe { OPS.get().write(all) };
}

/// Registers the hooks in `net` (pernet init).
///
/// # Safety
///
/// `net` must be a namespace being initialised, after [`init`].
pub(crate) unsafe fn register(net: *mut bindings::net) -> Result {
    // SAFETY: `OPS` is static and filled; the kernel keeps a reference per
    // namespace until `unregister`.
    to_result(unsafe { bindings::nf_register_net_hooks(net, OPS.get().cast(), 2) })
}

/// Unregisters the hooks from `net` (pernet exit).
///
/// # Safety
///
/// `register` must have succeeded for `net`.
pub(crate) unsafe fn unregister(net: *mut bindings::net) {
    // SAFETY: registered for `net`, per the contract.
    unsafe { bindings::nf_unregister_net_hooks(net, OPS.get().cast(), 2) };
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
    if !hooks::active() {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: netfilter passes a valid skb and hook state; a request socket
    // leads to its listener, and `sk_uid` is read only from a full socket.
    let (uid, net, pf, out, saddr) = unsafe {
        let sk = (*skb).sk;
        if sk.is_null() {
            return bindings::NF_ACCEPT;
        }
        let sk = bindings::sk_to_full_sk(sk);
        if sk.is_null() || !bindings::sk_fullsock(sk) {
            return bindings::NF_ACCEPT;
        }
        let uid = (*sk).sk_uid.val;
        if uid == 0 {
            return bindings::NF_ACCEPT;
        }
        let st = &*state;
        let out = st.out.as_ref().map_or(0, |d| d.ifindex as u32);
        let saddr: *const c_void = if u32::from(st.pf) == bindings::NFPROTO_IPV4 {
            core::ptr::addr_of!((*bindings::ip_hdr(skb)).__bindgen_anon_1.__bindgen_anon_1.saddr).cast()
        } else {
            core::ptr::addr_of!((*bindings::ipv6_hdr(skb)).__bindgen_anon_1.__bindgen_anon_1.saddr).cast()
        };
        (uid, st.net, u32::from(st.pf), out, saddr)
    };
    let family = if pf == bindings::NFPROTO_IPV4 { bindings::AF_INET } else { bindings::AF_INET6 };
    // SAFETY: the network header holds the source address of its family.
    let Some((family, src)) = (unsafe { read_addr(family, saddr) }) else {
        return bindings::NF_ACCEPT;
    };
    // SAFETY: the hook is registered in `net` only while the pernet state
    // exists, and `net` is alive while its packets are.
    let state = unsafe { netns::state(net) };
    state.store.read(|s| {
        let Some(s) = s else {
            return bindings::NF_ACCEPT;
        };
        let holder = s.owner(family, src);
        let counter = match s.managed(uid) {
            Some(m) if holder == Some(uid) && s.interface_allowed(m, out) => return bindings::NF_ACCEPT,
            Some(m) => &m.counters.packets_dropped,
            None if holder.is_none() => return bindings::NF_ACCEPT,
            None => &state.others.packets_dropped,
        };
        Counters::bump(counter);
        DROP_EPERM
    })
}
