//! `tokenwarden history`: list the recorded scans, `diff` two of them, `prune` old ones,
//! `report` the HTML dashboard. Recording is `scan --history DB` (`cmd::scan`).

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use tokenwarden::exit::Exit;
use tokenwarden::history::{self, record, Changes, ScanSummary, Store};
use tokenwarden::policy::{GovernancePolicy, Sla};
use tokenwarden::text::terminal as t;

use super::args::{HistoryArgs, HistoryCommand, ListFormat};
use super::error::{usage, Error};
use super::session::{check_writable, print, Session};

/// The history named by `--history` or `TOKENWARDEN_HISTORY`.
pub fn open(db: Option<&str>) -> Result<Store, Error> {
    let db = db.filter(|d| !d.trim().is_empty()).ok_or_else(|| {
        usage("no history database: give --history DB (a SQLite file or a postgres:// URL) or set TOKENWARDEN_HISTORY")
    })?;
    Ok(Store::open(db)?)
}

/// `--since`: a date (midnight UTC) or an RFC 3339 time.
fn since(s: &str) -> Result<DateTime<Utc>, Error> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            usage(format!(
                "--since {s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
            ))
        })
}

fn policy_sla(path: Option<&Path>) -> Result<Sla, Error> {
    let policy = match path {
        Some(p) => GovernancePolicy::load(p)?,
        None => GovernancePolicy::builtin()?,
    };
    Ok(policy.sla)
}

pub fn run(args: &HistoryArgs, session: &Session) -> Result<Exit, Error> {
    let now = session.clock.now();
    match &args.command {
        None => {
            let since = args.since.as_deref().map(since).transpose()?;
            let mut store = open(args.db.as_deref())?;
            let scans = store.list(since, args.scope.as_deref())?;
            print(&match args.format {
                ListFormat::Json => list_json(&store, &scans),
                ListFormat::Table => list_table(&store, &scans),
            })?;
        }
        Some(HistoryCommand::Diff {
            scan_a,
            scan_b,
            policy,
        }) => {
            let sla = policy_sla(policy.as_deref())?;
            let mut store = open(args.db.as_deref())?;
            let a = store.load(*scan_a)?;
            let b = store.load(*scan_b)?;
            let changes = record::between(&a, &b, &sla, store.name());
            print(&match args.format {
                ListFormat::Json => diff_json(&changes, &b),
                ListFormat::Table => diff_table(&changes, &a, &b),
            })?;
        }
        Some(HistoryCommand::Prune { keep }) => {
            let mut store = open(args.db.as_deref())?;
            let before = now - chrono::Duration::days(i64::from(*keep));
            let n = store.prune(before)?;
            // A command that deletes says what it deleted, without -v.
            print(&format!(
                "pruned {n} scan{} recorded before {} from {} (the latest scan of each scope is kept)\n",
                if n == 1 { "" } else { "s" },
                history::show_time(before),
                store.name()
            ))?;
        }
        Some(HistoryCommand::Report { output, policy }) => {
            let sla = policy_sla(policy.as_deref())?;
            check_writable("--output", output)?;
            let mut store = open(args.db.as_deref())?;
            let html = dashboard(&mut store, args.scope.as_deref(), now, &sla)?;
            write_file(output, &html)?;
            session
                .ui
                .info(&format!("wrote the dashboard to {}", output.display()));
        }
    }
    Ok(Exit::Ok)
}

/// The HTML dashboard of `scope` (the latest scan's scope when `None`).
pub fn dashboard(
    store: &mut Store,
    scope: Option<&str>,
    now: DateTime<Utc>,
    sla: &Sla,
) -> Result<String, Error> {
    let data = history::dashboard::build(store, scope, now, sla)?;
    Ok(tokenwarden::dashboard::render(&data))
}

pub fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text.as_bytes()).map_err(|source| Error::Output {
        what: "the dashboard",
        target: path.display().to_string(),
        source,
    })
}

fn list_json(store: &Store, scans: &[ScanSummary]) -> String {
    let doc = json!({
        "database": store.name(),
        "scans": scans,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn list_table(store: &Store, scans: &[ScanSummary]) -> String {
    let mut out = String::new();
    if scans.is_empty() {
        let _ = writeln!(out, "No scans recorded in {}.", t(store.name()));
        return out;
    }
    let _ = writeln!(
        out,
        "{:>6}  {:<20}  {:<12}  {:<8}  {:>7}  {:>5}  {:>5}  {:>5}  {:>5}  {:>5}  {:>8}  {:>7}  {:>7}",
        "SCAN", "AT", "SCOPE", "SOURCE", "TOKENS", "CRIT", "HIGH", "MED", "LOW", "NEW", "RESOLVED", "DRIFTED", "OVERDUE"
    );
    for s in scans {
        let _ = writeln!(
            out,
            "{:>6}  {:<20}  {:<12}  {:<8}  {:>7}  {:>5}  {:>5}  {:>5}  {:>5}  {:>5}  {:>8}  {:>7}  {:>7}{}",
            s.id,
            history::show_time(s.at),
            t(&s.scope),
            t(&s.source),
            s.tokens,
            s.critical,
            s.high,
            s.medium,
            s.low,
            s.new,
            s.resolved,
            s.drifted,
            s.overdue,
            if s.not_evaluated.is_empty() {
                String::new()
            } else {
                format!("  ({} not evaluated)", s.not_evaluated.len())
            }
        );
    }
    out
}

fn diff_json(c: &Changes, b: &history::store::Recorded) -> String {
    let open: Vec<_> = b
        .findings
        .iter()
        .map(|f| {
            json!({
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "severity": f.severity,
                "token_id": f.token_id,
                "token_name": f.token_name,
                "owner": f.owner,
                "exempted": f.exempted,
                "history": c.finding(&f.fingerprint),
            })
        })
        .collect();
    let doc = json!({
        "database": c.database,
        "from": c.previous,
        "to": {"id": b.summary.id, "at": b.summary.at},
        "new": c.new_findings.len(),
        "resolved": c.resolved.len(),
        "drifted": c.drifted(),
        "tokens": c.tokens,
        "new_findings": c.new_findings,
        "resolved_findings": c.resolved,
        "open_findings": open,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn diff_table(c: &Changes, a: &history::store::Recorded, b: &history::store::Recorded) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Changes from scan {} ({}) to scan {} ({}):",
        a.summary.id,
        history::show_time(a.summary.at),
        b.summary.id,
        history::show_time(b.summary.at)
    );
    if a.summary.scope != b.summary.scope {
        let _ = writeln!(
            out,
            "note: the scans are of different scopes ({} and {})",
            t(&a.summary.scope),
            t(&b.summary.scope)
        );
    }
    for ch in &c.tokens {
        let events: Vec<&str> = ch.events.iter().map(|e| e.as_str()).collect();
        let _ = writeln!(
            out,
            "  {} ({})  {}  [{}]",
            t(ch.label()),
            t(&ch.token_id),
            t(&ch.owner.label()),
            events.join(", ")
        );
        for line in &ch.changes {
            let _ = writeln!(out, "    {}", t(line));
        }
    }
    let by_fp = |fp: &str| b.findings.iter().find(|f| f.fingerprint == fp);
    for fp in &c.new_findings {
        if let Some(f) = by_fp(fp) {
            let _ = writeln!(
                out,
                "  new       {:<8}  {}  {} ({})",
                f.severity.as_str(),
                t(&f.rule_id),
                t(f.token_name.as_deref().unwrap_or(&f.token_id)),
                t(&f.token_id)
            );
        }
    }
    for r in &c.resolved {
        let _ = writeln!(
            out,
            "  resolved  {:<8}  {}  {} ({})",
            r.severity.as_str(),
            t(&r.rule_id),
            t(r.token_name.as_deref().unwrap_or(&r.token_id)),
            t(&r.token_id)
        );
    }
    let _ = writeln!(
        out,
        "{} token{} changed ({} drifted), {} new finding{}, {} resolved.",
        c.tokens.len(),
        if c.tokens.len() == 1 { "" } else { "s" },
        c.drifted(),
        c.new_findings.len(),
        if c.new_findings.len() == 1 { "" } else { "s" },
        c.resolved.len()
    );
    out
}
