//! Scan history (docs/architecture.md, "History"): `scan --history DB` records each scan —
//! when, source, scope, policy digest, tool version, what was not evaluated, every token's
//! comparable state and every finding — in SQLite (a file path) or PostgreSQL (a
//! `postgres://` URL). What changed since the previous scan of the same scope is computed
//! here by pure functions over two recorded states ([`drift`], [`lifecycle`]); the storage
//! layer ([`store`]) only keeps and returns them.
//!
//! A scope the scan could not read (403, a failed token) carries its last-known tokens and
//! findings forward into the new record, so absence is only ever claimed where the scan
//! looked: a scope not evaluated never yields deleted tokens or resolved findings.

pub mod dashboard;
pub mod drift;
pub mod lifecycle;
pub mod record;
pub mod state;
pub mod store;

mod pg;
mod sqlite;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::policy::Sla;

pub use drift::{TokenChange, TokenEvent};
pub use lifecycle::{FindingStatus, OpenFinding};
pub use record::ScanRecord;
pub use state::{Grant, TokenState};
pub use store::{HistoryError, ScanSummary, Store};

/// What changed between the previous recorded scan of the same scope and this one: the
/// part every report shows under "changes since the previous scan".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    /// Where the history lives, with any password removed.
    pub database: String,
    /// The scan this one is compared with (`None` for the first scan of a scope).
    pub previous: Option<PreviousScan>,
    /// Tokens created, deleted, rolled, enabled, disabled, renamed or drifted, in report order.
    pub tokens: Vec<TokenChange>,
    /// Findings first seen (or seen again) in this scan, by fingerprint.
    pub new_findings: Vec<String>,
    /// Findings of the previous scan that this scan, looking, no longer produces.
    pub resolved: Vec<lifecycle::ResolvedFinding>,
    /// Every open finding of this scan with its lifecycle, by fingerprint.
    pub open: std::collections::BTreeMap<String, OpenFinding>,
}

/// The scan a comparison is made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviousScan {
    pub id: i64,
    pub at: DateTime<Utc>,
}

impl Changes {
    /// Tokens whose permissions, resources, condition, expiry or start changed.
    pub fn drifted(&self) -> usize {
        self.tokens.iter().filter(|t| t.drifted()).count()
    }

    /// How many tokens had `event`.
    pub fn count(&self, event: TokenEvent) -> usize {
        self.tokens
            .iter()
            .filter(|t| t.events.contains(&event))
            .count()
    }

    /// The lifecycle of the finding with `fingerprint`, when it is open in this scan.
    pub fn finding(&self, fingerprint: &str) -> Option<&OpenFinding> {
        self.open.get(fingerprint)
    }

    /// Open, unexempted findings past their deadline.
    pub fn overdue(&self) -> usize {
        self.open
            .values()
            .filter(|o| o.overdue && !o.exempted)
            .count()
    }

    /// New findings that are not exempted (what `gate.fail_on_new` counts).
    pub fn new_unexempted(&self) -> usize {
        self.new_findings
            .iter()
            .filter(|f| self.open.get(*f).is_some_and(|o| !o.exempted))
            .count()
    }
}

/// `t` as RFC 3339 in UTC, seconds precision (how history shows times).
pub fn show_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
