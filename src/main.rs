//! The `tokenwarden` binary: parse the command line, run it (`cmd`), and turn the outcome
//! into an exit code and, on failure, one message and perhaps a hint on stderr.

mod cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tokenwarden::exit::Exit;
use tokenwarden::text::terminal_lines;

fn main() -> ExitCode {
    let cli = match cmd::args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout; a closed stdout is not worth a message.
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(Exit::Usage.code()),
            };
        }
    };
    match cmd::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            let mut err = std::io::stderr().lock();
            // Errors quote outside text (API answers, file contents): no raw control
            // characters reach the terminal.
            let _ = writeln!(err, "error: {}", terminal_lines(&e.to_string()));
            if let Some(hint) = e.hint() {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::from(e.exit().code())
        }
    }
}
