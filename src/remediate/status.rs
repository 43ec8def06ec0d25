//! The disable/enable protocol (docs/architecture.md §8). `PUT .../tokens/{id}` is a *full replacement*
//! at Cloudflare: a field the body leaves out is deleted, so a body without `condition`
//! would silently lift the token's IP restriction. Hence:
//!
//! 1. GET the token fresh; if its `modified_on` differs from the scan, skip it and say so.
//! 2. PUT back the fresh object itself — every field but the read-only ones — with only
//!    `status` changed ([`put_body`]), so no field can be forgotten, known or not.
//! 3. GET it again and check that name, policies (effect, permission-group ids, resources),
//!    condition, not_before and expires_on are exactly as before ([`protected_diff`]).
//!    A lost answer to the PUT is settled by this read, never by sending the PUT again.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{ActionOutcome, ActionStatus, BodyError};
use crate::cloudflare::tokens;
use crate::cloudflare::Client;
use crate::inventory::Owner;

/// Fields Cloudflare sets itself (`readOnly` in the spec); everything else is sent back.
const READ_ONLY: [&str; 4] = ["id", "issued_on", "modified_on", "last_used_on"];

fn str_field<'a>(token: &'a Value, field: &str) -> Option<&'a str> {
    token.get(field).and_then(Value::as_str)
}

/// The PUT body: the fresh token with only `status` changed, or why it cannot be built.
pub fn put_body(fresh: &Value, status: &str) -> Result<Value, BodyError> {
    let Value::Object(map) = fresh else {
        return Err(BodyError::NotAnObject);
    };
    if !map.get("name").is_some_and(Value::is_string) {
        return Err(BodyError::NoName);
    }
    if !map.get("policies").is_some_and(Value::is_array) {
        return Err(BodyError::NoPolicies);
    }
    let mut body: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !READ_ONLY.contains(&k.as_str()) && k.as_str() != "value")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    body.insert("status".into(), json!(status));
    Ok(Value::Object(body))
}

/// One policy as it matters for access: effect, sorted group ids, resources.
fn policy_key(policy: &Value) -> Value {
    let mut groups: Vec<&str> = policy
        .get("permission_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("id").and_then(Value::as_str))
        .collect();
    groups.sort_unstable();
    json!({
        "effect": policy.get("effect"),
        "permission_groups": groups,
        "resources": policy.get("resources"),
    })
}

/// The token's policies as a sorted list of [`policy_key`]s (order carries no meaning).
pub fn policies_key(token: &Value) -> Vec<String> {
    let mut keys: Vec<String> = token
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| policy_key(p).to_string())
        .collect();
    keys.sort();
    keys
}

/// Missing, null and `{}` all mean "no condition".
fn condition_key(token: &Value) -> Value {
    match token.get("condition") {
        None | Some(Value::Null) => json!({}),
        Some(c) => c.clone(),
    }
}

/// Times compare as instants (Cloudflare may write the same time another way).
fn same_time(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (norm(a), norm(b)) {
        (None, None) => true,
        (Some(x), Some(y)) => match (parse(&x), parse(&y)) {
            (Some(tx), Some(ty)) => tx == ty,
            _ => x == y,
        },
        _ => false,
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(v) => v.to_string(),
    }
}

/// Every access-relevant field that differs between two states of a token, described.
pub fn protected_diff(before: &Value, after: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    if before.get("name") != after.get("name") {
        diffs.push(format!(
            "name: {} -> {}",
            show(before.get("name")),
            show(after.get("name"))
        ));
    }
    if policies_key(before) != policies_key(after) {
        diffs.push(format!(
            "policies (effect, permission groups or resources): {} -> {}",
            show(before.get("policies")),
            show(after.get("policies"))
        ));
    }
    if condition_key(before) != condition_key(after) {
        diffs.push(format!(
            "condition: {} -> {}",
            show(before.get("condition")),
            show(after.get("condition"))
        ));
    }
    for field in ["not_before", "expires_on"] {
        if !same_time(before.get(field), after.get(field)) {
            diffs.push(format!(
                "{field}: {} -> {}",
                show(before.get(field)),
                show(after.get(field))
            ));
        }
    }
    diffs
}

/// Why the fresh token is not the one that was scanned, if it is not: `modified_on`
/// moved, or — when the scanned object had none — its access or status changed.
pub fn changed_since_scan(scanned: &Value, fresh: &Value) -> Option<String> {
    let skipped = "skipped, the next run decides again";
    if scanned.get("modified_on").is_some_and(|v| !v.is_null()) {
        return (!same_time(scanned.get("modified_on"), fresh.get("modified_on"))).then(|| {
            format!(
                "the token changed since the scan (modified_on {} -> {}); {skipped}",
                show(scanned.get("modified_on")),
                show(fresh.get("modified_on"))
            )
        });
    }
    let mut diffs = protected_diff(scanned, fresh);
    if scanned.get("status") != fresh.get("status") {
        diffs.push(format!(
            "status: {} -> {}",
            show(scanned.get("status")),
            show(fresh.get("status"))
        ));
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "the token changed since the scan ({}); {skipped}",
            diffs.join("; ")
        )
    })
}

/// Read the token fresh for an action; `Err` is the outcome when the action must not go on.
pub async fn fresh(
    client: &Client,
    owner: &Owner,
    token_id: &str,
    scanned: &Value,
) -> Result<Value, ActionOutcome> {
    let fresh = tokens::get(client, owner, token_id).await.map_err(|e| {
        ActionOutcome::failed(format!(
            "cannot read token {token_id} fresh ({e}); nothing was changed"
        ))
    })?;
    match changed_since_scan(scanned, &fresh) {
        Some(why) => Err(ActionOutcome::new(ActionStatus::Skipped, why).with_before(Some(fresh))),
        None => Ok(fresh),
    }
}

/// Set `status` ("disabled" or "active") on a token, changing nothing else.
pub async fn set_status(
    client: &Client,
    owner: &Owner,
    token_id: &str,
    scanned: &Value,
    target: &str,
) -> ActionOutcome {
    let fresh = match fresh(client, owner, token_id, scanned).await {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    set_status_of(client, owner, token_id, fresh, target).await
}

/// Steps 2 and 3 of the protocol, on a token just read fresh.
pub async fn set_status_of(
    client: &Client,
    owner: &Owner,
    token_id: &str,
    fresh: Value,
    target: &str,
) -> ActionOutcome {
    if str_field(&fresh, "status") == Some(target) {
        return ActionOutcome::new(ActionStatus::Unchanged, format!("already {target}"))
            .with_before(Some(fresh.clone()))
            .with_after(Some(fresh));
    }
    let body = match put_body(&fresh, target) {
        Ok(b) => b,
        Err(why) => {
            return ActionOutcome::failed(format!("token {token_id}: {why}; nothing was changed"))
                .with_before(Some(fresh))
        }
    };
    let mut note = String::new();
    if let Err(e) = tokens::update(client, owner, token_id, &body).await {
        if !tokens::answer_lost(&e) {
            return ActionOutcome::failed(format!(
                "Cloudflare refused to set token {token_id} {target} ({e}); nothing was changed"
            ))
            .with_before(Some(fresh));
        }
        // The PUT may or may not have happened: the read below tells.
        note = format!(" (the answer to the PUT was lost: {e}; read back to confirm)");
    }
    let after = match tokens::get(client, owner, token_id).await {
        Ok(a) => a,
        Err(e) => {
            return ActionOutcome::failed(format!(
                "cannot read token {token_id} back to verify it ({e}): it may or may not be {target} now{note}; check it before trusting it"
            ))
            .with_before(Some(fresh))
        }
    };
    let diffs = protected_diff(&fresh, &after);
    let outcome = if !diffs.is_empty() {
        ActionOutcome::failed(format!(
            "TOKEN {token_id} CHANGED BEYOND ITS STATUS: {}. The state before is in the journal; restore it by hand.{note}",
            diffs.join("; ")
        ))
    } else if str_field(&after, "status") != Some(target) {
        ActionOutcome::failed(format!(
            "token {token_id} is still {} after the PUT{note}; nothing else changed",
            show(after.get("status"))
        ))
    } else {
        ActionOutcome::new(
            ActionStatus::Succeeded,
            format!("{target}; verified that nothing else changed{note}"),
        )
    };
    outcome.with_before(Some(fresh)).with_after(Some(after))
}

#[cfg(test)]
mod tests;
