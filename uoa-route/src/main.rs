//! `uoa-route`: what a user runs for itself under UOA: its addresses, and
//! its own routing table, which the kernel lets it change over rtnetlink
//! and shows it as main.

mod errors;
mod listing;
mod request;

use anyhow::{anyhow, Result};
use clap::{CommandFactory, Parser, Subcommand};
use nix::unistd::{getuid, User};
use request::Op;
use uoa_genl::{Client, Family};
use uoa_rtnl::{errno, Rtnl};

#[derive(Parser)]
#[command(
    version,
    about = "A user's view of its own UOA addresses, table and routes"
)]
struct Cli {
    /// Print JSON instead of text.
    #[arg(short, long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show who you are and whether UOA is active in this network namespace.
    Status,
    /// Show your addresses and your routing table in this network namespace.
    Show {
        /// Also show what UOA refused or changed for you (denied binds and
        /// sources, rewritten sources, dropped packets, route changes made
        /// and refused).
        #[arg(short, long)]
        stats: bool,
    },
    /// Add a route to your table: `add 10.20.0.0/16 via 10.1.3.2`,
    /// `add blackhole 10.9.0.0/16`.
    Add {
        /// [TYPE] PREFIX [via GW] [dev IFACE] [src ADDR] [metric N]; TYPE is
        /// unicast (the default), blackhole, unreachable or prohibit.
        #[arg(required = true, value_name = "ROUTE")]
        route: Vec<String>,
    },
    /// Add a route to your table, or change the one to the same PREFIX.
    Replace {
        /// [TYPE] PREFIX [via GW] [dev IFACE] [src ADDR] [metric N].
        #[arg(required = true, value_name = "ROUTE")]
        route: Vec<String>,
    },
    /// Delete a route from your table.
    Del {
        /// [TYPE] PREFIX [via GW] [dev IFACE] [metric N].
        #[arg(required = true, value_name = "ROUTE")]
        route: Vec<String>,
    },
    /// Delete every route you added (the connected routes stay).
    Flush,
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

fn main() {
    // Any error exits 1, a mistake in the arguments too; help and version 0.
    let cli = Cli::try_parse().unwrap_or_else(|e| match e.use_stderr() {
        true => {
            let _ = e.print();
            std::process::exit(1)
        }
        false => e.exit(),
    });
    if let Err(e) = run(&cli) {
        eprintln!("uoa-route: {e:#}");
        std::process::exit(1);
    }
}

/// Does the module list addresses of `uid` here? No if it cannot be asked.
fn is_managed(uid: u32) -> bool {
    Client::connect()
        .and_then(|c| c.entries(Some(uid)))
        .is_ok_and(|e| !e.is_empty())
}

/// The routes a dump of both families shows the caller as main.
fn dump_own_routes(rtnl: &Rtnl) -> Result<listing::OwnRoutes> {
    let mut msgs = rtnl.routes(Family::V4)?;
    msgs.extend(rtnl.routes(Family::V6)?);
    Ok(listing::own_routes(&msgs))
}

fn change(op: Op, words: &[String]) -> Result<()> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let req = request::parse(op, &words).map_err(|e| anyhow!("{}: {e}", op.name()))?;
    let what = req.describe();
    let route = req
        .resolve(request::ifindex_of)
        .map_err(|e| anyhow!("{what}: {e}"))?;
    let msg = req.message(&route)?;
    let uid = getuid().as_raw();
    Rtnl::connect()?
        .call(op.msg_type(), op.flags(), &msg)
        .map_err(|e| anyhow!(errors::refusal_text(&what, &e, uid, || is_managed(uid))))
}

fn flush(json: bool) -> Result<()> {
    let uid = getuid().as_raw();
    // Never flush a main table that is not the caller's own.
    if Client::connect()?.entries(Some(uid))?.is_empty() {
        return Err(anyhow!("flush: {}", errors::not_managed(uid)));
    }
    let rtnl = Rtnl::connect()?;
    let own = dump_own_routes(&rtnl)?;
    if own.other_tables {
        let why = errors::every_table_shown(uid);
        return Err(anyhow!("flush: {why}; nothing removed"));
    }
    let mut removed = 0;
    for r in own.routes.iter().filter(|r| listing::flushable(r)) {
        let what = format!("flush: del {}", listing::route_line(r, listing::ifname));
        match rtnl.call(Op::Del.msg_type(), Op::Del.flags(), &r.del_msg()?) {
            Ok(()) => removed += 1,
            // Gone meanwhile (or with a sibling of its multipath route).
            Err(e) if e.is_errno(&[errno::ESRCH, errno::ENOENT]) => {}
            Err(e) => {
                let text = errors::refusal_text(&what, &e, uid, || true);
                return Err(anyhow!("{text} ({removed} removed before)"));
            }
        }
    }
    if json {
        println!("{}", serde_json::json!({ "removed": removed }));
    } else {
        let s = if removed == 1 { "" } else { "s" };
        println!("{removed} route{s} removed");
    }
    Ok(())
}

/// The caller's tc class on each interface that shapes it (the
/// administrator's `uoamap rate`), with its counters, one line each.
fn class_lines(class: Option<u32>) -> Result<Vec<String>> {
    let Some(class) = class else {
        return Ok(Vec::new());
    };
    let rate = |r: u64| uoa_genl::Rate(r).to_string();
    Ok(Rtnl::connect()?
        .class_everywhere(class)?
        .into_iter()
        .map(|(ifindex, c)| {
            let dev = listing::ifname(ifindex);
            let (dev, way) = match dev.strip_prefix("in-") {
                Some(d) => (d.to_string(), "in"),
                None => (dev, "out"),
            };
            format!(
                "shaping: dev {dev} {way} rate {} ceil {}: sent {} bytes {} pkts, dropped {}, overlimits {}",
                rate(c.rate),
                rate(c.ceil),
                c.bytes,
                c.packets,
                c.drops,
                c.overlimits
            )
        })
        .collect())
}

fn show(json: bool, stats: bool) -> Result<()> {
    let uid = getuid().as_raw();
    let client = Client::connect()?;
    // Without CAP_NET_ADMIN the module returns only the caller's own.
    let mine = client.entries(Some(uid))?;
    let table = mine.first().map(|e| e.table);
    let counters = match stats {
        true => client.counters(Some(uid))?.into_iter().next(),
        false => None,
    };
    let routes = match table {
        Some(_) => {
            let own = dump_own_routes(&Rtnl::connect()?)?;
            if own.other_tables {
                let why = errors::every_table_shown(uid);
                eprintln!("uoa-route: note: {why}: routes not listed");
            }
            own.routes_if_own()
        }
        None => Vec::new(),
    };
    if json {
        let addrs: Vec<String> = mine.iter().map(|e| e.prefix.to_string()).collect();
        let mut v = serde_json::json!({ "uid": uid, "table": table, "addresses": addrs });
        if !routes.is_empty() {
            let rows = routes
                .iter()
                .map(|r| listing::route_json(r, listing::ifname));
            v["routes"] = serde_json::Value::Array(rows.collect());
        }
        if let Some(c) = &counters {
            v["counters"] = serde_json::to_value(c)?;
            v["shaping"] = serde_json::to_value(class_lines(c.class)?)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let Some(table) = table {
        println!("table: {table}");
        for e in &mine {
            println!("address: {}", e.prefix);
        }
        for r in &routes {
            println!("route: {}", listing::route_line(r, listing::ifname));
        }
        if let Some(c) = &counters {
            println!("{c}");
            for line in class_lines(c.class)? {
                println!("{line}");
            }
        }
    } else {
        println!("uid {uid} has no UOA addresses in this network namespace");
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Status => {
            let uid = getuid();
            let user = User::from_uid(uid)?.map(|u| u.name);
            let status = Client::connect()?.status()?;
            if cli.json {
                let v = serde_json::json!({
                    "uid": uid.as_raw(),
                    "user": user,
                    "module_version": status.version,
                    "netns_cookie": status.netns_cookie,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let name = user.unwrap_or_else(|| "-".into());
                println!("user: {name} (uid {uid})");
                println!("module: uoa {}", status.version);
                println!("netns cookie: {}", status.netns_cookie);
            }
        }
        Command::Show { stats } => show(cli.json, *stats)?,
        Command::Add { route } => change(Op::Add, route)?,
        Command::Replace { route } => change(Op::Replace, route)?,
        Command::Del { route } => change(Op::Del, route)?,
        Command::Flush => flush(cli.json)?,
        Command::Completions { shell } => clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "uoa-route",
            &mut std::io::stdout(),
        ),
        Command::Man => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?,
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

    fn words(args: &[&str]) -> (Op, Vec<String>) {
        let mut argv = vec!["uoa-route"];
        argv.extend(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Add { route } => (Op::Add, route),
            Command::Replace { route } => (Op::Replace, route),
            Command::Del { route } => (Op::Del, route),
            _ => panic!("not a change"),
        }
    }

    #[test]
    fn changes_take_the_words_of_ip_route() {
        let (op, route) = words(&["add", "10.20.0.0/16", "via", "10.1.3.2", "metric", "7"]);
        assert_eq!(
            (op, route.join(" ")),
            (Op::Add, "10.20.0.0/16 via 10.1.3.2 metric 7".into())
        );
        let (op, route) = words(&["replace", "blackhole", "10.9.0.0/16"]);
        assert_eq!(
            (op, route.join(" ")),
            (Op::Replace, "blackhole 10.9.0.0/16".into())
        );
        let (op, route) = words(&["-j", "del", "2001:db8:20::/48"]);
        assert_eq!((op, route.join(" ")), (Op::Del, "2001:db8:20::/48".into()));
        assert!(Cli::try_parse_from(["uoa-route", "add"]).is_err());
        assert!(Cli::try_parse_from(["uoa-route", "flush", "all"]).is_err());
    }

    #[test]
    fn json_flag_goes_anywhere() {
        for args in [["uoa-route", "-j", "show"], ["uoa-route", "show", "--json"]] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.json);
            assert!(matches!(cli.command, Command::Show { stats: false }));
        }
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
            "uoa-route",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        for cmd in [
            "status",
            "show",
            "add",
            "replace",
            "del",
            "flush",
            "completions",
            "man",
        ] {
            assert!(man.contains(cmd), "{cmd} missing from the man page");
            assert!(bash.contains(cmd), "{cmd} missing from bash completion");
        }
    }
}
