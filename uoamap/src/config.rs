//! The config file of `uoamap save` and `uoamap apply`: one entry per line,
//! as on the command line (`PREFIX USER TABLE [dev IFACE]`), route limits as
//! `route-limit N [USER]` lines, shapes as `rate USER dev IFACE ...` lines
//! (see `shaping::RateLine`), `#` comments.

use crate::names;
use crate::shaping::RateLine;
use anyhow::{bail, Context, Result};
use uoa_genl::{Change, Entry, Prefix};

/// An entry as written by a person: user and interface by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub prefix: Prefix,
    pub user: String,
    pub table: u32,
    pub dev: Option<String>,
}

impl Line {
    /// Parses `PREFIX USER TABLE [dev IFACE]` from words.
    pub fn parse(words: &[&str]) -> Result<Self> {
        let (prefix, user, table, rest) = match words {
            [p, u, t, rest @ ..] => (p, u, t, rest),
            _ => bail!("expected PREFIX USER TABLE [dev IFACE]"),
        };
        let prefix = prefix
            .parse::<Prefix>()
            .map_err(|e| anyhow::anyhow!("{prefix}: {e}"))?;
        let table = table
            .parse::<u32>()
            .with_context(|| format!("table {table:?} is not a number"))?;
        let dev = match rest {
            [] => None,
            ["dev", name] => Some(name.to_string()),
            _ => bail!(
                "unexpected {:?} after the table: only `dev IFACE` may follow",
                rest.join(" ")
            ),
        };
        Ok(Line {
            prefix,
            user: user.to_string(),
            table,
            dev,
        })
    }

    /// Resolves names to numbers in this namespace.
    pub fn resolve(&self) -> Result<Entry> {
        let ifindex = match &self.dev {
            Some(d) => names::resolve_ifindex(d)?,
            None => 0,
        };
        Ok(Entry {
            prefix: self.prefix,
            uid: names::uid_of(&self.user)?,
            table: self.table,
            ifindex,
        })
    }

    pub fn of(e: &Entry) -> Self {
        Line {
            prefix: e.prefix,
            user: names::user_name(e.uid),
            table: e.table,
            dev: (e.ifindex != 0)
                .then(|| names::ifname(e.ifindex).unwrap_or_else(|| e.ifindex.to_string())),
        }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.prefix, self.user, self.table)?;
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        Ok(())
    }
}

/// A `route-limit N [USER]` line: USER's limit, or the namespace's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub routes: u32,
    pub user: Option<String>,
}

impl Limit {
    fn parse(words: &[&str]) -> Result<Self> {
        let (n, user) = match words {
            [n] => (n, None),
            [n, user] => (n, Some(user.to_string())),
            _ => bail!("expected route-limit N [USER]"),
        };
        match n.parse::<u32>() {
            Ok(routes) if routes > 0 => Ok(Limit { routes, user }),
            _ => bail!("route limit {n:?}: want a number of routes from 1 to 4294967295"),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "route-limit {}", self.routes)?;
        if let Some(u) = &self.user {
            write!(f, " {u}")?;
        }
        Ok(())
    }
}

/// A whole file: its entries and its route limits.
#[derive(Debug, Default)]
pub struct File {
    pub entries: Vec<Line>,
    pub limits: Vec<Limit>,
    pub rates: Vec<RateLine>,
}

/// Parses a whole file; errors name the line. A user's route limit needs an
/// entry of that user in the file, so that applying it cannot fail halfway.
pub fn parse(text: &str) -> Result<File> {
    let mut out = File::default();
    // One vector for every line's words: a file may have tens of thousands
    // of lines, and growing a new one each time was a third of parsing.
    let mut words: Vec<&str> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        words.clear();
        words.extend(line.split_whitespace());
        let at = || format!("line {}: {raw:?}", n + 1);
        match words.split_first() {
            Some((&"route-limit", rest)) => out.limits.push(Limit::parse(rest).with_context(at)?),
            Some((&"rate", rest)) => out.rates.push(RateLine::parse(rest).with_context(at)?),
            _ => out.entries.push(Line::parse(&words).with_context(at)?),
        }
    }
    // Users as the file names them, indexed once: a file may have tens of
    // thousands of entries and as many `rate` lines.
    let users: std::collections::HashSet<&str> =
        out.entries.iter().map(|e| e.user.as_str()).collect();
    for r in &out.rates {
        if let Some(u) = &r.user {
            if !users.contains(u.as_str()) {
                bail!("{r}: {u} has no entry in the file");
            }
        }
    }
    for l in &out.limits {
        if let Some(u) = &l.user {
            if !users.contains(u.as_str()) {
                bail!("{l}: {u} has no entry in the file");
            }
        }
    }
    Ok(out)
}

/// The changes that turn `current` into `wanted`: removals of what differs
/// or is gone, in the order of `current`, then additions of what is new, in
/// the order of `wanted`. Empty when they are equal. An entry whose uid,
/// table or interface changed is a removal of its prefix and an addition
/// (the kernel applies a batch's removals before its additions).
///
/// Sorts both sides and merges them, O((n + m) log(n + m)): a policy may
/// have tens of thousands of entries.
pub fn diff(current: &[Entry], wanted: &[Entry]) -> Vec<Change> {
    let in_wanted = present_in(current, wanted);
    let in_current = present_in(wanted, current);
    let removals = current
        .iter()
        .zip(in_wanted)
        .filter(|(_, kept)| !kept)
        .map(|(c, _)| Change::Remove(c.prefix));
    let additions = wanted
        .iter()
        .zip(in_current)
        .filter(|(_, kept)| !kept)
        .map(|(w, _)| Change::Add(*w));
    removals.chain(additions).collect()
}

/// For each entry of `these`, whether `those` has an equal one.
fn present_in(these: &[Entry], those: &[Entry]) -> Vec<bool> {
    // Every field (the pattern is exhaustive), so that equal keys are equal
    // entries.
    fn key(e: &Entry) -> (Prefix, u32, u32, u32) {
        let Entry {
            prefix,
            uid,
            table,
            ifindex,
        } = *e;
        (prefix, uid, table, ifindex)
    }
    let mut these_sorted: Vec<(_, usize)> = these.iter().map(key).zip(0..).collect();
    these_sorted.sort_unstable();
    let mut those_sorted: Vec<_> = those.iter().map(key).collect();
    those_sorted.sort_unstable();
    let mut present = vec![false; these.len()];
    let mut rest = those_sorted.as_slice();
    for (k, i) in these_sorted {
        while rest.first().is_some_and(|t| *t < k) {
            rest = &rest[1..];
        }
        present[i] = rest.first() == Some(&k);
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use uoa_genl::Family;

    fn entry(p: &str, uid: u32, table: u32) -> Entry {
        Entry {
            prefix: p.parse().unwrap(),
            uid,
            table,
            ifindex: 0,
        }
    }

    #[test]
    fn parses_lines_and_comments() {
        let lines = parse("# slices\n10.1.3.1 1011 32811\n\n2001:db8::/64 1012 7 dev eth0  # v6\n")
            .unwrap()
            .entries;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].to_string(), "10.1.3.1 1011 32811");
        assert_eq!(lines[1].to_string(), "2001:db8::/64 1012 7 dev eth0");
        assert_eq!(lines[0].resolve().unwrap(), entry("10.1.3.1", 1011, 32811));
    }

    #[test]
    fn errors_name_the_line_and_problem() {
        let e = parse("10.1.3.1 1011 32811\n10.1.3.2/24 1011 5\n").unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "line 2: \"10.1.3.2/24 1011 5\": 10.1.3.2/24: 10.1.3.2/24 has host bits set"
        );
        let e = parse("10.1.3.1 1011 x\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("table \"x\" is not a number"),
            "{e:#}"
        );
        let e = parse("10.1.3.1 1011 5 via eth0\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("only `dev IFACE` may follow"),
            "{e:#}"
        );
        let e = parse("10.1.3.1 1011\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("expected PREFIX USER TABLE"),
            "{e:#}"
        );
    }

    #[test]
    fn route_limits_round_trip_and_need_an_entry() {
        let text = "10.1.3.1 1011 32811\nroute-limit 500000\nroute-limit 40 1011\n";
        let file = parse(text).unwrap();
        assert_eq!(file.entries.len(), 1);
        let shown: Vec<String> = file.limits.iter().map(Limit::to_string).collect();
        assert_eq!(shown, ["route-limit 500000", "route-limit 40 1011"]);
        let e = parse("10.1.3.1 1011 32811\nroute-limit 40 1012\n").unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "route-limit 40 1012: 1012 has no entry in the file"
        );
        for bad in [
            "route-limit 0",
            "route-limit x 1011",
            "route-limit",
            "route-limit 1 2 3",
        ] {
            let e = parse(&format!("10.1.3.1 1011 32811\n{bad}\n")).unwrap_err();
            assert!(format!("{e:#}").starts_with("line 2: "), "{bad}: {e:#}");
        }
    }

    #[test]
    fn diff_is_minimal_and_idempotent() {
        let a = entry("10.1.3.1", 1011, 5);
        let b = entry("10.1.3.2", 1011, 5);
        let b_moved = entry("10.1.3.2", 1012, 6);
        assert!(diff(&[a, b], &[b, a]).is_empty());
        assert_eq!(diff(&[a], &[a, b]), vec![Change::Add(b)]);
        assert_eq!(diff(&[a, b], &[a]), vec![Change::Remove(b.prefix)]);
        assert_eq!(
            diff(&[a, b], &[a, b_moved]),
            vec![Change::Remove(b.prefix), Change::Add(b_moved)]
        );
    }

    /// The O(n·m) definition that `diff` must keep to.
    fn naive_diff(current: &[Entry], wanted: &[Entry]) -> Vec<Change> {
        let mut changes: Vec<Change> = current
            .iter()
            .filter(|c| !wanted.contains(c))
            .map(|c| Change::Remove(c.prefix))
            .collect();
        changes.extend(
            wanted
                .iter()
                .filter(|w| !current.contains(w))
                .map(|w| Change::Add(*w)),
        );
        changes
    }

    /// What the kernel makes of `current` after the batch `changes`: the
    /// removals first, then the additions.
    fn apply(current: &[Entry], changes: &[Change]) -> HashSet<Entry> {
        let mut set: HashSet<Entry> = current.iter().copied().collect();
        for change in changes {
            if let Change::Remove(p) = change {
                set.retain(|e| e.prefix != *p);
            }
        }
        for change in changes {
            if let Change::Add(e) = change {
                set.insert(*e);
            }
        }
        set
    }

    /// xorshift64: random enough, and the same every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn entry(&mut self, prefix: Prefix) -> Entry {
            Entry {
                prefix,
                uid: 1000 + self.below(2) as u32,
                table: 7 + self.below(2) as u32,
                ifindex: self.below(2) as u32,
            }
        }
    }

    fn host(n: u32) -> Prefix {
        Prefix::new(Family::V4, (0x0a00_0000 + n).into(), 32).unwrap()
    }

    #[test]
    fn diff_of_65536_entries_is_fast_and_exact() {
        const N: u32 = 65_536;
        let current: Vec<Entry> = (0..N)
            .map(|n| Entry {
                prefix: host(n),
                uid: 1000 + n % 100,
                table: 2000 + n % 100,
                ifindex: 0,
            })
            .collect();
        // Wanted is listed backwards, loses 3 entries, changes 2 and gains 3.
        let gone = [5, 40_000, N - 1];
        let mut wanted: Vec<Entry> = current
            .iter()
            .rev()
            .filter(|e| !gone.iter().any(|&g| e.prefix == host(g)))
            .copied()
            .collect();
        let moved = Entry {
            uid: 4242,
            table: 4243,
            ..current[7]
        };
        let rehomed = Entry {
            ifindex: 3,
            ..current[12_345]
        };
        for e in wanted.iter_mut() {
            if e.prefix == moved.prefix {
                *e = moved;
            } else if e.prefix == rehomed.prefix {
                *e = rehomed;
            }
        }
        let new = [
            entry("10.9.0.1", 1001, 2001),
            entry("10.9.0.2", 1001, 2001),
            entry("2001:db8::/64", 1002, 2002),
        ];
        wanted.extend(new);
        assert_eq!(current.len(), N as usize);
        assert_eq!(wanted.len(), N as usize);

        assert_eq!(
            diff(&current, &wanted),
            vec![
                Change::Remove(host(5)),
                Change::Remove(host(7)),
                Change::Remove(host(12_345)),
                Change::Remove(host(40_000)),
                Change::Remove(host(N - 1)),
                Change::Add(rehomed),
                Change::Add(moved),
                Change::Add(new[0]),
                Change::Add(new[1]),
                Change::Add(new[2]),
            ]
        );
        assert!(diff(&current, &current.iter().rev().copied().collect::<Vec<_>>()).is_empty());
        assert_eq!(
            apply(&current, &diff(&current, &wanted)),
            wanted.iter().copied().collect()
        );
    }

    #[test]
    fn applying_the_diff_gives_what_is_wanted() {
        // A few prefixes, two of them nested, and few uids, tables and
        // interfaces, so that random policies often share entries.
        let prefixes: Vec<Prefix> = [
            "10.1.3.1",
            "10.1.3.2",
            "10.1.0.0/16",
            "2001:db8::1",
            "2001:db8::/64",
        ]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            // The kernel's policy has each prefix at most once; a file may
            // list anything, duplicates included.
            let mut current = Vec::new();
            for &p in &prefixes {
                if rng.below(3) != 0 {
                    current.push(rng.entry(p));
                }
            }
            let mut wanted: Vec<Entry> = (0..rng.below(7))
                .map(|_| {
                    let p = prefixes[rng.below(prefixes.len())];
                    rng.entry(p)
                })
                .collect();
            for _ in 0..rng.below(3) {
                if !current.is_empty() {
                    let at = rng.below(wanted.len() + 1);
                    wanted.insert(at, current[rng.below(current.len())]);
                }
            }

            let changes = diff(&current, &wanted);
            assert_eq!(
                changes,
                naive_diff(&current, &wanted),
                "{current:?} -> {wanted:?}"
            );
            assert_eq!(
                apply(&current, &changes),
                wanted.iter().copied().collect(),
                "{current:?} -> {wanted:?}: {changes:?}"
            );
            let first_add = changes.iter().position(|c| matches!(c, Change::Add(_)));
            assert!(
                changes[first_add.unwrap_or(changes.len())..]
                    .iter()
                    .all(|c| matches!(c, Change::Add(_))),
                "removals come first: {changes:?}"
            );
            assert!(diff(&current, &current).is_empty());
            assert!(diff(&wanted, &wanted).is_empty());
        }
    }
}
