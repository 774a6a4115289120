//! A small rtnetlink client over neli for UOA's tools (uoamap, uoa-route):
//! one socket with extended acks, requests that return the kernel's errno
//! together with its extack message, dumps, and route messages built as
//! `ip route` builds them ([`route`]).
//!
//! Requests go through a plain `NlSocketHandle` and the reply loop of
//! [`uoa_genl::replies`], as uoa-genl's do: neli's router drops the extack
//! of the errors it converts, and the extack is how the kernel says why.

pub mod route;
pub mod tc;

pub use route::{table_of, Nexthop, Route, RouteType, RTPROT_BOOT, RTPROT_KERNEL, RT_TABLE_MAIN};

use neli::{
    consts::{
        nl::NlmF,
        rtnl::{RtAddrFamily, RtScope, RtTable, Rta, RtaType, Rtm, Rtn, Rtprot},
        socket::NlFamily,
    },
    nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder},
    rtnl::{IfaddrmsgBuilder, Rtattr, RtattrBuilder, Rtmsg, RtmsgBuilder},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, RtBuffer},
    utils::Groups,
    FromBytesWithInput, Size, ToBytes,
};
use std::{cell::Cell, fmt, io::Cursor, net::IpAddr};
pub use uoa_genl::replies::DUMP_ATTEMPTS;
use uoa_genl::{
    replies::{self, exchange, kernel_error_text, retry_dump, NLA_HDRLEN, NLA_TYPE_MASK},
    Family, Prefix,
};

/// The errnos the tools tell apart (positive, as in [`Error::Kernel`]).
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EEXIST: i32 = 17;
    pub const ENODEV: i32 = 19;
    pub const EINVAL: i32 = 22;
    pub const ENETUNREACH: i32 = 101;
    pub const EHOSTUNREACH: i32 = 113;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused a request: `errno` (positive) and its extack
    /// message, if it gave one.
    Kernel { errno: i32, message: Option<String> },
    /// The socket failed, or a message could not be built.
    Netlink(String),
    /// A reply could not be read.
    Reply(String),
    /// Every try of a dump was interrupted (NLM_F_DUMP_INTR).
    DumpInterrupted,
}

impl Error {
    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// Did the kernel refuse with one of `errnos`?
    pub fn is_errno(&self, errnos: &[i32]) -> bool {
        self.errno().is_some_and(|e| errnos.contains(&e))
    }

    /// The kernel's extack message, if it gave one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Kernel { message, .. } => message.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel { errno, message } => {
                f.write_str(&kernel_error_text(*errno, message.as_deref()))
            }
            Error::Netlink(e) => write!(f, "rtnetlink: {e}"),
            Error::Reply(e) => write!(f, "malformed rtnetlink reply: {e}"),
            Error::DumpInterrupted => {
                write!(f, "the routes kept changing during the dump; try again")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<replies::Error> for Error {
    fn from(e: replies::Error) -> Self {
        match e {
            replies::Error::Kernel { errno, message } => Error::Kernel { errno, message },
            replies::Error::Netlink(e) => Error::Netlink(e),
            replies::Error::DumpInterrupted => Error::DumpInterrupted,
        }
    }
}

fn net(e: impl fmt::Display) -> Error {
    Error::Netlink(e.to_string())
}

/// An rtnetlink socket with extended acks, in the caller's netns.
pub struct Rtnl {
    sock: NlSocketHandle,
    seq: Cell<u32>,
}

impl Rtnl {
    pub fn connect() -> Result<Self, Error> {
        let sock = NlSocketHandle::connect(NlFamily::Route, None, Groups::empty()).map_err(net)?;
        sock.enable_ext_ack(true).map_err(net)?;
        replies::cap_acks(&sock)?;
        Ok(Rtnl {
            sock,
            seq: Cell::new(0),
        })
    }

    /// Sends one request (with NLM_F_ACK) and waits for its ack.
    pub fn call<P: Size + ToBytes>(
        &self,
        kind: Rtm,
        flags: NlmF,
        payload: &P,
    ) -> Result<(), Error> {
        self.exchange(kind, flags | NlmF::ACK, &payload_bytes(payload)?)?
            .complete()?;
        Ok(())
    }

    /// Sends requests of `kind` in batches of one datagram each, of which
    /// only the last request asks for an ack (see [`replies::exchange_all`]);
    /// returns each one's outcome, in order.
    pub fn call_all<P: Size + ToBytes>(
        &self,
        kind: Rtm,
        flags: NlmF,
        payloads: &[P],
    ) -> Result<Vec<Result<(), Error>>, Error> {
        // Each error takes about a kilobyte of the socket's receive buffer
        // (208 KiB by default); a batch whose errors overflow it loses them.
        const BATCH: usize = 64;
        let mut out = Vec::with_capacity(payloads.len());
        for chunk in payloads.chunks(BATCH) {
            let last = chunk.len() - 1;
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let seq = self.seq.get().wrapping_add(1);
                    self.seq.set(seq);
                    let ack = if i == last { NlmF::ACK } else { NlmF::empty() };
                    request(kind, flags | ack, seq, payload_bytes(p)?)
                })
                .collect::<Result<Vec<_>, Error>>()?;
            out.extend(
                replies::exchange_all(&self.sock, &requests)?
                    .into_iter()
                    .map(|r| r.map_err(Error::from)),
            );
        }
        Ok(out)
    }

    /// Dumps `kind` and reads every message as `R`, retrying a dump that
    /// the kernel flags as interrupted: a torn dump is never returned.
    pub fn dump<P, R>(&self, kind: Rtm, payload: &P) -> Result<Vec<R>, Error>
    where
        P: Size + ToBytes,
        R: Size + FromBytesWithInput<Input = usize>,
    {
        self.dump_bytes(kind, payload)?.iter().map(parse).collect()
    }

    /// As [`Rtnl::dump`], each message's payload as bytes, for replies too
    /// many to read through neli's types (an allocation per attribute).
    pub fn dump_bytes<P: Size + ToBytes>(
        &self,
        kind: Rtm,
        payload: &P,
    ) -> Result<Vec<Buffer>, Error> {
        let request = payload_bytes(payload)?;
        retry_dump(|| self.exchange(kind, NlmF::DUMP, &request))
    }

    /// Every address of `family` configured in this namespace, from one
    /// dump.
    pub fn addresses(&self, family: Family) -> Result<Vec<Address>, Error> {
        let msg = IfaddrmsgBuilder::default()
            .ifa_family(af(family))
            .ifa_prefixlen(0)
            .ifa_scope(RtScope::Universe)
            .ifa_index(0)
            .build()
            .map_err(net)?;
        let mut out = Vec::new();
        for m in self.dump_bytes(Rtm::Getaddr, &msg)? {
            out.extend(Address::from_bytes(family, m.as_ref())?);
        }
        Ok(out)
    }

    /// Every route of `family` that a dump shows the caller.
    pub fn routes(&self, family: Family) -> Result<Vec<Rtmsg>, Error> {
        let all = rtmsg(
            family,
            0,
            0,
            RtTable::Unspec,
            Rtprot::Unspec,
            RtScope::Universe,
            Rtn::Unspec,
            RtBuffer::new(),
        )?;
        self.dump(Rtm::Getroute, &all)
    }

    /// Sends one request and reads its replies up to the ack, the end of
    /// the dump or the error.
    fn exchange(
        &self,
        kind: Rtm,
        flags: NlmF,
        payload: &Buffer,
    ) -> Result<replies::Outcome<Buffer>, Error> {
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        Ok(exchange(
            &self.sock,
            &request(kind, flags, seq, payload.clone())?,
        )?)
    }
}

/// An address as a dump of addresses shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// The address itself (a host prefix).
    pub local: Prefix,
    pub ifindex: u32,
    pub prefixlen: u8,
    /// What the prefix length applies to: the peer's address on a
    /// point-to-point link (`ip addr add A peer P`), else `local`.
    pub network: Prefix,
}

/// `struct ifaddrmsg`: family, prefixlen, flags, scope (u8 each), index.
const IFADDRMSG_LEN: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

impl Address {
    /// Reads one RTM_NEWADDR payload of `family`; `None` for a message
    /// without an address of that family.
    pub fn from_bytes(family: Family, bytes: &[u8]) -> Result<Option<Address>, Error> {
        let bad = || Error::Reply(format!("address message of {} bytes", bytes.len()));
        let header = bytes.get(..IFADDRMSG_LEN).ok_or_else(bad)?;
        let attrs = attributes("address", bytes.get(IFADDRMSG_LEN..).ok_or_else(bad)?)?;
        // IPv4 names the local address IFA_LOCAL and the network (or the
        // peer) IFA_ADDRESS; IPv6 has IFA_LOCAL only on p2p links.
        let (local, network) = match family {
            Family::V4 => (IFA_LOCAL, IFA_ADDRESS),
            Family::V6 => (IFA_ADDRESS, IFA_ADDRESS),
        };
        let full = if family == Family::V4 { 32 } else { 128 };
        let get = |kind| {
            attrs
                .iter()
                .find(|(k, _)| *k == kind)
                .and_then(|(_, p)| Prefix::from_bytes(p, full).ok())
        };
        let Some(addr) = get(local) else {
            return Ok(None);
        };
        Ok(Some(Address {
            local: addr,
            ifindex: u32::from_ne_bytes([header[4], header[5], header[6], header[7]]),
            prefixlen: header[1],
            network: get(network).unwrap_or(addr),
        }))
    }
}

/// The attributes in `bytes` (see [`replies::attributes`]); a malformed
/// one is an [`Error::Reply`] that names `what`.
pub fn attributes<'a>(what: &str, bytes: &'a [u8]) -> Result<Vec<(u16, &'a [u8])>, Error> {
    replies::attributes(what, bytes).map_err(Error::Reply)
}

/// The netlink message of a request: NLM_F_REQUEST plus `flags`.
pub fn request(
    kind: Rtm,
    flags: NlmF,
    seq: u32,
    payload: Buffer,
) -> Result<Nlmsghdr<Rtm, Buffer>, Error> {
    NlmsghdrBuilder::default()
        .nl_type(kind)
        .nl_flags(flags | NlmF::REQUEST)
        .nl_seq(seq)
        .nl_payload(NlPayload::Payload(payload))
        .build()
        .map_err(net)
}

/// The bytes of a message or attribute, as it goes on the wire.
pub fn payload_bytes<P: Size + ToBytes>(payload: &P) -> Result<Buffer, Error> {
    let mut out = Cursor::new(Vec::new());
    payload.to_bytes(&mut out).map_err(net)?;
    Ok(Buffer::from(out.into_inner()))
}

/// Reads a message payload (an `Rtmsg`, an `Ifaddrmsg`, ...).
pub fn parse<R: Size + FromBytesWithInput<Input = usize>>(bytes: &Buffer) -> Result<R, Error> {
    let bytes = bytes.as_ref();
    R::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len())
        .map_err(|e| Error::Reply(e.to_string()))
}

/// One attribute.
pub fn attr<T: RtaType, P: Size + ToBytes>(
    kind: T,
    payload: P,
) -> Result<Rtattr<T, Buffer>, Error> {
    RtattrBuilder::default()
        .rta_type(kind)
        .rta_payload(payload)
        .build()
        .map_err(net)
}

/// The payload of the first attribute of `kind` among `attrs`.
pub fn find_attr(attrs: &RtBuffer<Rta, Buffer>, kind: Rta) -> Option<&[u8]> {
    attrs
        .iter()
        .find(|a| *a.rta_type() == kind)
        .map(|a| a.rta_payload().as_ref())
}

/// A u32 attribute payload (host order, as rtnetlink has them).
pub fn u32_of(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

pub fn af(f: Family) -> RtAddrFamily {
    match f {
        Family::V4 => RtAddrFamily::Inet,
        Family::V6 => RtAddrFamily::Inet6,
    }
}

pub fn family_of(addr: &IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// The address of a prefix, in network order (4 or 16 bytes).
pub fn prefix_bytes(p: &Prefix) -> Buffer {
    let (b, n) = p.to_bytes();
    Buffer::from(b[..n].to_vec())
}

/// The address of a prefix, without its length.
pub fn ip_of(p: &Prefix) -> IpAddr {
    match p.family() {
        Family::V4 => IpAddr::V4((p.addr() as u32).into()),
        Family::V6 => IpAddr::V6(p.addr().into()),
    }
}

/// An address in network order (4 or 16 bytes).
pub fn ip_bytes(addr: &IpAddr) -> Buffer {
    match addr {
        IpAddr::V4(a) => Buffer::from(a.octets().to_vec()),
        IpAddr::V6(a) => Buffer::from(a.octets().to_vec()),
    }
}

/// An address from 4 or 16 bytes in network order.
pub fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// A route message header with its attributes. A table above 255 must go
/// in RTA_TABLE (with `table` `RtTable::Unspec`).
// One argument per field of `struct rtmsg` the callers set.
#[allow(clippy::too_many_arguments)]
pub fn rtmsg(
    family: Family,
    dst_len: u8,
    tos: u8,
    table: RtTable,
    protocol: Rtprot,
    scope: RtScope,
    kind: Rtn,
    attrs: RtBuffer<Rta, Buffer>,
) -> Result<Rtmsg, Error> {
    RtmsgBuilder::default()
        .rtm_family(af(family))
        .rtm_dst_len(dst_len)
        .rtm_src_len(0)
        .rtm_tos(tos)
        .rtm_table(table)
        .rtm_protocol(protocol)
        .rtm_scope(scope)
        .rtm_type(kind)
        .rtattrs(attrs)
        .build()
        .map_err(net)
}

#[cfg(test)]
mod tests;
