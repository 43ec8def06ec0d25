//! The bundled example snapshot: the oracle table in examples/README.md, every report
//! format (insta snapshots), determinism, and SARIF validity.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::*;

/// token id -> expected rule ids, parsed from the oracle table in examples/README.md.
fn oracle() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("examples/README.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 5 {
            continue;
        }
        let id = cells[2].trim().trim_matches('`');
        if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let rules: BTreeSet<String> = cells[3]
            .split(", ")
            .filter_map(|r| r.split_whitespace().next())
            .filter(|r| r.starts_with("token-"))
            .map(str::to_string)
            .collect();
        out.insert(id.to_string(), rules);
    }
    out
}

fn json_report(extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let Output {
        code,
        stdout,
        stderr,
    } = scan_example(&args);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, v)
}

#[test]
fn scan_matches_the_documented_oracle_exactly() {
    let expected = oracle();
    assert_eq!(expected.len(), 22, "the README table lists every token");
    let (code, report) = json_report(&[]);
    assert_eq!(code, 1, "high findings fail the default gate");
    let mut actual: BTreeMap<String, BTreeSet<String>> = expected
        .keys()
        .map(|k| (k.clone(), BTreeSet::new()))
        .collect();
    for f in report["findings"].as_array().unwrap() {
        actual
            .entry(f["token_id"].as_str().unwrap().to_string())
            .or_default()
            .insert(f["rule_id"].as_str().unwrap().to_string());
    }
    assert_eq!(actual, expected);
}

#[test]
fn every_default_rule_fires_on_the_example_and_clean_tokens_exist() {
    let (_, report) = json_report(&[]);
    let fired: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(fired.len(), 15, "{fired:?}");
    let clean = oracle().values().filter(|r| r.is_empty()).count();
    assert!(clean >= 4, "{clean} clean tokens");
    assert_eq!(report["summary"]["tokens_scanned"], 22);
    assert_eq!(report["summary"]["critical"], 1);
    assert_eq!(report["summary"]["high"], 18);
    assert_eq!(report["summary"]["medium"], 13);
    assert_eq!(report["summary"]["low"], 8);
}

#[test]
fn all_zones_severity_depends_on_a_write_group_in_the_same_policy() {
    let (_, report) = json_report(&[]);
    let sev = |token: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule_id"] == "token-all-zones" && f["token_id"] == token)
            .map(|f| f["severity"].as_str().unwrap().to_string())
    };
    assert_eq!(
        sev("eb9f40546feb7ff55315e0a403ca7a43").as_deref(),
        Some("high")
    );
    assert_eq!(
        sev("d6a0842833d8a5a25abbae96b0d9b921").as_deref(),
        Some("medium")
    );
}

#[test]
fn reports_are_byte_identical_across_runs() {
    for format in ["table", "json", "sarif", "markdown"] {
        let a = scan_example(&["--format", format]);
        let b = scan_example(&["--format", format]);
        assert_eq!(a, b, "{format} differs between two runs");
    }
}

#[test]
fn table_report() {
    let Output { code, stdout, .. } = scan_example(&[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("example_table", stdout);
}

#[test]
fn json_report_snapshot() {
    let stdout = scan_example(&["--format", "json"]).stdout;
    insta::assert_snapshot!("example_json", stdout);
}

#[test]
fn markdown_report() {
    let stdout = scan_example(&["--format", "markdown"]).stdout;
    insta::assert_snapshot!("example_markdown", stdout);
}

#[test]
fn sarif_report() {
    let Output { code, stdout, .. } = scan_example(&["--format", "sarif"]);
    assert_eq!(code, 1, "the exit code does not depend on the format");
    insta::assert_snapshot!("example_sarif", stdout);
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

pub(crate) fn assert_valid_sarif(text: &str) -> Value {
    let sarif: Value = serde_json::from_str(text).unwrap();
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF does not validate:\n{}",
        errors.join("\n")
    );
    sarif
}

#[test]
fn sarif_validates_and_meets_github_code_scanning_requirements() {
    let stdout = scan_example(&["--format", "sarif"]).stdout;
    let sarif = assert_valid_sarif(&stdout);
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 15);
    for r in rules {
        for key in [
            "id",
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "helpUri",
            "defaultConfiguration",
        ] {
            assert!(r.get(key).is_some(), "rule {} lacks {key}", r["id"]);
        }
        assert!(r["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains(r["name"].as_str().unwrap()));
        let sev = r["properties"]["security-severity"].as_str().unwrap();
        assert!(["9.5", "8.0", "5.5", "2.0"].contains(&sev), "{sev}");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 40);
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[idx]["id"], res["ruleId"],
            "ruleIndex points at the rule"
        );
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("cloudflare/user/tokens/") || uri.starts_with("cloudflare/accounts/"),
            "{uri}"
        );
        assert_eq!(loc["region"]["startLine"], 1);
        assert!(res["partialFingerprints"]["tokenwarden/v1"].is_string());
        assert!(res["partialFingerprints"]["primaryLocationLineHash"].is_string());
        let level = res["level"].as_str().unwrap();
        let severity = res["properties"]["severity"].as_str().unwrap();
        let want = match severity {
            "critical" | "high" => "error",
            "medium" => "warning",
            _ => "note",
        };
        assert_eq!(level, want);
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(run["automationDetails"]["id"], "tokenwarden/all/");
}

#[test]
fn sarif_fingerprints_are_stable_and_unique() {
    let a = scan_example(&["--format", "sarif"]).stdout;
    let b = scan_example(&["--format", "sarif", "--now", "2026-12-01T00:00:00Z"]).stdout;
    let fps = |t: &str| -> BTreeMap<String, String> {
        let v: Value = serde_json::from_str(t).unwrap();
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let loc = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap();
                (
                    format!("{}|{}", r["ruleId"].as_str().unwrap(), loc),
                    r["partialFingerprints"]["tokenwarden/v1"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect()
    };
    let (fa, fb) = (fps(&a), fps(&b));
    let unique: BTreeSet<&String> = fa.values().collect();
    assert_eq!(unique.len(), fa.len(), "one fingerprint per (rule, token)");
    for (k, v) in &fa {
        if let Some(w) = fb.get(k) {
            assert_eq!(v, w, "fingerprint of {k} changed with the clock");
        }
    }
}

#[test]
fn sarif_written_alongside_the_main_report() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("out.sarif");
    let Output { code, stdout, .. } =
        scan_example(&["--format", "markdown", "--sarif", sarif.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.starts_with("## tokenwarden"));
    let text = std::fs::read_to_string(&sarif).unwrap();
    assert_valid_sarif(&text);
}

#[test]
fn output_file_receives_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let Output { code, stdout, .. } =
        scan_example(&["--format", "json", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(v["tool"], "tokenwarden");
}
