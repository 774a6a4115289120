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
