//! One scan, from an inventory to a finished [`Report`]: enrich every token, evaluate every
//! rule, apply the governance policy, find stale exemptions, compare with a baseline, and
//! decide the verdict (docs/architecture.md, "Data flow").

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::baseline::{Baseline, BaselineState, Comparison};
use crate::engine::{EvalError, Evaluator, RuleMeta, RuleOutput, Worker};
use crate::enrich;
use crate::enrich::OwnerContext;
use crate::exit::Exit;
use crate::finding::{self, FailOn, Finding, RawFinding, Severity};
use crate::history::Changes;
use crate::inventory::{Inventory, NotEvaluated, TokenRef};
use crate::policy::{govern, GovernancePolicy, HistoryGate};
use crate::reach::Reach;
use crate::scope::Scope;
use crate::stale::{self, StaleExemption};
use crate::terraform::SourceMap;

/// The outcome of a scan, as every report format renders it.
#[derive(Debug, Clone)]
pub struct Report {
    pub scanned_at: DateTime<Utc>,
    /// `all`, `user` or `accounts`: names the SARIF automation id.
    pub scope: String,
    /// The history series (`all`, `all:<account>,…`): the scope with its `--account` narrowing.
    pub scope_key: String,
    pub tokens_scanned: usize,
    pub owners_scanned: usize,
    pub findings: Vec<Finding>,
    pub not_evaluated: Vec<NotEvaluated>,
    /// The rules that were evaluated, sorted by id.
    pub rules: Vec<RuleMeta>,
    pub fail_on: FailOn,
    /// The findings compared with `--baseline FILE`; then the gate counts only new ones.
    pub baseline: Option<Comparison>,
    /// Exemptions that expired or matched nothing.
    pub stale_exemptions: Vec<StaleExemption>,
    /// What the scan read in full: where an absence means something.
    pub reach: Reach,
    /// For `scan --terraform`: each token's resource address, file, lines and unknowns,
    /// which the writers show (docs/terraform.md).
    pub terraform: Option<std::sync::Arc<SourceMap>>,
    /// With `--history`: the changes since the previous scan of the same scope.
    pub history: Option<Changes>,
    /// What the gate fails on besides `fail_on` when there is a history.
    pub history_gate: HistoryGate,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub tokens_scanned: usize,
    pub owners_scanned: usize,
    pub not_evaluated: usize,
    pub findings: usize,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub exempted: usize,
    pub stale_exemptions: usize,
    pub fail_on: &'static str,
    pub gate_failed: bool,
    pub complete: bool,
    pub exit_code: u8,
    /// With `--history`: findings new since the previous scan (unexempted or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<usize>,
    /// Tokens whose permissions, resources, condition, expiry or start changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drifted: Option<usize>,
    /// Open unexempted findings past their `[sla]` deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<usize>,
}

impl Report {
    /// With a baseline, only new (or worsened) findings count: accepted ones do not; with a
    /// history and `gate.fail_on_new`, only findings new since the previous scan count.
    /// With a history, `fail_on_drift` and `fail_on_overdue` fail the gate on their own.
    pub fn gate_failed(&self) -> bool {
        let history = self.history.as_ref();
        let only_new = history.filter(|_| self.history_gate.fail_on_new);
        let threshold = if self.baseline.is_none() && only_new.is_none() {
            govern::gate_fails(&self.findings, self.fail_on)
        } else {
            let gating: Vec<Finding> = self
                .findings
                .iter()
                .filter(|f| self.baseline.as_ref().is_none_or(|b| b.state(f).gates()))
                .filter(|f| {
                    only_new.is_none_or(|h| h.new_findings.binary_search(&f.fingerprint).is_ok())
                })
                .cloned()
                .collect();
            govern::gate_fails(&gating, self.fail_on)
        };
        let Some(h) = history else {
            return threshold;
        };
        threshold
            || (self.history_gate.fail_on_drift && h.drifted() > 0)
            || (self.history_gate.fail_on_overdue && h.overdue() > 0)
    }

    /// The finding's baseline state, when a baseline was given.
    pub fn baseline_state(&self, f: &Finding) -> Option<BaselineState> {
        self.baseline.as_ref().map(|b| b.state(f))
    }

    pub fn complete(&self) -> bool {
        self.not_evaluated.is_empty()
    }

    /// 3 when anything was not evaluated (never hidden, whatever `--fail-on`), else 1 when
    /// the gate fails, else 0.
    pub fn exit(&self) -> Exit {
        if !self.complete() {
            Exit::Runtime
        } else if self.gate_failed() {
            Exit::Findings
        } else {
            Exit::Ok
        }
    }

    /// Unexempted findings of one severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| !f.is_exempted() && f.severity == severity)
            .count()
    }

    pub fn summary(&self) -> Summary {
        Summary {
            tokens_scanned: self.tokens_scanned,
            owners_scanned: self.owners_scanned,
            not_evaluated: self.not_evaluated.len(),
            findings: self.findings.len(),
            critical: self.count(Severity::Critical),
            high: self.count(Severity::High),
            medium: self.count(Severity::Medium),
            low: self.count(Severity::Low),
            exempted: self.findings.iter().filter(|f| f.is_exempted()).count(),
            stale_exemptions: self.stale_exemptions.len(),
            fail_on: self.fail_on.as_str(),
            gate_failed: self.gate_failed(),
            complete: self.complete(),
            exit_code: self.exit().code(),
            new: self.history.as_ref().map(|h| h.new_findings.len()),
            resolved: self.history.as_ref().map(|h| h.resolved.len()),
            drifted: self.history.as_ref().map(Changes::drifted),
            overdue: self.history.as_ref().map(Changes::overdue),
        }
    }

    pub fn rule(&self, id: &str) -> Option<&RuleMeta> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// What one rule found on one token, before governance: the finding's own severity, else
/// the rule's.
pub fn raw_finding(meta: &RuleMeta, token: TokenRef<'_>, o: RuleOutput) -> RawFinding {
    RawFinding {
        rule_id: meta.id.clone(),
        severity: o.severity.unwrap_or(meta.severity),
        default_action: meta.remediation,
        owner: token.owner.clone(),
        token_id: token.token.shared_id().clone(),
        token_name: token.token.shared_name().cloned(),
        message: o.message,
        evidence: o.evidence,
    }
}

/// What every rule made of one token's input document: its raw findings, or why the rule
/// could not be evaluated on it. The one per-token evaluation: scan and explain both use it.
pub fn evaluate_input<'e>(
    token: TokenRef<'_>,
    input: regorus::Value,
    worker: &mut Worker<'e>,
) -> Vec<(&'e RuleMeta, Result<Vec<RawFinding>, EvalError>)> {
    worker
        .evaluate(input)
        .into_iter()
        .map(|(meta, result)| {
            let raw = result.map(|outputs| {
                outputs
                    .into_iter()
                    .map(|o| raw_finding(meta, token, o))
                    .collect()
            });
            (meta, raw)
        })
        .collect()
}

/// A rule that failed on a token: that token is not evaluated (for that rule), never clean.
pub fn rule_failed(token: TokenRef<'_>, e: &EvalError) -> NotEvaluated {
    NotEvaluated::new(
        token.owner.token_path(token.id()),
        format!("token {}: {e}", token.id()),
    )
}

/// Evaluate one token: its raw findings, or why it could not be evaluated. A failing rule
/// is reported; the other rules' findings stay.
pub fn evaluate_token(
    token: TokenRef<'_>,
    owner: &OwnerContext,
    worker: &mut Worker<'_>,
) -> (Vec<RawFinding>, Vec<NotEvaluated>) {
    let input = match enrich::input_document_in(token.token, owner) {
        Ok(doc) => doc,
        Err(e) => {
            return (
                Vec::new(),
                vec![NotEvaluated::new(
                    token.owner.token_path(token.id()),
                    e.to_string(),
                )],
            )
        }
    };
    let mut raw = Vec::new();
    let mut errors = Vec::new();
    // Evaluated, but a group without a name could not be matched: say so (issue 12).
    if let Some(reason) = enrich::unresolved_groups(&input, owner.has_catalogue()) {
        errors.push(NotEvaluated::new(
            token.owner.token_path(token.id()),
            format!("token {}: {reason}", token.id()),
        ));
    }
    for (_, result) in evaluate_input(token, input, worker) {
        match result {
            Ok(found) => raw.extend(found),
            Err(e) => errors.push(rule_failed(token, &e)),
        }
    }
    (raw, errors)
}

/// Evaluate tokens on every core: each worker takes a contiguous share and its own clone
/// of the prepared engine; shares are joined in order, so the result does not depend on
/// the number of workers. `keep` turns each raw finding into what is kept (a scan governs
/// it there and then, so raw findings are never all held at once).
pub fn evaluate_all<T: Send>(
    tokens: &[(TokenRef<'_>, &OwnerContext)],
    evaluator: &Evaluator,
    keep: impl Fn(RawFinding) -> Option<T> + Sync,
) -> (Vec<T>, Vec<NotEvaluated>) {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(tokens.len().div_ceil(64).max(1));
    let keep = &keep;
    let run = move |share: &[(TokenRef<'_>, &OwnerContext)]| {
        let mut kept = Vec::new();
        let mut errors = Vec::new();
        let mut worker = evaluator.worker();
        for (t, owner) in share {
            let (found, errs) = evaluate_token(*t, owner, &mut worker);
            kept.extend(found.into_iter().filter_map(keep));
            errors.extend(errs);
        }
        (kept, errors)
    };
    if workers <= 1 {
        return run(tokens);
    }
    let chunk = tokens.len().div_ceil(workers);
    let shares: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .chunks(chunk)
            .map(|share| scope.spawn(move || run(share)))
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    // One allocation of the final size, rather than regrowing it as each share is added.
    let total = shares.iter().flatten().map(|(k, _)| k.len()).sum();
    let mut kept = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for (i, share) in shares.into_iter().enumerate() {
        match share {
            Ok((k, e)) => {
                kept.extend(k);
                errors.extend(e);
            }
            // A worker that died takes its share with it: say so, token by token.
            Err(_) => errors.extend(tokens.chunks(chunk).nth(i).into_iter().flatten().map(
                |(t, _)| NotEvaluated {
                    scope: t.owner.token_path(t.id()),
                    reason: "the evaluation worker failed".into(),
                },
            )),
        }
    }
    (kept, errors)
}

/// What a scan is asked to do besides evaluating: the policy and gate, the time, which
/// owners it covers, and the baseline to compare with.
#[derive(Clone, Copy)]
pub struct ScanRequest<'a> {
    pub evaluator: &'a Evaluator,
    pub policy: &'a GovernancePolicy,
    pub fail_on: FailOn,
    pub now: DateTime<Utc>,
    pub scope: Scope,
    /// `--account` ids (empty: every account).
    pub accounts: &'a [String],
    /// The baseline to compare with, and how to name it in reports.
    pub baseline: Option<(&'a Baseline, &'a str)>,
    /// Terraform's view of the tokens: a finding that fired only because a value is not
    /// known before apply is dropped (docs/terraform.md, "What is known").
    pub terraform: Option<&'a SourceMap>,
}

/// One finished scan of an inventory: every token evaluated, the findings governed and
/// sorted, what the scan reached, stale exemptions and the baseline comparison included.
pub fn scan(inventory: &Inventory, req: &ScanRequest<'_>) -> Report {
    let (evaluator, policy, now) = (req.evaluator, req.policy, req.now);
    let owners = inventory.owners();
    let contexts: Vec<OwnerContext> = owners
        .iter()
        .map(|o| {
            OwnerContext::new(
                &o.owner,
                o.catalogue,
                now,
                inventory.scanner_token_id.as_deref(),
            )
        })
        .collect();
    let tokens: Vec<(TokenRef<'_>, &OwnerContext)> = owners
        .iter()
        .zip(&contexts)
        .flat_map(|(o, ctx)| {
            o.tokens.iter().map(move |token| {
                let t = TokenRef {
                    owner: &o.owner,
                    token,
                    catalogue: o.catalogue,
                };
                (t, ctx)
            })
        })
        .collect();
    let (mut findings, errors) = evaluate_all(&tokens, evaluator, |raw| {
        if req.terraform.is_some_and(|t| t.hides(&raw)) {
            return None;
        }
        govern::govern_one(raw, policy, now)
    });
    finding::sort_findings(&mut findings);
    // A token not (fully) evaluated is outside the reach too: none of its findings can be
    // called absent, and no exemption can be called stale on it.
    let reach = Reach::of(inventory, req.scope, req.accounts)
        .also_not_evaluated(errors.iter().map(|e| e.scope.clone()));
    let mut not_evaluated = inventory.not_evaluated.clone();
    not_evaluated.extend(errors);
    not_evaluated.sort();
    not_evaluated.dedup();
    let mut rules: Vec<RuleMeta> = evaluator.rules().cloned().collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let stale_exemptions = stale::find(&policy.exemptions, &findings, now, &reach);
    let baseline = req
        .baseline
        .map(|(b, name)| Comparison::new(b, name, &findings, &reach));
    Report {
        scanned_at: now,
        scope: req.scope.as_str().to_string(),
        scope_key: req.scope.as_str().to_string(),
        tokens_scanned: inventory.token_count(),
        owners_scanned: owners.len(),
        findings,
        not_evaluated,
        rules,
        fail_on: req.fail_on,
        baseline,
        stale_exemptions,
        reach,
        terraform: req.terraform.map(|t| std::sync::Arc::new(t.clone())),
        history: None,
        history_gate: policy.history_gate,
    }
}
