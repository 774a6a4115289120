// SPDX-License-Identifier: GPL-2.0

//! The `uoa` generic netlink family (`include/uapi/linux/uoa.h`).

use crate::{
    cstatic::{CConst, CStatic},
    netlink::{Attr, Dump, Extack, Request, Writer},
    netns::{self, NetState},
    policy::{route, shaping, Entry, Prefix, Replace},
    store::{Counters, Snapshot, Update},
    VERSION,
};
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

use bindings::{
    uoa_attr_UOA_A_CLASS as A_CLASS, uoa_attr_UOA_A_COUNTERS as A_COUNTERS,
    uoa_attr_UOA_A_ENTRY as A_ENTRY, uoa_attr_UOA_A_FLAGS as A_FLAGS,
    uoa_attr_UOA_A_OPTIONS as A_OPTIONS, uoa_attr_UOA_A_PAD as A_PAD,
    uoa_attr_UOA_A_ROUTE_LIMIT as A_ROUTE_LIMIT, uoa_attr_UOA_A_UID as A_UID,
    uoa_counter_attr_UOA_A_COUNTER_BINDS_DENIED as C_BINDS_DENIED,
    uoa_counter_attr_UOA_A_COUNTER_CLASS as C_CLASS,
    uoa_counter_attr_UOA_A_COUNTER_PACKETS_DROPPED as C_PACKETS_DROPPED,
    uoa_counter_attr_UOA_A_COUNTER_PAD as C_PAD, uoa_counter_attr_UOA_A_COUNTER_ROUTES as C_ROUTES,
    uoa_counter_attr_UOA_A_COUNTER_ROUTES_CHANGED as C_ROUTES_CHANGED,
    uoa_counter_attr_UOA_A_COUNTER_ROUTES_REFUSED as C_ROUTES_REFUSED,
    uoa_counter_attr_UOA_A_COUNTER_ROUTE_LIMIT as C_ROUTE_LIMIT,
    uoa_counter_attr_UOA_A_COUNTER_SOURCES_DENIED as C_SOURCES_DENIED,
    uoa_counter_attr_UOA_A_COUNTER_SOURCES_REWRITTEN as C_SOURCES_REWRITTEN,
    uoa_counter_attr_UOA_A_COUNTER_UID as C_UID, uoa_entry_attr_UOA_A_ENTRY_ADDR as E_ADDR,
    uoa_entry_attr_UOA_A_ENTRY_FLAGS as E_FLAGS, uoa_entry_attr_UOA_A_ENTRY_IFINDEX as E_IFINDEX,
    uoa_entry_attr_UOA_A_ENTRY_PREFIXLEN as E_PREFIXLEN,
    uoa_entry_attr_UOA_A_ENTRY_TABLE as E_TABLE, uoa_entry_attr_UOA_A_ENTRY_UID as E_UID,
};

const N_ATTRS: usize = bindings::uoa_attr___UOA_A_MAX as usize;
const N_ENTRY_ATTRS: usize = bindings::uoa_entry_attr___UOA_A_ENTRY_MAX as usize;
const CMD_GET_STATUS: u32 = bindings::uoa_cmd_UOA_CMD_GET_STATUS;
const CMD_GET_ENTRIES: u32 = bindings::uoa_cmd_UOA_CMD_GET_ENTRIES;
const CMD_SET_ENTRIES: u32 = bindings::uoa_cmd_UOA_CMD_SET_ENTRIES;
const CMD_GET_COUNTERS: u32 = bindings::uoa_cmd_UOA_CMD_GET_COUNTERS;
const CMD_SET_OPTIONS: u32 = bindings::uoa_cmd_UOA_CMD_SET_OPTIONS;
const F_REPLACE: u32 = bindings::uoa_set_flags_UOA_F_REPLACE;
const EF_REMOVE: u32 = bindings::uoa_entry_flags_UOA_EF_REMOVE;

static FAMILY: CStatic<bindings::genl_family> = CStatic::uninit();

const fn policy(kind: u32) -> bindings::nla_policy {
    // SAFETY: all-zero is NLA_UNSPEC with no validation.
    let mut p: bindings::nla_policy = unsafe { core::mem::zeroed() };
    p.type_ = kind as u8;
    p
}

/// An NLA_U32 whose bits must be within `mask`.
const fn flags_policy(mask: u32) -> bindings::nla_policy {
    let mut p = policy(bindings::NLA_U32);
    p.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_MASK as u8;
    p.__bindgen_anon_1.mask = mask;
    p
}

/// A nest validated with `inner`, of `N` entries (maximum type N - 1).
const fn nest_policy<const N: usize>(
    inner: &'static CConst<[bindings::nla_policy; N]>,
) -> bindings::nla_policy {
    let mut p = policy(bindings::NLA_NESTED);
    p.len = (N - 1) as u16;
    p.__bindgen_anon_1.nested_policy = inner.as_ptr().cast();
    p
}

/// A policy table of `N` entries: `slots` set, the rest NLA_UNSPEC, which
/// strict validation refuses in requests.
const fn table<const N: usize>(slots: &[(u32, bindings::nla_policy)]) -> [bindings::nla_policy; N] {
    let mut t = [policy(bindings::NLA_UNSPEC); N];
    let mut i = 0;
    while i < slots.len() {
        t[slots[i].0 as usize] = slots[i].1;
        i += 1;
    }
    t
}

// GET_STATUS has no policy: the core refuses every attribute.
static GET_POLICY: CConst<[bindings::nla_policy; N_ATTRS]> =
    CConst(table(&[(A_UID, policy(bindings::NLA_U32))]));
static SET_POLICY: CConst<[bindings::nla_policy; N_ATTRS]> = CConst(table(&[
    (A_UID, policy(bindings::NLA_U32)),
    (A_FLAGS, flags_policy(bindings::uoa_set_flags___UOA_F_ALL)),
    (A_ENTRY, nest_policy(&ENTRY_POLICY)),
]));
static OPTIONS_POLICY: CConst<[bindings::nla_policy; N_ATTRS]> = CConst(table(&[
    (A_OPTIONS, flags_policy(bindings::uoa_options___UOA_OPT_ALL)),
    (A_ROUTE_LIMIT, policy(bindings::NLA_U32)),
    (A_CLASS, policy(bindings::NLA_U32)),
    (A_UID, policy(bindings::NLA_U32)),
]));
static ENTRY_POLICY: CConst<[bindings::nla_policy; N_ENTRY_ATTRS]> = CConst(table(&[
    // At most 16 bytes; 4 or 16 is checked when parsing.
    (
        E_ADDR,
        bindings::nla_policy {
            len: 16,
            ..policy(bindings::NLA_BINARY)
        },
    ),
    (E_PREFIXLEN, policy(bindings::NLA_U8)),
    (E_UID, policy(bindings::NLA_U32)),
    (E_TABLE, policy(bindings::NLA_U32)),
    (E_IFINDEX, policy(bindings::NLA_U32)),
    (
        E_FLAGS,
        flags_policy(bindings::uoa_entry_flags___UOA_EF_ALL),
    ),
]));

// Each op's maximum attribute type: its policy's reach.
const GET_MAXATTR: u32 = A_UID;
const SET_MAXATTR: u32 = (N_ATTRS - 1) as u32;
const OPTIONS_MAXATTR: u32 = A_CLASS;

const fn op(
    cmd: u32,
    policy: Option<&'static CConst<[bindings::nla_policy; N_ATTRS]>>,
    maxattr: u32,
) -> bindings::genl_ops {
    // SAFETY: all-zero is an op with no handlers, policy or flags.
    let mut o: bindings::genl_ops = unsafe { core::mem::zeroed() };
    o.cmd = cmd as u8;
    if let Some(p) = policy {
        o.policy = p.as_ptr().cast();
        o.maxattr = maxattr;
    }
    o
}

static OPS: CConst<[bindings::genl_ops; 5]> = CConst([
    bindings::genl_ops {
        doit: Some(get_status),
        ..op(CMD_GET_STATUS, None, 0)
    },
    bindings::genl_ops {
        dumpit: Some(get_entries),
        ..op(CMD_GET_ENTRIES, Some(&GET_POLICY), GET_MAXATTR)
    },
    // CAP_NET_ADMIN is checked in the handler, not with GENL_UNS_ADMIN_PERM,
    // so that the refusal can say why.
    bindings::genl_ops {
        doit: Some(set_entries),
        ..op(CMD_SET_ENTRIES, Some(&SET_POLICY), SET_MAXATTR)
    },
    bindings::genl_ops {
        dumpit: Some(get_counters),
        ..op(CMD_GET_COUNTERS, Some(&GET_POLICY), GET_MAXATTR)
    },
    bindings::genl_ops {
        doit: Some(set_options),
        ..op(CMD_SET_OPTIONS, Some(&OPTIONS_POLICY), OPTIONS_MAXATTR)
    },
]);

/// The registered family; dropping it unregisters it and waits for running
/// requests to finish.
pub(crate) struct Family(());

impl Family {
    pub(crate) fn register(module: &'static ThisModule) -> Result<Self> {
        let mut family = bindings::genl_family {
            version: bindings::UOA_GENL_VERSION,
            maxattr: (N_ATTRS - 1) as u32,
            ops: OPS.as_ptr().cast(),
            n_ops: OPS.0.len() as u8,
            // Every command is new: validate headers and attributes strictly.
            resv_start_op: CMD_GET_STATUS as u8,
            module: module.as_ptr(),
            ..Default::default()
        };
        for (dst, src) in family.name.iter_mut().zip(bindings::UOA_GENL_NAME.iter()) {
            *dst = *src as _;
        }
        // The store's writers take its own lock, so nothing here relies on
        // the genl mutex; parallel_ops stays 0 all the same (a set request
        // sleeps for a grace period, and dumps are cheap to serialise).
        family.set_netnsok(1);
        // SAFETY: nothing is registered yet (module init runs once), so no one
        // else reads `FAMILY` while we write it.
        unsafe { FAMILY.get().write(family) };
        // SAFETY: `FAMILY` is fully written and static, and so are the ops
        // and policies it points to; it stays registered until `drop`.
        to_result(unsafe { bindings::genl_register_family(FAMILY.get()) })?;
        Ok(Family(()))
    }
}

impl Drop for Family {
    fn drop(&mut self) {
        // SAFETY: `FAMILY` was registered by `register`, the only way to get a
        // `Family`.
        unsafe { bindings::genl_unregister_family(FAMILY.get()) };
    }
}

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn dump_len(r: Result<c_int>) -> c_int {
    r.unwrap_or_else(|e| e.to_errno())
}

/// UOA's state in the namespace of a request or dump.
fn state_of(net: *mut bindings::net) -> &'static NetState {
    // SAFETY: requests and dumps come only while the family is registered,
    // which is only while the pernet registration exists (see `Uoa`), and
    // their namespace lives while they run.
    unsafe { netns::state(net) }
}

/// doit of UOA_CMD_GET_STATUS.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn get_status(
    skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: genetlink passes this doit's request; the op has no policy.
    errno(reply_status(&unsafe { Request::new(skb, info, 0) }))
}

fn reply_status(req: &Request<'_>) -> Result {
    let net = req.net();
    let state = state_of(net);
    let requests = state.count_status_request();
    // SAFETY: `net` is alive while the request runs; its cookie is written
    // once at creation.
    let cookie = unsafe { (*net).net_cookie };
    let (entries, uids, memory) = state.store.read(|s| {
        s.map_or((0, 0, 0), |s| {
            (s.entries().len(), s.uid_count(), s.memory())
        })
    });

    let mut reply = req.reply(FAMILY.get(), CMD_GET_STATUS, 256)?;
    let w = reply.writer();
    w.put_cstr(bindings::uoa_attr_UOA_A_VERSION, VERSION)?;
    w.put_u64(bindings::uoa_attr_UOA_A_NETNS_COOKIE, cookie, A_PAD)?;
    w.put_u64(bindings::uoa_attr_UOA_A_STATUS_REQUESTS, requests, A_PAD)?;
    w.put_u32(
        bindings::uoa_attr_UOA_A_STATUS_ENTRIES,
        saturating_u32(entries),
    )?;
    w.put_u32(bindings::uoa_attr_UOA_A_STATUS_UIDS, saturating_u32(uids))?;
    w.put_u64(bindings::uoa_attr_UOA_A_STATUS_MEMORY, memory as u64, A_PAD)?;
    w.put_u32(A_OPTIONS, state.options())?;
    put_counters(w, None, &state.others)?;
    w.put_u32(A_ROUTE_LIMIT, state.route_limit())?;
    req.send(reply)
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_entry(w: &mut Writer, e: &Entry) -> Result {
    w.nest(A_ENTRY, |w| {
        let (bytes, len) = e.prefix.to_bytes();
        w.put_bytes(E_ADDR, bytes.get(..len).ok_or(EINVAL)?)?;
        w.put_u8(E_PREFIXLEN, e.prefix.len())?;
        w.put_u32(E_UID, e.uid)?;
        w.put_u32(E_TABLE, e.table)?;
        if e.ifindex != 0 {
            w.put_u32(E_IFINDEX, e.ifindex)?;
        }
        Ok(())
    })
}

/// A managed uid, for its counters: who, its table's routes and limit, and
/// its tc class (0: none).
struct UidRoutes {
    uid: u32,
    routes: u32,
    limit: u32,
    class: u32,
}

fn put_counters(w: &mut Writer, uid: Option<UidRoutes>, c: &Counters) -> Result {
    w.nest(A_COUNTERS, |w| {
        if let Some(u) = &uid {
            w.put_u32(C_UID, u.uid)?;
            w.put_u32(C_ROUTES, u.routes)?;
            w.put_u32(C_ROUTE_LIMIT, u.limit)?;
            if u.class != 0 {
                w.put_u32(C_CLASS, u.class)?;
            }
        }
        let kinds = [
            C_BINDS_DENIED,
            C_SOURCES_DENIED,
            C_SOURCES_REWRITTEN,
            C_PACKETS_DROPPED,
            C_ROUTES_CHANGED,
            C_ROUTES_REFUSED,
        ];
        for (kind, value) in kinds.into_iter().zip(c.values()) {
            w.put_u64(kind, value, C_PAD)?;
        }
        Ok(())
    })
}

/// The uid a dump may show (`None`: all), from its UOA_A_UID and the
/// caller's rights: CAP_NET_ADMIN sees any uid, others their own only.
fn dump_scope(dump: &Dump<'_>) -> Result<Option<u32>> {
    let filter = dump.attr(A_UID).map(|a| a.u32()).transpose()?;
    let caller = dump.caller_uid();
    match (dump.is_admin(), filter) {
        (true, f) => Ok(f),
        (false, None) => Ok(Some(caller)),
        (false, Some(f)) if f == caller => Ok(Some(f)),
        (false, Some(_)) => Err(dump.extack().refuse(
            None,
            EPERM,
            format_args!("only CAP_NET_ADMIN may read other uids' entries"),
        )),
    }
}

/// Runs one dumpit step under RCU: sends items `cursor..count(snapshot)`
/// as one message, as many as fit, moves the cursor and returns the message
/// length (0: done). `put` writes item `i`, or returns `None` for an item
/// the caller may not see.
fn dump_step(
    dump: &mut Dump<'_>,
    cmd: u32,
    count: impl FnOnce(&Snapshot) -> usize,
    mut put: impl FnMut(&mut Writer, &Snapshot, usize) -> Option<Result>,
) -> Result<c_int> {
    let state = state_of(dump.net());
    dump.set_generation(state.store.generation());
    let start = dump.cursor();
    state.store.read(|snapshot| {
        let Some(s) = snapshot else {
            return Ok(0);
        };
        let end = count(s);
        if start >= end {
            return Ok(0);
        }
        let Some(mut msg) = dump.message(FAMILY.get(), cmd) else {
            return Err(emsgsize_err());
        };
        let mut sent = 0;
        for i in start..end {
            if let Some(Err(_)) = put(msg.writer(), s, i) {
                break;
            }
            sent += 1;
        }
        if sent == 0 {
            msg.cancel();
            return Err(emsgsize_err());
        }
        msg.end();
        dump.set_cursor(start + sent);
        Ok(dump.len())
    })
}

/// dumpit of UOA_CMD_GET_ENTRIES.
///
/// # Safety
///
/// Called by genetlink only, with the message and callback of a dump of our
/// family.
unsafe extern "C" fn get_entries(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: genetlink passes this dumpit's buffer and callback.
    let mut dump = unsafe { Dump::new(skb, cb) };
    dump_len(dump_scope(&dump).and_then(|uid| {
        let count = |s: &Snapshot| s.entries().len();
        dump_step(&mut dump, CMD_GET_ENTRIES, count, |w, s, i| {
            let e = s.entries().get(i)?;
            uid.is_none_or(|u| u == e.uid).then(|| put_entry(w, e))
        })
    }))
}

/// dumpit of UOA_CMD_GET_COUNTERS.
///
/// # Safety
///
/// Called by genetlink only, with the message and callback of a dump of our
/// family.
unsafe extern "C" fn get_counters(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: genetlink passes this dumpit's buffer and callback.
    let mut dump = unsafe { Dump::new(skb, cb) };
    let net = dump.net();
    let default_limit = state_of(net).route_limit();
    dump_len(dump_scope(&dump).and_then(|uid| {
        dump_step(
            &mut dump,
            CMD_GET_COUNTERS,
            Snapshot::uid_count,
            |w, s, i| {
                let (u, c, set) = s.uid_info(i)?;
                uid.is_none_or(|x| x == u.uid).then(|| {
                    let routes = UidRoutes {
                        uid: u.uid,
                        // SAFETY: the dump's namespace is live; we are
                        // inside `dump_step`'s RCU read-side section.
                        routes: unsafe { bindings::uoa_table_routes(net, u.table) },
                        limit: route::route_limit(set.route_limit(), default_limit),
                        class: set.class(),
                    };
                    put_counters(w, Some(routes), c)
                })
            },
        )
    }))
}

fn emsgsize_err() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as i32))
}

/// Refuses a change without CAP_NET_ADMIN in the namespace, saying why.
fn need_admin(req: &Request<'_>, what: &str) -> Result {
    if req.is_admin() {
        return Ok(());
    }
    Err(req.extack().refuse(
        None,
        EPERM,
        format_args!("changing UOA {what} needs CAP_NET_ADMIN"),
    ))
}

/// doit of UOA_CMD_SET_ENTRIES.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn set_entries(
    skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: genetlink passes this doit's request, parsed with SET_POLICY.
    let req = unsafe { Request::new(skb, info, SET_MAXATTR) };
    errno(need_admin(&req, "entries").and_then(|()| apply_entries(&req)))
}

/// doit of UOA_CMD_SET_OPTIONS.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn set_options(
    skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: genetlink passes this doit's request, parsed with OPTIONS_POLICY.
    let req = unsafe { Request::new(skb, info, OPTIONS_MAXATTR) };
    errno(need_admin(&req, "options").and_then(|()| apply_options(&req)))
}

fn apply_options(req: &Request<'_>) -> Result {
    let extack = req.extack();
    let refuse = |e: Error, msg: core::fmt::Arguments<'_>| Err(extack.refuse(None, e, msg));
    let u32_of = |kind| req.attr(kind).map(|a| a.u32()).transpose();
    let (options, limit, uid) = (u32_of(A_OPTIONS)?, u32_of(A_ROUTE_LIMIT)?, u32_of(A_UID)?);
    let class = u32_of(A_CLASS)?;
    let state = state_of(req.net());
    // Check everything before changing anything.
    if options.is_none() && limit.is_none() && class.is_none() {
        return refuse(
            EINVAL,
            format_args!("UOA_A_OPTIONS, UOA_A_ROUTE_LIMIT or UOA_A_CLASS is required"),
        );
    }
    if let Some(c) = class {
        if uid.is_none() {
            return refuse(EINVAL, format_args!("UOA_A_CLASS needs UOA_A_UID"));
        }
        if !shaping::class_ok(c) {
            return refuse(
                EINVAL,
                format_args!("class {c:#x} is not 0 or a major:minor with both non-zero"),
            );
        }
    }
    match (limit, uid) {
        (None, Some(_)) if class.is_none() => {
            return refuse(
                EINVAL,
                format_args!("UOA_A_UID needs UOA_A_ROUTE_LIMIT or UOA_A_CLASS"),
            )
        }
        (Some(0), None) => {
            return refuse(
                EINVAL,
                format_args!("the default route limit must be at least 1"),
            )
        }
        (_, Some(u)) => {
            if state.store.set_uid(u, limit, class).is_err() {
                return refuse(ENOENT, format_args!("uid {u} is not managed"));
            }
        }
        (Some(l), None) => state.set_route_limit(l),
        (None, None) => {}
    }
    if let Some(o) = options {
        state.set_options(o);
    }
    Ok(())
}

/// One UOA_A_ENTRY of a SET_ENTRIES request: an entry to add or a prefix
/// to remove.
fn parse_entry(a: &Attr<'_>, extack: Extack) -> Result<Change> {
    let refuse = |e: Error, msg: core::fmt::Arguments<'_>| Err(extack.refuse(Some(a), e, msg));
    let t = a.nested(&ENTRY_POLICY.0, extack)?;
    let Some(addr) = t.attr(E_ADDR) else {
        return refuse(EINVAL, format_args!("entry lacks UOA_A_ENTRY_ADDR"));
    };
    let addr = addr.bytes();
    let full = if addr.len() == 4 { 32 } else { 128 };
    let len = t
        .attr(E_PREFIXLEN)
        .map(|l| l.u8())
        .transpose()?
        .unwrap_or(full);
    let prefix = match Prefix::from_bytes(addr, len) {
        Ok(p) => p,
        Err(r) => return refuse(EINVAL, format_args!("{r}")),
    };
    let u32_of = |kind| t.attr(kind).map(|v| v.u32()).transpose();
    if u32_of(E_FLAGS)?.unwrap_or(0) & EF_REMOVE != 0 {
        return Ok(Change::Remove(prefix));
    }
    let (Some(uid), Some(table)) = (u32_of(E_UID)?, u32_of(E_TABLE)?) else {
        return refuse(
            EINVAL,
            format_args!("entry {prefix} lacks UOA_A_ENTRY_UID or _TABLE"),
        );
    };
    let ifindex = u32_of(E_IFINDEX)?.unwrap_or(0);
    Ok(Change::Add(Entry {
        prefix,
        uid,
        table,
        ifindex,
    }))
}

enum Change {
    Add(Entry),
    Remove(Prefix),
}

fn apply_entries(req: &Request<'_>) -> Result {
    let extack = req.extack();
    let flags = req.attr(A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);
    let uid = req.attr(A_UID).map(|a| a.u32()).transpose()?;
    let replace = match (flags & F_REPLACE != 0, uid) {
        (false, None) => Replace::Nothing,
        (true, None) => Replace::All,
        (true, Some(u)) => Replace::Uid(u),
        (false, Some(_)) => {
            return Err(extack.refuse(None, EINVAL, format_args!("UOA_A_UID needs UOA_F_REPLACE")))
        }
    };

    let n_entries = req.all(A_ENTRY).count();
    let mut adds = KVVec::with_capacity(n_entries, GFP_KERNEL)?;
    let mut removes = KVVec::with_capacity(n_entries, GFP_KERNEL)?;
    for a in req.all(A_ENTRY) {
        match parse_entry(&a, extack)? {
            Change::Add(e) => adds.push(e, GFP_KERNEL)?,
            Change::Remove(p) => removes.push(p, GFP_KERNEL)?,
        }
    }

    let state = state_of(req.net());
    if !adds.is_empty() {
        // SAFETY: the request's namespace lives while it runs.
        unsafe { crate::local_out::enable(req.net()) };
    }
    match state.store.update(replace, &mut removes, &mut adds) {
        Ok(()) => Ok(()),
        Err(Update::Refused(r)) => {
            Err(extack.refuse(None, Error::from_errno(-r.errno()), format_args!("{r}")))
        }
        Err(Update::Error(e)) => Err(e),
    }
}
