//! `uoa-route`: what a user runs for itself under UOA.

use anyhow::Result;
use clap::{Parser, Subcommand};
use nix::unistd::{getuid, User};
use uoa_genl::Client;

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
        /// sources, rewritten sources, dropped packets).
        #[arg(short, long)]
        stats: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("uoa-route: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    match cli.command {
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
        Command::Show { stats } => {
            let uid = getuid().as_raw();
            let client = Client::connect()?;
            // Without CAP_NET_ADMIN the module returns only the caller's own.
            let mine = client.entries(Some(uid))?;
            let table = mine.first().map(|e| e.table);
            let counters = match stats {
                true => client.counters(Some(uid))?.into_iter().next(),
                false => None,
            };
            if cli.json {
                let addrs: Vec<String> = mine.iter().map(|e| e.prefix.to_string()).collect();
                let mut v = serde_json::json!({ "uid": uid, "table": table, "addresses": addrs });
                if let Some(c) = &counters {
                    v["counters"] = serde_json::to_value(c)?;
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if let Some(table) = table {
                println!("table: {table}");
                for e in &mine {
                    println!("address: {}", e.prefix);
                }
                if let Some(c) = counters {
                    println!(
                        "binds denied {}, sources denied {}, sources rewritten {}, packets dropped {}",
                        c.binds_denied, c.sources_denied, c.sources_rewritten, c.packets_dropped
                    );
                }
            } else {
                println!("uid {uid} has no UOA addresses in this network namespace");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
