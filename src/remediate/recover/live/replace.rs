//! Recovering a replace (README, "If a rotation job was killed"): an orphan nobody holds
//! the secret of is deleted; a replacement whose escrowed secret still works is delivered
//! and the old token disabled; one whose secret is lost is deleted, so the old token stays
//! the one active token of the pair.

use std::path::Path;

use super::{Act, Recoverer};
use crate::cloudflare::tokens;
use crate::remediate::journal::Journal;
use crate::remediate::plan::{self, Op};
use crate::remediate::recover::{Unfinished, Verdict};
use crate::remediate::replace::named;
use crate::remediate::sink::Delivery;
use crate::remediate::{status, ActionStatus};
use crate::secret::Secret;

impl Recoverer<'_> {
    /// A replacement was asked for and no answer was journaled.
    pub(super) async fn settle_create(
        &self,
        a: &Unfinished,
        name: &str,
        existing: &[String],
        journal: Option<&mut Journal>,
    ) -> Act {
        let (owner, old) = (&a.item.owner, a.item.token_id.as_str());
        let listed = match tokens::list(self.exec.client, owner).await {
            Ok(l) => l,
            Err(e) => {
                return Act::failed(format!("cannot list the tokens of {} ({e})", owner.label()))
            }
        };
        let orphans: Vec<String> = named(&listed, name)
            .into_iter()
            .filter(|id| !existing.contains(id))
            .collect();
        if orphans.is_empty() {
            return self.close(format!(
                "no replacement was created; token {old} is untouched"
            ));
        }
        for orphan in &orphans {
            match self.working_secret(a, orphan).await {
                Ok(Some((secret, path))) => {
                    return self
                        .complete(a, orphan, name, (&secret, &path), journal)
                        .await
                }
                Ok(None) => {}
                Err(e) => return Act::failed(format!("cannot verify the escrowed secret ({e})")),
            }
        }
        if !self.apply {
            return Act::new(Verdict::WouldUndo, format!("token(s) {} were created but nobody holds their secret: would delete them; token {old} stays as it is", orphans.join(", ")));
        }
        let mut left = Vec::new();
        for id in &orphans {
            if let Err(e) = self.exec.delete_confirmed(owner, id).await {
                left.push(format!("{id} ({e})"));
            }
        }
        if left.is_empty() {
            Act::new(
                Verdict::Undone,
                format!(
                    "deleted {} (created, but nobody held the secret); token {old} is untouched",
                    orphans.join(", ")
                ),
            )
        } else {
            Act::failed(format!(
                "could not delete {}: delete them by hand",
                left.join(", ")
            ))
        }
    }

    /// The replacement exists and its secret was not delivered.
    pub(super) async fn settle_created(
        &self,
        a: &Unfinished,
        new_id: &str,
        new_name: &str,
        journal: Option<&mut Journal>,
    ) -> Act {
        let (owner, old) = (&a.item.owner, a.item.token_id.as_str());
        match tokens::get(self.exec.client, owner, new_id).await {
            Ok(_) => {}
            Err(e) if tokens::is_not_found(&e) => {
                let notes = self.drop_if_applying(&a.escrows);
                return Act::new(
                    self.verdict(Verdict::Undone, Verdict::WouldUndo),
                    format!("the replacement {new_id} no longer exists; token {old} is untouched{notes}"),
                );
            }
            Err(e) => return Act::failed(format!("cannot read the replacement {new_id} ({e})")),
        }
        match self.working_secret(a, new_id).await {
            Err(e) => Act::failed(format!("cannot verify the escrowed secret ({e})")),
            Ok(Some((secret, path))) => {
                self.complete(a, new_id, new_name, (&secret, &path), journal)
                    .await
            }
            Ok(None) if !self.apply => Act::new(Verdict::WouldUndo, format!("no escrowed secret authenticates as the replacement {new_id}: would delete it; token {old} stays active")),
            Ok(None) => match self.exec.delete_confirmed(owner, new_id).await {
                Ok(()) => {
                    let notes = self.drop_escrows(&a.escrows);
                    Act::new(Verdict::Undone, format!("nobody held the secret of the replacement {new_id}: deleted it; token {old} is untouched and stays active{notes}"))
                }
                Err(e) => Act::failed(format!(
                    "nobody holds the secret of the replacement {new_id} and deleting it failed ({e}): delete it by hand"
                )),
            },
        }
    }

    /// Deliver the replacement's escrowed secret, then disable the old token.
    async fn complete(
        &self,
        a: &Unfinished,
        new_id: &str,
        new_name: &str,
        found: (&Secret, &Path),
        journal: Option<&mut Journal>,
    ) -> Act {
        let old = a.item.token_id.as_str();
        let Some(journal) = journal.filter(|_| self.apply) else {
            return Act::new(Verdict::WouldFinish, format!("the escrowed secret of the replacement {new_id} still authenticates: would deliver it, remove the escrow, then disable token {old}"));
        };
        let delivery = Delivery {
            token_id: new_id,
            token_name: new_name,
            owner: &a.item.owner,
            op: Op::Replace,
            replaces: Some(old),
        };
        match self.deliver(a, journal, &delivery, found) {
            Ok((to, notes)) => {
                let mut act = self.disable_old(a, new_id, Some(&to)).await;
                act.message.push_str(&notes);
                act
            }
            Err(act) => act,
        }
    }

    /// The replacement's secret is in the sink: disable the old token, so exactly one of
    /// the pair stays active.
    pub(super) async fn disable_old(
        &self,
        a: &Unfinished,
        new_id: &str,
        delivered_to: Option<&str>,
    ) -> Act {
        let (owner, old) = (&a.item.owner, a.item.token_id.as_str());
        let now = self.exec.clock.now();
        let usable = match tokens::get(self.exec.client, owner, new_id).await {
            Ok(t) => plan::guard(Op::Roll, &t, false, true, now).map(|g| g.to_string()),
            Err(e) if tokens::is_not_found(&e) => Some("it no longer exists".to_string()),
            Err(e) => return Act::failed(format!("cannot read the replacement {new_id} ({e})")),
        };
        if let Some(why) = usable {
            return Act::failed(format!("the replacement {new_id}, whose secret is in the sink, is not usable ({why}); token {old} stays active: replace it again"));
        }
        let delivered = delivered_to
            .map(|to| format!("delivered its secret to {to}; "))
            .unwrap_or_default();
        if !self.apply {
            return Act::new(Verdict::WouldFinish, format!("the replacement {new_id} is active and its secret in the sink: would disable token {old}"));
        }
        let o = status::set_status(self.exec.client, owner, old, &a.item.scanned, "disabled").await;
        let notes = self.drop_escrows(&a.escrows);
        let act = if matches!(o.status, ActionStatus::Succeeded | ActionStatus::Unchanged) {
            Act::new(Verdict::Finished, format!("{delivered}token {old} disabled ({}); the replacement {new_id} is the one active token of the pair{notes}", o.message))
        } else {
            Act::failed(format!(
                "{delivered}token {old} was NOT disabled, so both tokens are active: {}{notes}",
                o.message
            ))
        };
        Act {
            delivered_to: delivered_to.map(str::to_string),
            ..act
        }
    }
}
