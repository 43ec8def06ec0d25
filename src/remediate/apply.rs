//! Executing a plan (docs/architecture.md §8): the driver that journals each action before and after it
//! runs, and the roll protocol. Disable/enable live in `status`, replace in `replace`.
//!
//! **Roll** never loses the secret: a roll whose answer was lost (timeout, reset, 5xx, a
//! cut body) may have happened, so the old secret may be dead — roll again and deliver only
//! the last secret. If delivery fails, the secret goes to an escrow file beside the journal
//! and the action fails loudly with its path.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::journal::Journal;
use super::sink::{self, Delivery, SecretSink};
use super::{status, ActionOutcome, ActionStatus, Op, PlanItem};
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
    /// Where undeliverable secrets are kept (the journal's directory).
    pub escrow_dir: PathBuf,
    /// When replacements are created: their expiry counts from here.
    pub created_at: DateTime<Utc>,
    /// Stamps escrow files.
    pub clock: Clock,
    pub max_lifetime_days: f64,
}

impl Executor<'_> {
    /// Run every item in order, journaling each before and after; a failure is recorded and
    /// the run goes on. `progress` sees each outcome as it is known.
    pub async fn execute(
        &self,
        items: &[PlanItem],
        journal: &mut Journal,
        mut progress: impl FnMut(&PlanItem, &ActionOutcome),
    ) -> Vec<ActionOutcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let mut outcome = match journal.start(item) {
                Err(e) => ActionOutcome::failed(format!(
                    "not started: cannot write the journal ({e}); nothing was changed"
                )),
                Ok(()) => self.run(item).await,
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
        outcomes
    }

    /// One action.
    pub async fn run(&self, item: &PlanItem) -> ActionOutcome {
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
                if item.op == Op::Roll {
                    self.roll(item, sink, fresh).await
                } else {
                    self.replace(item, sink, fresh).await
                }
            }
        }
    }

    pub(super) fn escrow_or_lost(
        &self,
        token_id: &str,
        secret: &Secret,
        what: &str,
    ) -> ActionOutcome {
        match sink::escrow(&self.escrow_dir, token_id, secret, self.clock.now()) {
            Ok(path) => {
                let mut o = ActionOutcome::failed(format!(
                    "{what}. The secret of token {token_id} is in the escrow file {} (mode 0600): hand it to the token's consumers, then delete the file",
                    path.display()
                ));
                o.escrow = Some(path);
                o
            }
            Err(e) => ActionOutcome::failed(format!(
                "{what}. Writing the escrow file failed too ({e}): the secret of token {token_id} is LOST; roll the token again with a working sink"
            )),
        }
    }

    async fn roll(&self, item: &PlanItem, sink: &SecretSink, fresh: Value) -> ActionOutcome {
        let (owner, id) = (&item.owner, item.token_id.as_str());
        let mut lost: Vec<String> = Vec::new();
        let secret = loop {
            if lost.len() >= MAX_ROLL_ATTEMPTS {
                return ActionOutcome::failed(format!(
                    "SECRET UNKNOWN: token {id} was rolled {} times and every answer was lost ({}): its secret has probably changed and nobody holds it, so consumers of the old secret may fail; roll it again (`tokenwarden roll {id} --apply`)",
                    lost.len(),
                    lost.join("; ")
                ))
                .with_before(Some(fresh));
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
                }
            }
        };
        let note = if lost.is_empty() {
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
        let mut outcome = match sink.deliver(&delivery, &secret) {
            Ok(to) => {
                let mut o = ActionOutcome::new(
                    ActionStatus::Succeeded,
                    format!("rolled; the new secret was delivered to {to}{note}"),
                );
                o.delivered_to = Some(to);
                o
            }
            Err(e) => self.escrow_or_lost(
                id,
                &secret,
                &format!("ROLLED BUT NOT DELIVERED: {e}; the old secret no longer works{note}"),
            ),
        };
        outcome.before = Some(fresh);
        outcome.after = tokens::get(self.client, owner, id).await.ok();
        outcome
    }
}
