//! Command-line contract: exit codes, bad input, policies, exemptions, not-evaluated
//! scopes, explain — on snapshots (the emulator tests drive the live paths).

use serde_json::{json, Value};

use crate::support::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_flags_are_usage_errors() {
    tw().args(["scan", "--format", "xml"]).code(2).run();
    tw().args(["scan", "--fail-on", "sometimes"]).code(2).run();
    tw().args(["frobnicate"]).code(2).run();
    tw().args(["--version"]).code(0).run();
}

#[test]
fn bad_now_is_exit_2() {
    let Output { code, stderr, .. } = scan_example(&["--now", "yesterday"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--now") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
}

#[test]
fn no_credential_is_exit_2_with_a_hint() {
    let e = tw().args(["scan"]).code(2).run().stderr;
    assert!(
        e.contains("CLOUDFLARE_API_TOKEN") && e.contains("--snapshot"),
        "{e}"
    );
}

#[test]
fn plain_http_api_base_off_loopback_is_refused() {
    let out = tw()
        .args(["scan", "--api-base", "http://api.example.com/client/v4"])
        .env("CLOUDFLARE_API_TOKEN", "x")
        .code(2)
        .run();
    assert!(out.stderr.contains("loopback"));
}

#[test]
fn malformed_snapshot_is_exit_2_naming_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "s.json",
        r#"{"format":"tokenwarden-snapshot/v1","accounts":[{"id":"a","tokens":[{"name":"no id"}]}]}"#,
    );
    let e = tw().args(["scan", "--snapshot", &p]).code(2).run().stderr;
    assert!(
        e.contains("s.json") && e.contains("accounts[0].tokens[0].id"),
        "{e}"
    );
    let p = write(&dir, "t.json", "not json");
    tw().args(["scan", "--snapshot", &p]).code(2).run();
    tw().args(["scan", "--snapshot", "/nonexistent/s.json"])
        .code(2)
        .run();
}

#[test]
fn fail_on_controls_exit_1() {
    assert_eq!(scan_example(&["--fail-on", "never"]).code, 0);
    assert_eq!(scan_example(&["--fail-on", "critical"]).code, 1);
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "p.toml", "[gate]\nfail_on = \"never\"\n");
    assert_eq!(
        scan_example(&["--policy", &p]).code,
        0,
        "gate.fail_on from the policy"
    );
    assert_eq!(
        scan_example(&["--policy", &p, "--fail-on", "high"]).code,
        1,
        "--fail-on wins"
    );
}

fn snapshot_with(not_evaluated: Value, tokens: Value) -> String {
    json!({
        "format": "tokenwarden-snapshot/v1",
        "user": {"tokens": tokens},
        "accounts": [],
        "not_evaluated": not_evaluated,
    })
    .to_string()
}

#[test]
fn a_scope_not_evaluated_is_exit_3_in_every_format_even_with_fail_on_never() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "s.json",
        &snapshot_with(
            json!([{"scope": "accounts/abc/tokens", "reason": "GET /accounts/abc/tokens: HTTP 403"}]),
            json!([]),
        ),
    );
    for format in ["table", "json", "sarif", "markdown"] {
        let out = tw()
            .args([
                "scan",
                "--snapshot",
                &p,
                "--fail-on",
                "never",
                "--format",
                format,
            ])
            .run();
        assert_eq!(out.code, 3, "{format}");
        let s = out.stdout;
        assert!(
            s.contains("accounts/abc/tokens"),
            "{format} does not list the scope:\n{s}"
        );
        if format == "sarif" {
            let v: Value = serde_json::from_str(&s).unwrap();
            let inv = &v["runs"][0]["invocations"][0];
            assert_eq!(inv["executionSuccessful"], false);
            assert_eq!(
                inv["toolExecutionNotifications"].as_array().unwrap().len(),
                1
            );
        }
        if format == "json" {
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v["summary"]["complete"], false);
            assert_eq!(v["summary"]["exit_code"], 3);
        }
    }
}

#[test]
fn a_token_that_cannot_be_evaluated_is_reported_and_the_others_still_are() {
    // Ids are Cloudflare ids: a short id like "bad" is itself not evaluated (issue 12).
    const BAD: &str = "badbadbadbadbadbadbadbadbadbadba";
    const GOOD: &str = "600d600d600d600d600d600d600d600d";
    let dir = tempfile::tempdir().unwrap();
    let tokens = json!([
        {"id": BAD, "name": "broken-dates", "status": "active", "issued_on": "last week", "policies": []},
        {"id": GOOD, "name": "no-expiry", "status": "active", "issued_on": "2026-11-01T00:00:00Z", "policies": []}
    ]);
    let p = write(&dir, "s.json", &snapshot_with(json!([]), tokens));
    let v = tw()
        .args(["scan", "--snapshot", &p, "--format", "json"])
        .code(3)
        .run()
        .json();
    let ne = v["not_evaluated"].as_array().unwrap();
    assert_eq!(ne.len(), 1);
    assert_eq!(ne[0]["scope"], format!("user/tokens/{BAD}"));
    assert!(ne[0]["reason"].as_str().unwrap().contains("issued_on"));
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["token_id"] == GOOD && f["rule_id"] == "token-no-expiry"));
}

#[test]
fn policy_errors_are_exit_2_naming_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "bad.toml", "[thresholds]\nmax_lifetime_days = 30\nmax_lifetme_days = 3\n[rules]\ndisabled = [\"token-nope\"]\n");
    let Output { code, stderr, .. } = scan_example(&["--policy", &p]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.toml:3: thresholds.max_lifetme_days: unknown key"),
        "{stderr}"
    );
    let p = write(&dir, "bad2.toml", "[rules]\ndisabled = [\"token-nope\"]\n");
    let Output { code, stderr, .. } = scan_example(&["--policy", &p]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad2.toml:2: rules.disabled: unknown rule id \"token-nope\""),
        "{stderr}"
    );
}

fn findings(extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let v = scan_example(&args).json();
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn thresholds_disabled_rules_and_severity_overrides_apply() {
    let dir = tempfile::tempdir().unwrap();
    let base = findings(&[]);
    let p = write(
        &dir,
        "p.toml",
        "[thresholds]\nmax_lifetime_days = 400\n[rules]\ndisabled = [\"token-sensitive-write\"]\nseverity = { \"token-unused\" = \"critical\" }\n",
    );
    let f = findings(&["--policy", &p]);
    let count = |fs: &[Value], rule: &str| fs.iter().filter(|f| f["rule_id"] == rule).count();
    assert!(count(&base, "token-lifetime-too-long") > 0);
    assert_eq!(
        count(&f, "token-lifetime-too-long"),
        count(&base, "token-lifetime-too-long") - 3,
        "365-day lifetimes no longer exceed 400; 730 still does"
    );
    assert_eq!(count(&f, "token-sensitive-write"), 0);
    assert!(f
        .iter()
        .filter(|x| x["rule_id"] == "token-unused")
        .all(|x| x["severity"] == "critical"));
}

#[test]
fn exemptions_suppress_in_every_format_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "p.toml",
        "[[exemptions]]\nrule = \"token-no-ip-restriction\"\ntoken_name = \"ci-deploy-*\"\naccount = \"023e105f4ecef8ad9ca31a8372d0c353\"\nreason = \"hosted runners\"\nowner = \"platform@example.com\"\nexpires = 2026-11-22\n",
    );
    let f = findings(&["--policy", &p]);
    let ex: Vec<&Value> = f
        .iter()
        .filter(|x| x.get("exempted_by").is_some())
        .collect();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0]["token_name"], "ci-deploy-production");
    assert_eq!(ex[0]["exempted_by"]["reason"], "hosted runners");
    // Through the whole expiry day, and no longer after it.
    let f = findings(&["--policy", &p, "--now", "2026-11-23T00:00:00Z"]);
    assert!(f.iter().all(|x| x.get("exempted_by").is_none()));
    let sarif = scan_example(&["--policy", &p, "--format", "sarif"]).stdout;
    let v: Value = serde_json::from_str(&sarif).unwrap();
    let sup: Vec<&Value> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(sup.len(), 1);
    assert_eq!(sup[0]["suppressions"][0]["kind"], "external");
    assert_eq!(sup[0]["suppressions"][0]["justification"], "hosted runners");
    let table = scan_example(&["--policy", &p]).stdout;
    assert!(
        table.contains("[exempted until 2026-11-22: hosted runners"),
        "{table}"
    );
    let md = scan_example(&["--policy", &p, "--format", "markdown"]).stdout;
    assert!(
        md.contains("1 exempted finding") && md.contains("hosted runners"),
        "{md}"
    );
}

#[test]
fn exempting_every_gating_finding_passes_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "p.toml",
        "[[exemptions]]\nrule = \"*\"\ntoken_name = \"*\"\nreason = \"accepted risk\"\nowner = \"sec@example.com\"\nexpires = 2027-01-01\n",
    );
    assert_eq!(scan_example(&["--policy", &p]).code, 0);
}

#[test]
fn scope_and_account_narrow_a_snapshot_scan() {
    let user = findings(&["--scope", "user"]);
    assert!(!user.is_empty() && user.iter().all(|f| f["owner"]["kind"] == "user"));
    let acct = findings(&["--account", "e89c9a77049d5b206132592304af8da2"]);
    assert!(!acct.is_empty());
    assert!(acct
        .iter()
        .all(|f| f["owner"]["kind"] == "user"
            || f["owner"]["id"] == "e89c9a77049d5b206132592304af8da2"));
    let Output { code, stdout, .. } = scan_example(&[
        "--scope",
        "accounts",
        "--account",
        "ffffffffffffffffffffffffffffffff",
        "--format",
        "json",
    ]);
    assert_eq!(
        code, 3,
        "an asked-for account that is not there is not evaluated, not clean"
    );
    assert!(stdout.contains("accounts/ffffffffffffffffffffffffffffffff/tokens"));
}

#[test]
fn explain_prints_the_input_document_config_and_findings() {
    let v = tw()
        .args(["explain", "eb9f40546feb7ff55315e0a403ca7a43", "--snapshot"])
        .arg(example_snapshot())
        .args(["--format", "json"])
        .code(0)
        .run()
        .json();
    assert_eq!(v["input"]["now"], NOW);
    assert_eq!(
        v["input"]["token"]["id"],
        "eb9f40546feb7ff55315e0a403ca7a43"
    );
    assert_eq!(v["input"]["owner"]["kind"], "user");
    assert_eq!(v["input"]["facts"]["active"], true);
    assert_eq!(v["data"]["tokenwarden"]["config"]["max_lifetime_days"], 90);
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["token-all-zones", "token-sensitive-write"]);
    tw().args(["explain", "nope", "--snapshot"])
        .arg(example_snapshot())
        .code(2)
        .run();
}

#[test]
fn permission_groups_from_a_snapshot() {
    let out = tw()
        .args(["permission-groups", "--snapshot"])
        .arg(example_snapshot())
        .args(["--account", "023e105f4ecef8ad9ca31a8372d0c353"])
        .code(0)
        .run();
    assert!(out.stdout.contains("Account API Tokens Read"));
}

/// Issue 10: every command that evaluates or acts takes `--now`, so no run has to read the
/// machine's clock.
#[test]
fn every_command_that_evaluates_or_acts_takes_now() {
    for cmd in [
        "scan",
        "snapshot",
        "explain",
        "doctor",
        "remediate",
        "roll",
        "replace",
        "disable",
        "enable",
    ] {
        let out = tw().args([cmd, "--help"]).run();
        assert_eq!(out.code, 0, "{cmd}");
        assert!(
            out.stdout.contains("--now <RFC3339>"),
            "{cmd} --help does not offer --now:\n{}",
            out.stdout
        );
    }
    // The same instant, before or after the command name.
    let before = tw()
        .args(["--now", NOW, "scan", "--format", "json", "--snapshot"])
        .arg(example_snapshot())
        .run();
    // After the command name this time (the builder puts its own --now first).
    let after = tw()
        .args(["scan", "--format", "json", "--snapshot"])
        .arg(example_snapshot())
        .args(["--now", NOW])
        .run()
        .stdout;
    assert_eq!(before.stdout, after);
    assert!(
        after.contains(&format!("\"scanned_at\": \"{NOW}\"")),
        "{after}"
    );
}
