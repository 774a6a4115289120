// SPDX-License-Identifier: GPL-2.0

//! UOA: user-oriented addressing.
//!
//! Gives every Unix uid its own addresses and routing table, enforced by the
//! kernel. This module holds the policy, per network namespace, and is
//! configured over the generic netlink family `uoa`
//! (`include/uapi/linux/uoa.h`).

use kernel::{c_str, prelude::*};

mod cstatic;
mod genl;
mod hooks;
mod local_out;
mod netlink;
mod netns;
// The policy logic is shared with the host crate uoa-policy (tested there).
#[path = "policy/lib.rs"]
#[allow(unused_attributes, unreachable_pub, missing_docs, dead_code)]
mod policy;
mod rcu;
mod route;
mod stamp;
mod store;

// Benchmark builds only (`UOA_KMOD_NOOP=HOOK tools/build-kmod.sh`): the cfg
// `uoa_noop_HOOK` makes that hook give the stock answer without asking the
// policy (LOCAL_OUT's is not even turned on), so that `bench/netperf.sh` can tell what each hook costs. A module built without
// it, as every test and install builds it, has no such switch.
pub(crate) const NOOP_BIND: bool = cfg!(uoa_noop_bind);
pub(crate) const NOOP_RECEIVE: bool = cfg!(uoa_noop_receive);
pub(crate) const NOOP_SOURCE: bool = cfg!(uoa_noop_source);
pub(crate) const NOOP_LOCAL_OUT: bool = cfg!(uoa_noop_local_out);
pub(crate) const NOOP_RULE: bool = cfg!(uoa_noop_rule);

/// Module version, reported by `UOA_CMD_GET_STATUS`.
const VERSION: &CStr = c_str!("0.1.0");

module! {
    type: Uoa,
    name: "uoa",
    author: "UOA developers",
    description: "Per-user addresses and routing tables",
    license: "GPL",
    // MODULE_ALIAS_GENL_FAMILY("uoa"): the first request to the family
    // (uoamap, uoa-route) loads the module.
    alias: ["net-pf-16-proto-16-family-uoa"],
}

struct Uoa {
    // Fields drop in declaration order: the hooks and the family go first,
    // so that no callback or request reaches per-netns state that is being
    // torn down.
    _hooks: hooks::Registration,
    _family: genl::Family,
    _pernet: netns::Registration,
}

impl kernel::Module for Uoa {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let pernet = netns::Registration::register()?;
        let family = genl::Family::register(module)?;
        let hooks = hooks::Registration::register()?;
        pr_info!("loaded, version {}\n", VERSION);
        Ok(Uoa {
            _hooks: hooks,
            _family: family,
            _pernet: pernet,
        })
    }
}

impl Drop for Uoa {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
