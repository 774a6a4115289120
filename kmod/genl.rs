// SPDX-License-Identifier: GPL-2.0

//! The `uoa` generic netlink family (`include/uapi/linux/uoa.h`).

use crate::{
    cstatic::CStatic,
    netlink::{set_err, Attr, Attrs, DumpMsg, Reply, Writer},
    netns::{self, NetState},
    policy::{Entry, Prefix, Replace},
    store::{Counters, Snapshot, Update},
    VERSION,
};
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

use bindings::{
    uoa_attr_UOA_A_COUNTERS as A_COUNTERS, uoa_attr_UOA_A_ENTRY as A_ENTRY, uoa_attr_UOA_A_FLAGS as A_FLAGS,
    uoa_attr_UOA_A_OPTIONS as A_OPTIONS, uoa_attr_UOA_A_PAD as A_PAD, uoa_attr_UOA_A_UID as A_UID,
    uoa_counter_attr_UOA_A_COUNTER_BINDS_DENIED as C_BINDS_DENIED,
    uoa_counter_attr_UOA_A_COUNTER_PACKETS_DROPPED as C_PACKETS_DROPPED, uoa_counter_attr_UOA_A_COUNTER_PAD as C_PAD,
    uoa_counter_attr_UOA_A_COUNTER_SOURCES_DENIED as C_SOURCES_DENIED,
    uoa_counter_attr_UOA_A_COUNTER_SOURCES_REWRITTEN as C_SOURCES_REWRITTEN, uoa_counter_attr_UOA_A_COUNTER_UID as C_UID,
    uoa_entry_attr_UOA_A_ENTRY_ADDR as E_ADDR,
    uoa_entry_attr_UOA_A_ENTRY_FLAGS as E_FLAGS, uoa_entry_attr_UOA_A_ENTRY_IFINDEX as E_IFINDEX,
    uoa_entry_attr_UOA_A_ENTRY_PREFIXLEN as E_PREFIXLEN, uoa_entry_attr_UOA_A_ENTRY_TABLE as E_TABLE,
    uoa_entry_attr_UOA_A_ENTRY_UID as E_UID,
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
static OPS: CStatic<[bindings::genl_ops; 5]> = CStatic::uninit();
// Validation is strict: an attribute left NLA_UNSPEC in a command's policy
// is refused in its requests. GET_STATUS has none: the core refuses all.
static GET_POLICY: CStatic<[bindings::nla_policy; N_ATTRS]> = CStatic::uninit();
static SET_POLICY: CStatic<[bindings::nla_policy; N_ATTRS]> = CStatic::uninit();
static OPTIONS_POLICY: CStatic<[bindings::nla_policy; N_ATTRS]> = CStatic::uninit();
static ENTRY_POLICY: CStatic<[bindings::nla_policy; N_ENTRY_ATTRS]> = CStatic::uninit();

fn policy(kind: u32) -> bindings::nla_policy {
    bindings::nla_policy { type_: kind as u8, ..Default::default() }
}

fn flags_policy(mask: u32) -> bindings::nla_policy {
    let mut p = policy(bindings::NLA_U32);
    p.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_MASK as u8;
    p.__bindgen_anon_1.mask = mask;
    p
}

/// Fills the policy tables. Only called before the family is registered.
fn fill_policies() {
    let unspec = bindings::nla_policy::default();
    let mut get = [unspec; N_ATTRS];
    let mut set = [unspec; N_ATTRS];
    let mut entry = [unspec; N_ENTRY_ATTRS];
    let mut options = [unspec; N_ATTRS];
    let slot = |t: &mut [bindings::nla_policy], i: u32, p| {
        if let Some(s) = t.get_mut(i as usize) {
            *s = p;
        }
    };
    slot(&mut get, A_UID, policy(bindings::NLA_U32));
    slot(&mut set, A_UID, policy(bindings::NLA_U32));
    slot(&mut set, A_FLAGS, flags_policy(bindings::uoa_set_flags___UOA_F_ALL));
    slot(&mut options, A_OPTIONS, flags_policy(bindings::uoa_options___UOA_OPT_ALL));
    let mut nest = policy(bindings::NLA_NESTED);
    nest.len = (N_ENTRY_ATTRS - 1) as u16;
    nest.__bindgen_anon_1.nested_policy = ENTRY_POLICY.get().cast();
    slot(&mut set, A_ENTRY, nest);
    let mut addr = policy(bindings::NLA_BINARY);
    addr.len = 16; // at most; 4 or 16 is checked when parsing
    slot(&mut entry, E_ADDR, addr);
    slot(&mut entry, E_PREFIXLEN, policy(bindings::NLA_U8));
    slot(&mut entry, E_UID, policy(bindings::NLA_U32));
    slot(&mut entry, E_TABLE, policy(bindings::NLA_U32));
    slot(&mut entry, E_IFINDEX, policy(bindings::NLA_U32));
    slot(&mut entry, E_FLAGS, flags_policy(bindings::uoa_entry_flags___UOA_EF_ALL));
    // SAFETY: the family is not registered yet, so nothing reads these.
    unsafe {
        GET_POLICY.get().write(get);
        SET_POLICY.get().write(set);
        OPTIONS_POLICY.get().write(options);
        ENTRY_POLICY.get().write(entry);
    }
}

/// The registered family; dropping it unregisters it and waits for running
/// requests to finish.
pub(crate) struct Family(());

impl Family {
    pub(crate) fn register(module: &'static ThisModule) -> Result<Self> {
        fill_policies();
        let ops = [
            bindings::genl_ops { cmd: CMD_GET_STATUS as u8, doit: Some(get_status), ..Default::default() },
            bindings::genl_ops {
                cmd: CMD_GET_ENTRIES as u8,
                dumpit: Some(get_entries),
                policy: GET_POLICY.get().cast(),
                maxattr: A_UID,
                ..Default::default()
            },
            bindings::genl_ops {
                cmd: CMD_SET_ENTRIES as u8,
                doit: Some(set_entries),
                policy: SET_POLICY.get().cast(),
                maxattr: (N_ATTRS - 1) as u32,
                // CAP_NET_ADMIN is checked in the handler, not with
                // GENL_UNS_ADMIN_PERM, so that the refusal can say why.
                ..Default::default()
            },
            bindings::genl_ops {
                cmd: CMD_GET_COUNTERS as u8,
                dumpit: Some(get_counters),
                policy: GET_POLICY.get().cast(),
                maxattr: A_UID,
                ..Default::default()
            },
            bindings::genl_ops {
                cmd: CMD_SET_OPTIONS as u8,
                doit: Some(set_options),
                policy: OPTIONS_POLICY.get().cast(),
                maxattr: A_OPTIONS,
                ..Default::default()
            },
        ];
        let mut family = bindings::genl_family {
            version: bindings::UOA_GENL_VERSION,
            maxattr: (N_ATTRS - 1) as u32,
            ops: OPS.get().cast(),
            n_ops: ops.len() as u8,
            // Every command is new: validate headers and attributes strictly.
            resv_start_op: CMD_GET_STATUS as u8,
            module: module.as_ptr(),
            ..Default::default()
        };
        for (dst, src) in family.name.iter_mut().zip(bindings::UOA_GENL_NAME.iter()) {
            *dst = *src as _;
        }
        // parallel_ops stays 0: the genl mutex serialises our handlers, which
        // is what makes the store's writers exclusive.
        family.set_netnsok(1);
        // SAFETY: nothing is registered yet (module init runs once), so no one
        // else reads these statics while we write them.
        unsafe {
            OPS.get().write(ops);
            FAMILY.get().write(family);
        }
        // SAFETY: `FAMILY`, `OPS` and the policies are fully written and
        // static; the family stays registered until `drop`.
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

/// doit of UOA_CMD_GET_STATUS.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn get_status(_skb: *mut bindings::sk_buff, info: *mut bindings::genl_info) -> c_int {
    // SAFETY: genetlink calls doit with a valid `info` for a request to our
    // registered family.
    errno(unsafe { reply_status(info) })
}

/// # Safety
///
/// `info` must be a valid request to the registered family.
unsafe fn reply_status(info: *mut bindings::genl_info) -> Result {
    // SAFETY: `info` is valid; its namespace is alive while the request runs.
    let net = unsafe { bindings::genl_info_net(info) };
    // SAFETY: the family is registered only while the pernet registration
    // exists (see `Uoa`), and `net` is alive.
    let state = unsafe { netns::state(net) };
    let requests = state.count_status_request();
    // SAFETY: `net` is a valid namespace; its cookie is written once at
    // creation.
    let cookie = unsafe { (*net).net_cookie };
    let (entries, uids, memory) =
        state.store.read(|s| s.map_or((0, 0, 0), |s| (s.entries().len(), s.uid_count(), s.memory())));

    // SAFETY: `info` is a running doit of `FAMILY`, which is registered.
    let mut reply = unsafe { Reply::new(info, FAMILY.get(), CMD_GET_STATUS, 256)? };
    let w = reply.writer();
    w.put_cstr(bindings::uoa_attr_UOA_A_VERSION, VERSION)?;
    w.put_u64(bindings::uoa_attr_UOA_A_NETNS_COOKIE, cookie, A_PAD)?;
    w.put_u64(bindings::uoa_attr_UOA_A_STATUS_REQUESTS, requests, A_PAD)?;
    w.put_u32(bindings::uoa_attr_UOA_A_STATUS_ENTRIES, saturating_u32(entries))?;
    w.put_u32(bindings::uoa_attr_UOA_A_STATUS_UIDS, saturating_u32(uids))?;
    w.put_u64(bindings::uoa_attr_UOA_A_STATUS_MEMORY, memory as u64, A_PAD)?;
    w.put_u32(A_OPTIONS, state.options())?;
    put_counters(w, None, &state.others)?;
    // SAFETY: `reply` answers `info`.
    unsafe { reply.send(info) }
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

fn put_counters(w: &mut Writer, uid: Option<u32>, c: &Counters) -> Result {
    w.nest(A_COUNTERS, |w| {
        if let Some(uid) = uid {
            w.put_u32(C_UID, uid)?;
        }
        let kinds = [C_BINDS_DENIED, C_SOURCES_DENIED, C_SOURCES_REWRITTEN, C_PACKETS_DROPPED];
        for (kind, value) in kinds.into_iter().zip(c.values()) {
            w.put_u64(kind, value, C_PAD)?;
        }
        Ok(())
    })
}

// cb->args: [0] index of the next entry to send.
const ARG_NEXT: usize = 0;

/// dumpit of UOA_CMD_GET_ENTRIES.
///
/// # Safety
///
/// Called by genetlink only, with the message and callback of a dump of our
/// family.
unsafe extern "C" fn get_entries(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> c_int {
    // SAFETY: genetlink calls dumpit with valid `skb` and `cb` of a dump of
    // our registered family.
    match unsafe { dump_entries(skb, cb) } {
        Ok(len) => len,
        Err(e) => e.to_errno(),
    }
}

/// The namespace of a dump and the uid it may see (`None`: all), from its
/// UOA_A_UID and the caller's rights: CAP_NET_ADMIN sees any uid, others
/// their own only.
///
/// # Safety
///
/// `cb` must be the callback of a running dump of our family.
unsafe fn dump_scope(cb: *mut bindings::netlink_callback) -> Result<(&'static NetState, Option<u32>)> {
    // SAFETY: `cb->data` of a genl dump is its `genl_dumpit_info`; the
    // request skb and its socket's namespace are alive during the dump.
    let (info, req, net) = unsafe {
        let info = &(*(*cb).data.cast::<bindings::genl_dumpit_info>()).info;
        let req = (*cb).skb;
        (info, req, bindings::sock_net((*req).sk))
    };
    // SAFETY: the family is registered, so pernet state exists; `net` lives.
    let state = unsafe { netns::state(net) };

    // SAFETY: a non-null `info.attrs` holds `A_UID + 1` parsed attributes
    // (the op's maxattr).
    let filter = match info.attrs.is_null() {
        true => None,
        false => unsafe { (*info.attrs.add(A_UID as usize)).as_ref() },
    };
    let filter = match filter {
        // SAFETY: the policy made it an NLA_U32.
        Some(nla) => Some(unsafe { (nla as *const bindings::nlattr).add(1).cast::<u32>().read_unaligned() }),
        None => None,
    };
    // SAFETY: `req` is the request skb; NETLINK_CB starts its `cb` area, and
    // `net->user_ns` is valid while `net` lives.
    let (caller, admin) = unsafe {
        let parms = (*req).cb.as_ptr().cast::<bindings::netlink_skb_parms>();
        ((*parms).creds.uid.val, bindings::netlink_ns_capable(req, (*net).user_ns, bindings::CAP_NET_ADMIN as _))
    };
    match (admin, filter) {
        (true, f) => Ok((state, f)),
        (false, None) => Ok((state, Some(caller))),
        (false, Some(f)) if f == caller => Ok((state, Some(f))),
        (false, Some(_)) => {
            // SAFETY: `cb->extack` is the dump's extack (or null).
            unsafe { set_err((*cb).extack, None, format_args!("only CAP_NET_ADMIN may read other uids' entries")) };
            Err(EPERM)
        }
    }
}

/// Sends the items of `todo` as one dump message, as many as fit, and
/// returns how many it consumed (0: the dump is done). `put` returns `None`
/// for an item the caller may not see.
///
/// # Safety
///
/// `skb` and `cb` must be those of a running dumpit of our family.
unsafe fn dump_batch<T>(
    skb: *mut bindings::sk_buff,
    cb: &mut bindings::netlink_callback,
    cmd: u32,
    todo: impl Iterator<Item = T>,
    mut put: impl FnMut(&mut Writer, T) -> Option<Result>,
) -> Result<usize> {
    let mut todo = todo.peekable();
    if todo.peek().is_none() {
        return Ok(0);
    }
    // SAFETY: per the contract.
    let Some(mut msg) = (unsafe { DumpMsg::new(skb, cb, FAMILY.get(), cmd) }) else {
        return Err(emsgsize_err());
    };
    let mut sent = 0;
    for item in todo {
        if let Some(Err(_)) = put(msg.writer(), item) {
            break;
        }
        sent += 1;
    }
    if sent == 0 {
        msg.cancel();
        return Err(emsgsize_err());
    }
    msg.end();
    Ok(sent)
}

/// Runs one dumpit step under RCU: `batch` sends what follows `cb`'s
/// cursor and says how many items it consumed; moves the cursor and
/// returns the message length (0: done).
///
/// # Safety
///
/// `skb` and `cb` must be those of a running dumpit of our family.
unsafe fn dump_step(
    skb: *mut bindings::sk_buff,
    cb: &mut bindings::netlink_callback,
    state: &NetState,
    batch: impl FnOnce(&mut bindings::netlink_callback, &Snapshot, usize) -> Result<usize>,
) -> Result<c_int> {
    // Lets genl_dump_check_consistent flag messages if the policy changes.
    cb.seq = state.store.generation() as u32;
    // SAFETY: `args` is the view of the callback's scratch union that genl
    // dumps use; it starts zeroed and only our dumpits write it.
    let start = unsafe { cb.__bindgen_anon_1.args[ARG_NEXT] } as usize;
    state.store.read(|snapshot| {
        let Some(s) = snapshot else {
            return Ok(0);
        };
        let sent = batch(cb, s, start)?;
        if sent == 0 {
            return Ok(0);
        }
        // SAFETY: as above.
        unsafe { cb.__bindgen_anon_1.args[ARG_NEXT] = (start + sent) as _ };
        // SAFETY: `skb` is the dump's message buffer.
        Ok(unsafe { (*skb).len } as c_int)
    })
}

/// Returns the message length (0: the dump is done).
///
/// # Safety
///
/// As for `get_entries`.
unsafe fn dump_entries(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> Result<c_int> {
    // SAFETY: per the contract.
    let (state, uid) = unsafe { dump_scope(cb)? };
    // SAFETY: `cb` is valid for the whole dumpit call.
    let cb = unsafe { &mut *cb };
    // SAFETY: `skb` and `cb` are those of this dumpit.
    unsafe {
        dump_step(skb, cb, state, |cb, s, start| {
            let todo = s.entries().get(start..).unwrap_or(&[]);
            dump_batch(skb, cb, CMD_GET_ENTRIES, todo.iter(), |w, e| {
                uid.is_none_or(|u| u == e.uid).then(|| put_entry(w, e))
            })
        })
    }
}

/// dumpit of UOA_CMD_GET_COUNTERS.
///
/// # Safety
///
/// Called by genetlink only, with the message and callback of a dump of our
/// family.
unsafe extern "C" fn get_counters(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> c_int {
    // SAFETY: genetlink calls dumpit with valid `skb` and `cb` of a dump of
    // our registered family.
    match unsafe { dump_counters(skb, cb) } {
        Ok(len) => len,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// As for `get_counters`.
unsafe fn dump_counters(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> Result<c_int> {
    // SAFETY: per the contract.
    let (state, uid) = unsafe { dump_scope(cb)? };
    // SAFETY: `cb` is valid for the whole dumpit call.
    let cb = unsafe { &mut *cb };
    // SAFETY: `skb` and `cb` are those of this dumpit.
    unsafe {
        dump_step(skb, cb, state, |cb, s, start| {
            dump_batch(skb, cb, CMD_GET_COUNTERS, s.uid_counters().skip(start), |w, (u, c)| {
                uid.is_none_or(|x| x == u).then(|| put_counters(w, Some(u), c))
            })
        })
    }
}

fn emsgsize_err() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as i32))
}

/// doit of UOA_CMD_SET_ENTRIES.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn set_entries(skb: *mut bindings::sk_buff, info: *mut bindings::genl_info) -> c_int {
    // SAFETY: genetlink calls doit with the request `skb` and a valid `info`
    // for a request to our registered family.
    errno(unsafe { need_admin(skb, info, "entries").and_then(|()| apply_entries(info)) })
}

/// Refuses a change without CAP_NET_ADMIN in the namespace, saying why.
///
/// # Safety
///
/// `skb` and `info` must be those of a running doit of our family.
unsafe fn need_admin(skb: *mut bindings::sk_buff, info: *mut bindings::genl_info, what: &str) -> Result {
    // SAFETY: the request's namespace and its user namespace live while the
    // request runs.
    let admin = unsafe {
        let net = bindings::genl_info_net(info);
        bindings::netlink_ns_capable(skb, (*net).user_ns, bindings::CAP_NET_ADMIN as _)
    };
    if admin {
        return Ok(());
    }
    // SAFETY: as above.
    unsafe { set_err((*info).extack, None, format_args!("changing UOA {what} needs CAP_NET_ADMIN")) };
    Err(EPERM)
}

/// doit of UOA_CMD_SET_OPTIONS.
///
/// # Safety
///
/// Called by genetlink only, with the request of a doit of our family.
unsafe extern "C" fn set_options(skb: *mut bindings::sk_buff, info: *mut bindings::genl_info) -> c_int {
    // SAFETY: genetlink calls doit with the request `skb` and a valid `info`
    // for a request to our registered family.
    errno(unsafe { need_admin(skb, info, "options").and_then(|()| apply_options(info)) })
}

/// # Safety
///
/// `info` must be a valid request to the registered family.
unsafe fn apply_options(info: *mut bindings::genl_info) -> Result {
    // SAFETY: `info` is valid; the message outlives this call.
    let options = unsafe { Attrs::of_request(info) }.find(|a| u32::from(a.kind) == A_OPTIONS);
    let Some(options) = options else {
        // SAFETY: as above.
        unsafe { set_err((*info).extack, None, format_args!("UOA_A_OPTIONS is required")) };
        return Err(EINVAL);
    };
    // SAFETY: `info` is valid; its namespace is alive while the request runs,
    // and the family is registered only while the pernet state exists.
    let state = unsafe { netns::state(bindings::genl_info_net(info)) };
    state.set_options(options.u32()?);
    Ok(())
}

/// # Safety
///
/// `info` must be a valid request to the registered family.
unsafe fn apply_entries(info: *mut bindings::genl_info) -> Result {
    // SAFETY: `info` is valid for the whole doit.
    let extack = unsafe { (*info).extack };
    let refuse = |attr: Option<&Attr<'_>>, e: Error, msg: core::fmt::Arguments<'_>| {
        // SAFETY: `extack` is this request's.
        unsafe { set_err(extack, attr, msg) };
        Err(e)
    };
    // SAFETY: as above; the message outlives this call.
    let attrs = unsafe { Attrs::of_request(info) };

    let (mut flags, mut uid, mut n_entries) = (0, None, 0usize);
    for a in attrs {
        match u32::from(a.kind) {
            A_FLAGS => flags = a.u32()?,
            A_UID => uid = Some(a.u32()?),
            A_ENTRY => n_entries += 1,
            _ => {}
        }
    }
    let replace = match (flags & F_REPLACE != 0, uid) {
        (false, None) => Replace::Nothing,
        (true, None) => Replace::All,
        (true, Some(u)) => Replace::Uid(u),
        (false, Some(_)) => return refuse(None, EINVAL, format_args!("UOA_A_UID needs UOA_F_REPLACE")),
    };

    let mut adds = KVVec::with_capacity(n_entries, GFP_KERNEL)?;
    let mut removes = KVVec::with_capacity(n_entries, GFP_KERNEL)?;
    // SAFETY: as above.
    for a in unsafe { Attrs::of_request(info) }.filter(|a| u32::from(a.kind) == A_ENTRY) {
        let (mut addr, mut len, mut e_uid, mut table, mut ifindex, mut e_flags) = (None, None, None, None, 0, 0);
        for f in a.nested() {
            match u32::from(f.kind) {
                E_ADDR => addr = Some(f.payload),
                E_PREFIXLEN => len = Some(f.u8()?),
                E_UID => e_uid = Some(f.u32()?),
                E_TABLE => table = Some(f.u32()?),
                E_IFINDEX => ifindex = f.u32()?,
                E_FLAGS => e_flags = f.u32()?,
                _ => {}
            }
        }
        let Some(addr) = addr else {
            return refuse(Some(&a), EINVAL, format_args!("entry lacks UOA_A_ENTRY_ADDR"));
        };
        let full = if addr.len() == 4 { 32 } else { 128 };
        let prefix = match Prefix::from_bytes(addr, len.unwrap_or(full)) {
            Ok(p) => p,
            Err(r) => return refuse(Some(&a), EINVAL, format_args!("{r}")),
        };
        if e_flags & EF_REMOVE != 0 {
            removes.push(prefix, GFP_KERNEL)?;
            continue;
        }
        let (Some(uid), Some(table)) = (e_uid, table) else {
            return refuse(Some(&a), EINVAL, format_args!("entry {prefix} lacks UOA_A_ENTRY_UID or _TABLE"));
        };
        adds.push(Entry { prefix, uid, table, ifindex }, GFP_KERNEL)?;
    }

    // SAFETY: `info` is valid; its namespace is alive while the request runs,
    // and the family is registered only while the pernet state exists.
    let state = unsafe { netns::state(bindings::genl_info_net(info)) };
    match state.store.update(replace, &mut removes, &mut adds) {
        Ok(()) => Ok(()),
        Err(Update::Refused(r)) => refuse(None, Error::from_errno(-r.errno()), format_args!("{r}")),
        Err(Update::Error(e)) => Err(e),
    }
}
