//! Unit tests of the disable/enable protocol's pure parts: the PUT body keeps every
//! writable field, and the verification sees every access-relevant change.

use serde_json::json;

use super::*;

fn token() -> Value {
    json!({
        "id": "ed17574386854bf78a67040be0a770b0",
        "name": "deploy",
        "status": "active",
        "issued_on": "2026-01-01T00:00:00Z",
        "modified_on": "2026-02-01T00:00:00Z",
        "last_used_on": "2026-11-01T00:00:00Z",
        "not_before": "2026-01-02T00:00:00Z",
        "expires_on": "2027-01-01T00:00:00Z",
        "policies": [
            {"id": "p1", "effect": "allow",
             "permission_groups": [{"id": "g1", "name": "DNS Write"}, {"id": "g2", "name": "Zone Read", "meta": {"key": "k", "value": "v"}}],
             "resources": {"com.cloudflare.api.account.acc": {"com.cloudflare.api.account.zone.*": "*"}}},
            {"id": "p2", "effect": "deny",
             "permission_groups": [{"id": "g1"}],
             "resources": {"com.cloudflare.api.account.zone.z1": "*"}}
        ],
        "condition": {"request_ip": {"in": ["203.0.113.0/24"], "not_in": ["203.0.113.7/32"]}},
        "future_field": {"kept": true}
    })
}

#[test]
fn the_put_body_is_the_whole_token_with_only_status_changed() {
    let t = token();
    let body = put_body(&t, "disabled").unwrap();
    assert_eq!(body["status"], "disabled");
    for field in [
        "name",
        "policies",
        "condition",
        "not_before",
        "expires_on",
        "future_field",
    ] {
        assert_eq!(body[field], t[field], "{field} must be sent back verbatim");
    }
    for field in ["id", "issued_on", "modified_on", "last_used_on"] {
        assert!(body.get(field).is_none(), "{field} is read-only");
    }
    assert_eq!(body["policies"][0]["id"], "p1", "policy ids are kept");
    assert_eq!(
        body["policies"][0]["permission_groups"][1]["meta"]["key"],
        "k"
    );
}

#[test]
fn a_token_without_name_or_policies_cannot_be_put_back() {
    let mut t = token();
    t.as_object_mut().unwrap().remove("policies");
    assert!(put_body(&t, "disabled")
        .unwrap_err()
        .to_string()
        .contains("policies"));
    assert!(put_body(&json!({"policies": []}), "disabled")
        .unwrap_err()
        .to_string()
        .contains("name"));
    assert!(put_body(&json!("x"), "disabled").is_err());
    let mut t = token();
    t["value"] = json!("cfut_never");
    assert!(put_body(&t, "active").unwrap().get("value").is_none());
}

#[test]
fn only_status_and_modified_on_may_change() {
    let before = token();
    let mut after = before.clone();
    after["status"] = json!("disabled");
    after["modified_on"] = json!("2026-11-22T10:00:00Z");
    after["last_used_on"] = json!("2026-11-22T09:00:00Z");
    // Same instant written differently, policies reordered, group order changed: same access.
    after["expires_on"] = json!("2027-01-01T00:00:00.000Z");
    let policies = after["policies"].as_array().unwrap().clone();
    after["policies"] = json!([policies[1], policies[0]]);
    after["policies"][1]["permission_groups"] =
        json!([{"id": "g2", "name": "Zone Read"}, {"id": "g1", "name": "DNS Write"}]);
    assert_eq!(protected_diff(&before, &after), Vec::<String>::new());
}

type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn every_weakening_is_seen() {
    let before = token();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "condition",
            Box::new(|t| {
                t.as_object_mut().unwrap().remove("condition");
            }),
        ),
        (
            "condition",
            Box::new(|t| t["condition"]["request_ip"]["in"] = json!(["0.0.0.0/0"])),
        ),
        (
            "expires_on",
            Box::new(|t| {
                t.as_object_mut().unwrap().remove("expires_on");
            }),
        ),
        (
            "not_before",
            Box::new(|t| t["not_before"] = json!("2025-01-01T00:00:00Z")),
        ),
        (
            "policies",
            Box::new(|t| t["policies"][1]["effect"] = json!("allow")),
        ),
        (
            "policies",
            Box::new(|t| t["policies"][0]["permission_groups"][0]["id"] = json!("g9")),
        ),
        (
            "policies",
            Box::new(|t| {
                t["policies"][0]["resources"] = json!({"com.cloudflare.api.account.*": "*"})
            }),
        ),
        (
            "policies",
            Box::new(|t| {
                t["policies"].as_array_mut().unwrap().pop();
            }),
        ),
        ("name", Box::new(|t| t["name"] = json!("other"))),
    ];
    for (field, change) in cases {
        let mut after = before.clone();
        change(&mut after);
        let diffs = protected_diff(&before, &after);
        assert_eq!(diffs.len(), 1, "{field}: {diffs:?}");
        assert!(diffs[0].starts_with(field), "{field}: {diffs:?}");
    }
}

#[test]
fn no_condition_null_and_empty_mean_the_same() {
    let mut a = token();
    a.as_object_mut().unwrap().remove("condition");
    let mut b = a.clone();
    b["condition"] = json!({});
    let mut c = a.clone();
    c["condition"] = Value::Null;
    assert!(protected_diff(&a, &b).is_empty());
    assert!(protected_diff(&a, &c).is_empty());
}

#[test]
fn a_token_modified_since_the_scan_is_noticed() {
    let scanned = token();
    assert_eq!(changed_since_scan(&scanned, &scanned), None);
    let mut fresh = scanned.clone();
    fresh["modified_on"] = json!("2026-11-22T09:59:59Z");
    let why = changed_since_scan(&scanned, &fresh).unwrap();
    assert!(
        why.contains("2026-02-01T00:00:00Z") && why.contains("2026-11-22T09:59:59Z"),
        "{why}"
    );
}

#[test]
fn without_modified_on_in_the_scan_access_and_status_decide() {
    let mut scanned = token();
    scanned.as_object_mut().unwrap().remove("modified_on");
    let fresh = token();
    assert_eq!(
        changed_since_scan(&scanned, &fresh),
        None,
        "same access and status"
    );
    let mut disabled = fresh.clone();
    disabled["status"] = json!("disabled");
    assert!(changed_since_scan(&scanned, &disabled)
        .unwrap()
        .contains("status"));
    let mut opened = fresh.clone();
    opened.as_object_mut().unwrap().remove("condition");
    assert!(changed_since_scan(&scanned, &opened)
        .unwrap()
        .contains("condition"));
}
