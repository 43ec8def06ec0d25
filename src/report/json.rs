//! `--format json`: the whole report as one JSON document (DESIGN §7).

use std::io::{self, Write};

use serde_json::json;

use crate::enrich::rfc3339;
use crate::scan::Report;

pub fn to_value(report: &Report) -> serde_json::Value {
    json!({
        "tool": "tokenwarden",
        "version": env!("CARGO_PKG_VERSION"),
        "scanned_at": rfc3339(report.scanned_at),
        "scope": report.scope,
        "summary": report.summary(),
        "findings": report.findings,
        "not_evaluated": report.not_evaluated,
    })
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    writeln!(out)
}
