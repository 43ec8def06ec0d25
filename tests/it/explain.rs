//! `explain TOKEN_ID` shows what a rule author needs (issue 4): the input and config data
//! as given to the engine, every rule's result (fired or not, disabled, failed) and the
//! exemptions that matched, as JSON and as a table.

use serde_json::Value;

use crate::support::*;

const TERRAFORM: &str = "eb9f40546feb7ff55315e0a403ca7a43";

fn explain(extra: &[&str]) -> Output {
    tw().args(["explain", TERRAFORM, "--snapshot"])
        .arg(example_snapshot())
        .args(extra)
        .run()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

const POLICY: &str = "[rules]\ndisabled = [\"token-no-expiry\"]\n\n[[exemptions]]\nrule = \"token-sensitive-write\"\ntoken_name = \"terraform-*\"\nreason = \"terraform owns DNS\"\nowner = \"infra@example.com\"\nexpires = 2027-03-31\n\n[[exemptions]]\nrule = \"token-all-zones\"\ntoken_name = \"terraform-dns\"\nreason = \"was accepted once\"\nowner = \"infra@example.com\"\nexpires = 2026-01-01\n";

#[test]
fn json_lists_every_rule_with_its_result_and_the_matched_exemptions() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.toml", POLICY);
    let out = explain(&["--policy", &policy, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    // The keys the core defined stay.
    assert_eq!(v["input"]["token"]["id"], TERRAFORM);
    assert_eq!(
        v["data"]["tokenwarden"]["config"]["expiry_warning_days"],
        14
    );
    assert!(v["findings"].is_array());

    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 15, "every rule, fired or not");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap();
    let fired: Vec<&str> = rules
        .iter()
        .filter(|r| r["fired"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(fired, vec!["token-all-zones", "token-sensitive-write"]);
    assert_eq!(rule("token-unused")["fired"], false);
    assert_eq!(rule("token-unused")["findings"], serde_json::json!([]));
    assert_eq!(rule("token-unused")["disabled"], false);
    assert_eq!(rule("token-no-expiry")["disabled"], true);
    assert_eq!(rule("token-no-expiry")["origin"], "built-in");
    let sw = &rule("token-sensitive-write")["findings"][0];
    assert_eq!(sw["exempted_by"]["reason"], "terraform owns DNS");

    let ex = v["exemptions_matched"].as_array().unwrap();
    assert_eq!(ex.len(), 2, "{ex:?}");
    assert_eq!(ex[0]["file"], policy.as_str());
    assert_eq!(ex[0]["line"], 4);
    assert_eq!(ex[0]["active"], true);
    assert_eq!(
        ex[0]["matched_rules"],
        serde_json::json!(["token-sensitive-write"])
    );
    assert_eq!(
        ex[1]["active"], false,
        "an expired exemption matches but no longer applies"
    );
    assert!(
        rule("token-all-zones")["findings"][0]
            .get("exempted_by")
            .is_none(),
        "{}",
        rule("token-all-zones")
    );
}

#[test]
fn the_table_shows_config_rules_and_exemptions() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.toml", POLICY);
    let Output { code, stdout, .. } = explain(&["--policy", &policy]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(&format!("token {TERRAFORM} (terraform-dns) — user")),
        "{stdout}"
    );
    assert!(
        stdout.contains("config data (data.tokenwarden.config):"),
        "{stdout}"
    );
    assert!(stdout.contains("\"max_lifetime_days\": 90"), "{stdout}");
    assert!(stdout.contains("  FIRED    token-all-zones\n"), "{stdout}");
    assert!(stdout.contains("  -        token-unused\n"), "{stdout}");
    assert!(
        stdout.contains("  disabled token-no-expiry  (disabled by the policy: not evaluated)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[exempted until 2027-03-31: terraform owns DNS]"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  {policy}:4  rule token-sensitive-write, token terraform-*  in force until 2027-03-31")),
        "{stdout}"
    );
    assert!(stdout.contains("EXPIRED on 2026-01-01"), "{stdout}");
}

#[test]
fn custom_rules_and_exemption_files_show_up_in_explain() {
    let dir = tempfile::tempdir().unwrap();
    let ex = write(
        &dir,
        "ex.toml",
        "[[exemptions]]\nrule = \"ci-token-short-expiry\"\ntoken_name = \"ci-deploy-production\"\nreason = \"migrating\"\nowner = \"ci@example.com\"\nexpires = 2027-01-01\n",
    );
    let v = tw()
        .args(["explain", "118023fbf9e1fba030f7699aa4fce88a", "--snapshot"])
        .arg(example_snapshot())
        .args(["--format", "json", "--rules", "examples/custom-rules"])
        .args(["--exemptions", &ex])
        .code(0)
        .run()
        .json();
    let custom = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "ci-token-short-expiry")
        .unwrap();
    assert_eq!(custom["fired"], true);
    assert_eq!(custom["origin"], "examples/custom-rules");
    assert_eq!(v["exemptions_matched"][0]["file"], ex.as_str());
}
