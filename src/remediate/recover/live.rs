//! Finishing or undoing one unfinished action against the live API (README, "If a
//! rotation job was killed"). Escrowed secrets are tried with the verify endpoint of the
//! token's owner — `/user/tokens/verify` or `/accounts/{id}/tokens/verify` — sending the
//! escrowed secret as the Bearer credential to the configured API base and nowhere else; only
//! a secret that authenticates as that very token is delivered. Every change is journaled
//! as a step of the original action, and the action is closed by a `recovered` entry.
//! The roll and the shared pieces live here; a replace's cases in [`replace`].

mod replace;

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Recovery, State, Unfinished, Verdict};
use crate::cloudflare::{tokens, ApiError, Client, Credential};
use crate::inventory::Owner;
use crate::remediate::apply::{drop_escrow, Executor};
use crate::remediate::journal::{Journal, Step};
use crate::remediate::plan::{self, Op};
use crate::remediate::sink::{self, Delivery};
use crate::remediate::{status, ActionStatus};
use crate::secret::Secret;

/// Recover with the protocols of `exec` (its client, sink, escrow directory, clock and
/// stop); dry run unless `apply`.
#[derive(Debug)]
pub struct Recoverer<'a> {
    pub exec: Executor<'a>,
    pub apply: bool,
}

/// What was decided for one action, before it is wrapped in a [`Recovery`].
struct Act {
    verdict: Verdict,
    message: String,
    delivered_to: Option<String>,
    escrow: Option<PathBuf>,
}

impl Act {
    fn new(verdict: Verdict, message: impl Into<String>) -> Act {
        Act {
            verdict,
            message: message.into(),
            delivered_to: None,
            escrow: None,
        }
    }

    fn failed(message: impl Into<String>) -> Act {
        Act::new(Verdict::Failed, message)
    }
}

/// A secret found in an escrow file, and the file.
type Found = Option<(Secret, PathBuf)>;

impl Recoverer<'_> {
    fn verdict(&self, done: Verdict, would: Verdict) -> Verdict {
        if self.apply {
            done
        } else {
            would
        }
    }

    fn close(&self, message: impl Into<String>) -> Act {
        Act::new(self.verdict(Verdict::Closed, Verdict::WouldClose), message)
    }

    /// Recover each action in order; with `--apply`, `journal` records every step and
    /// closes each action it finished, undid or found nothing to do for. A stop request
    /// (signal) ends the run after the current action.
    pub async fn recover(
        &self,
        actions: &[Unfinished],
        mut journal: Option<&mut Journal>,
    ) -> Vec<Recovery> {
        let mut done = Vec::with_capacity(actions.len());
        for a in actions {
            if self.exec.stop.is_requested() {
                break;
            }
            if let Some(j) = journal.as_deref_mut() {
                j.set_recovers(Some(&a.run));
            }
            let mut act = self.one(a, journal.as_deref_mut()).await;
            if let Some(j) = journal.as_deref_mut() {
                j.set_recovers(None);
                if let Some(outcome) = act.verdict.closes() {
                    if let Err(e) = j.recovered(&a.run, &a.item, outcome, &act.message) {
                        act.message = format!(
                            "{} — but the journal could not record it ({e}), so the next recover looks at it again",
                            act.message
                        );
                        act.verdict = Verdict::Failed;
                    }
                }
            }
            done.push(Recovery {
                action: a.clone(),
                verdict: act.verdict,
                message: act.message,
                delivered_to: act.delivered_to,
                escrow: act.escrow,
            });
        }
        done
    }

    async fn one(&self, a: &Unfinished, journal: Option<&mut Journal>) -> Act {
        let item = &a.item;
        match (item.op, &a.state) {
            (_, State::NotStarted) => {
                self.close("no change had been sent to Cloudflare; nothing to finish")
            }
            (_, State::StatusUnknown) => {
                match tokens::get(self.exec.client, &item.owner, &item.token_id).await {
                    Ok(t) => self.close(format!(
                        "the {} was cut short; token {} is {} now (the next remediate run decides again)",
                        item.op,
                        item.token_id,
                        t.get("status").and_then(Value::as_str).unwrap_or("of unknown status")
                    )),
                    Err(e) if tokens::is_not_found(&e) => {
                        self.close(format!("token {} no longer exists", item.token_id))
                    }
                    Err(e) => Act::failed(format!("cannot read token {} ({e})", item.token_id)),
                }
            }
            (Op::Roll, State::RollDelivered) => {
                let what = "the new secret was delivered before the run stopped";
                if self.apply {
                    let notes = self.drop_escrows(&a.escrows);
                    Act::new(
                        Verdict::Finished,
                        format!("{what}; leftover escrow removed{notes}"),
                    )
                } else {
                    Act::new(
                        Verdict::WouldFinish,
                        format!("{what}; would remove any leftover escrow"),
                    )
                }
            }
            (Op::Roll, State::RollSent | State::Rolled { .. }) => self.roll(a, journal).await,
            (Op::Replace, State::CreateSent { name, existing }) => {
                self.settle_create(a, name, existing, journal).await
            }
            (
                Op::Replace,
                State::Created {
                    new_token_id,
                    new_token_name,
                    ..
                },
            ) => {
                self.settle_created(a, new_token_id, new_token_name, journal)
                    .await
            }
            (Op::Replace, State::ReplaceDelivered { new_token_id, .. }) => {
                self.disable_old(a, new_token_id, None).await
            }
            (op, state) => Act::failed(format!(
                "the journal's steps ({}) do not fit a {op}; check token {} by hand",
                state.describe(),
                item.token_id
            )),
        }
    }

    /// Whether `secret` authenticates as token `token_id` of `owner`: the owner's verify
    /// endpoint, at the configured API base, with `secret` as the Bearer credential.
    async fn authenticates(
        &self,
        owner: &Owner,
        token_id: &str,
        secret: &Secret,
    ) -> Result<bool, ApiError> {
        let client = self.exec.client;
        let Ok(as_secret) = Client::with_options(
            client.base().clone(),
            &Credential::Token(secret.clone()),
            client.options().clone(),
        ) else {
            return Ok(false); // not even a valid header: no working secret
        };
        match tokens::verify(&as_secret, owner).await {
            Ok(id) => Ok(id.as_deref() == Some(token_id)),
            Err(e) if e.kind.is_forbidden() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The escrowed secret that authenticates as `token_id`, among the action's escrow
    /// files and any other escrow file of that token beside the journal (a run killed
    /// between writing the escrow and journaling it leaves one unnamed).
    async fn working_secret(&self, a: &Unfinished, token_id: &str) -> Result<Found, ApiError> {
        let mut candidates: Vec<PathBuf> = a.escrows.clone();
        let prefix = sink::escrow_prefix(token_id);
        if let Ok(dir) = std::fs::read_dir(&self.exec.escrow_dir) {
            let mut more: Vec<PathBuf> = dir
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .filter(|p| !candidates.contains(p))
                .collect();
            more.sort();
            candidates.extend(more);
        }
        for path in candidates {
            let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
            let Some(text) = regular
                .then(|| std::fs::read_to_string(&path).ok())
                .flatten()
            else {
                continue;
            };
            let secret = Secret::new(text);
            if secret.is_empty() {
                continue;
            }
            if self.authenticates(&a.item.owner, token_id, &secret).await? {
                return Ok(Some((secret, path)));
            }
        }
        Ok(None)
    }

    /// Remove escrow files whose secret is delivered or worthless; a note on failures.
    fn drop_escrows(&self, paths: &[PathBuf]) -> String {
        let mut notes = Vec::new();
        for p in paths.iter().filter(|p| p.exists()) {
            drop_escrow(p, &mut notes);
        }
        if notes.is_empty() {
            String::new()
        } else {
            format!("; {}", notes.join("; "))
        }
    }

    /// [`Self::drop_escrows`] with `--apply`; nothing in a dry run.
    fn drop_if_applying(&self, paths: &[PathBuf]) -> String {
        if self.apply {
            self.drop_escrows(paths)
        } else {
            String::new()
        }
    }

    /// Deliver an escrowed secret of `delivery.token_id`, journal it, and remove the escrow
    /// files of the action.
    fn deliver(
        &self,
        a: &Unfinished,
        journal: &mut Journal,
        delivery: &Delivery<'_>,
        found: (&Secret, &Path),
    ) -> Result<(String, String), Act> {
        let Some(sink) = self.exec.sink else {
            return Err(Act::failed(
                "delivering needs --secret-sink; nothing was changed",
            ));
        };
        let (secret, path) = found;
        let to = sink.deliver(delivery, secret).map_err(|e| {
            let mut act = Act::failed(format!(
                "the escrowed secret still works but delivery failed ({e}); it stays in {}",
                path.display()
            ));
            act.escrow = Some(path.to_path_buf());
            act
        })?;
        let mut notes = Vec::new();
        crate::remediate::apply::note_step(
            journal,
            &a.item,
            Step::Delivered {
                secret_of: delivery.token_id,
                delivered_to: &to,
            },
            &mut notes,
        );
        let mut all = a.escrows.clone();
        all.push(path.to_path_buf());
        let dropped = self.drop_escrows(&all);
        let mut noted = notes.join("; ");
        if !noted.is_empty() {
            noted.insert_str(0, "; ");
        }
        Ok((to, format!("{noted}{dropped}")))
    }

    async fn roll(&self, a: &Unfinished, journal: Option<&mut Journal>) -> Act {
        let (owner, id) = (&a.item.owner, a.item.token_id.as_str());
        let token = match tokens::get(self.exec.client, owner, id).await {
            Ok(t) => t,
            Err(e) if tokens::is_not_found(&e) => {
                let notes = self.drop_if_applying(&a.escrows);
                return self.close(format!(
                    "token {id} no longer exists: its escrowed secrets are worthless (removed){notes}"
                ));
            }
            Err(e) => return Act::failed(format!("cannot read token {id} ({e})")),
        };
        let found = match self.working_secret(a, id).await {
            Ok(f) => f,
            Err(e) => return Act::failed(format!("cannot verify the escrowed secret ({e})")),
        };
        if let Some((secret, path)) = found {
            let Some(journal) = journal.filter(|_| self.apply) else {
                return Act::new(Verdict::WouldFinish, format!("the escrowed secret in {} still authenticates as token {id}: would deliver it and remove the escrow", path.display()));
            };
            let name = a.item.token_name.clone().unwrap_or_default();
            let delivery = Delivery {
                token_id: id,
                token_name: &name,
                owner,
                op: Op::Roll,
                replaces: None,
            };
            return match self.deliver(a, journal, &delivery, (&secret, &path)) {
                Ok((to, notes)) => Act {
                    delivered_to: Some(to.clone()),
                    ..Act::new(
                        Verdict::Finished,
                        format!("the escrowed secret still authenticates as token {id}: delivered to {to}, escrow removed{notes}"),
                    )
                },
                Err(act) => act,
            };
        }
        let never_rolled = a.state == State::RollSent
            && status::changed_since_scan(&a.item.scanned, &token).is_none();
        if never_rolled {
            return self.close(format!(
                "the roll never happened (token {id} is as it was before): the old secret still works"
            ));
        }
        if let Some(guard) = plan::guard(Op::Roll, &token, false, true, self.exec.clock.now()) {
            let notes = self.drop_if_applying(&a.escrows);
            return self.close(format!(
                "no secret to deliver: {guard}; escrowed secrets of token {id} are worthless (removed){notes}"
            ));
        }
        let (Some(journal), Some(sink)) = (journal.filter(|_| self.apply), self.exec.sink) else {
            return Act::new(Verdict::WouldFinish, format!("no escrowed secret authenticates as token {id}, so nobody holds its secret: would roll it again and deliver the new one"));
        };
        let outcome = self.exec.roll(&a.item, sink, token, journal).await;
        if outcome.status == ActionStatus::Succeeded {
            let notes = self.drop_escrows(&a.escrows);
            Act {
                delivered_to: outcome.delivered_to,
                ..Act::new(
                    Verdict::Finished,
                    format!(
                        "nobody held the secret of token {id}; {}{notes}",
                        outcome.message
                    ),
                )
            }
        } else {
            Act {
                escrow: outcome.escrow,
                ..Act::failed(outcome.message)
            }
        }
    }
}
