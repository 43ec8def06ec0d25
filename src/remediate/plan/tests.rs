//! Unit tests of plan building: the strongest action wins and says what it supersedes,
//! exemptions and `none` ask for nothing, filters, guardrails, execution order.

use chrono::{NaiveDate, TimeZone};
use serde_json::json;

use super::*;
use crate::finding::ExemptedBy;
use crate::inventory::{AccountInventory, RawToken, UserInventory};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

const ACC: &str = "acc1";

fn account() -> Owner {
    Owner::Account {
        id: ACC.into(),
        name: Some("Example".into()),
    }
}

fn user() -> Owner {
    Owner::User {
        id: Some("u".into()),
    }
}

fn raw(token: &serde_json::Value) -> RawToken {
    RawToken::from_value(token, "token").unwrap()
}

fn inventory() -> Inventory {
    let mut inv = Inventory::new();
    inv.scanner_token_id = Some("scanner".into());
    inv.user = Some(UserInventory {
        id: Some("u".into()),
        tokens: [
            json!({"id": "scanner", "name": "tokenwarden", "status": "active", "modified_on": "2026-11-01T00:00:00Z"}),
            json!({"id": "u1", "name": "stale", "status": "active"}),
            json!({"id": "u2", "name": "off", "status": "disabled"}),
            json!({"id": "u3", "name": "gone", "status": "active", "expires_on": "2026-11-22T10:00:00Z"}),
        ]
        .iter()
        .map(raw)
        .collect(),
        permission_groups: None,
    });
    inv.accounts.push(AccountInventory {
        id: ACC.into(),
        name: Some("Example".into()),
        tokens: [
            json!({"id": "a1", "name": "admin", "status": "active"}),
            json!({"id": "a2", "name": "unused", "status": "active"}),
        ]
        .iter()
        .map(raw)
        .collect(),
        permission_groups: None,
    });
    inv
}

fn finding(owner: Owner, token: &str, rule: &str, sev: Severity, action: Action) -> Finding {
    Finding {
        rule_id: rule.into(),
        severity: sev,
        token_id: token.into(),
        token_name: Some(format!("name-{token}").into()),
        owner: owner.into(),
        message: String::new(),
        evidence: crate::finding::Evidence::empty(),
        action,
        exempted_by: None,
        fingerprint: String::new(),
    }
}

fn findings() -> Vec<Finding> {
    vec![
        finding(
            user(),
            "u1",
            "token-secret-stale",
            Severity::Medium,
            Action::Roll,
        ),
        finding(
            user(),
            "u1",
            "token-no-expiry",
            Severity::High,
            Action::None,
        ),
        finding(
            account(),
            "a1",
            "token-secret-stale",
            Severity::Medium,
            Action::Roll,
        ),
        finding(
            account(),
            "a1",
            "token-expiring-soon",
            Severity::Low,
            Action::Replace,
        ),
        finding(
            account(),
            "a1",
            "token-can-manage-tokens",
            Severity::Critical,
            Action::Disable,
        ),
        finding(
            account(),
            "a2",
            "token-unused",
            Severity::Medium,
            Action::Disable,
        ),
        finding(
            user(),
            "scanner",
            "token-can-manage-tokens",
            Severity::Critical,
            Action::Disable,
        ),
    ]
}

fn build_default(findings: &[Finding], include_self: bool) -> Plan {
    let filter = Filter {
        include_self,
        ..Filter::default()
    };
    build(findings, &inventory(), &filter, now())
}

#[test]
fn one_action_per_token_the_strongest_and_it_says_what_it_supersedes() {
    let plan = build_default(&findings(), false);
    let a1 = plan.items.iter().find(|i| i.token_id == "a1").unwrap();
    assert_eq!(a1.op, Op::Disable);
    assert_eq!(a1.rules, vec!["token-can-manage-tokens"]);
    assert_eq!(a1.severity, Some(Severity::Critical));
    assert_eq!(
        a1.superseded,
        vec![
            Superseded {
                action: Op::Replace,
                rules: vec!["token-expiring-soon".into()]
            },
            Superseded {
                action: Op::Roll,
                rules: vec!["token-secret-stale".into()]
            },
        ]
    );
    assert_eq!(
        a1.scanned["name"], "admin",
        "the scanned object rides along"
    );
    assert_eq!(plan.items.iter().filter(|i| i.token_id == "a1").count(), 1);
}

#[test]
fn items_run_most_severe_first() {
    let plan = build_default(&findings(), false);
    let order: Vec<&str> = plan.items.iter().map(|i| i.token_id.as_str()).collect();
    // a1 critical; then the two mediums by owner path (accounts/… < user).
    assert_eq!(order, vec!["a1", "a2", "u1"]);
}

#[test]
fn the_scanners_own_token_needs_include_self_and_then_goes_last() {
    let plan = build_default(&findings(), false);
    assert!(plan.items.iter().all(|i| i.token_id != "scanner"));
    let s = plan
        .skipped
        .iter()
        .find(|s| s.token_id == "scanner")
        .unwrap();
    assert!(s.reason.contains("--include-self"), "{}", s.reason);
    assert_eq!(s.action, Op::Disable);

    let plan = build_default(&findings(), true);
    let last = plan.items.last().unwrap();
    assert_eq!(
        last.token_id, "scanner",
        "critical, but last: it may end the run's access"
    );
    assert!(last.is_self);
}

#[test]
fn exempted_findings_and_action_none_ask_for_nothing() {
    let mut f = findings();
    for x in &mut f {
        if &*x.token_id == "a2" {
            x.exempted_by = Some(Box::new(ExemptedBy {
                rule: "token-unused".into(),
                token: "a2".into(),
                reason: "seasonal job".into(),
                contact: "ops".into(),
                expires: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            }));
        }
    }
    f.push(finding(
        user(),
        "u9",
        "token-no-expiry",
        Severity::High,
        Action::None,
    ));
    let plan = build_default(&f, false);
    assert!(plan.items.iter().all(|i| i.token_id != "a2"));
    assert!(plan
        .skipped
        .iter()
        .all(|s| s.token_id != "a2" && s.token_id != "u9"));
    let u1 = plan.items.iter().find(|i| i.token_id == "u1").unwrap();
    assert_eq!(
        u1.rules,
        vec!["token-secret-stale"],
        "the none finding is not a reason"
    );
}

#[test]
fn rule_and_token_filters_narrow_the_plan() {
    let rules = vec!["token-secret-stale".to_string()];
    let filter = Filter {
        rules: &rules,
        ..Filter::default()
    };
    let plan = build(&findings(), &inventory(), &filter, now());
    let ops: Vec<(&str, Op)> = plan
        .items
        .iter()
        .map(|i| (i.token_id.as_str(), i.op))
        .collect();
    assert_eq!(
        ops,
        vec![("a1", Op::Roll), ("u1", Op::Roll)],
        "a1 only asked to roll by this rule"
    );

    let tokens = vec!["a2".to_string()];
    let filter = Filter {
        tokens: &tokens,
        ..Filter::default()
    };
    let plan = build(&findings(), &inventory(), &filter, now());
    assert_eq!(plan.items.len(), 1);
    assert_eq!(plan.items[0].token_id, "a2");
    assert!(plan.skipped.is_empty());
}

#[test]
fn inactive_tokens_are_not_rolled_replaced_or_disabled_again() {
    let f = vec![
        finding(
            user(),
            "u2",
            "token-secret-stale",
            Severity::Medium,
            Action::Roll,
        ),
        finding(
            user(),
            "u3",
            "token-expiring-soon",
            Severity::Low,
            Action::Replace,
        ),
    ];
    let plan = build_default(&f, false);
    assert!(plan.items.is_empty());
    let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons[0].contains("disabled") && reasons[0].contains("roll"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("expired") && reasons[1].contains("replace"),
        "{reasons:?}"
    );

    let f = vec![finding(
        user(),
        "u2",
        "token-inactive-lingering",
        Severity::Low,
        Action::Disable,
    )];
    let plan = build_default(&f, false);
    assert_eq!(plan.skipped[0].reason, "already disabled");
}

#[test]
fn single_token_plans_apply_the_same_guards() {
    let token = json!({"id": "t", "name": "n", "status": "disabled"});
    let plan = single(Op::Enable, user(), &token, false, false, now());
    assert_eq!(plan.items.len(), 1);
    assert!(plan.items[0].rules.is_empty());
    let plan = single(Op::Disable, user(), &token, false, false, now());
    assert_eq!(plan.skipped[0].reason, "already disabled");
    assert!(!guard(Op::Disable, &token, false, false, now())
        .unwrap()
        .is_refusal());
    assert!(guard(Op::Roll, &token, false, false, now())
        .unwrap()
        .is_refusal());
    let active = json!({"id": "t", "status": "active"});
    assert_eq!(
        guard(Op::Roll, &active, true, false, now()),
        Some(Guard::Scanner)
    );
    assert_eq!(guard(Op::Roll, &active, true, true, now()), None);
    assert_eq!(
        guard(Op::Enable, &active, false, false, now()),
        Some(Guard::Already("active"))
    );
}
