//! `scan --terraform` and `explain ADDRESS --terraform` end to end (issue 14): the same
//! rules, policy, gate, formats and exit codes as a live scan, on `.tf` directories and
//! `terraform show -json` plans, with findings located in the code.

use serde_json::Value;

use crate::example::assert_valid_sarif;
use crate::support::tw;

const V4: &str = "tests/fixtures/terraform/v4";
const V5: &str = "tests/fixtures/terraform/v5";
const PLAN_V4: &str = "tests/fixtures/terraform/plan/v4.json";
const PLAN_V5: &str = "tests/fixtures/terraform/plan/v5.json";
const SUPPRESS: &str = "tests/fixtures/terraform/suppress";
const CATALOGUE: &str = "tests/fixtures/terraform/permission_groups.json";

fn scan_json(args: &[&str], code: i32) -> Value {
    tw().args(["scan", "--format", "json"])
        .args(args)
        .code(code)
        .run()
        .json()
}

/// `(address, rule, file:line)` of every finding, sorted.
fn located(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let t = &f["terraform"];
            (
                t["address"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                format!("{}:{}", t["file"].as_str().unwrap(), t["line"]),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(address: &str, rule: &str, at: &str) -> (String, String, String) {
    (address.into(), rule.into(), at.into())
}

#[test]
fn v4_configuration_findings_point_at_the_offending_attribute() {
    let report = scan_json(&["--terraform", V4], 1);
    let main = "tests/fixtures/terraform/v4/main.tf";
    assert_eq!(
        located(&report),
        [
            row(
                "cloudflare_api_token.dns_edit_all_account",
                "token-all-zones",
                &format!("{main}:55")
            ),
            row(
                "cloudflare_api_token.dns_edit_all_account",
                "token-ip-range-too-broad",
                &format!("{main}:64")
            ),
            row(
                "cloudflare_api_token.dns_edit_all_account",
                "token-sensitive-write",
                &format!("{main}:54")
            ),
            row(
                "cloudflare_api_token.dns_tls_edit",
                "token-sensitive-write",
                &format!("{main}:30")
            ),
            row(
                "cloudflare_api_token.logpush",
                "token-all-accounts",
                &format!("{main}:19")
            ),
            // No expires_on and no condition: the resource block.
            row(
                "cloudflare_api_token.logpush",
                "token-no-expiry",
                &format!("{main}:15")
            ),
            row(
                "cloudflare_api_token.logpush",
                "token-no-ip-restriction",
                &format!("{main}:15")
            ),
        ]
    );
    assert_eq!(report["scope"], "terraform");
    assert_eq!(
        report["summary"]["tokens_scanned"], 5,
        "count expands to two"
    );
    // A planned token is created at --now: no usage or rotation-age rule fires.
    for f in report["findings"].as_array().unwrap() {
        let rule = f["rule_id"].as_str().unwrap();
        assert!(
            !matches!(rule, "token-unused" | "token-secret-stale"),
            "{rule}"
        );
    }
    // The interpolated unknown zone id is a specific zone (no token-all-zones on it),
    // and is listed on its resource.
    let resources = report["terraform"]["resources"].as_array().unwrap();
    let dns = resources
        .iter()
        .find(|r| r["address"] == "cloudflare_api_token.dns_tls_edit")
        .unwrap();
    assert_eq!(
        dns["unknowns"],
        serde_json::json!([
            "policies[0].resources: com.cloudflare.api.account.zone.${var.zone_id}"
        ])
    );
}

#[test]
fn v5_configuration_with_modules_for_each_and_account_tokens() {
    let report = scan_json(&["--terraform", V5, "--permission-groups", CATALOGUE], 1);
    let main = "tests/fixtures/terraform/v5/main.tf";
    let module = "tests/fixtures/terraform/v5/modules/ci_token/main.tf";
    assert_eq!(
        located(&report),
        [
            row(
                "cloudflare_account_token.admin",
                "token-all-zones",
                &format!("{main}:87")
            ),
            row(
                "cloudflare_account_token.admin",
                "token-can-manage-tokens",
                &format!("{main}:83")
            ),
            row(
                "cloudflare_account_token.admin",
                "token-expiring-soon",
                &format!("{main}:93")
            ),
            row(
                "cloudflare_account_token.admin",
                "token-no-ip-restriction",
                &format!("{main}:78")
            ),
            // Named through a v5 list data source filtered by `Zone%20Write`.
            row(
                "cloudflare_api_token.per_zone",
                "token-sensitive-write",
                &format!("{main}:68")
            ),
            row(
                "module.ci.cloudflare_api_token.deploy",
                "token-all-accounts",
                &format!("{module}:20")
            ),
            row(
                "module.ci.cloudflare_api_token.deploy",
                "token-lifetime-too-long",
                &format!("{module}:23")
            ),
        ]
    );
    // The account token is owned by its account; for_each over a literal map expanded.
    let admin = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["terraform"]["address"] == "cloudflare_account_token.admin")
        .unwrap();
    assert_eq!(admin["owner"]["kind"], "account");
    assert_eq!(admin["owner"]["id"], "023e105f4ecef8ad9ca31a8372d0c353");
    let addresses: Vec<&str> = report["terraform"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert!(addresses.contains(&"cloudflare_api_token.bucket[\"logs\"]"));
    assert!(addresses.contains(&"cloudflare_api_token.bucket[\"assets\"]"));
    // The unknown for_each: evaluated once, its unknown expiry fires nothing.
    let per_zone = report["terraform"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "cloudflare_api_token.per_zone")
        .unwrap();
    assert!(per_zone["unknowns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u.as_str().unwrap().starts_with("expires_on: timeadd(")));
    assert_eq!(per_zone["notes"].as_array().unwrap().len(), 1);
}

#[test]
fn without_a_catalogue_literal_ids_are_unresolved_and_the_scan_is_incomplete() {
    let out = tw()
        .args(["scan", "--format", "json", "--terraform", V5])
        .code(3)
        .run();
    let report = out.json();
    let reasons: Vec<&str> = report["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons
        .iter()
        .any(|r| r.starts_with("module.ci.cloudflare_api_token.deploy (tests/fixtures/terraform/v5/modules/ci_token/main.tf:15): ")));
    // Never an unknown-group finding without a catalogue.
    assert!(!out.stdout.contains("token-unknown-permission-group"));
    let deploy = report["terraform"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "module.ci.cloudflare_api_token.deploy")
        .unwrap();
    assert!(deploy["unresolved_groups"][0]
        .as_str()
        .unwrap()
        .contains("82e64a83756745bbbb1c9c2701bf816b"));
}

#[test]
fn the_snapshot_catalogue_resolves_ids_too() {
    // The example snapshot's catalogue does not hold the fixture's looked-up names, so
    // token-unknown-permission-group applies: a catalogue was read.
    let report = scan_json(
        &[
            "--terraform",
            V5,
            "--snapshot",
            "examples/snapshot.json",
            "--fail-on",
            "never",
        ],
        0,
    );
    assert_eq!(report["summary"]["not_evaluated"], 0);
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule_id"] == "token-unknown-permission-group"));
}

#[test]
fn sarif_locates_results_in_the_tf_files_and_validates() {
    let out = tw()
        .args([
            "scan",
            "--format",
            "sarif",
            "--terraform",
            V5,
            "--permission-groups",
            CATALOGUE,
        ])
        .code(1)
        .run();
    let sarif = assert_valid_sarif(&out.stdout);
    let run = &sarif["runs"][0];
    assert_eq!(run["automationDetails"]["id"], "tokenwarden/terraform/");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("tests/fixtures/terraform/v5/") && uri.ends_with(".tf"),
            "{uri}"
        );
        assert!(!uri.contains("..") && !uri.starts_with('/'));
        assert!(loc["region"]["startLine"].as_i64().unwrap() > 1);
        let address = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .unwrap();
        assert!(r["message"]["text"].as_str().unwrap().starts_with(address));
    }
    // The unknowns of the for_each resource are a note located at its block.
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| n["level"] == "note"
        && n["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("cloudflare_api_token.per_zone: unknown: ")
        && n["locations"][0]["physicalLocation"]["region"]["startLine"] == 63));
}

#[test]
fn fingerprints_are_stable_per_address_and_rule_across_static_and_plan() {
    let fingerprints = |args: &[&str], code| -> Vec<(String, String, String)> {
        let report = scan_json(args, code);
        let mut v: Vec<_> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["terraform"]["address"].as_str().unwrap().to_string(),
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["fingerprint"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let a = fingerprints(&["--terraform", V4], 1);
    assert_eq!(a, fingerprints(&["--terraform", V4], 1));
    let plan = fingerprints(&["--terraform", PLAN_V4], 1);
    let logpush = |v: &[(String, String, String)]| {
        v.iter()
            .find(|(a, r, _)| a == "cloudflare_api_token.logpush" && r == "token-all-accounts")
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(logpush(&a), logpush(&plan));
}

#[test]
fn table_and_markdown_print_file_line_and_address() {
    let table = tw()
        .args(["scan", "--terraform", V5, "--permission-groups", CATALOGUE])
        .code(1)
        .run()
        .stdout;
    assert!(table.contains(
        "module.ci.cloudflare_api_token.deploy (tests/fixtures/terraform/v5/modules/ci_token/main.tf:15, ci-deploy)"
    ), "{table}");
    assert!(
        table.contains("[tests/fixtures/terraform/v5/modules/ci_token/main.tf:23]"),
        "{table}"
    );
    assert!(
        table.contains("TERRAFORM: NOT KNOWN BEFORE APPLY (1 resource)"),
        "{table}"
    );
    assert!(
        table.contains("unknown: expires_on: timeadd(timestamp(), \"720h\")"),
        "{table}"
    );
    let md = tw()
        .args([
            "scan",
            "--format",
            "markdown",
            "--terraform",
            V5,
            "--permission-groups",
            CATALOGUE,
        ])
        .code(1)
        .run()
        .stdout;
    assert!(md.contains(
        "`module.ci.cloudflare_api_token.deploy` at `tests/fixtures/terraform/v5/modules/ci_token/main.tf:20`"
    ), "{md}");
    assert!(
        md.contains("1 Terraform resource with values not known before apply"),
        "{md}"
    );
}

#[test]
fn plans_evaluate_create_and_update_only_and_locate_in_the_configuration() {
    let alone = scan_json(&["--terraform", PLAN_V5], 1);
    let rules: Vec<(String, String, String)> = located(&alone);
    assert!(rules
        .iter()
        .all(|(a, _, _)| a != "cloudflare_api_token.old" && a != "cloudflare_api_token.same"));
    assert!(rules.contains(&row(
        "cloudflare_api_token.bucket[\"logs\"]",
        "token-all-accounts",
        "tests/fixtures/terraform/plan/v5.json:112"
    )));
    // after_unknown: the unknown expiry and allowlist fire nothing.
    assert!(!rules
        .iter()
        .any(|(a, _, _)| a == "cloudflare_api_token.per_zone[\"a\"]"));
    // With the configuration directory, the same findings point at the .tf block.
    let with_config = scan_json(&["--terraform", PLAN_V5, V5], 1);
    assert!(located(&with_config).contains(&row(
        "cloudflare_api_token.bucket[\"logs\"]",
        "token-all-accounts",
        "tests/fixtures/terraform/v5/main.tf:56"
    )));
    // Provider v4 plans: policy blocks as lists, condition as nested one-element lists.
    let v4 = scan_json(&["--terraform", PLAN_V4], 1);
    assert!(located(&v4)
        .iter()
        .any(|(a, r, _)| a == "cloudflare_api_token.api_token_create"
            && r == "token-can-manage-tokens"));
    assert!(!located(&v4)
        .iter()
        .any(|(a, r, _)| a == "cloudflare_api_token.api_token_create"
            && r == "token-no-ip-restriction"));
}

#[test]
fn inline_suppressions_round_trip_suppressed_and_stale_when_expired() {
    let report = scan_json(
        &["--terraform", SUPPRESS, "--permission-groups", CATALOGUE],
        1,
    );
    let findings = report["findings"].as_array().unwrap();
    let get = |address: &str, rule: &str| {
        findings
            .iter()
            .find(|f| f["terraform"]["address"] == address && f["rule_id"] == rule)
            .unwrap_or_else(|| panic!("{address} {rule}"))
    };
    let ip = get("cloudflare_api_token.ci", "token-no-ip-restriction");
    assert_eq!(
        ip["exempted_by"]["reason"],
        "hosted runners have no fixed egress IPs"
    );
    assert_eq!(ip["exempted_by"]["expires"], "2027-03-01");
    // On the attribute's own line.
    assert_eq!(
        get("cloudflare_api_token.ci", "token-lifetime-too-long")["exempted_by"]["reason"],
        "one-off migration token"
    );
    // Expired: the finding counts again and the suppression is stale, at its line.
    assert!(get("cloudflare_api_token.legacy", "token-no-expiry")
        .get("exempted_by")
        .is_none());
    let stale = report["stale_exemptions"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["why"], "expired");
    assert_eq!(
        stale[0]["file"],
        "tests/fixtures/terraform/suppress/main.tf"
    );
    assert_eq!(stale[0]["line"], 14);
    assert_eq!(stale[0]["token"], "cloudflare_api_token.legacy");
    // SARIF: an in-source suppression.
    let out = tw()
        .args([
            "scan",
            "--format",
            "sarif",
            "--terraform",
            SUPPRESS,
            "--permission-groups",
            CATALOGUE,
        ])
        .code(1)
        .run();
    let sarif = assert_valid_sarif(&out.stdout);
    let suppressed: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 2);
    assert!(suppressed
        .iter()
        .all(|r| r["suppressions"][0]["kind"] == "inSource"));
    // --strict-exemptions turns the stale one into a configuration error.
    tw().args([
        "scan",
        "--terraform",
        SUPPRESS,
        "--permission-groups",
        CATALOGUE,
        "--strict-exemptions",
    ])
    .code(2)
    .run();
}

#[test]
fn bad_terraform_input_is_exit_2_naming_file_and_line() {
    let out = tw()
        .args(["scan", "--terraform", "tests/fixtures/terraform/broken"])
        .code(2)
        .run();
    assert!(
        out.stderr
            .contains("tests/fixtures/terraform/broken/unparsable.tf:6:"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let out = tw()
        .args(["scan", "--terraform", "tests/fixtures/terraform/malformed"])
        .code(2)
        .run();
    assert!(
        out.stderr
            .contains("tests/fixtures/terraform/malformed/main.tf:1: malformed suppression"),
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "# tokenwarden:ignore[token-no-such-rule] why until 2027-01-01\nresource \"cloudflare_api_token\" \"t\" {\n  name = \"t\"\n  policies = []\n}\n",
    )
    .unwrap();
    let out = tw()
        .args(["scan", "--terraform"])
        .arg(dir.path())
        .code(2)
        .run();
    assert!(out.stderr.contains("no such rule"), "{}", out.stderr);
    std::fs::write(
        dir.path().join("main.tf"),
        "# tokenwarden:ignore[token-no-expiry] why until 2099-01-01\nresource \"cloudflare_api_token\" \"t\" {\n  name = \"t\"\n  policies = []\n}\n",
    )
    .unwrap();
    let out = tw()
        .args(["scan", "--terraform"])
        .arg(dir.path())
        .code(2)
        .run();
    assert!(out.stderr.contains("max_exemption_days"), "{}", out.stderr);
    tw().args(["scan", "--terraform", "tests/fixtures/terraform/nope"])
        .code(2)
        .run();
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, r#"{"format_version": "0.1"}"#).unwrap();
    let out = tw().args(["scan", "--terraform"]).arg(&plan).code(2).run();
    assert!(out.stderr.contains("format_version"), "{}", out.stderr);
}

#[test]
fn the_gate_and_fail_on_work_as_for_a_live_scan() {
    tw().args(["scan", "--terraform", V4, "--fail-on", "never"])
        .code(0)
        .run();
    tw().args(["scan", "--terraform", V4, "--fail-on", "critical"])
        .code(0)
        .run();
    tw().args(["scan", "--terraform", PLAN_V4, "--fail-on", "critical"])
        .code(1)
        .run();
}

#[test]
fn explain_an_address_prints_its_input_document_and_findings() {
    let out = tw()
        .args([
            "explain",
            "cloudflare_api_token.logpush",
            "--terraform",
            V4,
            "--format",
            "json",
        ])
        .code(0)
        .run();
    let e = out.json();
    assert_eq!(e["terraform"]["address"], "cloudflare_api_token.logpush");
    assert_eq!(
        e["terraform"]["file"],
        "tests/fixtures/terraform/v4/main.tf"
    );
    assert_eq!(e["input"]["token"]["name"], "logpush_r2_token");
    assert_eq!(
        e["input"]["token"]["policies"][0]["permission_groups"][0]["name"],
        "Workers R2 Storage Write"
    );
    let mut rules: Vec<&str> = e["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "token-all-accounts",
            "token-no-expiry",
            "token-no-ip-restriction"
        ]
    );
    // An unknown value's rule is shown as not fired, as the scan drops it.
    let e = tw()
        .args([
            "explain",
            "cloudflare_api_token.per_zone",
            "--terraform",
            V5,
            "--format",
            "json",
        ])
        .run()
        .json();
    let no_expiry = e["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "token-no-expiry")
        .unwrap();
    assert_eq!(no_expiry["fired"], false);
    let table = tw()
        .args([
            "explain",
            "cloudflare_api_token.per_zone",
            "--terraform",
            V5,
        ])
        .run()
        .stdout;
    assert!(
        table.starts_with(
            "cloudflare_api_token.per_zone (tests/fixtures/terraform/v5/main.tf:63, static)"
        ),
        "{table}"
    );
    let out = tw()
        .args(["explain", "cloudflare_api_token.nope", "--terraform", V4])
        .code(2)
        .run();
    assert!(
        out.stderr.contains("cloudflare_api_token.logpush"),
        "{}",
        out.stderr
    );
    tw().args(["explain", "cloudflare_api_token.logpush"])
        .code(2)
        .run();
}

#[test]
fn a_plans_secret_never_reaches_a_report() {
    // `terraform show -json` prints an existing token's `value` in clear text.
    for format in ["table", "json", "sarif", "markdown"] {
        let out = tw()
            .args(["scan", "--format", format, "--terraform", PLAN_V5])
            .code(1)
            .run();
        assert!(!out.stdout.contains("cfut_PlanSecret"), "{format}");
        assert!(!out.stderr.contains("cfut_PlanSecret"), "{format}");
    }
    let out = tw()
        .args([
            "explain",
            "cloudflare_api_token.bucket[\"logs\"]",
            "--terraform",
            PLAN_V5,
            "--format",
            "json",
        ])
        .run();
    assert!(out.stdout.contains("bucket-logs") && !out.stdout.contains("cfut_PlanSecret"));
}

#[test]
fn the_ci_guide_has_a_terraform_workflow_using_existing_flags() {
    let guide = std::fs::read_to_string(crate::support::root().join("docs/ci.md")).unwrap();
    let section = &guide[guide.find("## Terraform").unwrap()..];
    assert!(section.contains("show -json plan.out > plan.json"));
    assert!(section.contains("tokenwarden scan --terraform plan.json infra"));
    assert!(section.contains("upload-sarif") && section.contains(".pre-commit-config.yaml"));
    let help = tw().args(["scan", "--help"]).run().stdout;
    assert!(help.contains("--terraform") && help.contains("--permission-groups"));
}

#[test]
fn reports_are_pinned() {
    let sarif = tw()
        .args(["scan", "--format", "sarif", "--terraform", V4])
        .code(1)
        .run()
        .stdout;
    insta::assert_snapshot!("terraform_v4_sarif", sarif);
    let table = tw()
        .args(["scan", "--terraform", V5, "--permission-groups", CATALOGUE])
        .code(1)
        .run()
        .stdout;
    insta::assert_snapshot!("terraform_v5_table", table);
}

/// A Terraform scan describes planned tokens (ids and times made up at each run): it is
/// not recorded in a history, where every planned token would look rolled every night.
#[test]
fn a_terraform_scan_is_not_recorded_in_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let out = tw()
        .args(["scan", "--terraform"])
        .arg(V4)
        .arg("--history")
        .arg(&db)
        .code(2)
        .run();
    assert!(
        out.stderr.contains("--terraform scan has no history"),
        "{}",
        out.stderr
    );
    assert!(!db.exists(), "nothing is created");
}
