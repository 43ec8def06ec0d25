//! The compliance dashboard (issue 15, part 5): one self-contained HTML file drawn from the
//! scan history — summary tiles, the trend of open findings by severity, an expiry
//! timeline, findings by account × rule, overdue findings, recent drift and the scopes not
//! evaluated. A pure, deterministic function of [`DashboardData`]: no clock, no I/O, no
//! JavaScript, no external requests (docs/architecture.md, "Dashboard").

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::finding::Severity;

mod html;
mod svg;
mod tables;
#[cfg(test)]
mod tests;

use html::{count, esc, int, signed, time, time_el};

/// The order of [`ScanPoint::open`]: most severe first.
pub const SEVERITIES: [Severity; 4] = Severity::ALL_DESC;

/// Everything the dashboard shows, built by the history layer from its database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DashboardData {
    pub generated_at: DateTime<Utc>,
    /// e.g. "tokenwarden — scope all".
    pub title: String,
    /// Oldest → newest.
    pub scans: Vec<ScanPoint>,
    /// Tokens expiring within 90 days of `generated_at`.
    pub expiring: Vec<ExpiringToken>,
    /// Of the latest scan.
    pub open_findings: Vec<OpenFinding>,
    /// Recent drift, newest first.
    pub drift: Vec<DriftEntry>,
    /// Of the latest scan.
    pub not_evaluated: Vec<NotEvaluatedScope>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanPoint {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub tokens: usize,
    /// Unexempted open findings: critical, high, medium, low.
    pub open: [usize; 4],
    pub new: usize,
    pub resolved: usize,
    pub drifted: usize,
    pub overdue: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExpiringToken {
    pub token_id: String,
    pub token_name: String,
    pub owner: String,
    pub expires_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenFinding {
    pub rule_id: String,
    pub severity: Severity,
    pub token_id: String,
    pub token_name: String,
    /// "user" or the account's name/id label.
    pub owner: String,
    pub first_seen: DateTime<Utc>,
    pub age_days: i64,
    pub due: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub exempted: bool,
}

/// `Severity` has no default, so this one is written out (the history layer may build
/// findings with `..Default::default()`).
impl Default for OpenFinding {
    fn default() -> Self {
        OpenFinding {
            rule_id: String::new(),
            severity: Severity::Low,
            token_id: String::new(),
            token_name: String::new(),
            owner: String::new(),
            first_seen: DateTime::<Utc>::default(),
            age_days: 0,
            due: None,
            overdue: false,
            exempted: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DriftEntry {
    pub at: DateTime<Utc>,
    pub token_id: String,
    pub token_name: String,
    pub owner: String,
    /// Rendered lines like `+ "Zone Write" on com.cloudflare.api.account.zone.*`.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NotEvaluatedScope {
    pub scope: String,
    pub reason: String,
}

/// The dashboard as one HTML document; the same data gives byte-identical output.
pub fn render(data: &DashboardData) -> String {
    // Oldest first is the contract; a caller's slip must not draw outside the chart.
    if !data.scans.is_sorted_by_key(|s| (s.at, s.id)) {
        let mut sorted = data.clone();
        sorted.scans.sort_by_key(|s| (s.at, s.id));
        return render(&sorted);
    }
    let mut out = String::with_capacity(64 * 1024);
    html::head(&mut out, &data.title);
    out.push_str("<body>\n<main>\n");
    header(&mut out, data);
    if !data.not_evaluated.is_empty() {
        warning(&mut out, &data.not_evaluated);
    }
    tiles(&mut out, data);

    section(
        &mut out,
        "trend",
        "Open findings by severity",
        &trend_note(data),
    );
    if data.scans.is_empty() {
        out.push_str("<p class=\"empty\">No scans recorded yet: run <code>tokenwarden scan --history DB</code> to start the trend.</p>\n");
    } else {
        legend(
            &mut out,
            &[
                ("sw sev-critical", "Critical"),
                ("sw sev-high", "High"),
                ("sw sev-medium", "Medium"),
                ("sw sev-low", "Low"),
                ("sw dash", "Overdue"),
            ],
        );
        svg::trend(&mut out, &data.scans);
    }
    out.push_str("</section>\n");

    let mut expiring = data.expiring.clone();
    expiring.sort_by(|a, b| {
        a.expires_on
            .cmp(&b.expires_on)
            .then(a.token_name.cmp(&b.token_name))
            .then(a.token_id.cmp(&b.token_id))
    });
    section(
        &mut out,
        "expiry",
        "Expiring in the next 90 days",
        "Each bar is the life a token has left; hover a row for its id and exact expiry.",
    );
    if expiring.is_empty() {
        out.push_str("<p class=\"empty\">No token expires in the next 90 days.</p>\n");
    } else {
        legend(
            &mut out,
            &[
                ("sw exp30", "within 30 days"),
                ("sw exp60", "31–60 days"),
                ("sw exp90", "61–90 days"),
            ],
        );
        svg::expiry(&mut out, data.generated_at, &expiring);
        let hidden = expiring.len().saturating_sub(svg::EXPIRY_ROWS);
        if hidden > 0 {
            let _ = writeln!(
                out,
                "<p class=\"more\">… and {} more {} expiring later.</p>",
                int(hidden),
                if hidden == 1 { "token" } else { "tokens" }
            );
        }
    }
    out.push_str("</section>\n");

    section(
        &mut out,
        "heat",
        "Findings by account × rule",
        "Open, unexempted findings of the latest scan; the deeper the colour, the more findings, in the rule's worst severity.",
    );
    tables::heat_map(&mut out, &data.open_findings);
    out.push_str("</section>\n");

    section(
        &mut out,
        "overdue",
        "Overdue findings",
        "Past the policy's remediation deadline, the most overdue first.",
    );
    tables::overdue(&mut out, data.generated_at, &data.open_findings);
    out.push_str("</section>\n");

    section(&mut out, "drift", "Recent drift", "Existing tokens that gained or lost permissions, resources, conditions or expiry; newest first.");
    tables::drift(&mut out, &data.drift);
    out.push_str("</section>\n");

    section(
        &mut out,
        "not-evaluated",
        "Scopes not evaluated",
        "A scope that was not read is not clean: its tokens and findings are unknown.",
    );
    tables::not_evaluated(&mut out, &data.not_evaluated);
    out.push_str("</section>\n");

    let _ = writeln!(
        out,
        "<footer>Generated by tokenwarden at {} from {}. All times UTC. This page runs no scripts and loads nothing from elsewhere.</footer>",
        time_el(data.generated_at, &time(data.generated_at)),
        count(data.scans.len(), "recorded scan", "recorded scans")
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn section(out: &mut String, id: &str, title: &str, note: &str) {
    let _ = writeln!(
        out,
        "<section class=\"panel\" id=\"{id}\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>",
        esc(title),
        esc(note)
    );
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<ul class=\"legend\">");
    for (class, label) in items {
        let _ = write!(
            out,
            "<li><span class=\"{class}\"></span>{}</li>",
            esc(label)
        );
    }
    out.push_str("</ul>\n");
}

fn trend_note(data: &DashboardData) -> String {
    match (data.scans.first(), data.scans.last()) {
        (Some(first), Some(last)) if data.scans.len() > 1 => format!(
            "Unexempted open findings in each of {} from {} to {}; the dashed line counts the overdue ones. Hover for a scan's numbers.",
            count(data.scans.len(), "scan", "scans"),
            time(first.at),
            time(last.at)
        ),
        (Some(only), _) => format!(
            "One scan recorded ({}); the trend appears from the second scan on.",
            time(only.at)
        ),
        _ => "No scans recorded.".to_string(),
    }
}

fn header(out: &mut String, data: &DashboardData) {
    let latest = match data.scans.last() {
        Some(s) => format!("latest scan #{} at {}", s.id, time(s.at)),
        None => "no scans recorded".to_string(),
    };
    let _ = writeln!(
        out,
        "<header class=\"top\"><h1>{}</h1><div class=\"sub\">{} · generated {}</div></header>",
        esc(&data.title),
        esc(&latest),
        time_el(data.generated_at, &time(data.generated_at))
    );
}

fn warning(out: &mut String, scopes: &[NotEvaluatedScope]) {
    let _ = write!(
        out,
        "<div class=\"warn\" id=\"not-evaluated-warning\" role=\"alert\"><strong>⚠ {} not evaluated in the latest scan.</strong> \
         A scope that was not read is not clean: its tokens and findings are unknown, and nothing below covers it.<ul>",
        esc(&count(scopes.len(), "scope was", "scopes were"))
    );
    for s in scopes.iter().take(5) {
        let _ = write!(
            out,
            "<li><code>{}</code> — {}</li>",
            esc(&s.scope),
            esc(&s.reason)
        );
    }
    if scopes.len() > 5 {
        let _ = write!(
            out,
            "<li>… and {} more, listed below</li>",
            int(scopes.len() - 5)
        );
    }
    out.push_str("</ul></div>\n");
}

/// One summary tile: a value, its label, an optional line below and extra classes.
struct Tile {
    id: &'static str,
    class: String,
    value: String,
    label: String,
    detail: Option<(String, &'static str)>,
}

/// The change since the previous scan, coloured when a rise is bad.
fn delta(now: usize, before: Option<usize>, rise_is_bad: bool) -> Option<(String, &'static str)> {
    let before = before?;
    let d = i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(before).unwrap_or(i64::MAX);
    let class = match (d.signum(), rise_is_bad) {
        (1, true) => "d up",
        (-1, true) => "d down",
        _ => "d",
    };
    Some((format!("{} vs previous scan", signed(d)), class))
}

fn tiles(out: &mut String, data: &DashboardData) {
    let latest = data.scans.last();
    let previous = data
        .scans
        .len()
        .checked_sub(2)
        .and_then(|i| data.scans.get(i));
    // Open counts come from the latest scan; without one, from the findings given.
    let open: [usize; 4] = match latest {
        Some(s) => s.open,
        None => {
            let mut open = [0; 4];
            for f in data.open_findings.iter().filter(|f| !f.exempted) {
                if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
                    open[i] += 1;
                }
            }
            open
        }
    };
    let dash = || "—".to_string();
    let mut tiles = vec![Tile {
        id: "tokens",
        class: String::new(),
        value: latest.map_or_else(dash, |s| int(s.tokens)),
        label: "Tokens".into(),
        detail: latest.and_then(|s| delta(s.tokens, previous.map(|p| p.tokens), false)),
    }];
    for (i, sev) in SEVERITIES.iter().enumerate() {
        tiles.push(Tile {
            id: match sev {
                Severity::Critical => "open-critical",
                Severity::High => "open-high",
                Severity::Medium => "open-medium",
                Severity::Low => "open-low",
            },
            class: format!("sev-{sev}"),
            value: int(open[i]),
            label: format!("Open {sev}"),
            detail: delta(open[i], previous.map(|p| p.open[i]), true),
        });
    }
    let overdue = latest.map_or_else(
        || {
            data.open_findings
                .iter()
                .filter(|f| f.overdue && !f.exempted)
                .count()
        },
        |s| s.overdue,
    );
    tiles.push(Tile {
        id: "overdue",
        class: if overdue > 0 {
            "alert".into()
        } else {
            String::new()
        },
        value: int(overdue),
        label: "Overdue".into(),
        detail: Some(("past their deadline".into(), "d")),
    });
    for (id, label, v) in [
        ("new", "New", latest.map(|s| s.new)),
        ("resolved", "Resolved", latest.map(|s| s.resolved)),
        ("drifted", "Drifted tokens", latest.map(|s| s.drifted)),
    ] {
        tiles.push(Tile {
            id,
            class: String::new(),
            value: v.map_or_else(dash, int),
            label: label.into(),
            detail: Some(("in the latest scan".into(), "d")),
        });
    }
    let mut within = [0usize; 3];
    for t in &data.expiring {
        let (_, band) = svg::expiry_band(data.generated_at, t.expires_on);
        for (i, limit) in [30u8, 60, 90].iter().enumerate() {
            if band <= *limit {
                within[i] += 1;
            }
        }
    }
    for (i, (id, days)) in [
        ("expiring-30", 30),
        ("expiring-60", 60),
        ("expiring-90", 90),
    ]
    .into_iter()
    .enumerate()
    {
        tiles.push(Tile {
            id,
            class: if i == 0 && within[0] > 0 {
                "alert".into()
            } else {
                String::new()
            },
            value: int(within[i]),
            label: format!("Expiring ≤ {days} d"),
            detail: Some((count(within[i], "token", "tokens"), "d")),
        });
    }
    let exempted = data.open_findings.iter().filter(|f| f.exempted).count();
    tiles.push(Tile {
        id: "exempted",
        class: String::new(),
        value: int(exempted),
        label: "Exempted".into(),
        detail: Some(("accepted by the policy".into(), "d")),
    });
    let ne = data.not_evaluated.len();
    tiles.push(Tile {
        id: "not-evaluated-count",
        class: if ne > 0 {
            "warning".into()
        } else {
            String::new()
        },
        value: int(ne),
        label: "Scopes not evaluated".into(),
        detail: Some((
            if ne > 0 {
                "not clean: unknown".into()
            } else {
                "every scope read".into()
            },
            "d",
        )),
    });

    out.push_str("<div class=\"tiles\" id=\"tiles\">\n");
    for t in tiles {
        let _ =
            write!(
            out,
            "<div class=\"{}\" id=\"tile-{}\"><div class=\"k\">{}</div><div class=\"v\">{}</div>",
            if t.class.is_empty() { "tile".to_string() } else { format!("tile {}", t.class) },
            t.id,
            esc(&t.label),
            esc(&t.value)
        );
        if let Some((text, class)) = t.detail {
            let _ = write!(out, "<div class=\"{class}\">{}</div>", esc(&text));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
}
