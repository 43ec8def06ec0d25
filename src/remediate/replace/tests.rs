//! Unit tests of the replace protocol's pure parts: the replacement's name and create body.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn old() -> Value {
    json!({
        "id": "ed17574386854bf78a67040be0a770b0",
        "name": "deploy",
        "status": "active",
        "issued_on": "2026-01-01T00:00:00Z",
        "modified_on": "2026-02-01T00:00:00Z",
        "expires_on": "2026-11-30T00:00:00Z",
        "policies": [
            {"id": "p1", "effect": "allow",
             "permission_groups": [{"id": "g1", "name": "DNS Write"}, {"id": "g2", "name": "Zone Read", "meta": {"key": "k", "value": "v"}}],
             "resources": {"com.cloudflare.api.account.acc": {"com.cloudflare.api.account.zone.*": "*"}}},
            {"id": "p2", "effect": "deny", "permission_groups": [{"id": "g1"}],
             "resources": {"com.cloudflare.api.account.zone.z1": "*"}}
        ],
        "condition": {"request_ip": {"in": ["203.0.113.0/24"]}}
    })
}

#[test]
fn the_name_says_what_it_replaces_within_cloudflares_limit() {
    let t = at(2026, 11, 22);
    assert_eq!(
        replacement_name("deploy", "ed17574386854bf78a67040be0a770b0", t),
        "deploy (replaces ed175743, 2026-11-22)"
    );
    let long = "é".repeat(200);
    let n = replacement_name(&long, "ed17574386854bf78a67040be0a770b0", t);
    assert_eq!(n.chars().count(), MAX_NAME_CHARS);
    assert!(n.ends_with(" (replaces ed175743, 2026-11-22)"));
    assert_eq!(
        replacement_name("", "abc", t),
        "token (replaces abc, 2026-11-22)"
    );
}

#[test]
fn the_copy_has_the_same_access_and_a_fresh_expiry() {
    let created = at(2026, 11, 22);
    let body = create_body(&old(), "n", created, 90.0).unwrap();
    assert_eq!(body["name"], "n");
    assert_eq!(body["condition"], old()["condition"]);
    assert_eq!(
        body["expires_on"], "2027-02-20T12:00:00Z",
        "created + 90 days"
    );
    assert!(body.get("not_before").is_none(), "none before, none now");
    for key in ["id", "status", "issued_on", "modified_on", "value"] {
        assert!(body.get(key).is_none(), "{key}");
    }
    let p = &body["policies"];
    assert_eq!(p.as_array().unwrap().len(), 2);
    assert_eq!(p[0]["effect"], "allow");
    assert_eq!(p[1]["effect"], "deny");
    assert_eq!(p[0]["resources"], old()["policies"][0]["resources"]);
    assert_eq!(
        p[0]["permission_groups"],
        json!([{"id": "g1"}, {"id": "g2", "meta": {"key": "k", "value": "v"}}])
    );
    assert!(
        p[0].get("id").is_none(),
        "Cloudflare assigns new policy ids"
    );
}

#[test]
fn not_before_is_kept_when_ahead_and_moved_to_creation_when_past() {
    let created = at(2026, 11, 22);
    let mut t = old();
    t["not_before"] = json!("2026-12-01T00:00:00Z");
    let body = create_body(&t, "n", created, 30.0).unwrap();
    assert_eq!(body["not_before"], "2026-12-01T00:00:00Z");
    assert_eq!(
        body["expires_on"], "2026-12-31T00:00:00Z",
        "lifetime counts from not_before"
    );
    t["not_before"] = json!("2026-01-02T00:00:00Z");
    let body = create_body(&t, "n", created, 30.0).unwrap();
    assert_eq!(body["not_before"], "2026-11-22T12:00:00Z");
    assert_eq!(body["expires_on"], "2026-12-22T12:00:00Z");
    t["not_before"] = json!("soon");
    assert!(create_body(&t, "n", created, 30.0).is_err());
}

#[test]
fn a_token_that_cannot_be_copied_faithfully_is_refused() {
    let created = at(2026, 11, 22);
    let mut t = old();
    t["policies"][0]["permission_groups"][0] = json!({"name": "DNS Write"});
    assert!(create_body(&t, "n", created, 90.0)
        .unwrap_err()
        .to_string()
        .contains("policies[0]"));
    let mut t = old();
    t["policies"] = json!([]);
    assert!(create_body(&t, "n", created, 90.0).is_err());
    let mut t = old();
    t["policies"][1]
        .as_object_mut()
        .unwrap()
        .remove("resources");
    assert!(create_body(&t, "n", created, 90.0)
        .unwrap_err()
        .to_string()
        .contains("policies[1]"));
}

/// Issue 12: `max_lifetime_days = 0` made an already-expired replacement; a huge or
/// non-finite value overflowed the expiry arithmetic and panicked. Each is refused with a
/// reason instead, and a lifetime of at least one day is accepted.
#[test]
fn a_lifetime_under_a_day_or_beyond_any_time_is_refused_without_panicking() {
    let created = at(2026, 11, 22);
    for bad in [0.0, 0.5, 0.999, -3.0, f64::NAN] {
        let e = create_body(&old(), "n", created, bad).unwrap_err();
        assert!(matches!(e, BodyError::Lifetime(_)), "{bad}: {e}");
        assert!(e.to_string().contains("less than 1 day"), "{bad}: {e}");
        assert!(lifetime(bad, created).is_err(), "{bad}");
    }
    for huge in [1e12, 1e300, f64::INFINITY, f64::MAX] {
        let e = create_body(&old(), "n", created, huge).unwrap_err();
        assert!(
            e.to_string().contains("beyond any representable time"),
            "{huge}: {e}"
        );
    }
    let body = create_body(&old(), "n", created, MIN_LIFETIME_DAYS).unwrap();
    assert_eq!(body["expires_on"], "2026-11-23T12:00:00Z");
    assert_eq!(lifetime(1.0, created).unwrap(), Duration::days(1));
}
