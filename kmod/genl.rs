// SPDX-License-Identifier: GPL-2.0

//! The `uoa` generic netlink family (`include/uapi/linux/uoa.h`).

use crate::{cstatic::CStatic, netlink::Reply, netns, VERSION};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    prelude::*,
};

const N_ATTRS: usize = bindings::uoa_attr___UOA_A_MAX as usize;

static FAMILY: CStatic<bindings::genl_family> = CStatic::uninit();
static OPS: CStatic<[bindings::genl_small_ops; 1]> = CStatic::uninit();
// Validation is strict: an attribute left NLA_UNSPEC here is refused in any
// request, so only what a command takes needs an entry.
static POLICY: CStatic<[bindings::nla_policy; N_ATTRS]> = CStatic::uninit();

/// The registered family; dropping it unregisters it and waits for running
/// requests to finish.
pub(crate) struct Family(());

impl Family {
    pub(crate) fn register(module: &'static ThisModule) -> Result<Self> {
        let ops = [bindings::genl_small_ops {
            cmd: bindings::uoa_cmd_UOA_CMD_GET_STATUS as u8,
            doit: Some(get_status),
            ..Default::default()
        }];
        let mut family = bindings::genl_family {
            version: bindings::UOA_GENL_VERSION,
            maxattr: (N_ATTRS - 1) as u32,
            policy: POLICY.get().cast(),
            small_ops: OPS.get().cast(),
            n_small_ops: ops.len() as u8,
            // Every command is new: validate headers and attributes strictly.
            resv_start_op: bindings::uoa_cmd_UOA_CMD_GET_STATUS as u8,
            module: module.as_ptr(),
            ..Default::default()
        };
        for (dst, src) in family.name.iter_mut().zip(bindings::UOA_GENL_NAME.iter()) {
            *dst = *src as _;
        }
        family.set_netnsok(1);
        // SAFETY: nothing is registered yet (module init runs once), so no one
        // else reads these statics while we write them.
        unsafe {
            POLICY.get().write([bindings::nla_policy::default(); N_ATTRS]);
            OPS.get().write(ops);
            FAMILY.get().write(family);
        }
        // SAFETY: `FAMILY`, `OPS` and `POLICY` are fully written and static;
        // the family stays registered until `drop`.
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

/// doit of UOA_CMD_GET_STATUS.
unsafe extern "C" fn get_status(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: genetlink calls doit with a valid `info` for a request to our
    // registered family.
    match unsafe { reply_status(info) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// `info` must be a valid request to the registered family.
unsafe fn reply_status(info: *mut bindings::genl_info) -> Result {
    // SAFETY: `info` is valid; its namespace is alive while the request runs.
    let net = unsafe { bindings::genl_info_net(info) };
    // SAFETY: the family is registered only while the pernet registration
    // exists (see `Uoa`), and `net` is alive.
    let requests = unsafe { netns::state(net) }.count_status_request();
    // SAFETY: `net` is a valid namespace; its cookie is written once at
    // creation.
    let cookie = unsafe { (*net).net_cookie };

    // SAFETY: `info` is a running doit of `FAMILY`, which is registered.
    let mut reply =
        unsafe { Reply::new(info, FAMILY.get(), bindings::uoa_cmd_UOA_CMD_GET_STATUS, 128)? };
    reply.put_cstr(bindings::uoa_attr_UOA_A_VERSION, VERSION)?;
    reply.put_u64(bindings::uoa_attr_UOA_A_NETNS_COOKIE, cookie, PAD)?;
    reply.put_u64(bindings::uoa_attr_UOA_A_STATUS_REQUESTS, requests, PAD)?;
    // SAFETY: `reply` answers `info`.
    unsafe { reply.send(info) }
}

const PAD: u32 = bindings::uoa_attr_UOA_A_PAD;
