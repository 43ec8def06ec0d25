//! PLACEHOLDER — to be replaced at merge by the dashboard renderer (issue 15, part 5),
//! which owns this file. Only the data contract the history builder fills is here, and a
//! trivial `render` so the history branch compiles on its own.

use chrono::{DateTime, Utc};

use crate::finding::Severity;

#[derive(Debug, Clone, Default)]
pub struct DashboardData {
    pub generated_at: DateTime<Utc>,
    pub title: String,
    pub scans: Vec<ScanPoint>,
    pub expiring: Vec<ExpiringToken>,
    pub open_findings: Vec<OpenFinding>,
    pub drift: Vec<DriftEntry>,
    pub not_evaluated: Vec<NotEvaluatedScope>,
}

#[derive(Debug, Clone, Default)]
pub struct ScanPoint {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub tokens: usize,
    pub open: [usize; 4],
    pub new: usize,
    pub resolved: usize,
    pub drifted: usize,
    pub overdue: usize,
}

#[derive(Debug, Clone)]
pub struct ExpiringToken {
    pub token_id: String,
    pub token_name: String,
    pub owner: String,
    pub expires_on: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct OpenFinding {
    pub rule_id: String,
    pub severity: Severity,
    pub token_id: String,
    pub token_name: String,
    pub owner: String,
    pub first_seen: DateTime<Utc>,
    pub age_days: i64,
    pub due: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub exempted: bool,
}

#[derive(Debug, Clone)]
pub struct DriftEntry {
    pub at: DateTime<Utc>,
    pub token_id: String,
    pub token_name: String,
    pub owner: String,
    pub changes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NotEvaluatedScope {
    pub scope: String,
    pub reason: String,
}

/// PLACEHOLDER: the real renderer writes the self-contained HTML dashboard.
pub fn render(data: &DashboardData) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenwarden</title></head><body><p>{} scans</p></body></html>\n",
        data.scans.len()
    )
}
