//! The replies of one request, as the socket reads them. Most messages here
//! carry raw payloads (`Buffer`, as uoa-rtnl reads them); one dump carries
//! the uoa family's messages, as this crate reads them.

use super::*;
use crate::{
    entries_from_msg,
    tests::attr,
    uapi::{EntryAttr, UoaAttr, UoaCmd, GENL_VERSION},
    UoaMsg,
};
use std::io::Cursor;

const MULTI: u16 = NlmF::MULTI.bits();
const DUMP_INTR: u16 = NlmF::DUMP_INTR.bits();
/// A type of data message: RTM_NEWROUTE, or a generic netlink family.
const DATA: u16 = 24;

/// A netlink message's bytes: header, then payload.
fn raw(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
    b.extend(ty.to_ne_bytes());
    b.extend(flags.to_ne_bytes());
    b.extend(seq.to_ne_bytes());
    b.extend(4242u32.to_ne_bytes());
    b.extend(payload);
    b
}

/// A netlink message as the socket reads it.
fn nlmsg<P>(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Nlmsghdr<u16, P>
where
    P: Size + FromBytesWithInput<Input = usize>,
{
    neli::FromBytes::from_bytes(&mut Cursor::new(raw(ty, flags, seq, payload)))
        .expect("netlink message")
}

/// A dump message of request `seq`, told apart by `id`.
fn data(flags: u16, seq: u32, id: u8) -> Nlmsghdr<u16, Buffer> {
    nlmsg(DATA, MULTI | flags, seq, &[id, 0, 0, 0])
}

/// NLMSG_DONE as the kernel ends a dump: the dump's result, an int.
fn done<P>(flags: u16, seq: u32, code: i32) -> Nlmsghdr<u16, P>
where
    P: Size + FromBytesWithInput<Input = usize>,
{
    nlmsg(NLMSG_DONE, MULTI | flags, seq, &code.to_ne_bytes())
}

/// The header of the request that an NLMSG_ERROR (or its ack) quotes.
fn quoted_request(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
    p.extend(DATA.to_ne_bytes());
    p.extend(0x0605u16.to_ne_bytes());
    p.extend(seq.to_ne_bytes());
    p.extend(4242u32.to_ne_bytes());
    p.extend(payload);
    p
}

/// NLMSG_ERROR for request `seq`, with `message` as NLMSGERR_ATTR_MSG if
/// given, as the kernel sends it with ext acks on.
fn error_msg(seq: u32, errno: i32, message: Option<&str>) -> Nlmsghdr<u16, Buffer> {
    let mut p = (-errno).to_ne_bytes().to_vec();
    p.extend(quoted_request(
        seq,
        &[2, 16, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0],
    ));
    let mut flags = 0;
    if let Some(m) = message {
        let mut text = m.as_bytes().to_vec();
        text.push(0);
        p.extend(attr(1, &text));
        flags = 0x200; // NLM_F_ACK_TLVS
    }
    nlmsg(2, flags, seq, &p)
}

/// The ack of request `seq`, with NLM_F_CAPPED and `flags`.
fn ack(flags: u16, seq: u32) -> Nlmsghdr<u16, Buffer> {
    let mut p = 0i32.to_ne_bytes().to_vec();
    p.extend(quoted_request(seq, &[]));
    nlmsg(2, 0x100 | flags, seq, &p)
}

/// Feeds `msgs` to [`Replies`] as [`exchange`] does.
fn collect<P: Clone>(seq: u32, msgs: &[Nlmsghdr<u16, P>]) -> Result<Outcome<P>, Error> {
    let mut replies = Replies::new(seq);
    for m in msgs {
        if let Some(outcome) = replies.take(m)? {
            return Ok(outcome);
        }
    }
    panic!("the replies ended before the request did");
}

fn ids(outcome: Outcome<Buffer>) -> Vec<u8> {
    match outcome {
        Outcome::Complete(msgs) => msgs.iter().map(|b| b.as_ref()[0]).collect(),
        Outcome::Interrupted => panic!("interrupted"),
    }
}

#[test]
fn an_ack_ends_a_request() {
    let outcome = collect(3, &[ack(0, 2), ack(0, 3)]).unwrap();
    assert!(matches!(outcome, Outcome::Complete(m) if m.is_empty()));
}

#[test]
fn errors_keep_the_errno_and_the_extack_message() {
    let e = collect(5, &[error_msg(5, 1, Some("table 100 belongs to uid 1012"))]).unwrap_err();
    assert_eq!(
        e,
        Error::Kernel {
            errno: 1,
            message: Some("table 100 belongs to uid 1012".into())
        }
    );
    assert_eq!(
        e.to_string(),
        "table 100 belongs to uid 1012 (Operation not permitted (os error 1))"
    );
    // A stock kernel's EPERM has no message.
    let e = collect(5, &[error_msg(5, 1, None)]).unwrap_err();
    assert_eq!(
        e,
        Error::Kernel {
            errno: 1,
            message: None
        }
    );
    assert_eq!(e.to_string(), "Operation not permitted (os error 1)");
    // Another request's error is not ours.
    let e = collect(5, &[error_msg(4, 17, None), error_msg(5, 22, None)]).unwrap_err();
    assert!(matches!(e, Error::Kernel { errno: 22, .. }));
}

/// Feeds `msgs` to a [`Batch`] of requests `seqs` as [`exchange_all`]
/// does; the outcomes once it is over, or None if the messages ran out.
fn batch(seqs: &[u32], msgs: &[Nlmsghdr<u16, Buffer>]) -> Option<Vec<Result<(), Error>>> {
    let mut b = Batch::new(seqs.iter().copied());
    for m in msgs {
        if b.take(m) {
            return Some(b.into_outcomes());
        }
    }
    None
}

#[test]
fn a_batch_ends_with_its_last_requests_answer() {
    // Silence is success; the last one's ack ends the batch.
    assert_eq!(
        batch(&[7, 8, 9], &[ack(0, 9)]),
        Some(vec![Ok(()), Ok(()), Ok(())])
    );
    // Errors come before, each for its own request; others' are skipped.
    let out = batch(
        &[7, 8, 9],
        &[
            error_msg(8, 17, Some("exists")),
            error_msg(3, 1, None),
            ack(0, 9),
        ],
    )
    .unwrap();
    assert_eq!(out[0], Ok(()));
    assert_eq!(
        out[1],
        Err(Error::Kernel {
            errno: 17,
            message: Some("exists".into())
        })
    );
    assert_eq!(out[2], Ok(()));
    // The last one's error ends it too.
    let out = batch(&[7, 8, 9], &[error_msg(9, 22, None)]).unwrap();
    assert!(matches!(out[2], Err(Error::Kernel { errno: 22, .. })));
    // An error of an earlier request does not.
    assert_eq!(batch(&[7, 8, 9], &[error_msg(7, 22, None)]), None);
}

#[test]
fn a_dump_is_read_up_to_done_skipping_other_requests() {
    let msgs = [
        data(0, 6, 1),
        data(0, 7, 9),
        data(0, 6, 2),
        done(0, 7, 0),
        done(0, 6, 0),
        data(0, 6, 3),
    ];
    assert_eq!(ids(collect(6, &msgs).unwrap()), [1, 2]);
    // NLMSG_DONE without a payload ends the dump too.
    let msgs = [data(0, 6, 1), nlmsg(NLMSG_DONE, MULTI, 6, &[])];
    assert_eq!(ids(collect(6, &msgs).unwrap()), [1]);
}

#[test]
fn netlinks_own_messages_are_not_replies() {
    // NLMSG_NOOP and NLMSG_OVERRUN are skipped; an NLMSG_DONE without
    // NLM_F_MULTI, which neli reads as a payload, still ends the dump.
    let msgs = [
        data(0, 6, 1),
        nlmsg(1, MULTI, 6, &[7, 0, 0, 0]),
        nlmsg(4, MULTI, 6, &[8, 0, 0, 0]),
        data(0, 6, 2),
        nlmsg(NLMSG_DONE, 0, 6, &0i32.to_ne_bytes()),
        data(0, 6, 3),
    ];
    assert_eq!(ids(collect(6, &msgs).unwrap()), [1, 2]);
}

#[test]
fn a_flagged_message_makes_the_dump_interrupted() {
    // Flagged in the middle: the rest is still read, then dropped.
    let msgs = [
        data(0, 6, 1),
        data(DUMP_INTR, 6, 2),
        data(0, 6, 3),
        done(0, 6, 0),
    ];
    let mut replies = Replies::new(6);
    for m in &msgs[..3] {
        assert!(
            replies.take(m).unwrap().is_none(),
            "ended before NLMSG_DONE"
        );
    }
    assert!(matches!(
        replies.take(&msgs[3]).unwrap(),
        Some(Outcome::Interrupted)
    ));
    // Flagged on NLMSG_DONE only.
    let msgs = [data(0, 6, 1), done(DUMP_INTR, 6, 0)];
    assert!(matches!(collect(6, &msgs).unwrap(), Outcome::Interrupted));
    // The flag on another request's message does not count.
    let msgs = [data(DUMP_INTR, 5, 1), done(0, 6, 0)];
    assert!(matches!(collect(6, &msgs).unwrap(), Outcome::Complete(m) if m.is_empty()));
}

#[test]
fn a_failed_dump_is_an_error_even_if_interrupted() {
    let msgs = [data(0, 6, 1), done(0, 6, -22)];
    assert!(matches!(
        collect(6, &msgs),
        Err(Error::Kernel { errno: 22, .. })
    ));
    let msgs = [data(DUMP_INTR, 6, 1), done(0, 6, -1)];
    assert!(matches!(
        collect(6, &msgs),
        Err(Error::Kernel { errno: 1, .. })
    ));
}

#[test]
fn a_request_that_is_not_a_dump_must_not_be_flagged() {
    let outcome = collect(4, &[ack(0, 4)]).unwrap();
    assert_eq!(outcome.complete().unwrap(), Vec::<Buffer>::new());
    let outcome = collect(4, &[ack(DUMP_INTR, 4)]).unwrap();
    assert_eq!(outcome.complete().unwrap_err(), Error::DumpInterrupted);
}

#[test]
fn an_interrupted_dump_is_retried_from_scratch() {
    // The data changes during the first two dumps, then holds still.
    let dumps = [
        vec![data(0, 1, 1), data(DUMP_INTR, 1, 2), done(0, 1, 0)],
        vec![data(0, 2, 1), done(DUMP_INTR, 2, 0)],
        vec![data(0, 3, 21), data(0, 3, 22), done(0, 3, 0)],
    ];
    let mut tries = 0;
    let msgs = retry_dump(|| {
        tries += 1;
        collect(tries, &dumps[tries as usize - 1])
    })
    .unwrap();
    assert_eq!(tries, 3);
    assert_eq!(ids(Outcome::Complete(msgs)), [21, 22]);
}

#[test]
fn a_dump_that_keeps_being_interrupted_fails() {
    let mut tries = 0;
    let err = retry_dump(|| {
        tries += 1;
        collect(tries, &[data(DUMP_INTR, tries, 1), done(0, tries, 0)])
    })
    .unwrap_err();
    assert_eq!(tries as usize, DUMP_ATTEMPTS);
    assert_eq!(err, Error::DumpInterrupted);
    // An error ends the retries at once.
    let mut tries = 0;
    let err = retry_dump::<Buffer, _>(|| {
        tries += 1;
        Err(Error::Kernel {
            errno: 1,
            message: None,
        })
    })
    .unwrap_err();
    assert_eq!(tries, 1);
    assert!(matches!(err, Error::Kernel { errno: 1, .. }));
}

/// A GET_ENTRIES dump message carrying one host entry of `uid`.
fn entry_msg(flags: u16, seq: u32, last_octet: u8, uid: u32) -> Nlmsghdr<u16, UoaMsg> {
    let mut inner = attr(EntryAttr::Addr.into(), &[10, 1, 3, last_octet]);
    inner.extend(attr(EntryAttr::Prefixlen.into(), &[32]));
    inner.extend(attr(EntryAttr::Uid.into(), &uid.to_ne_bytes()));
    inner.extend(attr(EntryAttr::Table.into(), &(uid + 1000).to_ne_bytes()));
    let mut genl = vec![UoaCmd::GetEntries.into(), GENL_VERSION, 0, 0];
    genl.extend(attr(u16::from(UoaAttr::Entry) | 0x8000, &inner));
    nlmsg(0x1d, MULTI | flags, seq, &genl)
}

#[test]
fn replies_of_the_uoa_family_are_its_messages() {
    let msgs = [
        entry_msg(0, 6, 1, 1011),
        entry_msg(0, 7, 9, 9999),
        entry_msg(0, 6, 2, 1012),
        done(0, 6, 0),
    ];
    let Outcome::Complete(msgs) = collect(6, &msgs).unwrap() else {
        panic!("interrupted")
    };
    let uids: Vec<u32> = msgs
        .iter()
        .flat_map(|m| entries_from_msg(m).unwrap())
        .map(|e| e.uid)
        .collect();
    assert_eq!(uids, [1011, 1012]);
    let msgs = [entry_msg(0, 6, 1, 1011), done(DUMP_INTR, 6, 0)];
    assert!(matches!(collect(6, &msgs).unwrap(), Outcome::Interrupted));
}

#[test]
fn the_kernels_refusal_reads_message_then_errno() {
    assert_eq!(
        kernel_error_text(22, Some("Unknown attribute type")),
        "Unknown attribute type (Invalid argument (os error 22))"
    );
    assert_eq!(
        kernel_error_text(1, None),
        "Operation not permitted (os error 1)"
    );
}

#[test]
fn a_capped_error_keeps_its_extack_message() {
    // As the kernel sends an error with NETLINK_CAP_ACK: the quoted header
    // alone, its length still counting the 12 bytes of payload left out.
    let mut p = (-17i32).to_ne_bytes().to_vec();
    p.extend(&quoted_request(5, &[0; 12])[..16]);
    p.extend(attr(1, b"10.1.3.0/24 overlaps 10.1.3.1 of uid 1011\0"));
    // After a 3-byte payload, padded to 4 in the datagram.
    let mut datagram = raw(DATA, MULTI, 5, &[1, 2, 3]);
    datagram.push(0);
    datagram.extend(raw(2, 0x100 | 0x200, 5, &p));
    let msgs = parse_datagram(&datagram).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        collect(5, &msgs).unwrap_err(),
        Error::Kernel {
            errno: 17,
            message: Some("10.1.3.0/24 overlaps 10.1.3.1 of uid 1011".into())
        }
    );
    // An uncapped error (a kernel that ignores the option) reads the same.
    let datagram = raw(2, 0, 5, &{
        let mut p = (-17i32).to_ne_bytes().to_vec();
        p.extend(quoted_request(5, &[0; 12]));
        p
    });
    let msgs = parse_datagram(&datagram).unwrap();
    assert!(matches!(
        collect(5, &msgs),
        Err(Error::Kernel {
            errno: 17,
            message: None
        })
    ));
}

#[test]
fn a_malformed_datagram_is_an_error() {
    // A length past the datagram's end, and one shorter than a header.
    for len in [64u32, 8] {
        let mut d = raw(DATA, 0, 1, &[0; 4]);
        d[..4].copy_from_slice(&len.to_ne_bytes());
        assert!(matches!(parse_datagram(&d), Err(Error::Netlink(_))));
    }
}
