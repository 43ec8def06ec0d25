//! Executing a plan (docs/architecture.md §8): the driver that journals each action before and after it
//! runs, and the roll protocol. Disable/enable live in `status`, replace in `replace`.
//!
//! **Roll** never loses the secret: a roll whose answer was lost (timeout, reset, 5xx, a
//! cut body) may have happened, so the old secret may be dead — roll again and deliver only
//! the last secret. The new secret is **escrowed before delivery** (write-ahead, issue 12):
//! the journal says `rolling` before the roll is sent, the secret goes to an escrow file
//! beside the journal (fsynced) the moment the answer arrives, the journal says `rolled`,
//! and only then is it delivered; the escrow file is removed once delivery is confirmed
//! (`delivered`). A process killed anywhere in between leaves a journal that shows how far
//! it got and, from the answer on, the secret on disk: `tokenwarden recover` finishes it.
//!
//! A [`Stop`] (SIGINT/SIGTERM) lets the current action finish its critical step — a roll or
//! create already sent is answered, escrowed and its delivery attempted — and starts
//! nothing further.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::journal::{Journal, Step};
use super::sink::{self, Delivery, SecretSink, SinkError};
use super::{status, ActionOutcome, ActionStatus, Op, PlanItem, Stop};
use crate::clock::Clock;
use crate::cloudflare::{tokens, Client};
use crate::secret::Secret;

/// Rolls sent for one action before giving up when every answer is lost.
pub const MAX_ROLL_ATTEMPTS: usize = 3;

/// Everything an action needs besides its plan item.
#[derive(Debug)]
pub struct Executor<'a> {
    pub client: &'a Client,
    /// Required for roll and replace (checked before the run starts).
    pub sink: Option<&'a SecretSink>,
    /// Where new secrets are escrowed until delivered (the journal's directory).
    pub escrow_dir: PathBuf,
    /// When replacements are created: their expiry counts from here.
    pub created_at: DateTime<Utc>,
    /// Stamps escrow files.
    pub clock: Clock,
    pub max_lifetime_days: f64,
    /// Set by a signal: finish the critical step, start nothing new.
    pub stop: Stop,
}

/// The outcome of an action a stop request kept from changing anything.
pub(super) fn interrupted_before_change(fresh: Option<Value>) -> ActionOutcome {
    ActionOutcome::failed("interrupted by a signal before any change; nothing was changed")
        .with_before(fresh)
}

/// Journal a step; a step that cannot be journaled after the change is noted in the
/// outcome's message rather than abandoning a secret already in hand.
pub(super) fn note_step(
    journal: &mut Journal,
    item: &PlanItem,
    step: Step<'_>,
    notes: &mut Vec<String>,
) {
    if let Err(e) = journal.step(item, step) {
        notes.push(format!("the journal could not record a step ({e})"));
    }
}

/// The escrow just written, or why it could not be.
pub(super) type Escrowed = Result<PathBuf, SinkError>;

impl Executor<'_> {
    /// Run every item in order, journaling each before and after; a failure is recorded and
    /// the run goes on. A stop request ends the run after the current action: the journal
    /// says `interrupted`, and the items not started get no outcome. `progress` sees each
    /// outcome as it is known.
    pub async fn execute(
        &self,
        items: &[PlanItem],
        journal: &mut Journal,
        mut progress: impl FnMut(&PlanItem, &ActionOutcome),
    ) -> Vec<ActionOutcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            if self.stop.is_requested() {
                break;
            }
            let mut outcome = match journal.start(item) {
                Err(e) => ActionOutcome::failed(format!(
                    "not started: cannot write the journal ({e}); nothing was changed"
                )),
                Ok(()) => self.run(item, journal).await,
            };
            if let Err(e) = journal.end(item, &outcome) {
                outcome.message = format!(
                    "{} — and the journal entry could not be written ({e})",
                    outcome.message
                );
                outcome.status = ActionStatus::Failed;
            }
            progress(item, &outcome);
            outcomes.push(outcome);
        }
        if self.stop.is_requested() {
            let not_started: Vec<&PlanItem> = items[outcomes.len()..].iter().collect();
            // The run exits 3 anyway; a journal that cannot take this entry has already
            // failed loudly on the action's own entries.
            let _ = journal.interrupted(&not_started);
        }
        outcomes
    }

    /// One action.
    pub async fn run(&self, item: &PlanItem, journal: &mut Journal) -> ActionOutcome {
        if self.stop.is_requested() {
            return interrupted_before_change(None);
        }
        match item.op {
            Op::Disable | Op::Enable => {
                let target = if item.op == Op::Disable {
                    "disabled"
                } else {
                    "active"
                };
                status::set_status(
                    self.client,
                    &item.owner,
                    &item.token_id,
                    &item.scanned,
                    target,
                )
                .await
            }
            Op::Roll | Op::Replace => {
                let Some(sink) = self.sink else {
                    return ActionOutcome::failed(
                        "a --secret-sink is required; nothing was changed",
                    );
                };
                let fresh =
                    match status::fresh(self.client, &item.owner, &item.token_id, &item.scanned)
                        .await
                    {
                        Ok(t) => t,
                        Err(outcome) => return outcome,
                    };
                if self.stop.is_requested() {
                    return interrupted_before_change(Some(fresh));
                }
                if item.op == Op::Roll {
                    self.roll(item, sink, fresh, journal).await
                } else {
                    self.replace(item, sink, fresh, journal).await
                }
            }
        }
    }

    /// Write `secret` to a new escrow file at once: from here on it survives the process.
    pub(super) fn escrow_now(&self, token_id: &str, secret: &Secret) -> Escrowed {
        sink::escrow(&self.escrow_dir, token_id, secret, self.clock.now())
    }

    /// The outcome when a secret could not be delivered: where it is kept, or that it is
    /// lost. Either way the action is unfinished.
    pub(super) fn kept_or_lost(token_id: &str, escrowed: &Escrowed, what: &str) -> ActionOutcome {
        match escrowed {
            Ok(path) => {
                let mut o = ActionOutcome::failed(format!(
                    "{what}. The secret of token {token_id} is in the escrow file {} (mode 0600): `tokenwarden recover --apply` delivers it, or hand it to the token's consumers, then delete the file",
                    path.display()
                ));
                o.escrow = Some(path.clone());
                o.unfinished()
            }
            Err(e) => ActionOutcome::failed(format!(
                "{what}. Writing the escrow file failed too ({e}): the secret of token {token_id} is LOST; roll the token again with a working sink (`tokenwarden recover --apply` does)"
            ))
            .unfinished(),
        }
    }

    pub(super) async fn roll(
        &self,
        item: &PlanItem,
        sink: &SecretSink,
        fresh: Value,
        journal: &mut Journal,
    ) -> ActionOutcome {
        let (owner, id) = (&item.owner, item.token_id.as_str());
        let mut lost: Vec<String> = Vec::new();
        let secret = loop {
            if lost.len() >= MAX_ROLL_ATTEMPTS {
                return ActionOutcome::failed(format!(
                    "SECRET UNKNOWN: token {id} was rolled {} times and every answer was lost ({}): its secret has probably changed and nobody holds it, so consumers of the old secret may fail; roll it again (`tokenwarden recover --apply` does)",
                    lost.len(),
                    lost.join("; ")
                ))
                .with_before(Some(fresh))
                .unfinished();
            }
            if !lost.is_empty() && self.stop.is_requested() {
                return ActionOutcome::failed(format!(
                    "SECRET UNKNOWN: the answer to a roll of token {id} was lost ({}) and a signal stopped the run before it rolled again: the old secret may be dead; `tokenwarden recover --apply` rolls it again",
                    lost.join("; ")
                ))
                .with_before(Some(fresh))
                .unfinished();
            }
            // Write-ahead: the journal knows a roll may happen before it is sent.
            if let Err(e) = journal.step(
                item,
                Step::Rolling {
                    attempt: lost.len() + 1,
                },
            ) {
                let o = if lost.is_empty() {
                    ActionOutcome::failed(format!(
                        "not rolled: cannot write the journal ({e}); nothing was changed"
                    ))
                } else {
                    ActionOutcome::failed(format!(
                        "SECRET UNKNOWN: the answer to a roll of token {id} was lost ({}) and the journal cannot be written ({e}), so it was not rolled again; roll it again",
                        lost.join("; ")
                    ))
                    .unfinished()
                };
                return o.with_before(Some(fresh));
            }
            match tokens::roll(self.client, owner, id).await {
                Ok(s) => break s,
                Err(e) if tokens::answer_lost(&e) => lost.push(e.to_string()),
                Err(e) if lost.is_empty() => {
                    return ActionOutcome::failed(format!(
                        "Cloudflare refused to roll token {id} ({e}); nothing was changed, the old secret still works"
                    ))
                    .with_before(Some(fresh))
                }
                Err(e) => {
                    return ActionOutcome::failed(format!(
                        "SECRET UNKNOWN: the answer to an earlier roll of token {id} was lost ({}), so the old secret may be dead, and rolling again was refused ({e}); roll it again",
                        lost.join("; ")
                    ))
                    .with_before(Some(fresh))
                    .unfinished()
                }
            }
        };
        // The secret exists only in memory: make it durable before anything else.
        let escrowed = self.escrow_now(id, &secret);
        let mut notes = Vec::new();
        let escrow_error = escrowed.as_ref().err().map(ToString::to_string);
        note_step(
            journal,
            item,
            Step::Rolled {
                escrow: escrowed.as_ref().ok().map(PathBuf::as_path),
                escrow_error: escrow_error.as_deref(),
            },
            &mut notes,
        );
        let mut note = if lost.is_empty() {
            String::new()
        } else {
            format!(
                " (rolled again after {} roll(s) whose answer was lost: {}; only the last secret works, and it is the one handled here)",
                lost.len(),
                lost.join("; ")
            )
        };
        let name = item.token_name.clone().unwrap_or_default();
        let delivery = Delivery {
            token_id: id,
            token_name: &name,
            owner,
            op: Op::Roll,
            replaces: None,
        };
        let delivered = deliver_escrowed(
            item, journal, sink, &delivery, &secret, &escrowed, &mut notes,
        );
        if !notes.is_empty() {
            note.push_str(&format!("; {}", notes.join("; ")));
        }
        let mut outcome = match delivered {
            Ok(to) => {
                let mut o = ActionOutcome::new(
                    ActionStatus::Succeeded,
                    format!("rolled; the new secret was delivered to {to}{note}"),
                );
                o.delivered_to = Some(to);
                // An escrow that could not be removed still holds the working secret.
                o.unfinished = escrow_left(&escrowed);
                o
            }
            Err(e) => Self::kept_or_lost(
                id,
                &escrowed,
                &format!("ROLLED BUT NOT DELIVERED: {e}; the old secret no longer works{note}"),
            ),
        };
        outcome.before = Some(fresh);
        outcome.after = tokens::get(self.client, owner, id).await.ok();
        outcome
    }
}

/// Whether an escrow file is still on disk after it should have been removed.
pub(super) fn escrow_left(escrowed: &Escrowed) -> bool {
    escrowed.as_ref().is_ok_and(|p| p.exists())
}

/// Remove an escrow file whose secret is delivered (or dead); a failure is noted.
pub(super) fn drop_escrow(path: &Path, notes: &mut Vec<String>) {
    if let Err(e) = sink::remove_escrow(path) {
        notes.push(format!(
            "the escrow file {} could not be removed ({e}): delete it",
            path.display()
        ));
    }
}

/// Deliver a secret already escrowed; on success journal `delivered` and remove the
/// escrow. `Err` carries the sink's failure (the escrow is kept).
pub(super) fn deliver_escrowed(
    item: &PlanItem,
    journal: &mut Journal,
    sink: &SecretSink,
    delivery: &Delivery<'_>,
    secret: &Secret,
    escrowed: &Escrowed,
    notes: &mut Vec<String>,
) -> Result<String, SinkError> {
    let to = sink.deliver(delivery, secret)?;
    note_step(
        journal,
        item,
        Step::Delivered {
            secret_of: delivery.token_id,
            delivered_to: &to,
        },
        notes,
    );
    if let Ok(path) = escrowed {
        drop_escrow(path, notes);
    }
    Ok(to)
}
