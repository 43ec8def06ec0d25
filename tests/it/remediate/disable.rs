//! Safety property: disable and enable never weaken a token. PUT is a full replacement at
//! Cloudflare (the emulator clears omitted optional fields), so these tests use a token with
//! a condition (allow and deny lists), a not_before, an expiry and an allow and a deny
//! policy, and check that all of it survives — also under lost answers, refusals, and
//! changes made by someone else just before or during the action.

use serde_json::json;

use super::*;
use tokenwarden_emulator::{Emulator, Fault, FaultKind, WorldEdit};

fn token_path(id: &str) -> String {
    format!("/accounts/{ACC}/tokens/{id}")
}

fn writes(emu: &Emulator) -> Vec<(String, String)> {
    emu.requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| (r.method, r.path))
        .collect()
}

#[test]
fn disable_then_enable_change_the_status_and_nothing_else() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = access_of(&emu, UNUSED);
    assert!(
        before["condition"]["request_ip"]["not_in"].is_array(),
        "the test token has a full condition"
    );
    assert!(before["not_before"].is_string() && before["expires_on"].is_string());

    let r = single(
        &emu,
        &s,
        "disable",
        UNUSED,
        &["--apply", "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["actions"][0]["status"], "succeeded");
    assert!(v["actions"][0]["message"]
        .as_str()
        .unwrap()
        .contains("verified"));
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "disabled");
    assert_eq!(
        access_of(&emu, UNUSED),
        before,
        "condition, times, policies: all kept"
    );
    assert_eq!(writes(&emu), vec![("PUT".to_string(), token_path(UNUSED))]);

    let r = single(&emu, &s, "enable", UNUSED, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "active");
    assert_eq!(
        access_of(&emu, UNUSED),
        before,
        "enable undoes the disable exactly"
    );

    let j = s.journal_entries();
    let events: Vec<(&str, &str)> = j
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("start", "disable"),
            ("end", "disable"),
            ("start", "enable"),
            ("end", "enable")
        ]
    );
    assert_eq!(j[1]["before"]["status"], "active");
    assert_eq!(j[1]["after"]["status"], "disabled");
    assert_eq!(j[1]["before"]["condition"], before["condition"]);
    assert_eq!(j[1]["outcome"], "succeeded");
    assert_eq!(j[1]["token_id"], UNUSED);
    assert_eq!(j[1]["token_name"], "old-dns-updater");
    assert_eq!(j[1]["owner"]["id"], ACC);
    assert!(j[0]["time"].is_string() && j[0]["run"].is_string());
    assert_eq!(j[3]["after"]["status"], "active");
}

#[test]
fn remediate_disables_through_the_same_protocol() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = access_of(&emu, UNUSED);
    let r = remediate(&emu, &s, &["--apply", "--yes", "--token", UNUSED]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("succeeded"), "{}", r.stdout);
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "disabled");
    assert_eq!(access_of(&emu, UNUSED), before);
    let j = s.journal_entries();
    assert_eq!(j.len(), 2);
    assert_eq!(j[0]["rules"], json!(["token-unused"]));
}

#[test]
fn a_token_modified_since_the_scan_is_skipped_and_reported() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    // Someone else edits the token between the scan's list and the fresh GET.
    let edit = WorldEdit::new(|w| {
        if let Some(t) = w.token_mut(UNUSED) {
            t.json["modified_on"] = json!("2026-11-22T09:59:00Z");
            t.json["name"] = json!("renamed meanwhile");
        }
    });
    emu.inject(
        Fault::on("GET", &token_path(UNUSED), FaultKind::EditBefore(edit))
            .exact()
            .nth(1),
    );
    let r = remediate(
        &emu,
        &s,
        &["--apply", "--yes", "--token", UNUSED, "--format", "json"],
    );
    assert_eq!(r.code, 3, "not done: the run must not look clean");
    let a = &r.json()["actions"][0];
    assert_eq!(a["status"], "skipped");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("changed since the scan"),
        "{a}"
    );
    assert!(writes(&emu).is_empty(), "no PUT on a token that changed");
    assert_eq!(emu.token(UNUSED).unwrap()["status"], "active");
    assert!(r.stderr.contains("skipped"), "{}", r.stderr);
}

#[test]
fn a_change_beyond_the_status_is_reported_loudly() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    // Between the PUT and the verifying GET the IP restriction disappears.
    let edit = WorldEdit::new(|w| {
        if let Some(t) = w.token_mut(UNUSED) {
            t.json.as_object_mut().unwrap().remove("condition");
        }
    });
    // remediate reads the token twice: fresh before the PUT (1st), to verify after it (2nd).
    emu.inject(
        Fault::on("GET", &token_path(UNUSED), FaultKind::EditBefore(edit))
            .exact()
            .nth(2),
    );
    let r = remediate(&emu, &s, &["--apply", "--yes", "--token", UNUSED]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("CHANGED BEYOND ITS STATUS") && r.stderr.contains("condition"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("failed"), "{}", r.stdout);
    let end = s.journal_entries().pop().unwrap();
    assert_eq!(end["outcome"], "failed");
    assert!(
        end["before"]["condition"].is_object(),
        "the journal keeps the state to restore"
    );
    assert!(end["after"].get("condition").is_none());
}

#[test]
fn a_lost_put_answer_is_settled_by_reading_back_never_by_sending_it_again() {
    for kind in [FaultKind::DropAfterApply, FaultKind::StatusAfterApply(502)] {
        let emu = Emulator::start(world());
        let s = Scratch::new();
        let before = access_of(&emu, UNUSED);
        emu.inject(Fault::on("PUT", &token_path(UNUSED), kind.clone()));
        let r = single(
            &emu,
            &s,
            "disable",
            UNUSED,
            &["--apply", "--format", "json"],
        );
        assert_eq!(r.code, 0, "{kind:?}: {}", r.stderr);
        let msg = r.json()["actions"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.contains("answer to the PUT was lost"), "{msg}");
        assert_eq!(writes(&emu).len(), 1, "{kind:?}: one PUT");
        assert_eq!(emu.token(UNUSED).unwrap()["status"], "disabled");
        assert_eq!(access_of(&emu, UNUSED), before);
    }
}

#[test]
fn a_put_that_was_lost_and_not_applied_fails_without_changing_anything() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = emu.token(UNUSED).unwrap();
    emu.inject(Fault::on(
        "PUT",
        &token_path(UNUSED),
        FaultKind::Status(503),
    ));
    let r = single(&emu, &s, "disable", UNUSED, &["--apply"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("still \"active\""), "{}", r.stderr);
    assert_eq!(emu.token(UNUSED).unwrap(), before);
}

#[test]
fn a_refused_put_changes_nothing() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = emu.token(UNUSED).unwrap();
    emu.inject(Fault::on(
        "PUT",
        &token_path(UNUSED),
        FaultKind::Status(403),
    ));
    let r = single(&emu, &s, "disable", UNUSED, &["--apply"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("refused") && r.stderr.contains("nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(emu.token(UNUSED).unwrap(), before);
}

#[test]
fn enable_after_a_remediate_disable_restores_access_of_the_live_token() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = access_of(&emu, ADMIN);
    let r = remediate(&emu, &s, &["--apply", "--yes", "--token", ADMIN]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.token(ADMIN).unwrap()["status"], "disabled");
    let r = single(&emu, &s, "enable", ADMIN, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.token(ADMIN).unwrap()["status"], "active");
    assert_eq!(access_of(&emu, ADMIN), before);
}
