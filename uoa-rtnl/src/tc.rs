//! Traffic control messages for per-user bandwidth shaping, built as `tc`
//! builds them, and the classes, qdiscs and filters a dump shows.
//!
//! Upload: an HTB root qdisc on the uplink, one class per user, and flower
//! filters that send a user's addresses to its class. Download: the
//! uplink's ingress qdisc redirects every packet (matchall + mirred) to an
//! IFB device, which has an HTB tree of its own.
//!
//! neli has [`Tcmsg`] and the message kinds, but none of the options of
//! HTB, flower, matchall or mirred: those are nested attributes built here
//! byte by byte at the offsets of Linux 6.12's uapi (`pkt_sched.h`,
//! `pkt_cls.h`, `tc_act/tc_mirred.h`, `gen_stats.h`). Nests carry
//! NLA_F_NESTED where iproute2 sets it (TCA_ACT_OPTIONS only): the kernel
//! reads every nest on these paths with `nla_parse_nested_deprecated`,
//! which takes one with or without the flag, and dumps its own nests
//! without it; the parsers here mask it off either way.
//!
//! The caller sends a message with [`Rtnl::call`](super::Rtnl::call), e.g.
//! `rtnl.call(Rtm::Newtclass, NlmF::CREATE | NlmF::REPLACE, &msg)`, and
//! reads a dump with [`Rtnl::dump`](super::Rtnl::dump), e.g.
//! `rtnl.dump::<Tcmsg, Tcmsg>(Rtm::Gettclass, &class_key(ifindex, 0)?)`.

use super::{attr, attributes, net, Error, NLA_HDRLEN, NLA_TYPE_MASK};
use neli::{
    consts::rtnl::{Ifla, RtAddrFamily, Tca},
    rtnl::{Ifinfomsg, IfinfomsgBuilder, Tcmsg, TcmsgBuilder},
    types::{Buffer, RtBuffer},
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `TC_H_ROOT`: the parent of a device's root qdisc.
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// `TC_H_INGRESS`: the parent of a device's ingress qdisc.
pub const TC_H_INGRESS: u32 = 0xFFFF_FFF1;
/// `ffff:`, the handle of the ingress qdisc and the parent of its filters.
pub const INGRESS_HANDLE: u32 = 0xFFFF_0000;

/// Ethernet protocols a filter matches (host order; `tcm_info` has them
/// in network order, see [`tc_info`]).
pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86DD;

// netlink.h
const NLA_F_NESTED: u16 = 0x8000;

// rtnetlink.h: TCA_*
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_STATS: u16 = 3;
const TCA_STATS2: u16 = 7;

// pkt_sched.h: HTB
const TCA_HTB_PARMS: u16 = 1;
const TCA_HTB_INIT: u16 = 2;
const TCA_HTB_RATE64: u16 = 6;
const TCA_HTB_CEIL64: u16 = 7;
/// `TC_HTB_PROTOVER`: `htb_init` refuses any other `tc_htb_glob.version`.
const TC_HTB_PROTOVER: u32 = 3;
/// `r2q`, tc's default: a class without a quantum gets rate / r2q.
const HTB_RATE2QUANTUM: u32 = 10;
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// `sizeof(struct tc_ratespec)`.
const RATESPEC_SIZE: usize = 12;
/// `sizeof(struct tc_htb_opt)`: rate, ceil, buffer, cbuffer, quantum,
/// level, prio.
const HTB_OPT_SIZE: usize = 2 * RATESPEC_SIZE + 5 * 4;
/// `PSCHED_TICKS2NS(1)` (`PSCHED_SHIFT` 6 in include/net/pkt_sched.h).
const PSCHED_TICK_NS: u128 = 64;

// gen_stats.h
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TCA_STATS_PKT64: u16 = 8;
/// `struct gnet_stats_basic` without its tail padding: bytes, packets.
const STATS_BASIC_SIZE: usize = 12;
/// `sizeof(struct gnet_stats_queue)`.
const STATS_QUEUE_SIZE: usize = 20;
/// `struct tc_stats` without its tail padding.
const TC_STATS_SIZE: usize = 36;

// pkt_cls.h
const TCA_ACT_KIND: u16 = 1;
const TCA_ACT_OPTIONS: u16 = 2;
const TC_ACT_STOLEN: i32 = 4;
const TCA_CLS_FLAGS_SKIP_HW: u32 = 1;
const TCA_MATCHALL_CLASSID: u16 = 1;
const TCA_MATCHALL_ACT: u16 = 2;
const TCA_FLOWER_CLASSID: u16 = 1;
const TCA_FLOWER_KEY_ETH_TYPE: u16 = 8;
const TCA_FLOWER_KEY_IPV4_DST: u16 = 12;
const TCA_FLOWER_KEY_IPV4_DST_MASK: u16 = 13;
const TCA_FLOWER_KEY_IPV6_DST: u16 = 16;
const TCA_FLOWER_KEY_IPV6_DST_MASK: u16 = 17;
const TCA_FLOWER_FLAGS: u16 = 22;

// tc_act/tc_mirred.h
const TCA_MIRRED_PARMS: u16 = 2;
const TCA_EGRESS_REDIR: i32 = 1;

// if_link.h
const IFLA_INFO_KIND: u16 = 1;
/// `IFNAMSIZ` less its NUL.
const IFNAME_MAX: usize = 15;

/// `major:minor`, as `TC_H_MAKE(major << 16, minor)`.
pub fn tc_handle(major: u16, minor: u16) -> u32 {
    (u32::from(major) << 16) | u32::from(minor)
}

/// The `tcm_info` of a filter: its prio above, its protocol (host order,
/// `ETH_P_*`) below in network order, as `TC_H_MAKE(prio << 16,
/// htons(protocol))` in tc.
pub fn tc_info(prio: u16, protocol: u16) -> u32 {
    (u32::from(prio) << 16) | u32::from(protocol.to_be())
}

/// The parameters of an HTB class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HtbClass {
    /// Guaranteed rate, bytes/s (above 0).
    pub rate: u64,
    /// Rate up to which it borrows from its parent, bytes/s (above 0).
    pub ceil: u64,
    /// Bytes it may send in one go beyond `rate` (above 0; tc makes it
    /// at least the MTU). The kernel takes it as the time it lasts at
    /// `rate`.
    pub burst: u32,
    /// The same beyond `ceil` (above 0).
    pub cburst: u32,
    /// Bytes a class gets per turn among its prio's; 0: the kernel takes
    /// rate / 10, kept within 1000..=200000.
    pub quantum: u32,
    /// 0 is served first; the kernel caps it at 7.
    pub prio: u32,
}

/// The root HTB qdisc `major:` of a device: unclassified packets go to
/// class `major:default_minor` (0: they go out unshaped).
pub fn htb_qdisc(ifindex: u32, major: u16, default_minor: u16) -> Result<Tcmsg, Error> {
    // struct tc_htb_glob: version, rate2quantum, defcls, debug, direct_pkts.
    let glob = words(&[
        TC_HTB_PROTOVER,
        HTB_RATE2QUANTUM,
        u32::from(default_minor),
        0,
        0,
    ]);
    let options = nla(TCA_HTB_INIT, &glob)?;
    tcmsg(
        ifindex,
        tc_handle(major, 0),
        TC_H_ROOT,
        0,
        with_kind("htb", Some(options))?,
    )
}

/// The HTB class `classid` under `parent` (the qdisc `major:0` for a top
/// class, or a class). Rates are sent with `linklayer ethernet`, so 6.12
/// wants no rate tables (RTAB/CTAB are read only for a linklayer of 0);
/// a rate above `u32::MAX` goes in TCA_HTB_RATE64/CEIL64 as well.
pub fn htb_class(
    ifindex: u32,
    classid: u32,
    parent: u32,
    class: &HtbClass,
) -> Result<Tcmsg, Error> {
    let what = format!("HTB class {}", handle_name(classid));
    if class.rate == 0 || class.ceil == 0 {
        return Err(Error::Netlink(format!(
            "{what}: rate and ceil must be above 0"
        )));
    }
    if class.burst == 0 || class.cburst == 0 {
        return Err(Error::Netlink(format!(
            "{what}: burst and cburst must be above 0"
        )));
    }
    let buffer = xmit_ticks(class.burst, class.rate)
        .ok_or_else(|| too_long(&what, class.burst, class.rate))?;
    let cbuffer = xmit_ticks(class.cburst, class.ceil)
        .ok_or_else(|| too_long(&what, class.cburst, class.ceil))?;
    let mut opt = Vec::with_capacity(HTB_OPT_SIZE);
    opt.extend(ratespec(class.rate));
    opt.extend(ratespec(class.ceil));
    // buffer, cbuffer, quantum, level (out only), prio.
    opt.extend(words(&[buffer, cbuffer, class.quantum, 0, class.prio]));
    let mut options = nla(TCA_HTB_PARMS, &opt)?;
    if class.rate > u64::from(u32::MAX) {
        options.extend(nla(TCA_HTB_RATE64, &class.rate.to_ne_bytes())?);
    }
    if class.ceil > u64::from(u32::MAX) {
        options.extend(nla(TCA_HTB_CEIL64, &class.ceil.to_ne_bytes())?);
    }
    tcmsg(
        ifindex,
        classid,
        parent,
        0,
        with_kind("htb", Some(options))?,
    )
}

/// A class by its id alone: RTM_DELTCLASS, a single RTM_GETTCLASS, or
/// (`classid` 0) a dump of every class of the device.
pub fn class_key(ifindex: u32, classid: u32) -> Result<Tcmsg, Error> {
    tcmsg(ifindex, classid, 0, 0, RtBuffer::new())
}

/// A qdisc by parent and handle: RTM_DELQDISC (`TC_H_ROOT`, 0 deletes the
/// root qdisc, `TC_H_INGRESS`, 0 the ingress one), or a dump (all 0).
pub fn qdisc_key(ifindex: u32, parent: u32, handle: u32) -> Result<Tcmsg, Error> {
    tcmsg(ifindex, handle, parent, 0, RtBuffer::new())
}

/// The ingress qdisc `ffff:` of a device, as `tc qdisc add dev X ingress`
/// sends it (6.12's `ingress_init` refuses any parent but TC_H_INGRESS).
pub fn ingress_qdisc(ifindex: u32) -> Result<Tcmsg, Error> {
    tcmsg(
        ifindex,
        INGRESS_HANDLE,
        TC_H_INGRESS,
        0,
        with_kind("ingress", None)?,
    )
}

/// The filter that sends every packet arriving on `ifindex` out of
/// `to_ifindex` (an IFB), where it can be shaped: `tc filter add dev X
/// parent ffff: protocol all prio 1 matchall action mirred egress redirect
/// dev Y`.
pub fn redirect_all(ifindex: u32, to_ifindex: u32) -> Result<Tcmsg, Error> {
    // struct tc_mirred: index, capab, action, refcnt, bindcnt, eaction,
    // ifindex.
    let mut parms = words(&[0, 0]);
    parms.extend(TC_ACT_STOLEN.to_ne_bytes());
    parms.extend(words(&[0, 0]));
    parms.extend(TCA_EGRESS_REDIR.to_ne_bytes());
    parms.extend(to_ifindex.to_ne_bytes());
    let mut action = nla(TCA_ACT_KIND, &cstr("mirred"))?;
    action.extend(nla(
        TCA_ACT_OPTIONS | NLA_F_NESTED,
        &nla(TCA_MIRRED_PARMS, &parms)?,
    )?);
    // The actions of a filter are a nest of nests typed 1, 2, ... in order.
    let actions = nla(TCA_MATCHALL_ACT, &nla(1, &action)?)?;
    tcmsg(
        ifindex,
        0,
        INGRESS_HANDLE,
        tc_info(1, ETH_P_ALL),
        with_kind("matchall", Some(actions))?,
    )
}

/// A flower filter under qdisc `parent` that sends packets to
/// `addr`/`prefix_len` into class `classid`, in software only (skip_hw).
/// Its handle is the kernel's pick; `addr`'s host bits are cleared.
pub fn flower_dst(
    ifindex: u32,
    parent: u32,
    prio: u16,
    addr: IpAddr,
    prefix_len: u8,
    classid: u32,
) -> Result<Tcmsg, Error> {
    let (protocol, dst, mask, key, key_mask) = match addr {
        IpAddr::V4(a) => {
            let mask = v4_mask(prefix_len).ok_or_else(|| bad_prefix(addr, prefix_len))?;
            (
                ETH_P_IP,
                (u32::from(a) & mask).to_be_bytes().to_vec(),
                mask.to_be_bytes().to_vec(),
                TCA_FLOWER_KEY_IPV4_DST,
                TCA_FLOWER_KEY_IPV4_DST_MASK,
            )
        }
        IpAddr::V6(a) => {
            let mask = v6_mask(prefix_len).ok_or_else(|| bad_prefix(addr, prefix_len))?;
            (
                ETH_P_IPV6,
                (u128::from(a) & mask).to_be_bytes().to_vec(),
                mask.to_be_bytes().to_vec(),
                TCA_FLOWER_KEY_IPV6_DST,
                TCA_FLOWER_KEY_IPV6_DST_MASK,
            )
        }
    };
    let mut options = nla(TCA_FLOWER_CLASSID, &classid.to_ne_bytes())?;
    options.extend(nla(TCA_FLOWER_KEY_ETH_TYPE, &protocol.to_be_bytes())?);
    options.extend(nla(key, &dst)?);
    options.extend(nla(key_mask, &mask)?);
    options.extend(nla(TCA_FLOWER_FLAGS, &TCA_CLS_FLAGS_SKIP_HW.to_ne_bytes())?);
    tcmsg(
        ifindex,
        0,
        parent,
        tc_info(prio, protocol),
        with_kind("flower", Some(options))?,
    )
}

/// A filter by its keys: RTM_DELTFILTER of filter `handle` (0: of every
/// filter of `prio`; `protocol` 0 matches any), or a dump of the filters
/// under `parent` (prio, protocol and handle 0).
pub fn filter_key(
    ifindex: u32,
    parent: u32,
    prio: u16,
    protocol: u16,
    handle: u32,
) -> Result<Tcmsg, Error> {
    tcmsg(
        ifindex,
        handle,
        parent,
        tc_info(prio, protocol),
        RtBuffer::new(),
    )
}

/// The RTM_NEWLINK payload that creates IFB device `name`, up, with
/// `txqlen` (HTB's direct queue takes its length from it). Send it with
/// NLM_F_CREATE | NLM_F_EXCL: an existing device then gives EEXIST.
pub fn ifb_link(name: &str, txqlen: u32) -> Result<Ifinfomsg, Error> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.contains('\0') {
        return Err(Error::Netlink(format!(
            "interface name {name:?}: 1 to {IFNAME_MAX} bytes without NUL"
        )));
    }
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Ifla::Ifname, Buffer::from(cstr(name)))?);
    attrs.push(attr(Ifla::Txqlen, txqlen)?);
    attrs.push(attr(
        Ifla::Linkinfo,
        Buffer::from(nla(IFLA_INFO_KIND, &cstr("ifb"))?),
    )?);
    IfinfomsgBuilder::default()
        .ifi_family(RtAddrFamily::Unspecified)
        .up()
        .rtattrs(attrs)
        .build()
        .map_err(net)
}

/// Sets a device up (RTM_SETLINK): for an IFB that was already there.
pub fn link_up(ifindex: u32) -> Result<Ifinfomsg, Error> {
    IfinfomsgBuilder::default()
        .ifi_family(RtAddrFamily::Unspecified)
        .ifi_index(ifindex_of(ifindex)?)
        .up()
        .build()
        .map_err(net)
}

/// Deletes a device (RTM_DELLINK); its qdiscs, classes and filters go
/// with it.
pub fn link_del(ifindex: u32) -> Result<Ifinfomsg, Error> {
    IfinfomsgBuilder::default()
        .ifi_family(RtAddrFamily::Unspecified)
        .ifi_index(ifindex_of(ifindex)?)
        .build()
        .map_err(net)
}

/// A class as an RTM_NEWTCLASS message shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    pub classid: u32,
    /// The parent class; `TC_H_ROOT` for a top class (HTB shows one made
    /// under its qdisc `major:0` so).
    pub parent: u32,
    pub kind: String,
    /// Bytes/s; 0 for a class of another kind than HTB.
    pub rate: u64,
    pub ceil: u64,
    /// Counters since the class was made.
    pub bytes: u64,
    pub packets: u64,
    pub drops: u32,
    pub overlimits: u32,
    /// Bytes and packets queued now.
    pub backlog: u32,
    pub qlen: u32,
}

impl ClassInfo {
    /// Reads one message of an RTM_GETTCLASS dump. Counters come from
    /// TCA_STATS2, else from the older TCA_STATS, else are 0.
    pub fn from_msg(m: &Tcmsg) -> Result<ClassInfo, Error> {
        let classid = *m.tcm_handle();
        let what = format!("class {}", handle_name(classid));
        let attrs = top_attrs(m);
        let kind = kind_of(&what, &attrs)?;
        let (mut rate, mut ceil) = (0, 0);
        if kind == "htb" {
            let options = find(&attrs, TCA_OPTIONS)
                .ok_or_else(|| reply(format!("{what}: HTB class without TCA_OPTIONS")))?;
            let options = attributes(&format!("{what}: TCA_OPTIONS"), options)?;
            let parms = find(&options, TCA_HTB_PARMS)
                .ok_or_else(|| reply(format!("{what}: TCA_OPTIONS without TCA_HTB_PARMS")))?;
            let parms = Raw::new(
                &format!("{what}: TCA_HTB_PARMS"),
                "struct tc_htb_opt",
                parms,
                HTB_OPT_SIZE,
            )?;
            rate = u64::from(parms.u32(8));
            ceil = u64::from(parms.u32(RATESPEC_SIZE + 8));
            if let Some(r) = find(&options, TCA_HTB_RATE64) {
                rate = Raw::new(&format!("{what}: TCA_HTB_RATE64"), "u64", r, 8)?.u64(0);
            }
            if let Some(c) = find(&options, TCA_HTB_CEIL64) {
                ceil = Raw::new(&format!("{what}: TCA_HTB_CEIL64"), "u64", c, 8)?.u64(0);
            }
        }
        let c = counters(&what, &attrs)?;
        Ok(ClassInfo {
            classid,
            parent: *m.tcm_parent(),
            kind,
            rate,
            ceil,
            bytes: c.bytes,
            packets: c.packets,
            drops: c.drops,
            overlimits: c.overlimits,
            backlog: c.backlog,
            qlen: c.qlen,
        })
    }
}

/// A qdisc as an RTM_NEWQDISC message shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QdiscInfo {
    /// The device it is attached to.
    pub ifindex: u32,
    pub handle: u32,
    pub parent: u32,
    pub kind: String,
}

impl QdiscInfo {
    /// Reads one message of an RTM_GETQDISC dump.
    pub fn from_msg(m: &Tcmsg) -> Result<QdiscInfo, Error> {
        let handle = *m.tcm_handle();
        let what = format!("qdisc {}", handle_name(handle));
        Ok(QdiscInfo {
            ifindex: u32::try_from(*m.tcm_ifindex())
                .map_err(|_| Error::Reply(format!("{what}: negative ifindex")))?,
            handle,
            parent: *m.tcm_parent(),
            kind: kind_of(&what, &top_attrs(m))?,
        })
    }
}

/// A filter as an RTM_NEWTFILTER message shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterInfo {
    /// 0 in the message a dump gives for each prio before its filters.
    pub handle: u32,
    pub parent: u32,
    pub prio: u16,
    /// `ETH_P_*`, host order.
    pub protocol: u16,
    pub kind: String,
    /// The class it sends to (flower and matchall).
    pub classid: Option<u32>,
    /// The destination prefix it matches (flower), host bits cleared.
    pub dst: Option<(IpAddr, u8)>,
}

impl FilterInfo {
    /// Reads one message of an RTM_GETTFILTER dump. A flower mask that is
    /// not a prefix is an error, not a filter without a destination.
    pub fn from_msg(m: &Tcmsg) -> Result<FilterInfo, Error> {
        let info = *m.tcm_info();
        let prio = (info >> 16) as u16;
        let handle = *m.tcm_handle();
        let what = format!("filter {handle:#x} of prio {prio}");
        let attrs = top_attrs(m);
        let kind = kind_of(&what, &attrs)?;
        let mut classid = None;
        let mut dst = None;
        if let (Some(options), "flower" | "matchall") = (find(&attrs, TCA_OPTIONS), kind.as_str()) {
            let options = attributes(&format!("{what}: TCA_OPTIONS"), options)?;
            // TCA_FLOWER_CLASSID and TCA_MATCHALL_CLASSID are both 1.
            debug_assert_eq!(TCA_FLOWER_CLASSID, TCA_MATCHALL_CLASSID);
            if let Some(c) = find(&options, TCA_FLOWER_CLASSID) {
                classid = Some(Raw::new(&format!("{what}: classid"), "u32", c, 4)?.u32(0));
            }
            if kind == "flower" {
                dst = flower_dst_of(&what, &options)?;
            }
        }
        Ok(FilterInfo {
            handle,
            parent: *m.tcm_parent(),
            prio,
            protocol: u16::from_be(info as u16),
            kind,
            classid,
            dst,
        })
    }
}

/// `bytes` at `rate` bytes/s in psched ticks of 64 ns, rounded up as
/// iproute2's `tc_calc_xmittime` does: HTB keeps a burst as the time it
/// takes at the class's rate (`PSCHED_TICKS2NS(hopt->buffer)` in
/// `htb_change_class`), not as bytes. None if it does not fit a u32.
fn xmit_ticks(bytes: u32, rate: u64) -> Option<u32> {
    if rate == 0 {
        return None;
    }
    let ns = u128::from(bytes) * 1_000_000_000;
    u32::try_from(ns.div_ceil(u128::from(rate) * PSCHED_TICK_NS)).ok()
}

fn too_long(what: &str, bytes: u32, rate: u64) -> Error {
    Error::Netlink(format!(
        "{what}: a burst of {bytes} B at {rate} B/s takes more than 2^32 ticks of 64 ns"
    ))
}

/// `struct tc_ratespec` of `rate` bytes/s: cell_log, linklayer, overhead,
/// cell_align, mpu 0 but linklayer ethernet, rate capped at `u32::MAX`.
fn ratespec(rate: u64) -> [u8; RATESPEC_SIZE] {
    let mut spec = [0; RATESPEC_SIZE];
    spec[1] = TC_LINKLAYER_ETHERNET;
    spec[8..].copy_from_slice(&u32::try_from(rate).unwrap_or(u32::MAX).to_ne_bytes());
    spec
}

fn v4_mask(prefix_len: u8) -> Option<u32> {
    let n = u32::from(prefix_len);
    (n <= 32).then(|| u32::MAX.checked_shl(32 - n).unwrap_or(0))
}

fn v6_mask(prefix_len: u8) -> Option<u128> {
    let n = u32::from(prefix_len);
    (n <= 128).then(|| u128::MAX.checked_shl(128 - n).unwrap_or(0))
}

fn bad_prefix(addr: IpAddr, prefix_len: u8) -> Error {
    Error::Netlink(format!(
        "{addr}/{prefix_len}: the prefix length is too long"
    ))
}

/// The destination key of a flower filter and its mask as a prefix length.
fn flower_dst_of(what: &str, options: &[(u16, &[u8])]) -> Result<Option<(IpAddr, u8)>, Error> {
    let (key, mask_key, size, name) = if find(options, TCA_FLOWER_KEY_IPV4_DST).is_some() {
        (
            TCA_FLOWER_KEY_IPV4_DST,
            TCA_FLOWER_KEY_IPV4_DST_MASK,
            4,
            "TCA_FLOWER_KEY_IPV4_DST",
        )
    } else if find(options, TCA_FLOWER_KEY_IPV6_DST).is_some() {
        (
            TCA_FLOWER_KEY_IPV6_DST,
            TCA_FLOWER_KEY_IPV6_DST_MASK,
            16,
            "TCA_FLOWER_KEY_IPV6_DST",
        )
    } else {
        return Ok(None);
    };
    let bytes = |kind, name: &str| -> Result<Option<u128>, Error> {
        let Some(b) = find(options, kind) else {
            return Ok(None);
        };
        if b.len() != size {
            return Err(reply(format!(
                "{what}: {name} has {} bytes, not {size}",
                b.len()
            )));
        }
        Ok(Some(b.iter().fold(0u128, |v, &x| (v << 8) | u128::from(x))))
    };
    let addr = bytes(key, name)?.unwrap_or(0);
    let bits = 8 * size as u32;
    // Without a mask the key is matched whole.
    let full = u128::MAX >> (128 - bits);
    let mask = bytes(mask_key, &format!("{name}_MASK"))?.unwrap_or(full);
    // The leading ones of the mask, which must be all its ones.
    let len = (mask << (128 - bits)).leading_ones();
    if full.checked_shl(bits - len).unwrap_or(0) & full != mask {
        return Err(reply(format!(
            "{what}: {name}_MASK {mask:#x} is not a prefix"
        )));
    }
    let net = addr & mask;
    let ip = if size == 4 {
        IpAddr::V4(Ipv4Addr::from(net as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(net))
    };
    Ok(Some((ip, len as u8)))
}

/// The counters of a class or qdisc.
#[derive(Default)]
struct Counters {
    bytes: u64,
    packets: u64,
    drops: u32,
    overlimits: u32,
    backlog: u32,
    qlen: u32,
}

fn counters(what: &str, attrs: &[(u16, &[u8])]) -> Result<Counters, Error> {
    let mut c = Counters::default();
    if let Some(stats2) = find(attrs, TCA_STATS2) {
        let stats = attributes(&format!("{what}: TCA_STATS2"), stats2)?;
        if let Some(b) = find(&stats, TCA_STATS_BASIC) {
            let b = Raw::new(
                &format!("{what}: TCA_STATS_BASIC"),
                "struct gnet_stats_basic",
                b,
                STATS_BASIC_SIZE,
            )?;
            c.bytes = b.u64(0);
            c.packets = u64::from(b.u32(8));
        }
        // The kernel adds the packets as a u64 when they overflow the u32.
        if let Some(p) = find(&stats, TCA_STATS_PKT64) {
            c.packets = Raw::new(&format!("{what}: TCA_STATS_PKT64"), "u64", p, 8)?.u64(0);
        }
        if let Some(q) = find(&stats, TCA_STATS_QUEUE) {
            let q = Raw::new(
                &format!("{what}: TCA_STATS_QUEUE"),
                "struct gnet_stats_queue",
                q,
                STATS_QUEUE_SIZE,
            )?;
            // qlen, backlog, drops, requeues, overlimits.
            c.qlen = q.u32(0);
            c.backlog = q.u32(4);
            c.drops = q.u32(8);
            c.overlimits = q.u32(16);
        }
    } else if let Some(s) = find(attrs, TCA_STATS) {
        let s = Raw::new(
            &format!("{what}: TCA_STATS"),
            "struct tc_stats",
            s,
            TC_STATS_SIZE,
        )?;
        // bytes, packets, drops, overlimits, bps, pps, qlen, backlog.
        c.bytes = s.u64(0);
        c.packets = u64::from(s.u32(8));
        c.drops = s.u32(12);
        c.overlimits = s.u32(16);
        c.qlen = s.u32(28);
        c.backlog = s.u32(32);
    }
    Ok(c)
}

/// A fixed struct of a reply, read at its uapi offsets (host order) once
/// its size is checked.
struct Raw<'a> {
    bytes: &'a [u8],
}

impl<'a> Raw<'a> {
    /// `what` (of type `ty`) must have at least `size` bytes; the kernel
    /// may pad a struct at its end.
    fn new(what: &str, ty: &str, bytes: &'a [u8], size: usize) -> Result<Self, Error> {
        if bytes.len() < size {
            return Err(reply(format!(
                "{what} has {} bytes, {ty} {size}",
                bytes.len()
            )));
        }
        Ok(Raw { bytes })
    }

    fn u32(&self, at: usize) -> u32 {
        self.bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_ne_bytes)
    }

    fn u64(&self, at: usize) -> u64 {
        self.bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_ne_bytes)
    }
}

/// The attributes of a message as (type, payload), the type without its
/// flags.
fn top_attrs(m: &Tcmsg) -> Vec<(u16, &[u8])> {
    m.rtattrs()
        .iter()
        .map(|a| {
            (
                u16::from(*a.rta_type()) & NLA_TYPE_MASK,
                a.rta_payload().as_ref(),
            )
        })
        .collect()
}

/// The payload of the first attribute of `kind`.
fn find<'a>(attrs: &[(u16, &'a [u8])], kind: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p)
}

/// TCA_KIND, without its NUL.
fn kind_of(what: &str, attrs: &[(u16, &[u8])]) -> Result<String, Error> {
    let kind = find(attrs, TCA_KIND).ok_or_else(|| reply(format!("{what} has no TCA_KIND")))?;
    let kind = kind.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8(kind.to_vec())
        .map_err(|_| reply(format!("{what}: TCA_KIND {kind:?} is not UTF-8")))
}

fn reply(message: String) -> Error {
    Error::Reply(message)
}

/// A handle as tc prints it: `1:10`, hex.
fn handle_name(h: u32) -> String {
    format!("{:x}:{:x}", h >> 16, h & 0xFFFF)
}

/// One raw attribute (see [`uoa_genl::replies::put_attribute`]).
fn nla(kind: u16, payload: &[u8]) -> Result<Vec<u8>, Error> {
    let mut v = Vec::with_capacity((NLA_HDRLEN + payload.len()).next_multiple_of(4));
    uoa_genl::replies::put_attribute(&mut v, kind, payload).map_err(Error::Netlink)?;
    Ok(v)
}

/// u32s in host order, as the uapi structs have them.
fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// A string with its NUL, as the kernel's NLA_STRING attributes are sent.
fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// TCA_KIND `kind`, then TCA_OPTIONS with the nested `options`, if any.
fn with_kind(kind: &str, options: Option<Vec<u8>>) -> Result<RtBuffer<Tca, Buffer>, Error> {
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Tca::Kind, Buffer::from(cstr(kind)))?);
    if let Some(o) = options {
        attrs.push(attr(Tca::Options, Buffer::from(o))?);
    }
    Ok(attrs)
}

fn ifindex_of(ifindex: u32) -> Result<i32, Error> {
    i32::try_from(ifindex).map_err(|_| Error::Netlink(format!("ifindex {ifindex} is out of range")))
}

/// A `struct tcmsg` of family AF_UNSPEC with its attributes.
fn tcmsg(
    ifindex: u32,
    handle: u32,
    parent: u32,
    info: u32,
    attrs: RtBuffer<Tca, Buffer>,
) -> Result<Tcmsg, Error> {
    TcmsgBuilder::default()
        .tcm_family(0)
        .tcm_ifindex(ifindex_of(ifindex)?)
        .tcm_handle(handle)
        .tcm_parent(parent)
        .tcm_info(info)
        .rtattrs(attrs)
        .build()
        .map_err(net)
}

#[cfg(test)]
#[path = "tc_tests.rs"]
mod tests;

impl super::Rtnl {
    /// Class `classid` on every device whose root qdisc is an HTB of its
    /// major, with its counters: (ifindex, class). Needs no privilege.
    pub fn class_everywhere(&self, classid: u32) -> Result<Vec<(u32, ClassInfo)>, Error> {
        use neli::consts::rtnl::Rtm;
        let mut out = Vec::new();
        let qdiscs: Vec<Tcmsg> = self.dump(Rtm::Getqdisc, &qdisc_key(0, 0, 0)?)?;
        for m in &qdiscs {
            let q = QdiscInfo::from_msg(m)?;
            if q.parent != TC_H_ROOT || q.kind != "htb" || q.handle != classid & 0xffff_0000 {
                continue;
            }
            let classes: Vec<Tcmsg> = self.dump(Rtm::Gettclass, &class_key(q.ifindex, 0)?)?;
            for c in &classes {
                let c = ClassInfo::from_msg(c)?;
                if c.classid == classid {
                    out.push((q.ifindex, c));
                }
            }
        }
        Ok(out)
    }
}
