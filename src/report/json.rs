//! `--format json`: the whole report as one JSON document (docs/architecture.md §7), plus the
//! governance extras: `stale_exemptions` always, and with `--baseline` a `baseline`
//! object (counts and the `absent` findings) and a `baseline_state` on every finding.

use std::io::{self, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Value};

use crate::baseline::BaselineState;
use crate::enrich::rfc3339;
use crate::finding::Finding;
use crate::history::lifecycle::ResolvedFinding;
use crate::history::{OpenFinding, PreviousScan, TokenChange};
use crate::inventory::NotEvaluated;
use crate::scan::{Report, Summary};
use crate::stale::StaleExemption;

/// The findings, streamed one by one (a large estate's report is never built as a JSON
/// tree in memory), each with its `baseline_state` when a baseline was given.
struct Findings<'a>(&'a Report);

#[derive(Serialize)]
struct WithState<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<BaselineState>,
    /// With `--terraform`: the resource address, file and line.
    #[serde(skip_serializing_if = "Option::is_none")]
    terraform: Option<super::terraform::Place<'a>>,
    /// With `--history`: `status` (new, reopened, open), `first_seen`, `age_days`, `due`,
    /// `overdue`.
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<&'a OpenFinding>,
}

impl Serialize for Findings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let mut seq = s.serialize_seq(Some(report.findings.len()))?;
        for f in &report.findings {
            seq.serialize_element(&WithState {
                finding: f,
                baseline_state: report.baseline.as_ref().map(|b| b.state(f)),
                terraform: super::terraform::place(report, f),
                history: report
                    .history
                    .as_ref()
                    .and_then(|h| h.finding(&f.fingerprint)),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Document<'a> {
    tool: &'static str,
    version: &'static str,
    scanned_at: String,
    scope: &'a str,
    summary: Summary,
    findings: Findings<'a>,
    not_evaluated: &'a [NotEvaluated],
    stale_exemptions: &'a [StaleExemption],
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<Value>,
    /// With `--terraform`: every resource, its unknown values and unresolved groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    terraform: Option<Value>,
    /// With `--history`: the changes since the previous scan of the scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<HistoryDoc<'a>>,
}

#[derive(Serialize)]
struct HistoryDoc<'a> {
    database: &'a str,
    previous_scan: Option<&'a PreviousScan>,
    new: usize,
    resolved: usize,
    drifted: usize,
    overdue: usize,
    tokens: &'a [TokenChange],
    new_findings: &'a [String],
    resolved_findings: &'a [ResolvedFinding],
}

fn document(report: &Report) -> Document<'_> {
    Document {
        tool: "tokenwarden",
        version: env!("CARGO_PKG_VERSION"),
        scanned_at: rfc3339(report.scanned_at),
        scope: &report.scope,
        summary: report.summary(),
        findings: Findings(report),
        not_evaluated: &report.not_evaluated,
        stale_exemptions: &report.stale_exemptions,
        baseline: report.baseline.as_ref().map(|b| {
            json!({
                "file": b.file,
                "new": b.count(BaselineState::New),
                "updated": b.count(BaselineState::Updated),
                "unchanged": b.count(BaselineState::Unchanged),
                "absent": b.absent,
            })
        }),
        terraform: super::terraform::resources_json(report),
        history: report.history.as_ref().map(|h| HistoryDoc {
            database: &h.database,
            previous_scan: h.previous.as_ref(),
            new: h.new_findings.len(),
            resolved: h.resolved.len(),
            drifted: h.drifted(),
            overdue: h.overdue(),
            tokens: &h.tokens,
            new_findings: &h.new_findings,
            resolved_findings: &h.resolved,
        }),
    }
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(report))?;
    writeln!(out)
}
