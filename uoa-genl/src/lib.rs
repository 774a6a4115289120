//! Client for the `uoa` generic netlink family, the interface of the uoa
//! kernel module. `include/uapi/linux/uoa.h` (patches/) is the
//! specification; [`uapi`] mirrors it one to one.

pub mod uapi;

use neli::{
    attr::Attribute,
    consts::{
        nl::{NlmF, NlmsgerrAttr},
        socket::NlFamily,
    },
    err::RouterError,
    genl::{Genlmsghdr, GenlmsghdrBuilder, NoUserHeader},
    nl::{NlPayload, Nlmsghdr},
    router::synchronous::NlRouter,
    types::GenlBuffer,
    utils::Groups,
};
use serde::Serialize;
use uapi::{UoaAttr, UoaCmd, GENL_NAME, GENL_VERSION};

/// A message of the uoa family.
pub type UoaMsg = Genlmsghdr<UoaCmd, UoaAttr>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the uoa generic netlink family is not registered: is the uoa kernel module loaded?")]
    NotLoaded,
    /// The kernel refused a request; `message` is its extack text, if any.
    #[error("{}", kernel_error_text(*errno, message))]
    Kernel { errno: i32, message: Option<String> },
    #[error("malformed reply from the uoa module: {0}")]
    Reply(String),
    #[error("netlink: {0}")]
    Netlink(String),
}

fn kernel_error_text(errno: i32, message: &Option<String>) -> String {
    let os = std::io::Error::from_raw_os_error(errno);
    match message {
        Some(m) => format!("{m} ({os})"),
        None => os.to_string(),
    }
}

/// What `UOA_CMD_GET_STATUS` reports about the caller's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub version: String,
    pub netns_cookie: u64,
    pub status_requests: u64,
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
        Ok(Status {
            version,
            netns_cookie,
            status_requests,
        })
    }
}

/// A generic netlink socket bound to the uoa family, in the caller's netns.
pub struct Client {
    sock: NlRouter,
    family: u16,
}

impl Client {
    pub fn connect() -> Result<Self, Error> {
        let (sock, _) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| Error::Netlink(e.to_string()))?;
        sock.enable_ext_ack(true)
            .map_err(|e| Error::Netlink(e.to_string()))?;
        let family = match sock.resolve_genl_family(GENL_NAME) {
            Ok(id) => id,
            Err(RouterError::Nlmsgerr(e)) if -e.error() == libc_enoent() => {
                return Err(Error::NotLoaded)
            }
            Err(e) => return Err(Error::Netlink(e.to_string())),
        };
        Ok(Client { sock, family })
    }

    pub fn status(&self) -> Result<Status, Error> {
        let reply = self.request(UoaCmd::GetStatus, GenlBuffer::new())?;
        Status::from_msg(&reply)
    }

    /// Sends one request and returns its one reply message.
    fn request(
        &self,
        cmd: UoaCmd,
        attrs: GenlBuffer<UoaAttr, neli::types::Buffer>,
    ) -> Result<UoaMsg, Error> {
        let msg = GenlmsghdrBuilder::<UoaCmd, UoaAttr, NoUserHeader>::default()
            .cmd(cmd)
            .version(GENL_VERSION)
            .attrs(attrs)
            .build()
            .map_err(|e| Error::Netlink(e.to_string()))?;
        let mut replies = self
            .sock
            .send::<_, _, u16, UoaMsg>(self.family, NlmF::ACK, NlPayload::Payload(msg))
            .map_err(|e| Error::Netlink(e.to_string()))?;
        let mut found = None;
        for reply in replies.by_ref() {
            let reply: Nlmsghdr<u16, UoaMsg> = reply.map_err(kernel_error)?;
            if let NlPayload::Payload(p) = reply.nl_payload() {
                found = Some(p.clone());
            }
        }
        found.ok_or_else(|| Error::Reply(format!("no reply to {cmd:?}")))
    }
}

fn kernel_error<T, P>(e: RouterError<T, P>) -> Error
where
    T: std::fmt::Debug,
    P: std::fmt::Debug,
{
    match e {
        RouterError::Nlmsgerr(err) => {
            let message = err.ext_ack().iter().find_map(|a| {
                (*a.nla_type().nla_type() == NlmsgerrAttr::Msg).then(|| {
                    let text = String::from_utf8_lossy(a.nla_payload().as_ref());
                    text.trim_end_matches('\0').to_string()
                })
            });
            Error::Kernel {
                errno: -err.error(),
                message,
            }
        }
        other => Error::Netlink(format!("{other:?}")),
    }
}

const fn libc_enoent() -> i32 {
    2
}

#[cfg(test)]
mod tests {
    use super::*;
    use neli::FromBytesWithInput;
    use std::io::Cursor;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
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
                status_requests: 3
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
