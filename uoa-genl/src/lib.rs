//! Client for the `uoa` generic netlink family, the interface of the uoa
//! kernel module. `include/uapi/linux/uoa.h` (patches/) is the
//! specification; [`uapi`] mirrors it one to one.

pub mod replies;
pub mod uapi;

use neli::{
    attr::Attribute,
    consts::{
        genl::{CtrlAttr, CtrlCmd},
        nl::{GenlId, NlmF},
        socket::NlFamily,
    },
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder, NoUserHeader},
    nl::{NlPayload, NlmsghdrBuilder},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, GenlBuffer},
    utils::Groups,
};
pub use replies::DUMP_ATTEMPTS;
use replies::{exchange, kernel_error_text, retry_dump, Outcome};
use serde::Serialize;
use std::os::fd::AsRawFd;
use uapi::{CounterAttr, EntryAttr, UoaAttr, UoaCmd, GENL_NAME, GENL_VERSION};
pub use uoa_policy::{route::DEFAULT_ROUTE_LIMIT, shaping::Rate, Entry, Family, Prefix, Refusal};

/// A message of the uoa family.
pub type UoaMsg = Genlmsghdr<UoaCmd, UoaAttr>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the uoa generic netlink family is not registered: is the uoa kernel module loaded?")]
    NotLoaded,
    /// The kernel refused a request; `message` is its extack text, if any.
    #[error("{}", kernel_error_text(*errno, message.as_deref()))]
    Kernel { errno: i32, message: Option<String> },
    #[error("malformed reply from the uoa module: {0}")]
    Reply(String),
    #[error("netlink: {0}")]
    Netlink(String),
    /// Every try of a dump was interrupted (NLM_F_DUMP_INTR).
    #[error("the policy kept changing during the dump; try again")]
    DumpInterrupted,
}

impl From<replies::Error> for Error {
    fn from(e: replies::Error) -> Self {
        match e {
            replies::Error::Kernel { errno, message } => Error::Kernel { errno, message },
            replies::Error::Netlink(e) => Error::Netlink(e),
            replies::Error::DumpInterrupted => Error::DumpInterrupted,
        }
    }
}

/// What `UOA_CMD_GET_STATUS` reports about the caller's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub version: String,
    pub netns_cookie: u64,
    pub status_requests: u64,
    pub entries: u32,
    pub uids: u32,
    pub memory_bytes: u64,
    /// `UOA_OPT_*` bits.
    pub options: u32,
    /// What was refused to unmanaged uids (`uid` is `None`).
    pub others: Counters,
    /// The default limit on the routes of a managed uid's table.
    pub route_limit: u32,
}

/// What the module refused or changed for a uid (`UOA_A_COUNTERS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub binds_denied: u64,
    pub sources_denied: u64,
    pub sources_rewritten: u64,
    pub packets_dropped: u64,
    pub routes_changed: u64,
    pub routes_refused: u64,
    /// A managed uid's: routes in its table now (IPv4 and IPv6), and the
    /// most it may hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_limit: Option<u32>,
    /// A managed uid's tc class (major:minor as one number), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<u32>,
}

impl std::fmt::Display for Counters {
    /// One line, as `uoamap show -s` and `uoa-route show -s` print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "binds denied {}, sources denied {}, sources rewritten {}, packets dropped {}, \
             routes changed {}, routes refused {}",
            self.binds_denied,
            self.sources_denied,
            self.sources_rewritten,
            self.packets_dropped,
            self.routes_changed,
            self.routes_refused
        )?;
        match (self.routes, self.route_limit) {
            (Some(n), Some(l)) => write!(f, ", routes {n} of {l}"),
            _ => Ok(()),
        }
    }
}

impl Counters {
    fn from_attr(attr: &Nlattr<UoaAttr, Buffer>) -> Result<Self, Error> {
        let bad = |what: &str| Error::Reply(format!("counters: {what}"));
        let attrs = Nested::of("counters", attr)?;
        let get = |kind: CounterAttr, name| {
            attrs
                .u64(kind.into())
                .ok_or_else(|| bad(&format!("no {name}")))
        };
        let opt = |kind: CounterAttr| attrs.u32(kind.into());
        Ok(Counters {
            uid: opt(CounterAttr::Uid),
            binds_denied: get(CounterAttr::BindsDenied, "UOA_A_COUNTER_BINDS_DENIED")?,
            sources_denied: get(CounterAttr::SourcesDenied, "UOA_A_COUNTER_SOURCES_DENIED")?,
            sources_rewritten: get(
                CounterAttr::SourcesRewritten,
                "UOA_A_COUNTER_SOURCES_REWRITTEN",
            )?,
            packets_dropped: get(CounterAttr::PacketsDropped, "UOA_A_COUNTER_PACKETS_DROPPED")?,
            routes_changed: get(CounterAttr::RoutesChanged, "UOA_A_COUNTER_ROUTES_CHANGED")?,
            routes_refused: get(CounterAttr::RoutesRefused, "UOA_A_COUNTER_ROUTES_REFUSED")?,
            routes: opt(CounterAttr::Routes),
            route_limit: opt(CounterAttr::RouteLimit),
            class: opt(CounterAttr::Class),
        })
    }

    /// The per-uid counters of a GET_COUNTERS dump message.
    pub fn from_msg(msg: &UoaMsg) -> Result<Vec<Self>, Error> {
        msg.attrs()
            .iter()
            .filter(|a| *a.nla_type().nla_type() == UoaAttr::Counters)
            .map(Counters::from_attr)
            .collect()
    }
}

impl Status {
    /// Reads a GET_STATUS reply; every attribute is required.
    pub fn from_msg(msg: &UoaMsg) -> Result<Self, Error> {
        let attrs = msg.attrs().get_attr_handle();
        let missing = |name| Error::Reply(format!("status reply lacks {name}"));
        let bad = |name, e: neli::err::DeError| Error::Reply(format!("{name}: {e}"));
        let version = attrs
            .get_attribute(UoaAttr::Version)
            .ok_or_else(|| missing("UOA_A_VERSION"))?
            .get_payload_as_with_len::<String>()
            .map_err(|e| bad("UOA_A_VERSION", e))?;
        let netns_cookie = attrs
            .get_attr_payload_as::<u64>(UoaAttr::NetnsCookie)
            .map_err(|_| missing("UOA_A_NETNS_COOKIE"))?;
        let status_requests = attrs
            .get_attr_payload_as::<u64>(UoaAttr::StatusRequests)
            .map_err(|_| missing("UOA_A_STATUS_REQUESTS"))?;
        let entries = attrs
            .get_attr_payload_as::<u32>(UoaAttr::StatusEntries)
            .map_err(|_| missing("UOA_A_STATUS_ENTRIES"))?;
        let uids = attrs
            .get_attr_payload_as::<u32>(UoaAttr::StatusUids)
            .map_err(|_| missing("UOA_A_STATUS_UIDS"))?;
        let memory_bytes = attrs
            .get_attr_payload_as::<u64>(UoaAttr::StatusMemory)
            .map_err(|_| missing("UOA_A_STATUS_MEMORY"))?;
        let options = attrs
            .get_attr_payload_as::<u32>(UoaAttr::Options)
            .map_err(|_| missing("UOA_A_OPTIONS"))?;
        let others = msg
            .attrs()
            .iter()
            .find(|a| *a.nla_type().nla_type() == UoaAttr::Counters)
            .ok_or_else(|| missing("UOA_A_COUNTERS"))
            .and_then(Counters::from_attr)?;
        let route_limit = attrs
            .get_attr_payload_as::<u32>(UoaAttr::RouteLimit)
            .map_err(|_| missing("UOA_A_ROUTE_LIMIT"))?;
        Ok(Status {
            version,
            netns_cookie,
            status_requests,
            entries,
            uids,
            memory_bytes,
            options,
            others,
            route_limit,
        })
    }
}

/// The attributes nested in one UOA_A_ENTRY or UOA_A_COUNTERS, by type,
/// read in place (a dump holds one per entry or uid: tens of thousands,
/// which neli's attribute handles read with an allocation each). The first
/// of a type counts; types this tool does not know are skipped.
struct Nested<'a>([Option<&'a [u8]>; 16]);

impl<'a> Nested<'a> {
    fn of(what: &str, attr: &'a Nlattr<UoaAttr, Buffer>) -> Result<Self, Error> {
        let mut by_type = [None; 16];
        for (kind, payload) in
            replies::attributes(what, attr.nla_payload().as_ref()).map_err(Error::Reply)?
        {
            if let Some(slot @ None) = by_type.get_mut(usize::from(kind)) {
                *slot = Some(payload);
            }
        }
        Ok(Nested(by_type))
    }

    fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.0.get(usize::from(kind)).copied().flatten()
    }

    fn u8(&self, kind: u16) -> Option<u8> {
        self.get(kind)?.try_into().ok().map(u8::from_ne_bytes)
    }

    fn u32(&self, kind: u16) -> Option<u32> {
        self.get(kind)?.try_into().ok().map(u32::from_ne_bytes)
    }

    fn u64(&self, kind: u16) -> Option<u64> {
        self.get(kind)?.try_into().ok().map(u64::from_ne_bytes)
    }
}

/// Reads the entries of a GET_ENTRIES dump message.
pub fn entries_from_msg(msg: &UoaMsg) -> Result<Vec<Entry>, Error> {
    let bad = |what: &str| Error::Reply(format!("entry: {what}"));
    let mut out = Vec::new();
    for attr in msg
        .attrs()
        .iter()
        .filter(|a| *a.nla_type().nla_type() == UoaAttr::Entry)
    {
        let h = Nested::of("entry", attr)?;
        let addr = h
            .get(EntryAttr::Addr.into())
            .ok_or_else(|| bad("no UOA_A_ENTRY_ADDR"))?;
        let len = h
            .u8(EntryAttr::Prefixlen.into())
            .ok_or_else(|| bad("no UOA_A_ENTRY_PREFIXLEN"))?;
        let prefix = Prefix::from_bytes(addr, len).map_err(|e| bad(&e.to_string()))?;
        out.push(Entry {
            prefix,
            uid: h
                .u32(EntryAttr::Uid.into())
                .ok_or_else(|| bad("no UOA_A_ENTRY_UID"))?,
            table: h
                .u32(EntryAttr::Table.into())
                .ok_or_else(|| bad("no UOA_A_ENTRY_TABLE"))?,
            ifindex: h.u32(EntryAttr::Ifindex.into()).unwrap_or(0),
        });
    }
    Ok(out)
}

/// One change in a SET_ENTRIES batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add(Entry),
    Remove(Prefix),
}

/// Which entries a batch first drops (`UOA_F_REPLACE`, with `UOA_A_UID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    Nothing,
    All,
    Uid(u32),
}

fn nla<T: neli::consts::genl::NlAttrType, P: neli::Size + neli::ToBytes>(
    kind: T,
    payload: P,
) -> Result<Nlattr<T, Buffer>, Error> {
    let ty = AttrTypeBuilder::default()
        .nla_type(kind)
        .build()
        .map_err(|e| Error::Netlink(e.to_string()))?;
    NlattrBuilder::default()
        .nla_type(ty)
        .nla_payload(payload)
        .build()
        .map_err(|e| Error::Netlink(e.to_string()))
}

/// Appends one attribute of an entry's nest.
fn put(nest: &mut Vec<u8>, kind: EntryAttr, payload: &[u8]) -> Result<(), Error> {
    replies::put_attribute(nest, kind.into(), payload).map_err(Error::Netlink)
}

/// The attributes of a SET_ENTRIES request.
pub fn set_request(
    replace: Replace,
    changes: &[Change],
) -> Result<GenlBuffer<UoaAttr, Buffer>, Error> {
    let mut attrs = GenlBuffer::new();
    match replace {
        Replace::Nothing => {}
        Replace::All => attrs.push(nla(UoaAttr::Flags, uapi::F_REPLACE)?),
        Replace::Uid(uid) => {
            attrs.push(nla(UoaAttr::Flags, uapi::F_REPLACE)?);
            attrs.push(nla(UoaAttr::Uid, uid)?);
        }
    }
    for change in changes {
        let prefix = match change {
            Change::Add(e) => &e.prefix,
            Change::Remove(p) => p,
        };
        // The nest's bytes are written here: neli's `nest` re-serialises
        // and grows the nest per attribute, which made building a batch of
        // 16,000 entries a tenth of `uoamap apply`'s time.
        let (bytes, n) = prefix.to_bytes();
        let mut nest = Vec::with_capacity(48);
        put(&mut nest, EntryAttr::Addr, &bytes[..n])?;
        put(&mut nest, EntryAttr::Prefixlen, &[prefix.len()])?;
        match change {
            Change::Add(e) => {
                put(&mut nest, EntryAttr::Uid, &e.uid.to_ne_bytes())?;
                put(&mut nest, EntryAttr::Table, &e.table.to_ne_bytes())?;
                if e.ifindex != 0 {
                    put(&mut nest, EntryAttr::Ifindex, &e.ifindex.to_ne_bytes())?;
                }
            }
            Change::Remove(_) => put(&mut nest, EntryAttr::Flags, &uapi::EF_REMOVE.to_ne_bytes())?,
        }
        let ty = AttrTypeBuilder::default()
            .nla_type(UoaAttr::Entry)
            .nla_nested(true)
            .build()
            .map_err(|e| Error::Netlink(e.to_string()))?;
        attrs.push(
            NlattrBuilder::default()
                .nla_type(ty)
                .nla_payload(Buffer::from(nest))
                .build()
                .map_err(|e| Error::Netlink(e.to_string()))?,
        );
    }
    Ok(attrs)
}

/// A generic netlink socket bound to the uoa family, in the caller's netns.
///
/// Requests go through a plain `NlSocketHandle`: neli's router drops the
/// extack of errors it converts, and the extack is how the kernel says why.
pub struct Client {
    sock: NlSocketHandle,
    family: u16,
    seq: std::cell::Cell<u32>,
}

/// Send buffer for big batches (`uoamap apply` of many entries is one
/// message); needs CAP_NET_ADMIN, which writes need anyway.
const SNDBUF: usize = 64 << 20;

impl Client {
    pub fn connect() -> Result<Self, Error> {
        let net = |e: &dyn std::fmt::Display| Error::Netlink(e.to_string());
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| net(&e))?;
        sock.enable_ext_ack(true).map_err(|e| net(&e))?;
        replies::cap_acks(&sock)?;
        let family = family_id(&sock)?;
        // SAFETY: the descriptor is the open socket `sock` owns, alive for the call.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(sock.as_raw_fd()) };
        // Best effort: without the capability the default buffer stays.
        let _ = nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::SndBufForce, &SNDBUF);
        Ok(Client {
            sock,
            family,
            seq: std::cell::Cell::new(0),
        })
    }

    pub fn status(&self) -> Result<Status, Error> {
        let replies = self.request(UoaCmd::GetStatus, NlmF::ACK, GenlBuffer::new())?;
        Status::from_msg(
            replies
                .first()
                .ok_or_else(|| Error::Reply("no status reply".into()))?,
        )
    }

    /// The entries visible to the caller (all with CAP_NET_ADMIN), or `uid`'s.
    pub fn entries(&self, uid: Option<u32>) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        for msg in self.dump(UoaCmd::GetEntries, uid)? {
            out.extend(entries_from_msg(&msg)?);
        }
        Ok(out)
    }

    /// The counters of every managed uid visible to the caller, or `uid`'s.
    pub fn counters(&self, uid: Option<u32>) -> Result<Vec<Counters>, Error> {
        let mut out = Vec::new();
        for msg in self.dump(UoaCmd::GetCounters, uid)? {
            out.extend(Counters::from_msg(&msg)?);
        }
        Ok(out)
    }

    /// Sets the namespace's options (`UOA_OPT_*`), all at once.
    pub fn set_options(&self, options: u32) -> Result<(), Error> {
        let mut attrs = GenlBuffer::new();
        attrs.push(nla(UoaAttr::Options, options)?);
        self.request(UoaCmd::SetOptions, NlmF::ACK, attrs)?;
        Ok(())
    }

    /// Sets the limit on the routes of `uid`'s table (`0`: back to the
    /// default), or with `None` the namespace's default.
    pub fn set_route_limit(&self, uid: Option<u32>, limit: u32) -> Result<(), Error> {
        let mut attrs = GenlBuffer::new();
        attrs.push(nla(UoaAttr::RouteLimit, limit)?);
        if let Some(uid) = uid {
            attrs.push(nla(UoaAttr::Uid, uid)?);
        }
        self.request(UoaCmd::SetOptions, NlmF::ACK, attrs)?;
        Ok(())
    }

    /// Sets the tc class (major:minor) the module gives `uid`'s packets in
    /// `skb->priority` (`0`: none).
    pub fn set_class(&self, uid: u32, class: u32) -> Result<(), Error> {
        let mut attrs = GenlBuffer::new();
        attrs.push(nla(UoaAttr::Class, class)?);
        attrs.push(nla(UoaAttr::Uid, uid)?);
        self.request(UoaCmd::SetOptions, NlmF::ACK, attrs)?;
        Ok(())
    }

    /// Applies a batch of changes atomically.
    pub fn set(&self, replace: Replace, changes: &[Change]) -> Result<(), Error> {
        self.request(
            UoaCmd::SetEntries,
            NlmF::ACK,
            set_request(replace, changes)?,
        )?;
        Ok(())
    }

    /// Dumps `cmd` (optionally for one uid) and returns every message of a
    /// dump the policy did not change under; see [`retry_dump`].
    fn dump(&self, cmd: UoaCmd, uid: Option<u32>) -> Result<Vec<UoaMsg>, Error> {
        retry_dump(|| {
            let mut attrs = GenlBuffer::new();
            if let Some(uid) = uid {
                attrs.push(nla(UoaAttr::Uid, uid)?);
            }
            self.send_and_collect(cmd, NlmF::DUMP, attrs)
        })
    }

    /// Sends one request that is not a dump and returns its reply messages.
    fn request(
        &self,
        cmd: UoaCmd,
        flags: NlmF,
        attrs: GenlBuffer<UoaAttr, Buffer>,
    ) -> Result<Vec<UoaMsg>, Error> {
        Ok(self.send_and_collect(cmd, flags, attrs)?.complete()?)
    }

    /// Sends one request and reads its reply messages, up to the ack, the
    /// end of the dump or the error.
    fn send_and_collect(
        &self,
        cmd: UoaCmd,
        flags: NlmF,
        attrs: GenlBuffer<UoaAttr, Buffer>,
    ) -> Result<Outcome<UoaMsg>, Error> {
        let net = |e: &dyn std::fmt::Display| Error::Netlink(e.to_string());
        let genl = GenlmsghdrBuilder::<UoaCmd, UoaAttr, NoUserHeader>::default()
            .cmd(cmd)
            .version(GENL_VERSION)
            .attrs(attrs)
            .build()
            .map_err(|e| net(&e))?;
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        let msg = NlmsghdrBuilder::default()
            .nl_type(self.family)
            .nl_flags(flags | NlmF::REQUEST)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(|e| net(&e))?;
        Ok(exchange(&self.sock, &msg)?)
    }
}

/// The id of the uoa family, asked of the generic netlink controller on
/// `sock` itself (CTRL_CMD_GETFAMILY): neli's router would open a second
/// socket and start a thread to read it, which every run of a tool paid.
fn family_id(sock: &NlSocketHandle) -> Result<u16, Error> {
    let net = |e: &dyn std::fmt::Display| Error::Netlink(e.to_string());
    let mut attrs = GenlBuffer::new();
    attrs.push(nla(CtrlAttr::FamilyName, GENL_NAME)?);
    let genl = GenlmsghdrBuilder::<CtrlCmd, CtrlAttr, NoUserHeader>::default()
        .cmd(CtrlCmd::Getfamily)
        .version(2)
        .attrs(attrs)
        .build()
        .map_err(|e| net(&e))?;
    let msg = NlmsghdrBuilder::default()
        .nl_type(GenlId::Ctrl)
        .nl_flags(NlmF::REQUEST | NlmF::ACK)
        .nl_payload(NlPayload::Payload(genl))
        .build()
        .map_err(|e| net(&e))?;
    let replies = match exchange::<_, _, Genlmsghdr<CtrlCmd, CtrlAttr>>(sock, &msg) {
        Err(replies::Error::Kernel { errno, .. }) if errno == ENOENT => {
            return Err(Error::NotLoaded)
        }
        r => r?.complete()?,
    };
    replies
        .iter()
        .find_map(|r| {
            r.attrs()
                .get_attr_handle()
                .get_attr_payload_as::<u16>(CtrlAttr::FamilyId)
                .ok()
        })
        .ok_or_else(|| Error::Reply(format!("the controller named no id for {GENL_NAME}")))
}

const ENOENT: i32 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use neli::FromBytesWithInput;
    use std::io::Cursor;

    pub(crate) fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    fn parse(bytes: &[u8]) -> UoaMsg {
        UoaMsg::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len()).expect("genl message")
    }

    // Shaped like the module's reply to `uoamap status` in a fresh netns:
    // genlmsghdr, then VERSION, a PAD (as nla_put_64bit may add), COOKIE, REQUESTS.
    fn status_reply(with_requests: bool) -> Vec<u8> {
        let mut b = vec![UoaCmd::GetStatus.into(), GENL_VERSION, 0, 0];
        b.extend(attr(UoaAttr::Version.into(), b"0.1.0\0"));
        b.extend(attr(UoaAttr::Pad.into(), b""));
        b.extend(attr(UoaAttr::NetnsCookie.into(), &4097u64.to_ne_bytes()));
        if with_requests {
            b.extend(attr(UoaAttr::StatusRequests.into(), &3u64.to_ne_bytes()));
        }
        b.extend(attr(UoaAttr::StatusEntries.into(), &2u32.to_ne_bytes()));
        b.extend(attr(UoaAttr::StatusUids.into(), &1u32.to_ne_bytes()));
        b.extend(attr(UoaAttr::StatusMemory.into(), &640u64.to_ne_bytes()));
        b.extend(attr(UoaAttr::Options.into(), &1u32.to_ne_bytes()));
        let mut counters = Vec::new();
        for (kind, n) in [(3u16, 7u64), (4, 0), (5, 0), (6, 2), (7, 0), (8, 1)] {
            counters.extend(attr(CounterAttr::Pad.into(), b""));
            counters.extend(attr(kind, &n.to_ne_bytes()));
        }
        b.extend(attr(u16::from(UoaAttr::Counters) | 0x8000, &counters));
        b.extend(attr(
            UoaAttr::RouteLimit.into(),
            &1_500_000u32.to_ne_bytes(),
        ));
        b
    }

    #[test]
    fn status_reply_parses() {
        let status = Status::from_msg(&parse(&status_reply(true))).unwrap();
        assert_eq!(
            status,
            Status {
                version: "0.1.0".into(),
                netns_cookie: 4097,
                status_requests: 3,
                entries: 2,
                uids: 1,
                memory_bytes: 640,
                options: uapi::OPT_LOW_PORTS,
                others: Counters {
                    uid: None,
                    binds_denied: 7,
                    packets_dropped: 2,
                    routes_refused: 1,
                    ..Counters::default()
                },
                route_limit: 1_500_000,
            }
        );
    }

    #[test]
    fn status_reply_missing_attribute_is_named() {
        let err = Status::from_msg(&parse(&status_reply(false))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed reply from the uoa module: status reply lacks UOA_A_STATUS_REQUESTS"
        );
    }

    // What `uoamap add 10.1.3.1 1011 32811` sends: one UOA_A_ENTRY nest.
    #[test]
    fn set_request_encodes_entries() {
        let e = Entry {
            prefix: "10.1.3.1".parse().unwrap(),
            uid: 1011,
            table: 32811,
            ifindex: 0,
        };
        let attrs = set_request(Replace::Nothing, &[Change::Add(e)]).unwrap();
        let mut bytes = std::io::Cursor::new(Vec::new());
        neli::ToBytes::to_bytes(&attrs, &mut bytes).unwrap();
        let mut want = Vec::new();
        let mut inner = attr(EntryAttr::Addr.into(), &[10, 1, 3, 1]);
        inner.extend(attr(EntryAttr::Prefixlen.into(), &[32]));
        inner.extend(attr(EntryAttr::Uid.into(), &1011u32.to_ne_bytes()));
        inner.extend(attr(EntryAttr::Table.into(), &32811u32.to_ne_bytes()));
        want.extend(attr(u16::from(UoaAttr::Entry) | 0x8000, &inner));
        assert_eq!(bytes.into_inner(), want);

        // And a dump message carrying it reads back as the same entry.
        let mut msg = vec![UoaCmd::GetEntries.into(), GENL_VERSION, 0, 0];
        msg.extend(want);
        assert_eq!(entries_from_msg(&parse(&msg)).unwrap(), vec![e]);

        // A removal names the prefix and flags it; an interface goes last.
        let on_dev = Entry { ifindex: 3, ..e };
        let attrs = set_request(
            Replace::Nothing,
            &[
                Change::Remove("10.1.3.0/24".parse().unwrap()),
                Change::Add(on_dev),
            ],
        )
        .unwrap();
        let mut bytes = std::io::Cursor::new(Vec::new());
        neli::ToBytes::to_bytes(&attrs, &mut bytes).unwrap();
        let mut removal = attr(EntryAttr::Addr.into(), &[10, 1, 3, 0]);
        removal.extend(attr(EntryAttr::Prefixlen.into(), &[24]));
        removal.extend(attr(
            EntryAttr::Flags.into(),
            &uapi::EF_REMOVE.to_ne_bytes(),
        ));
        let mut want = attr(u16::from(UoaAttr::Entry) | 0x8000, &removal);
        inner.extend(attr(EntryAttr::Ifindex.into(), &3u32.to_ne_bytes()));
        want.extend(attr(u16::from(UoaAttr::Entry) | 0x8000, &inner));
        assert_eq!(bytes.into_inner(), want);
    }

    #[test]
    fn dumped_entries_odd_and_malformed() {
        let msg = |inner: &[u8]| {
            let mut m = vec![UoaCmd::GetEntries.into(), GENL_VERSION, 0, 0];
            m.extend(attr(u16::from(UoaAttr::Entry) | 0x8000, inner));
            parse(&m)
        };
        let mut inner = attr(EntryAttr::Addr.into(), &[10, 1, 3, 0]);
        inner.extend(attr(EntryAttr::Prefixlen.into(), &[24]));
        inner.extend(attr(EntryAttr::Uid.into(), &1011u32.to_ne_bytes()));
        // A type this tool does not know, and a second UID: the first counts.
        inner.extend(attr(40, b"later"));
        inner.extend(attr(EntryAttr::Uid.into(), &1012u32.to_ne_bytes()));
        inner.extend(attr(EntryAttr::Table.into(), &32811u32.to_ne_bytes()));
        inner.extend(attr(EntryAttr::Ifindex.into(), &3u32.to_ne_bytes()));
        let e = entries_from_msg(&msg(&inner)).unwrap();
        assert_eq!(
            e,
            vec![Entry {
                prefix: "10.1.3.0/24".parse().unwrap(),
                uid: 1011,
                table: 32811,
                ifindex: 3
            }]
        );
        // A UID of the wrong size is no UID.
        let mut short = attr(EntryAttr::Addr.into(), &[10, 1, 3, 1]);
        short.extend(attr(EntryAttr::Prefixlen.into(), &[32]));
        short.extend(attr(EntryAttr::Uid.into(), &[1, 2]));
        let err = entries_from_msg(&msg(&short)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed reply from the uoa module: entry: no UOA_A_ENTRY_UID"
        );
        // An attribute longer than what is left of the nest.
        let mut torn = attr(EntryAttr::Addr.into(), &[10, 1, 3, 1]);
        torn[0] = 40;
        let err = entries_from_msg(&msg(&torn)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed reply from the uoa module: entry: attribute 1 at byte 0 has length 40 with 8 bytes left"
        );
    }

    #[test]
    fn replace_sets_flags_and_uid() {
        let attrs = set_request(Replace::Uid(1011), &[]).unwrap();
        let mut bytes = std::io::Cursor::new(Vec::new());
        neli::ToBytes::to_bytes(&attrs, &mut bytes).unwrap();
        let mut want = attr(UoaAttr::Flags.into(), &uapi::F_REPLACE.to_ne_bytes());
        want.extend(attr(UoaAttr::Uid.into(), &1011u32.to_ne_bytes()));
        assert_eq!(bytes.into_inner(), want);
    }

    #[test]
    fn replies_errors_read_as_this_crates() {
        // A dump that keeps being interrupted, as `uoamap` says it.
        let err = retry_dump(|| Ok::<_, Error>(Outcome::<UoaMsg>::Interrupted)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the policy kept changing during the dump; try again"
        );
        let err: Error = replies::Error::Netlink("socket: EMFILE".into()).into();
        assert_eq!(err.to_string(), "netlink: socket: EMFILE");
        let err: Error = replies::Error::Kernel {
            errno: 1,
            message: Some("uid 1011 is managed".into()),
        }
        .into();
        assert!(
            matches!(err, Error::Kernel { errno: 1, message: Some(ref m) } if m == "uid 1011 is managed")
        );
    }

    #[test]
    fn kernel_error_shows_extack_and_errno() {
        let e = Error::Kernel {
            errno: 22,
            message: Some("Unknown attribute type".into()),
        };
        assert_eq!(
            e.to_string(),
            "Unknown attribute type (Invalid argument (os error 22))"
        );
        let e = Error::Kernel {
            errno: 1,
            message: None,
        };
        assert_eq!(e.to_string(), "Operation not permitted (os error 1)");
    }
}
