//! Facts per token (docs/architecture.md §4): pure functions, no I/O. Times are parsed with chrono and
//! CIDRs with ipnet here, once, so that rules compare numbers and booleans and never
//! parse. `docs/input-document.md` is the contract for every field built below.
//!
//! A token the scanner does not understand is never read as clean (issue 12): a status
//! other than active, disabled or expired, a policy that is not an object, an effect other
//! than allow or deny, resources that are not a map of strings (or of maps of strings), a
//! missing `policies`, `resources` or `permission_groups` — each is an [`EnrichError`]
//! naming the JSON path inside the token, and the token is reported as not evaluated.
//! Where a reading that reports exists it is taken instead: a policy without `effect`
//! counts as allow.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use ipnet::IpNet;
use regorus::value::{Array, Object};
use regorus::Value;

use crate::inventory::{Owner, RawToken, TokenRef};

/// A token whose verbatim object cannot be read as Cloudflare documents it. The token is
/// reported as not evaluated; the rest of the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {token_id}: {field}: {message}")]
pub struct EnrichError {
    pub token_id: String,
    pub field: String,
    pub message: String,
}

/// What every token of one owner shares, built once per owner rather than once per token:
/// the clock, the owner object and the owner's catalogue indexed by group id.
///
/// The document is built as a regorus value directly: a JSON tree per token that is then
/// converted would cost as much again as the facts themselves (issue 5).
pub struct OwnerContext {
    now: DateTime<Utc>,
    now_value: Value,
    owner: Value,
    scanner_token_id: Option<String>,
    /// Group id -> (catalogue name, scopes); `None` when the catalogue was not read.
    catalogue: Option<HashMap<String, (Option<String>, Value)>>,
}

impl OwnerContext {
    pub fn new(
        owner: &Owner,
        catalogue: Option<&[serde_json::Value]>,
        now: DateTime<Utc>,
        scanner_token_id: Option<&str>,
    ) -> OwnerContext {
        let catalogue = catalogue.map(|groups| {
            let mut index = HashMap::with_capacity(groups.len());
            for g in groups {
                let Some(id) = g.get("id").and_then(serde_json::Value::as_str) else {
                    continue;
                };
                // The first entry of a duplicated id wins, as a map lookup in order would.
                index.entry(id.to_string()).or_insert_with(|| {
                    let name = g.get("name").and_then(serde_json::Value::as_str);
                    let scopes = g
                        .get("scopes")
                        .map(|s| Value::from(s.clone()))
                        .unwrap_or_else(Value::new_array);
                    (name.map(str::to_string), scopes)
                });
            }
            index
        });
        OwnerContext {
            now,
            now_value: Value::from(rfc3339(now)),
            owner: owner_value(owner),
            scanner_token_id: scanner_token_id.map(str::to_string),
            catalogue,
        }
    }
}

impl OwnerContext {
    /// Whether the owner's permission-group catalogue was read.
    pub fn has_catalogue(&self) -> bool {
        self.catalogue.is_some()
    }
}

/// Why an evaluated token's findings may still be incomplete: a permission group the token
/// names only by id while its owner's catalogue was not read, so the rules that match
/// groups by name (token-can-manage-tokens, token-sensitive-write, the write access of
/// token-all-zones) cannot see it (issue 12). `None` when the catalogue was read or every
/// group has a name. `input` is the token's input document.
pub fn unresolved_groups(input: &Value, catalogue_read: bool) -> Option<String> {
    if catalogue_read {
        return None;
    }
    let Value::Array(policies) = get(get(input, "token"), "policies") else {
        return None;
    };
    let mut paths = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let Value::Array(groups) = get(policy, "permission_groups") else {
            continue;
        };
        for (j, group) in groups.iter().enumerate() {
            let named = as_str(get(group, "name")).is_some_and(|n| !n.trim().is_empty());
            if !named {
                let id = as_str(get(group, "id")).unwrap_or_default();
                paths.push(format!("policies[{i}].permission_groups[{j}] (id {id})"));
            }
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(format!(
        "{}: no name in the token and the owner's permission-group catalogue was not read, so rules that match permission groups by name cannot see {}",
        paths.join(", "),
        if paths.len() == 1 { "it" } else { "them" }
    ))
}

/// Build the Rego input document for one token.
pub fn input_document(
    token: TokenRef<'_>,
    now: DateTime<Utc>,
    scanner_token_id: Option<&str>,
) -> Result<Value, EnrichError> {
    let ctx = OwnerContext::new(token.owner, token.catalogue, now, scanner_token_id);
    input_document_in(token.token, &ctx)
}

/// [`input_document`] with the owner's shared part already built.
pub fn input_document_in(token: &RawToken, owner: &OwnerContext) -> Result<Value, EnrichError> {
    let ctx = Ctx {
        token_id: token.id(),
    };
    let t = Value::from_json_str(token.json())
        .map_err(|e| ctx.err("token", format!("not valid JSON: {e}")))?;
    let facts = facts(&t, token.id(), owner, &ctx)?;
    Ok(obj([
        ("facts", facts),
        ("now", owner.now_value.clone()),
        ("owner", owner.owner.clone()),
        ("token", t),
    ]))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An object from its members.
fn obj<const N: usize>(members: [(&str, Value); N]) -> Value {
    members
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect::<Object>()
        .into_value()
}

/// `null` for `None`.
fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

fn owner_value(owner: &Owner) -> Value {
    match owner {
        Owner::User { id } => obj([("kind", "user".into()), ("id", opt(id.as_deref()))]),
        Owner::Account { id, name } => obj([
            ("kind", "account".into()),
            ("id", id.as_str().into()),
            ("name", opt(name.as_deref())),
        ]),
    }
}

fn days_between(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_milliseconds() as f64 / 86_400_000.0
}

/// A member of an object; `Undefined` when absent or when `v` is not an object.
fn get<'v>(v: &'v Value, key: &str) -> &'v Value {
    match v {
        Value::Object(o) => o.get(&Value::from(key)).unwrap_or(&Value::Undefined),
        _ => &Value::Undefined,
    }
}

fn as_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
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
        match get(token, field) {
            Value::Undefined | Value::Null => Ok(None),
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| self.err(field, format!("invalid RFC 3339 time {s:?}: {e}"))),
            other => Err(self.err(field, format!("expected a string, got {other}"))),
        }
    }
}

fn facts(
    t: &Value,
    token_id: &str,
    owner: &OwnerContext,
    ctx: &Ctx<'_>,
) -> Result<Value, EnrichError> {
    if !matches!(t, Value::Object(_)) {
        return Err(ctx.err("token", format!("expected an object, got {t}")));
    }
    let now = owner.now;
    // Cloudflare's statuses (iam_token_status). Without one the token could be active or
    // not, and every rule on active tokens depends on it.
    let status = match get(t, "status") {
        Value::String(s) if STATUSES.contains(&s.as_ref()) => Some(s.as_ref()),
        Value::String(s) => {
            return Err(ctx.err(
                "status",
                format!("unknown status {:?} (expected active, disabled or expired)", s.as_ref()),
            ))
        }
        Value::Undefined | Value::Null => {
            return Err(ctx.err(
                "status",
                "missing (expected active, disabled or expired): whether the token is active is unknown",
            ))
        }
        other => return Err(ctx.err("status", format!("expected a string, got {other}"))),
    };
    let issued_on = ctx.time(t, "issued_on")?;
    let modified_on = ctx.time(t, "modified_on")?;
    let last_used_on = ctx.time(t, "last_used_on")?;
    let not_before = ctx.time(t, "not_before")?;
    let expires_on = ctx.time(t, "expires_on")?;

    // A token is expired at exactly expires_on (docs/architecture.md §5, precise readings).
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
    let policies = policies(t, ctx)?;

    Ok(obj([
        ("active", active.into()),
        ("status", opt(status)),
        ("expired", expired.into()),
        ("not_yet_valid", not_yet_valid.into()),
        ("age_days", opt(since(issued_on))),
        ("secret_age_days", opt(since(modified_on.or(issued_on)))),
        ("lifetime_days", opt(lifetime_days)),
        (
            "days_until_expiry",
            opt(expires_on.map(|e| days_between(e, now))),
        ),
        ("days_since_last_use", opt(since(last_used_on))),
        ("never_used", last_used_on.is_none().into()),
        ("inactive_days", opt(inactive_days)),
        (
            "is_scanner",
            owner
                .scanner_token_id
                .as_deref()
                .is_some_and(|s| !s.is_empty() && s == token_id)
                .into(),
        ),
        ("ip", ip_facts(get(t, "condition"), ctx)?),
        ("resources", resource_facts(policies, ctx)?),
        (
            "permission_groups",
            group_facts(policies, owner.catalogue.as_ref(), ctx)?,
        ),
    ]))
}

/// The token statuses Cloudflare documents.
const STATUSES: [&str; 3] = ["active", "disabled", "expired"];

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

/// One allow or deny entry: its fact row, whether it is valid, whether it is any-address,
/// and its text when it is invalid.
fn cidr_value(raw: &Value) -> (Value, bool, bool, Option<String>) {
    let text = match raw {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    };
    let net = as_str(raw).and_then(parse_cidr);
    match net {
        Some(n) => (
            obj([
                ("cidr", text.as_str().into()),
                ("valid", true.into()),
                ("version", if n.addr().is_ipv4() { 4u64 } else { 6 }.into()),
                ("prefix", u64::from(n.prefix_len()).into()),
                ("any", (n.prefix_len() == 0).into()),
            ]),
            true,
            n.prefix_len() == 0,
            None,
        ),
        None => (
            obj([
                ("cidr", text.as_str().into()),
                ("valid", false.into()),
                ("version", Value::Null),
                ("prefix", Value::Null),
                ("any", false.into()),
            ]),
            false,
            false,
            Some(text),
        ),
    }
}

fn ip_facts(condition: &Value, ctx: &Ctx<'_>) -> Result<Value, EnrichError> {
    let condition = match condition {
        Value::Undefined | Value::Null => None,
        c @ Value::Object(_) => Some(c),
        other => return Err(ctx.err("condition", format!("expected an object, got {other}"))),
    };
    let mut key_used = Value::Null;
    let mut allow = Vec::new();
    let mut deny = Vec::new();
    let mut invalid = Vec::new();
    let mut has_allowlist = false;
    let mut allows_any = false;
    // Both spellings occur in the wild; read both so neither hides entries.
    for key in ["request_ip", "request.ip"] {
        let ip = match condition.map(|c| get(c, key)) {
            None | Some(Value::Undefined) => continue,
            Some(ip) => ip,
        };
        if key_used == Value::Null {
            key_used = Value::from(key);
        }
        match ip {
            Value::Null => continue,
            Value::Object(_) => {}
            other => {
                return Err(ctx.err(
                    format!("condition.{key}"),
                    format!("expected an object, got {other}"),
                ))
            }
        }
        for (list, is_allow) in [("in", true), ("not_in", false)] {
            match get(ip, list) {
                Value::Undefined | Value::Null => {}
                Value::Array(entries) => {
                    for e in entries.iter() {
                        let (v, valid, any, bad) = cidr_value(e);
                        if is_allow {
                            has_allowlist |= valid;
                            allows_any |= valid && any;
                            allow.push(v);
                        } else {
                            deny.push(v);
                        }
                        invalid.extend(bad.map(Value::from));
                    }
                }
                other => {
                    return Err(ctx.err(
                        format!("condition.{key}.{list}"),
                        format!("expected a list of CIDRs, got {other}"),
                    ))
                }
            }
        }
    }
    Ok(obj([
        ("condition_key", key_used),
        ("has_allowlist", has_allowlist.into()),
        ("allows_any", allows_any.into()),
        ("allow", allow.into()),
        ("deny", deny.into()),
        ("invalid", invalid.into()),
    ]))
}

/// The token's policies: a list of objects, each with an effect. A token without
/// `policies` grants what nobody can tell, so it is not evaluated.
fn policies<'a>(token: &'a Value, ctx: &Ctx<'_>) -> Result<&'a Array, EnrichError> {
    let list = match get(token, "policies") {
        Value::Array(p) => p,
        Value::Undefined | Value::Null => {
            return Err(ctx.err("policies", "missing: what the token may do is unknown"))
        }
        other => return Err(ctx.err("policies", format!("expected a list, got {other}"))),
    };
    for (i, policy) in list.iter().enumerate() {
        if !matches!(policy, Value::Object(_)) {
            return Err(ctx.err(
                format!("policies[{i}]"),
                format!("expected an object, got {policy}"),
            ));
        }
        effect(policy, i, ctx)?;
    }
    Ok(list)
}

/// A policy's effect: `allow` or `deny`. `effect` is required by the API; when a policy
/// omits it, the reading that reports is taken (allow), so nothing is under-reported.
fn effect(policy: &Value, i: usize, ctx: &Ctx<'_>) -> Result<Value, EnrichError> {
    match get(policy, "effect") {
        Value::Undefined | Value::Null => Ok(Value::from("allow")),
        e @ Value::String(s) if matches!(s.as_ref(), "allow" | "deny") => Ok(e.clone()),
        Value::String(s) => Err(ctx.err(
            format!("policies[{i}].effect"),
            format!("unknown effect {:?} (expected allow or deny)", s.as_ref()),
        )),
        other => Err(ctx.err(
            format!("policies[{i}].effect"),
            format!("expected a string, got {other}"),
        )),
    }
}

/// `["key"]`: a resource key as a JSON path step (keys hold dots).
fn key_step(key: &str) -> String {
    format!("[{key:?}]")
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
    obj([
        ("policy_index", policy_index.into()),
        ("effect", effect.clone()),
        ("key", key.into()),
        ("value", value.clone()),
        ("parent", opt(parent)),
        ("kind", kind.into()),
        (
            "all_zones",
            (key == "com.cloudflare.api.account.zone.*").into(),
        ),
        (
            "all_accounts",
            (key == "com.cloudflare.api.account.*").into(),
        ),
        ("account_id", opt(account_id.or(parent_account))),
        ("zone_id", opt(zone_id)),
    ])
}

/// Every resource of every policy. Cloudflare's shape (iam_resources): a map of resource
/// key to a string, or to a map of resource key to a string; anything else is not
/// evaluated, since what it covers is unknown.
fn resource_facts(policies: &Array, ctx: &Ctx<'_>) -> Result<Value, EnrichError> {
    let mut rows = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let effect = effect(policy, i, ctx)?;
        let path = format!("policies[{i}].resources");
        let resources = match get(policy, "resources") {
            Value::Object(r) => r,
            Value::Undefined | Value::Null => {
                return Err(ctx.err(path, "missing: what the policy covers is unknown"))
            }
            other => return Err(ctx.err(path, format!("expected an object, got {other}"))),
        };
        for (key, value) in resources.iter() {
            // Object keys parsed from JSON are strings.
            let key = as_str(key).unwrap_or_default();
            match value {
                Value::String(_) => rows.push(resource_row(i, &effect, key, value, None)),
                Value::Object(nested) => {
                    for (inner, v) in nested.iter() {
                        let inner = as_str(inner).unwrap_or_default();
                        if !matches!(v, Value::String(_)) {
                            return Err(ctx.err(
                                format!("{path}{}{}", key_step(key), key_step(inner)),
                                format!("expected a string, got {v}"),
                            ));
                        }
                        rows.push(resource_row(i, &effect, inner, v, Some(key)));
                    }
                }
                other => {
                    return Err(ctx.err(
                        format!("{path}{}", key_step(key)),
                        format!("expected a string or an object of strings, got {other}"),
                    ))
                }
            }
        }
    }
    Ok(rows.into())
}

/// Lower-case, trimmed, and the older "Edit" spelled "Write" (docs/architecture.md §5).
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
    policies: &Array,
    catalogue: Option<&HashMap<String, (Option<String>, Value)>>,
    ctx: &Ctx<'_>,
) -> Result<Value, EnrichError> {
    let mut rows = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let effect = effect(policy, i, ctx)?;
        let groups = match get(policy, "permission_groups") {
            Value::Undefined | Value::Null => {
                return Err(ctx.err(
                    format!("policies[{i}].permission_groups"),
                    "missing: what the policy grants is unknown",
                ))
            }
            Value::Array(g) => g,
            other => {
                return Err(ctx.err(
                    format!("policies[{i}].permission_groups"),
                    format!("expected a list, got {other}"),
                ))
            }
        };
        for (j, group) in groups.iter().enumerate() {
            let Some(id) = as_str(get(group, "id")) else {
                return Err(ctx.err(
                    format!("policies[{i}].permission_groups[{j}].id"),
                    "missing or not a string",
                ));
            };
            let entry = catalogue.and_then(|ix| ix.get(id));
            let token_name = match get(group, "name") {
                Value::Undefined | Value::Null => None,
                Value::String(s) => Some(s.as_ref()),
                other => {
                    return Err(ctx.err(
                        format!("policies[{i}].permission_groups[{j}].name"),
                        format!("expected a string, got {other}"),
                    ))
                }
            };
            let catalogue_name = entry.and_then(|(name, _)| name.as_deref());
            let names: Vec<&str> = token_name.into_iter().chain(catalogue_name).collect();
            let match_names: BTreeSet<String> =
                names.iter().map(|n| normalize_group_name(n)).collect();
            let access = match names.iter().map(|n| access_of(n)).max().unwrap_or(0) {
                2 => "write",
                1 => "read",
                _ => "other",
            };
            let scopes = entry.map_or_else(Value::new_array, |(_, scopes)| scopes.clone());
            rows.push(obj([
                ("policy_index", i.into()),
                ("effect", effect.clone()),
                ("id", id.into()),
                ("name", opt(token_name.or(catalogue_name))),
                ("catalogue_name", opt(catalogue_name)),
                (
                    "match_names",
                    match_names
                        .into_iter()
                        .map(Value::from)
                        .collect::<Vec<_>>()
                        .into(),
                ),
                ("scopes", scopes),
                ("access", access.into()),
                ("known", opt(catalogue.map(|_| entry.is_some()))),
            ]));
        }
    }
    Ok(rows.into())
}

#[cfg(test)]
mod tests;
