//! The plan and its outcomes as a table or a JSON document. Deterministic given the same
//! inputs; never a secret (rows hold token ids, rules and where secrets went).

use crate::text::terminal as t;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::plan::Skipped;
use super::{ActionOutcome, ActionStatus, PlanItem};
use crate::inventory::NotEvaluated;

/// Whether anything was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Apply,
}

/// One planned action and where it stands.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub item: &'a PlanItem,
    pub status: ActionStatus,
    pub outcome: Option<&'a ActionOutcome>,
}

#[derive(Debug, Clone)]
pub struct Document<'a> {
    pub mode: Mode,
    pub now: DateTime<Utc>,
    pub max_actions: usize,
    pub rows: Vec<Row<'a>>,
    pub skipped: &'a [Skipped],
    pub not_evaluated: &'a [NotEvaluated],
    pub exit_code: u8,
    /// A signal stopped the run: the rows without an outcome were never started.
    pub interrupted: bool,
}

impl Document<'_> {
    fn count(&self, status: ActionStatus) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }
}

/// Why a row's action was chosen: its rules and severity, and what it supersedes.
fn because(item: &PlanItem) -> String {
    let mut s = if item.rules.is_empty() {
        "requested".to_string()
    } else {
        item.rules.join(", ")
    };
    if let Some(sev) = item.severity {
        s.push_str(&format!(" ({sev})"));
    }
    for sup in &item.superseded {
        s.push_str(&format!(
            "; supersedes {} ({})",
            sup.action,
            sup.rules.join(", ")
        ));
    }
    s
}

pub fn json(doc: &Document<'_>) -> Value {
    let actions: Vec<Value> = doc
        .rows
        .iter()
        .map(|r| {
            let o = r.outcome;
            json!({
                "owner": r.item.owner,
                "token_id": r.item.token_id,
                "token_name": r.item.token_name,
                "action": r.item.op,
                "rules": r.item.rules,
                "severity": r.item.severity,
                "superseded": r.item.superseded,
                "status": r.status,
                "message": o.map(|o| o.message.clone()),
                "delivered_to": o.and_then(|o| o.delivered_to.clone()),
                "escrow": o.and_then(|o| o.escrow.as_ref().map(|p| p.display().to_string())),
                "new_token_id": o.and_then(|o| o.new_token_id.clone()),
            })
        })
        .collect();
    let mut summary = serde_json::Map::new();
    for status in [
        ActionStatus::Planned,
        ActionStatus::Deferred,
        ActionStatus::Succeeded,
        ActionStatus::Unchanged,
        ActionStatus::Skipped,
        ActionStatus::Failed,
    ] {
        summary.insert(status.as_str().into(), json!(doc.count(status)));
    }
    summary.insert("not_planned".into(), json!(doc.skipped.len()));
    summary.insert("not_evaluated".into(), json!(doc.not_evaluated.len()));
    summary.insert("exit_code".into(), json!(doc.exit_code));
    let mut doc_json = json!({
        "tool": "tokenwarden",
        "version": env!("CARGO_PKG_VERSION"),
        "mode": match doc.mode { Mode::DryRun => "dry-run", Mode::Apply => "apply" },
        "now": doc.now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "max_actions": doc.max_actions,
        "actions": actions,
        "not_planned": doc.skipped,
        "not_evaluated": doc.not_evaluated,
        "summary": summary,
    });
    // Only when it happened, so every other document keeps its shape.
    if doc.interrupted {
        doc_json["interrupted"] = json!(true);
    }
    doc_json
}

fn widths(rows: &[[String; 6]]) -> [usize; 6] {
    let mut w = [0usize; 6];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    w
}

pub fn table(doc: &Document<'_>) -> String {
    let mut out = String::new();
    if doc.mode == Mode::DryRun {
        out.push_str(
            "Dry run: nothing was changed at Cloudflare. Pass --apply to execute the plan.\n\n",
        );
    }
    if doc.rows.is_empty() {
        out.push_str("No action to take.\n");
    } else {
        let mut cells = vec![[
            "OWNER".to_string(),
            "TOKEN".to_string(),
            "NAME".to_string(),
            "ACTION".to_string(),
            "STATUS".to_string(),
            "BECAUSE".to_string(),
        ]];
        for r in &doc.rows {
            // Every cell escaped: a token name must not hide a column of the row being
            // approved, nor forge a line (issue 12).
            cells.push([
                t(&r.item.owner.label()).into_owned(),
                t(&r.item.token_id).into_owned(),
                t(r.item.token_name.as_deref().unwrap_or("-")).into_owned(),
                r.item.op.to_string(),
                r.status.as_str().to_string(),
                t(&because(r.item)).into_owned(),
            ]);
        }
        let w = widths(&cells);
        for (i, row) in cells.iter().enumerate() {
            let line = format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3],
                w4 = w[4],
            );
            out.push_str(line.trim_end());
            out.push('\n');
            if let Some(o) = i.checked_sub(1).and_then(|k| doc.rows[k].outcome) {
                out.push_str(&format!("    -> {}\n", t(&o.message)));
            }
        }
    }
    if !doc.skipped.is_empty() {
        out.push_str("\nNot planned:\n");
        for s in doc.skipped {
            out.push_str(&format!(
                "  {} {} ({}): {} ({}): {}\n",
                t(&s.owner.label()),
                t(&s.token_id),
                t(s.token_name.as_deref().unwrap_or("-")),
                s.action,
                if s.rules.is_empty() {
                    "requested".to_string()
                } else {
                    t(&s.rules.join(", ")).into_owned()
                },
                t(&s.reason)
            ));
        }
    }
    if !doc.not_evaluated.is_empty() {
        out.push_str("\nNot evaluated (no plan for these):\n");
        for n in doc.not_evaluated {
            out.push_str(&format!(
                "  {}: {}\n",
                t(&n.scope.to_string()),
                t(&n.reason)
            ));
        }
    }
    if doc.interrupted {
        out.push_str(
            "\nInterrupted by a signal: the actions shown as deferred were not started. `tokenwarden recover` finishes what the interrupted action left.\n",
        );
    }
    let mut parts = Vec::new();
    for status in [
        ActionStatus::Planned,
        ActionStatus::Succeeded,
        ActionStatus::Unchanged,
        ActionStatus::Skipped,
        ActionStatus::Failed,
        ActionStatus::Deferred,
    ] {
        let n = doc.count(status);
        if n > 0 {
            parts.push(format!("{n} {}", status.as_str()));
        }
    }
    if parts.is_empty() {
        parts.push("0 actions".into());
    }
    out.push_str(&format!(
        "\n{} (max_actions {}); {} not planned\n",
        parts.join(", "),
        doc.max_actions,
        doc.skipped.len()
    ));
    out
}
