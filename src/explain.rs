//! `tokenwarden explain TOKEN_ID`: everything a rule author needs to see for one token —
//! the exact input document and config data the engine was given (so `opa eval` can
//! re-run a rule on it), every rule's result including the rules that did not fire (or
//! are disabled, or failed), the governed findings, and the exemptions that matched.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::engine::{Evaluator, RuleSet};
use crate::enrich;
use crate::finding::{self, Finding, RawFinding};
use crate::inventory::TokenRef;
use crate::policy::GovernancePolicy;

/// The explanation of one token, as JSON (the table is rendered from it).
pub struct Explanation {
    pub doc: Value,
    /// The token could not be evaluated (fully): exit 3.
    pub failed: bool,
}

/// Evaluate every rule on `token` and explain the outcome.
pub fn explain(
    token: TokenRef<'_>,
    set: &RuleSet,
    evaluator: &Evaluator,
    policy: &GovernancePolicy,
    now: DateTime<Utc>,
    scanner_token_id: Option<&str>,
) -> Explanation {
    let config = json!({"tokenwarden": {"config": policy.config_data()}});
    let input = match enrich::input_document(token, now, scanner_token_id) {
        Ok(doc) => doc,
        Err(e) => {
            return Explanation {
                doc: json!({
                    "input": null,
                    "data": config,
                    "rules": [],
                    "findings": [],
                    "exemptions_matched": [],
                    "errors": [{"scope": format!("{}/tokens/{}", token.owner.path(), token.id()), "reason": e.to_string()}],
                }),
                failed: true,
            }
        }
    };
    let mut raw: Vec<RawFinding> = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    for (meta, result) in evaluator.evaluate(input.clone()) {
        match result {
            Ok(outputs) => raw.extend(
                outputs
                    .into_iter()
                    .map(|o| crate::scan::raw_finding(meta, token, o)),
            ),
            Err(e) => errors.push((meta.id.clone(), e.message)),
        }
    }
    let findings = finding::govern(raw, policy, now);
    let disabled = |id: &str| policy.rules.disabled.iter().any(|d| d.value == id);
    let rules: Vec<Value> = set
        .metas()
        .iter()
        .map(|m| {
            let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule_id == m.id).collect();
            let error = errors.iter().find(|(id, _)| *id == m.id).map(|(_, e)| e);
            json!({
                "id": m.id,
                "title": m.title,
                "severity": m.severity,
                "origin": m.origin.label(),
                "disabled": disabled(&m.id),
                "fired": !mine.is_empty(),
                "findings": mine,
                "error": error,
            })
        })
        .collect();
    let exemptions: Vec<Value> = policy
        .exemptions
        .iter()
        .filter_map(|e| {
            let matched: Vec<&str> = findings
                .iter()
                .filter(|f| e.matches_finding(f))
                .map(|f| f.rule_id.as_str())
                .collect();
            (!matched.is_empty()).then(|| {
                json!({
                    "file": e.source,
                    "line": e.line,
                    "rule": e.rule.value,
                    "token": e.token,
                    "account": e.account,
                    "reason": e.reason,
                    "owner": e.owner,
                    "expires": e.expires.to_string(),
                    "active": e.is_active(now),
                    "matched_rules": matched,
                })
            })
        })
        .collect();
    let scope = format!("{}/tokens/{}", token.owner.path(), token.id());
    let errors_json: Vec<Value> = errors
        .iter()
        .map(|(id, e)| json!({"scope": scope, "reason": format!("token {}: rule {id}: {e}", token.id())}))
        .collect();
    Explanation {
        failed: !errors.is_empty(),
        doc: json!({
            "input": input,
            "data": config,
            "rules": rules,
            "findings": findings,
            "exemptions_matched": exemptions,
            "errors": errors_json,
        }),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The human rendering: header, input, config, one line per rule, exemptions, errors.
pub fn render_table(token: TokenRef<'_>, doc: &Value) -> String {
    let mut s = format!(
        "token {} ({}) — {}\n\ninput document:\n{}\n\nconfig data (data.tokenwarden.config):\n{}\n\nrules:\n",
        token.id(),
        token.name().unwrap_or("-"),
        token.owner.label(),
        pretty(&doc["input"]),
        pretty(&doc["data"]["tokenwarden"]["config"])
    );
    for r in doc["rules"].as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or("");
        let (mark, detail) = if r["disabled"] == true {
            (
                "disabled",
                String::from("  (disabled by the policy: not evaluated)"),
            )
        } else if let Some(e) = r["error"].as_str() {
            ("ERROR", format!("  {e}"))
        } else if r["fired"] == true {
            ("FIRED", String::new())
        } else {
            ("-", String::new())
        };
        s.push_str(&format!("  {mark:<8} {id}{detail}\n"));
        for f in r["findings"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "           {:<8} {}",
                f["severity"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            ));
            if let Some(e) = f.get("exempted_by") {
                s.push_str(&format!(
                    " [exempted until {}: {}]",
                    e["expires"].as_str().unwrap_or(""),
                    e["reason"].as_str().unwrap_or("")
                ));
            }
            s.push('\n');
        }
    }
    let exemptions = doc["exemptions_matched"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    s.push_str("\nexemptions matched:\n");
    if exemptions.is_empty() {
        s.push_str("  (none)\n");
    }
    for e in &exemptions {
        s.push_str(&format!(
            "  {}:{}  rule {}, token {}  {} {}: {} ({})\n",
            e["file"].as_str().unwrap_or(""),
            e["line"],
            e["rule"].as_str().unwrap_or(""),
            e["token"].as_str().unwrap_or(""),
            if e["active"] == true {
                "in force until"
            } else {
                "EXPIRED on"
            },
            e["expires"].as_str().unwrap_or(""),
            e["reason"].as_str().unwrap_or(""),
            e["owner"].as_str().unwrap_or("")
        ));
    }
    for e in doc["errors"].as_array().into_iter().flatten() {
        s.push_str(&format!("  ERROR {}\n", e["reason"].as_str().unwrap_or("")));
    }
    s.trim_end().to_string()
}
