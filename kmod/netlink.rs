// SPDX-License-Identifier: GPL-2.0

//! Building generic netlink replies (`include/net/genetlink.h`,
//! `include/net/netlink.h`).

use kernel::{
    bindings,
    error::{to_result, Error},
    ffi::c_void,
    prelude::*,
};

/// A reply message being built; dropped unsent, it is freed.
///
/// # Invariants
///
/// `skb` is a netlink message we own and `hdr` its generic netlink header.
pub(crate) struct Reply {
    skb: *mut bindings::sk_buff,
    hdr: *mut c_void,
}

impl Reply {
    /// Starts a reply to `info` with room for `payload` bytes of attributes.
    ///
    /// # Safety
    ///
    /// `info` must be the request of a running doit of `family`, which must
    /// be registered.
    pub(crate) unsafe fn new(
        info: *const bindings::genl_info,
        family: *const bindings::genl_family,
        cmd: u32,
        payload: usize,
    ) -> Result<Self> {
        let cmd = u8::try_from(cmd).map_err(|_| EINVAL)?;
        // SAFETY: allocating a message has no preconditions; doit runs in
        // process context, so GFP_KERNEL may sleep.
        let skb = unsafe { bindings::genlmsg_new(payload, bindings::GFP_KERNEL) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `skb` is the fresh message; `info` and `family` are valid
        // per the contract.
        let hdr = unsafe {
            bindings::genlmsg_put(skb, (*info).snd_portid, (*info).snd_seq, family, 0, cmd)
        };
        if hdr.is_null() {
            // SAFETY: `skb` is ours and not passed on.
            unsafe { bindings::nlmsg_free(skb) };
            return Err(emsgsize());
        }
        Ok(Reply { skb, hdr })
    }

    pub(crate) fn put_u64(&mut self, attr: u32, value: u64, pad: u32) -> Result {
        let value = value.to_ne_bytes();
        // SAFETY: `self.skb` is ours (type invariant); `value` lives across
        // the call, which copies it.
        to_result(unsafe {
            bindings::nla_put_64bit(
                self.skb,
                attr as _,
                value.len() as _,
                value.as_ptr().cast(),
                pad as _,
            )
        })
    }

    /// Puts `value` as an NLA_NUL_STRING.
    pub(crate) fn put_cstr(&mut self, attr: u32, value: &CStr) -> Result {
        let bytes = value.as_bytes_with_nul();
        // SAFETY: as in `put_u64`.
        to_result(unsafe {
            bindings::nla_put(self.skb, attr as _, bytes.len() as _, bytes.as_ptr().cast())
        })
    }

    /// Finishes the message and sends it to the requester.
    ///
    /// # Safety
    ///
    /// `info` must be the request this reply was created for.
    pub(crate) unsafe fn send(self, info: *mut bindings::genl_info) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the type invariant holds; `genlmsg_reply` consumes the
        // message whether it succeeds or not, hence `ManuallyDrop`.
        unsafe {
            bindings::genlmsg_end(this.skb, this.hdr);
            to_result(bindings::genlmsg_reply(this.skb, info))
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // SAFETY: the message is ours (type invariant) and was never sent.
        unsafe { bindings::nlmsg_free(self.skb) };
    }
}

fn emsgsize() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as i32))
}
