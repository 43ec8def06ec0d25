//! Stale exemptions (expired, or matching no finding) in every format, `--strict-exemptions`
//! (exit 2 naming file and line), and exemptions kept in a separate `--exemptions FILE`.

use serde_json::Value;

use crate::example::assert_valid_sarif;
use crate::support::*;

/// Three exemptions: one in force that matches (ci-deploy-production has no IP
/// allowlist), one that expired the day before the scan, and one that matches nothing.
const EXEMPTIONS: &str = r#"# team exemptions
[[exemptions]]
rule = "token-no-ip-restriction"
token_name = "ci-deploy-*"
account = "023e105f4ecef8ad9ca31a8372d0c353"
reason = "hosted runners have no fixed egress IPs"
owner = "platform@example.com"
expires = 2027-01-31

[[exemptions]]
rule = "token-secret-stale"
token_name = "cert-manager-dns01"
reason = "rotation scheduled"
owner = "sec@example.com"
expires = 2026-11-21

[[exemptions]]
rule = "token-no-expiry"
token_name = "decommissioned-*"
reason = "old exception"
owner = "sec@example.com"
expires = 2027-06-30
"#;

fn files() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("exemptions.toml");
    std::fs::write(&p, EXEMPTIONS).unwrap();
    let p = p.to_str().unwrap().to_string();
    (dir, p)
}

#[test]
fn stale_exemptions_are_reported_in_every_format() {
    let (_dir, ex) = files();
    let expired = format!("exemption at {ex}:10 (rule token-secret-stale, token cert-manager-dns01) expired on 2026-11-21");
    let unmatched = format!(
        "exemption at {ex}:17 (rule token-no-expiry, token decommissioned-*) matched no finding"
    );

    let Output {
        code,
        stdout,
        stderr,
    } = scan_example(&["--exemptions", &ex, "--format", "json"]);
    assert_eq!(
        code, 1,
        "stale exemptions alone do not change the exit code: {stderr}"
    );
    assert!(
        stderr.contains(&format!("warning: stale {expired}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("warning: stale {unmatched}")),
        "{stderr}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let stale = v["stale_exemptions"].as_array().unwrap();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert_eq!(stale[0]["why"], "expired");
    assert_eq!(stale[0]["file"], ex.as_str());
    assert_eq!(stale[0]["line"], 10);
    assert_eq!(
        stale[0]["matching_findings"], 1,
        "the finding it hid counts again"
    );
    assert_eq!(stale[1]["why"], "unmatched");
    assert_eq!(stale[1]["line"], 17);
    assert_eq!(v["summary"]["stale_exemptions"], 2);
    let exempted: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("exempted_by").is_some())
        .collect();
    assert_eq!(exempted.len(), 1, "the exemption in force still applies");
    assert_eq!(exempted[0]["token_name"], "ci-deploy-production");

    let table = scan_example(&["--exemptions", &ex]).stdout;
    assert!(
        table.contains("STALE EXEMPTIONS (2): expired or matching nothing"),
        "{table}"
    );
    assert!(
        table.contains(&expired) && table.contains(&unmatched),
        "{table}"
    );

    let md = scan_example(&["--exemptions", &ex, "--format", "markdown"]).stdout;
    assert!(md.contains("### Stale exemptions (2)"), "{md}");
    assert!(md.contains("| stale exemptions | 2 |"), "{md}");
    assert!(md.contains(&format!("| `{ex}:10` | expired |")), "{md}");
    assert!(md.contains(&format!("| `{ex}:17` | unmatched |")), "{md}");

    let sarif = scan_example(&["--exemptions", &ex, "--format", "sarif"]).stdout;
    let v = assert_valid_sarif(&sarif);
    let notes = v["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["level"], "warning");
    assert!(notes[0]["message"]["text"]
        .as_str()
        .unwrap()
        .contains("expired on 2026-11-21"));
    let loc = &notes[1]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], ex.as_str());
    assert_eq!(loc["region"]["startLine"], 17);
    assert_eq!(
        v["runs"][0]["invocations"][0]["executionSuccessful"], true,
        "stale configuration is not a failed execution"
    );
}

#[test]
fn strict_exemptions_exit_2_naming_each_stale_exemption() {
    let (_dir, ex) = files();
    let Output {
        code,
        stdout,
        stderr,
    } = scan_example(&[
        "--exemptions",
        &ex,
        "--strict-exemptions",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error: --strict-exemptions: 2 stale exemptions:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{ex}:10")) && stderr.contains(&format!("{ex}:17")),
        "{stderr}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["stale_exemptions"].as_array().unwrap().len(),
        2,
        "the report is still written"
    );

    // Only the exemption in force: nothing stale, the normal exit code.
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("ok.toml");
    std::fs::write(&fresh, EXEMPTIONS.split("\n\n").next().unwrap()).unwrap();
    let Output { code, stderr, .. } = scan_example(&[
        "--exemptions",
        fresh.to_str().unwrap(),
        "--strict-exemptions",
        "--fail-on",
        "never",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("stale"), "{stderr}");
}

#[test]
fn exemptions_in_a_policy_file_are_checked_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    std::fs::write(
        &p,
        format!("[gate]\nfail_on = \"critical\"\n\n{EXEMPTIONS}"),
    )
    .unwrap();
    let p = p.to_str().unwrap();
    let Output { code, stderr, .. } = scan_example(&["--policy", p, "--strict-exemptions"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("{p}:13")) && stderr.contains(&format!("{p}:20")),
        "{stderr}"
    );
}

#[test]
fn an_unmatched_exemption_is_not_judged_on_a_narrowed_scan() {
    let (_dir, ex) = files();
    let out = scan_example(&["--exemptions", &ex, "--scope", "user", "--format", "json"]).stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    let whys: Vec<&str> = v["stale_exemptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["why"].as_str().unwrap())
        .collect();
    // Expired is a fact of the calendar; "matched nothing" needs every owner scanned.
    assert_eq!(whys, vec!["expired"]);
}

#[test]
fn an_exemptions_file_merges_with_the_policy_and_rejects_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[exemptions]]\nrule = \"token-sensitive-write\"\ntoken_name = \"terraform-dns\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\n",
    )
    .unwrap();
    let (_d, ex) = files();
    let out = scan_example(&[
        "--policy",
        policy.to_str().unwrap(),
        "--exemptions",
        &ex,
        "--format",
        "json",
    ])
    .stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut by: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("exempted_by").is_some())
        .map(|f| f["token_name"].as_str().unwrap())
        .collect();
    by.sort();
    assert_eq!(
        by,
        vec!["ci-deploy-production", "terraform-dns"],
        "both files apply"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[thresholds]\nmax_lifetime_days = 30\n\n[[exemptions]]\nrule = \"token-no-expiry\"\ntoken_name = \"x\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nticket = \"SEC-1\"\n",
    )
    .unwrap();
    let b = bad.to_str().unwrap();
    let Output {
        code,
        stdout,
        stderr,
    } = scan_example(&["--exemptions", b]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!("{b}:1: thresholds: unknown key")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{b}:10: exemptions[0].ticket: unknown key")),
        "{stderr}"
    );

    std::fs::write(
        &bad,
        "[[exemptions]]\nrule = \"token-nope\"\ntoken_name = \"x\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\n",
    )
    .unwrap();
    let Output { code, stderr, .. } = scan_example(&["--exemptions", b]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "{b}:2: exemptions.rule: unknown rule id \"token-nope\""
        )),
        "{stderr}"
    );
    std::fs::write(&bad, "[[exemptions]]\nrule = \"*\"\ntoken_name = \"x\"\n").unwrap();
    let Output { code, stderr, .. } = scan_example(&["--exemptions", b]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "{b}:1: exemptions[0].expires: missing required key"
        )),
        "{stderr}"
    );
    let Output { code, stderr, .. } = scan_example(&["--exemptions", "/nonexistent/ex.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/ex.toml"), "{stderr}");
}

/// Issue 12, item 7: an exemption that would never expire is a configuration error.
#[test]
fn an_exemption_past_the_limit_of_days_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("forever.toml");
    std::fs::write(
        &p,
        "[[exemptions]]\nrule = \"*\"\ntoken_name = \"*\"\nreason = \"r\"\nowner = \"o\"\nexpires = 9999-12-31\n",
    )
    .unwrap();
    let Output { code, stderr, .. } = scan_example(&["--exemptions", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("max_exemption_days"), "{stderr}");
    assert!(stderr.contains("forever.toml:1"), "{stderr}");
}
