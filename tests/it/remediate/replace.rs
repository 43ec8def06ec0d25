//! Safety property: a replace gives consumers an overlap. The copy has the same access
//! (permission group ids, resources, effect), condition and not_before, a name saying what
//! it replaces and a fresh expiry; its secret is delivered before the old token is
//! disabled. A failed creation changes nothing; a failed delivery deletes the copy again
//! (and escrows its secret only when that delete fails too).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::*;
use tokenwarden_emulator::{Emulator, Fault, FaultKind};

pub(super) fn tokens_path() -> String {
    format!("/accounts/{ACC}/tokens")
}

pub(super) fn ids(emu: &Emulator) -> BTreeSet<String> {
    emu.with_world(|w| w.accounts[ACC].tokens.keys().cloned().collect())
}

pub(super) fn replace(emu: &Emulator, s: &Scratch, sink: &str) -> Output {
    remediate(
        emu,
        s,
        &[
            "--apply",
            "--yes",
            "--token",
            EXPIRING,
            "--format",
            "json",
            "--secret-sink",
            sink,
        ],
    )
}

pub(super) fn new_id(r: &Output) -> String {
    r.json()["actions"][0]["new_token_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn access(token: &Value) -> Vec<String> {
    let mut keys: Vec<String> = token["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut groups: Vec<&str> = p["permission_groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["id"].as_str().unwrap())
                .collect();
            groups.sort();
            format!("{} {groups:?} {}", p["effect"], p["resources"])
        })
        .collect();
    keys.sort();
    keys
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn a_replacement_has_the_same_access_a_fresh_expiry_and_comes_before_the_disable() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let old_before = access_of(&emu, EXPIRING);
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new = new_id(&r);
    let token = emu.token(&new).expect("the replacement exists");
    assert_eq!(access(&token), access(&emu.token(EXPIRING).unwrap()));
    assert_eq!(token["condition"], old_before["condition"]);
    assert_eq!(token["status"], "active");
    let name = token["name"].as_str().unwrap();
    assert!(
        name.starts_with("ci-deploy-workers (replaces e7e7e7e7, "),
        "{name}"
    );
    // not_before was in the past: the copy is valid from its creation (the run's --now,
    // never the machine's clock: issue 10), and expires max_lifetime_days (90) later.
    let nb = time(&token["not_before"]);
    assert_eq!(nb, now());
    assert_eq!(time(&token["expires_on"]) - nb, Duration::days(90));
    assert_eq!(
        s.delivered(&new).as_deref(),
        emu.current_secret(&new).as_deref()
    );
    assert!(s.delivered(EXPIRING).is_none());
    // The old token: disabled, nothing else changed, and only after the delivery.
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "disabled");
    assert_eq!(access_of(&emu, EXPIRING), old_before);
    let writes: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        writes,
        vec![
            format!("POST {}", tokens_path()),
            format!("PUT {}/{EXPIRING}", tokens_path())
        ]
    );
    let end = s.journal_entries().pop().unwrap();
    assert_eq!(end["new_token_id"], new);
    assert_eq!(end["after"]["status"], "disabled");
    assert_eq!(end["action"], "replace");
}

#[test]
fn the_exec_sink_learns_which_token_the_replacement_replaces() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let env = s.dir.path().join("env");
    let sink = s.exec_sink(&format!("env > {}", env.display()));
    let r = single(
        &emu,
        &s,
        "replace",
        EXPIRING,
        &["--apply", "--secret-sink", &sink, "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new = new_id(&r);
    assert_eq!(s.exec_delivered(&new), emu.current_secret(&new));
    let env = std::fs::read_to_string(env).unwrap();
    for line in [
        format!("TOKENWARDEN_TOKEN_ID={new}"),
        format!("TOKENWARDEN_REPLACES={EXPIRING}"),
        format!("TOKENWARDEN_OWNER=accounts/{ACC}"),
        "TOKENWARDEN_ACTION=replace".to_string(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing:\n{env}");
    }
}

#[test]
fn a_refused_creation_changes_nothing() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = emu.with_world(|w| w.accounts[ACC].tokens.clone());
    emu.inject(Fault::on("POST", &tokens_path(), FaultKind::Status(400)));
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    let after = emu.with_world(|w| w.accounts[ACC].tokens.clone());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (id, t) in &before {
        assert_eq!(after[id].json, t.json, "{id} untouched");
    }
    assert!(!s.secrets().join(format!("{EXPIRING}.secret")).exists());
}

#[test]
fn a_creation_whose_answer_was_lost_is_undone() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = ids(&emu);
    let old = emu.token(EXPIRING).unwrap();
    emu.inject(Fault::on("POST", &tokens_path(), FaultKind::DropAfterApply));
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("deleted again"), "{}", r.stderr);
    assert_eq!(
        ids(&emu),
        before,
        "the orphan nobody holds a secret for is gone"
    );
    assert_eq!(
        emu.token(EXPIRING).unwrap(),
        old,
        "the old token is untouched"
    );
    let deletes = emu
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1);
}

#[test]
fn a_failed_delivery_deletes_the_replacement_and_leaves_the_old_token_alone() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = ids(&emu);
    let old = emu.token(EXPIRING).unwrap();
    let r = replace(&emu, &s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    let new = new_id(&r);
    assert!(
        r.stderr
            .contains(&format!("the replacement {new} was deleted again")),
        "{}",
        r.stderr
    );
    assert!(emu.token(&new).is_none());
    assert_eq!(ids(&emu), before);
    assert_eq!(emu.token(EXPIRING).unwrap(), old);
    assert_eq!(
        emu.current_secret(EXPIRING).unwrap(),
        initial_secret(EXPIRING)
    );
    assert!(
        s.escrowed(&new).is_empty(),
        "nothing to keep: the token is gone"
    );
}

#[test]
fn when_the_replacement_cannot_be_deleted_its_secret_is_escrowed() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let old = emu.token(EXPIRING).unwrap();
    emu.inject(Fault::on("DELETE", &tokens_path(), FaultKind::Status(500)));
    let r = replace(&emu, &s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    let new = new_id(&r);
    let escrow = s.escrowed(&new);
    assert_eq!(escrow.len(), 1, "{}", r.stderr);
    assert_eq!(
        Some(&escrow[0].1),
        emu.current_secret(&new).as_ref(),
        "the working secret is kept"
    );
    assert_eq!(mode(&escrow[0].0), 0o600);
    assert!(
        r.stderr.contains("still exists") && r.stderr.contains(&escrow[0].0.display().to_string()),
        "{}",
        r.stderr
    );
    // Written ahead (issue 12): the `created` step already named the file that is kept.
    let j = s.journal_entries();
    let created = j.iter().find(|e| e["event"] == "created").unwrap();
    assert_eq!(created["new_token_id"], new);
    assert_eq!(created["escrow"], escrow[0].0.display().to_string());
    assert_eq!(j.last().unwrap()["unfinished"], true);
    assert_eq!(
        emu.token(EXPIRING).unwrap(),
        old,
        "the old token is untouched"
    );
}

#[test]
fn when_the_old_token_cannot_be_disabled_the_replacement_is_kept_and_the_run_fails() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", &tokens_path(), FaultKind::Status(403)));
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    let new = new_id(&r);
    assert!(r.stderr.contains("NOT disabled"), "{}", r.stderr);
    assert_eq!(
        s.delivered(&new),
        emu.current_secret(&new),
        "consumers have the new secret"
    );
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "active");
}

/// Issue 12: `max_lifetime_days = 0` created an already-expired replacement and disabled
/// the old token. A replacement must stay valid at least a day: anything less is refused
/// before any write (exit 2), by `remediate` and by `replace TOKEN`.
#[test]
fn a_replacement_that_would_not_outlive_its_creation_by_a_day_is_refused() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = emu.with_world(|w| w.accounts[ACC].tokens.clone());
    for days in ["0", "0.5"] {
        let policy = s.dir.path().join(format!("short-{days}.toml"));
        std::fs::write(
            &policy,
            format!("[thresholds]\nmax_lifetime_days = {days}\n"),
        )
        .unwrap();
        let policy = policy.display().to_string();
        let sink = s.file_sink();
        let runs = [
            remediate(
                &emu,
                &s,
                &[
                    "--apply",
                    "--yes",
                    "--token",
                    EXPIRING,
                    "--policy",
                    &policy,
                    "--secret-sink",
                    &sink,
                ],
            ),
            single(
                &emu,
                &s,
                "replace",
                EXPIRING,
                &["--apply", "--policy", &policy, "--secret-sink", &sink],
            ),
        ];
        for r in runs {
            assert_eq!(r.code, 2, "{days}: {}", r.stderr);
            assert!(
                r.stderr.contains("less than 1 day") && r.stderr.contains("nothing was changed"),
                "{days}: {}",
                r.stderr
            );
        }
    }
    assert_eq!(emu.write_requests(), 0);
    let after = emu.with_world(|w| w.accounts[ACC].tokens.clone());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert_eq!(after[EXPIRING].json, before[EXPIRING].json);
    assert!(
        s.journal_text().is_empty(),
        "refused before the journal was opened"
    );
}
