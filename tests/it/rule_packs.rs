//! Custom rule packs through the binary (issue 4): the worked example in
//! `examples/custom-rules/`, metadata validation across packs, broken rule files, and
//! `rules test --coverage` numbers on a small fixture pack and on the default pack.

use serde_json::Value;

use crate::support::*;

/// `rules test --no-default-rules --coverage PACK`.
fn coverage_of(pack: &str) -> Output {
    tw().args(["rules", "test", "--no-default-rules", "--coverage", pack])
        .run()
}

#[test]
fn the_example_pack_passes_its_tests_with_full_coverage() {
    let Output {
        code,
        stdout,
        stderr,
    } = coverage_of("examples/custom-rules");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("PASS  examples/custom-rules/ci-token-short-expiry_test.rego: test_longer_than_thirty_days_fires"), "{stdout}");
    assert!(
        stdout.contains("100.0%  examples/custom-rules/ci-token-short-expiry.rego"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("5 passed, 0 failed"));
}

#[test]
fn the_example_pack_finds_long_lived_ci_tokens_in_the_example_snapshot() {
    let Output { stdout, stderr, .. } =
        scan_example(&["--rules", "examples/custom-rules", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let mut hits: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "ci-token-short-expiry")
        .map(|f| {
            (
                f["token_name"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        vec![
            (
                "ci-deploy-production".to_string(),
                "CI token lives 182 days, more than the 30 days allowed for ci-* tokens"
                    .to_string()
            ),
            (
                "ci-deploy-staging".to_string(),
                "CI token lives 90 days, more than the 30 days allowed for ci-* tokens".to_string()
            ),
        ]
    );
    let list = tw()
        .args(["rules", "list", "--rules", "examples/custom-rules"])
        .run()
        .stdout;
    let line = list
        .lines()
        .find(|l| l.starts_with("ci-token-short-expiry"))
        .unwrap();
    assert!(
        line.contains("examples/custom-rules") && line.contains("replace"),
        "{line}"
    );
}

fn pack(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

const RULE: &str = "# METADATA\n# title: t\n# custom:\n#   id: team-rule\n#   severity: low\npackage tokenwarden.rules.team_rule\n\ndeny contains {\"msg\": \"x\"} if {\n\tinput.token.name == \"x\"\n}\n";

#[test]
fn rule_ids_are_unique_across_packs_naming_both_files_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("team-a"), dir.path().join("team-b"));
    pack(&a, "team-rule.rego", RULE);
    pack(&b, "other.rego", RULE);
    let Output { code, stderr, .. } = scan_example(&[
        "--rules",
        a.to_str().unwrap(),
        "--rules",
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    let first = a.join("team-rule.rego");
    let second = b.join("other.rego");
    assert!(
        stderr.contains(&format!(
            "{}:4: rule id \"team-rule\" is already defined at {}:4",
            second.display(),
            first.display()
        )),
        "{stderr}"
    );
}

#[test]
fn metadata_problems_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "package.rego",
            RULE.replace(
                "package tokenwarden.rules.team_rule",
                "package tokenwarden.rules.other",
            ),
            ":6: package tokenwarden.rules.other does not match rule id team-rule",
        ),
        (
            "severity.rego",
            RULE.replace("severity: low", "severity: severe"),
            ":5: rule team-rule: custom.severity: unknown severity \"severe\"",
        ),
        (
            "missing.rego",
            RULE.replace("#   severity: low\n", ""),
            ":3: rule team-rule: METADATA custom.severity is missing",
        ),
        (
            "noid.rego",
            RULE.replace("#   id: team-rule\n", ""),
            ":3: METADATA custom.id is missing",
        ),
        (
            "nometa.rego",
            "package tokenwarden.rules.x\n".to_string(),
            ":1: no `# METADATA` block",
        ),
    ];
    for (name, text, want) in cases {
        let d = dir.path().join(name.trim_end_matches(".rego"));
        pack(&d, name, &text);
        let Output { code, stderr, .. } = scan_example(&["--rules", d.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}");
        assert!(
            stderr.contains(&format!("{}{want}", d.join(name).display())),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn a_broken_rule_file_is_exit_2_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = RULE.replace("input.token.name == \"x\"", "input.token.name == == \"x\"");
    pack(dir.path(), "team-rule.rego", &broken);
    pack(
        dir.path(),
        "team-rule_test.rego",
        "package tokenwarden.rules.team_rule_test\n\ntest_true if {\n\ttrue\n}\n",
    );
    let file = dir.path().join("team-rule.rego");
    for args in [
        vec!["scan", "--snapshot", "examples/snapshot.json", "--rules"],
        vec!["rules", "test", "--no-default-rules"],
    ] {
        let out = tw().args(&args).arg(dir.path()).run();
        let err = out.stderr;
        assert_eq!(out.code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{}: does not compile", file.display()))
                && err.contains(&format!("{}:9:", file.display())),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn coverage_numbers_on_a_small_fixture_pack() {
    let Output {
        code,
        stdout,
        stderr,
    } = coverage_of("tests/fixtures/coverage-pack");
    assert_eq!(code, 0, "{stderr}");
    let d = "tests/fixtures/coverage-pack";
    let want = format!(
        "coverage:
   60.0%  {d}/short-name.rego (3/5 lines)
          not reached {d}/short-name.rego:13: deny contains {{\"msg\": msg}} if {{
          not reached {d}/short-name.rego:15: msg := sprintf(\"token %s is still called legacy\", [input.token.id])
    0.0%  {d}/untested.rego (0/3 lines)
          not reached {d}/untested.rego:9: deny contains {{\"msg\": \"x\"}} if {{
          not reached {d}/untested.rego:10: input.token.name == \"x\"
          not reached {d}/untested.rego:11: input.token.id == \"y\"
   37.5%  total (3/8 lines)
1 passed, 0 failed
"
    );
    assert!(stdout.ends_with(&want), "{stdout}");
    let plain = tw()
        .args(["rules", "test", "--no-default-rules", d])
        .run()
        .stdout;
    assert!(!plain.contains("coverage:"), "coverage only when asked");
}

#[test]
fn the_default_pack_reaches_full_line_coverage() {
    let Output { code, stdout, .. } = tw().args(["rules", "test", "--coverage"]).run();
    assert_eq!(code, 0);
    let files: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().ends_with(" lines)") && l.contains("rules/"))
        .collect();
    // The 15 rules and the shared library (issue 13), which its own tests cover.
    assert_eq!(files.len(), 16, "{stdout}");
    assert!(
        files.iter().any(|l| l.contains("rules/lib/lib.rego")),
        "{stdout}"
    );
    for l in &files {
        assert!(l.trim_start().starts_with("100.0%"), "{l}");
    }
    assert!(!stdout.contains("not reached"), "{stdout}");
}

#[test]
fn a_failing_test_prints_fail_with_its_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path(), "team-rule.rego", RULE);
    pack(
        dir.path(),
        "team-rule_test.rego",
        "package tokenwarden.rules.team_rule_test\n\nimport data.tokenwarden.rules.team_rule\n\ntest_fires if {\n\tcount(team_rule.deny) == 1 with input as {\"token\": {\"name\": \"x\"}}\n}\n\ntest_wrongly_expects_nothing if {\n\tcount(team_rule.deny) == 0 with input as {\"token\": {\"name\": \"x\"}}\n}\n\ntest_errors if {\n\tto_number(\"not a number\") == 1\n}\n",
    );
    let out = tw()
        .args(["rules", "test", "--no-default-rules", "--coverage"])
        .arg(dir.path())
        .run();
    let s = out.stdout;
    assert_eq!(out.code, 1, "{s}");
    let file = dir.path().join("team-rule_test.rego");
    let f = file.display();
    assert!(s.contains(&format!("PASS  {f}: test_fires")), "{s}");
    assert!(
        s.contains(&format!("FAIL  {f}: test_wrongly_expects_nothing")),
        "{s}"
    );
    assert!(s.contains(&format!("ERROR {f}: test_errors: ")), "{s}");
    assert_eq!(s.lines().last(), Some("1 passed, 2 failed"));
}
