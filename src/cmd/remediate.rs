//! `tokenwarden remediate` and what it shares with the single-token commands
//! (`token_action`): argument checks, scan and plan, the dry run, the
//! guardrails that must hold before anything changes (no snapshot, a working sink, a
//! journal, confirmation), execution, and the exit code (0 all done, 2 refused before any
//! change, 3 any failure).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokenwarden::clock::Clock;
use tokenwarden::cloudflare::{tokens, Client, Credential};
use tokenwarden::exit::Exit;
use tokenwarden::inventory::{Inventory, NotEvaluated};
use tokenwarden::remediate::apply::Executor;
use tokenwarden::remediate::journal::{self, Journal};
use tokenwarden::remediate::plan::{self, Filter, Op, Plan, PlanItem};
use tokenwarden::remediate::render::{self, Document, Mode, Row};
use tokenwarden::remediate::replace;
use tokenwarden::remediate::sink::{self, SecretSink, SinkError};
use tokenwarden::remediate::{ActionOutcome, ActionStatus};
use tokenwarden::scan::{self, ScanRequest};

use super::args::{ApplyArgs, ListFormat, RemediateArgs};
use super::error::{usage, Error};
use super::session::{prepare, scope_of, Session, Stdout, Ui};
use super::signals;

pub(super) type Result<T> = std::result::Result<T, Error>;

pub(super) fn parse_sink(args: &ApplyArgs) -> Result<Option<SecretSink>> {
    Ok(args
        .secret_sink
        .as_deref()
        .map(|spec| SecretSink::parse(spec, Duration::from_secs(args.sink_timeout)))
        .transpose()?)
}

/// Print the plan or outcomes: to stdout, or to stderr when stdout carries secrets.
pub(super) fn emit(
    doc: &Document<'_>,
    format: ListFormat,
    sink: Option<&SecretSink>,
) -> Result<()> {
    let text = match format {
        ListFormat::Json => {
            let mut t = serde_json::to_string_pretty(&render::json(doc)).unwrap_or_default();
            t.push('\n');
            t
        }
        ListFormat::Table => render::table(doc),
    };
    let written = if sink == Some(&SecretSink::Stdout) {
        // stdout carries the secrets: the plan goes to stderr, whatever becomes of it.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        Ok(())
    } else {
        let mut out = Stdout::default();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    written.map_err(|source| Error::Output {
        what: "the plan",
        target: "stdout".into(),
        source,
    })
}

/// Ask on the terminal; anything but "y"/"yes" declines.
pub fn ask(
    input: &mut impl BufRead,
    out: &mut impl Write,
    actions: usize,
) -> std::io::Result<bool> {
    write!(
        out,
        "Apply {actions} action(s) at Cloudflare? Type \"yes\" to go on: "
    )?;
    out.flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Without --yes, only a terminal can confirm: refuse at once rather than wait on a pipe.
fn can_confirm() -> Result<()> {
    if std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(Error::Refused(
            "refusing to --apply without confirmation: stdin is not a terminal, so nobody can answer. Review the plan (run without --apply), then pass --yes".into(),
        ))
    }
}

fn confirm(doc: &Document<'_>, actions: usize) -> Result<bool> {
    let stdin = std::io::stdin();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(render::table(doc).as_bytes());
    // An unreadable answer is no answer: nothing is changed.
    Ok(ask(&mut stdin.lock(), &mut err, actions).unwrap_or(false))
}

/// Everything that must hold before the first change: a replacement that outlives its
/// creation, a working sink for the actions that deliver secrets, and a journal. Returns
/// the journal.
pub(super) fn ready(
    items: &[PlanItem],
    args: &ApplyArgs,
    sink: Option<&SecretSink>,
    clock: Clock,
    max_lifetime_days: f64,
) -> Result<Journal> {
    if let Some(item) = items.iter().find(|i| i.op == Op::Replace) {
        replace::lifetime(max_lifetime_days, clock.now()).map_err(|e| {
            Error::Refused(format!(
                "refusing to replace token {}: {e}; nothing was changed",
                item.token_id
            ))
        })?;
    }
    let needing: Vec<String> = items
        .iter()
        .filter(|i| i.op.needs_sink())
        .map(|i| format!("{} {}", i.op, i.token_id))
        .collect();
    if !needing.is_empty() {
        let Some(sink) = sink else {
            return Err(Error::Refused(format!(
                "the plan hands out new secrets ({}): pass --secret-sink file:DIR, exec:COMMAND or stdout; nothing was changed",
                needing.join(", ")
            )));
        };
        secrets_ready(
            sink,
            &journal::escrow_dir(&args.journal),
            items
                .iter()
                .filter(|i| i.op == Op::Roll)
                .map(|i| i.token_id.as_str()),
        )?;
    }
    Ok(Journal::open(&args.journal, clock)?)
}

/// Before any secret is made: the sink can take it (and no symbolic link waits where a
/// roll's secret file goes), and the escrow beside the journal can keep it (issue 12).
pub(super) fn secrets_ready<'a>(
    sink: &SecretSink,
    escrow_dir: &std::path::Path,
    rolled: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let refused = |what: &str, e: SinkError| {
        Error::Refused(format!("{what} is not usable: {e}; nothing was changed"))
    };
    sink.check().map_err(|e| refused("the secret sink", e))?;
    for id in rolled {
        sink.check_target(id)
            .map_err(|e| refused("the secret sink", e))?;
    }
    sink::check_escrow_dir(escrow_dir).map_err(|e| refused("the escrow directory", e))
}

/// What `--apply` did: an outcome per action started, in order.
pub(super) struct Executed {
    pub outcomes: Vec<ActionOutcome>,
    /// A signal stopped the run; the actions after the outcomes were not started.
    pub interrupted: bool,
}

/// Execute the plan, with SIGINT/SIGTERM handled as `signals` says from here on.
pub(super) fn execute(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    items: &[PlanItem],
    mut journal: Journal,
    sink: Option<&SecretSink>,
    max_lifetime_days: f64,
    ui: Ui,
) -> Result<Executed> {
    let stop = signals::watch(ui).map_err(Error::Runtime)?;
    let clock = journal.clock();
    let exec = Executor {
        client,
        sink,
        escrow_dir: journal.escrow_dir(),
        created_at: clock.now(),
        clock,
        max_lifetime_days,
        stop: stop.clone(),
    };
    let outcomes = rt.block_on(exec.execute(items, &mut journal, |item, o| {
        let what = format!("{} token {}", item.op, item.token_id);
        if o.status.is_failure() {
            ui.error(&format!("{what} {}: {}", o.status.as_str(), o.message));
        } else {
            ui.info(&format!("{what}: {}: {}", o.status.as_str(), o.message));
        }
    }));
    let interrupted = stop.is_requested();
    if interrupted {
        ui.error(&format!(
            "interrupted by a signal: {} of {} action(s) not started; run `tokenwarden recover --journal {}` to finish what was cut short",
            items.len() - outcomes.len(),
            items.len(),
            journal.path().display()
        ));
    }
    Ok(Executed {
        outcomes,
        interrupted,
    })
}

pub(super) fn rows<'a>(
    items: &'a [PlanItem],
    run: usize,
    outcomes: Option<&'a [ActionOutcome]>,
) -> Vec<Row<'a>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let outcome = outcomes.and_then(|o| o.get(i));
            let status = match outcome {
                Some(o) => o.status,
                None if i < run && outcomes.is_none() => ActionStatus::Planned,
                None => ActionStatus::Deferred,
            };
            Row {
                item,
                status,
                outcome,
            }
        })
        .collect()
}

/// `tokenwarden remediate`.
pub fn run(args: &RemediateArgs, session: &Session) -> Result<Exit> {
    let (ui, clock) = (session.ui, session.clock);
    let now = clock.now();
    let opts = &args.apply;
    if opts.apply && args.source.snapshot.is_some() {
        return Err(usage(
            "refusing --apply on a snapshot: remediation acts on live tokens and must plan from a live scan (drop --snapshot; without --apply a snapshot still shows the plan)",
        ));
    }
    let sink = parse_sink(opts)?;
    let prepared = prepare(&args.eval, now)?;
    let (policy, evaluator) = (&prepared.policy, &prepared.evaluator);
    for rule in &args.only_rules {
        if !evaluator.rules().any(|m| &m.id == rule) {
            return Err(usage(format!(
                "--rule {rule}: no such rule; `tokenwarden rules list` shows the ids"
            )));
        }
    }
    for t in &args.only_tokens {
        if !tokens::is_valid_id(t) {
            return Err(usage(format!("--token {t:?} is not a token id")));
        }
    }
    let inv = session.inventory(&args.source, now)?;
    check_tokens_known(&inv, &args.only_tokens)?;
    let report = scan::scan(
        &inv,
        &ScanRequest {
            evaluator,
            policy,
            fail_on: policy.fail_on,
            now,
            scope: scope_of(args.source.scope),
            accounts: &args.source.accounts,
            baseline: None,
            terraform: None,
        },
    );
    for n in &report.not_evaluated {
        ui.warn(&format!("not evaluated: {}: {}", n.scope, n.reason));
    }
    let filter = Filter {
        rules: &args.only_rules,
        tokens: &args.only_tokens,
        include_self: opts.include_self,
    };
    let plan = plan::build(&report.findings, &inv, &filter, now);
    let max_actions = args.max_actions.unwrap_or(policy.remediation.max_actions) as usize;
    let run = plan.items.len().min(max_actions);
    let incomplete = if report.not_evaluated.is_empty() {
        Exit::Ok
    } else {
        Exit::Runtime
    };
    let mut doc = Document {
        mode: Mode::DryRun,
        now,
        max_actions,
        rows: rows(&plan.items, run, None),
        skipped: &plan.skipped,
        not_evaluated: &report.not_evaluated,
        exit_code: incomplete.code(),
        interrupted: false,
    };
    if !opts.apply || run == 0 {
        doc.mode = if opts.apply {
            Mode::Apply
        } else {
            Mode::DryRun
        };
        emit(&doc, opts.format, sink.as_ref())?;
        return Ok(incomplete);
    }
    let items = &plan.items[..run];
    if !opts.include_self && inv.scanner_token_id.is_none() {
        if let Credential::Token(_) = session.credential()? {
            return Err(Error::Refused(
                "cannot tell which token tokenwarden runs with (its verify call failed), so any action might revoke this run's own access; pass --include-self to act anyway. Nothing was changed".into(),
            ));
        }
    }
    if !args.yes {
        can_confirm()?;
    }
    let journal = ready(
        items,
        opts,
        sink.as_ref(),
        clock,
        policy.thresholds.max_lifetime_days,
    )?;
    if !args.yes && !confirm(&doc, run)? {
        ui.say("aborted: nothing was changed");
        return Ok(Exit::Ok);
    }
    let (client, _) = session.client()?;
    let rt = session.runtime()?;
    let executed = execute(
        &rt,
        &client,
        items,
        journal,
        sink.as_ref(),
        policy.thresholds.max_lifetime_days,
        ui,
    )?;
    finish(
        &plan,
        &executed,
        &report.not_evaluated,
        now,
        max_actions,
        opts,
        sink.as_ref(),
    )
}

pub(super) fn finish(
    plan: &Plan,
    executed: &Executed,
    not_evaluated: &[NotEvaluated],
    now: DateTime<Utc>,
    max_actions: usize,
    opts: &ApplyArgs,
    sink: Option<&SecretSink>,
) -> Result<Exit> {
    let outcomes = &executed.outcomes;
    let failed = outcomes.iter().any(|o| o.status.is_failure());
    let code = if failed || executed.interrupted || !not_evaluated.is_empty() {
        Exit::Runtime
    } else {
        Exit::Ok
    };
    let doc = Document {
        mode: Mode::Apply,
        now,
        max_actions,
        rows: rows(&plan.items, outcomes.len(), Some(outcomes)),
        skipped: &plan.skipped,
        not_evaluated,
        exit_code: code.code(),
        interrupted: executed.interrupted,
    };
    emit(&doc, opts.format, sink)?;
    Ok(code)
}

fn check_tokens_known(inv: &Inventory, wanted: &[String]) -> Result<()> {
    for t in wanted {
        let known = inv
            .owners()
            .iter()
            .flat_map(|o| o.tokens.iter())
            .any(|tok| tok.id() == t);
        if !known {
            let hint = if inv.not_evaluated.is_empty() {
                String::new()
            } else {
                format!(" ({} scope(s) could not be read)", inv.not_evaluated.len())
            };
            return Err(usage(format!("--token {t}: not in the inventory{hint}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_yes_confirms() {
        for (answer, expected) in [
            ("yes\n", true),
            ("y\n", true),
            ("YES\n", true),
            ("no\n", false),
            ("\n", false),
            ("", false),
            ("yess\n", false),
        ] {
            let mut out = Vec::new();
            let got = ask(&mut answer.as_bytes(), &mut out, 3).unwrap();
            assert_eq!(got, expected, "{answer:?}");
            assert!(String::from_utf8(out)
                .unwrap()
                .contains("Apply 3 action(s)"));
        }
    }
}
