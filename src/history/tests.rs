//! Unit tests of history: token drift, finding lifecycle and SLA deadlines (pure functions),
//! and the SQLite store (the integration tests run the same against PostgreSQL).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::drift::{diff, diff_token, Covered};
use super::lifecycle::{compare, deadline, FindingStatus, RecordedFinding};
use super::*;
use crate::finding::{fingerprint, Action, Finding, Severity};
use crate::scope::Owner;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn user() -> Owner {
    Owner::User { id: None }
}

fn account() -> Owner {
    Owner::Account {
        id: "acc".into(),
        name: None,
    }
}

fn token(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "name": format!("tok-{id}"),
        "status": "active",
        "issued_on": "2026-01-01T00:00:00Z",
        "modified_on": "2026-01-01T00:00:00Z",
        "expires_on": "2026-12-01T00:00:00Z",
        "policies": [{
            "effect": "allow",
            "permission_groups": [{"id": "g1", "name": "DNS Read"}],
            "resources": {"com.cloudflare.api.account.zone.*": "*"}
        }],
        "condition": {"request_ip": {"in": ["10.0.0.0/8"]}}
    })
}

fn state(owner: &Owner, v: &serde_json::Value) -> TokenState {
    TokenState::of(owner, v, None)
}

fn changed(edit: impl FnOnce(&mut serde_json::Value)) -> Option<TokenChange> {
    let old = token("a");
    let mut new = old.clone();
    edit(&mut new);
    diff_token(&state(&user(), &old), &state(&user(), &new))
}

#[test]
fn an_unchanged_token_has_no_change_even_when_used() {
    assert_eq!(
        changed(|t| t["last_used_on"] = json!("2026-11-01T00:00:00Z")),
        None
    );
}

#[test]
fn a_gained_permission_group_is_drift_with_its_resource() {
    let c = changed(|t| {
        t["policies"][0]["permission_groups"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "g2", "name": "Zone Write"}))
    })
    .unwrap();
    assert_eq!(c.events, [TokenEvent::Drifted]);
    assert_eq!(
        c.changes,
        [r#"+ "Zone Write" on com.cloudflare.api.account.zone.*"#]
    );
}

#[test]
fn a_removed_group_and_a_changed_resource_are_drift() {
    let c = changed(|t| {
        t["policies"][0]["resources"] = json!({"com.cloudflare.api.account.zone.z1": "*"})
    })
    .unwrap();
    assert_eq!(
        c.changes,
        [
            r#"+ "DNS Read" on com.cloudflare.api.account.zone.z1"#,
            r#"- "DNS Read" on com.cloudflare.api.account.zone.*"#
        ]
    );
    let c = changed(|t| t["policies"][0]["permission_groups"] = json!([])).unwrap();
    assert_eq!(
        c.changes,
        [r#"- "DNS Read" on com.cloudflare.api.account.zone.*"#]
    );
}

#[test]
fn nested_resources_and_denies_are_named() {
    let c = changed(|t| {
        t["policies"].as_array_mut().unwrap().push(json!({
            "effect": "deny",
            "permission_groups": [{"id": "g3"}],
            "resources": {"com.cloudflare.api.account.acc": {"com.cloudflare.api.account.zone.*": "*"}}
        }))
    })
    .unwrap();
    assert_eq!(
        c.changes,
        [r#"+ deny "g3" on com.cloudflare.api.account.acc > com.cloudflare.api.account.zone.*"#]
    );
}

#[test]
fn a_lost_or_changed_ip_condition_is_drift() {
    let c = changed(|t| {
        t.as_object_mut().unwrap().remove("condition");
    })
    .unwrap();
    assert_eq!(c.changes, ["- condition.request_ip.in"]);
    let c = changed(|t| t["condition"]["request_ip"]["in"] = json!(["10.0.0.0/8", "0.0.0.0/0"]))
        .unwrap();
    assert_eq!(c.changes, ["+ condition.request_ip.in 0.0.0.0/0"]);
    let c = changed(|t| t["condition"]["request_ip"]["not_in"] = json!(["10.1.0.0/16"])).unwrap();
    assert_eq!(c.changes, ["+ condition.request_ip.not_in [10.1.0.0/16]"]);
}

#[test]
fn expiry_and_start_changes_are_drift() {
    let c = changed(|t| t["expires_on"] = json!(null)).unwrap();
    assert_eq!(c.changes, ["expires_on 2026-12-01 → null"]);
    assert!(c.drifted());
    let c = changed(|t| t["not_before"] = json!("2026-02-01T12:30:00Z")).unwrap();
    assert_eq!(c.changes, ["not_before null → 2026-02-01T12:30:00Z"]);
}

#[test]
fn status_name_and_roll_are_events_not_drift() {
    let c = changed(|t| t["status"] = json!("disabled")).unwrap();
    assert_eq!(c.events, [TokenEvent::Disabled]);
    assert!(!c.drifted());
    assert_eq!(c.changes, ["status active → disabled"]);
    let old = {
        let mut v = token("a");
        v["status"] = json!("disabled");
        v
    };
    let c = diff_token(&state(&user(), &old), &state(&user(), &token("a"))).unwrap();
    assert_eq!(c.events, [TokenEvent::Enabled]);
    let c = changed(|t| t["name"] = json!("renamed")).unwrap();
    assert_eq!(c.events, [TokenEvent::Renamed]);
    assert_eq!(c.changes, [r#"name "tok-a" → "renamed""#]);
    let c = changed(|t| t["modified_on"] = json!("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(c.events, [TokenEvent::Rolled]);
    // An edit also moves modified_on: it is the edit, not a roll.
    let c = changed(|t| {
        t["modified_on"] = json!("2026-03-01T00:00:00Z");
        t["expires_on"] = json!(null);
    })
    .unwrap();
    assert_eq!(c.events, [TokenEvent::Drifted]);
}

fn covered(paths: &[&str]) -> Covered {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn created_and_deleted_only_where_the_owner_was_read() {
    let old = vec![state(&user(), &token("a")), state(&account(), &token("b"))];
    let new = vec![state(&user(), &token("c"))];
    // Both scans read both owners: a and b deleted, c created.
    let all = covered(&["user", "accounts/acc"]);
    let c = diff(&old, &all, &new, &all);
    let events: Vec<(&str, TokenEvent)> = c
        .iter()
        .map(|c| (c.token_id.as_str(), c.events[0]))
        .collect();
    assert_eq!(
        events,
        [
            ("b", TokenEvent::Deleted),
            ("a", TokenEvent::Deleted),
            ("c", TokenEvent::Created)
        ]
    );
    // The account was not read now: b is not deleted.
    let c = diff(&old, &all, &new, &covered(&["user"]));
    assert!(c.iter().all(|c| c.token_id != "b"));
    // The user was not read before: c is not created (it may be old).
    let c = diff(&old, &covered(&["accounts/acc"]), &new, &all);
    assert!(c.iter().all(|c| c.token_id != "c"));
}

#[test]
fn a_renamed_token_is_the_same_token() {
    let old = vec![state(&user(), &token("a"))];
    let mut v = token("a");
    v["name"] = json!("new-name");
    let all = covered(&["user"]);
    let c = diff(&old, &all, &[state(&user(), &v)], &all);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].events, [TokenEvent::Renamed]);
}

#[test]
fn group_names_come_from_the_catalogue_when_the_token_has_none() {
    let v = json!({"id": "a", "policies": [{"effect": "allow",
        "permission_groups": [{"id": "g9"}], "resources": {"r": "*"}}]});
    let cat = [json!({"id": "g9", "name": "Zone Write"})];
    let s = TokenState::of(&user(), &v, Some(&cat));
    assert_eq!(
        s.grants.iter().next().unwrap().show(),
        r#""Zone Write" on r"#
    );
}

#[test]
fn the_stored_state_leaves_out_last_used_and_hashes_stably() {
    let mut v = token("a");
    v["last_used_on"] = json!("2026-11-01T00:00:00Z");
    let s = state(&user(), &v);
    assert!(!s.to_json().contains("last_used"));
    assert_eq!(
        TokenState::hash(&s.to_json()),
        TokenState::hash(&state(&user(), &token("a")).to_json())
    );
}

fn finding(token: &str, rule: &str, severity: Severity) -> Finding {
    let owner = user();
    Finding {
        fingerprint: fingerprint(rule, &owner, token),
        rule_id: rule.into(),
        severity,
        token_id: token.into(),
        token_name: None,
        owner: owner.into(),
        message: "m".into(),
        evidence: crate::finding::Evidence::empty(),
        action: Action::None,
        exempted_by: None,
    }
}

fn recorded(f: &Finding, first_seen: &str) -> RecordedFinding {
    RecordedFinding::of(f, t(first_seen))
}

#[test]
fn findings_are_new_open_resolved_or_carried() {
    let now = t("2026-11-20T00:00:00Z");
    let kept = finding("a", "r1", Severity::High);
    let fixed = finding("a", "r2", Severity::Low);
    let unseen = finding("b", "r1", Severity::High);
    let fresh = finding("a", "r3", Severity::Medium);
    let previous = [
        recorded(&kept, "2026-11-01T00:00:00Z"),
        recorded(&fixed, "2026-11-01T00:00:00Z"),
        recorded(&unseen, "2026-10-01T00:00:00Z"),
    ];
    // Token b was not evaluated this time.
    let looked = |_: &Owner, token: &str| token != "b";
    let life = compare(
        &[kept.clone(), fresh.clone()],
        Some(&previous),
        &looked,
        &BTreeSet::new(),
        now,
        &Sla::default(),
    );
    assert_eq!(life.new, std::slice::from_ref(&fresh.fingerprint));
    let open = &life.open[&kept.fingerprint];
    assert_eq!(open.status, FindingStatus::Open);
    assert_eq!(open.first_seen, t("2026-11-01T00:00:00Z"));
    assert_eq!(open.age_days, 19);
    assert_eq!(life.open[&fresh.fingerprint].first_seen, now);
    assert_eq!(life.resolved.len(), 1);
    assert_eq!(life.resolved[0].fingerprint, fixed.fingerprint);
    // Not evaluated: neither resolved nor forgotten.
    assert_eq!(life.carried.len(), 1);
    assert_eq!(life.carried[0].fingerprint, unseen.fingerprint);
}

#[test]
fn a_finding_seen_before_and_fixed_is_reopened_and_its_clock_restarts() {
    let now = t("2026-11-20T00:00:00Z");
    let f = finding("a", "r1", Severity::High);
    let seen: BTreeSet<String> = [f.fingerprint.clone()].into();
    let life = compare(
        std::slice::from_ref(&f),
        Some(&[]),
        &|_: &Owner, _: &str| true,
        &seen,
        now,
        &Sla::default(),
    );
    assert_eq!(life.open[&f.fingerprint].status, FindingStatus::Reopened);
    assert_eq!(life.open[&f.fingerprint].first_seen, now);
    assert_eq!(life.new, std::slice::from_ref(&f.fingerprint));
}

#[test]
fn the_first_scan_makes_everything_new() {
    let f = finding("a", "r1", Severity::High);
    let life = compare(
        std::slice::from_ref(&f),
        None,
        &|_: &Owner, _: &str| true,
        &BTreeSet::new(),
        t("2026-11-20T00:00:00Z"),
        &Sla::default(),
    );
    assert_eq!(life.new.len(), 1);
    assert!(life.resolved.is_empty());
}

#[test]
fn deadlines_follow_the_sla_per_severity() {
    let sla = Sla {
        critical: Some(7),
        high: Some(30),
        medium: None,
        low: None,
    };
    let first = t("2026-11-01T00:00:00Z");
    let (due, overdue) = deadline(Severity::Critical, first, t("2026-11-08T00:00:00Z"), &sla);
    assert_eq!(due, Some(t("2026-11-08T00:00:00Z")));
    assert!(!overdue, "due today is not yet overdue");
    let (_, overdue) = deadline(Severity::Critical, first, t("2026-11-08T00:00:01Z"), &sla);
    assert!(overdue);
    assert_eq!(
        deadline(Severity::Medium, first, t("2027-11-08T00:00:00Z"), &sla),
        (None, false)
    );
    let f = finding("a", "r1", Severity::High);
    let previous = [recorded(&f, "2026-10-01T00:00:00Z")];
    let life = compare(
        std::slice::from_ref(&f),
        Some(&previous),
        &|_: &Owner, _: &str| true,
        &BTreeSet::new(),
        t("2026-11-20T00:00:00Z"),
        &sla,
    );
    let o = &life.open[&f.fingerprint];
    assert!(o.overdue);
    assert_eq!(o.due, Some(t("2026-10-31T00:00:00Z")));
}

#[test]
fn a_password_in_a_postgres_url_is_never_shown() {
    let shown =
        store::redact("postgres://warden:s3cret@db.example:5432/tw?password=other&sslmode=require");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!shown.contains("other"), "{shown}");
    assert!(shown.contains("db.example"));
    assert_eq!(store::redact("/var/lib/tw.db"), "/var/lib/tw.db");
}

#[test]
fn the_fast_reader_agrees_with_the_general_one() {
    let mut odd = token("b");
    odd["name"] = json!(42);
    let mut nested = token("c");
    nested["policies"][0]["resources"] =
        json!({"com.cloudflare.api.account.acc": {"com.cloudflare.api.account.zone.*": "*"}});
    nested["condition"]["request_ip"]["not_in"] = json!(["10.9.0.0/16"]);
    nested["last_used_on"] = json!("2026-11-01T00:00:00Z");
    for v in [
        token("a"),
        odd,
        nested,
        json!({"id": "d", "policies": "nope"}),
    ] {
        let text = serde_json::to_string(&v).unwrap();
        let fast = TokenState::from_json(&account(), &text, None);
        let general = TokenState::of(&account(), &v, None);
        assert_eq!(fast, general, "{text}");
        assert_eq!(fast.last_used_on, general.last_used_on);
    }
}
