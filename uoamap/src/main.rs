//! `uoamap`: the administrator's tool for UOA, in the habits of `ip` and `wg`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use uoa_genl::Client;

#[derive(Parser)]
#[command(
    version,
    about = "Administer UOA: per-user addresses and routing tables"
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
    /// Show the loaded uoa module's status in this network namespace.
    Status,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("uoamap: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    match cli.command {
        Command::Status => {
            let status = Client::connect()?.status()?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("module: uoa {}", status.version);
                println!("netns cookie: {}", status.netns_cookie);
                println!("status requests: {}", status.status_requests);
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

    #[test]
    fn json_flag_goes_anywhere() {
        for args in [["uoamap", "-j", "status"], ["uoamap", "status", "--json"]] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.json);
            assert!(matches!(cli.command, Command::Status));
        }
    }

    #[test]
    fn unknown_subcommand_is_an_error() {
        assert!(Cli::try_parse_from(["uoamap", "frobnicate"]).is_err());
    }
}
