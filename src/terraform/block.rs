//! One token resource block → a [`Block`]'s values and lines (docs/terraform.md,
//! "Mapping"): its attributes, v4 `policy {}` and `condition {}` blocks, and `dynamic`
//! blocks expanded over a known collection.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};

use super::config::Block;
use super::eval::Eval;
use super::value::Value;

/// Evaluate a token block: its attributes, v4 `policy` blocks and `condition` blocks.
pub(super) fn token_block(ev: &Eval<'_>, body: &Body) -> Block {
    let file = ev.file;
    let mut values = BTreeMap::new();
    let mut lines = BTreeMap::new();
    let mut v4 = false;
    let mut policies = Vec::new();
    let mut unknown_policies: Option<String> = None;
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                if matches!(
                    key,
                    "for_each" | "count" | "depends_on" | "lifecycle" | "provider"
                ) {
                    continue;
                }
                lines.insert(key.to_string(), file.line_of_span(a));
                if key == "policies" {
                    if let Expression::Array(items) = &a.value {
                        for (i, item) in items.iter().enumerate() {
                            let at = format!("policies[{i}]");
                            lines.insert(at.clone(), file.line_of_span(item));
                            if let Expression::Object(o) = item {
                                for (k, v) in o.iter() {
                                    if let Some(name) = object_key_name(k) {
                                        lines.insert(
                                            format!("{at}.{name}"),
                                            file.line_of_span(k).min(file.line_of_span(v.expr())),
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
                values.insert(key.to_string(), ev.eval(&a.value));
            }
            Structure::Block(b) => match b.ident.as_str() {
                "policy" => {
                    v4 = true;
                    let i = policies.len();
                    let at = format!("policies[{i}]");
                    lines.insert(at.clone(), file.line_of_span(b));
                    for a in b.body.attributes() {
                        lines.insert(format!("{at}.{}", a.key.as_str()), file.line_of_span(a));
                    }
                    policies.push(block_value(ev, &b.body));
                }
                "condition" => {
                    lines.insert("condition".into(), file.line_of_span(b));
                    values.insert("condition".into(), block_value(ev, &b.body));
                }
                // `dynamic "policy" { for_each = …; content { … } }`: one block per element
                // of a known collection; over an unknown one, what the token grants is
                // unknown (and the token is not evaluated).
                "dynamic" => {
                    let Some(label) = b.labels.first().map(|l| l.as_str().to_string()) else {
                        continue;
                    };
                    if label != "policy" && label != "condition" {
                        continue;
                    }
                    let line = file.line_of_span(b);
                    let iterator = match b.body.get_attribute("iterator").map(|a| &a.value) {
                        Some(Expression::Variable(v)) => v.as_str().to_string(),
                        _ => label.clone(),
                    };
                    let content = b.body.get_blocks("content").next();
                    let elements = b.body.get_attribute("for_each").map(|a| ev.eval(&a.value));
                    let items: Option<Vec<(Value, Value)>> = match elements {
                        Some(Value::Object(map)) => {
                            Some(map.into_iter().map(|(k, v)| (Value::str(k), v)).collect())
                        }
                        Some(Value::List(list)) => Some(
                            list.into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::Number(i.into()), v))
                                .collect(),
                        ),
                        _ => None,
                    };
                    let (Some(items), Some(content)) = (items, content) else {
                        let what =
                            format!("dynamic \"{label}\" over a collection not known before apply");
                        if label == "policy" {
                            v4 = true;
                            lines.entry("policies".into()).or_insert(line);
                            unknown_policies = Some(what);
                        } else {
                            lines.insert("condition".into(), line);
                            values.insert("condition".into(), Value::Unknown(what));
                        }
                        continue;
                    };
                    for (k, v) in items {
                        let inner = Eval {
                            m: ev.m,
                            file: ev.file,
                            each: ev.each.clone(),
                            count: ev.count,
                            depth: ev.depth,
                            iter: Some((iterator.clone(), k, v)),
                        };
                        let value = block_value(&inner, &content.body);
                        if label == "policy" {
                            v4 = true;
                            let at = format!("policies[{}]", policies.len());
                            lines.insert(at.clone(), line);
                            for a in content.body.attributes() {
                                lines.insert(
                                    format!("{at}.{}", a.key.as_str()),
                                    file.line_of_span(a),
                                );
                            }
                            policies.push(value);
                        } else {
                            lines.insert("condition".into(), line);
                            values.insert("condition".into(), value);
                        }
                    }
                }
                _ => {}
            },
        }
    }
    if let Some(what) = unknown_policies {
        values.insert("policies".into(), Value::Unknown(what));
    } else if v4 {
        values.insert("policies".into(), Value::List(policies));
        if let Some(&l) = lines.get("policies[0]") {
            lines.entry("policies".into()).or_insert(l);
        }
    }
    Block {
        address: String::new(),
        block_address: String::new(),
        resource_type: String::new(),
        file: 0,
        line: 0,
        end_line: 0,
        lines,
        values,
        notes: Vec::new(),
        v4,
    }
}

/// A nested block as an object (its sub-blocks as objects too, the last one winning: the
/// token blocks' sub-blocks — `request_ip` — occur at most once).
fn block_value(ev: &Eval<'_>, body: &Body) -> Value {
    let mut map = BTreeMap::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                map.insert(a.key.as_str().to_string(), ev.eval(&a.value));
            }
            Structure::Block(b) => {
                map.insert(b.ident.as_str().to_string(), block_value(ev, &b.body));
            }
        }
    }
    Value::Object(map)
}

fn object_key_name(k: &ObjectKey) -> Option<String> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str().to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
        ObjectKey::Expression(Expression::Variable(v)) => Some(v.as_str().to_string()),
        _ => None,
    }
}
