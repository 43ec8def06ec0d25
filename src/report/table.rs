//! The human report (default on a terminal): findings grouped by token, most severe
//! first, severity-coloured when colour is on (each tagged new/unchanged with a baseline),
//! then what was not evaluated, absent baseline findings, stale exemptions and a summary.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::baseline::BaselineState;
use crate::enrich::rfc3339;
use crate::finding::Severity;
use crate::history::{Changes, FindingStatus, OpenFinding};
use crate::report::token_label;
use crate::scan::Report;
use crate::text::terminal as t;

fn style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new()
            .bold()
            .fg_color(Some(AnsiColor::Magenta.into())),
        Severity::High => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        Severity::Medium => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Severity::Low => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
    }
}

fn paint(text: &str, s: Style, color: bool) -> String {
    if color {
        format!("{}{text}{}", s.render(), s.render_reset())
    } else {
        text.to_string()
    }
}

/// `new`, `reopened`, or `open 12d` (since first seen).
fn history_tag(o: &OpenFinding) -> String {
    match o.status {
        FindingStatus::Open => format!("open {}d", o.age_days),
        other => other.as_str().to_string(),
    }
}

/// The changes since the previous scan: token events and drift lines, resolved findings.
fn write_changes(h: &Changes, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let bold = Style::new().bold();
    if h.previous.is_none() {
        return Ok(());
    }
    if !h.tokens.is_empty() {
        let title = format!(
            "CHANGED TOKENS ({}) since the previous scan",
            h.tokens.len()
        );
        writeln!(out, "{}", paint(&title, bold, color))?;
        for c in &h.tokens {
            let events: Vec<&str> = c.events.iter().map(|e| e.as_str()).collect();
            writeln!(
                out,
                "  {} ({})  {}  [{}]",
                t(c.label()),
                t(&c.token_id),
                t(&c.owner.label()),
                events.join(", ")
            )?;
            for line in &c.changes {
                writeln!(out, "    {}", t(line))?;
            }
        }
        writeln!(out)?;
    }
    if !h.resolved.is_empty() {
        let title = format!("RESOLVED ({}) since the previous scan", h.resolved.len());
        writeln!(out, "{}", paint(&title, bold, color))?;
        for r in &h.resolved {
            writeln!(
                out,
                "  {:<8}  {}  {} ({})  {}",
                r.severity.as_str().to_uppercase(),
                t(&r.rule_id),
                t(r.token_name.as_deref().unwrap_or(&r.token_id)),
                t(&r.token_id),
                t(&r.owner.label())
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

pub fn write(report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let width = report
        .findings
        .iter()
        .map(|f| f.rule_id.len())
        .max()
        .unwrap_or(0);
    let mut current: Option<(String, std::sync::Arc<str>)> = None;
    for f in &report.findings {
        let key = (f.owner.path(), f.token_id.clone());
        if current.as_ref() != Some(&key) {
            if current.is_some() {
                writeln!(out)?;
            }
            let header = match super::terraform::place(report, f) {
                // A Terraform resource: its address and block, then its name.
                Some(_) => {
                    let r = report.terraform.as_ref().and_then(|m| m.get(&f.token_id));
                    format!(
                        "{} ({}:{}, {})",
                        t(r.map_or("", |r| r.address.as_str())),
                        t(r.map_or("", |r| r.file.as_str())),
                        r.map_or(0, |r| r.line),
                        t(token_label(f))
                    )
                }
                None => format!("{} ({})", t(token_label(f)), t(&f.token_id)),
            };
            writeln!(
                out,
                "{}  {}",
                paint(&header, bold, color),
                paint(&t(&f.owner.label()), dim, color)
            )?;
            current = Some(key);
        }
        let sev = format!("{:<8}", f.severity.as_str().to_uppercase());
        let mut line = format!(
            "  {}  {:<width$}  {}",
            paint(&sev, style(f.severity), color),
            t(&f.rule_id),
            t(&f.message)
        );
        if let Some(p) = super::terraform::place(report, f) {
            line.push_str(&paint(&format!("  [{}]", t(&p.at())), dim, color));
        }
        if let Some(state) = report.baseline_state(f) {
            let tag = format!("  [{}]", state.as_str());
            line.push_str(&if state.gates() {
                paint(&tag, bold, color)
            } else {
                paint(&tag, dim, color)
            });
        }
        if let Some(o) = report
            .history
            .as_ref()
            .and_then(|h| h.finding(&f.fingerprint))
        {
            line.push_str(&paint(&format!("  [{}]", history_tag(o)), dim, color));
            if o.overdue {
                let due = o.due.map(|d| d.format("%Y-%m-%d").to_string());
                line.push_str(&paint(
                    &format!("  [OVERDUE since {}]", due.unwrap_or_default()),
                    style(Severity::High),
                    color,
                ));
            }
        }
        if let Some(e) = &f.exempted_by {
            line.push_str(&paint(
                &format!(
                    "  [exempted until {}: {} — {}]",
                    e.expires,
                    t(&e.reason),
                    t(&e.contact)
                ),
                dim,
                color,
            ));
        }
        writeln!(out, "{line}")?;
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    let uncertain = super::terraform::uncertain(report);
    if !uncertain.is_empty() {
        let title = format!(
            "TERRAFORM: NOT KNOWN BEFORE APPLY ({} resource{}): no rule fires because of an unknown value; unresolved groups are not evaluated",
            uncertain.len(),
            if uncertain.len() == 1 { "" } else { "s" }
        );
        writeln!(out, "{}", paint(&title, bold, color))?;
        for (_, r) in uncertain {
            writeln!(out, "  {} ({}:{})", t(&r.address), t(&r.file), r.line)?;
            for l in super::terraform::uncertainty_lines(r) {
                writeln!(out, "    {}", t(&l))?;
            }
        }
        writeln!(out)?;
    }
    if !report.not_evaluated.is_empty() {
        let title = format!(
            "NOT EVALUATED ({}): these were not scanned and are not clean",
            report.not_evaluated.len()
        );
        writeln!(out, "{}", paint(&title, style(Severity::High), color))?;
        for n in &report.not_evaluated {
            writeln!(out, "  {}: {}", t(&n.scope.to_string()), t(&n.reason))?;
        }
        writeln!(out)?;
    }
    if let Some(b) = &report.baseline {
        if !b.absent.is_empty() {
            writeln!(
                out,
                "{}",
                paint(
                    &format!(
                        "ABSENT ({}): in the baseline, no longer found",
                        b.absent.len()
                    ),
                    bold,
                    color
                )
            )?;
            for e in &b.absent {
                writeln!(
                    out,
                    "  {:<8}  {}  {} ({})  {}",
                    e.severity.as_str().to_uppercase(),
                    t(&e.rule_id),
                    t(e.token_name.as_deref().unwrap_or(&e.token_id)),
                    t(&e.token_id),
                    t(&e.owner.label())
                )?;
            }
            writeln!(out)?;
        }
    }
    if let Some(h) = &report.history {
        write_changes(h, out, color)?;
    }
    if !report.stale_exemptions.is_empty() {
        let title = format!(
            "STALE EXEMPTIONS ({}): expired or matching nothing",
            report.stale_exemptions.len()
        );
        writeln!(out, "{}", paint(&title, style(Severity::Medium), color))?;
        for e in &report.stale_exemptions {
            writeln!(out, "  {}", t(&e.message()))?;
        }
        writeln!(out)?;
    }
    let s = report.summary();
    let counts = Severity::ALL_DESC
        .iter()
        .map(|sev| {
            paint(
                &format!("{} {}", report.count(*sev), sev.as_str()),
                style(*sev),
                color && report.count(*sev) > 0,
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(
        out,
        "{} {counts}{} in {} token{} of {} owner{} at {}; {} scope{} not evaluated.",
        paint("Summary:", bold, color),
        if s.exempted > 0 {
            format!(" ({} exempted)", s.exempted)
        } else {
            String::new()
        },
        s.tokens_scanned,
        if s.tokens_scanned == 1 { "" } else { "s" },
        s.owners_scanned,
        if s.owners_scanned == 1 { "" } else { "s" },
        rfc3339(report.scanned_at),
        s.not_evaluated,
        if s.not_evaluated == 1 { "" } else { "s" },
    )?;
    if let Some(b) = &report.baseline {
        writeln!(
            out,
            "Baseline {}: {} new, {} updated, {} unchanged, {} absent; the gate counts new and updated findings only.",
            t(&b.file),
            b.count(BaselineState::New),
            b.count(BaselineState::Updated),
            b.count(BaselineState::Unchanged),
            b.count(BaselineState::Absent)
        )?;
    }
    if let Some(h) = &report.history {
        writeln!(
            out,
            "History {}: {}; {} new, {} resolved, {} drifted, {} overdue.",
            t(&h.database),
            match &h.previous {
                Some(p) => format!("since scan {} at {}", p.id, rfc3339(p.at)),
                None => "first scan of this scope".to_string(),
            },
            h.new_findings.len(),
            h.resolved.len(),
            h.drifted(),
            h.overdue()
        )?;
    }
    let verdict = if !s.complete {
        paint("INCOMPLETE (exit 3)", style(Severity::High), color)
    } else if s.gate_failed {
        paint("FAILED (exit 1)", style(Severity::High), color)
    } else {
        "passed".to_string()
    };
    writeln!(out, "Gate (fail on {}): {verdict}", s.fail_on)
}
