//! Boundary tests for every fact of the input document.

use super::*;
use serde_json::{json, Value};

const NOW: &str = "2026-11-22T10:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

fn facts_of(token: Value) -> Value {
    facts_with(token, None)
}

fn facts_with(token: Value, catalogue: Option<&[Value]>) -> Value {
    let owner = Owner::User { id: None };
    doc(&owner, &token, catalogue, Some("scanner"))
        .unwrap()
        .get("facts")
        .cloned()
        .unwrap()
}

/// The input document of `token` as JSON.
fn doc(
    owner: &Owner,
    token: &Value,
    catalogue: Option<&[Value]>,
    scanner: Option<&str>,
) -> Result<Value, EnrichError> {
    let raw = RawToken::from_value(token, "token").unwrap();
    let owner = std::sync::Arc::new(owner.clone());
    let t = TokenRef {
        owner: &owner,
        token: &raw,
        catalogue,
    };
    input_document(t, now(), scanner).map(|d| serde_json::to_value(&d).unwrap())
}

fn base() -> Value {
    json!({"id": "t1", "name": "n", "status": "active", "issued_on": "2026-08-24T10:00:00Z",
           "modified_on": "2026-08-24T10:00:00Z", "policies": []})
}

fn with(mut t: Value, k: &str, v: Value) -> Value {
    t[k] = v;
    t
}

#[test]
fn days_are_exact_fractions() {
    let f = facts_of(base());
    assert_eq!(f["age_days"].as_f64(), Some(90.0));
    assert_eq!(f["secret_age_days"].as_f64(), Some(90.0));
    let f = facts_of(with(base(), "issued_on", json!("2026-08-24T09:59:59Z")));
    assert!(f["age_days"].as_f64().unwrap() > 90.0);
}

#[test]
fn lifetime_uses_not_before_else_issued_on() {
    let t = with(base(), "expires_on", json!("2026-11-22T10:00:01Z"));
    assert_eq!(
        facts_of(t.clone())["lifetime_days"].as_f64().unwrap(),
        90.0 + 1.0 / 86400.0
    );
    let t = with(t, "not_before", json!("2026-08-25T10:00:01Z"));
    assert_eq!(facts_of(t)["lifetime_days"].as_f64(), Some(89.0));
    assert_eq!(facts_of(base())["lifetime_days"], Value::Null);
}

#[test]
fn expired_at_exactly_expires_on() {
    let f = facts_of(with(base(), "expires_on", json!(NOW)));
    assert_eq!(f["active"], json!(false));
    assert_eq!(f["expired"], json!(true));
    assert_eq!(f["days_until_expiry"].as_f64(), Some(0.0));
    let f = facts_of(with(base(), "expires_on", json!("2026-11-22T10:00:01Z")));
    assert_eq!(f["active"], json!(true));
    assert_eq!(f["expired"], json!(false));
}

#[test]
fn not_before_in_the_future_is_inactive_and_at_now_is_active() {
    let f = facts_of(with(base(), "not_before", json!("2026-11-22T10:00:01Z")));
    assert_eq!(f["active"], json!(false));
    assert_eq!(f["not_yet_valid"], json!(true));
    assert_eq!(f["inactive_days"], Value::Null);
    let f = facts_of(with(base(), "not_before", json!(NOW)));
    assert_eq!(f["active"], json!(true));
}

#[test]
fn status_other_than_active_is_inactive() {
    for s in ["disabled", "expired"] {
        assert_eq!(
            facts_of(with(base(), "status", json!(s)))["active"],
            json!(false)
        );
    }
    // A token without a status is no longer read as inactive (and so clean): issue 12
    // makes it not evaluated, naming the field.
    let mut t = base();
    t.as_object_mut().unwrap().remove("status");
    let e = doc(&Owner::User { id: None }, &t, None, None).unwrap_err();
    assert_eq!(e.field, "status");
}

#[test]
fn inactive_days_from_modified_on_or_expires_on_whichever_is_earlier() {
    let disabled = with(base(), "status", json!("disabled"));
    assert_eq!(
        facts_of(disabled.clone())["inactive_days"].as_f64(),
        Some(90.0)
    );
    let both = with(disabled, "expires_on", json!("2026-09-22T10:00:00Z"));
    assert_eq!(facts_of(both.clone())["inactive_days"].as_f64(), Some(90.0));
    let both = with(both, "modified_on", json!("2026-10-23T10:00:00Z"));
    assert_eq!(facts_of(both)["inactive_days"].as_f64(), Some(61.0));
    let expired = with(base(), "expires_on", json!("2026-10-23T10:00:00Z"));
    assert_eq!(facts_of(expired)["inactive_days"].as_f64(), Some(30.0));
    let expired_status_only = with(base(), "status", json!("expired"));
    assert_eq!(
        facts_of(expired_status_only)["inactive_days"].as_f64(),
        Some(90.0)
    );
    assert_eq!(facts_of(base())["inactive_days"], Value::Null);
}

#[test]
fn last_use() {
    let f = facts_of(base());
    assert_eq!(f["never_used"], json!(true));
    assert_eq!(f["days_since_last_use"], Value::Null);
    let f = facts_of(with(base(), "last_used_on", json!("2026-11-21T10:00:00Z")));
    assert_eq!(f["never_used"], json!(false));
    assert_eq!(f["days_since_last_use"].as_f64(), Some(1.0));
    let f = facts_of(with(base(), "last_used_on", Value::Null));
    assert_eq!(f["never_used"], json!(true));
}

#[test]
fn secret_age_falls_back_to_issued_on() {
    let mut t = base();
    t.as_object_mut().unwrap().remove("modified_on");
    assert_eq!(facts_of(t)["secret_age_days"].as_f64(), Some(90.0));
}

#[test]
fn bad_dates_are_errors_naming_token_and_field() {
    let owner = Owner::User { id: None };
    let token = with(base(), "expires_on", json!("next tuesday"));
    let e = doc(&owner, &token, None, None).unwrap_err();
    assert_eq!(e.field, "expires_on");
    assert!(e.to_string().contains("t1") && e.to_string().contains("next tuesday"));
    let token = with(base(), "issued_on", json!(12));
    let e = doc(&owner, &token, None, None).unwrap_err();
    assert_eq!(e.field, "issued_on");
}

#[test]
fn is_scanner() {
    assert_eq!(facts_of(base())["is_scanner"], json!(false));
    assert_eq!(
        facts_of(with(base(), "id", json!("scanner")))["is_scanner"],
        json!(true)
    );
}

fn ip(cond: Value) -> Value {
    facts_of(with(base(), "condition", cond))["ip"].clone()
}

#[test]
fn cidr_parsing_follows_cloudflare() {
    assert!(
        parse_cidr("123.123.123.100/24").is_some(),
        "host bits may be set"
    );
    assert_eq!(parse_cidr("203.0.113.7").unwrap().prefix_len(), 32);
    assert_eq!(parse_cidr("2001:db8::1").unwrap().prefix_len(), 128);
    assert_eq!(parse_cidr("2606:4700::/32").unwrap().prefix_len(), 32);
    assert!(
        parse_cidr("10.0.0.0/255.0.0.0").is_none(),
        "netmask notation"
    );
    assert!(parse_cidr("300.1.1.1/8").is_none());
    assert!(parse_cidr("10.0.0.0/33").is_none());
    assert!(parse_cidr("").is_none());
    assert!(parse_cidr(" 10.0.0.0/8").is_none());
}

#[test]
fn ip_condition_both_spellings() {
    for key in ["request_ip", "request.ip"] {
        let f = ip(json!({ key: {"in": ["203.0.113.0/24"]}}));
        assert_eq!(f["condition_key"], json!(key));
        assert_eq!(f["has_allowlist"], json!(true));
        assert_eq!(f["allow"][0]["prefix"], json!(24));
        assert_eq!(f["allow"][0]["version"], json!(4));
    }
}

#[test]
fn no_condition_means_no_allowlist() {
    let f = facts_of(base())["ip"].clone();
    assert_eq!(f["has_allowlist"], json!(false));
    assert_eq!(f["condition_key"], Value::Null);
    let f = ip(json!({"request_ip": {"not_in": ["10.0.0.0/8"]}}));
    assert_eq!(
        f["has_allowlist"],
        json!(false),
        "a deny list alone is no allowlist"
    );
}

#[test]
fn only_invalid_entries_is_no_allowlist_and_listed_as_invalid() {
    let f = ip(json!({"request_ip": {"in": ["10.0.0.0/255.0.0.0"], "not_in": ["bad", 7]}}));
    assert_eq!(f["has_allowlist"], json!(false));
    assert_eq!(f["invalid"], json!(["10.0.0.0/255.0.0.0", "bad", "7"]));
    assert_eq!(f["allow"][0]["valid"], json!(false));
}

#[test]
fn any_address_is_a_valid_allowlist_that_allows_any() {
    for any in ["0.0.0.0/0", "::/0"] {
        let f = ip(json!({"request_ip": {"in": [any]}}));
        assert_eq!(f["has_allowlist"], json!(true));
        assert_eq!(f["allows_any"], json!(true));
        assert_eq!(f["allow"][0]["any"], json!(true));
    }
    let f = ip(json!({"request_ip": {"in": ["0.0.0.0/1"]}}));
    assert_eq!(f["allows_any"], json!(false));
}

#[test]
fn malformed_condition_is_an_error() {
    let owner = Owner::User { id: None };
    let token = with(
        base(),
        "condition",
        json!({"request_ip": {"in": "10.0.0.0/8"}}),
    );
    let e = doc(&owner, &token, None, None).unwrap_err();
    assert_eq!(e.field, "condition.request_ip.in");
}

fn policy_token(policies: Value) -> Value {
    with(base(), "policies", policies)
}

#[test]
fn resources_top_level_and_nested() {
    let t = policy_token(json!([
        {"id": "p0", "effect": "allow", "permission_groups": [],
         "resources": {"com.cloudflare.api.account.zone.*": "*"}},
        {"id": "p1", "effect": "allow", "permission_groups": [],
         "resources": {"com.cloudflare.api.account.abc": {"com.cloudflare.api.account.zone.*": "*"}}},
        {"id": "p2", "effect": "deny", "permission_groups": [],
         "resources": {"com.cloudflare.api.account.*": "*", "com.cloudflare.api.account.zone.z1": "*",
                        "com.cloudflare.api.user.u1": "*"}}
    ]));
    let r = facts_of(t)["resources"].clone();
    assert_eq!(r[0]["all_zones"], json!(true));
    assert_eq!(r[0]["kind"], json!("zone"));
    assert_eq!(r[0]["parent"], Value::Null);
    assert_eq!(r[1]["all_zones"], json!(true));
    assert_eq!(r[1]["parent"], json!("com.cloudflare.api.account.abc"));
    assert_eq!(r[1]["account_id"], json!("abc"));
    assert_eq!(r[1]["policy_index"], json!(1));
    assert_eq!(r[2]["all_accounts"], json!(true));
    assert_eq!(r[2]["all_zones"], json!(false));
    assert_eq!(r[2]["effect"], json!("deny"));
    assert_eq!(r[3]["zone_id"], json!("z1"));
    assert_eq!(r[4]["kind"], json!("user"));
}

#[test]
fn permission_groups_names_access_and_known() {
    let catalogue = vec![
        json!({"id": "g1", "name": "DNS Write", "scopes": ["com.cloudflare.api.account.zone"]}),
        json!({"id": "g2", "name": "Zone Read", "scopes": ["com.cloudflare.api.account.zone"]}),
    ];
    let t = policy_token(json!([
        {"id": "p0", "effect": "allow", "resources": {"com.cloudflare.api.account.zone.z": "*"},
         "permission_groups": [{"id": "g1", "name": "DNS Edit"}, {"id": "g2"}, {"id": "g9", "name": "Mystery"}]}
    ]));
    let g = facts_with(t.clone(), Some(&catalogue))["permission_groups"].clone();
    assert_eq!(g[0]["match_names"], json!(["dns write"]));
    assert_eq!(g[0]["access"], json!("write"));
    assert_eq!(g[0]["name"], json!("DNS Edit"));
    assert_eq!(g[0]["catalogue_name"], json!("DNS Write"));
    assert_eq!(g[0]["known"], json!(true));
    assert_eq!(g[1]["name"], json!("Zone Read"));
    assert_eq!(g[1]["access"], json!("read"));
    assert_eq!(g[1]["scopes"], json!(["com.cloudflare.api.account.zone"]));
    assert_eq!(g[2]["known"], json!(false));
    assert_eq!(g[2]["access"], json!("other"));
    let g = facts_with(t, None)["permission_groups"].clone();
    assert_eq!(
        g[0]["known"],
        Value::Null,
        "catalogue not read: unknown is not false"
    );
    assert_eq!(g[1]["name"], Value::Null);
}

#[test]
fn normalize_group_names() {
    assert_eq!(
        normalize_group_name(" API Tokens Edit "),
        "api tokens write"
    );
    assert_eq!(normalize_group_name("Billing Write"), "billing write");
    assert_eq!(normalize_group_name("Edit Something"), "edit something");
}

#[test]
fn input_document_carries_verbatim_token_and_owner() {
    let owner = Owner::Account {
        id: "a1".into(),
        name: Some("Acme".into()),
    };
    let token = with(base(), "x_extra", json!({"kept": true}));
    let doc = doc(&owner, &token, None, None).unwrap();
    assert_eq!(doc["now"], json!(NOW));
    assert_eq!(
        doc["owner"],
        json!({"kind": "account", "id": "a1", "name": "Acme"})
    );
    assert_eq!(doc["token"], token);
}

/// Issue 12, item 2: what the scanner does not understand is an error naming the JSON path
/// inside the token, never a token read as clean.
#[test]
fn tokens_the_scanner_does_not_understand_are_errors_naming_the_path() {
    let owner = Owner::User { id: None };
    let policy = |extra: Value| {
        let mut p = json!({"id": "p", "effect": "allow", "permission_groups": [],
                           "resources": {"com.cloudflare.api.account.*": "*"}});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                p.as_object_mut().unwrap().remove(k);
            } else {
                p[k] = v.clone();
            }
        }
        p
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(base(), "status", json!("revoked")), "status", "unknown status \"revoked\""),
        (with(base(), "status", json!("Active")), "status", "unknown status"),
        (with(base(), "status", Value::Null), "status", "missing"),
        (with(base(), "status", json!(1)), "status", "expected a string"),
        (with(base(), "policies", Value::Null), "policies", "missing"),
        (policy_token(json!(["allow"])), "policies[0]", "expected an object"),
        (policy_token(json!([policy(json!({})), 7])), "policies[1]", "expected an object"),
        (policy_token(json!([policy(json!({"effect": "permit"}))])), "policies[0].effect", "unknown effect \"permit\""),
        (policy_token(json!([policy(json!({"effect": "Allow"}))])), "policies[0].effect", "unknown effect"),
        (policy_token(json!([policy(json!({"effect": true}))])), "policies[0].effect", "expected a string"),
        (policy_token(json!([policy(json!({"resources": null}))])), "policies[0].resources", "missing"),
        (policy_token(json!([policy(json!({"resources": ["com.cloudflare.api.account.*"]}))])), "policies[0].resources", "expected an object"),
        (policy_token(json!([policy(json!({"resources": {"com.cloudflare.api.account.*": 1}}))])),
         "policies[0].resources[\"com.cloudflare.api.account.*\"]", "expected a string or an object of strings"),
        (policy_token(json!([policy(json!({"resources": {"com.cloudflare.api.account.a": {"com.cloudflare.api.account.zone.*": {"x": "*"}}}}))])),
         "policies[0].resources[\"com.cloudflare.api.account.a\"][\"com.cloudflare.api.account.zone.*\"]", "expected a string"),
        (policy_token(json!([policy(json!({"permission_groups": null}))])), "policies[0].permission_groups", "missing"),
        (policy_token(json!([policy(json!({"permission_groups": [{"id": "g", "name": 5}]}))])),
         "policies[0].permission_groups[0].name", "expected a string"),
        (with(base(), "condition", json!({"request_ip": ["10.0.0.0/8"]})), "condition.request_ip", "expected an object"),
    ];
    for (token, field, message) in cases {
        let e = doc(&owner, &token, None, None).unwrap_err();
        assert_eq!(e.field, field, "{token}");
        assert!(e.message.contains(message), "{field}: {}", e.message);
        assert!(e.to_string().starts_with("token t1: "), "{e}");
    }
}

#[test]
fn a_policy_without_effect_is_read_as_allow_and_spec_shapes_are_understood() {
    let t = policy_token(json!([
        {"id": "p0", "permission_groups": [{"id": "g1", "name": "DNS Write"}],
         "resources": {"com.cloudflare.api.account.zone.*": "*"}},
        {"id": "p1", "effect": "deny", "permission_groups": [],
         "resources": {"com.cloudflare.api.account.a": {"com.cloudflare.api.account.zone.*": "*"}}},
        {"id": "p2", "effect": null, "permission_groups": [{"id": "g2", "name": null}], "resources": {}}
    ]));
    let f = facts_of(t);
    assert_eq!(f["resources"][0]["effect"], json!("allow"));
    assert_eq!(f["permission_groups"][0]["effect"], json!("allow"));
    assert_eq!(f["resources"][1]["effect"], json!("deny"));
    assert_eq!(f["permission_groups"][1]["effect"], json!("allow"));
    for s in ["active", "disabled", "expired"] {
        facts_of(with(base(), "status", json!(s)));
    }
}

/// Issue 12, item 1: a group named only by id cannot be matched by name without the
/// catalogue; the token says which.
#[test]
fn groups_named_only_by_id_are_unresolved_without_a_catalogue() {
    let t = policy_token(json!([
        {"id": "p0", "effect": "allow", "resources": {"com.cloudflare.api.account.zone.*": "*"},
         "permission_groups": [{"id": "g1", "name": "DNS Write"}, {"id": "g2"}, {"id": "g3", "name": " "}]}
    ]));
    let owner = Owner::User { id: None };
    let raw = RawToken::from_value(&t, "token").unwrap();
    let owner = std::sync::Arc::new(owner);
    let r = TokenRef {
        owner: &owner,
        token: &raw,
        catalogue: None,
    };
    let input = input_document(r, now(), None).unwrap();
    let why = unresolved_groups(&input, false).unwrap();
    assert!(
        why.starts_with(
            "policies[0].permission_groups[1] (id g2), policies[0].permission_groups[2] (id g3)"
        ),
        "{why}"
    );
    assert_eq!(
        unresolved_groups(&input, true),
        None,
        "the catalogue names them"
    );
    let named = policy_token(json!([
        {"id": "p0", "effect": "allow", "resources": {}, "permission_groups": [{"id": "g1", "name": "DNS Write"}]}
    ]));
    let raw = RawToken::from_value(&named, "token").unwrap();
    let r = TokenRef {
        owner: &owner,
        token: &raw,
        catalogue: None,
    };
    assert_eq!(
        unresolved_groups(&input_document(r, now(), None).unwrap(), false),
        None
    );
}
