//! CI integration (issue 4): the Markdown summary stays under GitHub's 1 MiB step-summary
//! limit, shell completions are generated, and the CI guide's workflows are valid YAML
//! that use the flags they document.

use serde_json::{json, Value};

use crate::support::*;

/// GitHub rejects a step summary over 1 MiB.
const GITHUB_STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// `n` user tokens with long names and six findings each (no expiry, no IP allowlist, all
/// zones with DNS Write, sensitive write, stale secret, never used).
fn big_snapshot(n: usize) -> String {
    let tokens: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("{i:032x}"),
                "name": format!("svc-{i}-{}", "x".repeat(96)),
                "status": "active",
                "issued_on": "2025-10-01T00:00:00Z",
                "modified_on": "2025-10-01T00:00:00Z",
                "policies": [{
                    "id": "p", "effect": "allow",
                    "resources": {"com.cloudflare.api.account.zone.*": "*"},
                    "permission_groups": [{"id": "4755a26eedb94da69e1066d98aa820be", "name": "DNS Write"}]
                }]
            })
        })
        .collect();
    json!({"format": "tokenwarden-snapshot/v1", "user": {"tokens": tokens}}).to_string()
}

#[test]
fn the_markdown_summary_is_cut_under_the_step_summary_limit() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("big.json");
    std::fs::write(&snap, big_snapshot(700)).unwrap();
    let scan = |format: &str| {
        tw().args(["scan", "--format", format, "--snapshot"])
            .arg(&snap)
            .run()
    };
    let out = scan("markdown");
    assert_eq!(out.code, 1, "the gate does not depend on the cut");
    let md = out.stdout;
    assert!(md.len() <= GITHUB_STEP_SUMMARY_LIMIT, "{} bytes", md.len());
    assert!(
        md.len() > GITHUB_STEP_SUMMARY_LIMIT / 2,
        "the budget is used, not wasted"
    );
    let total = scan("json").json()["summary"]["findings"].as_u64().unwrap() as usize;
    assert_eq!(total, 4200);
    let shown = md
        .lines()
        .filter(|l| l.starts_with("| 🔴 high | `") || l.starts_with("| 🟠 medium | `"))
        .count();
    let note = md
        .lines()
        .find(|l| l.contains("rows not shown"))
        .expect("a note says rows were cut");
    let cut: usize = note
        .trim_start_matches("_… ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        shown + cut,
        total,
        "every finding is either shown or counted: {note}"
    );
    assert!(
        note.contains("1 MiB") && note.contains("JSON or SARIF"),
        "{note}"
    );
    // The head of the summary is never cut.
    assert!(md.starts_with("## tokenwarden: 4200 findings in 700 tokens"));
    assert!(
        md.contains("| 🔴 high | 2800 |"),
        "counts cover every finding"
    );
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef tokenwarden"),
        ("fish", "complete -c tokenwarden"),
    ] {
        let out = tw().args(["completions", shell]).run();
        assert_eq!(out.code, 0, "{shell}");
        let script = out.stdout;
        assert!(script.contains(marker), "{shell}: {script}");
        // fish spells long options `-l name`.
        for word in [
            "scan",
            "doctor",
            "baseline",
            "strict-exemptions",
            "coverage",
        ] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    tw().args(["completions", "tcsh"]).code(2).run();
}

/// The fenced blocks of one language in a Markdown file.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(b) if line.trim() == "```" => {
                out.push(std::mem::take(b));
                current = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn the_ci_guide_workflows_are_valid_yaml_and_use_the_documented_flags() {
    let guide = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    let yaml = blocks(&guide, "yaml");
    assert!(
        yaml.len() >= 4,
        "GitHub scan, baseline refresh, GitLab, rotation"
    );
    for (i, b) in yaml.iter().enumerate() {
        // The baseline-refresh job is a fragment of the jobs: map, indented by two.
        let doc = if b.starts_with("  ") {
            format!("jobs:\n{b}")
        } else {
            b.clone()
        };
        yaml_serde::from_str::<yaml_serde::Value>(&doc)
            .unwrap_or_else(|e| panic!("block {i} is not valid YAML: {e}\n{b}"));
    }
    let all = yaml.concat();
    for needle in [
        "upload-sarif",
        "category:",
        "GITHUB_STEP_SUMMARY",
        "--baseline tokenwarden/baseline.json",
        "--write-baseline",
        "--strict-exemptions",
        "--exemptions tokenwarden/exemptions.toml",
        "tokenwarden doctor",
        "stages:",
        "artifacts:",
        "remediate --apply",
        "--secret-sink \"exec:",
        "schedule",
    ] {
        assert!(all.contains(needle), "docs/ci.md workflows lack {needle}");
    }
    // Every scan flag the guide uses exists.
    let help = tw().args(["scan", "--help"]).run().stdout;
    for flag in [
        "--baseline",
        "--write-baseline",
        "--strict-exemptions",
        "--exemptions",
        "--sarif",
        "--fail-on",
        "--output",
    ] {
        assert!(help.contains(flag), "scan has no {flag}");
    }
    let sh = blocks(&guide, "sh").concat();
    assert!(
        sh.contains("TOKENWARDEN_TOKEN_NAME") && !sh.contains("--body \"$"),
        "the sink reads the secret from stdin"
    );
}

#[test]
fn the_readme_links_the_governance_docs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for link in [
        "docs/ci.md",
        "docs/writing-rules.md",
        "examples/custom-rules/",
    ] {
        assert!(readme.contains(link), "README lacks {link}");
    }
    let guide = std::fs::read_to_string(root().join("docs/writing-rules.md")).unwrap();
    assert!(
        guide.contains("(input-document.md)"),
        "the guide links the input document"
    );
    for topic in [
        "data.tokenwarden.config",
        "\"msg\"",
        "\"evidence\"",
        "\"severity\"",
        "# METADATA",
        "rules test",
        "--coverage",
        "Portability",
    ] {
        assert!(guide.contains(topic), "the guide lacks {topic}");
    }
}

/// Issue 11: `rust-version` is true — no dependency needs a newer Rust than Cargo.toml says.
#[test]
fn rust_version_is_at_least_every_dependencys() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|x| x.parse().unwrap()).collect() };
    let packages = meta["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "tokenwarden")
        .and_then(|p| p["rust_version"].as_str())
        .expect("Cargo.toml sets rust-version");
    let (needed, by) = packages
        .iter()
        .filter_map(|p| Some((parse(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .unwrap();
    assert!(
        parse(ours) >= needed,
        "rust-version {ours} is below {needed:?}, which {by} needs"
    );
}
