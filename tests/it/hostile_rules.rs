//! Issue 12, item 3: a custom rule cannot fake a clean scan. A rule that fails at run time
//! is an error for that token and rule (reported, exit 3), on the default engine too; one
//! that fails whatever the input is refused at load time (exit 2), naming file and line.

use crate::support::*;

fn pack(id: &str, body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let package = id.replace('-', "_");
    std::fs::write(
        dir.path().join(format!("{id}.rego")),
        format!(
            "# METADATA\n# title: t\n# custom:\n#   id: {id}\n#   severity: high\n\
             package tokenwarden.rules.{package}\n\ndeny contains {{\"msg\": \"never\"}} if {{\n\t{body}\n}}\n"
        ),
    )
    .unwrap();
    dir
}

/// The reasons of a JSON report's `not_evaluated` entries.
fn reasons(report: &serde_json::Value) -> Vec<&str> {
    report["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["reason"].as_str())
        .collect()
}

fn scan(dir: &tempfile::TempDir, engine: &str) -> Output {
    tw().args(["scan", "--format", "json", "--engine", engine, "--snapshot"])
        .arg(example_snapshot())
        .arg("--rules")
        .arg(dir.path())
        .run()
}

/// The example scanned with only `dir`'s pack, under a policy of `policy` (TOML text);
/// exit 3 (some token not evaluated) expected.
fn scan_alone(dir: &tempfile::TempDir, policy: &str) -> serde_json::Value {
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, policy).unwrap();
    tw().args([
        "scan",
        "--format",
        "json",
        "--no-default-rules",
        "--snapshot",
    ])
    .arg(example_snapshot())
    .arg("--rules")
    .arg(dir.path())
    .arg("--policy")
    .arg(&path)
    .code(3)
    .run()
    .json()
}

#[test]
fn a_rule_that_fails_on_a_token_is_an_error_never_a_pass() {
    for (id, body) in [
        ("type-error", "upper(input.facts.age_days) == \"X\""),
        ("bad-number", "to_number(input.token.name) > 0"),
        (
            "div-by-input",
            "x := 1 / (input.facts.age_days * 0)\n\tx > 0",
        ),
    ] {
        let dir = pack(id, body);
        for engine in ["vm", "interpreter"] {
            let out = scan(&dir, engine);
            assert_eq!(out.code, 3, "{id} on {engine}: {}", out.stderr);
            let v = out.json();
            let reasons = reasons(&v);
            assert!(
                !reasons.is_empty() && reasons.iter().all(|r| r.contains(&format!("rule {id}"))),
                "{id} on {engine}: {reasons:?}"
            );
            assert_eq!(v["summary"]["complete"], false);
        }
    }
}

#[test]
fn a_rule_that_fails_whatever_the_input_is_refused_at_load() {
    for (id, body) in [
        ("div-zero", "x := 1 / 0\n\tx > 0"),
        ("nan", "to_number(\"abc\") > 0"),
    ] {
        let dir = pack(id, body);
        let out = scan(&dir, "vm");
        assert_eq!(out.code, 2, "{id}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{id}.rego"))
                && out.stderr.contains(&format!("rule {id}")),
            "{id}: {}",
            out.stderr
        );
    }
}

/// A runaway rule is stopped by the policy's time budget and reported for that token:
/// never an endless scan, never a pass.
#[test]
fn a_runaway_rule_is_stopped_by_its_time_budget() {
    let dir = pack(
        "runaway",
        "input.facts.age_days > -1\n\tn := count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000); x == y + 1000000])\n\tn > 0",
    );
    let started = std::time::Instant::now();
    let v = scan_alone(&dir, "[limits]\nrule_time_limit_ms = 50\n");
    let reasons = reasons(&v);
    assert_eq!(reasons.len(), 22, "every token: {reasons:?}");
    assert!(reasons
        .iter()
        .all(|r| r.contains("rule runaway") && r.contains("time limit")));
    // 22 tokens × 50 ms, far from the minutes the rule would take (a loose bound, not a
    // timing assertion: it only shows the budget applied).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// A rule that builds an enormous value is stopped by the policy's memory budget and
/// reported for that token: never an out-of-memory abort, never a pass. The time budget is
/// set far away so that it is the memory budget that stops the rule.
#[test]
fn a_memory_hungry_rule_is_stopped_by_its_memory_budget() {
    let dir = pack(
        "hungry",
        "input.facts.age_days > -1\n\txs := [sprintf(\"%d-%s\", [x, input.token.id]) | some x in numbers.range(1, 50000000)]\n\tcount(xs) > 0",
    );
    let v = scan_alone(
        &dir,
        "[limits]\nrule_time_limit_ms = 600000\nrule_memory_limit_mb = 64\n",
    );
    let reasons = reasons(&v);
    assert_eq!(reasons.len(), 22, "every token: {reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("rule hungry") && r.contains("memory")),
        "{reasons:?}"
    );
    assert_eq!(v["summary"]["complete"], false);
}

/// The memory budget is a policy key with a range, like the other limits.
#[test]
fn the_memory_budget_is_range_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (value, ok) in [
        ("15", false),
        ("16", true),
        ("65536", true),
        ("65537", false),
    ] {
        let policy = dir.path().join("p.toml");
        std::fs::write(
            &policy,
            format!("[limits]\nrule_memory_limit_mb = {value}\n"),
        )
        .unwrap();
        let out = tw()
            .args([
                "scan",
                "--format",
                "json",
                "--fail-on",
                "never",
                "--snapshot",
            ])
            .arg(example_snapshot())
            .arg("--policy")
            .arg(&policy)
            .code(if ok { 0 } else { 2 })
            .run();
        if !ok {
            assert!(
                out.stderr.contains("limits.rule_memory_limit_mb") && out.stderr.contains(value),
                "{}",
                out.stderr
            );
        }
    }
}

/// regorus's parser doubles its time with every nested `[`/`{`: a rule file nested 40 deep
/// would stall the load for days. It is refused at once, naming the file and line.
#[test]
fn a_rule_file_nested_too_deep_is_refused_before_it_is_parsed() {
    let dir = pack(
        "deep",
        &format!("x := {}1{}\n\tcount(x) > 5", "[".repeat(40), "]".repeat(40)),
    );
    let out = tw()
        .args(["rules", "list", "--rules"])
        .arg(dir.path())
        .code(2)
        .run();
    assert!(
        out.stderr.contains("deep.rego:9") && out.stderr.contains("nest more than 12 deep"),
        "{}",
        out.stderr
    );
}
