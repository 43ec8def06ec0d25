//! Values of a Terraform configuration read without Terraform (docs/terraform.md, "What is
//! known"): what an HCL expression evaluates to when every input is a literal, a variable
//! with a default or a tfvars value, a local, or a permission-group data source; and the
//! explicit [`Value::Unknown`] for everything only `terraform apply` could know.
//!
//! Permission groups are values of their own ([`Value::Group`]): the name a configuration
//! looks a group up by travels with the id expression, through locals and maps, to the
//! token's `permission_groups`, so a group is named without credentials (issue 14, part 2).

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// One evaluated expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    /// A string; `partial` lists the unknown expressions interpolated into it (written
    /// into the text as `${expr}`), e.g. `"com.cloudflare.api.account.zone.${var.zone_id}"`:
    /// a specific resource whose id is not known, never a wildcard.
    Str(String, Vec<String>),
    List(Vec<Value>),
    Object(BTreeMap<String, Value>),
    /// Only `terraform apply` (or a variable value not given) can tell: the expression text.
    Unknown(String),
    /// A permission group's id, known by the name it was looked up with.
    Group(String),
    /// `data.cloudflare_api_token_permission_groups.X` (scope `None`) or `.X.zone` etc.:
    /// indexing it by a name gives that group.
    GroupScope(Option<String>),
    /// One entry of a v5 `…_permission_groups_list` data source filtered by name.
    GroupEntry(String),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into(), Vec::new())
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// The string, when it is one (partially unknown or not).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON; `None` when it is or holds something unknown, with the unknown
    /// expressions pushed to `unknowns`. Partial strings keep their `${…}` text and add
    /// their unknowns too.
    pub fn to_json(&self, unknowns: &mut Vec<String>) -> Option<Json> {
        match self {
            Value::Null => Some(Json::Null),
            Value::Bool(b) => Some(Json::Bool(*b)),
            Value::Number(n) => Some(Json::Number(n.clone())),
            Value::Str(s, partial) => {
                unknowns.extend(partial.iter().cloned());
                Some(Json::String(s.clone()))
            }
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut complete = true;
                for v in items {
                    match v.to_json(unknowns) {
                        Some(j) => out.push(j),
                        None => complete = false,
                    }
                }
                complete.then_some(Json::Array(out))
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                let mut complete = true;
                for (k, v) in map {
                    match v.to_json(unknowns) {
                        Some(j) => {
                            out.insert(k.clone(), j);
                        }
                        None => complete = false,
                    }
                }
                complete.then_some(Json::Object(out))
            }
            Value::Unknown(why) => {
                unknowns.push(why.clone());
                None
            }
            Value::Group(name) | Value::GroupEntry(name) => {
                unknowns.push(format!("the id of permission group {name:?}"));
                None
            }
            Value::GroupScope(_) => {
                unknowns.push("a permission-group data source".into());
                None
            }
        }
    }

    /// A JSON value (a plan's `after`, a tfvars.json value) as a value.
    pub fn from_json(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::str(s.clone()),
            Json::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            Json::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The text a string interpolation makes of the value, or `None` when unknown.
    pub fn interpolated(&self) -> Option<(String, Vec<String>)> {
        match self {
            Value::Str(s, partial) => Some((s.clone(), partial.clone())),
            Value::Number(n) => Some((n.to_string(), Vec::new())),
            Value::Bool(b) => Some((b.to_string(), Vec::new())),
            _ => None,
        }
    }

    /// Index a collection: `v[key]` or `v.key`.
    pub fn index(&self, key: &Value, text: &str) -> Value {
        match (self, key) {
            (Value::Unknown(_), _) | (_, Value::Unknown(_)) => Value::Unknown(text.to_string()),
            (Value::Object(map), k) => match k.as_str() {
                Some(name) => map
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Value::Unknown(text.to_string())),
                None => Value::Unknown(text.to_string()),
            },
            (Value::List(items), Value::Number(n)) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or_else(|| Value::Unknown(text.to_string())),
            (Value::GroupScope(_), k) => match k.as_str() {
                Some(name) if k_is_plain(k) => Value::Group(name.to_string()),
                _ => Value::Unknown(text.to_string()),
            },
            _ => Value::Unknown(text.to_string()),
        }
    }

    /// `v.name`.
    pub fn attr(&self, name: &str, text: &str) -> Value {
        match self {
            Value::GroupScope(None)
                if matches!(name, "zone" | "account" | "user" | "r2" | "permissions") =>
            {
                Value::GroupScope(Some(name.to_string()))
            }
            Value::GroupEntry(group) => match name {
                "id" => Value::Group(group.clone()),
                "name" => Value::str(group.clone()),
                _ => Value::Unknown(text.to_string()),
            },
            Value::Object(map) => map
                .get(name)
                .cloned()
                .unwrap_or_else(|| Value::Unknown(text.to_string())),
            _ => Value::Unknown(text.to_string()),
        }
    }
}

fn k_is_plain(k: &Value) -> bool {
    matches!(k, Value::Str(_, p) if p.is_empty())
}

/// Percent-decoding of a v5 data source's `name` filter (the provider documents the value
/// as URL-encoded: `Zone%20Write`); `+` is left alone, as in a path. Invalid escapes stay.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
