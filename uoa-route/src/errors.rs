//! What a refused change says: the kernel's own message when it gave one,
//! else what the errno means for the user and what it may do instead.

use uoa_rtnl::{errno, Error};

/// The text of `e`, the error of `what` (`add 10.30.0.0/16`) sent by
/// `uid`; `managed` tells whether the module lists addresses of `uid`
/// (asked only for a bare EPERM).
pub fn refusal_text(what: &str, e: &Error, uid: u32, managed: impl FnOnce() -> bool) -> String {
    if let Some(m) = e.message() {
        return format!("{what}: {m}");
    }
    let why = match e.errno() {
        Some(errno::EPERM) if managed() => format!(
            "not permitted: uid {uid} has UOA addresses, but this kernel does not let \
             users change their own routes (ask the administrator for a kernel with UOA \
             route delegation)"
        ),
        Some(errno::EPERM) => not_managed(uid),
        Some(errno::EEXIST) => {
            "the route already exists (change it with `uoa-route replace`)".into()
        }
        Some(errno::ESRCH | errno::ENOENT) => {
            "no such route in your table (see `uoa-route show`)".into()
        }
        Some(errno::ENETUNREACH | errno::EHOSTUNREACH) => {
            "the gateway is on no network your routes reach \
             (give dev IFACE, or first add a route to the gateway)"
                .into()
        }
        Some(errno::ENODEV) => "no such interface, or it is down".into(),
        _ => e.to_string(),
    };
    format!("{what}: {why}")
}

/// Why a uid the module lists no addresses of may not change routes.
pub fn not_managed(uid: u32) -> String {
    format!(
        "not permitted: uid {uid} has no UOA addresses here \
         (ask the administrator: uoamap add ADDR USER TABLE)"
    )
}

/// Why routes are not listed or flushed on a kernel that shows every table.
pub fn every_table_shown(uid: u32) -> String {
    format!(
        "this kernel shows uid {uid} every routing table, not only its own \
         (it lacks UOA route delegation)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(errno: i32, message: Option<&str>) -> Error {
        Error::Kernel {
            errno,
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn the_kernels_message_is_shown_as_it_is() {
        for m in [
            "table 100 belongs to uid 1012",
            "10.1.3.2 is not an address of uid 1011",
            "dev eth1 is not an interface of uid 1011",
            "uid 1011 may not use nexthop objects (nhid)",
        ] {
            let text = refusal_text("add 10.30.0.0/16", &kernel(1, Some(m)), 1011, || {
                panic!("not asked when the kernel says why")
            });
            assert_eq!(text, format!("add 10.30.0.0/16: {m}"));
        }
    }

    #[test]
    fn a_bare_eperm_says_who_to_ask() {
        assert_eq!(
            refusal_text("add 10.30.0.0/16", &kernel(1, None), 1013, || false),
            "add 10.30.0.0/16: not permitted: uid 1013 has no UOA addresses here \
             (ask the administrator: uoamap add ADDR USER TABLE)"
        );
        let text = refusal_text("del 10.30.0.0/16", &kernel(1, None), 1011, || true);
        assert!(
            text.starts_with(
                "del 10.30.0.0/16: not permitted: uid 1011 has UOA addresses, but this kernel"
            ),
            "{text}"
        );
    }

    #[test]
    fn other_errnos_say_what_to_do() {
        let t = |errno| refusal_text("add 10.20.0.0/16", &kernel(errno, None), 1011, || false);
        assert_eq!(
            t(17),
            "add 10.20.0.0/16: the route already exists (change it with `uoa-route replace`)"
        );
        assert_eq!(
            t(3),
            "add 10.20.0.0/16: no such route in your table (see `uoa-route show`)"
        );
        assert!(t(101).contains("give dev IFACE"));
        assert_eq!(t(113), t(101));
        assert_eq!(t(22), "add 10.20.0.0/16: Invalid argument (os error 22)");
        let e = Error::Netlink("socket: EMFILE".into());
        assert_eq!(
            refusal_text("add 10.20.0.0/16", &e, 1011, || false),
            "add 10.20.0.0/16: rtnetlink: socket: EMFILE"
        );
    }
}
