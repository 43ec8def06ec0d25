//! Baselines through the binary against the emulator (issue 4): write a baseline, change
//! the estate, scan again — exactly the new finding fails the gate; a fixed one is absent;
//! a baseline that does not parse is exit 2, never an empty baseline.

use chrono::Duration;
use serde_json::Value;

use crate::example::assert_valid_sarif;
use crate::support::*;
use tokenwarden_emulator::{token_json, Emulator, TokenPolicy, World};

const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SCANNER_SECRET: &str = "cfut_baseline0scanner0secret0000000000";
const ZONE: &str = "eb78d65290b24279ba6f44721b3ea3c4";

/// A clean token: one zone, read-only, IP-restricted, 40-day lifetime, used yesterday.
fn clean(id: &str, name: &str) -> Value {
    token_json(id, name)
        .issued(now() - Duration::days(10))
        .expires_on(now() + Duration::days(30))
        .last_used_on(now() - Duration::days(1))
        .ip_in(&["203.0.113.0/24"])
        .policy(TokenPolicy::allow(&["Zone Read"]).on_zone(ZONE))
        .build()
}

/// The same, but usable from any address: exactly one (high) finding.
fn no_ip(id: &str, name: &str) -> Value {
    let mut t = clean(id, name);
    t.as_object_mut().unwrap().remove("condition");
    t
}

fn world() -> World {
    let mut w = World::new(now());
    w.add_account(ACC, "Example Inc.")
        .add_scanner_user_token(SCANNER, SCANNER_SECRET, &[ACC]);
    // The scanner itself has findings too (no expiry, no IP): part of the accepted state.
    w.add_account_token(ACC, no_ip(&"a".repeat(32), "legacy-deploy"), "cfat_a");
    w.add_account_token(ACC, no_ip(&"b".repeat(32), "old-cron"), "cfat_b");
    w.add_account_token(ACC, clean(&"c".repeat(32), "good"), "cfat_c");
    w
}

/// `scan` against `emu`, as the scanner.
fn scan(emu: &Emulator) -> Tw {
    tw().emulator(emu, SCANNER_SECRET).arg("scan")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn baseline_round_trip_fails_only_on_the_new_finding() {
    let emu = Emulator::start(world());
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("baseline.json");
    let b = base.to_str().unwrap();

    let Output { code, stderr, .. } = scan(&emu)
        .args(["--write-baseline", b, "--format", "json"])
        .run();
    assert_eq!(
        code, 1,
        "the accepted findings fail without a baseline: {stderr}"
    );
    let recorded = json(&std::fs::read_to_string(&base).unwrap());
    assert_eq!(recorded["format"], "tokenwarden-baseline/v1");
    assert_eq!(recorded["created_at"], NOW);
    let entries = recorded["findings"].as_array().unwrap();
    let first = &entries[0];
    for key in [
        "fingerprint",
        "rule_id",
        "token_id",
        "token_name",
        "owner",
        "severity",
        "first_seen",
    ] {
        assert!(
            first.get(key).is_some(),
            "baseline entry lacks {key}: {first}"
        );
    }
    let fps: Vec<&str> = entries
        .iter()
        .map(|e| e["fingerprint"].as_str().unwrap())
        .collect();
    assert!(fps.windows(2).all(|w| w[0] < w[1]), "sorted by fingerprint");

    let Output {
        code,
        stdout,
        stderr,
    } = scan(&emu).args(["--baseline", b, "--format", "json"]).run();
    assert_eq!(code, 0, "nothing new: {stderr}");
    let v = json(&stdout);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["baseline_state"] == "unchanged"));
    assert_eq!(v["baseline"]["new"], 0);
    assert_eq!(v["summary"]["gate_failed"], false);

    // A new bad token appears, and one accepted finding is fixed.
    emu.with_world(|w| {
        w.add_account_token(ACC, no_ip(&"d".repeat(32), "new-intruder"), "cfat_d");
        w.remove_token(&"b".repeat(32));
    });
    let Output {
        code,
        stdout,
        stderr,
    } = scan(&emu).args(["--baseline", b, "--format", "json"]).run();
    assert_eq!(code, 1, "the new finding fails the gate: {stderr}");
    let v = json(&stdout);
    let new: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["baseline_state"] == "new")
        .map(|f| {
            (
                f["token_name"].as_str().unwrap(),
                f["rule_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(new, vec![("new-intruder", "token-no-ip-restriction")]);
    assert_eq!(v["baseline"]["new"], 1);
    let absent = v["baseline"]["absent"].as_array().unwrap();
    assert_eq!(absent.len(), 1);
    assert_eq!(absent[0]["token_name"], "old-cron");
    assert_eq!(absent[0]["first_seen"], NOW);

    // Accepting the new finding (rewriting the baseline in place) passes the gate again.
    let later = "2026-11-29T10:00:00Z";
    let code = scan(&emu)
        .args(["--now", later, "--baseline", b, "--write-baseline", b])
        .run()
        .code;
    assert_eq!(code, 1, "this run still sees the new finding as new");
    let rewritten = json(&std::fs::read_to_string(&base).unwrap());
    let seen = |name: &str| {
        rewritten["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["token_name"] == name)
            .map(|e| e["first_seen"].as_str().unwrap().to_string())
    };
    assert_eq!(
        seen("legacy-deploy").as_deref(),
        Some(NOW),
        "first_seen kept"
    );
    assert_eq!(seen("new-intruder").as_deref(), Some(later));
    assert_eq!(seen("old-cron"), None, "fixed findings leave the baseline");
    let code = scan(&emu)
        .args(["--now", later, "--baseline", b])
        .run()
        .code;
    assert_eq!(code, 0);
}

#[test]
fn baseline_states_appear_in_every_format() {
    let emu = Emulator::start(world());
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("b.json");
    let b = base.to_str().unwrap();
    scan(&emu).args(["--write-baseline", b]).run();
    emu.with_world(|w| {
        w.add_account_token(ACC, no_ip(&"d".repeat(32), "new-intruder"), "cfat_d");
        w.remove_token(&"b".repeat(32));
    });

    let sarif = scan(&emu)
        .args(["--baseline", b, "--format", "sarif"])
        .run()
        .stdout;
    let v = assert_valid_sarif(&sarif);
    let results = v["runs"][0]["results"].as_array().unwrap();
    let state = |name: &str| -> Vec<&str> {
        results
            .iter()
            .filter(|r| r["properties"]["token_name"] == name)
            .map(|r| r["baselineState"].as_str().unwrap())
            .collect()
    };
    assert_eq!(state("new-intruder"), vec!["new"]);
    assert_eq!(state("legacy-deploy"), vec!["unchanged"]);
    let absent: Vec<&Value> = results
        .iter()
        .filter(|r| r["baselineState"] == "absent")
        .collect();
    assert_eq!(absent.len(), 1);
    assert_eq!(absent[0]["properties"]["token_name"], "old-cron");
    assert_eq!(absent[0]["kind"], "pass");
    assert_eq!(absent[0]["level"], "none");

    let Output {
        code,
        stdout: table,
        ..
    } = scan(&emu).args(["--baseline", b]).run();
    assert_eq!(code, 1);
    let line = table
        .lines()
        .find(|l| l.contains("token-no-ip-restriction") && l.ends_with("[new]"))
        .unwrap_or_else(|| panic!("no [new] tag:\n{table}"));
    assert!(!line.is_empty());
    assert!(
        table.contains("ABSENT (1): in the baseline, no longer found"),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "Baseline {b}: 1 new, 0 updated, 3 unchanged, 1 absent"
        )),
        "{table}"
    );

    let md = scan(&emu)
        .args(["--baseline", b, "--format", "markdown"])
        .run()
        .stdout;
    let new_at = md
        .find("### New findings (1)")
        .expect("a new-findings section");
    let known_at = md
        .find("3 findings already in the baseline")
        .expect("the known ones fold away");
    assert!(new_at < known_at, "new findings come first:\n{md}");
    assert!(md.contains("| Severity | Rule | Token | Owner | Finding | Baseline |"));
    assert!(md.contains("| new |"), "{md}");
    assert!(
        md.contains("1 finding in the baseline no longer found"),
        "{md}"
    );
}

#[test]
fn a_baseline_that_does_not_parse_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "truncated.json",
            "{\"format\": \"tokenwarden-baseline/v1\", \"findings\": [",
        ),
        (
            "wrong-format.json",
            r#"{"format": "tokenwarden-snapshot/v1"}"#,
        ),
        ("empty.json", ""),
        (
            "bad-entry.json",
            r#"{"format": "tokenwarden-baseline/v1", "created_at": "2026-11-22T10:00:00Z", "findings": [{"fingerprint": 7}]}"#,
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let Output {
            code,
            stdout,
            stderr,
        } = scan_example(&["--baseline", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(
            stdout.is_empty(),
            "{name}: nothing is reported on a bad baseline"
        );
        assert!(
            stderr.contains(name),
            "{name}: the error names the file: {stderr}"
        );
    }
    let Output { code, stderr, .. } = scan_example(&["--baseline", "/nonexistent/baseline.json"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read baseline /nonexistent/baseline.json"),
        "{stderr}"
    );
}

#[test]
fn findings_in_a_scope_that_became_unreadable_are_not_absent() {
    let emu = Emulator::start(world());
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("b.json");
    let b = base.to_str().unwrap();
    let code = scan(&emu).args(["--write-baseline", b]).run().code;
    assert_eq!(code, 1);
    emu.with_world(|w| {
        w.forbid_account(ACC);
    });
    let Output { code, stdout, .. } = scan(&emu).args(["--baseline", b, "--format", "json"]).run();
    assert_eq!(code, 3, "exit 3 is never hidden by a baseline");
    let v = json(&stdout);
    assert_eq!(
        v["baseline"]["absent"],
        serde_json::json!([]),
        "not read is not fixed"
    );
    // Rewriting the baseline from this partial scan keeps the unseen account's entries.
    let code = scan(&emu)
        .args(["--baseline", b, "--write-baseline", b])
        .run()
        .code;
    assert_eq!(code, 3);
    let kept = json(&std::fs::read_to_string(&base).unwrap());
    assert!(kept["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["token_name"] == "legacy-deploy"));
}
