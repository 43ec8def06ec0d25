//! The command layer (binary only): clap's arguments ([`args`]), the session of one run
//! ([`session`]: clock, credential, client, runtime, stderr and stdout), one file per
//! command, and the one error type with its exit-code table ([`error`]). The library under
//! it never prints and knows nothing of clap (docs/architecture.md).

pub mod args;
mod doctor;
pub mod error;
mod explain;
mod history;
mod permission_groups;
mod progress;
mod recover;
mod remediate;
mod rules;
mod scan;
pub mod session;
mod signals;
mod snapshot;
mod terraform;
mod token_action;

use tokenwarden::exit::Exit;
use tokenwarden::remediate::Op;

use args::{Cli, Command};
use error::Error;
use session::Session;

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    let session = Session::new(&cli.global)?;
    match cli.command {
        Command::Scan(args) => scan::run(&args, &session),
        Command::Snapshot(args) => snapshot::run(&args, &session),
        Command::Rules(cmd) => rules::run(cmd, &session),
        Command::Explain(args) => explain::run(&args, &session),
        Command::PermissionGroups(args) => permission_groups::run(&args, &session),
        Command::Doctor(args) => doctor::run(&args, &session),
        Command::History(args) => history::run(&args, &session),
        Command::Completions { shell } => completions(shell),
        Command::Remediate(args) => remediate::run(&args, &session),
        Command::Recover(args) => recover::run(&args, &session),
        Command::Roll(args) => token_action::run(Op::Roll, &args, &session),
        Command::Replace(args) => token_action::run(Op::Replace, &args, &session),
        Command::Disable(args) => token_action::run(Op::Disable, &args, &session),
        Command::Enable(args) => token_action::run(Op::Enable, &args, &session),
    }
}

/// `tokenwarden completions SHELL`: rendered in memory first, so a closed stdout cannot
/// make clap_complete panic.
fn completions(shell: clap_complete::Shell) -> Result<Exit, Error> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tokenwarden", &mut script);
    session::print(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::args::Cli::command().debug_assert();
    }
}
