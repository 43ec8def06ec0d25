//! `--format json`: the whole report as one JSON document (DESIGN §7), plus the
//! governance extras: `stale_exemptions` always, and with `--baseline` a `baseline`
//! object (counts and the `absent` findings) and a `baseline_state` on every finding.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::baseline::BaselineState;
use crate::enrich::rfc3339;
use crate::scan::Report;

fn findings(report: &Report) -> Value {
    let Some(b) = &report.baseline else {
        return json!(report.findings);
    };
    Value::Array(
        report
            .findings
            .iter()
            .map(|f| {
                let mut v = json!(f);
                if let Value::Object(o) = &mut v {
                    o.insert("baseline_state".into(), json!(b.state(f)));
                }
                v
            })
            .collect(),
    )
}

pub fn to_value(report: &Report) -> Value {
    let mut v = json!({
        "tool": "tokenwarden",
        "version": env!("CARGO_PKG_VERSION"),
        "scanned_at": rfc3339(report.scanned_at),
        "scope": report.scope,
        "summary": report.summary(),
        "findings": findings(report),
        "not_evaluated": report.not_evaluated,
        "stale_exemptions": report.stale_exemptions,
    });
    if let (Some(b), Value::Object(o)) = (&report.baseline, &mut v) {
        o.insert(
            "baseline".into(),
            json!({
                "file": b.file,
                "new": b.count(BaselineState::New),
                "updated": b.count(BaselineState::Updated),
                "unchanged": b.count(BaselineState::Unchanged),
                "absent": b.absent,
            }),
        );
    }
    v
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    writeln!(out)
}
