// SPDX-License-Identifier: GPL-2.0

//! Reading requests and building replies and dumps of generic netlink
//! (`include/net/genetlink.h`, `include/net/netlink.h`).

use core::fmt::{self, Write};
use kernel::{
    bindings,
    error::{to_result, Error},
    ffi::c_void,
    prelude::*,
};

const NLA_HDRLEN: usize = 4;
const GENL_HDRLEN: usize = 4;
const NLMSG_HDRLEN: usize = 16;

/// Writes attributes into a message we are building.
///
/// # Invariants
///
/// `skb` is a netlink message being built and `hdr` its generic netlink
/// header, both valid for as long as the `Writer` lives.
pub(crate) struct Writer {
    skb: *mut bindings::sk_buff,
    hdr: *mut c_void,
}

impl Writer {
    fn put(&mut self, attr: u32, bytes: &[u8]) -> Result {
        // SAFETY: `self.skb` is valid (type invariant); `bytes` lives across
        // the call, which copies it.
        to_result(unsafe { bindings::nla_put(self.skb, attr as _, bytes.len() as _, bytes.as_ptr().cast()) })
    }

    pub(crate) fn put_u8(&mut self, attr: u32, value: u8) -> Result {
        self.put(attr, &[value])
    }

    pub(crate) fn put_u32(&mut self, attr: u32, value: u32) -> Result {
        self.put(attr, &value.to_ne_bytes())
    }

    pub(crate) fn put_bytes(&mut self, attr: u32, value: &[u8]) -> Result {
        self.put(attr, value)
    }

    /// Puts a u64, aligned with a `pad` attribute where needed.
    pub(crate) fn put_u64(&mut self, attr: u32, value: u64, pad: u32) -> Result {
        let value = value.to_ne_bytes();
        // SAFETY: as in `put`.
        to_result(unsafe {
            bindings::nla_put_64bit(self.skb, attr as _, value.len() as _, value.as_ptr().cast(), pad as _)
        })
    }

    /// Puts `value` as an NLA_NUL_STRING.
    pub(crate) fn put_cstr(&mut self, attr: u32, value: &CStr) -> Result {
        self.put(attr, value.as_bytes_with_nul())
    }

    /// Puts a nest of `attr` holding what `fill` writes; on an error nothing
    /// of it stays in the message.
    pub(crate) fn nest(&mut self, attr: u32, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: `self.skb` is valid (type invariant).
        let start = unsafe { bindings::nla_nest_start(self.skb, attr as _) };
        if start.is_null() {
            return Err(emsgsize());
        }
        match fill(self) {
            // SAFETY: `start` was opened above in this message.
            Ok(()) => to_result(unsafe { bindings::nla_nest_end(self.skb, start) }),
            Err(e) => {
                // SAFETY: as above.
                unsafe { bindings::nla_nest_cancel(self.skb, start) };
                Err(e)
            }
        }
    }
}

/// A reply to a doit request; dropped unsent, it is freed.
pub(crate) struct Reply(Writer);

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
        // SAFETY: doit runs in process context, so GFP_KERNEL may sleep.
        let skb = unsafe { bindings::genlmsg_new(payload, bindings::GFP_KERNEL) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `skb` is the fresh message; `info` and `family` are valid
        // per the contract.
        let hdr = unsafe { bindings::genlmsg_put(skb, (*info).snd_portid, (*info).snd_seq, family, 0, cmd as u8) };
        if hdr.is_null() {
            // SAFETY: `skb` is ours and not passed on.
            unsafe { bindings::nlmsg_free(skb) };
            return Err(emsgsize());
        }
        Ok(Reply(Writer { skb, hdr }))
    }

    pub(crate) fn writer(&mut self) -> &mut Writer {
        &mut self.0
    }

    /// Finishes the message and sends it to the requester.
    ///
    /// # Safety
    ///
    /// `info` must be the request this reply was created for.
    pub(crate) unsafe fn send(self, info: *mut bindings::genl_info) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the writer's invariant holds; `genlmsg_reply` consumes the
        // message whether it succeeds or not, hence `ManuallyDrop`.
        unsafe {
            bindings::genlmsg_end(this.0.skb, this.0.hdr);
            to_result(bindings::genlmsg_reply(this.0.skb, info))
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // SAFETY: the message is ours and was never sent.
        unsafe { bindings::nlmsg_free(self.0.skb) };
    }
}

/// One message of a dump, in the skb the netlink core gave to dumpit.
pub(crate) struct DumpMsg(Writer);

impl DumpMsg {
    /// Starts a message; `None` if not even the header fits.
    ///
    /// # Safety
    ///
    /// `skb` and `cb` must be those of a running dumpit of `family`.
    pub(crate) unsafe fn new(
        skb: *mut bindings::sk_buff,
        cb: *mut bindings::netlink_callback,
        family: *const bindings::genl_family,
        cmd: u32,
    ) -> Option<Self> {
        // SAFETY: per the contract `cb`, its request skb and header are
        // valid; NETLINK_CB is the start of the request's `cb` area.
        let (portid, seq) = unsafe {
            let parms = (*(*cb).skb).cb.as_ptr().cast::<bindings::netlink_skb_parms>();
            ((*parms).portid, (*(*cb).nlh).nlmsg_seq)
        };
        // SAFETY: `skb` is the dump's message buffer.
        let hdr = unsafe { bindings::genlmsg_put(skb, portid, seq, family, bindings::NLM_F_MULTI as _, cmd as u8) };
        // SAFETY: `hdr` is the header just written; this flags the message if
        // `cb->seq` changed since the previous one.
        (!hdr.is_null()).then(|| unsafe {
            bindings::genl_dump_check_consistent(cb, hdr);
            DumpMsg(Writer { skb, hdr })
        })
    }

    pub(crate) fn writer(&mut self) -> &mut Writer {
        &mut self.0
    }

    pub(crate) fn end(self) {
        // SAFETY: the writer's invariant holds.
        unsafe { bindings::genlmsg_end(self.0.skb, self.0.hdr) };
    }

    pub(crate) fn cancel(self) {
        // SAFETY: the writer's invariant holds.
        unsafe { bindings::genlmsg_cancel(self.0.skb, self.0.hdr) };
    }
}

/// One attribute of a message the netlink core has validated.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    pub(crate) kind: u16,
    pub(crate) payload: &'a [u8],
    raw: *const bindings::nlattr,
}

impl<'a> Attr<'a> {
    pub(crate) fn u8(&self) -> Result<u8> {
        Ok(u8::from_ne_bytes(self.payload.try_into().map_err(|_| EINVAL)?))
    }
    pub(crate) fn u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(self.payload.try_into().map_err(|_| EINVAL)?))
    }
    /// The attributes nested in this one.
    pub(crate) fn nested(&self) -> Attrs<'a> {
        Attrs(self.payload)
    }
}

/// The attributes in a buffer, in order.
pub(crate) struct Attrs<'a>(&'a [u8]);

impl<'a> Attrs<'a> {
    /// The top-level attributes of a doit request.
    ///
    /// # Safety
    ///
    /// `info` must be a running doit's request, which outlives `'a`.
    pub(crate) unsafe fn of_request(info: *const bindings::genl_info) -> Self {
        // SAFETY: the core checked that the message holds its headers; the
        // attributes follow the genl header (the family has no user header).
        unsafe {
            let len = ((*(*info).nlhdr).nlmsg_len as usize).saturating_sub(NLMSG_HDRLEN + GENL_HDRLEN);
            let data = (*info).genlhdr.cast::<u8>().add(GENL_HDRLEN);
            Attrs(core::slice::from_raw_parts(data, len))
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let [l0, l1, t0, t1]: [u8; NLA_HDRLEN] = self.0.get(..NLA_HDRLEN)?.try_into().ok()?;
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let kind = u16::from_ne_bytes([t0, t1]) & bindings::NLA_TYPE_MASK as u16;
        let payload = self.0.get(NLA_HDRLEN..len)?;
        let raw = self.0.as_ptr().cast();
        self.0 = self.0.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some(Attr { kind, payload, raw })
    }
}

/// Sets the extack message of a refused request (NL_SET_ERR_MSG_FMT), and
/// the attribute it is about, if any.
///
/// # Safety
///
/// `extack` must be null or the extack of a running request.
pub(crate) unsafe fn set_err(extack: *mut bindings::netlink_ext_ack, attr: Option<&Attr<'_>>, msg: fmt::Arguments<'_>) {
    // SAFETY: per the contract, a non-null `extack` is ours to write while
    // the request runs.
    let Some(ack) = (unsafe { extack.as_mut() }) else {
        return;
    };
    let mut buf = MsgBuf { buf: &mut ack._msg_buf, len: 0 };
    // Truncation is fine: `MsgBuf` never fails.
    let _ = buf.write_fmt(msg);
    let end = buf.len;
    if let Some(nul) = ack._msg_buf.get_mut(end) {
        *nul = 0;
    }
    ack._msg = ack._msg_buf.as_ptr();
    if let Some(a) = attr {
        ack.bad_attr = a.raw;
    }
}

struct MsgBuf<'a> {
    buf: &'a mut [kernel::ffi::c_char],
    len: usize,
}

impl Write for MsgBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Keep the last byte for the NUL.
            if self.len + 1 < self.buf.len() {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b as _;
                    self.len += 1;
                }
            }
        }
        Ok(())
    }
}

fn emsgsize() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as i32))
}
