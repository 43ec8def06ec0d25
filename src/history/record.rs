//! What one scan records, and the changes since the previous scan of its scope, built from
//! the scan's inventory and findings and the previous record. Pure: the command layer reads
//! the previous record from the [`Store`](super::Store) and writes the result back.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::drift::{self, Covered, TokenChange};
use super::lifecycle::{self, RecordedFinding};
use super::state::TokenState;
use super::store::Recorded;
use super::{Changes, PreviousScan};
use crate::finding::Finding;
use crate::inventory::{Inventory, NotEvaluated};
use crate::policy::{GovernancePolicy, Sla};
use crate::reach::Reach;
use crate::scope::{Owner, Scope};

/// One scan as it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRecord {
    pub at: DateTime<Utc>,
    /// The series this scan belongs to ([`scope_key`]).
    pub scope: String,
    /// `api`, `snapshot` or `terraform`.
    pub source: String,
    pub policy_digest: String,
    pub tool_version: String,
    /// Owners read in full.
    pub covered: Covered,
    pub not_evaluated: Vec<NotEvaluated>,
    pub tokens_scanned: usize,
    /// Every token: those this scan read, and those carried forward unread from the
    /// previous record.
    pub tokens: Vec<RecordToken>,
    /// Every finding, with `true` when carried forward (its token was not evaluated).
    pub findings: Vec<(RecordedFinding, bool)>,
    pub changes: Vec<TokenChange>,
    pub new_findings: usize,
    pub resolved: usize,
    pub drifted: usize,
    pub overdue: usize,
}

/// A token as a scan records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordToken {
    /// The content address of its state.
    pub hash: String,
    /// `(owner path, token id, state JSON)`; `None` for a carried token, whose state is
    /// stored already.
    pub state: Option<(String, String, String)>,
    pub last_used_on: Option<String>,
    pub carried: bool,
}

/// A token this scan read: its key, its state's stored form and hash. The state itself is
/// read back from the stored form only for the few tokens that changed (a 100k-token scan
/// would otherwise hold every token twice over).
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentToken {
    /// `user` or `accounts/<id>`.
    pub owner: String,
    pub token_id: String,
    pub json: String,
    pub hash: String,
    pub last_used_on: Option<String>,
}

impl CurrentToken {
    pub fn of(state: &TokenState) -> CurrentToken {
        let json = state.to_json();
        let hash = TokenState::hash(&json);
        CurrentToken {
            owner: state.owner.path(),
            token_id: state.id.clone(),
            json,
            hash,
            last_used_on: state.last_used_on.clone(),
        }
    }

    /// The full state, read back from its stored form.
    pub fn state(&self) -> Option<TokenState> {
        let mut t: TokenState = serde_json::from_str(&self.json).ok()?;
        t.last_used_on = self.last_used_on.clone();
        Some(t)
    }

    pub fn into_record(self) -> RecordToken {
        RecordToken {
            state: Some((self.owner, self.token_id, self.json)),
            hash: self.hash,
            last_used_on: self.last_used_on,
            carried: false,
        }
    }
}

/// The series a scan belongs to: its scope, narrowed to accounts when `--account` was given
/// (`all`, `user`, `accounts`, `all:<id>,<id>`). Scans compare only within a series.
pub fn scope_key(scope: Scope, accounts: &[String]) -> String {
    let mut accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    accounts.sort_unstable();
    accounts.dedup();
    if accounts.is_empty() || !scope.covers_accounts() {
        scope.as_str().to_string()
    } else {
        format!("{}:{}", scope.as_str(), accounts.join(","))
    }
}

/// The sha256 of the effective policy (where it was read from left out), so a history shows
/// when the rules of the game changed.
pub fn policy_digest(policy: &GovernancePolicy) -> String {
    let mut p = policy.clone();
    p.source = String::new();
    let digest = Sha256::digest(format!("{p:?}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every token state of `inventory`, read on every core (in inventory order).
pub fn token_states(inventory: &Inventory) -> Vec<CurrentToken> {
    let owners = inventory.owners();
    let tokens: Vec<_> = owners
        .iter()
        .flat_map(|o| o.tokens.iter().map(move |t| (o, t)))
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(tokens.len().div_ceil(1024).max(1));
    let read = |share: &[(
        &crate::inventory::OwnerTokens<'_>,
        &crate::inventory::RawToken,
    )]| {
        share
            .iter()
            .map(|(o, t)| CurrentToken::of(&TokenState::from_json(&o.owner, t.json(), o.catalogue)))
            .collect::<Vec<_>>()
    };
    if workers <= 1 {
        return read(&tokens);
    }
    let chunk = tokens.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .chunks(chunk)
            .map(|share| scope.spawn(move || read(share)))
            .collect();
        let mut out = Vec::with_capacity(tokens.len());
        for (h, share) in handles.into_iter().zip(tokens.chunks(chunk)) {
            // A worker that died: read its share here instead (the same function).
            out.extend(h.join().unwrap_or_else(|_| read(share)));
        }
        out
    })
}

/// What a scan brings to its record.
pub struct ScanInput<'a> {
    pub at: DateTime<Utc>,
    pub scope: String,
    pub source: String,
    pub policy: &'a GovernancePolicy,
    pub inventory: &'a Inventory,
    pub findings: &'a [Finding],
    pub not_evaluated: &'a [NotEvaluated],
    pub reach: &'a Reach,
}

/// Fingerprints of `findings` that `previous` does not hold (the ones to ask the store
/// whether any earlier scan saw them).
pub fn unseen(findings: &[Finding], previous: Option<&Recorded>) -> Vec<String> {
    let known: BTreeSet<&str> = previous
        .map(|p| p.findings.iter().map(|f| f.fingerprint.as_str()).collect())
        .unwrap_or_default();
    let mut out: Vec<String> = findings
        .iter()
        .filter(|f| !known.contains(f.fingerprint.as_str()))
        .map(|f| f.fingerprint.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The owners `input`'s scan read in full.
pub fn covered(input: &ScanInput<'_>) -> Covered {
    input
        .inventory
        .owners()
        .iter()
        .filter(|o| input.reach.covers_owner(&o.owner))
        .map(|o| o.owner.path())
        .collect()
}

/// The hashes of the previous record's tokens whose full state the comparison needs: those
/// of owners read now whose state differs from (or is missing in) the current scan.
pub fn changed_hashes(
    previous: &Recorded,
    current: &[CurrentToken],
    covered: &Covered,
) -> Vec<String> {
    let now: HashMap<(&str, &str), &str> = current
        .iter()
        .map(|t| ((t.owner.as_str(), t.token_id.as_str()), t.hash.as_str()))
        .collect();
    previous
        .index
        .iter()
        .filter(|t| covered.contains(&t.owner))
        .filter(|t| now.get(&(t.owner.as_str(), t.token_id.as_str())) != Some(&t.hash.as_str()))
        .map(|t| t.hash.clone())
        .collect()
}

/// The record of a scan and its changes since `previous` (the previous record of the same
/// scope, with the full states [`changed_hashes`] names). `seen_before`: fingerprints any
/// earlier scan held.
pub fn build(
    input: &ScanInput<'_>,
    current: Vec<CurrentToken>,
    previous: Option<&Recorded>,
    seen_before: &BTreeSet<String>,
    database: &str,
) -> (ScanRecord, Changes) {
    let covered = covered(input);
    let token_changes = match previous {
        Some(p) => {
            // Only tokens whose state changed can have changes.
            let before: HashMap<(&str, &str), &str> = p
                .index
                .iter()
                .map(|t| ((t.owner.as_str(), t.token_id.as_str()), t.hash.as_str()))
                .collect();
            let changed: Vec<TokenState> = current
                .iter()
                .filter(|t| {
                    before.get(&(t.owner.as_str(), t.token_id.as_str())) != Some(&t.hash.as_str())
                })
                .filter_map(CurrentToken::state)
                .collect();
            drift::diff(&p.tokens, &p.covered, &changed, &covered)
        }
        None => Vec::new(),
    };
    let looked = |owner: &Owner, token_id: &str| input.reach.covers_token(owner, token_id);
    let sla: Sla = input.policy.sla;
    let life = lifecycle::compare(
        input.findings,
        previous.map(|p| p.findings.as_slice()),
        &looked,
        seen_before,
        input.at,
        &sla,
    );
    let mut tokens: Vec<RecordToken> = current.into_iter().map(CurrentToken::into_record).collect();
    if let Some(p) = previous {
        // Tokens of owners this scan did not read keep their last-known state. An owner not
        // read in full listed none of its tokens, so nothing is doubled.
        tokens.extend(
            p.index
                .iter()
                .filter(|t| !covered.contains(&t.owner))
                .map(|t| RecordToken {
                    hash: t.hash.clone(),
                    state: None,
                    last_used_on: t.last_used_on.clone(),
                    carried: true,
                }),
        );
    }
    let mut findings: Vec<(RecordedFinding, bool)> = input
        .findings
        .iter()
        .map(|f| {
            let first_seen = life
                .open
                .get(&f.fingerprint)
                .map_or(input.at, |o| o.first_seen);
            (RecordedFinding::of(f, first_seen), false)
        })
        .collect();
    findings.extend(life.carried.iter().cloned().map(|f| (f, true)));
    let changes = Changes {
        database: database.to_string(),
        previous: previous.map(|p| PreviousScan {
            id: p.summary.id,
            at: p.summary.at,
        }),
        tokens: token_changes,
        new_findings: life.new,
        resolved: life.resolved,
        open: life.open,
    };
    let record = ScanRecord {
        at: input.at,
        scope: input.scope.clone(),
        source: input.source.clone(),
        policy_digest: policy_digest(input.policy),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        covered,
        not_evaluated: input.not_evaluated.to_vec(),
        tokens_scanned: input.inventory.token_count(),
        tokens,
        findings,
        new_findings: changes.new_findings.len(),
        resolved: changes.resolved.len(),
        drifted: changes.drifted(),
        overdue: changes.overdue(),
        changes: changes.tokens.clone(),
    };
    (record, changes)
}

/// The changes between two recorded scans (`history diff A B`): tokens and findings as if
/// `b` had been recorded right after `a`.
pub fn between(a: &Recorded, b: &Recorded, sla: &Sla, database: &str) -> Changes {
    let tokens = drift::diff(&a.tokens, &a.covered, &b.tokens, &b.covered);
    let prev: BTreeSet<&str> = a.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let now: BTreeSet<&str> = b.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let mut open = std::collections::BTreeMap::new();
    for f in &b.findings {
        let status = if prev.contains(f.fingerprint.as_str()) {
            lifecycle::FindingStatus::Open
        } else {
            lifecycle::FindingStatus::New
        };
        let (due, overdue) = lifecycle::deadline(f.severity, f.first_seen, b.summary.at, sla);
        open.insert(
            f.fingerprint.clone(),
            lifecycle::OpenFinding {
                status,
                first_seen: f.first_seen,
                age_days: (b.summary.at - f.first_seen).num_days(),
                due,
                overdue,
                exempted: f.exempted,
            },
        );
    }
    let mut new_findings: Vec<String> = b
        .findings
        .iter()
        .filter(|f| !prev.contains(f.fingerprint.as_str()))
        .map(|f| f.fingerprint.clone())
        .collect();
    new_findings.sort();
    let resolved = a
        .findings
        .iter()
        .filter(|f| !now.contains(f.fingerprint.as_str()))
        .filter(|f| b.covered.contains(&f.owner.path()))
        .map(|f| lifecycle::ResolvedFinding {
            fingerprint: f.fingerprint.clone(),
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            owner: f.owner.clone(),
            token_id: f.token_id.clone(),
            token_name: f.token_name.clone(),
            first_seen: f.first_seen,
        })
        .collect();
    Changes {
        database: database.to_string(),
        previous: Some(PreviousScan {
            id: a.summary.id,
            at: a.summary.at,
        }),
        tokens,
        new_findings,
        resolved,
        open,
    }
}
