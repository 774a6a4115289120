// SPDX-License-Identifier: GPL-2.0

//! Generic netlink, typed (`include/net/genetlink.h`, `include/net/netlink.h`):
//! a doit's [`Request`] and a dumpit's [`Dump`] wrap `genl_info` and
//! `netlink_callback` once, attributes are read as [`Attr`] (validated by the
//! command's policy, nests parsed with theirs), and replies are built with a
//! [`Writer`]. The family's handlers need no `unsafe` of their own beyond
//! taking the raw arguments.

use core::fmt::{self, Write};
use core::marker::PhantomData;
use kernel::{
    bindings,
    error::{to_result, Error},
    ffi::{c_int, c_void},
    prelude::*,
};

const NLA_HDRLEN: usize = 4;
const GENL_HDRLEN: usize = 4;
const NLMSG_HDRLEN: usize = 16;
/// `NL_VALIDATE_STRICT`, a macro bindgen cannot see.
const NL_VALIDATE_STRICT: u32 = bindings::netlink_validation_NL_VALIDATE_TRAILING
    | bindings::netlink_validation_NL_VALIDATE_MAXTYPE
    | bindings::netlink_validation_NL_VALIDATE_UNSPEC
    | bindings::netlink_validation_NL_VALIDATE_STRICT_ATTRS
    | bindings::netlink_validation_NL_VALIDATE_NESTED;

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
        to_result(unsafe {
            bindings::nla_put(self.skb, attr as _, bytes.len() as _, bytes.as_ptr().cast())
        })
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
    unsafe fn new(
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
        let hdr = unsafe {
            bindings::genlmsg_put(
                skb,
                (*info).snd_portid,
                (*info).snd_seq,
                family,
                0,
                cmd as u8,
            )
        };
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
    unsafe fn send(self, info: *mut bindings::genl_info) -> Result {
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
    unsafe fn new(
        skb: *mut bindings::sk_buff,
        cb: *mut bindings::netlink_callback,
        family: *const bindings::genl_family,
        cmd: u32,
    ) -> Option<Self> {
        // SAFETY: per the contract `cb`, its request skb and header are
        // valid; NETLINK_CB is the start of the request's `cb` area.
        let (portid, seq) = unsafe {
            let parms = (*(*cb).skb)
                .cb
                .as_ptr()
                .cast::<bindings::netlink_skb_parms>();
            ((*parms).portid, (*(*cb).nlh).nlmsg_seq)
        };
        // SAFETY: `skb` is the dump's message buffer.
        let hdr = unsafe {
            bindings::genlmsg_put(
                skb,
                portid,
                seq,
                family,
                bindings::NLM_F_MULTI as _,
                cmd as u8,
            )
        };
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

/// One attribute of a message the netlink core has validated against the
/// command's policy, so its payload has the size the policy says.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    kind: u16,
    payload: &'a [u8],
    raw: *const bindings::nlattr,
}

impl<'a> Attr<'a> {
    /// An attribute of the message the core parsed into a table.
    ///
    /// # Safety
    ///
    /// `nla` must be null or a validated attribute that outlives `'a`.
    unsafe fn from_raw(nla: *const bindings::nlattr) -> Option<Self> {
        // SAFETY: per the contract.
        let hdr = unsafe { nla.as_ref() }?;
        let len = usize::from(hdr.nla_len).checked_sub(NLA_HDRLEN)?;
        // SAFETY: a validated attribute holds `nla_len` bytes, its payload
        // right after the header.
        let payload = unsafe { core::slice::from_raw_parts(nla.cast::<u8>().add(NLA_HDRLEN), len) };
        Some(Attr {
            kind: hdr.nla_type & bindings::NLA_TYPE_MASK as u16,
            payload,
            raw: nla,
        })
    }

    pub(crate) fn kind(&self) -> u32 {
        u32::from(self.kind)
    }
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.payload
    }
    pub(crate) fn u8(&self) -> Result<u8> {
        Ok(u8::from_ne_bytes(
            self.payload.try_into().map_err(|_| EINVAL)?,
        ))
    }
    pub(crate) fn u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(
            self.payload.try_into().map_err(|_| EINVAL)?,
        ))
    }

    /// The attributes nested in this one, parsed with `policy` (whose
    /// length is the nest's maximum type + 1) into a table.
    pub(crate) fn nested<const N: usize>(
        &self,
        policy: &'static [bindings::nla_policy; N],
        extack: Extack,
    ) -> Result<Table<'a, N>> {
        let mut tb = [core::ptr::null_mut(); N];
        let max = N.checked_sub(1).ok_or(EINVAL)?;
        // SAFETY: `tb` has room for `max + 1` pointers; the payload is a
        // run of attributes that lives for `'a`; the policy is static.
        to_result(unsafe {
            bindings::__nla_parse(
                tb.as_mut_ptr(),
                max as _,
                self.payload.as_ptr().cast(),
                self.payload.len() as _,
                policy.as_ptr(),
                NL_VALIDATE_STRICT as _,
                extack.0,
            )
        })?;
        Ok(Table {
            tb,
            _msg: PhantomData,
        })
    }
}

/// Attributes parsed into a table by type.
pub(crate) struct Table<'a, const N: usize> {
    tb: [*mut bindings::nlattr; N],
    _msg: PhantomData<&'a [u8]>,
}

impl<'a, const N: usize> Table<'a, N> {
    pub(crate) fn attr(&self, kind: u32) -> Option<Attr<'a>> {
        let nla = *self.tb.get(kind as usize)?;
        // SAFETY: `__nla_parse` filled the table with null or validated
        // attributes of the message, which lives for `'a`.
        unsafe { Attr::from_raw(nla) }
    }
}

/// The attributes in a buffer, in order.
pub(crate) struct Attrs<'a>(&'a [u8]);

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

/// A request's extended ack, where refusals say why.
#[derive(Clone, Copy)]
pub(crate) struct Extack(*mut bindings::netlink_ext_ack);

impl Extack {
    /// # Safety
    ///
    /// `extack` must be null or the extack of a running request.
    pub(crate) unsafe fn from_raw(extack: *mut bindings::netlink_ext_ack) -> Self {
        Extack(extack)
    }

    /// Sets the message (NL_SET_ERR_MSG_FMT) and the attribute it is about.
    pub(crate) fn say(self, attr: Option<&Attr<'_>>, msg: fmt::Arguments<'_>) {
        // SAFETY: an `Extack` is only made from a running request's, or null.
        unsafe { set_err(self.0, attr, msg) };
    }

    /// Sets the message (NL_SET_ERR_MSG_FMT) and the attribute it is about,
    /// and returns `e` for the caller to fail with.
    pub(crate) fn refuse(
        self,
        attr: Option<&Attr<'_>>,
        e: Error,
        msg: fmt::Arguments<'_>,
    ) -> Error {
        self.say(attr, msg);
        e
    }
}

/// Whether the sender of `skb` has `CAP_NET_ADMIN` over `net`.
///
/// # Safety
///
/// `skb` must be a netlink request and `net` a live namespace.
unsafe fn net_admin(skb: *const bindings::sk_buff, net: *const bindings::net) -> bool {
    // SAFETY: per the contract; `net->user_ns` lives as long as `net`.
    unsafe { bindings::netlink_ns_capable(skb, (*net).user_ns, bindings::CAP_NET_ADMIN as _) }
}

/// A running doit request of a generic netlink family.
///
/// # Invariants
///
/// `skb` and `info` are the request's and valid for `'a`; `info.attrs` is
/// null or holds `maxattr + 1` parsed attributes.
pub(crate) struct Request<'a> {
    skb: *mut bindings::sk_buff,
    info: &'a bindings::genl_info,
    maxattr: u32,
}

impl<'a> Request<'a> {
    /// # Safety
    ///
    /// `skb` and `info` must be those genetlink passed to a doit, and
    /// `maxattr` that op's maximum attribute type.
    pub(crate) unsafe fn new(
        skb: *mut bindings::sk_buff,
        info: *mut bindings::genl_info,
        maxattr: u32,
    ) -> Self {
        // SAFETY: per the contract, `info` is valid for the whole doit.
        Request {
            skb,
            info: unsafe { &*info },
            maxattr,
        }
    }

    pub(crate) fn net(&self) -> *mut bindings::net {
        // SAFETY: `info` is valid (type invariant).
        unsafe { bindings::genl_info_net(self.info) }
    }

    pub(crate) fn extack(&self) -> Extack {
        Extack(self.info.extack)
    }

    /// Whether the sender has `CAP_NET_ADMIN` in the request's namespace.
    pub(crate) fn is_admin(&self) -> bool {
        // SAFETY: the request skb and its namespace live while it runs.
        unsafe { net_admin(self.skb, self.net()) }
    }

    /// The attribute `kind`, as the core parsed it (the last one if the
    /// request repeats it).
    pub(crate) fn attr(&self, kind: u32) -> Option<Attr<'a>> {
        // SAFETY: the table holds `maxattr + 1` entries (type invariant),
        // null or validated attributes of the request.
        unsafe { parsed_attr(self.info.attrs, self.maxattr, kind) }
    }

    /// Every top-level attribute of `kind`, in order (for repeated ones).
    pub(crate) fn all(&self, kind: u32) -> impl Iterator<Item = Attr<'a>> {
        // SAFETY: the core checked that the message holds its headers; the
        // attributes follow the genl header (the family has no user header)
        // and live as long as the request.
        let all = unsafe {
            let len =
                ((*self.info.nlhdr).nlmsg_len as usize).saturating_sub(NLMSG_HDRLEN + GENL_HDRLEN);
            let data = self.info.genlhdr.cast::<u8>().add(GENL_HDRLEN);
            Attrs(core::slice::from_raw_parts(data, len))
        };
        all.filter(move |a| a.kind() == kind)
    }

    /// Starts the reply, with room for `payload` bytes of attributes.
    pub(crate) fn reply(
        &self,
        family: *const bindings::genl_family,
        cmd: u32,
        payload: usize,
    ) -> Result<Reply> {
        // SAFETY: `info` is a running doit's (type invariant) of `family`.
        unsafe { Reply::new(self.info, family, cmd, payload) }
    }

    /// Sends `reply` to the requester.
    pub(crate) fn send(&self, reply: Reply) -> Result {
        // SAFETY: the reply was made for this request; genlmsg_reply only
        // reads `info`.
        unsafe { reply.send(core::ptr::from_ref(self.info).cast_mut()) }
    }
}

/// The attribute `kind` of a parsed table of `maxattr + 1` entries.
///
/// # Safety
///
/// `attrs` must be null or such a table of validated attributes that
/// outlive `'a`.
unsafe fn parsed_attr<'a>(
    attrs: *mut *mut bindings::nlattr,
    maxattr: u32,
    kind: u32,
) -> Option<Attr<'a>> {
    if attrs.is_null() || kind > maxattr {
        return None;
    }
    // SAFETY: `kind <= maxattr`, inside the table, per the contract.
    unsafe { Attr::from_raw(*attrs.add(kind as usize)) }
}

/// One step of a running dump of a generic netlink family.
///
/// # Invariants
///
/// `skb` is the dump's message buffer and `cb` its callback, valid for
/// `'a`; `cb->data` is the family's `genl_dumpit_info`.
pub(crate) struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: &'a mut bindings::netlink_callback,
}

// cb->args: [0] the dump's cursor.
const ARG_CURSOR: usize = 0;

impl<'a> Dump<'a> {
    /// # Safety
    ///
    /// `skb` and `cb` must be those genetlink passed to a dumpit.
    pub(crate) unsafe fn new(
        skb: *mut bindings::sk_buff,
        cb: *mut bindings::netlink_callback,
    ) -> Self {
        // SAFETY: per the contract, `cb` is valid and ours for the call.
        Dump {
            skb,
            cb: unsafe { &mut *cb },
        }
    }

    fn info(&self) -> &bindings::genl_dumpit_info {
        // SAFETY: `cb->data` of a genl dump is its `genl_dumpit_info`, alive
        // for the whole dump (type invariant).
        unsafe { &*self.cb.data.cast::<bindings::genl_dumpit_info>() }
    }

    /// The namespace of the requester's socket.
    pub(crate) fn net(&self) -> *mut bindings::net {
        // SAFETY: the request skb and its socket live during the dump.
        unsafe { bindings::sock_net((*self.cb.skb).sk) }
    }

    pub(crate) fn extack(&self) -> Extack {
        Extack(self.cb.extack)
    }

    /// The request's attribute `kind`, as the core parsed it.
    pub(crate) fn attr(&self, kind: u32) -> Option<Attr<'_>> {
        let info = self.info();
        // SAFETY: the core parsed the request into `info.attrs` with the
        // op's policy, `op.maxattr + 1` entries, for the whole dump.
        unsafe { parsed_attr(info.info.attrs, info.op.maxattr, kind) }
    }

    /// The requester's uid.
    pub(crate) fn caller_uid(&self) -> u32 {
        // SAFETY: NETLINK_CB is the start of the request skb's `cb` area.
        unsafe {
            (*(*self.cb.skb)
                .cb
                .as_ptr()
                .cast::<bindings::netlink_skb_parms>())
            .creds
            .uid
            .val
        }
    }

    /// Whether the requester has `CAP_NET_ADMIN` in its namespace.
    pub(crate) fn is_admin(&self) -> bool {
        // SAFETY: the request skb and its namespace live during the dump.
        unsafe { net_admin(self.cb.skb, self.net()) }
    }

    /// Lets `genl_dump_check_consistent` flag the messages (NLM_F_DUMP_INTR)
    /// once `generation` differs from the one of the dump's first step.
    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.cb.seq = generation as u32;
    }

    /// Where the previous step stopped (0 at first).
    pub(crate) fn cursor(&self) -> usize {
        // SAFETY: `args` is the view of the scratch union that genl dumps
        // use; it starts zeroed and only our dumpits write it.
        unsafe { self.cb.__bindgen_anon_1.args[ARG_CURSOR] as usize }
    }

    pub(crate) fn set_cursor(&mut self, at: usize) {
        // SAFETY: as in `cursor`.
        unsafe { self.cb.__bindgen_anon_1.args[ARG_CURSOR] = at as _ };
    }

    /// Starts a message; `None` if not even the header fits.
    pub(crate) fn message(
        &mut self,
        family: *const bindings::genl_family,
        cmd: u32,
    ) -> Option<DumpMsg> {
        // SAFETY: `skb` and `cb` are this dumpit's (type invariant).
        unsafe { DumpMsg::new(self.skb, self.cb, family, cmd) }
    }

    /// The bytes written into this step's buffer.
    pub(crate) fn len(&self) -> c_int {
        // SAFETY: `skb` is the dump's message buffer (type invariant).
        unsafe { (*self.skb).len as c_int }
    }
}

/// Sets the extack message of a refused request (NL_SET_ERR_MSG_FMT), and
/// the attribute it is about, if any.
///
/// # Safety
///
/// `extack` must be null or the extack of a running request.
unsafe fn set_err(
    extack: *mut bindings::netlink_ext_ack,
    attr: Option<&Attr<'_>>,
    msg: fmt::Arguments<'_>,
) {
    // SAFETY: per the contract, a non-null `extack` is ours to write while
    // the request runs.
    let Some(ack) = (unsafe { extack.as_mut() }) else {
        return;
    };
    let mut buf = MsgBuf {
        buf: &mut ack._msg_buf,
        len: 0,
    };
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
