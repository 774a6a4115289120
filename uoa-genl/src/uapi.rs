//! Mirror of `include/uapi/linux/uoa.h`: same names, same numbers.
//! `cargo test` checks it against the header in patches/ (see uapi/tests.rs).

use neli::neli_enum;

pub const GENL_NAME: &str = "uoa";
pub const GENL_VERSION: u8 = 1;

/// `UOA_F_REPLACE`.
pub const F_REPLACE: u32 = 1 << 0;
/// `UOA_EF_REMOVE`.
pub const EF_REMOVE: u32 = 1 << 0;
/// `UOA_OPT_LOW_PORTS`.
pub const OPT_LOW_PORTS: u32 = 1 << 0;

#[neli_enum(serialized_type = "u8")]
pub enum UoaCmd {
    Unspec = 0,
    GetStatus = 1,
    GetEntries = 2,
    SetEntries = 3,
    GetCounters = 4,
    SetOptions = 5,
}
impl neli::consts::genl::Cmd for UoaCmd {}

#[neli_enum(serialized_type = "u16")]
pub enum UoaAttr {
    Unspec = 0,
    Pad = 1,
    Version = 2,
    NetnsCookie = 3,
    StatusRequests = 4,
    StatusEntries = 5,
    StatusUids = 6,
    StatusMemory = 7,
    Uid = 8,
    Flags = 9,
    Entry = 10,
    Options = 11,
    Counters = 12,
    RouteLimit = 13,
    Class = 14,
}
impl neli::consts::genl::NlAttrType for UoaAttr {}

#[neli_enum(serialized_type = "u16")]
pub enum EntryAttr {
    Unspec = 0,
    Addr = 1,
    Prefixlen = 2,
    Uid = 3,
    Table = 4,
    Ifindex = 5,
    Flags = 6,
}
impl neli::consts::genl::NlAttrType for EntryAttr {}

#[neli_enum(serialized_type = "u16")]
pub enum CounterAttr {
    Unspec = 0,
    Pad = 1,
    Uid = 2,
    BindsDenied = 3,
    SourcesDenied = 4,
    SourcesRewritten = 5,
    PacketsDropped = 6,
    RoutesChanged = 7,
    RoutesRefused = 8,
    Routes = 9,
    RouteLimit = 10,
    Class = 11,
}
impl neli::consts::genl::NlAttrType for CounterAttr {}

#[cfg(test)]
mod tests;
