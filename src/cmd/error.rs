//! The command layer's one error type and the one table that maps it to an exit code
//! (README "Exit codes"). Every module of the library keeps its own typed error; they meet
//! here through `#[from]`, so no command decides an exit code for a failure by itself.
//!
//! The rule the table follows: **2** when the run did not start — a flag, a file the user
//! named that cannot be read, or cannot be written (checked before the run starts, so the
//! same for every flag), a policy, rule or snapshot that does not parse, a refusal that
//! protects a token; **3** when the run started and something failed — the API, a write
//! after the work was done, the runtime.

use std::io;
use std::path::PathBuf;

use tokenwarden::baseline::BaselineError;
use tokenwarden::clock::ClockError;
use tokenwarden::cloudflare::{ApiError, BudgetError, ConnectionError};
use tokenwarden::engine::RuleError;
use tokenwarden::exit::Exit;
use tokenwarden::history::HistoryError;
use tokenwarden::inventory::SnapshotError;
use tokenwarden::policy::PolicyError;
use tokenwarden::remediate::journal::JournalError;
use tokenwarden::remediate::sink::SinkError;
use tokenwarden::terraform::TerraformError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag, argument or combination refused before anything was done.
    #[error("{0}")]
    Usage(String),
    /// A refusal that protects a token or a secret; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// No credential, or one that cannot be used.
    #[error("{0}")]
    Credential(String),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error("--rate-limit: {0}")]
    RateLimit(#[from] BudgetError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// A Terraform configuration, plan or catalogue that cannot be read or parsed.
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot open the journal: {0}; nothing was changed")]
    Journal(#[from] JournalError),
    /// A file the user named that cannot be read.
    #[error("cannot read {flag} {}: {source}", .path.display())]
    Unreadable {
        flag: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file the user named that cannot be written, found before the run started.
    #[error("cannot write {flag} {}: {source}", .path.display())]
    Unwritable {
        flag: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The API could not answer a question a safe action depends on (e.g. which token this
    /// run uses); nothing was changed.
    #[error("{0}")]
    Undecided(String),
    /// Output that failed after the run started (the report, a file being written).
    #[error("cannot write {what} to {target}: {source}")]
    Output {
        what: &'static str,
        target: String,
        source: io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl Error {
    /// The exit code for this failure: the one table.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_)
            | Error::Refused(_)
            | Error::Credential(_)
            | Error::Clock(_)
            | Error::Connection(_)
            | Error::RateLimit(_)
            | Error::Policy(_)
            | Error::Rules(_)
            | Error::Sink(_)
            | Error::Journal(_)
            | Error::Unreadable { .. }
            | Error::Terraform(_)
            | Error::Unwritable { .. } => Exit::Usage,
            Error::Snapshot(e) => match e {
                SnapshotError::Write { .. } => Exit::Runtime,
                _ => Exit::Usage,
            },
            Error::Baseline(e) => match e {
                BaselineError::Write { .. } => Exit::Runtime,
                _ => Exit::Usage,
            },
            Error::Api(_) | Error::Undecided(_) | Error::Output { .. } | Error::Runtime(_) => {
                Exit::Runtime
            }
            // A history that cannot be opened, or is newer than this binary, is refused
            // before the scan (nothing evaluated); a failing read or write is a runtime failure.
            Error::History(e) => match e {
                HistoryError::Open { .. }
                | HistoryError::TooNew { .. }
                | HistoryError::NoScan { .. } => Exit::Usage,
                HistoryError::Query { .. } | HistoryError::Corrupt { .. } => Exit::Runtime,
            },
        }
    }

    /// What to do about it, when there is something general to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Credential(_) => Some(
                "tokenwarden reads CLOUDFLARE_API_TOKEN, or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY, or --api-token-file FILE; `tokenwarden doctor` checks a credential",
            ),
            Error::Rules(_) => Some("`tokenwarden rules test DIR` checks a rule pack"),
            Error::Api(_) => Some(
                "`tokenwarden doctor` checks the credential's permissions and every scope a scan reads",
            ),
            _ => None,
        }
    }
}

/// Builds a [`Error::Usage`] from anything printable.
pub fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io() -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, "denied")
    }

    /// One row per kind of failure: README's exit-code table says the same.
    #[test]
    fn every_failure_maps_to_its_documented_code() {
        let p = || PathBuf::from("/x");
        let rows: Vec<(Error, u8)> = vec![
            (usage("bad flag"), 2),
            (Error::Refused("no".into()), 2),
            (Error::Credential("none".into()), 2),
            (
                Error::Clock(tokenwarden::clock::Clock::from_arg(Some("x")).unwrap_err()),
                2,
            ),
            (
                Error::Connection(ConnectionError::PlainHttp("http://x".into())),
                2,
            ),
            (
                Error::RateLimit(BudgetError {
                    value: "x".into(),
                    reason: "bad",
                }),
                2,
            ),
            (
                Error::Rules(RuleError::Compile {
                    file: "f".into(),
                    message: "m".into(),
                }),
                2,
            ),
            (
                Error::Snapshot(SnapshotError::Read {
                    path: p(),
                    source: io(),
                }),
                2,
            ),
            (
                Error::Snapshot(SnapshotError::Write {
                    path: p(),
                    source: io(),
                }),
                3,
            ),
            (
                Error::Baseline(BaselineError::Read {
                    path: p(),
                    source: io(),
                }),
                2,
            ),
            (
                Error::Baseline(BaselineError::Write {
                    path: p(),
                    source: io(),
                }),
                3,
            ),
            (
                Error::Unreadable {
                    flag: "--policy",
                    path: p(),
                    source: io(),
                },
                2,
            ),
            (
                Error::Unwritable {
                    flag: "--output",
                    path: p(),
                    source: io(),
                },
                2,
            ),
            (
                Error::Output {
                    what: "the report",
                    target: "stdout".into(),
                    source: io(),
                },
                3,
            ),
            (Error::Runtime(io()), 3),
            (Error::Undecided("verify failed".into()), 3),
        ];
        for (e, code) in rows {
            assert_eq!(e.exit().code(), code, "{e}");
        }
    }

    #[test]
    fn messages_name_the_flag_and_the_path() {
        let e = Error::Unwritable {
            flag: "--sarif",
            path: PathBuf::from("/ro/out.sarif"),
            source: io(),
        };
        assert_eq!(e.to_string(), "cannot write --sarif /ro/out.sarif: denied");
    }
}
