//! `terraform show -json` plans (format_version 1.x; docs/terraform.md, "Plans"): the token
//! resources of `resource_changes` whose actions create or update them, on their `after`
//! values with `after_unknown` marking what apply decides; group names from the
//! permission-group data sources in `prior_state` (root and child modules).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use super::config::TOKEN_TYPES;
use super::value::Value;
use super::TerraformError;

/// One planned token resource.
#[derive(Debug, Clone)]
pub struct Planned {
    pub address: String,
    /// The address without the instance key.
    pub block_address: String,
    pub resource_type: String,
    /// `create`, `update` or `replace`.
    pub action: String,
    pub values: BTreeMap<String, Value>,
    /// The plan file's line holding the address (plans are often one line).
    pub line: usize,
}

/// What a plan holds for tokenwarden.
#[derive(Debug, Default)]
pub struct Plan {
    pub tokens: Vec<Planned>,
    /// Group id → name, from `prior_state`'s permission-group data sources.
    pub names: BTreeMap<String, String>,
    /// Token resources deleted or unchanged: not evaluated, by design (issue 14, part 1).
    pub skipped: Vec<(String, String)>,
}

/// Is this file a plan in JSON (by its first non-blank character)?
pub fn looks_like_plan(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

pub fn read(path: &Path, display: &str) -> Result<Plan, TerraformError> {
    let text = std::fs::read_to_string(path).map_err(|source| TerraformError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, display)
}

fn shape(file: &str, at: &str, message: impl Into<String>) -> TerraformError {
    TerraformError::Plan {
        file: file.to_string(),
        json_path: at.to_string(),
        message: message.into(),
    }
}

pub fn parse(text: &str, file: &str) -> Result<Plan, TerraformError> {
    let doc: Json = serde_json::from_str(text).map_err(|e| TerraformError::Parse {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match doc.get("format_version").and_then(Json::as_str) {
        Some(v) if v.starts_with("1.") => {}
        Some(v) => {
            return Err(shape(
                file,
                "format_version",
                format!("{v:?} is not a 1.x plan format (terraform show -json)"),
            ))
        }
        None => {
            return Err(shape(
                file,
                "format_version",
                "missing: not a plan from `terraform show -json`",
            ))
        }
    }
    let mut plan = Plan::default();
    if let Some(root) = doc.pointer("/prior_state/values/root_module") {
        data_sources(root, &mut plan.names);
    }
    let changes = match doc.get("resource_changes") {
        None | Some(Json::Null) => return Ok(plan),
        Some(Json::Array(c)) => c,
        Some(_) => return Err(shape(file, "resource_changes", "expected a list")),
    };
    for (i, rc) in changes.iter().enumerate() {
        let at = format!("resource_changes[{i}]");
        let ty = rc.get("type").and_then(Json::as_str).unwrap_or_default();
        let mode = rc.get("mode").and_then(Json::as_str).unwrap_or("managed");
        if mode != "managed" || !TOKEN_TYPES.contains(&ty) {
            continue;
        }
        let address = rc
            .get("address")
            .and_then(Json::as_str)
            .ok_or_else(|| shape(file, &format!("{at}.address"), "missing or not a string"))?
            .to_string();
        let name = rc.get("name").and_then(Json::as_str).unwrap_or_default();
        let block_address = match rc.get("module_address").and_then(Json::as_str) {
            Some(m) => format!("{m}.{ty}.{name}"),
            None => format!("{ty}.{name}"),
        };
        let actions: Vec<&str> = rc
            .pointer("/change/actions")
            .and_then(Json::as_array)
            .ok_or_else(|| {
                shape(
                    file,
                    &format!("{at}.change.actions"),
                    "missing or not a list",
                )
            })?
            .iter()
            .filter_map(Json::as_str)
            .collect();
        let action = match actions.as_slice() {
            ["create"] => "create",
            ["update"] => "update",
            ["delete", "create"] | ["create", "delete"] => "replace",
            other => {
                plan.skipped.push((address, other.join(",")));
                continue;
            }
        };
        let after = match rc.pointer("/change/after") {
            Some(Json::Object(o)) => o,
            _ => {
                return Err(shape(
                    file,
                    &format!("{at}.change.after"),
                    "expected an object for a create or update",
                ))
            }
        };
        let unknown = rc
            .pointer("/change/after_unknown")
            .cloned()
            .unwrap_or(Json::Null);
        let mut values = BTreeMap::new();
        for (k, v) in after {
            values.insert(
                k.clone(),
                overlay(v, unknown.get(k), &format!("{address}.{k}")),
            );
        }
        // Attributes only in after_unknown (unknown, so `after` omits them).
        if let Json::Object(u) = &unknown {
            for (k, v) in u {
                if !values.contains_key(k) && v == &Json::Bool(true) {
                    values.insert(
                        k.clone(),
                        Value::Unknown(format!("{address}.{k} (known after apply)")),
                    );
                }
            }
        }
        let line = line_of_address(text, &address);
        plan.tokens.push(Planned {
            address,
            block_address,
            resource_type: ty.to_string(),
            action: action.to_string(),
            values,
            line,
        });
    }
    Ok(plan)
}

/// `after` with `after_unknown`'s `true` leaves turned into unknowns.
fn overlay(v: &Json, unknown: Option<&Json>, path: &str) -> Value {
    match (unknown, v) {
        (Some(Json::Bool(true)), _) => Value::Unknown(format!("{path} (known after apply)")),
        (Some(Json::Array(u)), Json::Array(items)) => {
            let mut out: Vec<Value> = items
                .iter()
                .enumerate()
                .map(|(i, x)| overlay(x, u.get(i), &format!("{path}[{i}]")))
                .collect();
            for (i, flag) in u.iter().enumerate().skip(items.len()) {
                if flag == &Json::Bool(true) {
                    out.push(Value::Unknown(format!("{path}[{i}] (known after apply)")));
                }
            }
            Value::List(out)
        }
        (Some(Json::Object(u)), Json::Object(o)) => {
            let mut out: BTreeMap<String, Value> = o
                .iter()
                .map(|(k, x)| (k.clone(), overlay(x, u.get(k), &format!("{path}.{k}"))))
                .collect();
            for (k, flag) in u {
                if flag == &Json::Bool(true) && !out.contains_key(k) {
                    out.insert(
                        k.clone(),
                        Value::Unknown(format!("{path}.{k} (known after apply)")),
                    );
                }
            }
            Value::Object(out)
        }
        (_, Json::Null) => match unknown {
            Some(Json::Array(_)) | Some(Json::Object(_)) => {
                Value::Unknown(format!("{path} (known after apply)"))
            }
            _ => Value::Null,
        },
        _ => Value::from_json(v),
    }
}

fn data_sources(module: &Json, names: &mut BTreeMap<String, String>) {
    for r in module
        .get("resources")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Json::as_str) != Some("data") {
            continue;
        }
        let values = r.get("values").unwrap_or(&Json::Null);
        match r.get("type").and_then(Json::as_str).unwrap_or_default() {
            "cloudflare_api_token_permission_groups" => {
                for scope in ["permissions", "r2", "user", "account", "zone"] {
                    for (name, id) in values
                        .get(scope)
                        .and_then(Json::as_object)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(id) = id.as_str() {
                            names.insert(id.to_string(), name.clone());
                        }
                    }
                }
            }
            "cloudflare_api_token_permission_groups_list"
            | "cloudflare_account_api_token_permission_groups_list" => {
                for g in values
                    .get("result")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let (Some(id), Some(name)) = (
                        g.get("id").and_then(Json::as_str),
                        g.get("name").and_then(Json::as_str),
                    ) {
                        names.insert(id.to_string(), name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    for child in module
        .get("child_modules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        data_sources(child, names);
    }
}

/// The line of the first `"address": "<address>"` (1 when not found).
fn line_of_address(text: &str, address: &str) -> usize {
    let needle = serde_json::to_string(address).unwrap_or_default();
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let before = text[..at].trim_end();
        if before.ends_with(':')
            && before[..before.len() - 1]
                .trim_end()
                .ends_with("\"address\"")
        {
            return text[..at].matches('\n').count() + 1;
        }
        from = at + needle.len();
    }
    1
}
