//! A token's comparable state: everything drift is computed from, and nothing secret. Built
//! from the token object as the API sent it (and the owner's permission-group catalogue for
//! group names the token leaves out); stored content-addressed, so an unchanged token costs
//! one small row per scan.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::scope::Owner;

/// One thing a token's policies allow or deny: (effect, permission group, resource).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub effect: String,
    pub group_id: String,
    /// The group's name from the token or the owner's catalogue; empty when neither has it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group_name: String,
    /// The resource key; a nested key (an account's zones) is `outer > inner`.
    pub resource: String,
}

impl Grant {
    /// `"Zone Write" on com.cloudflare.api.account.zone.*` (a deny says so first).
    pub fn show(&self) -> String {
        let group = if self.group_name.is_empty() {
            &self.group_id
        } else {
            &self.group_name
        };
        let effect = if self.effect == "allow" {
            String::new()
        } else {
            format!("{} ", self.effect)
        };
        format!("{effect}{group:?} on {}", self.resource)
    }
}

/// A token's comparable state. Times are kept as the API sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenState {
    pub owner: Owner,
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub issued_on: Option<String>,
    /// Changes when the token is edited or its secret rolled: the rotation marker.
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default)]
    pub expires_on: Option<String>,
    #[serde(default)]
    pub not_before: Option<String>,
    pub grants: BTreeSet<Grant>,
    /// `condition.request_ip.in` / `.not_in`; `None` when the token has no such list.
    #[serde(default)]
    pub ip_in: Option<BTreeSet<String>>,
    #[serde(default)]
    pub ip_not_in: Option<BTreeSet<String>>,
    /// Not part of the identity of the state (it moves every day a token is used): stored
    /// beside each scan's row, not in the content-addressed state.
    #[serde(skip)]
    pub last_used_on: Option<String>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn ip_list(condition: Option<&Value>, key: &str) -> Option<BTreeSet<String>> {
    let list = condition?.get("request_ip")?.get(key)?.as_array()?;
    Some(
        list.iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
    )
}

/// Every resource key of a policy's `resources` object, nested ones as `outer > inner`.
fn resources_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Object(map)) => resource_keys(map),
        _ => Vec::new(),
    }
}

fn resource_keys<'v>(map: impl IntoIterator<Item = (&'v String, &'v Value)>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in map {
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.extend(inner.keys().map(|k| format!("{key} > {k}")));
            }
            _ => out.push(key.clone()),
        }
    }
    out
}

/// The fields of an API token object the state needs, read without building a JSON tree
/// (a 100k-token scan reads every token once more for its history). An object of any
/// other shape is read through [`TokenState::of`] instead, which takes anything.
#[derive(Deserialize)]
struct ApiToken<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    issued_on: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    modified_on: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    expires_on: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    not_before: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    last_used_on: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    policies: Option<Vec<ApiPolicy<'a>>>,
    #[serde(borrow, default)]
    condition: Option<ApiCondition<'a>>,
}

#[derive(Deserialize)]
struct ApiPolicy<'a> {
    #[serde(borrow, default)]
    effect: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    permission_groups: Option<Vec<ApiGroup<'a>>>,
    #[serde(default)]
    resources: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
struct ApiGroup<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ApiCondition<'a> {
    #[serde(borrow, default)]
    request_ip: Option<ApiRequestIp<'a>>,
}

#[derive(Deserialize)]
struct ApiRequestIp<'a> {
    #[serde(borrow, default, rename = "in")]
    ip_in: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    not_in: Option<Vec<Cow<'a, str>>>,
}

fn owned(v: Option<Cow<'_, str>>) -> Option<String> {
    v.map(Cow::into_owned)
}

impl TokenState {
    /// The state of a token given as the compact JSON text the API sent; the same as
    /// [`TokenState::of`] on its parsed value.
    pub fn from_json(owner: &Owner, json: &str, catalogue: Option<&[Value]>) -> TokenState {
        let Ok(t) = serde_json::from_str::<ApiToken<'_>>(json) else {
            let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            return TokenState::of(owner, &value, catalogue);
        };
        let name_in_catalogue = |id: &str| -> Option<String> {
            catalogue?
                .iter()
                .find(|g| g.get("id").and_then(Value::as_str) == Some(id))
                .and_then(|g| g.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut grants = BTreeSet::new();
        for policy in t.policies.iter().flatten() {
            let effect = policy.effect.as_deref().unwrap_or("allow").to_string();
            let res = resource_keys(policy.resources.iter().flatten());
            for group in policy.permission_groups.iter().flatten() {
                let group_id = group.id.as_deref().unwrap_or_default().to_string();
                let group_name = group
                    .name
                    .as_deref()
                    .map(str::to_string)
                    .or_else(|| name_in_catalogue(&group_id))
                    .unwrap_or_default();
                for r in &res {
                    grants.insert(Grant {
                        effect: effect.clone(),
                        group_id: group_id.clone(),
                        group_name: group_name.clone(),
                        resource: r.clone(),
                    });
                }
            }
        }
        let ip = t.condition.and_then(|c| c.request_ip);
        let list =
            |l: Option<Vec<Cow<'_, str>>>| l.map(|l| l.into_iter().map(Cow::into_owned).collect());
        let (ip_in, ip_not_in) = match ip {
            Some(ip) => (list(ip.ip_in), list(ip.not_in)),
            None => (None, None),
        };
        TokenState {
            owner: owner.clone(),
            id: owned(t.id).unwrap_or_default(),
            name: owned(t.name),
            status: owned(t.status),
            issued_on: owned(t.issued_on),
            modified_on: owned(t.modified_on),
            expires_on: owned(t.expires_on),
            not_before: owned(t.not_before),
            grants,
            ip_in,
            ip_not_in,
            last_used_on: owned(t.last_used_on),
        }
    }

    /// The state of `token` (an API token object) of `owner`; `catalogue` names groups the
    /// token lists by id only.
    pub fn of(owner: &Owner, token: &Value, catalogue: Option<&[Value]>) -> TokenState {
        let name_in_catalogue = |id: &str| -> Option<String> {
            catalogue?
                .iter()
                .find(|g| g.get("id").and_then(Value::as_str) == Some(id))
                .and_then(|g| g.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut grants = BTreeSet::new();
        for policy in token
            .get("policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let effect = text(policy.get("effect")).unwrap_or_else(|| "allow".into());
            let res = resources_of(policy.get("resources"));
            for group in policy
                .get("permission_groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let group_id = text(group.get("id")).unwrap_or_default();
                let group_name = text(group.get("name"))
                    .or_else(|| name_in_catalogue(&group_id))
                    .unwrap_or_default();
                for r in &res {
                    grants.insert(Grant {
                        effect: effect.clone(),
                        group_id: group_id.clone(),
                        group_name: group_name.clone(),
                        resource: r.clone(),
                    });
                }
            }
        }
        let condition = token.get("condition");
        TokenState {
            owner: owner.clone(),
            id: text(token.get("id")).unwrap_or_default(),
            name: text(token.get("name")),
            status: text(token.get("status")),
            issued_on: text(token.get("issued_on")),
            modified_on: text(token.get("modified_on")),
            expires_on: text(token.get("expires_on")),
            not_before: text(token.get("not_before")),
            grants,
            ip_in: ip_list(condition, "in"),
            ip_not_in: ip_list(condition, "not_in"),
            last_used_on: text(token.get("last_used_on")),
        }
    }

    /// The state's stored form (without `last_used_on`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The content address of the stored form.
    pub fn hash(json: &str) -> String {
        Sha256::digest(json.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `user/<id>` or `accounts/<a>/<id>`: a token's key across scans.
    pub fn key(&self) -> (String, String) {
        (self.owner.path(), self.id.clone())
    }

    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.id)
    }
}
