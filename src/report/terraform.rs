//! What the writers add for a `scan --terraform` report (docs/terraform.md, "Reports"):
//! each finding's `.tf` file and line (of the offending attribute, else of the resource
//! block) and resource address, and each resource's unknown values and unresolved
//! permission groups — in every format.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, Notification, PhysicalLocation,
    PropertyBag, Region, Result as SarifResult,
};

use crate::finding::Finding;
use crate::scan::Report;
use crate::terraform::Resource;

/// Where a finding is in the configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Place<'a> {
    pub address: &'a str,
    pub file: &'a str,
    pub line: usize,
}

impl Place<'_> {
    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The finding's place, in a Terraform report.
pub fn place<'a>(report: &'a Report, f: &Finding) -> Option<Place<'a>> {
    let (file, line, address) = report.terraform.as_ref()?.locate(f)?;
    Some(Place {
        address,
        file,
        line,
    })
}

/// The resources that have something unknown, unresolved or noted, by address.
pub fn uncertain(report: &Report) -> Vec<(&str, &Resource)> {
    let Some(t) = &report.terraform else {
        return Vec::new();
    };
    let mut out: Vec<(&str, &Resource)> = t
        .resources
        .iter()
        .filter(|(_, r)| {
            !(r.unknowns.is_empty() && r.unresolved_groups.is_empty() && r.notes.is_empty())
        })
        .map(|(id, r)| (id.as_str(), r))
        .collect();
    out.sort_by(|a, b| a.1.address.cmp(&b.1.address));
    out
}

/// One line per kind of uncertainty: `unknown: …`, `unresolved group: …`, notes.
pub fn uncertainty_lines(r: &Resource) -> Vec<String> {
    let mut out: Vec<String> = r.unknowns.iter().map(|u| format!("unknown: {u}")).collect();
    out.extend(
        r.unresolved_groups
            .iter()
            .map(|g| format!("unresolved permission group: {g}")),
    );
    out.extend(r.notes.iter().cloned());
    out
}

/// Every resource as JSON, for the JSON report's `terraform` member.
pub fn resources_json(report: &Report) -> Option<Value> {
    let t = report.terraform.as_ref()?;
    let mut list: Vec<Value> = t
        .resources
        .iter()
        .map(|(id, r)| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("token_id".into(), json!(id));
            }
            v
        })
        .collect();
    list.sort_by(|a, b| a["address"].as_str().cmp(&b["address"].as_str()));
    Some(json!({ "resources": list }))
}

/// Point a SARIF result at the `.tf` file and line, name the resource address, and say
/// which values were unknown; an inline suppression is `inSource`.
pub fn patch_sarif(report: &Report, f: &Finding, r: &mut SarifResult) {
    let Some(p) = place(report, f) else { return };
    let resource = report.terraform.as_ref().and_then(|t| t.get(&f.token_id));
    r.locations = Some(vec![Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri(p.file)).build())
                .region(Region::builder().start_line(p.line as i64).build())
                .build(),
        )
        .logical_locations(vec![LogicalLocation::builder()
            .name(p.address.to_string())
            .fully_qualified_name(p.address.to_string())
            .kind("resource")
            .build()])
        .build()]);
    r.message = Message::builder()
        .text(format!("{}: {}", p.address, f.message))
        .build();
    let props = r.properties.get_or_insert_with(|| {
        PropertyBag::builder()
            .additional_properties(BTreeMap::new())
            .build()
    });
    props.additional_properties.insert(
        "terraform".into(),
        json!({
            "address": p.address,
            "file": p.file,
            "line": p.line,
            "unknowns": resource.map(|r| r.unknowns.clone()).unwrap_or_default(),
            "unresolved_groups": resource.map(|r| r.unresolved_groups.clone()).unwrap_or_default(),
        }),
    );
    let inline = f
        .exempted_by
        .as_ref()
        .is_some_and(|e| e.contact.starts_with(crate::terraform::INLINE_CONTACT));
    if inline {
        for s in r.suppressions.iter_mut().flatten() {
            s.kind = json!("inSource");
        }
    }
}

/// One `note` notification per resource with unknown values or unresolved groups, located
/// at its block, so SARIF lists them even where no rule fired.
pub fn sarif_notes(report: &Report) -> Vec<Notification> {
    uncertain(report)
        .into_iter()
        .map(|(_, r)| {
            Notification::builder()
                .level(json!("note"))
                .message(
                    Message::builder()
                        .text(format!(
                            "{}: {}",
                            r.address,
                            uncertainty_lines(r).join("; ")
                        ))
                        .build(),
                )
                .locations(vec![Location::builder()
                    .physical_location(
                        PhysicalLocation::builder()
                            .artifact_location(
                                ArtifactLocation::builder().uri(uri(&r.file)).build(),
                            )
                            .region(Region::builder().start_line(r.line as i64).build())
                            .build(),
                    )
                    .build()])
                .build()
        })
        .collect()
}

/// A relative path as a SARIF URI reference: `%` and spaces escaped.
fn uri(path: &str) -> String {
    path.replace('%', "%25").replace(' ', "%20")
}
