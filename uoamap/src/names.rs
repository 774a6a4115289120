//! Users and interfaces by name or number, both ways.

use anyhow::{bail, Context, Result};
use nix::unistd::{Uid, User};

/// A uid from a user name (`u11`) or a number (`1011`).
pub fn uid_of(user: &str) -> Result<u32> {
    if let Ok(n) = user.parse::<u32>() {
        return Ok(n);
    }
    match User::from_name(user).with_context(|| format!("looking up user {user}"))? {
        Some(u) => Ok(u.uid.as_raw()),
        None => bail!("no such user: {user}"),
    }
}

/// The user name of `uid`, or the number if it has none.
pub fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// The index of interface `name` in this network namespace.
pub fn ifindex_of(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).with_context(|| format!("no such interface: {name}"))
}

/// The name of interface `index`, if it exists in this network namespace.
pub fn ifname(index: u32) -> Option<String> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    addrs
        .map(|a| a.interface_name)
        .find(|name| nix::net::if_::if_nametoindex(name.as_str()).ok() == Some(index))
}
