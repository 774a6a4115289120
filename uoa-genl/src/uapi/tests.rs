//! Checks this mirror against `include/uapi/linux/uoa.h`, which exists only
//! as the patch in patches/ that creates it.
//!
//! What is compared: every `pub const` and every enum variant of uapi.rs
//! must have the number (or string) its C name has in the header; every
//! value the header defines must have a mirror here, except the kernel's own
//! helpers, which userspace has no use for:
//!
//!  - names starting with `__` (`__UOA_A_MAX`, the counters that size the
//!    attribute policies, and `__UOA_F_ALL`, the masks of valid flag bits);
//!  - `#define`s ending in `_MAX` (`UOA_A_MAX` = `__UOA_A_MAX - 1`);
//!  - `#define`s without a value (the include guard).
//!
//! The C name of a `pub const` is `UOA_` and its Rust name; the C name of an
//! enum variant is given by the `*_name` functions below, whose matches are
//! exhaustive, so a variant added to uapi.rs does not compile until it is
//! named there.

use super::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

const HEADER: &str = "include/uapi/linux/uoa.h";

fn cmd_name(v: UoaCmd) -> Option<&'static str> {
    Some(match v {
        UoaCmd::Unspec => "UOA_CMD_UNSPEC",
        UoaCmd::GetStatus => "UOA_CMD_GET_STATUS",
        UoaCmd::GetEntries => "UOA_CMD_GET_ENTRIES",
        UoaCmd::SetEntries => "UOA_CMD_SET_ENTRIES",
        UoaCmd::GetCounters => "UOA_CMD_GET_COUNTERS",
        UoaCmd::SetOptions => "UOA_CMD_SET_OPTIONS",
        UoaCmd::UnrecognizedConst(_) => return None,
    })
}

fn attr_name(v: UoaAttr) -> Option<&'static str> {
    Some(match v {
        UoaAttr::Unspec => "UOA_A_UNSPEC",
        UoaAttr::Pad => "UOA_A_PAD",
        UoaAttr::Version => "UOA_A_VERSION",
        UoaAttr::NetnsCookie => "UOA_A_NETNS_COOKIE",
        UoaAttr::StatusRequests => "UOA_A_STATUS_REQUESTS",
        UoaAttr::StatusEntries => "UOA_A_STATUS_ENTRIES",
        UoaAttr::StatusUids => "UOA_A_STATUS_UIDS",
        UoaAttr::StatusMemory => "UOA_A_STATUS_MEMORY",
        UoaAttr::Uid => "UOA_A_UID",
        UoaAttr::Flags => "UOA_A_FLAGS",
        UoaAttr::Entry => "UOA_A_ENTRY",
        UoaAttr::Options => "UOA_A_OPTIONS",
        UoaAttr::Counters => "UOA_A_COUNTERS",
        UoaAttr::RouteLimit => "UOA_A_ROUTE_LIMIT",
        UoaAttr::Class => "UOA_A_CLASS",
        UoaAttr::UnrecognizedConst(_) => return None,
    })
}

fn entry_attr_name(v: EntryAttr) -> Option<&'static str> {
    Some(match v {
        EntryAttr::Unspec => "UOA_A_ENTRY_UNSPEC",
        EntryAttr::Addr => "UOA_A_ENTRY_ADDR",
        EntryAttr::Prefixlen => "UOA_A_ENTRY_PREFIXLEN",
        EntryAttr::Uid => "UOA_A_ENTRY_UID",
        EntryAttr::Table => "UOA_A_ENTRY_TABLE",
        EntryAttr::Ifindex => "UOA_A_ENTRY_IFINDEX",
        EntryAttr::Flags => "UOA_A_ENTRY_FLAGS",
        EntryAttr::UnrecognizedConst(_) => return None,
    })
}

fn counter_attr_name(v: CounterAttr) -> Option<&'static str> {
    Some(match v {
        CounterAttr::Unspec => "UOA_A_COUNTER_UNSPEC",
        CounterAttr::Pad => "UOA_A_COUNTER_PAD",
        CounterAttr::Uid => "UOA_A_COUNTER_UID",
        CounterAttr::BindsDenied => "UOA_A_COUNTER_BINDS_DENIED",
        CounterAttr::SourcesDenied => "UOA_A_COUNTER_SOURCES_DENIED",
        CounterAttr::SourcesRewritten => "UOA_A_COUNTER_SOURCES_REWRITTEN",
        CounterAttr::PacketsDropped => "UOA_A_COUNTER_PACKETS_DROPPED",
        CounterAttr::RoutesChanged => "UOA_A_COUNTER_ROUTES_CHANGED",
        CounterAttr::RoutesRefused => "UOA_A_COUNTER_ROUTES_REFUSED",
        CounterAttr::Routes => "UOA_A_COUNTER_ROUTES",
        CounterAttr::RouteLimit => "UOA_A_COUNTER_ROUTE_LIMIT",
        CounterAttr::Class => "UOA_A_COUNTER_CLASS",
        CounterAttr::UnrecognizedConst(_) => return None,
    })
}

/// Every variant of a neli enum, found by converting each number of its
/// serialized type, as (C name, the variant converted back to a number).
fn variants<E: Copy, N: Copy + Into<i64>>(
    numbers: impl Iterator<Item = N>,
    from: impl Fn(N) -> E,
    to: impl Fn(E) -> N,
    name: impl Fn(E) -> Option<&'static str>,
) -> Vec<(&'static str, i64)> {
    numbers
        .map(&from)
        .filter_map(|v| Some((name(v)?, to(v).into())))
        .collect()
}

/// The enums of uapi.rs, by the name of the C enum they mirror.
fn rust_enums() -> Vec<(&'static str, Vec<(&'static str, i64)>)> {
    vec![
        (
            "uoa_cmd",
            variants(0..=u8::MAX, UoaCmd::from, u8::from, cmd_name),
        ),
        (
            "uoa_attr",
            variants(0..=u16::MAX, UoaAttr::from, u16::from, attr_name),
        ),
        (
            "uoa_entry_attr",
            variants(0..=u16::MAX, EntryAttr::from, u16::from, entry_attr_name),
        ),
        (
            "uoa_counter_attr",
            variants(
                0..=u16::MAX,
                CounterAttr::from,
                u16::from,
                counter_attr_name,
            ),
        ),
    ]
}

/// (C name, Rust name, value) of a `pub const`.
macro_rules! mirror {
    (str $name:ident) => {
        (concat!("UOA_", stringify!($name)), stringify!($name), $name)
    };
    ($name:ident) => {
        (
            concat!("UOA_", stringify!($name)),
            stringify!($name),
            i64::from($name),
        )
    };
}

/// The number constants of uapi.rs.
fn rust_numbers() -> Vec<(&'static str, &'static str, i64)> {
    vec![
        mirror!(GENL_VERSION),
        mirror!(F_REPLACE),
        mirror!(EF_REMOVE),
        mirror!(OPT_LOW_PORTS),
    ]
}

/// The string constants of uapi.rs.
fn rust_strings() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![mirror!(str GENL_NAME)]
}

/// What the header defines.
#[derive(Debug, Default)]
struct Header {
    /// Each enum with its constants, in order.
    enums: Vec<(String, Vec<(String, i64)>)>,
    /// `#define NAME number`.
    numbers: BTreeMap<String, i64>,
    /// `#define NAME "string"`.
    strings: BTreeMap<String, String>,
}

impl Header {
    fn number(&self, name: &str) -> Option<i64> {
        self.enums
            .iter()
            .flat_map(|(_, members)| members)
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .or_else(|| self.numbers.get(name).copied())
    }
}

/// The patch creating the header, and the header as it creates it.
fn header_from_patches() -> (PathBuf, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../patches");
    let marker = format!("+++ b/{HEADER}");
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "patch") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if text.lines().any(|l| l == marker) {
                found.push((path, text));
            }
        }
    }
    found.sort();
    let (path, text) = match found.len() {
        1 => found.pop().unwrap(),
        0 => panic!("no patch in {} has {marker:?}", dir.display()),
        _ => panic!(
            "several patches change {HEADER}: {:?}; this test reads only the one that creates it",
            found.iter().map(|(p, _)| p).collect::<Vec<_>>()
        ),
    };
    let header =
        new_file_from_patch(&text, &marker).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, header)
}

/// The file a patch creates: the `+` lines of its one hunk after `marker`.
fn new_file_from_patch(patch: &str, marker: &str) -> Result<String, String> {
    let mut lines = patch.lines().skip_while(|l| *l != marker);
    lines.next();
    let hunk = lines.next().unwrap_or_default();
    // A new file has one hunk, `@@ -0,0 +1,COUNT @@`.
    let count = hunk
        .strip_prefix("@@ -0,0 +1")
        .and_then(|rest| rest.split(" @@").next())
        .map(|n| n.strip_prefix(',').unwrap_or("1").parse::<usize>())
        .ok_or_else(|| format!("{marker}: expected the hunk of a new file, not {hunk:?}"))?
        .map_err(|e| format!("{hunk:?}: {e}"))?;
    let mut file = String::new();
    for n in 0..count {
        let line = lines.next().unwrap_or_default();
        let line = line
            .strip_prefix('+')
            .ok_or_else(|| format!("line {} of the new file is {line:?}", n + 1))?;
        file.push_str(line);
        file.push('\n');
    }
    Ok(file)
}

fn strip_comments(c: &str) -> String {
    let mut out = String::new();
    let mut rest = c;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("*/").expect("unterminated comment");
        rest = &rest[i + end + 2..];
        out.push(' ');
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the enums and `#define`s of a header, as the compiler counts them.
fn parse_header(c: &str) -> Result<Header, String> {
    let c = strip_comments(c);
    // Macros expand where they are used, so keep their text for now.
    let mut macros = BTreeMap::new();
    let mut code = String::new();
    for line in c.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            code.push_str(line);
            code.push('\n');
            continue;
        };
        let Some(def) = directive.trim().strip_prefix("define") else {
            continue;
        };
        let def = def.trim();
        let name_end = def
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(def.len());
        let (name, value) = def.split_at(name_end);
        if value.starts_with('(') {
            return Err(format!("function-like macro {name}: teach this test"));
        }
        macros.insert(name.to_string(), value.trim().to_string());
    }
    let mut header = Header::default();
    let mut rest = code.as_str();
    while let Some(i) = find_word(rest, "enum") {
        let after = &rest[i + 4..];
        let open = after.find('{').ok_or("enum without a body")?;
        let close = after.find('}').ok_or("enum without a closing brace")?;
        let name = after[..open].trim().to_string();
        let mut members = Vec::new();
        let mut next = 0i64;
        for item in after[open + 1..close].split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (member, value) = match item.split_once('=') {
                Some((m, expr)) => {
                    let known = |n: &str| {
                        members
                            .iter()
                            .chain(header.enums.iter().flat_map(|(_, m)| m))
                            .find(|(k, _): &&(String, i64)| k == n)
                            .map(|(_, v)| *v)
                    };
                    (m.trim(), eval(expr, &known, &macros, 0)?)
                }
                None => (item, next),
            };
            members.push((member.to_string(), value));
            next = value + 1;
        }
        header.enums.push((name, members));
        rest = &after[close + 1..];
    }
    for (name, value) in &macros {
        if value.is_empty() {
            continue;
        }
        if let Some(s) = value.strip_prefix('"') {
            let s = s.strip_suffix('"').ok_or(format!("{name}: {value}"))?;
            header.strings.insert(name.clone(), s.to_string());
        } else {
            let known = |n: &str| header.number(n);
            let v = eval(value, &known, &macros, 0)?;
            header.numbers.insert(name.clone(), v);
        }
    }
    Ok(header)
}

fn find_word(s: &str, word: &str) -> Option<usize> {
    let ident = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    s.match_indices(word)
        .map(|(i, _)| i)
        .find(|&i| !s[..i].ends_with(ident) && !s[i + word.len()..].starts_with(ident))
}

/// Evaluates a C integer constant expression: numbers (with `U`/`L`
/// suffixes), names of enum constants and macros, `( ) ~ - + * << >> & ^ |`.
fn eval(
    expr: &str,
    known: &dyn Fn(&str) -> Option<i64>,
    macros: &BTreeMap<String, String>,
    depth: usize,
) -> Result<i64, String> {
    if depth > 16 {
        return Err(format!("macros nest too deep at {expr:?}"));
    }
    let mut tokens = Vec::new();
    let mut rest = expr.trim_start();
    while let Some(ch) = rest.chars().next() {
        let len = if ch.is_ascii_alphanumeric() || ch == '_' {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
        } else if rest.starts_with("<<") || rest.starts_with(">>") {
            2
        } else {
            1
        };
        tokens.push(&rest[..len]);
        rest = rest[len..].trim_start();
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        expr,
        resolve: &|name: &str| match known(name) {
            Some(v) => Ok(v),
            None => match macros.get(name) {
                Some(text) => eval(text, known, macros, depth + 1),
                None => Err(format!("{name} is not defined (in {expr:?})")),
            },
        },
    };
    let v = p.binary(0)?;
    match p.tokens.get(p.pos) {
        None => Ok(v),
        Some(t) => Err(format!("unexpected {t:?} in {expr:?}")),
    }
}

struct Parser<'a> {
    tokens: Vec<&'a str>,
    pos: usize,
    expr: &'a str,
    resolve: &'a dyn Fn(&str) -> Result<i64, String>,
}

impl Parser<'_> {
    /// Binary operators by C precedence, loosest first.
    const LEVELS: [&'static [&'static str]; 6] =
        [&["|"], &["^"], &["&"], &["<<", ">>"], &["+", "-"], &["*"]];

    fn binary(&mut self, level: usize) -> Result<i64, String> {
        if level == Self::LEVELS.len() {
            return self.unary();
        }
        let mut v = self.binary(level + 1)?;
        while let Some(&op) = self.tokens.get(self.pos) {
            if !Self::LEVELS[level].contains(&op) {
                break;
            }
            self.pos += 1;
            let r = self.binary(level + 1)?;
            v = match op {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" => v << r,
                ">>" => v >> r,
                "+" => v + r,
                "-" => v - r,
                _ => v * r,
            };
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<i64, String> {
        let t = *self
            .tokens
            .get(self.pos)
            .ok_or(format!("{:?} ends early", self.expr))?;
        self.pos += 1;
        match t {
            "-" => Ok(-self.unary()?),
            "+" => self.unary(),
            "~" => Ok(!self.unary()?),
            "(" => {
                let v = self.binary(0)?;
                match self.tokens.get(self.pos) {
                    Some(&")") => {
                        self.pos += 1;
                        Ok(v)
                    }
                    _ => Err(format!("unbalanced ( in {:?}", self.expr)),
                }
            }
            t if t.starts_with(|c: char| c.is_ascii_digit()) => {
                let digits = t.trim_end_matches(['u', 'U', 'l', 'L']);
                let parsed =
                    if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
                        i64::from_str_radix(hex, 16)
                    } else if digits.len() > 1 && digits.starts_with('0') {
                        i64::from_str_radix(&digits[1..], 8)
                    } else {
                        digits.parse()
                    };
                parsed.map_err(|e| format!("{t:?} in {:?}: {e}", self.expr))
            }
            t if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => (self.resolve)(t),
            t => Err(format!("unexpected {t:?} in {:?}", self.expr)),
        }
    }
}

/// A helper of the kernel's that userspace does not mirror (see the top).
fn is_helper(name: &str, is_define: bool) -> bool {
    name.starts_with("__") || (is_define && name.ends_with("_MAX"))
}

/// Every difference between uapi.rs and the header, one line each.
fn drift(header: &Header) -> Vec<String> {
    let mut problems = Vec::new();
    let mut mirrored = Vec::new();
    for (c_enum, variants) in rust_enums() {
        let Some((_, members)) = header.enums.iter().find(|(n, _)| n == c_enum) else {
            problems.push(format!("enum {c_enum} is not in the header"));
            continue;
        };
        for (name, value) in variants {
            mirrored.push(name);
            match members.iter().find(|(n, _)| n == name) {
                Some((_, v)) if *v == value => {}
                Some((_, v)) => problems.push(format!(
                    "{name} is {v} in the header but {value} in uapi.rs"
                )),
                None => problems.push(format!("{name} (uapi.rs: {value}) is not in enum {c_enum}")),
            }
        }
    }
    for (name, rust, value) in rust_numbers() {
        mirrored.push(name);
        match header.number(name) {
            Some(v) if v == value => {}
            Some(v) => problems.push(format!("{name} is {v} in the header but {rust} = {value}")),
            None => problems.push(format!("{name} (uapi.rs: {rust}) is not in the header")),
        }
    }
    for (name, rust, value) in rust_strings() {
        mirrored.push(name);
        match header.strings.get(name) {
            Some(v) if v == value => {}
            Some(v) => problems.push(format!(
                "{name} is {v:?} in the header but {rust} = {value:?}"
            )),
            None => problems.push(format!("{name} (uapi.rs: {rust}) is not in the header")),
        }
    }
    for (c_enum, members) in &header.enums {
        for (name, value) in members {
            if !is_helper(name, false) && !mirrored.contains(&name.as_str()) {
                problems.push(format!(
                    "{name} = {value} (enum {c_enum}) has no mirror in uapi.rs"
                ));
            }
        }
    }
    let defines = header.numbers.keys().chain(header.strings.keys());
    for name in defines {
        if !is_helper(name, true) && !mirrored.contains(&name.as_str()) {
            problems.push(format!("#define {name} has no mirror in uapi.rs"));
        }
    }
    problems
}

#[test]
fn uapi_rs_mirrors_the_header_in_patches() {
    let (patch, text) = header_from_patches();
    let header = parse_header(&text).unwrap_or_else(|e| panic!("{HEADER}: {e}"));
    let problems = drift(&header);
    assert!(
        problems.is_empty(),
        "uoa-genl/src/uapi.rs differs from {HEADER} (in patches/{}):\n  {}",
        patch.file_name().unwrap().to_string_lossy(),
        problems.join("\n  ")
    );
}

#[test]
fn every_pub_const_of_uapi_rs_is_checked() {
    let source = include_str!("../uapi.rs");
    let checked: Vec<&str> = rust_numbers()
        .iter()
        .map(|c| c.1)
        .chain(rust_strings().iter().map(|c| c.1))
        .collect();
    for line in source.lines() {
        if let Some(rest) = line.trim().strip_prefix("pub const ") {
            let name = rest.split(':').next().unwrap().trim();
            assert!(
                checked.contains(&name),
                "uapi.rs: {name} is not in rust_numbers() or rust_strings() of src/uapi/tests.rs"
            );
        }
    }
}

#[test]
fn the_parser_counts_as_c_does() {
    let h = parse_header(
        "/* a comment with enum x { A } */\n\
         #ifndef G\n#define G\n\
         #define NAME \"fam\" // trailing\n\
         #define BIG (MID + 1)\n\
         enum e {\n\tA,\n\tB = 5,\n\tC, /* six */\n\tD = 1U << 3,\n\tE = D | B,\n\t__E_MAX\n};\n\
         #define MID (__E_MAX - 1)\n\
         enum f { F = 0x10, G2 = ~0 & 3, H = -1, I };\n\
         #endif\n",
    )
    .unwrap();
    let e: Vec<(&str, i64)> = h.enums[0].1.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(h.enums[0].0, "e");
    assert_eq!(
        e,
        [
            ("A", 0),
            ("B", 5),
            ("C", 6),
            ("D", 8),
            ("E", 13),
            ("__E_MAX", 14)
        ]
    );
    assert_eq!(h.number("MID"), Some(13));
    assert_eq!(h.number("BIG"), Some(14));
    assert_eq!(h.number("G2"), Some(3));
    assert_eq!(h.number("I"), Some(0));
    assert_eq!(h.strings["NAME"], "fam");
    assert!(!h.numbers.contains_key("G"));
}

#[test]
fn drift_names_what_differs() {
    let (_, text) = header_from_patches();
    let edited = text
        .replace("\tUOA_A_COUNTERS,\n", "\tUOA_A_COUNTERS,\n\tUOA_A_NEW,\n")
        .replace("\tUOA_CMD_UNSPEC,\n", "\tUOA_CMD_UNSPEC = 1,\n")
        .replace("UOA_OPT_LOW_PORTS = 1U << 0", "UOA_OPT_LOW_PORTS = 1U << 1")
        .replace("UOA_GENL_NAME \"uoa\"", "UOA_GENL_NAME \"uoa2\"")
        .replace("\tUOA_A_ENTRY_FLAGS,\n", "");
    let problems = drift(&parse_header(&edited).unwrap());
    let want = [
        "UOA_A_NEW = 13 (enum uoa_attr) has no mirror in uapi.rs",
        "UOA_CMD_UNSPEC is 1 in the header but 0 in uapi.rs",
        "UOA_CMD_SET_OPTIONS is 6 in the header but 5 in uapi.rs",
        "UOA_OPT_LOW_PORTS is 2 in the header but OPT_LOW_PORTS = 1",
        "UOA_GENL_NAME is \"uoa2\" in the header but GENL_NAME = \"uoa\"",
        "UOA_A_ENTRY_FLAGS (uapi.rs: 6) is not in enum uoa_entry_attr",
    ];
    for w in want {
        assert!(
            problems.iter().any(|p| p == w),
            "{w:?} not in {problems:#?}"
        );
    }
}
