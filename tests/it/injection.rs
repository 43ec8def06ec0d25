//! Issue 12, item 6: whoever may create a token chooses its name. ESC/OSC sequences, CR and
//! LF and bidi overrides must not reach a terminal raw (in the table, the remediation plan,
//! explain), and Markdown must not render an image, a link or a mention from it; JSON and
//! SARIF carry the exact string.

use serde_json::{json, Value};

use crate::support::*;

const HIDDEN: &str = "ci\u{1b}[8m-hidden\u{1b}[0m";
const FORGED: &str = "x\r\nSummary: 0 critical, 0 high in 0 tokens\r\nGate (fail on high): passed";
const BIDI: &str = "abc\u{202e}txt.exe";
const MARKDOWN: &str =
    "![pixel](https://tracker.example/p.png) [login](https://phish.example) @security-team";
const OSC: &str = "\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}";

fn token(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "status": "active",
        "issued_on": "2026-01-01T00:00:00Z",
        "modified_on": "2026-01-01T00:00:00Z",
        "policies": [{
            "id": "p1",
            "effect": "allow",
            "resources": {"com.cloudflare.api.account.zone.*": "*"},
            "permission_groups": [{"id": "4755a26eedb94da69e1066d98aa820be", "name": "DNS Write"}]
        }]
    })
}

fn snapshot(dir: &std::path::Path) -> String {
    let names = [HIDDEN, FORGED, BIDI, MARKDOWN, OSC];
    let tokens: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| token(&format!("{:032x}", i + 1), n))
        .collect();
    let snap = json!({
        "format": "tokenwarden-snapshot/v1",
        "user": {"tokens": tokens},
        "accounts": [{"id": "023e105f4ecef8ad9ca31a8372d0c353", "name": "Evil\u{1b}[2J Corp", "tokens": []}]
    });
    let path = dir.join("hostile.json");
    std::fs::write(&path, snap.to_string()).unwrap();
    path.display().to_string()
}

fn assert_no_raw_controls(what: &str, text: &str) {
    for c in text.chars() {
        let raw = (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        assert!(!raw, "{what} has a raw {c:?}:\n{text}");
    }
}

#[test]
fn the_table_escapes_names_and_nothing_forges_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let Output {
        code,
        stdout,
        stderr,
    } = tw()
        .args(["scan", "--snapshot", &snap, "--color", "never"])
        .run();
    assert_eq!(code, 1, "{stderr}");
    assert_no_raw_controls("the table", &stdout);
    assert_no_raw_controls("stderr", &stderr);
    assert!(stdout.contains("ci\\e[8m-hidden\\e[0m"), "{stdout}");
    assert!(stdout.contains("abc\\u{202e}txt.exe"), "{stdout}");
    let summaries = stdout.lines().filter(|l| l.starts_with("Summary:")).count();
    assert_eq!(summaries, 1, "a name forged a summary line:\n{stdout}");
    let gates = stdout.lines().filter(|l| l.starts_with("Gate ")).count();
    assert_eq!(gates, 1, "a name forged the gate's verdict:\n{stdout}");
}

#[test]
fn the_remediation_plan_and_explain_escape_names() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let plan = tw().args(["remediate", "--snapshot", &snap]).run();
    assert_no_raw_controls("the plan", &plan.stdout);
    assert_no_raw_controls("stderr", &plan.stderr);
    let explained = tw()
        .args(["explain", &format!("{:032x}", 1), "--snapshot", &snap])
        .run()
        .stdout;
    assert_no_raw_controls("explain", &explained);
    assert!(explained.contains("ci\\e[8m-hidden"), "{explained}");
}

#[test]
fn markdown_renders_no_image_link_or_mention_from_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let md = tw()
        .args(["scan", "--snapshot", &snap, "--format", "markdown"])
        .run()
        .stdout;
    assert_no_raw_controls("markdown", &md);
    for line in md.lines().filter(|l| l.contains("tracker.example")) {
        // The whole name sits inside a code span: no `![`, `](` or `@` outside backticks.
        let outside: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect();
        assert!(
            !outside.contains("![") && !outside.contains("](") && !outside.contains('@'),
            "renders as more than text: {line}"
        );
    }
    assert!(md.contains("tracker.example"), "{md}");
}

#[test]
fn json_and_sarif_carry_the_exact_names() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let json_out = tw()
        .args(["scan", "--snapshot", &snap, "--format", "json"])
        .run()
        .stdout;
    let v: Value = serde_json::from_str(&json_out).unwrap();
    let names: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["token_name"].as_str())
        .collect();
    for n in [HIDDEN, FORGED, BIDI, MARKDOWN, OSC] {
        assert!(names.contains(&n), "{n:?} missing from {names:?}");
    }
    let sarif = tw()
        .args(["scan", "--snapshot", &snap, "--format", "sarif"])
        .run()
        .stdout;
    let v: Value = serde_json::from_str(&sarif).unwrap();
    for n in [HIDDEN, FORGED, BIDI, MARKDOWN, OSC] {
        assert!(holds_string(&v, n), "SARIF lacks the exact name {n:?}");
    }
}

fn holds_string(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(a) => a.iter().any(|x| holds_string(x, s)),
        Value::Object(o) => o.values().any(|x| holds_string(x, s)),
        _ => false,
    }
}
