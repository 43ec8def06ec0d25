//! One token resource's values (from a `.tf` block or a plan's `after`) → the token object
//! the API would return for it, as if created at `now` (docs/terraform.md, "Mapping"):
//! provider v4 (`policy` blocks, map `resources`, `condition { request_ip { … } }`) and v5
//! (`policies = [...]`, `jsonencode` resources, `condition = { request_ip = … }`). What is
//! not known is left out of the token and named in [`Mapped::unknowns`], and the fields it
//! touches in [`Mapped::unknown_fields`], so no rule fires because of it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value as Json};

use super::value::Value;
use super::{derived_id, Field};
use crate::enrich::{normalize_group_name, rfc3339};

/// Where permission-group names come from besides the configuration's lookups.
#[derive(Debug, Default)]
pub struct Names<'a> {
    /// Group id → name, from a plan's data sources.
    pub by_id: BTreeMap<String, String>,
    /// The catalogue (`--permission-groups`, `--snapshot`), when one was read.
    pub catalogue: Option<&'a [Json]>,
}

impl Names<'_> {
    fn catalogue_id(&self, name: &str) -> Option<String> {
        let want = normalize_group_name(name);
        self.catalogue?.iter().find_map(|g| {
            let n = g.get("name")?.as_str()?;
            (normalize_group_name(n) == want)
                .then(|| g.get("id")?.as_str().map(str::to_string))
                .flatten()
        })
    }

    fn catalogue_has(&self, id: &str) -> bool {
        self.catalogue.is_some_and(|c| {
            c.iter()
                .any(|g| g.get("id").and_then(Json::as_str) == Some(id))
        })
    }
}

/// The token object and what could not be known about it.
#[derive(Debug, Clone, Default)]
pub struct Mapped {
    pub token: Json,
    pub unknowns: Vec<String>,
    pub unknown_fields: BTreeSet<Field>,
    /// Groups named only by an id no lookup or catalogue names, or not known at all.
    pub unresolved_groups: Vec<String>,
    /// Groups whose value is unknown (left out of the token).
    pub unknown_groups: usize,
    /// `cloudflare_account_token`'s `account_id`: `Ok(id)`, or `Err(expression)`.
    pub account: Option<Result<String, String>>,
}

/// Map one resource. `values` are its top-level attributes (v4 blocks as values).
pub fn map(
    id: &str,
    address: &str,
    resource_type: &str,
    values: &BTreeMap<String, Value>,
    names: &Names<'_>,
    now: DateTime<Utc>,
) -> Mapped {
    let mut m = Mapped::default();
    let mut token = Map::new();
    token.insert("id".into(), json!(id));
    let name = match values.get("name") {
        Some(Value::Str(s, partial)) => {
            m.unknowns
                .extend(partial.iter().map(|p| format!("name: {p}")));
            s.clone()
        }
        Some(other) => {
            m.note(other, "name");
            address.to_string()
        }
        None => address.to_string(),
    };
    token.insert("name".into(), json!(name));
    // Terraform's default is active; an unknown status is read so, and listed.
    let status = match values.get("status") {
        Some(Value::Str(s, p)) if p.is_empty() && matches!(s.as_str(), "active" | "disabled") => {
            s.clone()
        }
        None | Some(Value::Null) => "active".into(),
        Some(other) => {
            m.note(other, "status");
            "active".into()
        }
    };
    token.insert("status".into(), json!(status));
    let at = rfc3339(now);
    token.insert("issued_on".into(), json!(at));
    token.insert("modified_on".into(), json!(at));
    for (key, field) in [
        ("not_before", Field::NotBefore),
        ("expires_on", Field::Expiry),
    ] {
        match values.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Str(s, p)) if p.is_empty() => {
                token.insert(key.into(), json!(s));
            }
            Some(other) => {
                m.note(other, key);
                m.unknown_fields.insert(field);
            }
        }
    }
    let policies = match values.get("policies").or_else(|| values.get("policy")) {
        Some(Value::List(items)) => items.clone(),
        Some(other @ Value::Object(_)) => vec![other.clone()],
        Some(other) => {
            m.note(other, "policies");
            m.unknown_fields.insert(Field::Policies);
            Vec::new()
        }
        None => Vec::new(),
    };
    let policies: Vec<Json> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| m.policy(i, p, names))
        .collect();
    token.insert("policies".into(), Json::Array(policies));
    if let Some(c) = values.get("condition") {
        if let Some(condition) = m.condition(single(c)) {
            token.insert("condition".into(), condition);
        }
    }
    if resource_type == "cloudflare_account_token" {
        m.account = Some(match values.get("account_id") {
            Some(Value::Str(s, p)) if p.is_empty() => Ok(s.clone()),
            Some(Value::Str(s, _)) => Err(s.clone()),
            Some(Value::Unknown(e)) => Err(e.clone()),
            _ => Err("account_id".into()),
        });
    }
    m.token = Json::Object(token);
    m.unknowns.dedup();
    m
}

/// A v4 block in a plan is a one-element list (its element), or an empty one (absent).
fn single(v: &Value) -> &Value {
    match v {
        Value::List(items) if items.len() == 1 => &items[0],
        Value::List(items) if items.is_empty() => &Value::Null,
        other => other,
    }
}

impl Mapped {
    fn note(&mut self, v: &Value, path: &str) {
        let mut unknowns = Vec::new();
        let _ = v.to_json(&mut unknowns);
        if unknowns.is_empty() {
            unknowns.push(format!("{v:?}"));
        }
        self.unknowns
            .extend(unknowns.into_iter().map(|u| format!("{path}: {u}")));
    }

    fn policy(&mut self, i: usize, p: &Value, names: &Names<'_>) -> Json {
        let at = format!("policies[{i}]");
        let Value::Object(p) = p else {
            self.note(p, &at);
            self.unknown_fields.insert(Field::Policies);
            return json!({"effect": "allow", "permission_groups": [], "resources": {}});
        };
        let mut out = Map::new();
        match p.get("effect") {
            None | Some(Value::Null) => {
                out.insert("effect".into(), json!("allow"));
            }
            Some(Value::Str(s, e)) if e.is_empty() => {
                out.insert("effect".into(), json!(s));
            }
            Some(other) => {
                self.note(other, &format!("{at}.effect"));
                out.insert("effect".into(), json!("allow"));
            }
        }
        let mut groups = Vec::new();
        match p.get("permission_groups") {
            Some(Value::List(items)) => {
                for (j, g) in items.iter().enumerate() {
                    if let Some(g) = self.group(&format!("{at}.permission_groups[{j}]"), g, names) {
                        groups.push(g);
                    }
                }
            }
            Some(other) => {
                self.note(other, &format!("{at}.permission_groups"));
                self.unknown_groups += 1;
                self.unresolved_groups
                    .push(format!("{at}.permission_groups: not known until apply"));
                self.unknown_fields.insert(Field::Groups);
            }
            None => {}
        }
        out.insert("permission_groups".into(), Json::Array(groups));
        let resources = match p.get("resources") {
            Some(v) => self.resources(&format!("{at}.resources"), v),
            None => Json::Object(Map::new()),
        };
        // A key with an interpolated unknown (`…zone.${var.zone_id}`) is a specific
        // resource whose id is not known: say so.
        self.partial_keys(&format!("{at}.resources"), &resources);
        out.insert("resources".into(), resources);
        Json::Object(out)
    }

    /// One group: `{id, name}` when the name is known.
    fn group(&mut self, at: &str, g: &Value, names: &Names<'_>) -> Option<Json> {
        // v5: `{ id = … }`.
        let g = match g {
            Value::Object(o) => o.get("id").unwrap_or(&Value::Null),
            other => other,
        };
        match g {
            Value::Group(name) => {
                let id = names
                    .catalogue_id(name)
                    .unwrap_or_else(|| derived_id("permission-group", name));
                Some(json!({"id": id, "name": name}))
            }
            Value::Str(id, p) if p.is_empty() => match names.by_id.get(id) {
                Some(name) => Some(json!({"id": id, "name": name})),
                None => {
                    if !names.catalogue_has(id) {
                        self.unresolved_groups.push(format!(
                            "{at}: id {id} is named by no data-source lookup{}",
                            if names.catalogue.is_some() {
                                " and is not in the permission-group catalogue"
                            } else {
                                " (give --permission-groups FILE to resolve it)"
                            }
                        ));
                    }
                    Some(json!({"id": id}))
                }
            },
            other => {
                self.note(other, at);
                self.unknown_groups += 1;
                self.unresolved_groups
                    .push(format!("{at}: not known until apply"));
                self.unknown_fields.insert(Field::Groups);
                None
            }
        }
    }

    /// A map of resource keys (v4, and v5 written as a map) or its `jsonencode` text (v5);
    /// a nested account → zones map may itself be a `jsonencode` string (v4 documents it).
    fn resources(&mut self, at: &str, v: &Value) -> Json {
        let parsed = match v {
            // Unknowns interpolated into keys are named by `partial_keys`.
            Value::Str(s, _) => match serde_json::from_str::<Json>(s) {
                Ok(j @ Json::Object(_)) => return j,
                _ => return Json::String(s.clone()),
            },
            Value::Object(map) => map,
            other => {
                self.note(other, at);
                self.unknown_fields.insert(Field::Resources);
                return Json::Object(Map::new());
            }
        };
        let mut out = Map::new();
        for (k, v) in parsed {
            let value = match v {
                Value::Str(s, _) => match serde_json::from_str::<Json>(s) {
                    Ok(j @ Json::Object(_)) => j,
                    _ => Json::String(s.clone()),
                },
                Value::Object(_) => self.resources(&format!("{at}[{k:?}]"), v),
                other => {
                    self.note(other, &format!("{at}[{k:?}]"));
                    self.unknown_fields.insert(Field::Resources);
                    continue;
                }
            };
            out.insert(k.clone(), value);
        }
        Json::Object(out)
    }

    fn partial_keys(&mut self, at: &str, resources: &Json) {
        if let Json::Object(map) = resources {
            for (k, v) in map {
                if k.contains("${") {
                    let note = format!("{at}: {k}");
                    if !self.unknowns.contains(&note) {
                        self.unknowns.push(note);
                    }
                }
                self.partial_keys(at, v);
            }
        }
    }

    /// `condition.request_ip.in/not_in`: unknown entries are left out (and the condition
    /// marked unknown); a CIDR with an interpolated unknown is unknown, not invalid.
    fn condition(&mut self, c: &Value) -> Option<Json> {
        let Value::Object(c) = c else {
            if !matches!(c, Value::Null) {
                self.note(c, "condition");
                self.unknown_fields.insert(Field::Condition);
            }
            return None;
        };
        let ip = single(c.get("request_ip")?);
        let Value::Object(ip) = ip else {
            if !matches!(ip, Value::Null) {
                self.note(ip, "condition.request_ip");
                self.unknown_fields.insert(Field::Condition);
            }
            return None;
        };
        let mut out = Map::new();
        for list in ["in", "not_in"] {
            let at = format!("condition.request_ip.{list}");
            match ip.get(list) {
                None | Some(Value::Null) => {}
                Some(Value::List(items)) => {
                    let mut entries = Vec::new();
                    for (i, e) in items.iter().enumerate() {
                        match e {
                            Value::Str(s, p) if p.is_empty() => entries.push(json!(s)),
                            other => {
                                self.note(other, &format!("{at}[{i}]"));
                                self.unknown_fields.insert(Field::Condition);
                            }
                        }
                    }
                    out.insert(list.into(), Json::Array(entries));
                }
                Some(other) => {
                    self.note(other, &at);
                    self.unknown_fields.insert(Field::Condition);
                }
            }
        }
        Some(json!({ "request_ip": out }))
    }
}
