//! Users and interfaces by name or number, both ways.

use anyhow::{bail, Context, Result};
use nix::unistd::{Uid, User};
use std::{cell::RefCell, collections::HashMap};

thread_local! {
    /// Interfaces that `resolve_ifindex` found, by name: a file of 65,536
    /// entries names a few interfaces, each costing a socket and an ioctl
    /// to look up. Entries do not rename interfaces during a run.
    static IFINDEX: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
    /// Names of uids, as `user_name` found them: listing 65,536 entries
    /// names a few thousand uids, and each lookup of a uid without a user
    /// reads the whole user database.
    static USER_NAMES: RefCell<HashMap<u32, String>> = RefCell::new(HashMap::new());
}

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
    if let Some(name) = USER_NAMES.with(|c| c.borrow().get(&uid).cloned()) {
        return name;
    }
    let name = match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    };
    USER_NAMES.with(|c| c.borrow_mut().insert(uid, name.clone()));
    name
}

/// The index of interface `name` in this network namespace.
pub fn ifindex_of(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).with_context(|| format!("no such interface: {name}"))
}

/// As [`ifindex_of`], remembering what it found for the rest of the run:
/// for the entries of a file, not for interfaces this run makes or deletes.
pub fn resolve_ifindex(name: &str) -> Result<u32> {
    if let Some(i) = IFINDEX.with(|c| c.borrow().get(name).copied()) {
        return Ok(i);
    }
    let i = ifindex_of(name)?;
    IFINDEX.with(|c| c.borrow_mut().insert(name.to_string(), i));
    Ok(i)
}

/// The name of interface `index`, if it exists in this network namespace:
/// one ioctl, where listing every address to find it made `uoamap save` of
/// 65,536 entries on as many addresses quadratic.
pub fn ifname(index: u32) -> Option<String> {
    // nix 0.29 answers an unknown index with an empty name, not an error.
    let name = nix::net::if_::if_indextoname(index)
        .ok()?
        .into_string()
        .ok()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_both_ways() {
        assert_eq!(user_name(0), "root");
        assert_eq!(uid_of("root").unwrap(), 0);
        // A uid without a user is its number, every time it is asked.
        assert_eq!(user_name(4_000_000_011), "4000000011");
        assert_eq!(user_name(4_000_000_011), "4000000011");
        let lo = ifindex_of("lo").unwrap();
        assert_eq!(ifname(lo).as_deref(), Some("lo"));
        assert_eq!(ifname(u32::MAX), None);
    }
}
