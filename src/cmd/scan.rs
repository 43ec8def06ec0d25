//! `tokenwarden scan`: collect (or read a snapshot), scan, write the report(s) and the
//! baseline, and exit with the scan's verdict.

use std::io::{BufWriter, Write};
use std::path::Path;

use tokenwarden::baseline::Baseline;
use tokenwarden::exit::Exit;
use tokenwarden::finding::FailOn;
use tokenwarden::history::{record, Store};
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;
use tokenwarden::report::{self, Format};
use tokenwarden::scan::{self, Report, ScanRequest};

use super::args::{FailOnArg, FormatArg, ScanArgs};
use super::error::{usage, Error};
use super::session::{check_writable, prepare, scope_of, Session, Stdout};
use super::terraform;

pub fn fail_on_of(f: FailOnArg) -> FailOn {
    match f {
        FailOnArg::Critical => FailOn::Critical,
        FailOnArg::High => FailOn::High,
        FailOnArg::Medium => FailOn::Medium,
        FailOnArg::Low => FailOn::Low,
        FailOnArg::Never => FailOn::Never,
    }
}

/// The report format; `None` for the HTML dashboard, which is built from the history.
fn format_of(f: FormatArg) -> Option<Format> {
    match f {
        FormatArg::Table => Some(Format::Table),
        FormatArg::Json => Some(Format::Json),
        FormatArg::Sarif => Some(Format::Sarif),
        FormatArg::Markdown => Some(Format::Markdown),
        FormatArg::Html => None,
    }
}

/// Write one report to `path`, or to stdout.
fn write_report(
    format: Format,
    report: &Report,
    path: Option<&Path>,
    color: bool,
) -> Result<(), Error> {
    let failed = |source| Error::Output {
        what: "the report",
        target: path.map_or("stdout".to_string(), |p| p.display().to_string()),
        source,
    };
    match path {
        Some(p) => {
            let mut out = BufWriter::new(std::fs::File::create(p).map_err(failed)?);
            report::write(format, report, &mut out, false)
                .and_then(|()| out.flush())
                .map_err(failed)
        }
        None => {
            let mut out = BufWriter::new(Stdout::default());
            report::write(format, report, &mut out, color)
                .and_then(|()| out.flush())
                .map_err(failed)
        }
    }
}

/// Compare the scan with the previous one of its scope, attach the changes to the report,
/// and record the scan.
/// What recording needs that does not depend on the findings: this scan's token states
/// and the previous record of the scope. Read while the rules run.
struct Preread {
    current: Vec<record::CurrentToken>,
    previous: Option<tokenwarden::history::store::Recorded>,
    took: std::time::Duration,
}

fn preread(
    store: &mut Store,
    scope: &str,
    now: chrono::DateTime<chrono::Utc>,
    inv: &Inventory,
) -> Result<Preread, tokenwarden::history::HistoryError> {
    let started = std::time::Instant::now();
    let current = record::token_states(inv);
    let previous = store.previous(scope, now)?;
    Ok(Preread {
        current,
        previous,
        took: started.elapsed(),
    })
}

fn record(
    store: &mut Store,
    args: &ScanArgs,
    inv: &Inventory,
    report: &mut Report,
    policy: &GovernancePolicy,
    ui: &super::session::Ui,
    pre: Preread,
) -> Result<record::ScanRecord, Error> {
    let scope = record::scope_key(scope_of(args.source.scope), &args.source.accounts);
    ui.debug(&format!(
        "history: token states and the previous scan read in {:.2?} (beside the rules)",
        pre.took
    ));
    let started = std::time::Instant::now();
    let Preread {
        current,
        mut previous,
        ..
    } = pre;
    let unseen = record::unseen(&report.findings, previous.as_ref());
    let seen_before = if previous.is_some() && !unseen.is_empty() {
        store.seen_before(&unseen)?
    } else {
        Default::default()
    };
    let source = if args.source.snapshot.is_some() {
        "snapshot"
    } else {
        "api"
    };
    let input = record::ScanInput {
        at: report.scanned_at,
        scope: scope.clone(),
        source: source.to_string(),
        policy,
        inventory: inv,
        findings: &report.findings,
        not_evaluated: &report.not_evaluated,
        reach: &report.reach,
    };
    if let Some(p) = previous.as_mut() {
        let changed = record::changed_hashes(p, &current, &record::covered(&input));
        store.add_states(p, &changed)?;
    }
    ui.debug(&format!(
        "history: previous scan loaded in {:.2?}",
        started.elapsed()
    ));
    let started = std::time::Instant::now();
    let (rec, changes) = record::build(
        &input,
        current,
        previous.as_ref(),
        &seen_before,
        store.name(),
    );
    ui.debug(&format!("history: compared in {:.2?}", started.elapsed()));
    report.history = Some(changes);
    report.scope_key = scope;
    // The command line can only tighten the policy's history gate.
    report.history_gate.fail_on_new |= args.history.fail_on_new;
    report.history_gate.fail_on_drift |= args.history.fail_on_drift;
    report.history_gate.fail_on_overdue |= args.history.fail_on_overdue;
    Ok(rec)
}

pub fn run(args: &ScanArgs, session: &Session) -> Result<Exit, Error> {
    let ui = session.ui;
    let now = session.clock.now();
    let prepared = prepare(&args.eval, now)?;
    let evaluator = &prepared.evaluator;
    // Inline suppressions in the .tf files join the policy's exemptions.
    let mut policy = prepared.policy.clone();
    let rule_ids: Vec<String> = evaluator.rules().map(|r| r.id.clone()).collect();
    let tf = terraform::load(&args.terraform, &args.source, &mut policy, &rule_ids, now)?;
    let policy = &policy;
    let fail_on = args.fail_on.map_or(policy.fail_on, fail_on_of);
    // Read before collecting: a baseline that does not parse is a usage error (exit 2),
    // never an empty baseline. Outputs are checked now too, not after a long live scan.
    let previous = args.baseline.as_deref().map(Baseline::read).transpose()?;
    if args.format == FormatArg::Html && args.history.db.is_none() {
        return Err(usage(
            "--format html is the dashboard of a history: give --history DB (or TOKENWARDEN_HISTORY)",
        ));
    }
    // A history follows tokens that exist; a Terraform scan describes planned ones, whose
    // ids and times are made up at each run (docs/terraform.md): recording them would show
    // every planned token as rolled every night.
    if !args.terraform.terraform.is_empty() && args.history.db.is_some() {
        return Err(usage(
            "--history records scans of the API or a snapshot; a --terraform scan has no history (unset --history / TOKENWARDEN_HISTORY for this job)",
        ));
    }
    // Opened (and migrated) before collecting: a history that cannot be used stops the run
    // before a long live scan.
    let mut store = match args.history.db.as_deref() {
        Some(db) => Some(super::history::open(Some(db))?),
        None => None,
    };
    for (flag, path) in [
        ("--output", &args.output),
        ("--sarif", &args.sarif),
        ("--write-baseline", &args.write_baseline),
    ] {
        if let Some(p) = path {
            check_writable(flag, p)?;
        }
    }
    if let Some(reason) = &evaluator.fallback_reason {
        ui.info(&format!(
            "using the Rego interpreter: the bytecode VM cannot run these rules ({reason})"
        ));
    }
    let started = std::time::Instant::now();
    let (inv, sources) = match tf {
        Some(loaded) => {
            if loaded.sources.resources.is_empty() {
                ui.warn("--terraform: no cloudflare_api_token or cloudflare_account_token resource to evaluate");
            }
            (loaded.inventory, Some(loaded.sources))
        }
        None => (session.inventory(&args.source, now)?, None),
    };
    ui.debug(&format!(
        "inventory: {} tokens in {:.2?}",
        inv.token_count(),
        started.elapsed()
    ));
    let started = std::time::Instant::now();
    let baseline_name = args
        .baseline
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let request = ScanRequest {
        evaluator,
        policy,
        fail_on,
        now,
        scope: scope_of(args.source.scope),
        accounts: &args.source.accounts,
        baseline: previous.as_ref().map(|b| (b, baseline_name.as_str())),
        terraform: sources.as_ref(),
    };
    let history_scope = record::scope_key(scope_of(args.source.scope), &args.source.accounts);
    // The history's reading does not depend on the findings: it runs beside the rules.
    let (mut report, pre) = std::thread::scope(|s| {
        let pre = store
            .as_mut()
            .map(|st| s.spawn(|| preread(st, &history_scope, now, &inv)));
        let report = scan::scan(&inv, &request);
        (report, pre.map(|h| h.join()))
    });
    if let Some(sources) = &sources {
        terraform::annotate(&mut report, sources);
    }
    let pre = match pre {
        None => None,
        Some(Ok(r)) => Some(r?),
        Some(Err(_)) => {
            return Err(Error::Runtime(std::io::Error::other(
                "reading the history failed",
            )))
        }
    };
    ui.debug(&format!(
        "evaluation ({}): {} findings in {:.2?}",
        evaluator.backend().as_str(),
        report.findings.len(),
        started.elapsed()
    ));
    let rec = match (store.as_mut(), pre) {
        (Some(store), Some(pre)) => Some(record(store, args, &inv, &mut report, policy, &ui, pre)?),
        _ => None,
    };
    let started = std::time::Instant::now();
    match (format_of(args.format), store.as_mut()) {
        (Some(format), store) => {
            // The report does not wait for the history: the scan is stored beside it.
            let (written, stored) = std::thread::scope(|s| {
                let stored = match (store, rec.as_ref()) {
                    (Some(st), Some(rec)) => Some(s.spawn(move || st.record(rec))),
                    _ => None,
                };
                let written = write_report(format, &report, args.output.as_deref(), ui.color);
                (written, stored.map(|h| h.join()))
            });
            match stored {
                None | Some(Ok(Ok(_))) => {}
                Some(Ok(Err(e))) => return Err(e.into()),
                Some(Err(_)) => {
                    return Err(Error::Runtime(std::io::Error::other(
                        "recording the scan in the history failed",
                    )))
                }
            }
            written?;
        }
        (None, Some(store)) => {
            if let Some(rec) = &rec {
                store.record(rec)?;
            }
            let html = super::history::dashboard(store, Some(&report.scope_key), now, &policy.sla)?;
            match &args.output {
                Some(p) => super::history::write_file(p, &html)?,
                None => super::session::print(&html)?,
            }
        }
        (None, None) => {}
    }
    if let Some(path) = &args.sarif {
        write_report(Format::Sarif, &report, Some(path), false)?;
    }
    ui.debug(&format!("reports: {:.2?}", started.elapsed()));
    if let Some(path) = &args.write_baseline {
        let b = Baseline::record(&report.findings, now, previous.as_ref(), &report.reach);
        b.write(path)?;
        ui.info(&format!(
            "wrote {} findings to the baseline {}",
            b.findings.len(),
            path.display()
        ));
    }
    for n in &report.not_evaluated {
        ui.warn(&format!("not evaluated: {}: {}", n.scope, n.reason));
    }
    for e in &report.stale_exemptions {
        ui.warn(&format!("stale {}", e.message()));
    }
    if args.strict_exemptions && !report.stale_exemptions.is_empty() {
        let list: Vec<String> = report
            .stale_exemptions
            .iter()
            .map(|e| format!("\n  {}", e.message()))
            .collect();
        return Err(usage(format!(
            "--strict-exemptions: {} stale exemption{}:{}",
            list.len(),
            if list.len() == 1 { "" } else { "s" },
            list.concat()
        )));
    }
    Ok(report.exit())
}
