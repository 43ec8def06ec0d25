//! `--format markdown`: a summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use std::io::{self, Write};

use crate::enrich::rfc3339;
use crate::finding::Severity;
use crate::report::token_label;
use crate::scan::Report;

/// Escape text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "🟣 critical",
        Severity::High => "🔴 high",
        Severity::Medium => "🟠 medium",
        Severity::Low => "🔵 low",
    }
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = report.summary();
    let verdict = if !s.complete {
        "⚠️ **incomplete**: some scopes were not evaluated"
    } else if s.gate_failed {
        "❌ **failed**"
    } else {
        "✅ passed"
    };
    writeln!(
        out,
        "## tokenwarden: {} finding{} in {} token{}",
        s.findings - s.exempted,
        if s.findings - s.exempted == 1 {
            ""
        } else {
            "s"
        },
        s.tokens_scanned,
        if s.tokens_scanned == 1 { "" } else { "s" }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Scanned {} owner{} at {}. Gate (fail on {}): {verdict}.",
        s.owners_scanned,
        if s.owners_scanned == 1 { "" } else { "s" },
        rfc3339(report.scanned_at),
        s.fail_on
    )?;
    writeln!(out)?;
    writeln!(out, "| Severity | Findings |")?;
    writeln!(out, "| --- | ---: |")?;
    for sev in Severity::ALL_DESC {
        writeln!(out, "| {} | {} |", badge(sev), report.count(sev))?;
    }
    writeln!(out, "| exempted | {} |", s.exempted)?;
    writeln!(out, "| not evaluated | {} |", s.not_evaluated)?;
    if !report.not_evaluated.is_empty() {
        writeln!(out)?;
        writeln!(out, "### Not evaluated")?;
        writeln!(out)?;
        writeln!(
            out,
            "These scopes were not scanned; they are **not** clean."
        )?;
        writeln!(out)?;
        writeln!(out, "| Scope | Reason |")?;
        writeln!(out, "| --- | --- |")?;
        for n in &report.not_evaluated {
            writeln!(out, "| `{}` | {} |", cell(&n.scope), cell(&n.reason))?;
        }
    }
    let mut findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| !f.is_exempted())
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "### Findings")?;
        writeln!(out)?;
        writeln!(out, "| Severity | Rule | Token | Owner | Finding |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for f in findings {
            writeln!(
                out,
                "| {} | `{}` | {} (`{}`) | {} | {} |",
                badge(f.severity),
                f.rule_id,
                cell(token_label(f)),
                f.token_id,
                cell(&f.owner.label()),
                cell(&f.message)
            )?;
        }
    }
    let exempted: Vec<_> = report.findings.iter().filter(|f| f.is_exempted()).collect();
    if !exempted.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>{} exempted finding{}</summary>",
            exempted.len(),
            if exempted.len() == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;
        writeln!(out, "| Rule | Token | Reason | Owner | Expires |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for f in exempted {
            if let Some(e) = &f.exempted_by {
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    f.rule_id,
                    cell(token_label(f)),
                    cell(&e.reason),
                    cell(&e.owner),
                    e.expires
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    Ok(())
}
