//! Token writes: create (`POST`), update (`PUT`, a *full replacement*), delete, and roll
//! (`PUT .../value`), with the request-body validation Cloudflare applies
//! (`iam_create_payload` / `iam_token_body`) and the token quotas.

use std::net::IpAddr;

use chrono::DateTime;
use serde_json::{json, Map, Value};

use crate::envelope::{bad_body, fail, invalid, ok, Reply};
use crate::world::{rfc3339, Owner, StoredToken, World};

/// 404 for a token id the owner does not have.
pub(crate) fn token_not_found() -> Reply {
    fail(404, 1003, "Token not found")
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_body("expected a JSON object")),
        Err(e) => Err(bad_body(&format!("invalid JSON ({e})"))),
    }
}

/// The fields every create/update body carries, validated.
struct TokenFields {
    name: String,
    policies: Vec<Value>,
    condition: Option<Value>,
    not_before: Option<Value>,
    expires_on: Option<Value>,
}

/// Validates a create (`keep_policy_ids = false`) or update body. Ids for new policies are
/// drawn only once everything is valid, so rejected requests do not shift later ids.
fn token_fields(
    world: &mut World,
    owner: &Owner,
    body: &Map<String, Value>,
    keep_policy_ids: bool,
) -> Result<TokenFields, Reply> {
    let name = match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 120 => n.clone(),
        Some(Value::String(_)) => return Err(invalid("name must be 1 to 120 characters")),
        Some(_) => return Err(invalid("name must be a string")),
        None => return Err(invalid("name is required")),
    };
    let policies = match body.get("policies") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err(invalid("policies must not be empty")),
        Some(_) => return Err(invalid("policies must be an array")),
        None => return Err(invalid("policies are required")),
    };
    let mut checked = Vec::with_capacity(policies.len());
    for (i, policy) in policies.iter().enumerate() {
        checked.push(policy_value(world, owner, policy, i)?);
    }
    let condition = match body.get("condition") {
        None | Some(Value::Null) => None,
        Some(c) => Some(condition_value(c, world.validate_ip_conditions)?),
    };
    let not_before = time_value(body, "not_before")?;
    let expires_on = time_value(body, "expires_on")?;
    let policies = checked
        .into_iter()
        .map(|(given_id, mut policy)| {
            let id = match given_id {
                Some(id) if keep_policy_ids => id,
                _ => world.next_hex("policy")[..32].to_string(),
            };
            policy.insert("id".into(), json!(id));
            Value::Object(policy)
        })
        .collect();
    Ok(TokenFields {
        name,
        policies,
        condition,
        not_before,
        expires_on,
    })
}

/// A validated policy (its `id` still null) and the id the body gave it, if any.
fn policy_value(
    world: &World,
    owner: &Owner,
    policy: &Value,
    index: usize,
) -> Result<(Option<String>, Map<String, Value>), Reply> {
    let at = |what: &str| invalid(&format!("policies[{index}]: {what}"));
    let policy = policy.as_object().ok_or_else(|| at("must be an object"))?;
    let effect = match policy.get("effect").and_then(Value::as_str) {
        Some(e @ ("allow" | "deny")) => e,
        _ => return Err(at("effect must be \"allow\" or \"deny\"")),
    };
    let groups = match policy.get("permission_groups") {
        Some(Value::Array(g)) if !g.is_empty() => g,
        _ => return Err(at("permission_groups must be a non-empty array")),
    };
    let mut checked_groups = Vec::with_capacity(groups.len());
    for group in groups {
        let id = group
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| at("each permission group needs a string id"))?;
        let known = world
            .catalogue(owner)
            .iter()
            .find(|g| g.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| at(&format!("permission group {id} does not exist")))?;
        let mut out = Map::new();
        out.insert("id".into(), json!(id));
        out.insert(
            "name".into(),
            known.get("name").cloned().unwrap_or(json!(id)),
        );
        if let Some(meta) = group.get("meta") {
            out.insert("meta".into(), meta.clone());
        }
        checked_groups.push(Value::Object(out));
    }
    let resources = match policy.get("resources") {
        Some(Value::Object(r)) if !r.is_empty() => r,
        _ => return Err(at("resources must be a non-empty object")),
    };
    for (key, value) in resources {
        let well_formed = match value {
            Value::String(_) => true,
            Value::Object(inner) => inner.values().all(Value::is_string),
            _ => false,
        };
        if !key.starts_with("com.cloudflare.") || !well_formed {
            return Err(at(&format!("resource {key:?} is not valid")));
        }
    }
    let given_id = policy.get("id").and_then(Value::as_str).map(str::to_string);
    let mut out = Map::new();
    // Cloudflare's key order: id first; the caller fills it in.
    out.insert("id".into(), Value::Null);
    out.insert("effect".into(), json!(effect));
    out.insert("permission_groups".into(), Value::Array(checked_groups));
    out.insert("resources".into(), Value::Object(resources.clone()));
    Ok((given_id, out))
}

/// Cloudflare accepts an address or address/prefix; host bits may be set.
fn valid_cidr(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u8>().is_ok_and(|n| n <= max)
    })
}

fn condition_value(condition: &Value, check_cidrs: bool) -> Result<Value, Reply> {
    let object = condition
        .as_object()
        .ok_or_else(|| invalid("condition must be an object"))?;
    if let Some(request_ip) = object.get("request_ip") {
        let request_ip = request_ip
            .as_object()
            .ok_or_else(|| invalid("condition.request_ip must be an object"))?;
        for list in ["in", "not_in"] {
            let Some(entries) = request_ip.get(list) else {
                continue;
            };
            let entries = entries
                .as_array()
                .ok_or_else(|| invalid(&format!("condition.request_ip.{list} must be an array")))?;
            for entry in entries {
                match entry.as_str() {
                    Some(cidr) if !check_cidrs || valid_cidr(cidr) => {}
                    _ => {
                        return Err(invalid(&format!(
                            "condition.request_ip.{list}: {entry} is not a valid IP or CIDR"
                        )))
                    }
                }
            }
        }
    }
    Ok(condition.clone())
}

fn time_value(body: &Map<String, Value>, field: &str) -> Result<Option<Value>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(Some(json!(s))),
        Some(_) => Err(invalid(&format!("{field} must be an RFC 3339 date-time"))),
    }
}

/// The token object in Cloudflare's key order.
fn assemble(
    id: &str,
    status: Value,
    fields: TokenFields,
    issued_on: Option<Value>,
    modified_on: Value,
    last_used_on: Option<Value>,
) -> Value {
    let mut token = Map::new();
    token.insert("id".into(), json!(id));
    token.insert("name".into(), json!(fields.name));
    token.insert("status".into(), status);
    if let Some(v) = issued_on {
        token.insert("issued_on".into(), v);
    }
    token.insert("modified_on".into(), modified_on);
    if let Some(v) = last_used_on {
        token.insert("last_used_on".into(), v);
    }
    if let Some(v) = fields.not_before {
        token.insert("not_before".into(), v);
    }
    if let Some(v) = fields.expires_on {
        token.insert("expires_on".into(), v);
    }
    token.insert("policies".into(), Value::Array(fields.policies));
    if let Some(v) = fields.condition {
        token.insert("condition".into(), v);
    }
    Value::Object(token)
}

/// A fresh secret: `cfut_` (user) or `cfat_` (account) + 40 hex characters.
fn new_secret(world: &mut World, owner: &Owner) -> String {
    let prefix = match owner {
        Owner::User => "cfut_",
        Owner::Account(_) => "cfat_",
    };
    let secret = format!("{prefix}{}", &world.next_hex("secret")[..40]);
    world.secret_log.push(secret.clone());
    secret
}

/// `POST .../tokens`.
pub(crate) fn create(world: &mut World, owner: &Owner, body: &[u8]) -> Reply {
    let body = match parse_object(body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let (count, quota) = match owner {
        Owner::User => (world.user_tokens.len(), world.user_token_quota),
        Owner::Account(id) => (
            world.accounts.get(id).map_or(0, |a| a.tokens.len()),
            world.account_token_quota,
        ),
    };
    if count >= quota {
        return fail(
            400,
            1005,
            &format!("Maximum number of API tokens reached ({quota})"),
        );
    }
    let fields = match token_fields(world, owner, &body, false) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let id = world.next_hex("token")[..32].to_string();
    let secret = new_secret(world, owner);
    let now = json!(rfc3339(world.now));
    let token = assemble(&id, json!("active"), fields, Some(now.clone()), now, None);
    let mut result = token.clone();
    if let Value::Object(map) = &mut result {
        map.insert("value".into(), json!(secret));
    }
    if let Some(tokens) = world.tokens_mut(owner) {
        tokens.insert(
            id,
            StoredToken {
                json: token,
                secret,
            },
        );
    }
    ok(result)
}

/// `PUT .../tokens/{id}`: a full replacement. `name` and `policies` are required; omitted
/// `condition`, `expires_on` and `not_before` are cleared; an omitted `status` keeps the
/// current one; `id`, `issued_on` and `last_used_on` are kept; `modified_on` becomes now.
pub(crate) fn update(world: &mut World, owner: &Owner, id: &str, body: &[u8]) -> Reply {
    let Some(current) = world.tokens(owner).and_then(|t| t.get(id)).cloned() else {
        return token_not_found();
    };
    let body = match parse_object(body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let status = match body.get("status") {
        None | Some(Value::Null) => current
            .json
            .get("status")
            .cloned()
            .unwrap_or(json!("active")),
        Some(Value::String(s)) if matches!(s.as_str(), "active" | "disabled" | "expired") => {
            json!(s)
        }
        Some(_) => return invalid("status must be active, disabled or expired"),
    };
    let fields = match token_fields(world, owner, &body, true) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let token = assemble(
        id,
        status,
        fields,
        current.json.get("issued_on").cloned(),
        json!(rfc3339(world.now)),
        current.json.get("last_used_on").cloned(),
    );
    if let Some(stored) = world.tokens_mut(owner).and_then(|t| t.get_mut(id)) {
        stored.json = token.clone();
    }
    ok(token)
}

/// `DELETE .../tokens/{id}`.
pub(crate) fn delete(world: &mut World, owner: &Owner, id: &str) -> Reply {
    match world.tokens_mut(owner).and_then(|t| t.remove(id)) {
        Some(_) => ok(json!({ "id": id })),
        None => token_not_found(),
    }
}

/// `PUT .../tokens/{id}/value` with `{}`: a new secret replaces the old one at once.
pub(crate) fn roll(world: &mut World, owner: &Owner, id: &str, body: &[u8]) -> Reply {
    if world.tokens(owner).and_then(|t| t.get(id)).is_none() {
        return token_not_found();
    }
    if let Err(reply) = parse_object(body) {
        return reply;
    }
    let secret = new_secret(world, owner);
    let now = json!(rfc3339(world.now));
    if let Some(stored) = world.tokens_mut(owner).and_then(|t| t.get_mut(id)) {
        stored.secret = secret.clone();
        if let Value::Object(map) = &mut stored.json {
            map.insert("modified_on".into(), now);
        }
    }
    ok(json!(secret))
}

#[cfg(test)]
mod tests;
