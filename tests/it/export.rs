//! The bulk export of input documents (issue 13), `export::write_jsonl`: one line
//! per token with exactly what `explain TOKEN_ID --format json` shows for it (input
//! document, config data, findings), findings that add up to the scan's, a line even for a
//! token that cannot be evaluated, and the same bytes on every run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokenwarden::engine::{Evaluator, RuleSet};
use tokenwarden::export::{write_jsonl, ExportSummary};
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;

use crate::portability::{root, run, NOW};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
}

/// The export of `inventory` with the built-in rules and policy: its lines and summary.
fn export(inventory: &Inventory) -> (Vec<Value>, ExportSummary, Vec<u8>) {
    let set = RuleSet::builtin().unwrap();
    let policy = GovernancePolicy::builtin().unwrap();
    let evaluator = Evaluator::new(&set, &policy.config_data(), &[]).unwrap();
    let mut bytes = Vec::new();
    let summary = write_jsonl(inventory, &evaluator, &policy, now(), &mut bytes).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.ends_with('\n'));
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, summary, bytes)
}

/// The JSON output of `tokenwarden ARGS --snapshot <example> --now NOW --format json`.
fn json_of(args: &[&str]) -> Value {
    let snapshot = root().join("examples/snapshot.json");
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.extend([
        "--snapshot".as_ref(),
        snapshot.as_os_str(),
        "--now".as_ref(),
        NOW.as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let (code, out, err) = run(&all);
    // A scan exits 1 when findings gate; explain exits 0.
    assert!(code == 0 || code == 1, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

fn example() -> Inventory {
    Inventory::read(&root().join("examples/snapshot.json")).unwrap()
}

#[test]
fn each_line_is_what_explain_shows_for_its_token() {
    let (lines, summary, _) = export(&example());
    assert_eq!(
        summary,
        ExportSummary {
            tokens: 22,
            failed: 0
        }
    );
    assert_eq!(lines.len(), 22);
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["input", "data", "findings"]);
        let id = line["input"]["token"]["id"].as_str().unwrap();
        let explained = json_of(&["explain", id]);
        for key in ["input", "data", "findings"] {
            assert_eq!(line[key], explained[key], "token {id}: {key}");
        }
    }
}

#[test]
fn the_findings_of_all_lines_are_the_scans() {
    let (lines, _, _) = export(&example());
    let report = json_of(&["scan"]);
    let exported: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["findings"].as_array().unwrap())
        .collect();
    let scanned: Vec<&Value> = report["findings"].as_array().unwrap().iter().collect();
    assert_eq!(
        (exported.len(), scanned.len()),
        (40, 40),
        "the example's findings"
    );
    // The scan sorts by owner, token, severity and rule, as each line does within a token,
    // and the lines follow the inventory's order; compare as sets keyed by fingerprint.
    let by_print = |v: Vec<&Value>| -> BTreeMap<String, Value> {
        v.into_iter()
            .map(|f| (f["fingerprint"].as_str().unwrap().to_string(), f.clone()))
            .collect()
    };
    assert_eq!(by_print(exported), by_print(scanned));
}

#[test]
fn a_token_that_cannot_be_evaluated_keeps_its_line_with_the_reason() {
    let mut doc: Value =
        serde_json::from_str(include_str!("../../examples/snapshot.json")).unwrap();
    let bad = &mut doc["accounts"][0]["tokens"][0];
    bad["issued_on"] = "yesterday".into();
    let id = bad["id"].as_str().unwrap().to_string();
    let inventory =
        Inventory::from_json(&doc.to_string(), std::path::Path::new("bad.json")).unwrap();
    let (lines, summary, _) = export(&inventory);
    assert_eq!(
        summary,
        ExportSummary {
            tokens: 22,
            failed: 1
        }
    );
    let line = lines
        .iter()
        .find(|l| l["errors"].is_array())
        .expect("a line with errors");
    assert_eq!(line["input"], Value::Null);
    assert_eq!(line["findings"], serde_json::json!([]));
    let error = &line["errors"][0];
    assert!(
        error["scope"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/tokens/{id}")),
        "{error}"
    );
    assert!(
        error["reason"].as_str().unwrap().contains("issued_on"),
        "{error}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.get("errors").is_some()).count(),
        1
    );
}

#[test]
fn an_export_is_the_same_bytes_every_time() {
    let (_, _, first) = export(&example());
    let (_, _, second) = export(&example());
    assert_eq!(first, second);
}

/// `tokenwarden explain --all --format jsonl` is the command for the export: the same
/// bytes as the library writes, one line per token of the example.
#[test]
fn explain_all_writes_the_export_on_stdout() {
    let out = crate::support::tw()
        .args(["explain", "--all", "--format", "jsonl", "--snapshot"])
        .arg(root().join("examples/snapshot.json"))
        .code(0)
        .run();
    let (lines, summary, bytes) = export(&example());
    assert_eq!(out.stdout.as_bytes(), bytes.as_slice());
    assert_eq!(out.stdout.lines().count(), lines.len());
    assert_eq!(summary.tokens, lines.len());
    // --all needs jsonl, and jsonl needs --all: both are usage errors.
    crate::support::tw()
        .args(["explain", "--all", "--snapshot"])
        .arg(root().join("examples/snapshot.json"))
        .code(2)
        .run();
    crate::support::tw()
        .args(["explain", "--all", "--format", "json", "--snapshot"])
        .arg(root().join("examples/snapshot.json"))
        .code(2)
        .run();
}
