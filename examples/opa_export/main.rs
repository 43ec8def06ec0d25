//! `cargo run --example opa_export -- (--snapshot FILE | --synthetic N) --now RFC3339
//! [--rules DIR]... [--no-default-rules] [--write-snapshot FILE]`
//!
//! Writes tokenwarden's bulk export (`tokenwarden::export::write_jsonl`) to stdout:
//! one JSON line per token with the input document, the config data and the findings, for
//! the example snapshot or for a synthetic estate of N varied tokens (estate.rs). It is how
//! `scripts/opa-parity.sh` gets the exact documents tokenwarden evaluates, so that OPA can
//! evaluate them too (issue 13). The built-in governance policy is used.
// A command-line helper: it reports on stderr and exits with a code, as a binary does.
#![allow(clippy::print_stderr)]

mod estate;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

use tokenwarden::engine::{Evaluator, RuleSet};
use tokenwarden::export::write_jsonl;
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;

const USAGE: &str = "usage: opa_export (--snapshot FILE | --synthetic N) --now RFC3339 \
                     [--rules DIR]... [--no-default-rules] [--write-snapshot FILE]";

struct Args {
    snapshot: Option<PathBuf>,
    synthetic: Option<usize>,
    now: DateTime<Utc>,
    rules: Vec<PathBuf>,
    no_default_rules: bool,
    write_snapshot: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut snapshot = None;
    let mut synthetic = None;
    let mut now = None;
    let mut rules = Vec::new();
    let mut no_default_rules = false;
    let mut write_snapshot = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--snapshot" => snapshot = Some(PathBuf::from(value()?)),
            "--synthetic" => synthetic = Some(value()?.parse().context("--synthetic N")?),
            "--now" => {
                now = Some(DateTime::parse_from_rfc3339(&value()?)?.with_timezone(&Utc));
            }
            "--rules" => rules.push(PathBuf::from(value()?)),
            "--no-default-rules" => no_default_rules = true,
            "--write-snapshot" => write_snapshot = Some(PathBuf::from(value()?)),
            _ => bail!("unknown argument {a:?}\n{USAGE}"),
        }
    }
    if snapshot.is_some() == synthetic.is_some() {
        bail!("give exactly one of --snapshot and --synthetic\n{USAGE}");
    }
    Ok(Args {
        snapshot,
        synthetic,
        now: now.with_context(|| format!("--now is required\n{USAGE}"))?,
        rules,
        no_default_rules,
        write_snapshot,
    })
}

fn main() -> Result<()> {
    let args = args()?;
    let inventory = match (&args.snapshot, args.synthetic) {
        (Some(path), _) => Inventory::read(path)?,
        (None, Some(n)) => {
            let text = serde_json::to_string(&estate::snapshot(args.now, n)?)?;
            Inventory::from_json(&text, std::path::Path::new("<synthetic>"))?
        }
        (None, None) => bail!("{USAGE}"),
    };
    if let Some(path) = &args.write_snapshot {
        inventory.write(path)?;
    }
    let mut set = if args.no_default_rules {
        RuleSet::default()
    } else {
        RuleSet::builtin()?
    };
    for dir in &args.rules {
        set.add_dir(dir)?;
    }
    let policy = GovernancePolicy::builtin()?;
    let evaluator = Evaluator::new(&set, &policy.config_data(), &[])?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = write_jsonl(&inventory, &evaluator, &policy, args.now, &mut out)?;
    out.flush()?;
    eprintln!(
        "opa_export: {} tokens, {} with errors",
        summary.tokens, summary.failed
    );
    if summary.failed > 0 {
        std::process::exit(3);
    }
    Ok(())
}
