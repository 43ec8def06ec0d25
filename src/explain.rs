//! `tokenwarden explain TOKEN_ID`: everything a rule author needs to see for one token —
//! the exact input document and config data the engine was given (so `opa eval` can
//! re-run a rule on it), every rule's result including the rules that did not fire (or
//! are disabled, or failed), the governed findings, and the exemptions that matched.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::engine::{Evaluator, RuleSet};
use crate::enrich;
use crate::finding::{Finding, RawFinding, Severity};
use crate::inventory::{NotEvaluated, TokenRef};
use crate::policy::{govern, GovernancePolicy};
use crate::scan;
use crate::text::{terminal as t, terminal_lines};

/// The explanation of one token: exactly what the engine was given and what every rule
/// made of it. Serialized as the `explain --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The Rego input document (`null` when it could not be built).
    pub input: Option<Value>,
    /// The data document: `{"tokenwarden": {"config": …}}`.
    pub data: Value,
    /// Every rule of the run, fired or not.
    pub rules: Vec<RuleVerdict>,
    /// The governed findings.
    pub findings: Vec<Finding>,
    /// The exemptions that match one of the findings, in force or expired.
    pub exemptions_matched: Vec<MatchedExemption>,
    /// What could not be evaluated (the token, or one rule on it).
    pub errors: Vec<NotEvaluated>,
}

/// One rule's result on the token.
#[derive(Debug, Clone, Serialize)]
pub struct RuleVerdict {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub origin: String,
    pub disabled: bool,
    pub fired: bool,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
}

/// An exemption that matched one of the token's findings.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedExemption {
    pub file: String,
    pub line: usize,
    pub rule: String,
    pub token: String,
    pub account: Option<String>,
    pub reason: String,
    /// Who answers for the exemption (its `owner` key).
    #[serde(rename = "owner")]
    pub contact: String,
    pub expires: String,
    pub active: bool,
    pub matched_rules: Vec<String>,
}

impl Explanation {
    /// The token could not be evaluated (fully): the command exits 3.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Evaluate every rule on `token` — with the same per-token evaluation as a scan — and
/// explain the outcome.
pub fn explain(
    token: TokenRef<'_>,
    set: &RuleSet,
    evaluator: &Evaluator,
    policy: &GovernancePolicy,
    now: DateTime<Utc>,
    scanner_token_id: Option<&str>,
) -> Explanation {
    let data = json!({"tokenwarden": {"config": policy.config_data()}});
    let input = match enrich::input_document(token, now, scanner_token_id) {
        Ok(doc) => doc,
        Err(e) => {
            return Explanation {
                input: None,
                data,
                rules: Vec::new(),
                findings: Vec::new(),
                exemptions_matched: Vec::new(),
                errors: vec![NotEvaluated::new(
                    token.owner.token_path(token.id()),
                    e.to_string(),
                )],
            }
        }
    };
    let input_json = serde_json::to_value(&input).unwrap_or(Value::Null);
    let mut raw: Vec<RawFinding> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    // As in a scan: a group named only by id without a catalogue is said (issue 12).
    if let Some(reason) = enrich::unresolved_groups(&input, token.catalogue.is_some()) {
        errors.push(NotEvaluated::new(
            token.owner.token_path(token.id()),
            format!("token {}: {reason}", token.id()),
        ));
    }
    let mut worker = evaluator.worker();
    for (meta, result) in scan::evaluate_input(token, input, &mut worker) {
        match result {
            Ok(found) => raw.extend(found),
            Err(e) => {
                errors.push(scan::rule_failed(token, &e));
                failed.push((meta.id.clone(), e.message));
            }
        }
    }
    let findings = govern::govern(raw, policy, now);
    let disabled = |id: &str| policy.rules.disabled.iter().any(|d| d.value == id);
    let rules = set
        .metas()
        .iter()
        .map(|m| {
            let mine: Vec<Finding> = findings
                .iter()
                .filter(|f| f.rule_id == m.id)
                .cloned()
                .collect();
            RuleVerdict {
                id: m.id.clone(),
                title: m.title.clone(),
                severity: m.severity,
                origin: m.origin.label(),
                disabled: disabled(&m.id),
                fired: !mine.is_empty(),
                findings: mine,
                error: failed
                    .iter()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, e)| e.clone()),
            }
        })
        .collect();
    let exemptions_matched = policy
        .exemptions
        .iter()
        .filter_map(|e| {
            let matched: Vec<String> = findings
                .iter()
                .filter(|f| e.matches_finding(f))
                .map(|f| f.rule_id.clone())
                .collect();
            (!matched.is_empty()).then(|| MatchedExemption {
                file: e.source.clone(),
                line: e.line,
                rule: e.rule.value.clone(),
                token: e.token.text().to_string(),
                account: e.account.clone(),
                reason: e.reason.clone(),
                contact: e.contact.clone(),
                expires: e.expires.to_string(),
                active: e.is_active(now),
                matched_rules: matched,
            })
        })
        .collect();
    Explanation {
        input: Some(input_json),
        data,
        rules,
        findings,
        exemptions_matched,
        errors,
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The human rendering: header, input, config, one line per rule, exemptions, errors.
pub fn render_table(token: TokenRef<'_>, e: &Explanation) -> String {
    let mut s = format!(
        "token {} ({}) — {}\n\ninput document:\n{}\n\nconfig data (data.tokenwarden.config):\n{}\n\nrules:\n",
        t(token.id()),
        t(token.name().unwrap_or("-")),
        t(&token.owner.label()),
        terminal_lines(&pretty(e.input.as_ref().unwrap_or(&Value::Null))),
        terminal_lines(&pretty(&e.data["tokenwarden"]["config"]))
    );
    for r in &e.rules {
        let (mark, detail) = if r.disabled {
            (
                "disabled",
                String::from("  (disabled by the policy: not evaluated)"),
            )
        } else if let Some(err) = &r.error {
            ("ERROR", format!("  {err}"))
        } else if r.fired {
            ("FIRED", String::new())
        } else {
            ("-", String::new())
        };
        s.push_str(&format!("  {mark:<8} {}{}\n", t(&r.id), t(&detail)));
        for f in &r.findings {
            s.push_str(&format!(
                "           {:<8} {}",
                f.severity.as_str(),
                t(&f.message)
            ));
            if let Some(x) = &f.exempted_by {
                s.push_str(&format!(
                    " [exempted until {}: {}]",
                    x.expires,
                    t(&x.reason)
                ));
            }
            s.push('\n');
        }
    }
    s.push_str("\nexemptions matched:\n");
    if e.exemptions_matched.is_empty() {
        s.push_str("  (none)\n");
    }
    for x in &e.exemptions_matched {
        s.push_str(&format!(
            "  {}:{}  rule {}, token {}  {} {}: {} ({})\n",
            t(&x.file),
            x.line,
            t(&x.rule),
            t(&x.token),
            if x.active {
                "in force until"
            } else {
                "EXPIRED on"
            },
            x.expires,
            t(&x.reason),
            t(&x.contact)
        ));
    }
    for n in &e.errors {
        s.push_str(&format!("  ERROR {}\n", t(&n.reason)));
    }
    s.trim_end().to_string()
}
