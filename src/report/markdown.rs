//! `--format markdown`: a summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment:
//! the verdict and counts by severity, what was not evaluated, stale exemptions, new
//! findings first (with a baseline), tokens expiring soon, then the rest in tables that
//! fold away (`<details>`). GitHub refuses a step summary over 1 MiB, so table rows stop
//! at [`MAX_BYTES`] with a note saying how many were left out and where to find them.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::baseline::BaselineState;
use crate::enrich::rfc3339;
use crate::finding::{Finding, Severity};
use crate::history::{FindingStatus, OpenFinding, TokenEvent};
use crate::report::token_label;
use crate::scan::Report;
use crate::scope::Owner;

/// Under GitHub's 1 MiB step-summary limit, with room to spare.
pub const MAX_BYTES: usize = 1_000_000;
/// Kept free for the structural lines and notes written after a table is cut.
const RESERVE: usize = 8 * 1024;

/// Escape text for a Markdown table cell.
/// Outside text in a table cell: never rendered as a link, image, mention or HTML.
fn cell(s: &str) -> String {
    crate::text::markdown_cell(s)
}

fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "🟣 critical",
        Severity::High => "🔴 high",
        Severity::Medium => "🟠 medium",
        Severity::Low => "🔵 low",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A Markdown document with a size budget for table rows.
struct Doc {
    buf: String,
    limit: usize,
    omitted: usize,
}

impl Doc {
    fn line(&mut self, s: &str) {
        self.buf.push_str(s);
        self.buf.push('\n');
    }

    /// A table row, unless the budget is spent (then it is counted as omitted).
    fn row(&mut self, s: &str) {
        if self.omitted > 0 || self.buf.len() + s.len() + 1 + RESERVE > self.limit {
            self.omitted += 1;
        } else {
            self.line(s);
        }
    }

    /// Close a table: say how many rows did not fit.
    fn end_table(&mut self) {
        if self.omitted > 0 {
            let n = self.omitted;
            self.line("");
            self.line(&format!(
                "_… {} not shown: this summary stays under GitHub's 1 MiB limit. The JSON or SARIF report lists everything._",
                plural(n, "row", "rows")
            ));
            // Once the budget is spent, every later table is cut at its first row too.
            self.omitted = 0;
            self.limit = 0;
        }
    }
}

/// A token's cell: its name and id, or for a Terraform resource its address and
/// `file:line`.
fn token_cell(report: &Report, f: &Finding) -> String {
    match super::terraform::place(report, f) {
        Some(p) => format!("`{}` at `{}`", cell(p.address), cell(&p.at())),
        None => format!("{} (`{}`)", cell(token_label(f)), f.token_id),
    }
}

/// The "Open since" cell: first seen, age, and the deadline when past.
fn open_since(o: &OpenFinding) -> String {
    let mut s = format!(
        "{} ({}d{})",
        o.first_seen.format("%Y-%m-%d"),
        o.age_days,
        match o.status {
            FindingStatus::Open => String::new(),
            other => format!(", {}", other.as_str()),
        }
    );
    if o.overdue {
        if let Some(due) = o.due {
            s.push_str(&format!(" ⏰ **overdue** since {}", due.format("%Y-%m-%d")));
        }
    }
    s
}

fn finding_row(report: &Report, f: &Finding) -> String {
    let mut state = report
        .baseline_state(f)
        .map(|s| format!(" {} |", s.as_str()))
        .unwrap_or_default();
    let token = token_cell(report, f);
    if let Some(h) = &report.history {
        let since = h
            .finding(&f.fingerprint)
            .map(open_since)
            .unwrap_or_default();
        state.push_str(&format!(" {since} |"));
    }
    format!(
        "| {} | `{}` | {token} | {} | {} |{state}",
        badge(f.severity),
        f.rule_id,
        cell(&f.owner.label()),
        cell(&f.message)
    )
}

fn findings_table(doc: &mut Doc, report: &Report, findings: &[&Finding]) {
    let mut head = "| Severity | Rule | Token | Owner | Finding |".to_string();
    let mut rule = "| --- | --- | --- | --- | --- |".to_string();
    if report.baseline.is_some() {
        head.push_str(" Baseline |");
        rule.push_str(" --- |");
    }
    if report.history.is_some() {
        head.push_str(" Open since |");
        rule.push_str(" --- |");
    }
    doc.line(&head);
    doc.line(&rule);
    for f in findings {
        doc.row(&finding_row(report, f));
    }
    doc.end_table();
}

fn header(doc: &mut Doc, report: &Report) {
    let s = report.summary();
    let verdict = if !s.complete {
        "⚠️ **incomplete**: some scopes were not evaluated"
    } else if s.gate_failed {
        "❌ **failed**"
    } else {
        "✅ passed"
    };
    let open = s.findings - s.exempted;
    doc.line(&format!(
        "## tokenwarden: {} in {}",
        plural(open, "finding", "findings"),
        plural(s.tokens_scanned, "token", "tokens")
    ));
    doc.line("");
    doc.line(&format!(
        "Scanned {} at {}. Gate (fail on {}): {verdict}.",
        plural(s.owners_scanned, "owner", "owners"),
        rfc3339(report.scanned_at),
        s.fail_on
    ));
    if let Some(b) = &report.baseline {
        doc.line("");
        doc.line(&format!(
            "Baseline `{}`: **{} new**, {} updated, {} unchanged, {} absent. The gate counts new and updated findings only.",
            cell(&b.file),
            b.count(BaselineState::New),
            b.count(BaselineState::Updated),
            b.count(BaselineState::Unchanged),
            b.count(BaselineState::Absent)
        ));
    }
    doc.line("");
    if let Some(b) = &report.baseline {
        doc.line("| Severity | Findings | New |");
        doc.line("| --- | ---: | ---: |");
        for sev in Severity::ALL_DESC {
            let new = report
                .findings
                .iter()
                .filter(|f| f.severity == sev && !f.is_exempted() && b.state(f).gates())
                .count();
            doc.line(&format!(
                "| {} | {} | {new} |",
                badge(sev),
                report.count(sev)
            ));
        }
    } else {
        doc.line("| Severity | Findings |");
        doc.line("| --- | ---: |");
        for sev in Severity::ALL_DESC {
            doc.line(&format!("| {} | {} |", badge(sev), report.count(sev)));
        }
    }
    let blank = if report.baseline.is_some() { " |" } else { "" };
    doc.line(&format!("| exempted | {} |{blank}", s.exempted));
    doc.line(&format!("| not evaluated | {} |{blank}", s.not_evaluated));
    doc.line(&format!(
        "| stale exemptions | {} |{blank}",
        s.stale_exemptions
    ));
}

/// The changes since the previous scan of the scope (with `--history`).
fn changes(doc: &mut Doc, report: &Report) {
    let Some(h) = &report.history else {
        return;
    };
    doc.line("");
    doc.line("### Changes since the previous scan");
    doc.line("");
    let Some(p) = &h.previous else {
        doc.line(&format!(
            "First scan of this scope recorded in `{}`.",
            cell(&h.database)
        ));
        return;
    };
    doc.line(&format!(
        "Since scan {} at {}: **{} new**, {} resolved, **{} drifted**, {} overdue; {}.",
        p.id,
        rfc3339(p.at),
        plural(h.new_findings.len(), "finding", "findings"),
        h.resolved.len(),
        plural(h.drifted(), "token", "tokens"),
        h.overdue(),
        TokenEvent::ALL
            .iter()
            .filter(|e| **e != TokenEvent::Drifted)
            .map(|e| format!("{} {}", h.count(*e), e.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !h.tokens.is_empty() {
        doc.line("");
        doc.line("| Token | Owner | What | Changes |");
        doc.line("| --- | --- | --- | --- |");
        for c in &h.tokens {
            let events: Vec<&str> = c.events.iter().map(|e| e.as_str()).collect();
            let lines: Vec<String> = c
                .changes
                .iter()
                .map(|l| format!("`{}`", cell(l).replace('`', "'")))
                .collect();
            doc.row(&format!(
                "| {} (`{}`) | {} | {} | {} |",
                cell(c.label()),
                c.token_id,
                cell(&c.owner.label()),
                events.join(", "),
                lines.join("<br>")
            ));
        }
        doc.end_table();
    }
    if !h.resolved.is_empty() {
        let title = format!(
            "{} resolved since the previous scan",
            plural(h.resolved.len(), "finding", "findings")
        );
        gone_findings(
            doc,
            &title,
            h.resolved.iter().map(|r| Gone {
                severity: r.severity,
                rule_id: &r.rule_id,
                token_name: r.token_name.as_deref(),
                token_id: &r.token_id,
                owner: &r.owner,
                first_seen: r.first_seen,
            }),
        );
    }
}

/// A finding that was there before and is not now (resolved since the previous scan, or
/// in the baseline and no longer found).
struct Gone<'a> {
    severity: Severity,
    rule_id: &'a str,
    token_name: Option<&'a str>,
    token_id: &'a str,
    owner: &'a Owner,
    first_seen: DateTime<Utc>,
}

/// A collapsed table of findings no longer found, under `title`.
fn gone_findings<'a>(doc: &mut Doc, title: &str, rows: impl Iterator<Item = Gone<'a>>) {
    details_open(doc, title);
    doc.line("| Severity | Rule | Token | Owner | First seen |");
    doc.line("| --- | --- | --- | --- | --- |");
    for g in rows {
        doc.row(&format!(
            "| {} | `{}` | {} (`{}`) | {} | {} |",
            badge(g.severity),
            g.rule_id,
            cell(g.token_name.unwrap_or(g.token_id)),
            g.token_id,
            cell(&g.owner.label()),
            rfc3339(g.first_seen)
        ));
    }
    doc.end_table();
    details_close(doc);
}

fn problems(doc: &mut Doc, report: &Report) {
    if !report.not_evaluated.is_empty() {
        doc.line("");
        doc.line("### Not evaluated");
        doc.line("");
        doc.line("These scopes were not scanned; they are **not** clean.");
        doc.line("");
        doc.line("| Scope | Reason |");
        doc.line("| --- | --- |");
        for n in &report.not_evaluated {
            doc.row(&format!(
                "| `{}` | {} |",
                cell(&n.scope.to_string()),
                cell(&n.reason)
            ));
        }
        doc.end_table();
    }
    if !report.stale_exemptions.is_empty() {
        doc.line("");
        doc.line(&format!(
            "### Stale exemptions ({})",
            report.stale_exemptions.len()
        ));
        doc.line("");
        doc.line("| Where | Stale | Rule | Token | Detail |");
        doc.line("| --- | --- | --- | --- | --- |");
        for e in &report.stale_exemptions {
            doc.row(&format!(
                "| `{}` | {} | `{}` | `{}` | {} |",
                cell(&e.location()),
                e.why.as_str(),
                cell(&e.rule),
                cell(&e.token),
                cell(&e.message())
            ));
        }
        doc.end_table();
    }
}

/// `token-expiring-soon` findings, soonest first: whoever owns the token has to act.
fn expiring(doc: &mut Doc, report: &Report) {
    let mut soon: Vec<(&Finding, f64, serde_json::Value)> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "token-expiring-soon")
        .map(|f| {
            let evidence = f.evidence.value();
            let days = evidence["days_until_expiry"].as_f64().unwrap_or(f64::NAN);
            (f, days, evidence)
        })
        .collect();
    if soon.is_empty() {
        return;
    }
    soon.sort_by(|a, b| a.1.total_cmp(&b.1));
    doc.line("");
    doc.line(&format!("### Tokens expiring soon ({})", soon.len()));
    doc.line("");
    doc.line("| Token | Owner | Expires | Days left |");
    doc.line("| --- | --- | --- | ---: |");
    for (f, days, evidence) in soon {
        let expires = evidence["expires_on"].as_str().unwrap_or("—");
        let days = if days.is_nan() {
            "—".to_string()
        } else {
            format!("{:.1}", days)
        };
        doc.row(&format!(
            "| {} | {} | {} | {days} |",
            token_cell(report, f),
            cell(&f.owner.label()),
            cell(expires)
        ));
    }
    doc.end_table();
}

fn details_open(doc: &mut Doc, summary: &str) {
    doc.line("");
    doc.line(&format!("<details><summary>{summary}</summary>"));
    doc.line("");
}

fn details_close(doc: &mut Doc) {
    doc.line("");
    doc.line("</details>");
}

/// Unexempted findings, most severe first. With a baseline: the new ones in the open, then
/// tokens expiring soon, then the accepted ones folded away. Without: expiring tokens, then
/// every finding.
fn findings(doc: &mut Doc, report: &Report) {
    let mut open: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !f.is_exempted())
        .collect();
    open.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let Some(b) = &report.baseline else {
        expiring(doc, report);
        if !open.is_empty() {
            doc.line("");
            doc.line("### Findings");
            doc.line("");
            findings_table(doc, report, &open);
        }
        return;
    };
    let (new, known): (Vec<&Finding>, Vec<&Finding>) =
        open.into_iter().partition(|f| b.state(f).gates());
    if !new.is_empty() {
        doc.line("");
        doc.line(&format!("### New findings ({})", new.len()));
        doc.line("");
        findings_table(doc, report, &new);
    }
    expiring(doc, report);
    if !known.is_empty() {
        details_open(
            doc,
            &format!(
                "{} already in the baseline",
                plural(known.len(), "finding", "findings")
            ),
        );
        findings_table(doc, report, &known);
        details_close(doc);
    }
}

fn exempted(doc: &mut Doc, report: &Report) {
    let exempted: Vec<&Finding> = report.findings.iter().filter(|f| f.is_exempted()).collect();
    if exempted.is_empty() {
        return;
    }
    details_open(
        doc,
        &plural(exempted.len(), "exempted finding", "exempted findings"),
    );
    doc.line("| Rule | Token | Reason | Owner | Expires |");
    doc.line("| --- | --- | --- | --- | --- |");
    for f in exempted {
        if let Some(e) = &f.exempted_by {
            doc.row(&format!(
                "| `{}` | {} | {} | {} | {} |",
                f.rule_id,
                match super::terraform::place(report, f) {
                    Some(_) => token_cell(report, f),
                    None => cell(token_label(f)),
                },
                cell(&e.reason),
                cell(&e.contact),
                e.expires
            ));
        }
    }
    doc.end_table();
    details_close(doc);
}

fn absent(doc: &mut Doc, report: &Report) {
    let Some(b) = &report.baseline else {
        return;
    };
    if b.absent.is_empty() {
        return;
    }
    let title = format!(
        "{} in the baseline no longer found",
        plural(b.absent.len(), "finding", "findings")
    );
    gone_findings(
        doc,
        &title,
        b.absent.iter().map(|e| Gone {
            severity: e.severity,
            rule_id: &e.rule_id,
            token_name: e.token_name.as_deref(),
            token_id: &e.token_id,
            owner: &e.owner,
            first_seen: e.first_seen,
        }),
    );
}

/// Terraform resources with values not known before apply (no rule fires because of them).
fn unknowns(doc: &mut Doc, report: &Report) {
    let uncertain = super::terraform::uncertain(report);
    if uncertain.is_empty() {
        return;
    }
    details_open(
        doc,
        &format!(
            "{} with values not known before apply (no rule fires because of them)",
            plural(uncertain.len(), "Terraform resource", "Terraform resources")
        ),
    );
    doc.line("| Resource | Location | Not known |");
    doc.line("| --- | --- | --- |");
    for (_, r) in uncertain {
        doc.row(&format!(
            "| `{}` | `{}:{}` | {} |",
            cell(&r.address),
            cell(&r.file),
            r.line,
            cell(&super::terraform::uncertainty_lines(r).join("; "))
        ));
    }
    doc.end_table();
    details_close(doc);
}

/// Render with a byte budget (tests use a small one).
pub fn render(report: &Report, limit: usize) -> String {
    let mut doc = Doc {
        buf: String::new(),
        limit,
        omitted: 0,
    };
    header(&mut doc, report);
    problems(&mut doc, report);
    unknowns(&mut doc, report);
    changes(&mut doc, report);
    findings(&mut doc, report);
    exempted(&mut doc, report);
    absent(&mut doc, report);
    doc.buf
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(report, MAX_BYTES).as_bytes())
}
