//! The history case (issue 15): what recording a scan in a SQLite history adds to the
//! scan's wall time (target ≤ 25 % at 100k tokens; 10k with `--quick`), and how fast
//! `history` answers over a year of nightly scans of 1k tokens (target < 1 s).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Duration as Days;
use tokenwarden::finding::Severity;
use tokenwarden::history::lifecycle::RecordedFinding;
use tokenwarden::history::record::RecordToken;
use tokenwarden::history::{record, ScanRecord, Store, TokenState};
use tokenwarden::inventory::Inventory;
use tokenwarden::scope::Owner;
use tokenwarden_emulator::synth::Estate;
use tokenwarden_emulator::{now, NOW};

use crate::child::{binary, median, run};
use crate::table::{count, duration, megabytes, per_second, Table};
use crate::{checked_report, timed, timed_with, Options};

const MAX_OVERHEAD: f64 = 0.25;
const NIGHTS: i64 = 365;
const TARGET_HISTORY: Duration = Duration::from_secs(1);

fn verdict(ok: bool) -> String {
    if ok { "PASS" } else { "MISS" }.to_string()
}

pub fn history_rows(opts: &Options, dir: &Path, table: &mut Table) -> Result<()> {
    recording_rows(opts, dir, table)?;
    year_rows(opts, dir, table)
}

/// A scan with and without `--history`: the first recording (every state new) and the
/// nightly one (compared with the previous scan, most states already stored).
fn recording_rows(opts: &Options, dir: &Path, table: &mut Table) -> Result<()> {
    let size = if opts.quick { 10_000 } else { 100_000 };
    let path = dir.join(format!("history-snapshot-{size}.json"));
    Estate::of_size(now(), size).write_snapshot(&path)?;
    checked_report(&path, "vm", &dir.join("history-report.json"), size)?;
    let (plain, _) = timed(&path, "vm", opts.runs)?;
    let db = dir.join("history-100k.db");
    let history: Vec<&std::ffi::OsStr> = vec!["--history".as_ref(), db.as_os_str()];
    // The first recording, timed on its own: every token state and finding is new.
    let (first, rss_first) = timed_with(&path, "vm", 1, &history)?;
    let (nightly, rss) = timed_with(&path, "vm", opts.runs, &history)?;
    let k = size / 1000;
    for (label, wall, rss) in [
        (
            format!("scan {k}k + record, first (SQLite)"),
            first,
            rss_first,
        ),
        (
            format!("scan {k}k + record, nightly (SQLite)"),
            nightly,
            rss,
        ),
    ] {
        let overhead = wall.as_secs_f64() / plain.as_secs_f64() - 1.0;
        table.row([
            label,
            count(size),
            duration(wall),
            per_second(size, wall),
            megabytes(rss),
            format!("≤ +25 % of {}", duration(plain)),
            format!(
                "{:+.0} % {}",
                overhead * 100.0,
                verdict(overhead <= MAX_OVERHEAD)
            ),
        ]);
    }
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len());
    table.row([
        format!("  history file after {} scans", opts.runs + 1),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.0} MB", bytes as f64 / 1e6),
    ]);
    std::fs::remove_file(&path)?;
    Ok(())
}

/// The findings of a scan of `snapshot`, as a history records them.
fn findings_of(snapshot: &Path, dir: &Path) -> Result<Vec<RecordedFinding>> {
    let report = dir.join("history-1k-report.json");
    checked_report(snapshot, "vm", &report, 1_000)?;
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let mut out = Vec::new();
    for f in doc["findings"].as_array().context("findings")? {
        let owner: Owner = serde_json::from_value(f["owner"].clone())?;
        out.push(RecordedFinding {
            fingerprint: f["fingerprint"].as_str().context("fingerprint")?.into(),
            rule_id: f["rule_id"].as_str().context("rule_id")?.into(),
            severity: f["severity"]
                .as_str()
                .context("severity")?
                .parse::<Severity>()?,
            owner,
            token_id: f["token_id"].as_str().context("token_id")?.into(),
            token_name: f["token_name"].as_str().map(str::to_string),
            exempted: f.get("exempted_by").is_some(),
            first_seen: now() - Days::days(NIGHTS),
        });
    }
    Ok(out)
}

/// A year of nightly scans of 1k tokens (written through the library, a few tokens rolled
/// or edited each night), then `history` and `history report` through the binary.
fn year_rows(opts: &Options, dir: &Path, table: &mut Table) -> Result<()> {
    let snapshot = dir.join("history-snapshot-1k.json");
    Estate::of_size(now(), 1_000).write_snapshot(&snapshot)?;
    let findings = findings_of(&snapshot, dir)?;
    let inv = Inventory::read(&snapshot)?;
    let mut states: Vec<_> = record::token_states(&inv)
        .into_iter()
        .map(|t| t.state().context("state").unwrap())
        .collect();
    let db = dir.join("history-year.db");
    let mut store = Store::open(db.to_str().context("path")?)?;
    let start = now() - Days::days(NIGHTS);
    let covered = inv.owners().iter().map(|o| o.owner.path()).collect();
    for night in 0..NIGHTS {
        let at = start + Days::days(night);
        // Five tokens change each night: their secrets are rolled.
        for i in 0..5 {
            let n = states.len();
            let t = &mut states[(night as usize * 5 + i) % n];
            t.modified_on = Some(at.to_rfc3339());
        }
        let rec = ScanRecord {
            at,
            scope: "all".into(),
            source: "snapshot".into(),
            policy_digest: "bench".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            covered: std::collections::BTreeSet::clone(&covered),
            not_evaluated: Vec::new(),
            tokens_scanned: states.len(),
            tokens: states
                .iter()
                .map(|t| {
                    let json = t.to_json();
                    RecordToken {
                        hash: TokenState::hash(&json),
                        state: Some((t.owner.path(), t.id.clone(), json)),
                        last_used_on: t.last_used_on.clone(),
                        carried: false,
                    }
                })
                .collect(),
            findings: findings.iter().cloned().map(|f| (f, false)).collect(),
            changes: Vec::new(),
            new_findings: 0,
            resolved: 0,
            drifted: 0,
            overdue: 0,
        };
        store.record(&rec)?;
    }
    drop(store);
    let runs = if opts.quick { 3 } else { 5 };
    let db_arg = db.to_str().context("path")?;
    let html = dir.join("dashboard.html");
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "history (365 × 1k tokens, json)",
            vec!["history", "--history", db_arg, "--format", "json"],
        ),
        (
            "history diff (1k tokens)",
            vec!["history", "--history", db_arg, "diff", "1", "365"],
        ),
        (
            "history report (dashboard)",
            vec![
                "history",
                "--history",
                db_arg,
                "--now",
                NOW,
                "report",
                "--output",
                html.to_str().context("path")?,
            ],
        ),
    ];
    for (label, args) in cases {
        let mut walls = Vec::new();
        let mut rss = 0;
        for _ in 0..runs {
            let r = run(binary().args(&args))?;
            if r.code != 0 {
                bail!(
                    "{label} exited {}: {}",
                    r.code,
                    String::from_utf8_lossy(&r.stderr)
                );
            }
            walls.push(r.wall);
            rss = rss.max(r.peak_rss);
        }
        let wall = median(walls);
        let first = label.starts_with("history (");
        table.row([
            label.to_string(),
            count(1_000),
            duration(wall),
            String::new(),
            megabytes(rss),
            if first {
                "< 1 s".to_string()
            } else {
                format!("median of {runs}")
            },
            if first {
                verdict(wall < TARGET_HISTORY)
            } else {
                String::new()
            },
        ]);
    }
    std::fs::remove_file(&snapshot)?;
    Ok(())
}
