//! Rule loading, metadata validation, evaluation and the rule-test runner.

use super::*;
use serde_json::json;

fn file(path: &str, text: &str) -> RegoFile {
    RegoFile {
        path: path.into(),
        text: text.into(),
        origin: Origin::Dir(PathBuf::from("custom")),
    }
}

const RULE: &str = r#"# METADATA
# title: Names must be short
# description: Long names are hard to read.
# related_resources:
#   - https://example.com/names
# custom:
#   id: short-name
#   severity: low
#   remediation: disable
#   tags: [naming]
package tokenwarden.rules.short_name

deny contains finding if {
	count(input.token.name) > data.tokenwarden.config.max_len
	finding := {"msg": "name too long", "evidence": {"len": count(input.token.name)}}
}

deny contains finding if {
	input.token.name == "boom"
	finding := {"msg": "boom", "severity": "critical"}
}
"#;

const TEST: &str = r#"package tokenwarden.rules.short_name_test

import data.tokenwarden.rules.short_name

test_long_name_fires if {
	count(short_name.deny) == 1 with input as {"token": {"name": "abcdef"}}
		with data.tokenwarden.config as {"max_len": 3}
}

test_short_name_clean if {
	count(short_name.deny) == 0 with input as {"token": {"name": "ab"}}
		with data.tokenwarden.config as {"max_len": 3}
}

test_wrong_on_purpose if {
	count(short_name.deny) == 5 with input as {"token": {"name": "ab"}}
		with data.tokenwarden.config as {"max_len": 3}
}
"#;

fn set_of(files: Vec<RegoFile>) -> Result<RuleSet, RuleError> {
    let mut s = RuleSet::default();
    s.add_files(files)?;
    Ok(s)
}

#[test]
fn metadata_is_parsed() {
    let with_opa_keys = RULE.replace(
        "# custom:",
        "# scope: package\n# authors:\n#   - name: Sec Team\n# custom:",
    );
    assert!(parse_metadata(&file("r.rego", &with_opa_keys)).is_ok());
    let m = parse_metadata(&file("r.rego", RULE)).unwrap();
    assert_eq!(m.id, "short-name");
    assert_eq!(m.severity, Severity::Low);
    assert_eq!(m.remediation, Action::Disable);
    assert_eq!(m.tags, vec!["naming"]);
    assert_eq!(m.help_uri(), Some("https://example.com/names"));
    assert_eq!(m.package, "tokenwarden.rules.short_name");
}

#[test]
fn metadata_errors_name_file_and_line() {
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("severity: low", "severity: urgent"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("r.rego:8:") && e.contains("urgent"),
        "points at the severity line: {e}"
    );
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("remediation: disable", "remediation: delete"),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("r.rego:9:") && e.contains("delete"), "{e}");
    let e = parse_metadata(&file("r.rego", &RULE.replace("#   severity: low\n", "")))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("r.rego:6:") && e.contains("custom.severity is missing"),
        "{e}"
    );
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("# title: Names must be short\n", ""),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("title is missing"), "{e}");
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("# custom:", "# severity: low\n# custom:"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("r.rego:6:") && e.contains("unknown field `severity`"),
        "an annotation OPA does not know (severity belongs under custom): {e}"
    );
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("package tokenwarden.rules.short_name", "package x.y"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("r.rego:11:") && e.contains("does not match rule id"),
        "{e}"
    );
    let e = parse_metadata(&file("r.rego", "package a\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("METADATA"), "{e}");
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("id: short-name", "id: Short_Name"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("r.rego:7:") && e.contains("kebab-case"),
        "{e}"
    );
    let e = parse_metadata(&file(
        "r.rego",
        &RULE.replace("#   tags: [naming]", "#   tags: [naming"),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("not valid YAML"), "{e}");
}

#[test]
fn duplicate_ids_are_rejected() {
    let e = set_of(vec![file("a.rego", RULE), file("b.rego", RULE)])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "b.rego:7: rule id \"short-name\" is already defined at a.rego:7 (rule ids must be unique across every pack)"
    );
}

#[test]
fn evaluate_returns_findings_with_severity_override() {
    let set = set_of(vec![file("r.rego", RULE)]).unwrap();
    let ev = Evaluator::new(&set, &json!({"max_len": 3}), &[]).unwrap();
    let out = ev.evaluate(json!({"token": {"name": "abcdef"}}).into());
    let (meta, res) = &out[0];
    assert_eq!(meta.id, "short-name");
    let res = res.as_ref().unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].message, "name too long");
    assert_eq!(res[0].evidence.value(), json!({"len": 6}));
    assert_eq!(res[0].severity, None);
    let out = ev.evaluate(json!({"token": {"name": "boom"}}).into());
    let res = out[0].1.as_ref().unwrap();
    assert_eq!(res.len(), 2);
    let boom = res.iter().find(|o| o.message == "boom").unwrap();
    assert_eq!(boom.severity, Some(Severity::Critical));
    let out = ev.evaluate(json!({"token": {"name": "ab"}}).into());
    assert!(out[0].1.as_ref().unwrap().is_empty());
}

#[test]
fn disabled_rules_are_not_evaluated() {
    let set = set_of(vec![file("r.rego", RULE)]).unwrap();
    let ev = Evaluator::new(&set, &json!({"max_len": 3}), &["short-name".into()]).unwrap();
    assert_eq!(ev.rules().count(), 0);
}

#[test]
fn a_rule_that_does_not_parse_is_an_error_naming_the_file() {
    let broken = RULE.replace(
        "deny contains finding if {\n\tcount",
        "deny contains finding if {{\n\tcount",
    );
    let set = set_of(vec![file("custom/broken.rego", &broken)]).unwrap();
    let e = Evaluator::new(&set, &json!({}), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("custom/broken.rego"), "{e}");
}

#[test]
fn a_rule_without_deny_is_an_error() {
    let no_deny = RULE.split("deny contains").next().unwrap().to_string() + "allow := true\n";
    let set = set_of(vec![file("r.rego", &no_deny)]).unwrap();
    let e = Evaluator::new(&set, &json!({}), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("deny"), "{e}");
}

#[test]
fn malformed_finding_is_an_eval_error_for_that_rule() {
    let bad = RULE.replace(
        "finding := {\"msg\": \"boom\", \"severity\": \"critical\"}",
        "finding := {\"message\": \"boom\"}",
    );
    let set = set_of(vec![file("r.rego", &bad)]).unwrap();
    let ev = Evaluator::new(&set, &json!({"max_len": 3}), &[]).unwrap();
    let out = ev.evaluate(json!({"token": {"name": "boom"}}).into());
    let e = out[0].1.as_ref().unwrap_err();
    assert_eq!(e.rule_id, "short-name");
    assert!(e.message.contains("msg"), "{e}");
}

#[test]
fn rule_tests_pass_fail() {
    let set = set_of(vec![file("r.rego", RULE), file("r_test.rego", TEST)]).unwrap();
    let results = run_tests(&set).unwrap();
    let by_name: BTreeMap<&str, &TestOutcome> = results
        .iter()
        .map(|r| (r.name.as_str(), &r.outcome))
        .collect();
    assert_eq!(results.len(), 3);
    assert_eq!(by_name["test_long_name_fires"], &TestOutcome::Pass);
    assert_eq!(by_name["test_short_name_clean"], &TestOutcome::Pass);
    assert_eq!(by_name["test_wrong_on_purpose"], &TestOutcome::Fail);
}

#[test]
fn add_dir_reads_rules_and_tests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("short-name.rego"), RULE).unwrap();
    std::fs::write(dir.path().join("short-name_test.rego"), TEST).unwrap();
    let mut set = RuleSet::default();
    set.add_dir(dir.path()).unwrap();
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.tests.len(), 1);
    assert!(matches!(set.rules[0].0.origin, Origin::Dir(_)));
    let empty = tempfile::tempdir().unwrap();
    assert!(RuleSet::default().add_dir(empty.path()).is_err());
}

/// A custom rule that formats its days with the shared library (issue 13).
const LIB_RULE: &str = r#"# METADATA
# title: Old tokens
# custom:
#   id: old-token
#   severity: low
package tokenwarden.rules.old_token

import data.tokenwarden.lib

deny contains {"msg": sprintf("%s days old", [lib.fmt_days(input.facts.age_days)])} if {
	input.facts.age_days > 10
}
"#;

const LIB_TEST: &str = r#"package tokenwarden.rules.old_token_test

import data.tokenwarden.rules.old_token

test_fires if {
	old_token.deny == {{"msg": "12.5 days old"}} with input as {"facts": {"age_days": 12.5}}
}
"#;

#[test]
fn every_set_has_the_shared_library_and_only_the_builtin_pack_its_tests() {
    let custom = set_of(vec![file("old-token.rego", LIB_RULE)]).unwrap();
    let paths: Vec<&str> = custom.library.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["rules/lib/lib.rego"]);
    assert!(custom.tests.is_empty());
    assert!(!custom.has_builtin_rules());
    let builtin = RuleSet::builtin().unwrap();
    assert!(builtin.has_builtin_rules());
    assert!(builtin
        .tests
        .iter()
        .any(|t| t.path == "rules/lib/lib_test.rego"));
    assert!(builtin
        .rules
        .iter()
        .all(|(_, f)| !f.path.starts_with("rules/lib/")));
}

#[test]
fn a_custom_rule_may_import_the_library_on_both_backends_and_in_its_tests() {
    let set = set_of(vec![
        file("old-token.rego", LIB_RULE),
        file("old-token_test.rego", LIB_TEST),
    ])
    .unwrap();
    for backend in [Backend::Vm, Backend::Interpreter] {
        let ev = Evaluator::with_backend(&set, &json!({}), &[], backend).unwrap();
        // Custom rules always run on the interpreter, which reports a failing rule as an
        // error where the VM would skip it (issue 12).
        assert_eq!(ev.backend(), Backend::Interpreter);
        if backend == Backend::Vm {
            assert!(
                ev.fallback_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("custom rules")),
                "{:?}",
                ev.fallback_reason
            );
        }
        let out = ev.evaluate(json!({"facts": {"age_days": 30.004}}).into());
        let found = out[0].1.as_ref().unwrap();
        assert_eq!(found[0].message, "30 days old");
    }
    let results = run_tests(&set).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, TestOutcome::Pass, "{results:?}");
}
