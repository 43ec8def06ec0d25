//! The default rule pack: its Rego unit tests pass under `cargo test`, every rule has its
//! two files and its README row, and `rules list|show|test` behave.

use std::collections::BTreeSet;

use tokenwarden::engine::{run_tests, RuleSet, TestOutcome};

use crate::support::*;

#[test]
fn every_rego_unit_test_of_the_default_pack_passes() {
    let set = RuleSet::builtin().unwrap();
    let results = run_tests(&set).unwrap();
    assert!(results.len() >= 15 * 4, "only {} rule tests", results.len());
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != TestOutcome::Pass)
        .map(|r| format!("{}: {} {:?}", r.file, r.name, r.outcome))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_rule_has_a_test_file_and_a_readme_row() {
    let set = RuleSet::builtin().unwrap();
    assert_eq!(set.rules.len(), 15);
    // The shared library (issue 13) lives in rules/lib/ and is no rule: no metadata, no
    // README row; it is loaded with every pack instead.
    let library: Vec<&str> = set.library.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(library, ["rules/lib/lib.rego"]);
    let tests: BTreeSet<&str> = set.tests.iter().map(|t| t.path.as_str()).collect();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (meta, file) in &set.rules {
        let test = file.path.replace(".rego", "_test.rego");
        assert!(tests.contains(test.as_str()), "{} has no {test}", meta.id);
        assert_eq!(
            file.path,
            format!("rules/{}.rego", meta.id),
            "file named after its id"
        );
        assert!(
            readme.contains(&format!("| `{}` |", meta.id)),
            "README rule table lacks {}",
            meta.id
        );
    }
}

#[test]
fn rule_metadata_matches_the_design_table() {
    let set = RuleSet::builtin().unwrap();
    let expect = [
        ("token-no-expiry", "high", "none"),
        ("token-lifetime-too-long", "medium", "none"),
        ("token-expiring-soon", "low", "replace"),
        ("token-secret-stale", "medium", "roll"),
        ("token-unused", "medium", "disable"),
        ("token-no-ip-restriction", "high", "none"),
        ("token-ip-range-too-broad", "high", "none"),
        ("token-invalid-ip-condition", "medium", "none"),
        ("token-all-accounts", "high", "none"),
        ("token-all-zones", "medium", "none"),
        ("token-can-manage-tokens", "critical", "disable"),
        ("token-sensitive-write", "high", "none"),
        ("token-too-many-permission-groups", "low", "none"),
        ("token-inactive-lingering", "low", "none"),
        ("token-unknown-permission-group", "low", "none"),
    ];
    for (id, sev, action) in expect {
        let (m, _) = set.get(id).unwrap_or_else(|| panic!("missing rule {id}"));
        assert_eq!(m.severity.as_str(), sev, "{id}");
        assert_eq!(m.remediation.as_str(), action, "{id}");
        assert!(
            !m.description.is_empty() && !m.related_resources.is_empty(),
            "{id}"
        );
    }
}

#[test]
fn rules_test_prints_pass_lines_and_a_closing_count() {
    let out = tw().args(["rules", "test"]).run();
    let stdout = out.stdout;
    assert_eq!(out.code, 0, "{stdout}");
    assert!(stdout
        .lines()
        .any(|l| l.starts_with("PASS  rules/token-no-expiry_test.rego: test_")));
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

const CUSTOM_RULE: &str = r#"# METADATA
# title: CI tokens must expire within 30 days
# custom:
#   id: ci-token-short-expiry
#   severity: medium
package tokenwarden.rules.ci_token_short_expiry

deny contains {"msg": "ci token lives too long"} if {
	startswith(input.token.name, "ci-")
	input.facts.lifetime_days > 30
}
"#;

const CUSTOM_TEST: &str = r#"package tokenwarden.rules.ci_token_short_expiry_test

import data.tokenwarden.rules.ci_token_short_expiry

test_fires if {
	count(ci_token_short_expiry.deny) == 1 with input as {"token": {"name": "ci-x"}, "facts": {"lifetime_days": 31}}
}

test_wrong if {
	count(ci_token_short_expiry.deny) == 1 with input as {"token": {"name": "ci-x"}, "facts": {"lifetime_days": 30}}
}
"#;

#[test]
fn a_failing_custom_rule_test_exits_1_with_a_fail_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci-token-short-expiry.rego"), CUSTOM_RULE).unwrap();
    std::fs::write(
        dir.path().join("ci-token-short-expiry_test.rego"),
        CUSTOM_TEST,
    )
    .unwrap();
    let out = tw()
        .args(["rules", "test", "--no-default-rules"])
        .arg(dir.path())
        .run();
    let stdout = out.stdout;
    assert_eq!(out.code, 1, "{stdout}");
    assert!(
        stdout.contains("PASS  ") && stdout.contains(": test_fires"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL  ") && l.ends_with(": test_wrong")),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn custom_rules_are_evaluated_in_a_scan_and_listed_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci-token-short-expiry.rego"), CUSTOM_RULE).unwrap();
    let Output { stdout, stderr, .. } =
        scan_example(&["--format", "json", "--rules", dir.path().to_str().unwrap()]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let hits: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "ci-token-short-expiry")
        .map(|f| f["token_name"].as_str().unwrap())
        .collect();
    assert!(hits.contains(&"ci-deploy-production"), "{hits:?}");
    let list = tw()
        .args(["rules", "list", "--rules"])
        .arg(dir.path())
        .run()
        .stdout;
    let line = list
        .lines()
        .find(|l| l.starts_with("ci-token-short-expiry"))
        .unwrap();
    assert!(line.contains(dir.path().to_str().unwrap()), "{line}");
    assert!(list
        .lines()
        .any(|l| l.starts_with("token-no-expiry") && l.contains("built-in")));
}

#[test]
fn a_broken_rule_file_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = CUSTOM_RULE.replace(
        "input.facts.lifetime_days > 30",
        "input.facts.lifetime_days > > 30",
    );
    std::fs::write(dir.path().join("ci-token-short-expiry.rego"), broken).unwrap();
    let Output { code, stderr, .. } = scan_example(&["--rules", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ci-token-short-expiry.rego"), "{stderr}");
}

#[test]
fn bad_metadata_is_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = CUSTOM_RULE.replace("severity: medium", "severity: huge");
    std::fs::write(dir.path().join("ci-token-short-expiry.rego"), bad).unwrap();
    let Output { code, stderr, .. } = scan_example(&["--rules", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("ci-token-short-expiry.rego:5:") && stderr.contains("huge"),
        "{stderr}"
    );
}

#[test]
fn a_custom_rule_reusing_a_builtin_id_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let dup = CUSTOM_RULE
        .replace("id: ci-token-short-expiry", "id: token-no-expiry")
        .replace("ci_token_short_expiry", "token_no_expiry");
    std::fs::write(dir.path().join("x.rego"), dup).unwrap();
    let Output { code, stderr, .. } = scan_example(&["--rules", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("x.rego:4: rule id \"token-no-expiry\" is already defined at rules/token-no-expiry.rego:"),
        "{stderr}"
    );
}

#[test]
fn rules_show_prints_metadata_and_source() {
    let s = tw().args(["rules", "show", "token-unused"]).run().stdout;
    assert!(s.starts_with("token-unused: "), "{s}");
    assert!(
        s.contains("severity:    medium") && s.contains("package tokenwarden.rules.token_unused")
    );
    tw().args(["rules", "show", "nope"]).code(2).run();
}

/// The bytecode VM is used because it is faster; it must give exactly the interpreter's
/// results, on every example token and on variants that flip what the rules look at.
#[test]
fn the_vm_and_the_interpreter_give_identical_results() {
    use tokenwarden::engine::{Backend, Evaluator};
    use tokenwarden::inventory::{Inventory, RawToken, TokenRef};
    use tokenwarden::policy::GovernancePolicy;

    let inv = Inventory::read(&example_snapshot()).unwrap();
    let set = RuleSet::builtin().unwrap();
    let now = now();
    let strict = GovernancePolicy::parse(
        include_str!("../../policies/strict.toml"),
        "strict.toml",
        Some(GovernancePolicy::builtin().unwrap()),
    )
    .unwrap();
    for policy in [GovernancePolicy::builtin().unwrap(), strict] {
        let config = policy.config_data();
        let vm = Evaluator::with_backend(&set, &config, &[], Backend::Vm).unwrap();
        let interp = Evaluator::with_backend(&set, &config, &[], Backend::Interpreter).unwrap();
        assert_eq!(vm.backend(), Backend::Vm, "{:?}", vm.fallback_reason);
        assert_eq!(interp.backend(), Backend::Interpreter);
        let (mut wv, mut wi) = (vm.worker(), interp.worker());
        let mut compared = 0;
        for owner in inv.owners() {
            for token in owner.tokens {
                let token = token.value();
                let mut variants = vec![token.clone()];
                let mut v = token.clone();
                v["status"] = "active".into();
                v.as_object_mut().unwrap().remove("condition");
                variants.push(v);
                let mut v = token.clone();
                v["status"] = "disabled".into();
                variants.push(v);
                for t in &variants {
                    let raw = RawToken::from_value(t, "token").unwrap();
                    let r = TokenRef {
                        owner: &owner.owner,
                        token: &raw,
                        catalogue: owner.catalogue,
                    };
                    let input = tokenwarden::enrich::input_document(r, now, None).unwrap();
                    let a: Vec<_> = wv
                        .evaluate(input.clone())
                        .into_iter()
                        .map(|(m, r)| (m.id.clone(), r))
                        .collect();
                    let b: Vec<_> = wi
                        .evaluate(input)
                        .into_iter()
                        .map(|(m, r)| (m.id.clone(), r))
                        .collect();
                    assert_eq!(a, b, "token {}", t["id"]);
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 66);
    }
}
