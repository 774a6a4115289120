//! The expected bytes are laid out here by hand from the 6.12 uapi structs
//! (offsets in the comments), not with the module's own helpers.

use super::*;
use crate::{parse, payload_bytes};
use neli::{consts::rtnl::Ifla, Size, ToBytes};

fn bytes_of<P: Size + ToBytes>(m: &P) -> Vec<u8> {
    payload_bytes(m).unwrap().as_ref().to_vec()
}

/// One attribute: len, type, payload, padding to 4.
fn rta(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

/// `struct tcmsg`: family, 3 pad bytes, ifindex, handle, parent, info.
fn tcm(ifindex: i32, handle: u32, parent: u32, info: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    v.extend(ifindex.to_ne_bytes());
    v.extend(handle.to_ne_bytes());
    v.extend(parent.to_ne_bytes());
    v.extend(info.to_ne_bytes());
    v
}

fn ne(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(b[at..at + 2].try_into().unwrap())
}

fn reparse(b: Vec<u8>) -> Tcmsg {
    parse(&Buffer::from(b)).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const KIND: u16 = 1;
const OPTIONS: u16 = 2;
const STATS: u16 = 3;
const STATS2: u16 = 7;
const PAD: u16 = 9;

#[test]
fn constants_agree_with_neli_and_libc() {
    assert_eq!(u16::from(Tca::Kind), TCA_KIND);
    assert_eq!(u16::from(Tca::Options), TCA_OPTIONS);
    assert_eq!(u16::from(Tca::Stats), TCA_STATS);
    assert_eq!(u16::from(Tca::Stats2), TCA_STATS2);
    assert_eq!(u16::from(Ifla::Ifname), 3);
    assert_eq!(u16::from(Ifla::Txqlen), 13);
    assert_eq!(u16::from(Ifla::Linkinfo), 18);
    assert_eq!(NLA_TYPE_MASK, !(NLA_F_NESTED | 0x4000));
    assert_eq!(HTB_OPT_SIZE, 44);
}

#[test]
fn handles_and_filter_info() {
    assert_eq!(tc_handle(1, 0x10), 0x0001_0010);
    assert_eq!(tc_handle(0xFFFF, 0), INGRESS_HANDLE);
    assert_eq!((TC_H_ROOT, TC_H_INGRESS), (0xFFFF_FFFF, 0xFFFF_FFF1));
    // prio above, protocol below in network order, whatever the host.
    let info = tc_info(1, ETH_P_ALL);
    assert_eq!(info >> 16, 1);
    assert_eq!((info as u16).to_ne_bytes(), [0x00, 0x03]);
    let info = tc_info(0x1234, ETH_P_IPV6);
    assert_eq!(info >> 16, 0x1234);
    assert_eq!((info as u16).to_ne_bytes(), [0x86, 0xDD]);
}

#[test]
fn htb_qdisc_is_root_with_tc_htb_glob() {
    let b = bytes_of(&htb_qdisc(7, 1, 0x10).unwrap());
    // AF_UNSPEC, ifindex 7, handle 1:0, parent root, info 0.
    let mut want = tcm(7, 0x0001_0000, 0xFFFF_FFFF, 0);
    want.extend(rta(KIND, b"htb\0"));
    // tc_htb_glob: version 3, rate2quantum 10, defcls 0x10, debug,
    // direct_pkts.
    want.extend(rta(OPTIONS, &rta(2, &ne(&[3, 10, 0x10, 0, 0]))));
    assert_eq!(b, want);
    assert_eq!(b.len(), 20 + 8 + 4 + 4 + 20);
    assert_eq!(u32_at(&b, 4), 7);
    assert_eq!(u32_at(&b, 12), TC_H_ROOT);
    // TCA_OPTIONS without NLA_F_NESTED, as tc sends it; TCA_HTB_INIT.
    assert_eq!((u16_at(&b, 28), u16_at(&b, 30)), (28, 2));
    assert_eq!((u16_at(&b, 32), u16_at(&b, 34)), (24, 2));
    assert_eq!(u32_at(&b, 36 + 8), 0x10, "defcls");
}

fn class(rate: u64, ceil: u64) -> HtbClass {
    HtbClass {
        rate,
        ceil,
        burst: 1600,
        cburst: 4000,
        quantum: 1514,
        prio: 2,
    }
}

#[test]
fn htb_class_has_tc_htb_opt_at_its_offsets() {
    let c = class(1_250_000, 2_500_000);
    let b = bytes_of(&htb_class(7, tc_handle(1, 0x10), tc_handle(1, 0), &c).unwrap());
    assert_eq!(b[..20], tcm(7, 0x0001_0010, 0x0001_0000, 0));
    assert_eq!(b[20..28], rta(KIND, b"htb\0"));
    // TCA_OPTIONS { TCA_HTB_PARMS (tc_htb_opt, 44 bytes) } and nothing
    // else: no RATE64/CEIL64, no RTAB/CTAB.
    assert_eq!(b.len(), 28 + 4 + 4 + 44);
    assert_eq!((u16_at(&b, 28), u16_at(&b, 30)), (52, 2));
    assert_eq!((u16_at(&b, 32), u16_at(&b, 34)), (48, 1));
    let opt = &b[36..];
    // rate: cell_log 0, linklayer ethernet, overhead, cell_align, mpu 0,
    // rate at 8.
    assert_eq!(opt[..8], [0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(u32_at(opt, 8), 1_250_000);
    // ceil at 12.
    assert_eq!(opt[12..20], [0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(u32_at(opt, 20), 2_500_000);
    // buffer: 1600 B at 1.25 MB/s is 1.28 ms, 20000 ticks of 64 ns;
    // cbuffer: 4000 B at 2.5 MB/s is 1.6 ms, 25000 ticks.
    assert_eq!(u32_at(opt, 24), 20_000);
    assert_eq!(u32_at(opt, 28), 25_000);
    assert_eq!(u32_at(opt, 32), 1514, "quantum");
    assert_eq!(u32_at(opt, 36), 0, "level");
    assert_eq!(u32_at(opt, 40), 2, "prio");
}

#[test]
fn burst_ticks_are_64_ns_rounded_up() {
    assert_eq!(xmit_ticks(1600, 1_250_000), Some(20_000));
    // 64 B at 1 GB/s is 64 ns, one tick; 65 B is a bit more, two.
    assert_eq!(xmit_ticks(64, 1_000_000_000), Some(1));
    assert_eq!(xmit_ticks(65, 1_000_000_000), Some(2));
    assert_eq!(xmit_ticks(1, 1_000_000_000), Some(1));
    // 1 B/s: 1 s per byte, 15625000 ticks.
    assert_eq!(xmit_ticks(1, 1), Some(15_625_000));
    // 275 B at 1 B/s is over 2^32 ticks (274.9 s).
    assert_eq!(xmit_ticks(274, 1), Some(4_281_250_000));
    assert_eq!(xmit_ticks(275, 1), None);
    assert_eq!(xmit_ticks(1, 0), None);
    let mut c = class(1, 1);
    c.burst = 275;
    assert_eq!(
        htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap_err(),
        Error::Netlink(
            "HTB class 1:10: a burst of 275 B at 1 B/s takes more than 2^32 ticks of 64 ns".into()
        )
    );
}

#[test]
fn htb_class_refuses_zero_rates_and_bursts() {
    let c = HtbClass {
        rate: 0,
        ..class(1, 1)
    };
    assert_eq!(
        htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap_err(),
        Error::Netlink("HTB class 1:10: rate and ceil must be above 0".into())
    );
    let c = HtbClass {
        cburst: 0,
        ..class(1, 1)
    };
    assert_eq!(
        htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap_err(),
        Error::Netlink("HTB class 1:10: burst and cburst must be above 0".into())
    );
}

/// The nested attributes of TCA_OPTIONS of a class message: (type, payload).
fn htb_options(b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let end = 28 + usize::from(u16_at(b, 28));
    let mut at = 32;
    while at < end {
        let len = usize::from(u16_at(b, at));
        out.push((u16_at(b, at + 2), b[at + 4..at + len].to_vec()));
        at += len.next_multiple_of(4);
    }
    out
}

#[test]
fn rates_over_u32_go_in_rate64_and_ceil64() {
    // 40 and 48 Gbit/s.
    let c = HtbClass {
        burst: 1_000_000,
        cburst: 1_000_000,
        ..class(5_000_000_000, 6_000_000_000)
    };
    let b = bytes_of(&htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap());
    let opts = htb_options(&b);
    let kinds: Vec<u16> = opts.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [1, 6, 7], "PARMS, RATE64, CEIL64");
    let parms = &opts[0].1;
    assert_eq!(u32_at(parms, 8), u32::MAX);
    assert_eq!(u32_at(parms, 20), u32::MAX);
    // 1 MB at 5 GB/s is 200 us, 3125 ticks.
    assert_eq!(u32_at(parms, 24), 3125);
    assert_eq!(opts[1].1, 5_000_000_000u64.to_ne_bytes());
    assert_eq!(opts[2].1, 6_000_000_000u64.to_ne_bytes());
    // u32::MAX itself fits; one more does not.
    let b = bytes_of(&htb_class(7, 1, 0, &class(u64::from(u32::MAX), 1 << 32)).unwrap());
    let opts = htb_options(&b);
    let kinds: Vec<u16> = opts.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [1, 7]);
    assert_eq!(u32_at(&opts[0].1, 8), u32::MAX);
    assert_eq!(opts[1].1, (1u64 << 32).to_ne_bytes());
}

/// TCA_STATS2 as `gnet_stats_start_copy_compat` dumps it: BASIC
/// (gnet_stats_basic, 16 bytes with its tail padding), QUEUE.
fn stats2(bytes: u64, packets: u32, queue: [u32; 5], pkt64: Option<u64>) -> Vec<u8> {
    let mut basic = bytes.to_ne_bytes().to_vec();
    basic.extend(packets.to_ne_bytes());
    basic.extend([0; 4]);
    let mut s = rta(1, &basic);
    if let Some(p) = pkt64 {
        s.extend(rta(8, &p.to_ne_bytes()));
    }
    s.extend(rta(3, &ne(&queue)));
    rta(STATS2, &s)
}

#[test]
fn a_class_reads_back_with_its_rates_and_counters() {
    let c = class(1_250_000, 2_500_000);
    let mut b = bytes_of(&htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap());
    // The kernel's reply: a TCA_PAD before TCA_STATS2 (it aligns 64-bit
    // payloads), then the compat TCA_STATS, which STATS2 overrides.
    b.extend(rta(PAD, &[]));
    // qlen, backlog, drops, requeues, overlimits.
    b.extend(stats2(123_456_789_012, 1000, [3, 4500, 7, 1, 9], None));
    b.extend(rta(STATS, &[0xEE; 40]));
    let info = ClassInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!(
        info,
        ClassInfo {
            classid: 0x0001_0010,
            parent: 0x0001_0000,
            kind: "htb".into(),
            rate: 1_250_000,
            ceil: 2_500_000,
            bytes: 123_456_789_012,
            packets: 1000,
            drops: 7,
            overlimits: 9,
            backlog: 4500,
            qlen: 3,
        }
    );
}

#[test]
fn a_class_over_u32_reads_back_from_rate64_and_nested_flags_are_masked() {
    let c = HtbClass {
        burst: 1_000_000,
        cburst: 1_000_000,
        ..class(5_000_000_000, 6_000_000_000)
    };
    let mut b = bytes_of(&htb_class(7, 0x0001_0010, 0x0001_0000, &c).unwrap());
    // TCA_OPTIONS with NLA_F_NESTED, as a newer kernel might send it.
    b[30..32].copy_from_slice(&(2u16 | 0x8000).to_ne_bytes());
    // Packets past u32: the u32 wraps and TCA_STATS_PKT64 has them all.
    b.extend(stats2(1 << 40, 5, [0; 5], Some((1 << 32) + 5)));
    let info = ClassInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!((info.rate, info.ceil), (5_000_000_000, 6_000_000_000));
    assert_eq!((info.bytes, info.packets), (1 << 40, (1 << 32) + 5));
}

#[test]
fn counters_fall_back_to_tc_stats() {
    let mut b = tcm(7, 0x0001_0010, 0x0001_0000, 0);
    b.extend(rta(KIND, b"htb\0"));
    let mut opt = vec![0, 1, 0, 0, 0, 0, 0, 0];
    opt.extend(1000u32.to_ne_bytes());
    opt.extend([0, 1, 0, 0, 0, 0, 0, 0]);
    opt.extend(2000u32.to_ne_bytes());
    opt.extend(ne(&[20, 20, 1514, 0, 0]));
    b.extend(rta(OPTIONS, &rta(1, &opt)));
    // tc_stats: bytes, packets, drops, overlimits, bps, pps, qlen,
    // backlog (and 4 bytes of padding).
    let mut s = 77_000u64.to_ne_bytes().to_vec();
    s.extend(ne(&[70, 1, 2, 100, 1, 5, 6000, 0]));
    b.extend(rta(STATS, &s));
    let info = ClassInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!((info.rate, info.ceil), (1000, 2000));
    assert_eq!(
        (info.bytes, info.packets, info.drops, info.overlimits),
        (77_000, 70, 1, 2)
    );
    assert_eq!((info.qlen, info.backlog), (5, 6000));
}

#[test]
fn a_class_of_another_kind_has_no_rates() {
    let mut b = tcm(2, 0xFFFF_0001, TC_H_ROOT, 0);
    b.extend(rta(KIND, b"mq\0"));
    b.extend(stats2(10, 1, [0, 0, 0, 0, 0], None));
    let info = ClassInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!((info.kind.as_str(), info.rate, info.ceil), ("mq", 0, 0));
    assert_eq!((info.bytes, info.packets), (10, 1));
}

#[test]
fn malformed_class_replies_say_what_is_wrong() {
    let err = |b: Vec<u8>| ClassInfo::from_msg(&reparse(b)).unwrap_err();
    let head = || tcm(7, 0x0001_0010, 0x0001_0000, 0);

    let b = head();
    assert_eq!(err(b), Error::Reply("class 1:10 has no TCA_KIND".into()));

    let mut b = head();
    b.extend(rta(KIND, b"htb\0"));
    assert_eq!(
        err(b),
        Error::Reply("class 1:10: HTB class without TCA_OPTIONS".into())
    );

    let mut b = head();
    b.extend(rta(KIND, b"htb\0"));
    b.extend(rta(OPTIONS, &rta(6, &1u64.to_ne_bytes())));
    assert_eq!(
        err(b),
        Error::Reply("class 1:10: TCA_OPTIONS without TCA_HTB_PARMS".into())
    );

    let mut b = head();
    b.extend(rta(KIND, b"htb\0"));
    b.extend(rta(OPTIONS, &rta(1, &[0; 40])));
    assert_eq!(
        err(b),
        Error::Reply("class 1:10: TCA_HTB_PARMS has 40 bytes, struct tc_htb_opt 44".into())
    );

    // An inner length past the end of TCA_OPTIONS.
    let mut b = head();
    b.extend(rta(KIND, b"htb\0"));
    let mut inner = rta(1, &[0; 44]);
    inner[..2].copy_from_slice(&200u16.to_ne_bytes());
    b.extend(rta(OPTIONS, &inner));
    assert_eq!(
        err(b),
        Error::Reply(
            "class 1:10: TCA_OPTIONS: attribute 1 at byte 0 has length 200 with 48 bytes left"
                .into()
        )
    );

    let mut b = head();
    b.extend(rta(KIND, b"fq_codel\0"));
    b.extend(rta(STATS2, &rta(3, &[0; 12])));
    assert_eq!(
        err(b),
        Error::Reply("class 1:10: TCA_STATS_QUEUE has 12 bytes, struct gnet_stats_queue 20".into())
    );
}

#[test]
fn keys_are_bare_tcmsgs() {
    assert_eq!(
        bytes_of(&class_key(4, 0x0001_0010).unwrap()),
        tcm(4, 0x0001_0010, 0, 0)
    );
    assert_eq!(bytes_of(&class_key(4, 0).unwrap()), tcm(4, 0, 0, 0));
    assert_eq!(
        bytes_of(&qdisc_key(4, TC_H_ROOT, 0).unwrap()),
        tcm(4, 0, 0xFFFF_FFFF, 0)
    );
    let b = bytes_of(&filter_key(4, 0x0001_0000, 10, ETH_P_IP, 0x801).unwrap());
    assert_eq!(b.len(), 20);
    assert_eq!(b[..16], tcm(4, 0x801, 0x0001_0000, 0)[..16]);
    // tcm_info: protocol 0x0800 in network order, then prio 10.
    assert_eq!(u16_at(&b, 16).to_ne_bytes(), [0x08, 0x00]);
    assert_eq!(u16_at(&b, 18), 10);
    // An ifindex past i32 is not sent.
    assert!(matches!(class_key(1 << 31, 0), Err(Error::Netlink(_))));
}

#[test]
fn ingress_qdisc_is_ffff_under_tc_h_ingress() {
    let mut want = tcm(3, 0xFFFF_0000, 0xFFFF_FFF1, 0);
    want.extend(rta(KIND, b"ingress\0"));
    assert_eq!(bytes_of(&ingress_qdisc(3).unwrap()), want);
}

#[test]
fn redirect_all_is_matchall_with_mirred_egress_redirect() {
    let b = bytes_of(&redirect_all(3, 9).unwrap());
    // tc_mirred: index, capab, action TC_ACT_STOLEN, refcnt, bindcnt,
    // eaction TCA_EGRESS_REDIR, ifindex.
    let parms = ne(&[0, 0, 4, 0, 0, 1, 9]);
    let mut action = rta(1, b"mirred\0");
    action.extend(rta(2 | 0x8000, &rta(2, &parms)));
    let options = rta(2, &rta(1, &action));
    let mut want = tcm(3, 0, 0xFFFF_0000, tc_info(1, ETH_P_ALL));
    want.extend(rta(KIND, b"matchall\0"));
    want.extend(rta(OPTIONS, &options));
    assert_eq!(b, want);

    // Field by field: tcm_info is prio 1, ETH_P_ALL in network order.
    assert_eq!(b[16..20], [[0x00, 0x03], 1u16.to_ne_bytes()].concat()[..]);
    // TCA_KIND "matchall\0": 13 bytes, padded to 16.
    assert_eq!((u16_at(&b, 20), u16_at(&b, 22)), (13, 1));
    assert_eq!(b[33..36], [0, 0, 0]);
    // TCA_OPTIONS (no flag) > TCA_MATCHALL_ACT > action 1 (no flag).
    assert_eq!((u16_at(&b, 36), u16_at(&b, 38)), (60, 2));
    assert_eq!((u16_at(&b, 40), u16_at(&b, 42)), (56, 2));
    assert_eq!((u16_at(&b, 44), u16_at(&b, 46)), (52, 1));
    // TCA_ACT_KIND "mirred\0", then TCA_ACT_OPTIONS with NLA_F_NESTED.
    assert_eq!((u16_at(&b, 48), u16_at(&b, 50)), (11, 1));
    assert_eq!((u16_at(&b, 60), u16_at(&b, 62)), (36, 0x8002));
    // TCA_MIRRED_PARMS: struct tc_mirred is 28 bytes.
    assert_eq!((u16_at(&b, 64), u16_at(&b, 66)), (32, 2));
    assert_eq!(u32_at(&b, 68 + 8), 4, "action");
    assert_eq!(u32_at(&b, 68 + 20), 1, "eaction");
    assert_eq!(u32_at(&b, 68 + 24), 9, "ifindex");
    assert_eq!(b.len(), 96);

    let f = FilterInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!(
        f,
        FilterInfo {
            handle: 0,
            parent: INGRESS_HANDLE,
            prio: 1,
            protocol: ETH_P_ALL,
            kind: "matchall".into(),
            classid: None,
            dst: None,
        }
    );
}

#[test]
fn flower_dst_v4_bytes() {
    let m = flower_dst(3, 0x0001_0000, 10, ip("10.1.2.3"), 24, 0x0001_0010).unwrap();
    let b = bytes_of(&m);
    let mut options = rta(1, &0x0001_0010u32.to_ne_bytes());
    options.extend(rta(8, &[0x08, 0x00]));
    // The host bits of the address are cleared.
    options.extend(rta(12, &[10, 1, 2, 0]));
    options.extend(rta(13, &[255, 255, 255, 0]));
    options.extend(rta(22, &1u32.to_ne_bytes()));
    let mut want = tcm(3, 0, 0x0001_0000, tc_info(10, ETH_P_IP));
    want.extend(rta(KIND, b"flower\0"));
    want.extend(rta(OPTIONS, &options));
    assert_eq!(b, want);

    // Field by field: tcm_info is ETH_P_IP in network order, prio 10.
    assert_eq!(b[16..18], [0x08, 0x00]);
    assert_eq!(u16_at(&b, 18), 10);
    // TCA_KIND "flower\0": 11 bytes, padded to 12.
    assert_eq!((u16_at(&b, 20), u16_at(&b, 22), b[31]), (11, 1, 0));
    // TCA_OPTIONS without NLA_F_NESTED: 4 + 8 + 8 + 8 + 8 + 8.
    assert_eq!((u16_at(&b, 32), u16_at(&b, 34)), (44, 2));
    assert_eq!(
        (u16_at(&b, 36), u16_at(&b, 38), u32_at(&b, 40)),
        (8, 1, 0x0001_0010)
    );
    // TCA_FLOWER_KEY_ETH_TYPE: a be16, 6 bytes padded to 8.
    assert_eq!((u16_at(&b, 44), u16_at(&b, 46)), (6, 8));
    assert_eq!(b[48..52], [0x08, 0x00, 0, 0]);
    assert_eq!((u16_at(&b, 52), u16_at(&b, 54)), (8, 12));
    assert_eq!(b[56..60], [10, 1, 2, 0]);
    assert_eq!((u16_at(&b, 60), u16_at(&b, 62)), (8, 13));
    assert_eq!(b[64..68], [255, 255, 255, 0]);
    // TCA_FLOWER_FLAGS: TCA_CLS_FLAGS_SKIP_HW.
    assert_eq!((u16_at(&b, 68), u16_at(&b, 70), u32_at(&b, 72)), (8, 22, 1));
    assert_eq!(b.len(), 76);
}

#[test]
fn flower_dst_v6_bytes() {
    let m = flower_dst(3, 0x0001_0000, 20, ip("2001:db8:20::5"), 48, 0x0001_0020).unwrap();
    let b = bytes_of(&m);
    let mut dst = [0u8; 16];
    dst[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x20]);
    let mut mask = [0u8; 16];
    mask[..6].fill(0xFF);
    let mut options = rta(1, &0x0001_0020u32.to_ne_bytes());
    options.extend(rta(8, &[0x86, 0xDD]));
    options.extend(rta(16, &dst));
    options.extend(rta(17, &mask));
    options.extend(rta(22, &1u32.to_ne_bytes()));
    let mut want = tcm(3, 0, 0x0001_0000, tc_info(20, ETH_P_IPV6));
    want.extend(rta(KIND, b"flower\0"));
    want.extend(rta(OPTIONS, &options));
    assert_eq!(b, want);
    assert_eq!(b[16..18], [0x86, 0xDD]);
}

#[test]
fn flower_filters_read_back_with_their_prefix() {
    for (addr, len, net) in [
        ("10.1.2.3", 24, "10.1.2.0"),
        ("10.1.2.3", 32, "10.1.2.3"),
        ("10.1.2.3", 1, "0.0.0.0"),
        ("10.1.2.3", 0, "0.0.0.0"),
        ("2001:db8:20::5", 48, "2001:db8:20::"),
        ("2001:db8:20::5", 128, "2001:db8:20::5"),
        ("2001:db8:20::5", 65, "2001:db8:20::"),
        ("::1", 0, "::"),
    ] {
        let m = flower_dst(3, 0x0001_0000, 10, ip(addr), len, 0x0001_0010).unwrap();
        let mut b = bytes_of(&m);
        // A dump gives the filter its handle.
        b[8..12].copy_from_slice(&0x801u32.to_ne_bytes());
        let f = FilterInfo::from_msg(&reparse(b)).unwrap();
        let protocol = if ip(addr).is_ipv4() {
            ETH_P_IP
        } else {
            ETH_P_IPV6
        };
        assert_eq!(
            f,
            FilterInfo {
                handle: 0x801,
                parent: 0x0001_0000,
                prio: 10,
                protocol,
                kind: "flower".into(),
                classid: Some(0x0001_0010),
                dst: Some((ip(net), len)),
            },
            "{addr}/{len}"
        );
    }
}

#[test]
fn flower_refuses_a_prefix_longer_than_the_address() {
    assert_eq!(
        flower_dst(3, 0x0001_0000, 10, ip("10.0.0.0"), 33, 1).unwrap_err(),
        Error::Netlink("10.0.0.0/33: the prefix length is too long".into())
    );
    assert!(flower_dst(3, 0x0001_0000, 10, ip("::"), 129, 1).is_err());
    assert!(flower_dst(3, 0x0001_0000, 10, ip("::"), 128, 1).is_ok());
}

/// A dumped flower filter 0x1 of prio 10 with `options`.
fn dumped_flower(options: &[Vec<u8>]) -> Result<FilterInfo, Error> {
    let mut b = tcm(3, 1, 0x0001_0000, tc_info(10, ETH_P_IP));
    b.extend(rta(KIND, b"flower\0"));
    b.extend(rta(OPTIONS, &options.concat()));
    FilterInfo::from_msg(&reparse(b))
}

#[test]
fn dumped_flower_filters_odd_and_malformed() {
    // A mask that is not a prefix.
    assert_eq!(
        dumped_flower(&[rta(12, &[10, 0, 1, 0]), rta(13, &[255, 0, 255, 0])]).unwrap_err(),
        Error::Reply(
            "filter 0x1 of prio 10: TCA_FLOWER_KEY_IPV4_DST_MASK 0xff00ff00 is not a prefix".into()
        )
    );
    // An address of the wrong size.
    assert_eq!(
        dumped_flower(&[rta(16, &[0; 4]), rta(17, &[0xFF; 16])]).unwrap_err(),
        Error::Reply("filter 0x1 of prio 10: TCA_FLOWER_KEY_IPV6_DST has 4 bytes, not 16".into())
    );
    // Without a mask, the whole address.
    let f = dumped_flower(&[rta(12, &[10, 0, 1, 7])]).unwrap();
    assert_eq!(f.dst, Some((ip("10.0.1.7"), 32)));
    // Without a class or a destination (another filter's keys only).
    let f = dumped_flower(&[rta(8, &[0x08, 0x00]), rta(22, &1u32.to_ne_bytes())]).unwrap();
    assert_eq!((f.classid, f.dst), (None, None));
    // The message a dump gives for a prio before its filters: no options.
    let mut b = tcm(3, 0, 0x0001_0000, tc_info(10, ETH_P_IP));
    b.extend(rta(KIND, b"flower\0"));
    let f = FilterInfo::from_msg(&reparse(b)).unwrap();
    assert_eq!(
        (
            f.handle,
            f.prio,
            f.protocol,
            f.kind.as_str(),
            f.classid,
            f.dst
        ),
        (0, 10, ETH_P_IP, "flower", None, None)
    );
}

#[test]
fn qdiscs_read_back() {
    let q = QdiscInfo::from_msg(&reparse(bytes_of(&htb_qdisc(7, 1, 0x10).unwrap()))).unwrap();
    assert_eq!(
        q,
        QdiscInfo {
            ifindex: 7,
            handle: 0x0001_0000,
            parent: TC_H_ROOT,
            kind: "htb".into()
        }
    );
    let q = QdiscInfo::from_msg(&reparse(bytes_of(&ingress_qdisc(3).unwrap()))).unwrap();
    assert_eq!(
        (q.handle, q.parent, q.kind.as_str()),
        (INGRESS_HANDLE, TC_H_INGRESS, "ingress")
    );
    let mut b = tcm(3, 0, TC_H_ROOT, 0);
    b.extend(rta(KIND, &[0xFF, 0xFE, 0]));
    assert_eq!(
        QdiscInfo::from_msg(&reparse(b)).unwrap_err(),
        Error::Reply("qdisc 0:0: TCA_KIND [255, 254] is not UTF-8".into())
    );
}

/// `struct ifinfomsg`: family, pad, type (u16), index, flags, change.
fn ifi(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    v.extend(index.to_ne_bytes());
    v.extend(flags.to_ne_bytes());
    v.extend(change.to_ne_bytes());
    v
}

#[test]
fn ifb_link_creates_an_ifb_up() {
    let b = bytes_of(&ifb_link("uoaifb0", 1000).unwrap());
    // IFF_UP in ifi_flags and ifi_change.
    let mut want = ifi(0, 1, 1);
    want.extend(rta(3, b"uoaifb0\0"));
    want.extend(rta(13, &1000u32.to_ne_bytes()));
    want.extend(rta(18, &rta(1, b"ifb\0")));
    assert_eq!(b, want);
    assert!(ifb_link(&"x".repeat(15), 32).is_ok());
    assert_eq!(
        ifb_link(&"x".repeat(16), 32).unwrap_err(),
        Error::Netlink(format!(
            "interface name {:?}: 1 to 15 bytes without NUL",
            "x".repeat(16)
        ))
    );
    assert!(ifb_link("", 32).is_err());
    assert!(ifb_link("a\0b", 32).is_err());
}

#[test]
fn link_up_and_del_name_the_link_by_index() {
    assert_eq!(bytes_of(&link_up(9).unwrap()), ifi(9, 1, 1));
    assert_eq!(bytes_of(&link_del(9).unwrap()), ifi(9, 0, 0));
}
