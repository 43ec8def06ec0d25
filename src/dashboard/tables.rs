//! The dashboard's tables and lists: findings by account × rule (a heat map), overdue
//! findings (most overdue first), recent drift and the scopes not evaluated. Long ones are
//! cut with an "and N more" line so a large estate still renders a page people can read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::html::{count, date, esc, int, time, time_el};
use super::{DriftEntry, NotEvaluatedScope, OpenFinding};
use crate::finding::Severity;

pub const OVERDUE_ROWS: usize = 50;
pub const DRIFT_ENTRIES: usize = 25;
pub const DRIFT_LINES: usize = 12;
pub const HEAT_RULES: usize = 25;
pub const HEAT_ACCOUNTS: usize = 12;
pub const NOT_EVALUATED_ROWS: usize = 50;

fn more(out: &mut String, hidden: usize, what: (&str, &str)) {
    if hidden > 0 {
        let _ = writeln!(
            out,
            "<p class=\"more\">… and {} more {} not shown.</p>",
            int(hidden),
            if hidden == 1 { what.0 } else { what.1 }
        );
    }
}

fn badge(sev: Severity) -> String {
    format!("<span class=\"badge sev-{sev}\">{sev}</span>")
}

/// Findings by account × rule: unexempted open findings, rules as rows (most findings
/// first), accounts as columns; each cell tinted by its count in the rule's worst severity.
pub fn heat_map(out: &mut String, findings: &[OpenFinding]) {
    let open: Vec<&OpenFinding> = findings.iter().filter(|f| !f.exempted).collect();
    if open.is_empty() {
        out.push_str("<p class=\"empty\">No open findings in the latest scan.</p>\n");
        return;
    }
    let mut cells: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut rules: BTreeMap<&str, (usize, Severity)> = BTreeMap::new();
    let mut owners: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &open {
        *cells
            .entry((f.rule_id.as_str(), f.owner.as_str()))
            .or_default() += 1;
        let r = rules.entry(f.rule_id.as_str()).or_insert((0, f.severity));
        r.0 += 1;
        r.1 = r.1.max(f.severity);
        *owners.entry(f.owner.as_str()).or_default() += 1;
    }
    let mut rule_order: Vec<(&str, usize, Severity)> =
        rules.iter().map(|(r, (n, s))| (*r, *n, *s)).collect();
    rule_order.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0)));
    let mut owner_order: Vec<(&str, usize)> = owners.iter().map(|(o, n)| (*o, *n)).collect();
    owner_order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown_owners: Vec<&str> = owner_order
        .iter()
        .take(HEAT_ACCOUNTS)
        .map(|(o, _)| *o)
        .collect();
    let other_owners = owner_order.len().saturating_sub(HEAT_ACCOUNTS);
    let max = cells.values().copied().max().unwrap_or(1).max(1);
    let level = |n: usize| -> usize {
        if n == 0 {
            0
        } else {
            // 1..=5, proportional to the largest cell.
            (n * 5).div_ceil(max).clamp(1, 5)
        }
    };

    out.push_str(
        "<div class=\"scroll\"><table id=\"heat-map\" class=\"heat\">\n<thead><tr><th scope=\"col\">Rule</th>",
    );
    for o in &shown_owners {
        let _ = write!(
            out,
            "<th scope=\"col\" class=\"col\" title=\"{0}\">{0}</th>",
            esc(o)
        );
    }
    if other_owners > 0 {
        let _ = write!(
            out,
            "<th scope=\"col\" class=\"col\">{}</th>",
            esc(&format!(
                "other {}",
                count(other_owners, "account", "accounts")
            ))
        );
    }
    out.push_str("<th scope=\"col\" class=\"n\">Total</th></tr></thead>\n<tbody>\n");
    for (rule, n, sev) in rule_order.iter().take(HEAT_RULES) {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{} <code>{}</code></th>",
            badge(*sev),
            esc(rule)
        );
        let cell = |out: &mut String, v: usize, label: &str| {
            if v == 0 {
                out.push_str("<td class=\"cell zero\">·</td>");
            } else {
                let _ = write!(
                    out,
                    "<td class=\"cell c-{sev} l{}\" title=\"{}\">{}</td>",
                    level(v),
                    esc(&format!(
                        "{rule} in {label}: {}",
                        count(v, "finding", "findings")
                    )),
                    int(v)
                );
            }
        };
        for o in &shown_owners {
            cell(out, cells.get(&(*rule, *o)).copied().unwrap_or(0), o);
        }
        if other_owners > 0 {
            let rest: usize = owner_order
                .iter()
                .skip(HEAT_ACCOUNTS)
                .map(|(o, _)| cells.get(&(*rule, *o)).copied().unwrap_or(0))
                .sum();
            cell(out, rest, "other accounts");
        }
        let _ = writeln!(out, "<td class=\"n\">{}</td></tr>", int(*n));
    }
    out.push_str("</tbody>\n<tfoot><tr><td>Total</td>");
    for (_, n) in owner_order.iter().take(HEAT_ACCOUNTS) {
        let _ = write!(out, "<td class=\"n\">{}</td>", int(*n));
    }
    if other_owners > 0 {
        let rest: usize = owner_order.iter().skip(HEAT_ACCOUNTS).map(|(_, n)| n).sum();
        let _ = write!(out, "<td class=\"n\">{}</td>", int(rest));
    }
    let _ = writeln!(
        out,
        "<td class=\"n\">{}</td></tr></tfoot>\n</table></div>",
        int(open.len())
    );
    more(
        out,
        rule_order.len().saturating_sub(HEAT_RULES),
        ("rule", "rules"),
    );
}

/// Whole days `f` is past its deadline at `now` (0 when not yet due).
pub fn days_overdue(now: DateTime<Utc>, f: &OpenFinding) -> i64 {
    f.due
        .map_or(0, |due| (now - due).num_seconds().div_euclid(86_400).max(0))
}

/// Overdue, unexempted findings, the most overdue first.
pub fn overdue(out: &mut String, now: DateTime<Utc>, findings: &[OpenFinding]) {
    let mut rows: Vec<&OpenFinding> = findings
        .iter()
        .filter(|f| f.overdue && !f.exempted)
        .collect();
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No finding is past its remediation deadline.</p>\n");
        return;
    }
    rows.sort_by(|a, b| {
        a.due
            .cmp(&b.due)
            .then(b.severity.cmp(&a.severity))
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.token_id.cmp(&b.token_id))
            .then(a.owner.cmp(&b.owner))
    });
    out.push_str(
        "<div class=\"scroll\"><table id=\"overdue-table\">\n<thead><tr><th>Severity</th><th>Rule</th>\
         <th>Token</th><th>Account</th><th>First seen</th><th class=\"n\">Age</th><th>Due</th>\
         <th class=\"n\">Overdue by</th></tr></thead>\n<tbody>\n",
    );
    for f in rows.iter().take(OVERDUE_ROWS) {
        let due = f
            .due
            .map_or_else(|| "—".to_string(), |d| time_el(d, &date(d)));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{} <span class=\"id\">{}</span></td><td>{}</td>\
             <td class=\"nw\">{}</td><td class=\"n\">{}</td><td class=\"nw\">{}</td><td class=\"n late\">{}</td></tr>",
            badge(f.severity),
            esc(&f.rule_id),
            esc(&f.token_name),
            esc(&f.token_id),
            esc(&f.owner),
            time_el(f.first_seen, &date(f.first_seen)),
            esc(&format!("{} d", f.age_days)),
            due,
            esc(&format!("{} d", days_overdue(now, f))),
        );
    }
    out.push_str("</tbody>\n</table></div>\n");
    more(
        out,
        rows.len().saturating_sub(OVERDUE_ROWS),
        ("overdue finding", "overdue findings"),
    );
}

/// Recent drift, newest first as given: per token, the changed fields.
pub fn drift(out: &mut String, entries: &[DriftEntry]) {
    if entries.is_empty() {
        out.push_str("<p class=\"empty\">No token changed its permissions, resources, conditions or expiry.</p>\n");
        return;
    }
    out.push_str("<ol id=\"drift-list\" class=\"drift\">\n");
    for e in entries.iter().take(DRIFT_ENTRIES) {
        let _ = write!(
            out,
            "<li><strong>{}</strong> <span class=\"id\">{}</span> · {} · <span class=\"sub\">{}</span>\n<ul class=\"changes\">",
            esc(&e.token_name),
            esc(&e.token_id),
            esc(&e.owner),
            time_el(e.at, &time(e.at)),
        );
        for line in e.changes.iter().take(DRIFT_LINES) {
            let class = if line.starts_with('+') {
                " class=\"add\""
            } else if line.starts_with('-') {
                " class=\"del\""
            } else {
                ""
            };
            let _ = write!(out, "<li{class}>{}</li>", esc(line));
        }
        let hidden = e.changes.len().saturating_sub(DRIFT_LINES);
        if hidden > 0 {
            let _ = write!(
                out,
                "<li>… and {} more {}</li>",
                int(hidden),
                if hidden == 1 { "change" } else { "changes" }
            );
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("</ol>\n");
    more(
        out,
        entries.len().saturating_sub(DRIFT_ENTRIES),
        ("drifted token", "drifted tokens"),
    );
}

/// The scopes the latest scan could not read or evaluate, with the reason.
pub fn not_evaluated(out: &mut String, scopes: &[NotEvaluatedScope]) {
    if scopes.is_empty() {
        out.push_str("<p class=\"empty\">Every scope was read and evaluated.</p>\n");
        return;
    }
    out.push_str("<table id=\"not-evaluated\">\n<thead><tr><th>Scope</th><th>Reason</th></tr></thead>\n<tbody>\n");
    for s in scopes.iter().take(NOT_EVALUATED_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(&s.scope),
            esc(&s.reason)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    more(
        out,
        scopes.len().saturating_sub(NOT_EVALUATED_ROWS),
        ("scope", "scopes"),
    );
}
