//! The bulk export of input documents (issue 13): every token of an inventory as one JSON
//! line, `{"input": …, "data": {"tokenwarden": {"config": …}}, "findings": […]}`, the
//! input document and config data the engine was given and the findings it made, as
//! `explain TOKEN_ID --format json` shows them for one token. With these lines anyone can
//! re-run the rules on the very same documents under OPA (`opa eval --input`, or
//! `scripts/opa-parity.sh`) and compare the findings.
//!
//! The documents are built by the scan's own path (one [`OwnerContext`] per owner, the
//! same enrichment, the same evaluator and governance), so they are byte for byte what a
//! scan evaluates. A token that cannot be evaluated still gets its line, with `"errors"`.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::engine::{Evaluator, Worker};
use crate::enrich::{self, OwnerContext};
use crate::finding::RawFinding;
use crate::inventory::{Inventory, NotEvaluated, TokenRef};
use crate::policy::{govern, GovernancePolicy};
use crate::scan;

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Lines written: one per token.
    pub tokens: usize,
    /// Tokens with an `"errors"` entry (not evaluated, or a rule failed on them).
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot serialise the line of token {token_id}: {source}")]
    Json {
        token_id: String,
        source: serde_json::Error,
    },
}

/// Write one JSON line per token of `inventory` to `out`, owner by owner in the
/// inventory's order (the user first, then the accounts as listed), tokens as listed.
///
/// `evaluator` must have been built from `policy`'s config data (as for a scan), so that
/// `"data"` is what the rules saw; `"findings"` are governed by `policy` exactly as a scan
/// reports them (sorted, severity overrides and exemptions applied, disabled rules absent).
/// A line gets `"errors"` (a list of `{"scope", "reason"}`) only when something failed:
/// then `"input"` is null if the document itself could not be built.
pub fn write_jsonl(
    inventory: &Inventory,
    evaluator: &Evaluator,
    policy: &GovernancePolicy,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<ExportSummary, ExportError> {
    let data = json!({"tokenwarden": {"config": policy.config_data()}});
    let mut worker = evaluator.worker();
    let mut summary = ExportSummary::default();
    for owner in inventory.owners() {
        let ctx = OwnerContext::new(
            &owner.owner,
            owner.catalogue,
            now,
            inventory.scanner_token_id.as_deref(),
        );
        for raw in owner.tokens {
            let token = TokenRef {
                owner: &owner.owner,
                token: raw,
                catalogue: owner.catalogue,
            };
            let (line, failed) = token_line(token, &ctx, &mut worker, policy, now, &data);
            serde_json::to_writer(&mut *out, &line).map_err(|source| ExportError::Json {
                token_id: token.id().to_string(),
                source,
            })?;
            out.write_all(b"\n")?;
            summary.tokens += 1;
            summary.failed += usize::from(failed);
        }
    }
    out.flush()?;
    Ok(summary)
}

/// One token's line, and whether anything failed on it. The token goes through the scan's
/// own steps (`enrich`, `scan::evaluate_input`, the same notices of what could not be
/// evaluated), only keeping its input document as well.
fn token_line(
    token: TokenRef<'_>,
    ctx: &OwnerContext,
    worker: &mut Worker<'_>,
    policy: &GovernancePolicy,
    now: DateTime<Utc>,
    data: &Value,
) -> (Value, bool) {
    let path = || token.owner.token_path(token.id());
    let input = match enrich::input_document_in(token.token, ctx) {
        Ok(doc) => doc,
        Err(e) => {
            let errors = vec![NotEvaluated::new(path(), e.to_string())];
            let line = json!({"input": null, "data": data, "findings": [], "errors": errors});
            return (line, true);
        }
    };
    let mut errors = Vec::new();
    if let Some(reason) = enrich::unresolved_groups(&input, ctx.has_catalogue()) {
        errors.push(NotEvaluated::new(
            path(),
            format!("token {}: {reason}", token.id()),
        ));
    }
    let mut raw: Vec<RawFinding> = Vec::new();
    for (_, result) in scan::evaluate_input(token, input.clone(), worker) {
        match result {
            Ok(found) => raw.extend(found),
            Err(e) => errors.push(scan::rule_failed(token, &e)),
        }
    }
    let findings = govern::govern(raw, policy, now);
    let mut line = json!({"input": input, "data": data, "findings": findings});
    let failed = !errors.is_empty();
    if failed {
        line["errors"] = json!(errors);
    }
    (line, failed)
}
