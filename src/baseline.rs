//! Baselines (`tokenwarden-baseline/v1`): the findings a team has accepted as known, by
//! fingerprint, so a gate can fail only on what is new. `scan --write-baseline FILE`
//! records the current findings; `scan --baseline FILE` marks each finding `new`,
//! `unchanged` or `updated` (same finding, higher severity than recorded) and lists
//! recorded findings that are gone as `absent` (SARIF `baselineState`).
//!
//! A baseline that cannot be read or parsed is an error naming the file, never an empty
//! baseline: an empty one would turn every finding into a new one, or — worse, with a
//! typo'd path in a job that ignores errors — silently pass a gate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::inventory::Owner;
use crate::reach::Reach;

pub const BASELINE_FORMAT: &str = "tokenwarden-baseline/v1";

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format: String,
    /// The `--now` of the scan that wrote it.
    pub created_at: DateTime<Utc>,
    pub findings: Vec<BaselineEntry>,
}

/// One recorded finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule_id: String,
    pub token_id: String,
    #[serde(default)]
    pub token_name: Option<String>,
    pub owner: Owner,
    pub severity: Severity,
    /// When the finding was first recorded; kept across rewrites of the baseline.
    pub first_seen: DateTime<Utc>,
}

/// How a finding compares with the baseline (SARIF `baselineState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    /// In the baseline, but its severity is now higher than recorded: it gates like a new one.
    Updated,
    Unchanged,
    Absent,
}

impl BaselineState {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Updated => "updated",
            BaselineState::Unchanged => "unchanged",
            BaselineState::Absent => "absent",
        }
    }

    /// Whether a finding in this state counts for the gate.
    pub fn gates(self) -> bool {
        matches!(self, BaselineState::New | BaselineState::Updated)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("baseline {path} is not valid JSON (line {line}, column {column}): {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("baseline {path}: {json_path}: {message}")]
    Shape {
        path: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("cannot write baseline {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Baseline {
    /// A baseline of `findings` at `now`, keeping `first_seen` from `previous` for the
    /// findings it already had, and keeping `previous` entries the scan could not see
    /// (outside its `reach`: narrowed away or not evaluated), so a partial scan does not
    /// forget accepted findings. Sorted by fingerprint, so the file diffs cleanly.
    pub fn record(
        findings: &[Finding],
        now: DateTime<Utc>,
        previous: Option<&Baseline>,
        reach: &Reach,
    ) -> Self {
        let seen: BTreeMap<&str, DateTime<Utc>> = previous
            .map(|b| {
                b.findings
                    .iter()
                    .map(|e| (e.fingerprint.as_str(), e.first_seen))
                    .collect()
            })
            .unwrap_or_default();
        let mut entries: BTreeMap<String, BaselineEntry> = BTreeMap::new();
        for f in findings {
            entries
                .entry(f.fingerprint.clone())
                .or_insert_with(|| BaselineEntry {
                    fingerprint: f.fingerprint.clone(),
                    rule_id: f.rule_id.clone(),
                    token_id: f.token_id.to_string(),
                    token_name: f.token_name.as_deref().map(str::to_string),
                    owner: (*f.owner).clone(),
                    severity: f.severity,
                    first_seen: seen.get(f.fingerprint.as_str()).copied().unwrap_or(now),
                });
        }
        for e in previous.map(|b| b.findings.as_slice()).unwrap_or_default() {
            if !reach.covers_token(&e.owner, &e.token_id) {
                entries
                    .entry(e.fingerprint.clone())
                    .or_insert_with(|| e.clone());
            }
        }
        Baseline {
            format: BASELINE_FORMAT.to_string(),
            created_at: now,
            findings: entries.into_values().collect(),
        }
    }

    pub fn from_json(text: &str, path: &Path) -> Result<Baseline, BaselineError> {
        let value: Value = serde_json::from_str(text).map_err(|e| BaselineError::Syntax {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let shape = |json_path: &str, message: String| BaselineError::Shape {
            path: path.to_path_buf(),
            json_path: json_path.to_string(),
            message,
        };
        match value.get("format") {
            Some(Value::String(f)) if f == BASELINE_FORMAT => {}
            Some(other) => {
                return Err(shape(
                    "format",
                    format!("unsupported format {other}, expected {BASELINE_FORMAT:?}"),
                ))
            }
            None => {
                return Err(shape(
                    "format",
                    format!(
                        "missing required key (expected {BASELINE_FORMAT:?}; write one with `tokenwarden scan --write-baseline FILE`)"
                    ),
                ))
            }
        }
        serde_path_to_error::deserialize(&value).map_err(|e| {
            let p = e.path().to_string();
            shape(if p == "." { "$" } else { &p }, e.inner().to_string())
        })
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Write atomically (temp file + rename): a half-written baseline would fail the next run.
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        crate::atomic::write_json(path, self).map_err(|source| BaselineError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A scan's findings compared with a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline file, as given.
    pub file: String,
    /// State of each current finding, by fingerprint.
    pub states: BTreeMap<String, BaselineState>,
    /// Recorded findings the scan no longer produces, where it could have seen them.
    pub absent: Vec<BaselineEntry>,
}

impl Comparison {
    /// Compare `findings` with `baseline`. A recorded finding counts as absent only when
    /// its token was inside the scan's reach; one in a scope narrowed away or not
    /// evaluated is neither present nor absent.
    pub fn new(baseline: &Baseline, file: &str, findings: &[Finding], reach: &Reach) -> Self {
        let recorded: BTreeMap<&str, &BaselineEntry> = baseline
            .findings
            .iter()
            .map(|e| (e.fingerprint.as_str(), e))
            .collect();
        let states = findings
            .iter()
            .map(|f| {
                let state = match recorded.get(f.fingerprint.as_str()) {
                    None => BaselineState::New,
                    Some(e) if f.severity > e.severity => BaselineState::Updated,
                    Some(_) => BaselineState::Unchanged,
                };
                (f.fingerprint.clone(), state)
            })
            .collect::<BTreeMap<_, _>>();
        let mut absent: Vec<BaselineEntry> = recorded
            .values()
            .filter(|e| !states.contains_key(&e.fingerprint))
            .filter(|e| reach.covers_token(&e.owner, &e.token_id))
            .map(|e| (*e).clone())
            .collect();
        absent.sort_by(|a, b| {
            (a.owner.path(), &a.token_id, &a.rule_id).cmp(&(
                b.owner.path(),
                &b.token_id,
                &b.rule_id,
            ))
        });
        Comparison {
            file: file.to_string(),
            states,
            absent,
        }
    }

    pub fn state(&self, f: &Finding) -> BaselineState {
        self.states
            .get(&f.fingerprint)
            .copied()
            .unwrap_or(BaselineState::New)
    }

    /// How many current findings are in `state`.
    pub fn count(&self, state: BaselineState) -> usize {
        if state == BaselineState::Absent {
            return self.absent.len();
        }
        self.states.values().filter(|s| **s == state).count()
    }
}

#[cfg(test)]
mod tests;
