//! `tokenwarden scan`: collect (or read a snapshot), scan, write the report(s) and the
//! baseline, and exit with the scan's verdict.

use std::io::{BufWriter, Write};
use std::path::Path;

use tokenwarden::baseline::Baseline;
use tokenwarden::exit::Exit;
use tokenwarden::finding::FailOn;
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

fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Sarif => Format::Sarif,
        FormatArg::Markdown => Format::Markdown,
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
    let mut report = scan::scan(
        &inv,
        &ScanRequest {
            evaluator,
            policy,
            fail_on,
            now,
            scope: scope_of(args.source.scope),
            accounts: &args.source.accounts,
            baseline: previous.as_ref().map(|b| (b, baseline_name.as_str())),
            terraform: sources.as_ref(),
        },
    );
    if let Some(sources) = &sources {
        terraform::annotate(&mut report, sources);
    }
    ui.debug(&format!(
        "evaluation ({}): {} findings in {:.2?}",
        evaluator.backend().as_str(),
        report.findings.len(),
        started.elapsed()
    ));
    let started = std::time::Instant::now();
    write_report(
        format_of(args.format),
        &report,
        args.output.as_deref(),
        ui.color,
    )?;
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
