//! Facts per token (DESIGN §4): pure functions, no I/O. Times are parsed with chrono and
//! CIDRs with ipnet here, once, so that rules compare numbers and booleans and never
//! parse. `docs/input-document.md` is the contract for every field built below.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::inventory::{Owner, TokenRef};

/// A token whose verbatim object cannot be read as Cloudflare documents it. The token is
/// reported as not evaluated; the rest of the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {token_id}: {field}: {message}")]
pub struct EnrichError {
    pub token_id: String,
    pub field: String,
    pub message: String,
}

/// Build the Rego input document for one token.
pub fn input_document(
    token: TokenRef<'_>,
    now: DateTime<Utc>,
    scanner_token_id: Option<&str>,
) -> Result<Value, EnrichError> {
    let facts = facts(token, now, scanner_token_id)?;
    Ok(json!({
        "now": rfc3339(now),
        "owner": owner_value(token.owner),
        "token": token.token,
        "facts": facts,
    }))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn owner_value(owner: &Owner) -> Value {
    match owner {
        Owner::User { id } => json!({"kind": "user", "id": id}),
        Owner::Account { id, name } => json!({"kind": "account", "id": id, "name": name}),
    }
}

fn days_between(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_milliseconds() as f64 / 86_400_000.0
}

struct Ctx<'a> {
    token_id: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> EnrichError {
        EnrichError {
            token_id: self.token_id.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An optional RFC 3339 time field: absent or null is `None`, anything else must parse.
    fn time(&self, token: &Value, field: &str) -> Result<Option<DateTime<Utc>>, EnrichError> {
        match token.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| self.err(field, format!("invalid RFC 3339 time {s:?}: {e}"))),
            Some(other) => Err(self.err(field, format!("expected a string, got {other}"))),
        }
    }
}

fn facts(
    token: TokenRef<'_>,
    now: DateTime<Utc>,
    scanner_token_id: Option<&str>,
) -> Result<Value, EnrichError> {
    let t = token.token;
    let ctx = Ctx {
        token_id: token.id(),
    };
    let status = match t.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(ctx.err("status", format!("expected a string, got {other}"))),
    };
    let issued_on = ctx.time(t, "issued_on")?;
    let modified_on = ctx.time(t, "modified_on")?;
    let last_used_on = ctx.time(t, "last_used_on")?;
    let not_before = ctx.time(t, "not_before")?;
    let expires_on = ctx.time(t, "expires_on")?;

    // A token is expired at exactly expires_on (DESIGN §5, precise readings).
    let past_expiry = expires_on.is_some_and(|e| now >= e);
    let not_yet_valid = not_before.is_some_and(|nb| now < nb);
    let active = status == Some("active") && !past_expiry && !not_yet_valid;
    let expired = status == Some("expired") || past_expiry;
    let disabled = status == Some("disabled");

    let since = |t: Option<DateTime<Utc>>| t.map(|t| days_between(now, t));
    let inactive_since = {
        let mut starts = Vec::new();
        if disabled {
            starts.extend(modified_on);
        }
        if expired {
            starts.extend(expires_on.or(modified_on));
        }
        starts.into_iter().min()
    };
    let inactive_days = if active { None } else { since(inactive_since) };

    let lifetime_days =
        expires_on.and_then(|e| not_before.or(issued_on).map(|s| days_between(e, s)));

    Ok(json!({
        "active": active,
        "status": status,
        "expired": expired,
        "not_yet_valid": not_yet_valid,
        "age_days": since(issued_on),
        "secret_age_days": since(modified_on.or(issued_on)),
        "lifetime_days": lifetime_days,
        "days_until_expiry": expires_on.map(|e| days_between(e, now)),
        "days_since_last_use": since(last_used_on),
        "never_used": last_used_on.is_none(),
        "inactive_days": inactive_days,
        "is_scanner": scanner_token_id.is_some_and(|s| !s.is_empty() && s == token.id()),
        "ip": ip_facts(t.get("condition"), &ctx)?,
        "resources": resource_facts(t, &ctx)?,
        "permission_groups": group_facts(t, token.catalogue, &ctx)?,
    }))
}

/// One parsed CIDR entry of an IP condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrFact {
    pub cidr: String,
    pub net: Option<IpNet>,
}

/// Parse a CIDR the way Cloudflare accepts it: host bits may be set
/// (`123.123.123.100/24` is valid, as in the API's own example); a bare address is a
/// /32 or /128; netmask notation and anything else is invalid.
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    if let Ok(net) = IpNet::from_str(s) {
        return Some(net);
    }
    IpAddr::from_str(s).ok().map(IpNet::from)
}

fn cidr_value(raw: &Value) -> (Value, Option<String>) {
    let text = match raw {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let net = raw.as_str().and_then(parse_cidr);
    let v = match net {
        Some(n) => json!({
            "cidr": text,
            "valid": true,
            "version": if n.addr().is_ipv4() { 4 } else { 6 },
            "prefix": n.prefix_len(),
            "any": n.prefix_len() == 0,
        }),
        None => {
            json!({"cidr": text, "valid": false, "version": null, "prefix": null, "any": false})
        }
    };
    let invalid = if net.is_none() { Some(text) } else { None };
    (v, invalid)
}

fn ip_facts(condition: Option<&Value>, ctx: &Ctx<'_>) -> Result<Value, EnrichError> {
    let condition = match condition {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => return Err(ctx.err("condition", format!("expected an object, got {other}"))),
    };
    let mut key_used = Value::Null;
    let mut allow = Vec::new();
    let mut deny = Vec::new();
    let mut invalid = Vec::new();
    // Both spellings occur in the wild; read both so neither hides entries.
    for key in ["request_ip", "request.ip"] {
        let Some(ip) = condition.and_then(|c| c.get(key)) else {
            continue;
        };
        if key_used.is_null() {
            key_used = Value::from(key);
        }
        let ip = match ip {
            Value::Null => continue,
            Value::Object(m) => m,
            other => {
                return Err(ctx.err(
                    format!("condition.{key}"),
                    format!("expected an object, got {other}"),
                ))
            }
        };
        for (list, out) in [("in", &mut allow), ("not_in", &mut deny)] {
            match ip.get(list) {
                None | Some(Value::Null) => {}
                Some(Value::Array(entries)) => {
                    for e in entries {
                        let (v, bad) = cidr_value(e);
                        out.push(v);
                        invalid.extend(bad);
                    }
                }
                Some(other) => {
                    return Err(ctx.err(
                        format!("condition.{key}.{list}"),
                        format!("expected a list of CIDRs, got {other}"),
                    ))
                }
            }
        }
    }
    let valid = |v: &Value| v["valid"] == Value::Bool(true);
    let has_allowlist = allow.iter().any(valid);
    let allows_any = allow
        .iter()
        .any(|v| valid(v) && v["any"] == Value::Bool(true));
    Ok(json!({
        "condition_key": key_used,
        "has_allowlist": has_allowlist,
        "allows_any": allows_any,
        "allow": allow,
        "deny": deny,
        "invalid": invalid,
    }))
}

fn policies<'a>(token: &'a Value, ctx: &Ctx<'_>) -> Result<&'a [Value], EnrichError> {
    match token.get("policies") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(p)) => Ok(p),
        Some(other) => Err(ctx.err("policies", format!("expected a list, got {other}"))),
    }
}

fn effect(policy: &Value) -> Value {
    // `effect` is required by the API; when a malformed object omits it, assume the
    // dangerous reading (allow) so that nothing is under-reported.
    policy
        .get("effect")
        .and_then(Value::as_str)
        .map_or(Value::from("allow"), Value::from)
}

const ACCOUNT_PREFIX: &str = "com.cloudflare.api.account.";
const ZONE_PREFIX: &str = "com.cloudflare.api.account.zone.";
const USER_PREFIX: &str = "com.cloudflare.api.user.";
const R2_PREFIX: &str = "com.cloudflare.edge.r2.bucket.";

/// What a resource key names.
fn classify_resource(key: &str) -> (&'static str, Option<&str>, Option<&str>) {
    if let Some(zone) = key.strip_prefix(ZONE_PREFIX) {
        let zone_id = (zone != "*").then_some(zone);
        ("zone", None, zone_id)
    } else if let Some(account) = key.strip_prefix(ACCOUNT_PREFIX) {
        let account_id = (account != "*" && !account.contains('.')).then_some(account);
        ("account", account_id, None)
    } else if key.starts_with(USER_PREFIX) {
        ("user", None, None)
    } else if key.starts_with(R2_PREFIX) {
        ("r2_bucket", None, None)
    } else {
        ("other", None, None)
    }
}

fn resource_row(
    policy_index: usize,
    effect: &Value,
    key: &str,
    value: &Value,
    parent: Option<&str>,
) -> Value {
    let (kind, account_id, zone_id) = classify_resource(key);
    let parent_account = parent.and_then(|p| classify_resource(p).1);
    json!({
        "policy_index": policy_index,
        "effect": effect,
        "key": key,
        "value": value,
        "parent": parent,
        "kind": kind,
        "all_zones": key == "com.cloudflare.api.account.zone.*",
        "all_accounts": key == "com.cloudflare.api.account.*",
        "account_id": account_id.or(parent_account),
        "zone_id": zone_id,
    })
}

fn resource_facts(token: &Value, ctx: &Ctx<'_>) -> Result<Vec<Value>, EnrichError> {
    let mut rows = Vec::new();
    for (i, policy) in policies(token, ctx)?.iter().enumerate() {
        let effect = effect(policy);
        let resources = match policy.get("resources") {
            None | Some(Value::Null) => continue,
            Some(Value::Object(r)) => r,
            Some(other) => {
                return Err(ctx.err(
                    format!("policies[{i}].resources"),
                    format!("expected an object, got {other}"),
                ))
            }
        };
        for (key, value) in resources {
            match value {
                Value::Object(nested) => {
                    for (inner, v) in nested {
                        rows.push(resource_row(i, &effect, inner, v, Some(key)));
                    }
                }
                v => rows.push(resource_row(i, &effect, key, v, None)),
            }
        }
    }
    Ok(rows)
}

/// Lower-case, trimmed, and the older "Edit" spelled "Write" (DESIGN §5).
pub fn normalize_group_name(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    match lower.strip_suffix(" edit") {
        Some(stem) => format!("{stem} write"),
        None => lower,
    }
}

fn access_of(name: &str) -> u8 {
    match name
        .trim()
        .rsplit(' ')
        .next()
        .map(str::to_lowercase)
        .as_deref()
    {
        Some("write") | Some("edit") => 2,
        Some("read") => 1,
        _ => 0,
    }
}

fn group_facts(
    token: &Value,
    catalogue: Option<&[Value]>,
    ctx: &Ctx<'_>,
) -> Result<Vec<Value>, EnrichError> {
    let index: Option<BTreeMap<&str, &Value>> = catalogue.map(|groups| {
        groups
            .iter()
            .filter_map(|g| g.get("id").and_then(Value::as_str).map(|id| (id, g)))
            .collect()
    });
    let mut rows = Vec::new();
    for (i, policy) in policies(token, ctx)?.iter().enumerate() {
        let effect = effect(policy);
        let groups = match policy.get("permission_groups") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(g)) => g,
            Some(other) => {
                return Err(ctx.err(
                    format!("policies[{i}].permission_groups"),
                    format!("expected a list, got {other}"),
                ))
            }
        };
        for (j, group) in groups.iter().enumerate() {
            let Some(id) = group.get("id").and_then(Value::as_str) else {
                return Err(ctx.err(
                    format!("policies[{i}].permission_groups[{j}].id"),
                    "missing or not a string",
                ));
            };
            let entry = index.as_ref().and_then(|ix| ix.get(id).copied());
            let token_name = group.get("name").and_then(Value::as_str);
            let catalogue_name = entry.and_then(|g| g.get("name")).and_then(Value::as_str);
            let names: Vec<&str> = token_name.into_iter().chain(catalogue_name).collect();
            let match_names: BTreeSet<String> =
                names.iter().map(|n| normalize_group_name(n)).collect();
            let access = match names.iter().map(|n| access_of(n)).max().unwrap_or(0) {
                2 => "write",
                1 => "read",
                _ => "other",
            };
            let scopes = entry
                .and_then(|g| g.get("scopes"))
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new()));
            let mut row = Map::new();
            row.insert("policy_index".into(), i.into());
            row.insert("effect".into(), effect.clone());
            row.insert("id".into(), id.into());
            row.insert("name".into(), token_name.or(catalogue_name).into());
            row.insert("catalogue_name".into(), catalogue_name.into());
            row.insert("match_names".into(), match_names.into_iter().collect());
            row.insert("scopes".into(), scopes);
            row.insert("access".into(), access.into());
            row.insert(
                "known".into(),
                index.as_ref().map(|ix| ix.contains_key(id)).into(),
            );
            rows.push(Value::Object(row));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
