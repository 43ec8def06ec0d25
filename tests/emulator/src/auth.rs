//! Authentication (who is calling: a token by its *current* secret, or the legacy
//! `X-Auth-Email` + `X-Auth-Key` pair) and authorization (what the calling token's own
//! policies allow, decided the way Cloudflare does: an allow policy granting one of the
//! operation's permission groups — matched by catalogue id — on the resource, and no deny
//! policy doing the same).

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::envelope::{fail, Reply};
use crate::world::{Owner, World};
use crate::AuthKind;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// `X-Auth-Email` + `X-Auth-Key`: full access to the user and all its accounts.
    Legacy,
    /// An API token (its object is cloned at authentication time).
    Token {
        owner: Owner,
        id: String,
        json: Value,
    },
}

impl Caller {
    /// The key its rate-limit budget is counted under.
    pub fn rate_key(&self) -> String {
        match self {
            Caller::Legacy => "legacy".to_string(),
            Caller::Token { id, .. } => format!("token:{id}"),
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// Describes the credential without judging it (for the request log).
pub(crate) fn describe(world: &World, headers: &HeaderMap) -> AuthKind {
    if let Some(value) = header(headers, "authorization") {
        return match bearer(value) {
            Some(secret) => AuthKind::Bearer {
                token_id: world
                    .token_by_secret(secret)
                    .map(|(_, t)| t.id().to_string()),
            },
            None => AuthKind::Malformed,
        };
    }
    match (
        header(headers, "x-auth-email"),
        header(headers, "x-auth-key"),
    ) {
        (Some(email), Some(key)) => AuthKind::LegacyKey {
            valid: legacy_matches(world, email, key),
        },
        (None, None) => AuthKind::None,
        _ => AuthKind::Malformed,
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, secret) = value.trim().split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

fn legacy_matches(world: &World, email: &str, key: &str) -> bool {
    email.trim().eq_ignore_ascii_case(&world.user.email) && key.trim() == world.user.api_key
}

/// Authenticates the request: `Ok(caller)` or the 400/401 failure to answer.
pub(crate) fn authenticate(world: &World, headers: &HeaderMap) -> Result<Caller, Reply> {
    if let Some(value) = header(headers, "authorization") {
        let Some(secret) = bearer(value) else {
            return Err(fail(
                400,
                6003,
                "Invalid request headers: Authorization must be \"Bearer <token>\"",
            ));
        };
        let Some((owner, token)) = world.token_by_secret(secret) else {
            return Err(invalid_token());
        };
        if !usable(&token.json, world.now) {
            return Err(invalid_token());
        }
        return Ok(Caller::Token {
            owner,
            id: token.id().to_string(),
            json: token.json.clone(),
        });
    }
    match (
        header(headers, "x-auth-email"),
        header(headers, "x-auth-key"),
    ) {
        (Some(email), Some(key)) if legacy_matches(world, email, key) => Ok(Caller::Legacy),
        (Some(_), Some(_)) => Err(fail(401, 9103, "Unknown X-Auth-Key or X-Auth-Email")),
        _ => Err(fail(
            401,
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )),
    }
}

/// The 401 for a secret that does not (or no longer) authenticate.
pub(crate) fn invalid_token() -> Reply {
    fail(401, 1000, "Invalid API Token")
}

fn time_field(token: &Value, field: &str) -> Option<DateTime<Utc>> {
    let raw = token.get(field)?.as_str()?;
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a token's status/expiry marks it expired at `now` (`expires_on <= now`).
pub(crate) fn is_expired(token: &Value, now: DateTime<Utc>) -> bool {
    token.get("status").and_then(Value::as_str) == Some("expired")
        || time_field(token, "expires_on").is_some_and(|t| t <= now)
}

/// A token authenticates only while active, unexpired and past its `not_before`.
fn usable(token: &Value, now: DateTime<Utc>) -> bool {
    token.get("status").and_then(Value::as_str) == Some("active")
        && !is_expired(token, now)
        && time_field(token, "not_before").is_none_or(|t| t <= now)
}

/// The permission a token operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Read,
    Write,
}

/// Group names that grant `need` on the owner's tokens (per `x-api-token-group` in the spec).
fn token_groups(owner: &Owner, need: Need) -> &'static [&'static str] {
    match (owner, need) {
        (Owner::User, Need::Read) => &["API Tokens Read", "API Tokens Write"],
        (Owner::User, Need::Write) => &["API Tokens Write"],
        (Owner::Account(_), Need::Read) => &["Account API Tokens Read", "Account API Tokens Write"],
        (Owner::Account(_), Need::Write) => &["Account API Tokens Write"],
    }
}

/// Whether `caller` may use `owner`'s token endpoints with `need`.
pub(crate) fn may_use_tokens(world: &World, caller: &Caller, owner: &Owner, need: Need) -> bool {
    grants(world, caller, owner, token_groups(owner, need))
}

/// Whether `caller` may read the user's details (`GET /user`).
pub(crate) fn may_read_user(world: &World, caller: &Caller) -> bool {
    grants(
        world,
        caller,
        &Owner::User,
        &["User Details Read", "User Details Write"],
    )
}

/// The decision: an allow policy grants one of `groups` on `target`, and no deny policy
/// matches the same. An account-owned token acts only within its own account.
fn grants(world: &World, caller: &Caller, target: &Owner, groups: &[&str]) -> bool {
    let (token_owner, token) = match caller {
        Caller::Legacy => return true,
        Caller::Token { owner, json, .. } => (owner, json),
    };
    let resources: Vec<String> = match (token_owner, target) {
        (Owner::User, Owner::User) => vec![format!("com.cloudflare.api.user.{}", world.user.id)],
        (Owner::User, Owner::Account(a)) => vec![
            format!("com.cloudflare.api.account.{a}"),
            "com.cloudflare.api.account.*".to_string(),
        ],
        (Owner::Account(own), Owner::Account(a)) if own == a => {
            vec![format!("com.cloudflare.api.account.{a}")]
        }
        _ => return false,
    };
    let group_ids: Vec<&str> = world
        .catalogue(token_owner)
        .iter()
        .filter(|g| {
            g.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| groups.contains(&n))
        })
        .filter_map(|g| g.get("id").and_then(Value::as_str))
        .collect();
    let mut allowed = false;
    for policy in token
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let has_group = policy
            .get("permission_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("id").and_then(Value::as_str))
            .any(|id| group_ids.contains(&id));
        let on_resource = policy
            .get("resources")
            .and_then(Value::as_object)
            .is_some_and(|r| {
                r.iter()
                    .any(|(k, v)| v.as_str() == Some("*") && resources.contains(k))
            });
        if has_group && on_resource {
            match policy.get("effect").and_then(Value::as_str) {
                Some("deny") => return false,
                Some("allow") => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

/// Accounts `GET /accounts` shows this caller: all for the legacy key; the own account for
/// an account token; for a user token every existing account named by an allow policy's
/// resource (all of them for `com.cloudflare.api.account.*`). Forbidden accounts are always
/// shown (visible, but their endpoints answer 403).
pub(crate) fn visible_accounts(world: &World, caller: &Caller) -> Vec<String> {
    world
        .accounts
        .values()
        .filter(|account| {
            account.forbidden
                || match caller {
                    Caller::Legacy => true,
                    Caller::Token {
                        owner: Owner::Account(own),
                        ..
                    } => *own == account.id,
                    Caller::Token {
                        owner: Owner::User,
                        json,
                        ..
                    } => names_account(json, &account.id),
                }
        })
        .map(|a| a.id.clone())
        .collect()
}

fn names_account(token: &Value, account_id: &str) -> bool {
    let own = format!("com.cloudflare.api.account.{account_id}");
    token
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("effect").and_then(Value::as_str) == Some("allow"))
        .filter_map(|p| p.get("resources").and_then(Value::as_object))
        .flat_map(|r| r.keys())
        .any(|k| *k == own || k == "com.cloudflare.api.account.*")
}

#[cfg(test)]
mod tests;
