//! How `doctor` prints its diagnosis: a checklist for people, JSON for scripts.

use crate::text::terminal as t;
use serde_json::{json, Value};

use super::{
    CheckStatus, Diagnosis, Need, ACCOUNT_TOKEN_DOCS_URL, CREATE_TOKEN_URL, TOKEN_DOCS_URL,
};

fn label(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Warn => "warn",
        CheckStatus::Missing => "MISSING",
        CheckStatus::Error => "ERROR",
    }
}

/// The checklist, then one verdict line for the scan and one for remediation.
pub fn render_table(d: &Diagnosis, require_remediation: bool) -> String {
    let mut s = format!(
        "tokenwarden doctor: {} at {}\n\n",
        t(d.credential),
        t(&d.api_base)
    );
    let width = d.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &d.checks {
        // A missing write permission is only a note unless remediation was asked for:
        // a scan-only token should not have it.
        let optional = c.needed_for == Need::Remediation && !require_remediation;
        let mark = if optional && c.status == CheckStatus::Missing {
            "note"
        } else {
            label(c.status)
        };
        // Details quote API answers and token names: escaped (issue 12).
        s.push_str(&format!(
            "  {:<7}  {:<width$}  {}\n",
            mark,
            t(&c.id),
            t(&c.detail)
        ));
        if let Some(h) = &c.hint {
            s.push_str(&format!("  {:<7}  {:<width$}  fix: {}\n", "", "", t(h)));
        }
    }
    s.push('\n');
    s.push_str(&format!(
        "Scan: {}\n",
        if d.scan_ready() {
            "ready: every scope in reach can be read"
        } else {
            "NOT READY: fix the MISSING/ERROR checks above (a scan now would exit 3)"
        }
    ));
    let remediation = match d.remediation_ready() {
        Some(true) => "ready",
        Some(false) => "missing write permissions (only needed to remediate)",
        None => "unknown (the token's own permissions could not be read)",
    };
    s.push_str(&format!(
        "Remediation: {remediation}{}\n",
        if require_remediation {
            " [required by --remediation]"
        } else {
            ""
        }
    ));
    let needs_fix = d.checks.iter().any(|c| {
        c.status != CheckStatus::Ok && (c.needed_for != Need::Remediation || require_remediation)
    });
    if needs_fix {
        s.push_str(&format!(
            "\nCreate or edit a correctly scoped token at {CREATE_TOKEN_URL}\n(docs: {TOKEN_DOCS_URL} and {ACCOUNT_TOKEN_DOCS_URL})\n"
        ));
    }
    s
}

pub fn to_json(d: &Diagnosis, require_remediation: bool) -> Value {
    json!({
        "api_base": d.api_base,
        "credential": d.credential,
        "token_id": d.token_id,
        "token_owner": d.token_owner,
        "checks": d.checks,
        "scan_ready": d.scan_ready(),
        "remediation_ready": d.remediation_ready(),
        "remediation_required": require_remediation,
        "exit_code": d.exit(require_remediation).code(),
        "create_token_url": CREATE_TOKEN_URL,
        "docs": [TOKEN_DOCS_URL, ACCOUNT_TOKEN_DOCS_URL],
    })
}
