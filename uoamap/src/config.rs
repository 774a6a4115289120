//! The config file of `uoamap save` and `uoamap apply`: one entry per line,
//! as on the command line (`PREFIX USER TABLE [dev IFACE]`), `#` comments.

use crate::names;
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
            Some(d) => names::ifindex_of(d)?,
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

/// Parses a whole file; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        out.push(Line::parse(&words).with_context(|| format!("line {}: {raw:?}", n + 1))?);
    }
    Ok(out)
}

/// The changes that turn `current` into `wanted`: removals of what differs
/// or is gone, additions of what is new. Empty when they are equal.
pub fn diff(current: &[Entry], wanted: &[Entry]) -> Vec<Change> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
            .unwrap();
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
}
