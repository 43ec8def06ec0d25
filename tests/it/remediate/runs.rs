//! Whole `remediate --apply` runs: every kind of action in one run, outcomes per action in
//! table and JSON, the journal, exit codes, and a second run that finds nothing left to do.

use serde_json::Value;

use super::*;
use tokenwarden_emulator::{Emulator, Fault, FaultKind};

#[test]
fn a_scheduled_run_fixes_everything_and_a_second_run_finds_nothing_to_do() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let sink = s.file_sink();
    let r = remediate(
        &emu,
        &s,
        &[
            "--apply",
            "--yes",
            "--secret-sink",
            &sink,
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["mode"], "apply");
    let statuses: Vec<(&str, &str)> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["token_id"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (ADMIN, "succeeded"),
            (UNUSED, "succeeded"),
            (STALE, "succeeded"),
            (EXPIRING, "succeeded")
        ]
    );
    assert_eq!(v["summary"]["succeeded"], 4);
    assert_eq!(v["summary"]["exit_code"], 0);
    assert_eq!(emu.token(ADMIN).unwrap()["status"], "disabled");
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "disabled");
    assert_eq!(s.delivered(STALE), emu.current_secret(STALE));
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "disabled");
    assert_eq!(
        emu.token(SCANNER).unwrap()["status"],
        "active",
        "never its own token"
    );
    assert_eq!(emu.current_secret(SCANNER).as_deref(), Some(SCANNER_SECRET));
    assert_eq!(
        emu.token(CLEAN),
        world().token(CLEAN).cloned(),
        "no finding, no change"
    );

    // A start and an end entry per action, one action after the other; between them, the
    // steps of the actions that make secrets, each journaled as it happened (issue 12).
    let j = s.journal_entries();
    let events: Vec<(&str, &str)> = j
        .iter()
        .map(|e| {
            (
                e["token_id"].as_str().unwrap(),
                e["event"].as_str().unwrap(),
            )
        })
        .collect();
    let steps = |id, between: &[&'static str]| {
        let mut v = vec![(id, "start")];
        v.extend(between.iter().map(|e| (id, *e)));
        v.push((id, "end"));
        v
    };
    let expected: Vec<(&str, &str)> = [
        steps(ADMIN, &[]),
        steps(UNUSED, &[]),
        steps(STALE, &["rolling", "rolled", "delivered"]),
        steps(EXPIRING, &["creating", "created", "delivered"]),
    ]
    .concat();
    assert_eq!(events, expected);
    for entry in &j {
        assert_eq!(entry["run"], j[0]["run"]);
    }
    for end in j.iter().filter(|e| e["event"] == "end") {
        assert_eq!(end["outcome"], "succeeded");
        assert_eq!(end["unfinished"], false);
        assert!(end["before"].is_object() && end["after"].is_object());
    }

    let again = remediate(&emu, &s, &["--format", "json", "--secret-sink", &sink]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.json()["actions"],
        Value::Array(vec![]),
        "nothing left to do"
    );
}

#[test]
fn the_outcome_table_shows_each_action_and_what_happened() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let sink = s.file_sink();
    emu.inject(Fault::on(
        "PUT",
        &format!("/accounts/{ACC}/tokens/{UNUSED}"),
        FaultKind::Status(403),
    ));
    let r = remediate(
        &emu,
        &s,
        &[
            "--apply",
            "--yes",
            "--secret-sink",
            &sink,
            "--rule",
            "token-unused",
            "--rule",
            "token-secret-stale",
        ],
    );
    assert_eq!(r.code, 3, "one action failed");
    let out = &r.stdout;
    assert!(!out.contains("Dry run"), "{out}");
    let failed = out
        .lines()
        .position(|l| l.contains(UNUSED) && l.contains("failed"))
        .expect(out);
    let detail = out.lines().nth(failed + 1).unwrap();
    assert!(
        detail.trim_start().starts_with("->") && detail.contains("refused"),
        "{detail}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(STALE) && l.contains("succeeded")),
        "{out}"
    );
    assert!(
        out.contains("succeeded") && out.contains("1 failed"),
        "{out}"
    );
    assert!(
        r.stderr
            .contains(&format!("error: disable token {UNUSED} failed")),
        "{}",
        r.stderr
    );
}

#[test]
fn an_incomplete_inventory_is_exit_3_even_when_every_action_succeeds() {
    let mut w = world();
    w.add_account("9f8e7d6c5b4a49382716f5e4d3c2b1a0", "Locked Ltd")
        .forbid_account("9f8e7d6c5b4a49382716f5e4d3c2b1a0");
    let emu = Emulator::start(w);
    let s = Scratch::new();
    let r = remediate(
        &emu,
        &s,
        &[
            "--format",
            "json",
            "--account",
            ACC,
            "--account",
            "9f8e7d6c5b4a49382716f5e4d3c2b1a0",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["not_evaluated"][0]["scope"],
        "accounts/9f8e7d6c5b4a49382716f5e4d3c2b1a0/tokens"
    );
    let r = remediate(
        &emu,
        &s,
        &[
            "--apply",
            "--yes",
            "--rule",
            "token-unused",
            "--account",
            ACC,
            "--account",
            "9f8e7d6c5b4a49382716f5e4d3c2b1a0",
        ],
    );
    assert_eq!(r.code, 3);
    assert_eq!(
        emu.token(UNUSED).unwrap()["status"],
        "disabled",
        "the readable part is still fixed"
    );
}

#[test]
fn without_a_verified_own_token_apply_refuses_unless_include_self() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on(
        "GET",
        "/user/tokens/verify",
        FaultKind::Status(500),
    ));
    let r = remediate(&emu, &s, &["--apply", "--yes", "--rule", "token-unused"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--include-self"), "{}", r.stderr);
    assert_eq!(emu.write_requests(), 0);
}
