//! The replace protocol (docs/architecture.md §8): consumers get an overlap. Create a copy of the token
//! (same policies, condition and not_before; a name saying what it replaces; a fresh
//! expiry), deliver its secret, and only then disable the old token with the disable
//! protocol. If creation fails nothing changed — a creation whose answer was lost is looked
//! up by name and deleted again, since nobody holds its secret; if delivery fails the copy
//! is deleted again, and its secret escrowed only if that delete fails.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use std::path::PathBuf;

use super::apply::{
    deliver_escrowed, drop_escrow, escrow_left, interrupted_before_change, note_step, Executor,
};
use super::journal::{Journal, Step};
use super::sink::{Delivery, SecretSink};
use super::{status, ActionOutcome, ActionStatus, BodyError, Op, PlanItem};
use crate::cloudflare::{tokens, ApiError};
use crate::inventory::Owner;

/// Cloudflare's limit on token names (`iam_name.maxLength`).
pub const MAX_NAME_CHARS: usize = 120;

/// The least validity a replacement may have, in days (issue 12). A replace disables the
/// old token once the new secret is delivered; a replacement that expires at once (or
/// within hours) would leave consumers with no working token at all.
pub const MIN_LIFETIME_DAYS: f64 = 1.0;

/// How long a replacement stays valid under `max_lifetime_days`, or why no replacement
/// may be made with it: less than [`MIN_LIFETIME_DAYS`], not a number, or so long that its
/// expiry is no representable time. Checked arithmetic only: nothing here can panic.
pub fn lifetime(max_lifetime_days: f64, valid_from: DateTime<Utc>) -> Result<Duration, BodyError> {
    // NaN is refused too.
    if max_lifetime_days.is_nan() || max_lifetime_days < MIN_LIFETIME_DAYS {
        return Err(BodyError::Lifetime(format!(
            "max_lifetime_days = {max_lifetime_days} would make a replacement valid for less than {MIN_LIFETIME_DAYS} day, so it would expire before its consumers could switch to it while the old token is disabled; a replace needs max_lifetime_days >= {MIN_LIFETIME_DAYS}"
        )));
    }
    let too_long = || {
        BodyError::Lifetime(format!(
            "max_lifetime_days = {max_lifetime_days} puts a replacement's expiry beyond any representable time"
        ))
    };
    let seconds = max_lifetime_days * 86_400.0;
    if !seconds.is_finite() || seconds >= i64::MAX as f64 {
        return Err(too_long());
    }
    let days = Duration::try_seconds(seconds as i64).ok_or_else(too_long)?;
    valid_from.checked_add_signed(days).ok_or_else(too_long)?;
    Ok(days)
}

/// `<name> (replaces <first 8 of id>, <date>)`, the old name cut so the whole stays within
/// Cloudflare's 120 characters.
pub fn replacement_name(old_name: &str, old_id: &str, created_at: DateTime<Utc>) -> String {
    let id8: String = old_id.chars().take(8).collect();
    let suffix = format!(" (replaces {id8}, {})", created_at.format("%Y-%m-%d"));
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base = if old_name.trim().is_empty() {
        "token"
    } else {
        old_name
    };
    let cut: String = base.chars().take(room).collect();
    format!("{}{suffix}", cut.trim_end())
}

fn time(token: &Value, field: &str) -> Option<DateTime<Utc>> {
    let s = token.get(field)?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The create body of a replacement: the old token's policies (effect, permission-group
/// ids, resources), its condition verbatim, its not_before, and an expiry
/// `max_lifetime_days` after the new token becomes valid.
///
/// A not_before already past is moved to `created_at`: that grants nothing the copy would
/// not have anyway (it cannot be used before it exists), and keeps the lifetime — counted
/// from not_before — within `max_lifetime_days`.
pub fn create_body(
    old: &Value,
    name: &str,
    created_at: DateTime<Utc>,
    max_lifetime_days: f64,
) -> Result<Value, BodyError> {
    let policies = old
        .get("policies")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or(BodyError::NothingToCopy)?;
    let mut copied = Vec::with_capacity(policies.len());
    for (i, p) in policies.iter().enumerate() {
        let groups: Vec<Value> = p
            .get("permission_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|g| match (g.get("id"), g.get("meta")) {
                (Some(id), Some(meta)) => json!({"id": id, "meta": meta}),
                (Some(id), None) => json!({"id": id}),
                (None, _) => Value::Null,
            })
            .collect();
        if groups.is_empty() || groups.iter().any(Value::is_null) {
            return Err(BodyError::GroupWithoutId(i));
        }
        let (Some(effect), Some(resources)) = (p.get("effect"), p.get("resources")) else {
            return Err(BodyError::NoEffectOrResources(i));
        };
        copied.push(json!({"effect": effect, "permission_groups": groups, "resources": resources}));
    }
    let mut body = json!({"name": name, "policies": copied});
    let valid_from = match old.get("not_before").filter(|v| !v.is_null()) {
        None => created_at,
        Some(_) => {
            let nb = time(old, "not_before").ok_or(BodyError::NotBefore)?;
            let from = nb.max(created_at);
            body["not_before"] = json!(rfc3339(from));
            from
        }
    };
    let days = lifetime(max_lifetime_days, valid_from)?;
    let expires = valid_from
        .checked_add_signed(days)
        .ok_or_else(|| BodyError::Lifetime("the replacement's expiry is no time".into()))?;
    body["expires_on"] = json!(rfc3339(expires));
    if let Some(c) = old.get("condition").filter(|c| !c.is_null()) {
        body["condition"] = c.clone();
    }
    Ok(body)
}

/// The ids of the tokens named `name`.
pub(super) fn named(tokens: &[Value], name: &str) -> Vec<String> {
    tokens
        .iter()
        .filter(|t| t.get("name").and_then(Value::as_str) == Some(name))
        .filter_map(|t| t.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

impl Executor<'_> {
    /// Delete a token; a lost answer is settled by reading it (404 = gone).
    pub(super) async fn delete_confirmed(&self, owner: &Owner, id: &str) -> Result<(), ApiError> {
        match tokens::delete(self.client, owner, id).await {
            Ok(()) => Ok(()),
            Err(e) => match tokens::get(self.client, owner, id).await {
                Err(g) if tokens::is_not_found(&g) => Ok(()),
                _ => Err(e),
            },
        }
    }

    pub(super) async fn replace(
        &self,
        item: &PlanItem,
        sink: &SecretSink,
        fresh: Value,
        journal: &mut Journal,
    ) -> ActionOutcome {
        let (owner, old_id) = (&item.owner, item.token_id.as_str());
        let old_name = fresh.get("name").and_then(Value::as_str).unwrap_or("");
        let name = replacement_name(old_name, old_id, self.created_at);
        let failed = |msg: String, fresh: &Value| {
            ActionOutcome::failed(msg).with_before(Some(fresh.clone()))
        };
        let body = match create_body(&fresh, &name, self.created_at, self.max_lifetime_days) {
            Ok(b) => b,
            Err(why) => {
                return failed(
                    format!("cannot copy token {old_id}: {why}; nothing was changed"),
                    &fresh,
                )
            }
        };
        // Tokens already bearing the name, so a creation whose answer is lost can be told apart.
        let existing = match tokens::list(self.client, owner).await {
            Ok(list) => named(&list, &name),
            Err(e) => {
                return failed(
                    format!(
                        "cannot list the tokens of {} ({e}); nothing was changed",
                        owner.label()
                    ),
                    &fresh,
                )
            }
        };
        if self.stop.is_requested() {
            return interrupted_before_change(Some(fresh));
        }
        // Write-ahead: the journal knows a token may be created before it is asked for.
        if let Err(e) = journal.step(
            item,
            Step::Creating {
                name: &name,
                existing: &existing,
            },
        ) {
            return failed(
                format!("not created: cannot write the journal ({e}); nothing was changed"),
                &fresh,
            );
        }
        let created = match tokens::create(self.client, owner, &body).await {
            Ok(c) => c,
            Err(e) if !tokens::answer_lost(&e) => {
                return failed(format!("Cloudflare refused to create the replacement of token {old_id} ({e}); nothing was changed"), &fresh)
            }
            Err(e) => return self.undo_lost_create(owner, old_id, &name, &existing, &e.to_string(), &fresh).await,
        };
        let new_id = created.id().to_string();
        let new_name = created
            .token
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&name)
            .to_string();
        // The secret exists only in memory: make it durable before anything else.
        let escrowed = self.escrow_now(&new_id, &created.secret);
        let mut notes = Vec::new();
        let escrow_error = escrowed.as_ref().err().map(ToString::to_string);
        note_step(
            journal,
            item,
            Step::Created {
                new_token_id: &new_id,
                new_token_name: &new_name,
                escrow: escrowed.as_ref().ok().map(PathBuf::as_path),
                escrow_error: escrow_error.as_deref(),
            },
            &mut notes,
        );
        let delivery = Delivery {
            token_id: &new_id,
            token_name: &new_name,
            owner,
            op: Op::Replace,
            replaces: Some(old_id),
        };
        let delivered = deliver_escrowed(
            item,
            journal,
            sink,
            &delivery,
            &created.secret,
            &escrowed,
            &mut notes,
        );
        let noted = |notes: &[String]| {
            if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join("; "))
            }
        };
        let mut outcome = match delivered {
            Err(e) => match self.delete_confirmed(owner, &new_id).await {
                Ok(()) => {
                    // The copy is gone, so its escrowed secret is worthless.
                    if let Ok(path) = &escrowed {
                        drop_escrow(path, &mut notes);
                    }
                    failed(format!("could not deliver the replacement's secret ({e}); the replacement {new_id} was deleted again and token {old_id} is untouched{}", noted(&notes)), &fresh)
                }
                Err(de) => Self::kept_or_lost(
                    &new_id,
                    &escrowed,
                    &format!("REPLACEMENT NOT DELIVERED: {e}; deleting the replacement {new_id} failed too ({de}), so it still exists; token {old_id} is untouched{}", noted(&notes)),
                )
                .with_before(Some(fresh.clone())),
            },
            Ok(to) if self.stop.is_requested() => {
                let mut o = ActionOutcome::failed(format!("the replacement {new_id} ({new_name}) was created and its secret delivered to {to}, but a signal stopped the run before token {old_id} was disabled: both are active; `tokenwarden recover --apply` disables it{}", noted(&notes)))
                    .unfinished();
                o.delivered_to = Some(to);
                o.before = Some(fresh);
                o
            }
            Ok(to) => {
                let disabled = status::set_status(self.client, owner, old_id, &fresh, "disabled").await;
                let mut o = if matches!(disabled.status, ActionStatus::Succeeded | ActionStatus::Unchanged) {
                    ActionOutcome::new(ActionStatus::Succeeded, format!("replaced by {new_id} ({new_name}), whose secret was delivered to {to}; token {old_id} disabled and verified{}", noted(&notes)))
                } else {
                    ActionOutcome::failed(format!("the replacement {new_id} ({new_name}) was created and its secret delivered to {to}, but token {old_id} was NOT disabled: {}{}; `tokenwarden recover --apply` disables it", disabled.message, noted(&notes)))
                        .unfinished()
                };
                o.unfinished |= escrow_left(&escrowed);
                o.delivered_to = Some(to);
                o.before = Some(fresh);
                o.after = disabled.after;
                o
            }
        };
        outcome.new_token_id = Some(new_id);
        outcome
    }

    /// The create's answer was lost: find the token it may have made and delete it again
    /// (nobody holds its secret), so that a failed creation changes nothing.
    async fn undo_lost_create(
        &self,
        owner: &Owner,
        old_id: &str,
        name: &str,
        existing: &[String],
        error: &str,
        fresh: &Value,
    ) -> ActionOutcome {
        let listed = match tokens::list(self.client, owner).await {
            Ok(list) => list,
            Err(e) => {
                return ActionOutcome::failed(format!(
                    "the answer to creating the replacement of token {old_id} was lost ({error}) and listing the tokens to find out failed ({e}): a token named {name:?} may exist with a secret nobody holds — `tokenwarden recover --apply` deletes it; token {old_id} is untouched"
                ))
                .with_before(Some(fresh.clone()))
                .unfinished()
            }
        };
        let orphans: Vec<String> = named(&listed, name)
            .into_iter()
            .filter(|id| !existing.contains(id))
            .collect();
        let mut left = Vec::new();
        for id in &orphans {
            if let Err(e) = self.delete_confirmed(owner, id).await {
                left.push(format!("{id} ({e})"));
            }
        }
        let msg = if orphans.is_empty() {
            format!("the answer to creating the replacement of token {old_id} was lost ({error}) and no replacement exists; nothing was changed")
        } else if left.is_empty() {
            format!("the answer to creating the replacement of token {old_id} was lost ({error}); the token it created ({}) was deleted again, since nobody holds its secret; nothing else was changed", orphans.join(", "))
        } else {
            format!("the answer to creating the replacement of token {old_id} was lost ({error}) and the token(s) it created could not be deleted: {} — delete them (nobody holds their secret); token {old_id} is untouched", left.join(", "))
        };
        let outcome = ActionOutcome::failed(msg).with_before(Some(fresh.clone()));
        if left.is_empty() {
            outcome
        } else {
            outcome.unfinished()
        }
    }
}

#[cfg(test)]
mod tests;
