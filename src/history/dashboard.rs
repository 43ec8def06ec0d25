//! The dashboard's data from a history: the trend over the recorded scans of a scope, and
//! the latest scan's open findings, expiring tokens, scopes not evaluated and recent drift.
//! The HTML itself is `crate::dashboard`'s.

use chrono::{DateTime, Duration, Utc};

use super::lifecycle::deadline;
use super::store::{HistoryError, Store};
use crate::dashboard::{
    DashboardData, DriftEntry, ExpiringToken, NotEvaluatedScope, OpenFinding, ScanPoint,
};
use crate::policy::Sla;

/// How many drift entries the dashboard lists.
const RECENT_DRIFT: usize = 50;

/// How far ahead the expiry timeline looks.
const EXPIRY_DAYS: i64 = 90;

/// The dashboard of `scope` (or the scope of the latest scan when `None`) as of `now`.
pub fn build(
    store: &mut Store,
    scope: Option<&str>,
    now: DateTime<Utc>,
    sla: &Sla,
) -> Result<DashboardData, HistoryError> {
    let all = store.list(None, scope)?;
    let scans: Vec<_> = all.into_iter().filter(|s| s.at <= now).collect();
    let scope = match scope {
        Some(s) => Some(s.to_string()),
        None => scans.last().map(|s| s.scope.clone()),
    };
    let scans: Vec<_> = scans
        .into_iter()
        .filter(|s| Some(&s.scope) == scope.as_ref())
        .collect();
    let mut data = DashboardData {
        generated_at: now,
        title: format!(
            "tokenwarden — scope {}",
            scope.as_deref().unwrap_or("(no scans)")
        ),
        ..Default::default()
    };
    let count = |n: i64| usize::try_from(n).unwrap_or(0);
    data.scans = scans
        .iter()
        .map(|s| ScanPoint {
            id: s.id,
            at: s.at,
            tokens: count(s.tokens),
            open: [
                count(s.critical),
                count(s.high),
                count(s.medium),
                count(s.low),
            ],
            new: count(s.new),
            resolved: count(s.resolved),
            drifted: count(s.drifted),
            overdue: count(s.overdue),
        })
        .collect();
    let Some(latest) = scans.last() else {
        return Ok(data);
    };
    let rec = store.load(latest.id)?;
    data.not_evaluated = rec
        .summary
        .not_evaluated
        .iter()
        .map(|n| NotEvaluatedScope {
            scope: n.scope.to_string(),
            reason: n.reason.clone(),
        })
        .collect();
    for t in &rec.tokens {
        let Some(exp) = t
            .expires_on
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        else {
            continue;
        };
        let exp = exp.with_timezone(&Utc);
        if exp >= now && exp <= now + Duration::days(EXPIRY_DAYS) {
            data.expiring.push(ExpiringToken {
                token_id: t.id.clone(),
                token_name: t.label().to_string(),
                owner: t.owner.label(),
                expires_on: exp,
            });
        }
    }
    data.expiring
        .sort_by(|a, b| (a.expires_on, &a.token_id).cmp(&(b.expires_on, &b.token_id)));
    for f in &rec.findings {
        let (due, overdue) = deadline(f.severity, f.first_seen, now, sla);
        data.open_findings.push(OpenFinding {
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            token_id: f.token_id.clone(),
            token_name: f.token_name.clone().unwrap_or_else(|| f.token_id.clone()),
            owner: f.owner.label(),
            first_seen: f.first_seen,
            age_days: (now - f.first_seen).num_days(),
            due,
            overdue,
            exempted: f.exempted,
        });
    }
    data.open_findings.sort_by(|a, b| {
        (b.severity, a.first_seen, &a.token_id, &a.rule_id).cmp(&(
            a.severity,
            b.first_seen,
            &b.token_id,
            &b.rule_id,
        ))
    });
    data.drift = store
        .recent_changes(scope.as_deref(), RECENT_DRIFT)?
        .into_iter()
        .map(|c| DriftEntry {
            at: c.at,
            token_id: c.change.token_id.clone(),
            token_name: c.change.label().to_string(),
            owner: c.change.owner.label(),
            changes: c.change.changes,
        })
        .collect();
    Ok(data)
}
