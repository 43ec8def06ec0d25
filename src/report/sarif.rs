//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning (docs/architecture.md §7), built with
//! serde_sarif's typed builders. With a baseline every result carries `baselineState`
//! (absent findings as `pass` results); stale exemptions are
//! `toolConfigurationNotifications` located at their file and line.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultKind, ResultLevel, Run, RunAutomationDetails,
    Sarif, Suppression, Tool, ToolComponent,
};

use crate::baseline::{BaselineEntry, BaselineState};
use crate::stale::StaleExemption;

use crate::engine::RuleMeta;
use crate::enrich::rfc3339;
use crate::finding::{Finding, Severity};
use crate::report::token_label;
use crate::scan::Report;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const INFORMATION_URI: &str = "https://github.com/tokenwarden/tokenwarden";

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

fn level_str(s: Severity) -> &'static str {
    match level(s) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        _ => "note",
    }
}

/// The repo-relative path GitHub shows for a token.
pub fn artifact_uri(f: &Finding) -> String {
    format!("cloudflare/{}/tokens/{}", f.owner.path(), f.token_id)
}

fn help_markdown(rule: &RuleMeta) -> String {
    let mut md = format!("**{}**\n\n{}\n\n", rule.title, rule.description);
    md.push_str(&format!("- Default severity: {}\n", rule.severity));
    md.push_str(&format!(
        "- Default remediation: {}\n",
        rule.remediation.as_str()
    ));
    for r in &rule.related_resources {
        md.push_str(&format!("- <{r}>\n"));
    }
    md
}

fn rule_descriptor(rule: &RuleMeta) -> ReportingDescriptor {
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        json!(rule.severity.security_severity()),
    );
    props.insert("precision".to_string(), json!("very-high"));
    let mut tags = vec!["security".to_string()];
    tags.extend(rule.tags.iter().cloned());
    let text = |t: &str| {
        MultiformatMessageString::builder()
            .text(t.to_string())
            .build()
    };
    let description = if rule.description.is_empty() {
        &rule.title
    } else {
        &rule.description
    };
    let builder = ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(rule.title.clone())
        .short_description(text(&rule.title))
        .full_description(text(description))
        .help(
            MultiformatMessageString::builder()
                .text(description.to_string())
                .markdown(help_markdown(rule))
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level_str(rule.severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(props)
                .build(),
        );
    match rule.help_uri() {
        Some(uri) => builder.help_uri(uri.to_string()).build(),
        None => builder.build(),
    }
}

fn result(f: &Finding, rule_index: Option<usize>) -> SarifResult {
    let uri = artifact_uri(f);
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri.clone()).build())
                .region(Region::builder().start_line(1).build())
                .build(),
        )
        .logical_locations(vec![LogicalLocation::builder()
            .name(token_label(f).to_string())
            .fully_qualified_name(format!("{}/tokens/{}", f.owner.path(), f.token_id))
            .kind("resource")
            .build()])
        .build();
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("primaryLocationLineHash".to_string(), f.fingerprint.clone());
    fingerprints.insert("tokenwarden/v1".to_string(), f.fingerprint.clone());
    let mut props = BTreeMap::new();
    props.insert("token_id".to_string(), json!(f.token_id));
    props.insert("token_name".to_string(), json!(f.token_name));
    props.insert(
        "owner".to_string(),
        serde_json::to_value(&f.owner).unwrap_or(Value::Null),
    );
    props.insert("evidence".to_string(), f.evidence.value());
    props.insert("severity".to_string(), json!(f.severity));
    props.insert("action".to_string(), json!(f.action.as_str()));
    props.insert(
        "security-severity".to_string(),
        json!(f.severity.security_severity()),
    );
    let message = format!("{} ({}): {}", token_label(f), f.owner.label(), f.message);
    let base = SarifResult::builder()
        .rule_id(f.rule_id.clone())
        .level(level(f.severity))
        .message(Message::builder().text(message).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(props).build());
    let suppressions = f.exempted_by.as_ref().map(|e| {
        let mut props = BTreeMap::new();
        props.insert("owner".to_string(), json!(e.contact));
        props.insert("expires".to_string(), json!(e.expires.to_string()));
        props.insert("rule".to_string(), json!(e.rule));
        props.insert("token".to_string(), json!(e.token));
        vec![Suppression::builder()
            .kind(json!("external"))
            .status(json!("accepted"))
            .justification(e.reason.clone())
            .properties(PropertyBag::builder().additional_properties(props).build())
            .build()]
    });
    // typed_builder fixes the set of fields at compile time, so each optional field is
    // decided by branch.
    match (rule_index, suppressions) {
        (Some(i), Some(s)) => base.rule_index(i as i64).suppressions(s).build(),
        (Some(i), None) => base.rule_index(i as i64).build(),
        (None, Some(s)) => base.suppressions(s).build(),
        (None, None) => base.build(),
    }
}

/// A baseline finding that is gone: a `pass` result (level `none`) in state `absent`, so
/// viewers that compare runs see it as fixed and none shows it as an open problem.
fn absent_result(e: &BaselineEntry, rule_index: Option<usize>) -> SarifResult {
    let as_finding = Finding {
        rule_id: e.rule_id.clone(),
        severity: e.severity,
        token_id: e.token_id.as_str().into(),
        token_name: e.token_name.as_deref().map(Into::into),
        owner: std::sync::Arc::new(e.owner.clone()),
        message: "no longer found (absent from this scan; recorded in the baseline)".into(),
        evidence: crate::finding::Evidence::empty(),
        action: crate::finding::Action::None,
        exempted_by: None,
        fingerprint: e.fingerprint.clone(),
    };
    let mut r = result(&as_finding, rule_index);
    r.kind = Some(ResultKind::Pass);
    r.level = Some(ResultLevel::None);
    r.baseline_state = Some(json!(BaselineState::Absent.as_str()));
    r
}

/// One `toolConfigurationNotifications` entry per stale exemption, located at its line.
fn stale_notification(e: &StaleExemption) -> Notification {
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(e.file.clone()).build())
                .region(Region::builder().start_line(e.line as i64).build())
                .build(),
        )
        .build();
    let mut props = BTreeMap::new();
    props.insert("stale".to_string(), json!(e.why.as_str()));
    props.insert("rule".to_string(), json!(e.rule));
    props.insert("token".to_string(), json!(e.token));
    props.insert("expires".to_string(), json!(e.expires.to_string()));
    Notification::builder()
        .level(json!("warning"))
        .message(Message::builder().text(e.message()).build())
        .locations(vec![location])
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build()
}

pub fn to_sarif(report: &Report) -> Sarif {
    let rules: Vec<ReportingDescriptor> = report.rules.iter().map(rule_descriptor).collect();
    let index = |id: &str| report.rules.iter().position(|r| r.id == id);
    let mut results: Vec<SarifResult> = report
        .findings
        .iter()
        .map(|f| {
            let mut r = result(f, index(&f.rule_id));
            super::terraform::patch_sarif(report, f, &mut r);
            if let Some(state) = report.baseline_state(f) {
                r.baseline_state = Some(json!(state.as_str()));
            }
            if let Some(o) = report
                .history
                .as_ref()
                .and_then(|h| h.finding(&f.fingerprint))
            {
                if let Some(props) = r.properties.as_mut() {
                    let extra = &mut props.additional_properties;
                    extra.insert("history_status".into(), json!(o.status));
                    extra.insert("first_seen".into(), json!(rfc3339(o.first_seen)));
                    extra.insert("age_days".into(), json!(o.age_days));
                    extra.insert("due".into(), json!(o.due.map(rfc3339)));
                    extra.insert("overdue".into(), json!(o.overdue));
                }
            }
            r
        })
        .collect();
    if let Some(b) = &report.baseline {
        results.extend(b.absent.iter().map(|e| absent_result(e, index(&e.rule_id))));
    }
    let config_notifications: Vec<Notification> = report
        .stale_exemptions
        .iter()
        .map(stale_notification)
        .collect();
    let mut notifications: Vec<Notification> = report
        .not_evaluated
        .iter()
        .map(|n| {
            Notification::builder()
                .level(json!("error"))
                .message(
                    Message::builder()
                        .text(format!("not evaluated: {}: {}", n.scope, n.reason))
                        .build(),
                )
                .build()
        })
        .collect();
    notifications.extend(super::terraform::sarif_notes(report));
    let driver = ToolComponent::builder()
        .name("tokenwarden")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri(INFORMATION_URI)
        .rules(rules)
        .build();
    let mut invocation = Invocation::builder()
        .execution_successful(report.complete())
        .tool_execution_notifications(notifications)
        .build();
    if !config_notifications.is_empty() {
        invocation.tool_configuration_notifications = Some(config_notifications);
    }
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation])
        .automation_details(
            RunAutomationDetails::builder()
                .id(format!("tokenwarden/{}/", report.scope))
                .build(),
        )
        .build();
    if let Some(h) = &report.history {
        let mut props = BTreeMap::new();
        props.insert(
            "history".to_string(),
            json!({
                "database": h.database,
                "previous_scan": h.previous,
                "new": h.new_findings.len(),
                "resolved": h.resolved.len(),
                "drifted": h.drifted(),
                "overdue": h.overdue(),
                "tokens": h.tokens,
                "new_findings": h.new_findings,
                "resolved_findings": h.resolved,
            }),
        );
        run.properties = Some(PropertyBag::builder().additional_properties(props).build());
    }
    Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_sarif(report))?;
    writeln!(out)
}
