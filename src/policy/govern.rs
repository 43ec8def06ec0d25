//! The single choke point where the governance policy meets what the rules found (disabled
//! rules, severity overrides, remediation actions, exemptions), and the gate. No rule and
//! no report knows about the policy: they meet here.

use chrono::{DateTime, Utc};

use super::GovernancePolicy;
use crate::finding::{fingerprint, sort_findings, FailOn, Finding, RawFinding};

/// The choke point: apply the policy to what the rules found, and sort.
pub fn govern(raw: Vec<RawFinding>, policy: &GovernancePolicy, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out: Vec<Finding> = raw
        .into_iter()
        .filter_map(|f| govern_one(f, policy, now))
        .collect();
    sort_findings(&mut out);
    out
}

/// The policy applied to one finding (`None` when its rule is disabled); a scan calls it
/// as each finding is made, so the raw findings of a large estate are never all held.
/// The result still needs [`sort_findings`].
pub fn govern_one(f: RawFinding, policy: &GovernancePolicy, now: DateTime<Utc>) -> Option<Finding> {
    if policy.rules.disabled.iter().any(|d| d.value == f.rule_id) {
        return None;
    }
    let severity = policy
        .rules
        .severity
        .iter()
        .find(|(id, _)| id.value == f.rule_id)
        .map_or(f.severity, |(_, s)| *s);
    let action = policy
        .remediation
        .actions
        .iter()
        .find(|(id, _)| id.value == f.rule_id)
        .map_or(f.default_action, |(_, a)| *a);
    let exempted_by = policy
        .exemptions
        .iter()
        .find(|e| e.is_active(now) && e.matches(&f))
        .map(|e| Box::new(e.exempted_by()));
    Some(Finding {
        fingerprint: fingerprint(&f.rule_id, &f.owner, &f.token_id),
        rule_id: f.rule_id,
        severity,
        token_id: f.token_id,
        token_name: f.token_name,
        owner: f.owner,
        message: f.message,
        evidence: f.evidence,
        action,
        exempted_by,
    })
}

/// True when an unexempted finding is at or above the threshold.
pub fn gate_fails(findings: &[Finding], fail_on: FailOn) -> bool {
    match fail_on.threshold() {
        None => false,
        Some(t) => findings.iter().any(|f| !f.is_exempted() && f.severity >= t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::tests::finding;
    use crate::finding::Severity;

    #[test]
    fn gate_counts_only_unexempted_findings_at_or_above() {
        let f = [finding(Severity::High, false)];
        assert!(gate_fails(&f, FailOn::High));
        assert!(gate_fails(&f, FailOn::Low));
        assert!(!gate_fails(&f, FailOn::Critical));
        assert!(!gate_fails(&f, FailOn::Never));
        assert!(!gate_fails(
            &[finding(Severity::Critical, true)],
            FailOn::Low
        ));
    }
}
