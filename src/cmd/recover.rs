//! `tokenwarden recover [--journal FILE] [--secret-sink SPEC] [--apply]` (issue 12): read
//! the journal, find every action an earlier run left unfinished, and finish or undo it
//! against the live API (`tokenwarden::remediate::recover`). Dry run unless `--apply`; the
//! same guardrails as `remediate` before the first change (a working sink and escrow when a
//! secret may be delivered), the same signal handling while it changes things. Prints what
//! it did (or would do) per action; exit 0 when nothing is left unfinished, 3 when
//! something could not be finished, 2 when it refused before any change.

use std::io::Write;
use std::time::Duration;

use tokenwarden::exit::Exit;
use tokenwarden::remediate::apply::Executor;
use tokenwarden::remediate::journal::{self, Journal};
use tokenwarden::remediate::recover::{self, live::Recoverer, State, Verdict};
use tokenwarden::remediate::replace::MIN_LIFETIME_DAYS;
use tokenwarden::remediate::sink::SecretSink;
use tokenwarden::remediate::Stop;

use super::args::{ListFormat, RecoverArgs};
use super::error::Error;
use super::remediate::{secrets_ready, Result};
use super::session::{self, Session};
use super::signals;

/// `tokenwarden recover`.
pub fn run(args: &RecoverArgs, session: &Session) -> Result<Exit> {
    let (ui, clock) = (session.ui, session.clock);
    let sink = args
        .secret_sink
        .as_deref()
        .map(|spec| SecretSink::parse(spec, Duration::from_secs(args.sink_timeout)))
        .transpose()?;
    let (entries, torn) = journal::read(&args.journal)?;
    if torn > 0 {
        ui.warn(&format!(
            "{torn} line(s) of {} are not journal entries (cut off by a crash?) and were skipped",
            args.journal.display()
        ));
    }
    let escrow_dir = journal::escrow_dir(&args.journal);
    let recover::Leftovers {
        actions,
        unreadable,
    } = recover::leftovers(&entries, &escrow_dir);
    for u in &unreadable {
        ui.error(u);
    }
    // An action recover cannot read is not finished: never exit 0 over it.
    let unreadable_exit = if unreadable.is_empty() {
        Exit::Ok
    } else {
        Exit::Runtime
    };
    if actions.is_empty() {
        emit(args, sink.as_ref(), &[], unreadable_exit)?;
        return Ok(unreadable_exit);
    }
    let (client, _) = session.client()?;
    let rt = session.runtime()?;
    let mut journal = None;
    let mut stop = Stop::default();
    if args.apply {
        if actions.iter().any(|a| a.state.may_deliver()) {
            let Some(sink) = &sink else {
                return Err(Error::Refused(format!(
                    "{} unfinished action(s) may need a secret delivered: pass --secret-sink file:DIR, exec:COMMAND or stdout; nothing was changed",
                    actions.iter().filter(|a| a.state.may_deliver()).count()
                )));
            };
            let rolled = actions
                .iter()
                .filter(|a| matches!(a.state, State::RollSent | State::Rolled { .. }));
            secrets_ready(sink, &escrow_dir, rolled.map(|a| a.item.token_id.as_str()))?;
        }
        journal = Some(Journal::open(&args.journal, clock)?);
        stop = signals::watch(ui).map_err(Error::Runtime)?;
    }
    let recoverer = Recoverer {
        exec: Executor {
            client: &client,
            sink: sink.as_ref(),
            escrow_dir,
            created_at: clock.now(),
            clock,
            // Recover never creates a token; replacements keep the expiry they were given.
            max_lifetime_days: MIN_LIFETIME_DAYS,
            stop: stop.clone(),
        },
        apply: args.apply,
    };
    let recoveries = rt.block_on(recoverer.recover(&actions, journal.as_mut()));
    for r in &recoveries {
        let what = format!("{} token {}", r.action.item.op, r.action.item.token_id);
        if r.verdict == Verdict::Failed {
            ui.error(&format!("recover {what}: {}", r.message));
        } else {
            ui.info(&format!(
                "recover {what}: {}: {}",
                r.verdict.as_str(),
                r.message
            ));
        }
    }
    let interrupted = recoveries.len() < actions.len();
    if interrupted {
        ui.error(&format!(
            "interrupted by a signal: {} unfinished action(s) not looked at; run recover again",
            actions.len() - recoveries.len()
        ));
    }
    let failed = recoveries.iter().any(|r| r.verdict == Verdict::Failed);
    let code = if failed || interrupted {
        Exit::Runtime
    } else {
        unreadable_exit
    };
    emit(args, sink.as_ref(), &recoveries, code)?;
    Ok(code)
}

/// The recoveries on stdout, or on stderr when stdout carries secrets.
fn emit(
    args: &RecoverArgs,
    sink: Option<&SecretSink>,
    recoveries: &[recover::Recovery],
    code: Exit,
) -> Result<()> {
    let text = match args.format {
        ListFormat::Json => {
            let doc = recover::json(recoveries, args.apply, code.code());
            let mut t = serde_json::to_string_pretty(&doc).unwrap_or_default();
            t.push('\n');
            t
        }
        ListFormat::Table => recover::table(recoveries, args.apply),
    };
    if sink == Some(&SecretSink::Stdout) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        return Ok(());
    }
    session::print(&text)
}
