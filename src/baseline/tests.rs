//! Baseline record/compare and the file format's errors.

use super::*;
use crate::finding::{fingerprint, Action};
use crate::inventory::{AccountInventory, Inventory, NotEvaluated, UserInventory};
use crate::scope::Scope;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn finding(rule: &str, token: &str, severity: Severity) -> Finding {
    let owner = Owner::Account {
        id: "acc".into(),
        name: Some("Example".into()),
    };
    Finding {
        fingerprint: fingerprint(rule, &owner, token),
        rule_id: rule.into(),
        severity,
        token_id: token.into(),
        token_name: Some(format!("name-{token}").into()),
        owner: owner.into(),
        message: "m".into(),
        evidence: crate::finding::Evidence::empty(),
        action: Action::None,
        exempted_by: None,
    }
}

fn reach(not_evaluated: &[&str]) -> Reach {
    let mut inv = Inventory::new();
    inv.user = Some(UserInventory::default());
    inv.accounts.push(AccountInventory {
        id: "acc".into(),
        ..Default::default()
    });
    inv.not_evaluated = not_evaluated
        .iter()
        .map(|s| NotEvaluated::new(s.parse().unwrap(), "403"))
        .collect();
    Reach::of(&inv, Scope::All, &[])
}

#[test]
fn record_sorts_by_fingerprint_and_keeps_first_seen() {
    let f = [
        finding("r1", "a", Severity::High),
        finding("r2", "b", Severity::Low),
    ];
    let first = Baseline::record(&f, t("2026-01-01T00:00:00Z"), None, &reach(&[]));
    assert_eq!(first.format, BASELINE_FORMAT);
    assert!(first
        .findings
        .windows(2)
        .all(|w| w[0].fingerprint < w[1].fingerprint));
    let more = [f[0].clone(), finding("r3", "c", Severity::Medium)];
    let second = Baseline::record(&more, t("2026-02-01T00:00:00Z"), Some(&first), &reach(&[]));
    let seen = |b: &Baseline, rule: &str| {
        b.findings
            .iter()
            .find(|e| e.rule_id == rule)
            .map(|e| e.first_seen)
    };
    assert_eq!(seen(&second, "r1"), Some(t("2026-01-01T00:00:00Z")));
    assert_eq!(seen(&second, "r3"), Some(t("2026-02-01T00:00:00Z")));
    assert_eq!(
        seen(&second, "r2"),
        None,
        "a fixed finding leaves the baseline"
    );
    // A finding the scan could not see stays recorded.
    let partial = Baseline::record(
        &more,
        t("2026-02-01T00:00:00Z"),
        Some(&first),
        &reach(&["accounts/acc/tokens/b"]),
    );
    assert_eq!(seen(&partial, "r2"), Some(t("2026-01-01T00:00:00Z")));
}

#[test]
fn compare_marks_new_unchanged_updated_and_absent() {
    let old = Baseline::record(
        &[
            finding("r1", "a", Severity::Medium),
            finding("r2", "b", Severity::High),
            finding("gone", "c", Severity::High),
        ],
        t("2026-01-01T00:00:00Z"),
        None,
        &reach(&[]),
    );
    let now = [
        finding("r1", "a", Severity::High),
        finding("r2", "b", Severity::Medium),
        finding("fresh", "d", Severity::Low),
    ];
    let c = Comparison::new(&old, "b.json", &now, &reach(&[]));
    assert_eq!(c.state(&now[0]), BaselineState::Updated, "severity went up");
    assert_eq!(
        c.state(&now[1]),
        BaselineState::Unchanged,
        "severity went down"
    );
    assert_eq!(c.state(&now[2]), BaselineState::New);
    assert_eq!(c.absent.len(), 1);
    assert_eq!(c.absent[0].rule_id, "gone");
    assert_eq!(c.count(BaselineState::Absent), 1);
    assert_eq!(c.count(BaselineState::New), 1);
    assert!(BaselineState::New.gates() && BaselineState::Updated.gates());
    assert!(!BaselineState::Unchanged.gates());
}

#[test]
fn a_finding_in_a_scope_not_evaluated_is_not_absent() {
    let old = Baseline::record(
        &[finding("gone", "c", Severity::High)],
        t("2026-01-01T00:00:00Z"),
        None,
        &reach(&[]),
    );
    for scope in ["accounts/acc/tokens", "accounts/acc/tokens/c"] {
        let c = Comparison::new(&old, "b.json", &[], &reach(&[scope]));
        assert!(c.absent.is_empty(), "{scope}");
    }
}

#[test]
fn round_trip_and_errors_name_the_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.json");
    let b = Baseline::record(
        &[finding("r1", "a", Severity::High)],
        t("2026-01-01T00:00:00Z"),
        None,
        &reach(&[]),
    );
    b.write(&path).unwrap();
    assert_eq!(Baseline::read(&path).unwrap(), b);
    let p = Path::new("base.json");
    let e = Baseline::from_json("{", p).unwrap_err().to_string();
    assert!(e.starts_with("baseline base.json is not valid JSON"), "{e}");
    let e = Baseline::from_json(r#"{"findings": []}"#, p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("base.json: format: missing required key"), "{e}");
    let e = Baseline::from_json(r#"{"format": "tokenwarden-snapshot/v1"}"#, p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unsupported format"), "{e}");
    let e = Baseline::from_json(
        r#"{"format": "tokenwarden-baseline/v1", "created_at": "2026-01-01T00:00:00Z", "findings": [{"fingerprint": "x"}]}"#,
        p,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("base.json: findings[0]"), "{e}");
    let e = Baseline::read(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read baseline"), "{e}");
}
