//! Mirror of `include/uapi/linux/uoa.h`: same names, same numbers.

use neli::neli_enum;

pub const GENL_NAME: &str = "uoa";
pub const GENL_VERSION: u8 = 1;

#[neli_enum(serialized_type = "u8")]
pub enum UoaCmd {
    Unspec = 0,
    GetStatus = 1,
}
impl neli::consts::genl::Cmd for UoaCmd {}

#[neli_enum(serialized_type = "u16")]
pub enum UoaAttr {
    Unspec = 0,
    Pad = 1,
    Version = 2,
    NetnsCookie = 3,
    StatusRequests = 4,
}
impl neli::consts::genl::NlAttrType for UoaAttr {}
