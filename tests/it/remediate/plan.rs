//! The plan and the dry run, and the guardrails that refuse before anything changes:
//! no write request without --apply, snapshots, confirmation, sinks, filters, the
//! scanner's own token, max_actions.

use serde_json::Value;

use super::*;
use tokenwarden_emulator::Emulator;

fn actions(v: &Value) -> Vec<(String, String, String)> {
    v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["token_id"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(id: &str, action: &str, status: &str) -> (String, String, String) {
    (id.into(), action.into(), status.into())
}

#[test]
fn the_dry_run_prints_the_plan_and_sends_no_write_request() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let sink = s.file_sink();
    let r = remediate(&emu, &s, &["--format", "json", "--secret-sink", &sink]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.write_requests(), 0, "a dry run writes nothing");
    let v = r.json();
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(
        v["max_actions"], 5,
        "the built-in policy's remediation.max_actions"
    );
    assert_eq!(
        actions(&v),
        vec![
            row(ADMIN, "disable", "planned"),
            row(UNUSED, "disable", "planned"),
            row(STALE, "roll", "planned"),
            row(EXPIRING, "replace", "planned"),
        ],
        "one action per token, most severe first"
    );
    let admin = &v["actions"][0];
    assert_eq!(
        admin["rules"],
        serde_json::json!(["token-can-manage-tokens"])
    );
    assert_eq!(admin["severity"], "critical");
    assert_eq!(
        admin["superseded"],
        serde_json::json!([{"action": "roll", "rules": ["token-secret-stale"]}]),
        "the stronger action says what it supersedes"
    );
    assert_eq!(admin["owner"]["kind"], "user");
    assert_eq!(v["actions"][1]["owner"]["id"], ACC);
    let skipped = &v["not_planned"][0];
    assert_eq!(skipped["token_id"], SCANNER);
    assert!(skipped["reason"]
        .as_str()
        .unwrap()
        .contains("--include-self"));
    assert!(!s.journal().exists(), "no journal without --apply");
    assert!(!s.secrets().exists(), "no sink touched without --apply");
}

#[test]
fn the_table_names_owner_token_action_and_the_rules_behind_it() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = remediate(&emu, &s, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.write_requests(), 0);
    let out = &r.stdout;
    assert!(out.starts_with("Dry run: nothing was changed"), "{out}");
    let admin = out.lines().find(|l| l.contains(ADMIN)).unwrap();
    for part in [
        "user",
        "legacy-admin",
        "disable",
        "planned",
        "token-can-manage-tokens (critical)",
        "supersedes roll (token-secret-stale)",
    ] {
        assert!(admin.contains(part), "{part} missing in {admin:?}");
    }
    let unused = out.lines().find(|l| l.contains(UNUSED)).unwrap();
    assert!(
        unused.contains("account Example Inc.") && unused.contains("token-unused"),
        "{unused}"
    );
    assert!(
        out.contains("Not planned:") && out.contains(SCANNER),
        "{out}"
    );
    assert!(
        out.contains("4 planned (max_actions 5); 1 not planned"),
        "{out}"
    );
}

#[test]
fn include_self_plans_the_scanners_own_token_last() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = remediate(
        &emu,
        &s,
        &["--format", "json", "--include-self", "--max-actions", "10"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let ids: Vec<String> = actions(&v).into_iter().map(|a| a.0).collect();
    assert_eq!(ids.last().map(String::as_str), Some(SCANNER), "{ids:?}");
    assert_eq!(v["not_planned"], serde_json::json!([]));
}

#[test]
fn rule_and_token_filters_limit_the_plan() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = remediate(
        &emu,
        &s,
        &["--format", "json", "--rule", "token-secret-stale"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        actions(&r.json()),
        vec![row(STALE, "roll", "planned"), row(ADMIN, "roll", "planned")],
        "only that rule's asks: ADMIN is rolled, not disabled (and is medium, not critical)"
    );
    let r = remediate(
        &emu,
        &s,
        &["--format", "json", "--token", UNUSED, "--token", STALE],
    );
    assert_eq!(
        actions(&r.json()),
        vec![
            row(UNUSED, "disable", "planned"),
            row(STALE, "roll", "planned")
        ]
    );
    let r = remediate(&emu, &s, &["--rule", "token-nope"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("token-nope") && r.stderr.contains("rules list"),
        "{}",
        r.stderr
    );
    let r = remediate(&emu, &s, &["--token", "0000000000000000000000000000dead"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not in the inventory"), "{}", r.stderr);
    assert_eq!(emu.write_requests(), 0);
}

#[test]
fn max_actions_limits_what_runs_and_defers_the_rest() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = remediate(&emu, &s, &["--format", "json", "--max-actions", "1"]);
    assert_eq!(
        actions(&r.json()),
        vec![
            row(ADMIN, "disable", "planned"),
            row(UNUSED, "disable", "deferred"),
            row(STALE, "roll", "deferred"),
            row(EXPIRING, "replace", "deferred"),
        ]
    );
    // The policy's max_actions applies when --max-actions is not given.
    let policy = s.dir.path().join("policy.toml");
    std::fs::write(&policy, "[remediation]\nmax_actions = 2\n").unwrap();
    let p = policy.display().to_string();
    let r = remediate(
        &emu,
        &s,
        &["--format", "json", "--policy", &p, "--apply", "--yes"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        actions(&v),
        vec![
            row(ADMIN, "disable", "succeeded"),
            row(UNUSED, "disable", "succeeded"),
            row(STALE, "roll", "deferred"),
            row(EXPIRING, "replace", "deferred"),
        ]
    );
    let puts: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert_eq!(
        emu.token(STALE).unwrap()["modified_on"],
        tokenwarden_emulator::rfc3339(days(-200))
    );
}

#[test]
fn apply_on_a_snapshot_is_refused() {
    let s = Scratch::new();
    let snap = example_snapshot().display().to_string();
    let err = tw()
        .args([
            "remediate",
            "--snapshot",
            &snap,
            "--apply",
            "--yes",
            "--journal",
        ])
        .arg(s.journal())
        .code(2)
        .run()
        .stderr;
    assert!(err.contains("refusing --apply on a snapshot"), "{err}");
    // Without --apply a snapshot still shows the plan (offline review).
    let v = tw()
        .args(["remediate", "--snapshot", &snap, "--format", "json"])
        .code(0)
        .run()
        .json();
    assert!(!v["actions"].as_array().unwrap().is_empty());
    assert!(!s.journal().exists());
}

#[test]
fn apply_without_yes_and_without_a_terminal_refuses_instead_of_hanging() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let sink = s.file_sink();
    let r = remediate(&emu, &s, &["--apply", "--secret-sink", &sink]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not a terminal") && r.stderr.contains("--yes"),
        "{}",
        r.stderr
    );
    assert_eq!(emu.write_requests(), 0);
    assert!(!s.journal().exists());
}

#[test]
fn a_missing_or_broken_sink_refuses_before_any_change() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = remediate(&emu, &s, &["--apply", "--yes"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--secret-sink") && r.stderr.contains(STALE),
        "{}",
        r.stderr
    );
    let blocker = s.dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let bad = format!("file:{}/sub", blocker.display());
    let r = remediate(&emu, &s, &["--apply", "--yes", "--secret-sink", &bad]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not usable") && r.stderr.contains("a-file"),
        "{}",
        r.stderr
    );
    let r = remediate(
        &emu,
        &s,
        &["--apply", "--yes", "--secret-sink", "s3:bucket"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("file:DIR, exec:COMMAND or stdout"),
        "{}",
        r.stderr
    );
    assert_eq!(emu.write_requests(), 0, "nothing changed at Cloudflare");
    // Disables need no sink: a plan of only disables runs without one.
    let r = remediate(&emu, &s, &["--apply", "--yes", "--rule", "token-unused"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "disabled");
}

#[test]
fn single_token_commands_are_dry_runs_unless_applied() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    for op in ["roll", "replace", "disable"] {
        let r = single(&emu, &s, op, UNUSED, &["--format", "json"]);
        assert_eq!(r.code, 0, "{op}: {}", r.stderr);
        let v = r.json();
        assert_eq!(actions(&v), vec![row(UNUSED, op, "planned")]);
        assert_eq!(v["actions"][0]["rules"], serde_json::json!([]));
    }
    let r = single(&emu, &s, "enable", PAUSED, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("enable") && r.stdout.contains("requested"),
        "{}",
        r.stdout
    );
    assert_eq!(emu.write_requests(), 0);
    // Guardrails: the scanner's own token, an inactive token, a wrong owner, a bad id.
    let r = single(&emu, &s, "disable", SCANNER, &["--apply"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--include-self"), "{}", r.stderr);
    let r = single(
        &emu,
        &s,
        "roll",
        PAUSED,
        &["--apply", "--secret-sink", &s.file_sink()],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    let r = run(&emu, &s, &["disable", UNUSED]);
    assert_eq!(r.code, 2, "an account token without --account");
    assert!(r.stderr.contains("--account"), "{}", r.stderr);
    let r = run(&emu, &s, &["disable", "../../accounts"]);
    assert_eq!(r.code, 2);
    let r = single(&emu, &s, "disable", PAUSED, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already disabled"), "{}", r.stdout);
    assert_eq!(emu.write_requests(), 0);
}

#[test]
fn the_example_snapshots_plan_is_stable() {
    let snap = example_snapshot().display().to_string();
    let plan = |format: &str| {
        tw().args(["remediate", "--snapshot", &snap, "--format", format])
            .code(0)
            .run()
            .stdout
    };
    let table = plan("table");
    assert_eq!(
        table,
        plan("table"),
        "byte-identical for the same input and --now"
    );
    insta::assert_snapshot!("remediate_example_table", table);
    insta::assert_snapshot!("remediate_example_json", plan("json"));
}
