//! `uoamap`: the administrator's tool for UOA, in the habits of `ip` and `wg`.
//! It talks to the uoa module over generic netlink (uoa-genl); every change
//! is one atomic batch in the kernel.

mod config;
mod names;
mod routing;
mod shaping;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use config::Line;
use serde::Serialize;
use uoa_genl::{uapi, Change, Client, Counters, Entry, Replace};

#[derive(Parser)]
#[command(
    version,
    about = "Administer UOA: per-user addresses and routing tables"
)]
struct Cli {
    /// Print JSON instead of text.
    #[arg(short, long, global = true)]
    json: bool,
    /// Change only the module's entries; leave rules and routing tables alone.
    #[arg(long, global = true)]
    no_routing: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Give PREFIX to USER, whose routing table is TABLE: `add 10.1.3.1 u11 32811 [dev eth0]`.
    Add {
        /// An address (10.1.3.1, 2001:db8::1) or a block (10.1.0.0/16).
        prefix: String,
        /// A user name or a uid.
        user: String,
        /// The user's routing table (not 0, 253, 254 or 255).
        table: String,
        /// Optionally `dev IFACE`: the interface the prefix lives on.
        #[arg(num_args = 0..=2, value_names = ["dev", "IFACE"])]
        dev: Vec<String>,
    },
    /// Take PREFIX (exactly as it was added) away from its user.
    Del { prefix: String },
    /// Show the entries, all or USER's.
    Show {
        user: Option<String>,
        /// Also show what the module refused or changed, per user.
        #[arg(short, long)]
        stats: bool,
    },
    /// Set a namespace option: `set low-ports on` lets managed users bind
    /// ports below 1024 on their own addresses.
    Set { option: NsOption, value: OnOff },
    /// Limit the routes a managed user's table may hold (IPv4 and IPv6
    /// together): `route-limit 50000 u11` for u11, `route-limit default u11`
    /// to drop its own limit, `route-limit 500000` for every user without one.
    RouteLimit {
        /// A number of routes, or `default` (only with USER).
        limit: String,
        /// A managed user; without it, the namespace's default.
        user: Option<String>,
    },
    /// Shape USER's bandwidth: `rate u11 dev eth0 10mbit ceil 50mbit in
    /// 20mbit` guarantees 10mbit upload (borrowing up to 50mbit when the
    /// link is idle) and 20mbit download on eth0; without `dev`, on every
    /// interface USER's entries name. `out none`, `in none` or `none` take
    /// shapes away. `uoamap show` lists them, `show -s` with their counters.
    Rate {
        /// USER [dev IFACE] [out] RATE [ceil RATE] [in RATE [ceil RATE]] | none
        #[arg(num_args = 2.., required = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Remove every entry, or USER's.
    Flush { user: Option<String> },
    /// Print the entries as a file that `apply` takes back.
    Save,
    /// Make the entries exactly those of FILE (- for stdin), changing only the difference, atomically.
    Apply { file: String },
    /// Show the loaded uoa module's status in this network namespace.
    Status,
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Clone, Copy, ValueEnum)]
enum NsOption {
    /// Managed users may bind ports below 1024 on their own addresses.
    LowPorts,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("uoamap: {e:#}");
        std::process::exit(1);
    }
}

/// An entry as `show -j` prints it: flat, names rather than numbers.
#[derive(Serialize)]
struct EntryJson {
    prefix: String,
    uid: u32,
    user: String,
    table: u32,
    dev: Option<String>,
}

impl EntryJson {
    fn of(e: &Entry) -> Self {
        let line = Line::of(e);
        EntryJson {
            prefix: e.prefix.to_string(),
            uid: e.uid,
            user: line.user,
            table: e.table,
            dev: line.dev,
        }
    }
}

fn print_entries(entries: &[Entry], json: bool) -> Result<()> {
    if json {
        let rows: Vec<EntryJson> = entries.iter().map(EntryJson::of).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for e in entries {
            println!("{}", Line::of(e));
        }
    }
    Ok(())
}

fn print_counters(
    entries: &[Entry],
    counters: &[Counters],
    classes: &[shaping::ClassStats],
    json: bool,
) -> Result<()> {
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            entries: Vec<EntryJson>,
            counters: &'a [Counters],
            shaping: &'a [shaping::ClassStats],
        }
        let out = Out {
            entries: entries.iter().map(EntryJson::of).collect(),
            counters,
            shaping: classes,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    print_entries(entries, false)?;
    for c in counters {
        let uid = c.uid.unwrap_or_default();
        println!("uid {uid} ({}): {}", names::user_name(uid), c);
    }
    for c in classes {
        println!("uid {} ({}): {c}", c.uid, names::user_name(c.uid));
    }
    Ok(())
}

/// Applies one batch to the module, then brings rules and tables along
/// (unless --no-routing) and the shapes: the policy routing and the tc
/// classes follow the entries.
fn change(cli: &Cli, client: &Client, replace: Replace, changes: &[Change]) -> Result<()> {
    let before = if cli.no_routing {
        Vec::new()
    } else {
        client.entries(None)?
    };
    // A flush leaves what it says; after other batches, ask the module.
    let after = match replace {
        Replace::All if changes.is_empty() => Some(Vec::new()),
        Replace::Uid(uid) if changes.is_empty() => {
            Some(before.iter().filter(|e| e.uid != uid).copied().collect())
        }
        _ => None,
    };
    set_and_route(cli, client, replace, changes, &before, after.as_deref())?;
    shaping::follow_entries(client)
}

/// Applies one batch to the module and syncs the policy routing from
/// `before` (the entries the batch was made against; unused with
/// --no-routing) to the module's entries after it: `after` when the caller
/// knows them (a dump of 16,000 entries costs a tenth of `apply`'s time
/// under TCG), else as the module dumps them.
fn set_and_route(
    cli: &Cli,
    client: &Client,
    replace: Replace,
    changes: &[Change],
    before: &[Entry],
    after: Option<&[Entry]>,
) -> Result<()> {
    client.set(replace, changes)?;
    route(cli, client, before, after)
}

/// The policy-routing half of [`set_and_route`], after the batch.
fn route(cli: &Cli, client: &Client, before: &[Entry], after: Option<&[Entry]>) -> Result<()> {
    if !cli.no_routing {
        let dumped;
        let after = match after {
            Some(a) => a,
            None => {
                dumped = client.entries(None)?;
                &dumped
            }
        };
        routing::PolicyRouting::connect()?.sync(before, after)?;
    }
    Ok(())
}

/// The shapes as lines: what `show` and `save` print.
fn rate_lines(current: &shaping::Current, uid: Option<u32>) -> Vec<shaping::RateLine> {
    current
        .plan
        .shapes
        .iter()
        .filter(|((u, _), _)| uid.is_none_or(|x| x == *u))
        .map(|((u, dev), s)| shaping::saved_line(*u, dev, s))
        .chain(current.plan.links.iter().map(|((dev, dir), r)| {
            let ask = shaping::Ask::Set(*r, None);
            let (out, inn) = match dir {
                shaping::Dir::Out => (ask, shaping::Ask::Keep),
                shaping::Dir::In => (shaping::Ask::Keep, ask),
            };
            shaping::RateLine {
                user: None,
                dev: Some(dev.clone()),
                out,
                inn,
            }
        }))
        .collect()
}

/// The route limits that differ from the built-in default, as
/// `route-limit` lines: the namespace's, then each uid's own.
fn saved_limits(client: &Client) -> Result<Vec<config::Limit>> {
    let default = client.status()?.route_limit;
    let mut out = Vec::new();
    if default != uoa_genl::DEFAULT_ROUTE_LIMIT {
        out.push(config::Limit {
            routes: default,
            user: None,
        });
    }
    for c in client.counters(None)? {
        if let (Some(uid), Some(l)) = (c.uid, c.route_limit) {
            if l != default {
                out.push(config::Limit {
                    routes: l,
                    user: Some(names::user_name(uid)),
                });
            }
        }
    }
    Ok(out)
}

/// Makes the route limits those of a file (`(None, n)`: the default):
/// the default is the built-in one unless the file names another, and a
/// managed uid the file names no limit for follows the default.
/// `counters` is a dump of every uid's, taken before.
fn apply_limits(
    client: &Client,
    limits: &[(Option<u32>, u32)],
    counters: &[uoa_genl::Counters],
) -> Result<()> {
    let default = file_default_limit(limits);
    if client.status()?.route_limit != default {
        client.set_route_limit(None, default)?;
    }
    // Each user's last line wins; a map, as a file may name tens of
    // thousands of users (a search per uid made that quadratic).
    let own_limits: std::collections::HashMap<u32, u32> =
        limits.iter().filter_map(|&(u, n)| Some((u?, n))).collect();
    for c in counters {
        let Some(uid) = c.uid else { continue };
        let own = own_limits.get(&uid).copied().unwrap_or(0);
        if c.route_limit != Some(if own == 0 { default } else { own }) {
            client.set_route_limit(Some(uid), own)?;
        }
    }
    Ok(())
}

/// The namespace's route limit a file asks for: its last `route-limit N`
/// line without a user, else the built-in default.
fn file_default_limit(limits: &[(Option<u32>, u32)]) -> u32 {
    limits
        .iter()
        .rev()
        .find(|(u, _)| u.is_none())
        .map_or(uoa_genl::DEFAULT_ROUTE_LIMIT, |&(_, n)| n)
}

/// `route-limit`'s number: `default` (0 to the kernel) only for a user.
fn parse_route_limit(s: &str, for_user: bool) -> Result<u32> {
    match (s, for_user) {
        ("default", true) => Ok(0),
        ("default", false) => anyhow::bail!("route-limit default needs a USER"),
        _ => match s.parse::<u32>() {
            Ok(0) | Err(_) => {
                anyhow::bail!("route limit {s:?}: want a number of routes from 1 to 4294967295")
            }
            Ok(n) => Ok(n),
        },
    }
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Add {
            prefix,
            user,
            table,
            dev,
        } => {
            let mut words = vec![prefix.as_str(), user.as_str(), table.as_str()];
            words.extend(dev.iter().map(String::as_str));
            let entry = Line::parse(&words)?.resolve()?;
            change(
                cli,
                &Client::connect()?,
                Replace::Nothing,
                &[Change::Add(entry)],
            )?;
        }
        Command::Del { prefix } => {
            let prefix = prefix
                .parse()
                .map_err(|e| anyhow::anyhow!("{prefix}: {e}"))?;
            change(
                cli,
                &Client::connect()?,
                Replace::Nothing,
                &[Change::Remove(prefix)],
            )?;
        }
        Command::Show { user, stats } => {
            let uid = user.as_deref().map(names::uid_of).transpose()?;
            let client = Client::connect()?;
            let entries = client.entries(uid)?;
            let current = shaping::Shaper::connect()?.read(&client)?;
            if *stats {
                let classes = current.stats(uid);
                print_counters(&entries, &client.counters(uid)?, &classes, cli.json)?;
            } else {
                print_entries(&entries, cli.json)?;
                if !cli.json {
                    for l in rate_lines(&current, uid) {
                        println!("{l}");
                    }
                }
            }
        }
        Command::Set { option, value } => {
            let client = Client::connect()?;
            let bit = match option {
                NsOption::LowPorts => uapi::OPT_LOW_PORTS,
            };
            let old = client.status()?.options;
            let new = if *value == OnOff::On {
                old | bit
            } else {
                old & !bit
            };
            client.set_options(new)?;
        }
        Command::RouteLimit { limit, user } => {
            let uid = user.as_deref().map(names::uid_of).transpose()?;
            let n = parse_route_limit(limit, uid.is_some())?;
            Client::connect()?.set_route_limit(uid, n)?;
        }
        Command::Rate { words } => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let line = shaping::RateLine::parse(&words)?;
            let client = Client::connect()?;
            let shaper = shaping::Shaper::connect()?;
            let current = shaper.read(&client)?;
            let entries = client.entries(None)?;
            let mut plan = current.plan.clone();
            shaping::amend(&mut plan, &line, &shaping::Users::of(&entries))?;
            shaper.apply(&client, &current, &plan, &entries)?;
        }
        Command::Flush { user } => {
            let replace = match user {
                Some(u) => Replace::Uid(names::uid_of(u)?),
                None => Replace::All,
            };
            change(cli, &Client::connect()?, replace, &[])?;
        }
        Command::Save => {
            let client = Client::connect()?;
            for e in client.entries(None)? {
                println!("{}", Line::of(&e));
            }
            for l in saved_limits(&client)? {
                println!("{l}");
            }
            let current = shaping::Shaper::connect()?.read(&client)?;
            for l in rate_lines(&current, None) {
                println!("{l}");
            }
        }
        Command::Apply { file } => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
            };
            let file_text = config::parse(&text).with_context(|| format!("in {file}"))?;
            let wanted = file_text
                .entries
                .iter()
                .map(Line::resolve)
                .collect::<Result<Vec<_>>>()?;
            let limits = file_text
                .limits
                .iter()
                .map(|l| Ok((l.user.as_deref().map(names::uid_of).transpose()?, l.routes)))
                .collect::<Result<Vec<_>>>()?;
            // The file's shapes, checked against its entries and the links
            // before anything changes; link rates first, users' rates are
            // checked against them.
            let mut plan = shaping::Plan::default();
            let (link_lines, user_lines): (Vec<_>, Vec<_>) =
                file_text.rates.iter().partition(|l| l.user.is_none());
            // Indexed only for users' rate lines (a sixth of reading a file
            // of 65,536 entries).
            let users = if user_lines.is_empty() {
                shaping::Users::default()
            } else {
                shaping::Users::of(&wanted)
            };
            for l in link_lines.into_iter().chain(user_lines) {
                shaping::amend(&mut plan, l, &users).with_context(|| format!("in {file}: {l}"))?;
            }
            let client = Client::connect()?;
            let before = client.entries(None)?;
            let changes = config::diff(&before, &wanted);
            if !changes.is_empty() {
                // The shapes follow below, with the file's.
                // The batch is the diff: the module then holds `wanted`.
                client.set(Replace::Nothing, &changes)?;
                // A default the file raises is raised before the new
                // entries' routes go in (the old one could refuse them); a
                // lower one is set last, with the users' own limits.
                let default = file_default_limit(&limits);
                if client.status()?.route_limit < default {
                    client.set_route_limit(None, default)?;
                }
                route(cli, &client, &before, Some(&wanted))?;
            }
            if !cli.no_routing {
                // The entries just added got their connected routes with the
                // change; the other host entries may have lost theirs to a
                // link that went down (no socket opened when there are none).
                let added: std::collections::HashSet<_> = changes
                    .iter()
                    .filter_map(|c| match c {
                        Change::Add(e) => Some(e.prefix),
                        Change::Remove(_) => None,
                    })
                    .collect();
                let kept: Vec<Entry> = wanted
                    .iter()
                    .filter(|e| !added.contains(&e.prefix) && e.prefix.is_host())
                    .copied()
                    .collect();
                if !kept.is_empty() {
                    routing::PolicyRouting::connect()?.restore_connected(&kept)?;
                }
            }
            // One dump of the counters for both: the limits change no class.
            // Only a uid the module held before this apply can have a limit
            // or a class of its own; when the file's users are all new and
            // it names no user's limit or rate, the dump (a tenth of the
            // time of applying a file of new users) would tell nothing.
            let before_uids: std::collections::HashSet<u32> =
                before.iter().map(|e| e.uid).collect();
            let counters = if wanted.iter().any(|e| before_uids.contains(&e.uid))
                || limits.iter().any(|(u, _)| u.is_some())
                || !file_text.rates.is_empty()
            {
                client.counters(None)?
            } else {
                Vec::new()
            };
            apply_limits(&client, &limits, &counters)?;
            // Shapes: exactly the file's (checked above).
            let shaper = shaping::Shaper::connect()?;
            let current = shaper.read_with(&counters)?;
            // The module's entries are the file's now (the change above).
            shaper.apply(&client, &current, &plan, &wanted)?;
            let added = changes
                .iter()
                .filter(|c| matches!(c, Change::Add(_)))
                .count();
            let removed = changes.len() - added;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "added": added, "removed": removed })
                );
            } else {
                println!("{added} added, {removed} removed");
            }
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "uoamap",
                &mut std::io::stdout(),
            );
        }
        Command::Man => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?,
        Command::Status => {
            let status = Client::connect()?.status()?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("module: uoa {}", status.version);
                println!("netns cookie: {}", status.netns_cookie);
                println!(
                    "entries: {} for {} uids, {} bytes",
                    status.entries, status.uids, status.memory_bytes
                );
                let low_ports = status.options & uapi::OPT_LOW_PORTS != 0;
                println!("low-ports: {}", if low_ports { "on" } else { "off" });
                println!("route limit: {} per user unless set", status.route_limit);
                println!("unmanaged users: {}", status.others);
                println!("status requests: {}", status.status_requests);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_flag_goes_anywhere() {
        for args in [["uoamap", "-j", "status"], ["uoamap", "status", "--json"]] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.json);
            assert!(matches!(cli.command, Command::Status));
        }
    }

    #[test]
    fn add_takes_the_mission_syntax() {
        let cli = Cli::try_parse_from(["uoamap", "add", "10.1.3.1", "u11", "32811"]).unwrap();
        assert!(matches!(cli.command, Command::Add { ref dev, .. } if dev.is_empty()));
        let cli = Cli::try_parse_from(["uoamap", "add", "10.1.3.1", "u11", "32811", "dev", "eth0"])
            .unwrap();
        assert!(matches!(cli.command, Command::Add { ref dev, .. } if dev == &["dev", "eth0"]));
    }

    #[test]
    fn man_page_and_completions_name_every_command() {
        let mut man = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut man)
            .unwrap();
        let man = String::from_utf8(man).unwrap();
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "uoamap",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        for cmd in [
            "add",
            "del",
            "show",
            "flush",
            "save",
            "apply",
            "status",
            "set",
            "route-limit",
        ] {
            // roff writes a hyphen as `\-`.
            let in_roff = cmd.replace('-', "\\-");
            assert!(man.contains(&in_roff), "{cmd} missing from the man page");
            assert!(bash.contains(cmd), "{cmd} missing from bash completion");
        }
    }

    #[test]
    fn route_limits_are_numbers_or_default_for_a_user() {
        assert_eq!(parse_route_limit("50000", true).unwrap(), 50000);
        assert_eq!(parse_route_limit("50000", false).unwrap(), 50000);
        assert_eq!(parse_route_limit("default", true).unwrap(), 0);
        assert!(parse_route_limit("default", false).is_err());
        for bad in ["0", "-1", "1e6", "", "4294967296"] {
            let e = parse_route_limit(bad, true).unwrap_err().to_string();
            assert!(e.contains("want a number of routes"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_subcommand_is_an_error() {
        assert!(Cli::try_parse_from(["uoamap", "frobnicate"]).is_err());
    }
}
