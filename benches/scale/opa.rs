//! The OPA rows of the scale benchmark (issue 13): real OPA, its Go engine from the PyPI
//! package that `scripts/opa-venv.sh` installs, evaluates the default pack on exactly the
//! input documents of a 10k-token synthetic snapshot (tokenwarden's bulk export), and the
//! row sets OPA's time against tokenwarden's whole scan of that snapshot: spawn, read,
//! enrich, evaluate, govern and report. tokenwarden must stay at least 10× ahead.
//!
//! OPA's time counts only its evaluations, one query per token with the input passed as
//! JSON, as an application embedding OPA would call it; not writing or reading the
//! documents, nor starting Python. Both engines must find the same number of findings.
//! The scan and OPA take turns, `--runs` times, each showing its median, so that other
//! load on the machine weighs on both alike.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokenwarden::engine::{Evaluator, RuleSet};
use tokenwarden::export::write_jsonl;
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;

use tokenwarden_emulator::now;
use tokenwarden_emulator::synth::Estate;

use crate::child::median;
use crate::table::{count, duration, megabytes, per_second, Table};
use crate::{checked_report, timed, Options};

const TOKENS: usize = 10_000;
const TARGET_RATIO: f64 = 10.0;

/// The tokenwarden scan of the 10k snapshot and OPA on the same documents, taking turns.
pub fn opa_rows(opts: &Options, dir: &Path, table: &mut Table) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let snapshot = dir.join("snapshot-opa.json");
    Estate::of_size(now(), TOKENS).write_snapshot(&snapshot)?;
    checked_report(&snapshot, "vm", &dir.join("report-opa.json"), TOKENS)?;
    let label = format!("OPA {}k, same input documents", TOKENS / 1000);
    let setup = Command::new("bash")
        .arg(root.join("scripts/opa-venv.sh"))
        .output()?;
    if !setup.status.success() {
        let why = String::from_utf8_lossy(&setup.stderr);
        let last = why.lines().last().unwrap_or("no output");
        let blank = String::new;
        let skipped = format!("SKIPPED: scripts/opa-venv.sh failed: {last}");
        table.row([
            label,
            count(TOKENS),
            blank(),
            blank(),
            blank(),
            blank(),
            skipped,
        ]);
        return Ok(());
    }
    let documents = dir.join("opa-inputs.jsonl");
    export(&snapshot, &documents)?;
    let (mut scans, mut opas, mut rss) = (Vec::new(), Vec::new(), 0);
    let mut result = serde_json::Value::Null;
    for _ in 0..opts.runs {
        let (wall, peak) = timed(&snapshot, "vm", 1)?;
        scans.push(wall);
        rss = rss.max(peak);
        result = opa_pass(root, &documents)?;
        let seconds = result["seconds"].as_f64().context("seconds")?;
        opas.push(Duration::from_secs_f64(seconds));
    }
    let (scan, opa) = (median(scans), median(opas));
    table.row([
        format!("snapshot {}k (vm), for OPA", TOKENS / 1000),
        count(TOKENS),
        duration(scan),
        per_second(TOKENS, scan),
        megabytes(rss),
        "whole scan, turns with OPA".to_string(),
        String::new(),
    ]);
    let ratio = opa.as_secs_f64() / scan.as_secs_f64().max(1e-9);
    let same = result["opa_findings"] == result["tokenwarden_findings"];
    table.row([
        label,
        count(TOKENS),
        duration(opa),
        per_second(TOKENS, opa),
        String::new(),
        format!("≥ {TARGET_RATIO:.0}× the scan's wall"),
        format!(
            "{ratio:.1}× {}, {} findings {}",
            if ratio >= TARGET_RATIO {
                "PASS"
            } else {
                "MISS"
            },
            result["opa_findings"],
            if same { "(same count)" } else { "DIFFER" }
        ),
    ]);
    std::fs::remove_file(&documents)?;
    std::fs::remove_file(&snapshot)?;
    Ok(())
}

/// One timed pass of OPA over the documents (`scripts/opa_parity.py bench`).
fn opa_pass(root: &Path, documents: &Path) -> Result<serde_json::Value> {
    let out = Command::new(root.join("target/opa-venv/bin/python"))
        .arg(root.join("scripts/opa_parity.py"))
        .args(["bench", "--rules"])
        .arg(root.join("rules"))
        .arg(documents)
        .output()?;
    if !out.status.success() {
        bail!(
            "OPA benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// tokenwarden's bulk export of the snapshot, with the built-in rules and policy.
fn export(snapshot: &Path, documents: &Path) -> Result<()> {
    let inventory = Inventory::read(snapshot)?;
    let set = RuleSet::builtin()?;
    let policy = GovernancePolicy::builtin()?;
    let evaluator = Evaluator::new(&set, &policy.config_data(), &[])?;
    let mut out = BufWriter::new(File::create(documents)?);
    let summary = write_jsonl(&inventory, &evaluator, &policy, now(), &mut out)?;
    if summary.tokens != TOKENS || summary.failed != 0 {
        bail!("export: {summary:?}");
    }
    Ok(())
}
