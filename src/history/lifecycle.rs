//! Finding lifecycle: which findings are new, which were resolved, which came back, when
//! each open one was first seen, how old it is and whether it is past its deadline. Pure
//! functions over the previous scan's recorded findings and this scan's findings.
//!
//! *First seen* is the start of the finding's current open streak: the first scan of the
//! scope that found it with no scan in between that looked at its token and did not. A
//! finding fixed and then found again is *reopened* and its clock starts again (the
//! previous streak is in the history); a scan that could not look at the token (not
//! evaluated, carried forward) does not break a streak.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};
use crate::policy::Sla;
use crate::scope::Owner;

/// A finding as a scan recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFinding {
    pub fingerprint: String,
    pub rule_id: String,
    pub severity: Severity,
    pub owner: Owner,
    pub token_id: String,
    pub token_name: Option<String>,
    pub exempted: bool,
    pub first_seen: DateTime<Utc>,
}

impl RecordedFinding {
    /// A finding of this scan as it is recorded, first seen at `first_seen`.
    pub fn of(f: &Finding, first_seen: DateTime<Utc>) -> RecordedFinding {
        RecordedFinding {
            fingerprint: f.fingerprint.clone(),
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            owner: (*f.owner).clone(),
            token_id: f.token_id.to_string(),
            token_name: f.token_name.as_deref().map(str::to_string),
            exempted: f.is_exempted(),
            first_seen,
        }
    }
}

/// Where an open finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FindingStatus {
    /// Never seen before in this scope's history.
    New,
    /// Seen before, then resolved, now found again.
    Reopened,
    /// Open in the previous scan too.
    Open,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The lifecycle of one open finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFinding {
    pub status: FindingStatus,
    pub first_seen: DateTime<Utc>,
    /// Whole days since first seen.
    pub age_days: i64,
    /// The deadline per the policy's `[sla]`, when it sets one for the severity.
    pub due: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub exempted: bool,
}

/// A finding of the previous scan that this one, looking, did not find again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedFinding {
    pub fingerprint: String,
    pub rule_id: String,
    pub severity: Severity,
    pub owner: Owner,
    pub token_id: String,
    pub token_name: Option<String>,
    pub first_seen: DateTime<Utc>,
}

/// The findings of a scan compared with the previous one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    pub open: BTreeMap<String, OpenFinding>,
    /// Fingerprints of findings that are new or reopened.
    pub new: Vec<String>,
    pub resolved: Vec<ResolvedFinding>,
    /// Previous findings on tokens this scan could not look at: kept as they were.
    pub carried: Vec<RecordedFinding>,
}

/// The deadline and whether it has passed, for a finding first seen at `first_seen`.
pub fn deadline(
    severity: Severity,
    first_seen: DateTime<Utc>,
    now: DateTime<Utc>,
    sla: &Sla,
) -> (Option<DateTime<Utc>>, bool) {
    match sla.days(severity) {
        None => (None, false),
        Some(days) => {
            let due = first_seen + Duration::days(i64::from(days));
            (Some(due), now > due)
        }
    }
}

/// Compare `findings` (this scan's) with `previous` (the previous scan's recorded
/// findings; `None` for the first scan of the scope). `looked(owner, token_id)` says whether
/// this scan evaluated that token; `seen_before` holds fingerprints found in any earlier
/// scan (to tell a reopened finding from a new one).
pub fn compare(
    findings: &[Finding],
    previous: Option<&[RecordedFinding]>,
    looked: &dyn Fn(&Owner, &str) -> bool,
    seen_before: &BTreeSet<String>,
    now: DateTime<Utc>,
    sla: &Sla,
) -> Lifecycle {
    let prev: BTreeMap<&str, &RecordedFinding> = previous
        .unwrap_or_default()
        .iter()
        .map(|f| (f.fingerprint.as_str(), f))
        .collect();
    let mut out = Lifecycle::default();
    for f in findings {
        let (status, first_seen) = match prev.get(f.fingerprint.as_str()) {
            Some(p) => (FindingStatus::Open, p.first_seen.min(now)),
            None if seen_before.contains(&f.fingerprint) => (FindingStatus::Reopened, now),
            None => (FindingStatus::New, now),
        };
        if status != FindingStatus::Open {
            out.new.push(f.fingerprint.clone());
        }
        let (due, overdue) = deadline(f.severity, first_seen, now, sla);
        out.open.insert(
            f.fingerprint.clone(),
            OpenFinding {
                status,
                first_seen,
                age_days: (now - first_seen).num_days(),
                due,
                overdue,
                exempted: f.is_exempted(),
            },
        );
    }
    out.new.sort();
    out.new.dedup();
    for (fp, p) in prev {
        if out.open.contains_key(fp) {
            continue;
        }
        if looked(&p.owner, &p.token_id) {
            out.resolved.push(ResolvedFinding {
                fingerprint: p.fingerprint.clone(),
                rule_id: p.rule_id.clone(),
                severity: p.severity,
                owner: p.owner.clone(),
                token_id: p.token_id.clone(),
                token_name: p.token_name.clone(),
                first_seen: p.first_seen,
            });
        } else {
            out.carried.push(p.clone());
        }
    }
    out.resolved.sort_by(|a, b| {
        (a.owner.path(), &a.token_id, &a.rule_id).cmp(&(b.owner.path(), &b.token_id, &b.rule_id))
    });
    out
}
