//! A token's comparable state: everything drift is computed from, and nothing secret. Built
//! from the token object as the API sent it (and the owner's permission-group catalogue for
//! group names the token leaves out); stored content-addressed, so an unchanged token costs
//! one small row per scan.

use std::collections::BTreeSet;

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
fn resources(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Object(map)) = v {
        for (key, value) in map {
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    out.extend(inner.keys().map(|k| format!("{key} > {k}")));
                }
                _ => out.push(key.clone()),
            }
        }
    }
    out
}

impl TokenState {
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
            let res = resources(policy.get("resources"));
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
