//! The spec's response schemas as JSON Schema validators: every operation's 200 and 4XX
//! answer of `tests/fixtures/cloudflare/openapi-tokens.json` (OpenAPI 3.0, translated), and
//! the operations seen answering, so a test can check that it covered them all.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::Resp;

pub struct SpecValidators {
    /// (method, path template, "200" | "4XX") → validator.
    pub by_operation: HashMap<(String, String, String), jsonschema::Validator>,
    pub templates: Vec<String>,
    /// Operations seen answering, for the coverage check.
    pub seen: std::sync::Mutex<BTreeSet<(String, String, String)>>,
}

pub fn spec_document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/cloudflare/openapi-tokens.json"
    );
    let text = std::fs::read_to_string(path).expect("spec fixture");
    serde_json::from_str(&text).expect("spec is JSON")
}

/// OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a `"null"` type (and enum member).
fn translate_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    if !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                }
            }
            map.values_mut().for_each(translate_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(translate_nullable),
        _ => {}
    }
}

pub fn spec() -> &'static SpecValidators {
    static SPEC: OnceLock<SpecValidators> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc = spec_document();
        let mut components = doc["components"].clone();
        translate_nullable(&mut components);
        let mut by_operation = HashMap::new();
        let paths = doc["paths"].as_object().expect("paths");
        for (template, operations) in paths {
            for (method, operation) in operations.as_object().expect("operations") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    let mut schema = response["content"]["application/json"]["schema"].clone();
                    translate_nullable(&mut schema);
                    // `$ref: "#/components/..."` resolves against this root document.
                    schema["components"] = components.clone();
                    let validator = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .build(&schema)
                        .unwrap_or_else(|e| panic!("schema of {method} {template} {status}: {e}"));
                    by_operation.insert(
                        (method.to_uppercase(), template.clone(), status.clone()),
                        validator,
                    );
                }
            }
        }
        SpecValidators {
            by_operation,
            templates: paths.keys().cloned().collect(),
            seen: std::sync::Mutex::new(BTreeSet::new()),
        }
    })
}

/// The spec's path template for a concrete path (literal segments win over parameters).
fn template_for(path: &str) -> Option<String> {
    let actual: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    spec()
        .templates
        .iter()
        .filter_map(|t| {
            let pattern: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
            let fits = pattern.len() == actual.len()
                && pattern
                    .iter()
                    .zip(&actual)
                    .all(|(p, a)| p.starts_with('{') || p == a);
            let literals = pattern.iter().filter(|p| !p.starts_with('{')).count();
            fits.then_some((literals, t))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, t)| t.clone())
}

pub fn validate_against_spec(method: &str, path: &str, resp: &Resp) {
    let Some(template) = template_for(path) else {
        return;
    };
    let class = match resp.status {
        200 => "200",
        400..=499 => "4XX",
        _ => return,
    };
    let key = (method.to_string(), template.clone(), class.to_string());
    let Some(validator) = spec().by_operation.get(&key) else {
        // Method not in the spec for this path (a 405): the generic failure shape applies.
        assert_eq!(resp.status, 405, "{method} {path}: no spec operation");
        assert_failure_shape(&resp.json);
        return;
    };
    let errors: Vec<String> = validator
        .iter_errors(&resp.json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} → {}: body does not match the spec:\n{}\n{}",
        resp.status,
        errors.join("\n"),
        resp.text
    );
    if class == "4XX" {
        assert_failure_shape(&resp.json);
    }
    spec()
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key);
}

fn assert_failure_shape(body: &Value) {
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["result"], Value::Null, "{body}");
    let errors = body["errors"].as_array().expect("errors array");
    assert!(
        !errors.is_empty(),
        "a failure names at least one error: {body}"
    );
    assert!(errors[0]["code"].as_u64().is_some_and(|c| c >= 1000));
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::spec;
    use crate::testkit::TARGET;
    use crate::{USER_EMAIL, USER_ID};

    #[test]
    fn spec_validators_reject_wrong_shapes() {
        let check = |method: &str, template: &str, class: &str, result: Value| {
            let key = (method.to_string(), template.to_string(), class.to_string());
            let success = class == "200";
            let errors = if success {
                json!([])
            } else {
                json!([{ "code": 1000, "message": "m" }])
            };
            let body =
                json!({ "success": success, "errors": errors, "messages": [], "result": result });
            spec().by_operation[&key].is_valid(&body)
        };
        let list = |result: Value| check("GET", "/user/tokens", "200", result);
        assert!(list(json!([{ "id": "x", "status": "active" }])));
        assert!(!list(json!([{ "id": 5 }])));
        assert!(!list(json!([{ "status": "paused" }])));
        assert!(
            !list(json!([{ "expires_on": "tomorrow" }])),
            "formats are checked"
        );
        let failure = |result: Value| check("GET", "/user/tokens", "4XX", result);
        assert!(failure(Value::Null), "nullable: true became a null type");
        assert!(!failure(json!({})));
        let deleted = |id: &str| {
            check(
                "DELETE",
                "/user/tokens/{token_id}",
                "200",
                json!({ "id": id }),
            )
        };
        assert!(deleted(TARGET));
        assert!(!deleted("short"), "identifiers are 32 characters");
        let user = |first_name: Value| {
            let result = json!({ "id": USER_ID, "email": USER_EMAIL, "first_name": first_name });
            check("GET", "/user", "200", result)
        };
        assert!(user(Value::Null));
        assert!(!user(json!(7)));
    }
}
