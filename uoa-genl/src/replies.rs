//! Reading the replies to one netlink request, whatever the family: this
//! crate's generic netlink client and uoa-rtnl both send a request on a
//! plain `NlSocketHandle` and read its replies with [`exchange`], retrying
//! dumps with [`retry_dump`].
//!
//! Each crate turns [`Error`] into its own error (`From`), with its own
//! texts.

use neli::{
    consts::nl::{NlType, NlmF, NlmsgerrAttr},
    nl::{NlPayload, Nlmsghdr},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, GenlBuffer},
    FromBytesWithInput, Size, ToBytes,
};
use std::fmt::{Debug, Display};
use std::os::fd::AsRawFd;

/// How many times a dump is tried before giving up on data (a policy,
/// routing tables) that keeps changing under it.
pub const DUMP_ATTEMPTS: usize = 5;

const NLMSG_DONE: u16 = 3;
/// `NLA_HDRLEN`: an attribute's header, length and type.
pub const NLA_HDRLEN: usize = 4;
/// `NLA_TYPE_MASK`: the type without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
pub const NLA_TYPE_MASK: u16 = 0x3FFF;
/// Types below are netlink's own (NOOP, ERROR, DONE, OVERRUN).
const NLMSG_MIN_TYPE: u16 = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The kernel refused the request: `errno` (positive) and its extack
    /// message, if it gave one.
    #[error("{}", kernel_error_text(*errno, message.as_deref()))]
    Kernel { errno: i32, message: Option<String> },
    /// The socket failed, or a reply could not be read.
    #[error("netlink: {0}")]
    Netlink(String),
    /// Every try of a dump was interrupted (NLM_F_DUMP_INTR), or a request
    /// that is not a dump was flagged so.
    #[error("the dump kept being interrupted; try again")]
    DumpInterrupted,
}

/// How the kernel's refusal reads: its extack message, if any, then the
/// errno's text.
pub fn kernel_error_text(errno: i32, message: Option<&str>) -> String {
    let os = std::io::Error::from_raw_os_error(errno);
    match message {
        Some(m) => format!("{m} ({os})"),
        None => os.to_string(),
    }
}

/// How the replies to one request ended.
#[derive(Debug)]
pub enum Outcome<P> {
    /// Every reply payload, up to the ack or the end of the dump.
    Complete(Vec<P>),
    /// A message of the dump carried NLM_F_DUMP_INTR: the data changed while
    /// the kernel dumped it, so the messages may mix two states.
    Interrupted,
}

impl Outcome<Buffer> {
    /// The same outcome, each raw payload read as a `P`.
    fn parse<P: FromBytesWithInput<Input = usize>>(self) -> Result<Outcome<P>, Error> {
        Ok(match self {
            Outcome::Complete(raw) => Outcome::Complete(
                raw.iter()
                    .map(|b| {
                        let len = b.as_ref().len();
                        P::from_bytes_with_input(&mut std::io::Cursor::new(b.as_ref()), len)
                            .map_err(net)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Outcome::Interrupted => Outcome::Interrupted,
        })
    }
}

impl<P> Outcome<P> {
    /// The replies of a request that is not a dump. Only dumps are flagged:
    /// fail rather than trust such a reply.
    pub fn complete(self) -> Result<Vec<P>, Error> {
        match self {
            Outcome::Complete(msgs) => Ok(msgs),
            Outcome::Interrupted => Err(Error::DumpInterrupted),
        }
    }
}

/// The replies to one request (sequence number `seq`), as they arrive.
#[derive(Debug)]
pub struct Replies<P> {
    seq: u32,
    msgs: Vec<P>,
    interrupted: bool,
}

impl<P: Clone> Replies<P> {
    pub fn new(seq: u32) -> Self {
        Replies {
            seq,
            msgs: Vec::new(),
            interrupted: false,
        }
    }

    /// Takes the next received message; says how the request ended once it
    /// has. Messages of other requests are skipped, and so are netlink's own
    /// (NOOP, OVERRUN). An interrupted dump is still read to its end, so
    /// that none of it is left in the socket.
    pub fn take(&mut self, m: &Nlmsghdr<u16, P>) -> Result<Option<Outcome<P>>, Error> {
        if *m.nl_seq() != self.seq {
            return Ok(None);
        }
        // The kernel can flag any message of the dump, NLMSG_DONE included.
        if m.nl_flags().contains(NlmF::DUMP_INTR) {
            self.interrupted = true;
            self.msgs.clear();
        }
        let done = match m.nl_payload() {
            // neli reads an NLMSG_DONE without NLM_F_MULTI as a payload.
            NlPayload::Payload(_) if *m.nl_type() == NLMSG_DONE => true,
            NlPayload::Payload(p) => {
                if *m.nl_type() >= NLMSG_MIN_TYPE && !self.interrupted {
                    self.msgs.push(p.clone());
                }
                false
            }
            NlPayload::Err(e) => return Err(kernel_error(*e.error(), e.ext_ack())),
            NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                return Err(kernel_error(*e.error(), e.ext_ack()))
            }
            NlPayload::Ack(_) | NlPayload::DumpExtAck(_) => true,
            NlPayload::Empty => *m.nl_type() == NLMSG_DONE,
        };
        Ok(done.then(|| match self.interrupted {
            true => Outcome::Interrupted,
            false => Outcome::Complete(std::mem::take(&mut self.msgs)),
        }))
    }
}

/// The error of an NLMSG_ERROR or NLMSG_DONE whose code is `code` (negative).
fn kernel_error(code: i32, ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Error {
    let message = ext_ack.iter().find_map(|a| {
        (*a.nla_type().nla_type() == NlmsgerrAttr::Msg).then(|| {
            let text = String::from_utf8_lossy(a.nla_payload().as_ref());
            text.trim_end_matches('\0').to_string()
        })
    });
    Error::Kernel {
        errno: -code,
        message,
    }
}

fn net(e: impl Display) -> Error {
    Error::Netlink(e.to_string())
}

/// Sends `request` on `sock` and reads its replies (payloads `P`) up to the
/// ack, the end of the dump or the error; see [`Replies::take`].
pub fn exchange<T, S, P>(
    sock: &NlSocketHandle,
    request: &Nlmsghdr<T, S>,
) -> Result<Outcome<P>, Error>
where
    T: NlType + Debug,
    S: Size + ToBytes + Debug,
    P: Size + FromBytesWithInput<Input = usize> + Debug + Clone,
{
    sock.send(request).map_err(net)?;
    let mut replies = Replies::<Buffer>::new(*request.nl_seq());
    loop {
        for m in recv_datagram(sock)? {
            if let Some(outcome) = replies.take(&m)? {
                return outcome.parse();
            }
        }
    }
}

/// Sends `requests` (each with its own sequence number, only the last with
/// NLM_F_ACK) in one datagram, then reads the answers: one system call
/// each way for many requests, which matters when a tool makes tens of
/// thousands of routes. The kernel handles a datagram's messages in order
/// before `send` returns and answers every failing one, so the last one's
/// ack (or error) comes after every other answer. Returns each request's
/// outcome, in order. Keep a batch small enough that its errors fit the
/// socket's receive buffer (each takes about a kilobyte of it).
pub fn exchange_all<T, S>(
    sock: &NlSocketHandle,
    requests: &[Nlmsghdr<T, S>],
) -> Result<Vec<Result<(), Error>>, Error>
where
    T: NlType + Debug,
    S: Size + ToBytes + Debug,
{
    let Some(last) = requests.last() else {
        return Ok(Vec::new());
    };
    if !last.nl_flags().contains(NlmF::ACK) {
        return Err(Error::Netlink(
            "a batch's last request must ask for an ack".into(),
        ));
    }
    let mut c = std::io::Cursor::new(Vec::new());
    for r in requests {
        r.to_bytes(&mut c).map_err(net)?;
    }
    let bytes = c.into_inner();
    let sent = nix::sys::socket::send(
        sock.as_raw_fd(),
        &bytes,
        nix::sys::socket::MsgFlags::empty(),
    )
    .map_err(net)?;
    if sent != bytes.len() {
        return Err(Error::Netlink(format!(
            "sent {sent} of a batch's {} bytes",
            bytes.len()
        )));
    }
    let mut batch = Batch::new(requests.iter().map(|r| *r.nl_seq()));
    loop {
        for m in recv_datagram(sock)? {
            if batch.take(&m) {
                return Ok(batch.into_outcomes());
            }
        }
    }
}

/// Asks the kernel not to quote a failed request in its error
/// (NETLINK_CAP_ACK): the quote of a request of 65,536 entries is megabytes
/// that the tool would read only to skip them (neli's fixed 32 KiB buffer
/// cut such an error short, and its extack message with it).
pub fn cap_acks(sock: &NlSocketHandle) -> Result<(), Error> {
    let on: nix::libc::c_int = 1;
    // SAFETY: the descriptor is the open socket `sock` owns; the option's
    // value is the int `on`, alive for the call, and its size is given.
    let r = unsafe {
        nix::libc::setsockopt(
            sock.as_raw_fd(),
            nix::libc::SOL_NETLINK,
            nix::libc::NETLINK_CAP_ACK,
            std::ptr::addr_of!(on).cast(),
            std::mem::size_of_val(&on) as nix::libc::socklen_t,
        )
    };
    nix::errno::Errno::result(r).map(drop).map_err(net)
}

/// Reads one datagram whole, its size peeked first (a batch's answers can
/// outgrow any fixed buffer), and parses its messages, payloads raw.
fn recv_datagram(sock: &NlSocketHandle) -> Result<Vec<Nlmsghdr<u16, Buffer>>, Error> {
    use nix::sys::socket::{recv, MsgFlags};
    let fd = sock.as_raw_fd();
    let retry = |flags: MsgFlags, buf: &mut [u8]| loop {
        match recv(fd, buf, flags) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(net),
        }
    };
    // On a netlink socket, MSG_TRUNC makes recv return the datagram's size.
    let size = retry(MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC, &mut [])?;
    let mut bytes = vec![0; size];
    let got = retry(MsgFlags::empty(), &mut bytes)?;
    bytes.truncate(got);
    parse_datagram(&bytes)
}

const NLMSG_ERROR: u16 = 2;
const NLM_F_CAPPED: u16 = 0x100;
const NLMSG_HDRLEN: usize = 16;

/// The messages of a datagram. A capped error (NETLINK_CAP_ACK) quotes the
/// failed request's header alone, but that header's length still counts
/// the payload left out; it is set to the header's, so that the quote is
/// read as what the message holds and the extack after it is found.
fn parse_datagram(bytes: &[u8]) -> Result<Vec<Nlmsghdr<u16, Buffer>>, Error> {
    let total = bytes.len();
    let mut msgs = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let bad = || Error::Netlink(format!("a malformed message in a {total}-byte datagram"));
        let len = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from_ne_bytes(b) as usize)
            .filter(|&len| (NLMSG_HDRLEN..=rest.len()).contains(&len))
            .ok_or_else(bad)?;
        let (msg, tail) = rest.split_at(len);
        // neli reads a message's padding too, which the datagram's last
        // message may lack.
        let aligned = len.next_multiple_of(4);
        let mut m = msg.to_vec();
        m.resize(aligned, 0);
        let ty = u16::from_ne_bytes([m[4], m[5]]);
        let flags = u16::from_ne_bytes([m[6], m[7]]);
        // Header, error code, the quoted header.
        if ty == NLMSG_ERROR && flags & NLM_F_CAPPED != 0 && len >= 2 * NLMSG_HDRLEN + 4 {
            m[20..24].copy_from_slice(&(NLMSG_HDRLEN as u32).to_ne_bytes());
        }
        msgs.push(neli::FromBytes::from_bytes(&mut std::io::Cursor::new(m)).map_err(net)?);
        rest = tail.get(aligned - len..).unwrap_or_default();
    }
    Ok(msgs)
}

/// The outcomes of a batch of requests sent together, of which only the
/// last asks for an ack, as its answers arrive: a request that nothing
/// answers succeeded.
#[derive(Debug)]
struct Batch {
    index: std::collections::HashMap<u32, usize>,
    last: Option<u32>,
    outcomes: Vec<Result<(), Error>>,
}

impl Batch {
    /// For requests of these sequence numbers, in the order sent.
    fn new(seqs: impl Iterator<Item = u32>) -> Self {
        let mut index = std::collections::HashMap::new();
        let mut last = None;
        for (i, seq) in seqs.enumerate() {
            index.insert(seq, i);
            last = Some(seq);
        }
        let outcomes = (0..index.len()).map(|_| Ok(())).collect();
        Batch {
            index,
            last,
            outcomes,
        }
    }

    /// Takes a received message; says whether the batch is over (the last
    /// request has been answered). Messages of other requests are skipped.
    fn take(&mut self, m: &Nlmsghdr<u16, Buffer>) -> bool {
        let seq = *m.nl_seq();
        let Some(&i) = self.index.get(&seq) else {
            return false;
        };
        let answered = match Replies::new(seq).take(m) {
            Ok(answer) => answer.is_some(),
            Err(e) => {
                if let Some(slot) = self.outcomes.get_mut(i) {
                    *slot = Err(e);
                }
                true
            }
        };
        answered && Some(seq) == self.last
    }

    /// Each request's outcome, in order.
    fn into_outcomes(self) -> Vec<Result<(), Error>> {
        self.outcomes
    }
}

/// Runs `attempt`, a whole dump, until one completes uninterrupted, at most
/// [`DUMP_ATTEMPTS`] times: a torn dump is never returned (`uoamap apply`
/// diffs against it). An error ends the tries at once; after the last
/// interrupted one, the error is [`Error::DumpInterrupted`].
pub fn retry_dump<P, E: From<Error>>(
    mut attempt: impl FnMut() -> Result<Outcome<P>, E>,
) -> Result<Vec<P>, E> {
    for _ in 0..DUMP_ATTEMPTS {
        if let Outcome::Complete(msgs) = attempt()? {
            return Ok(msgs);
        }
    }
    Err(Error::DumpInterrupted.into())
}

#[cfg(test)]
mod tests;

/// The attributes in `bytes` (the attributes of a message, or the nested
/// payload of `what`) as (type without its flags, payload), read in place:
/// neli's types take an allocation per attribute, which dumps of tens of
/// thousands of entries, addresses or counters feel. A malformed one is
/// an error naming `what`, the type and the byte.
pub fn attributes<'a>(what: &str, mut bytes: &'a [u8]) -> Result<Vec<(u16, &'a [u8])>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while !bytes.is_empty() {
        if bytes.len() < NLA_HDRLEN {
            return Err(format!("{what}: {} stray bytes at byte {at}", bytes.len()));
        }
        let len = usize::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > bytes.len() {
            return Err(format!(
                "{what}: attribute {kind} at byte {at} has length {len} with {} bytes left",
                bytes.len()
            ));
        }
        out.push((kind, &bytes[NLA_HDRLEN..len]));
        let next = len.next_multiple_of(4).min(bytes.len());
        at += next;
        bytes = &bytes[next..];
    }
    Ok(out)
}

/// Appends one attribute to `buf`: u16 length (header and payload), u16
/// type, the payload, zeros up to a multiple of 4. The writing side of
/// [`attributes`], for nests built as bytes.
pub fn put_attribute(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) -> Result<(), String> {
    let len = u16::try_from(NLA_HDRLEN + payload.len())
        .map_err(|_| format!("attribute {kind}: {} bytes is too long", payload.len()))?;
    buf.extend(len.to_ne_bytes());
    buf.extend(kind.to_ne_bytes());
    buf.extend(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
    Ok(())
}
