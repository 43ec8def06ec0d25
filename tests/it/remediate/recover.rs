//! `tokenwarden recover` (issue 12, item 11), row by row of its decision table (README, "If
//! a rotation job was killed"). Each test brings an action into its unfinished state the
//! way it happens — a failed delivery, lost answers, an API that refused a cleanup — or
//! cuts a real journal short where a kill would, then runs recover: the dry run changes
//! nothing, `--apply` ends with the token's working secret in the sink and no escrow left
//! (for a replace: exactly one active token of the pair), and a second recover finds
//! nothing to do. Crash and signal runs are in `signals.rs`.

use super::replace::{ids, new_id, replace, tokens_path};
use super::signals::{assert_one_active_pair, dry_run_changes_nothing, nothing_left, recover};
use super::*;
use tokenwarden_emulator::{Emulator, Fault, FaultKind};

fn roll_stale(emu: &Emulator, s: &Scratch, sink: &str) -> Output {
    super::roll::roll_stale(emu, s, sink, &[])
}

/// A replace whose delivery fails and whose replacement cannot be deleted again: the
/// replacement exists, its secret in escrow. Returns the replacement's id.
fn replacement_left_in_escrow(emu: &Emulator, s: &Scratch) -> String {
    emu.inject(Fault::on("DELETE", &tokens_path(), FaultKind::Status(500)));
    let r = replace(emu, s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    emu.clear_faults();
    new_id(&r)
}

fn verdict(r: &Output) -> String {
    r.json()["actions"][0]["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn nothing_to_recover_exits_0_without_touching_the_api() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 0, "{}", r.stderr);
    emu.clear_requests();
    // No credential at all: a finished journal needs no API call.
    let j = s.journal_arg();
    let r = tw().args(["recover", "--journal", &j]).code(0).run();
    assert!(r.stdout.contains("Nothing to recover"), "{}", r.stdout);
    assert!(emu.requests().is_empty());
}

/// Delivery failed, the secret was kept in escrow (`end` says unfinished): recover
/// delivers it once the sink works.
#[test]
fn an_escrowed_secret_that_still_works_is_delivered_and_the_escrow_removed() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    assert_eq!(s.escrowed(STALE).len(), 1);
    let v = dry_run_changes_nothing(&emu, &s, "would finish");
    assert!(
        v["actions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("still authenticates"),
        "{v}"
    );
    let secret = emu.current_secret(STALE).unwrap();
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "finished");
    assert_eq!(s.delivered(STALE).unwrap(), secret);
    assert_eq!(
        emu.current_secret(STALE).unwrap(),
        secret,
        "not rolled again"
    );
    assert!(s.escrowed(STALE).is_empty());
    nothing_left(&emu, &s);
}

/// Every answer to the roll was lost: nobody holds the secret. Recover rolls again (its
/// new secret escrowed first, like any roll) and delivers.
#[test]
fn a_roll_whose_secret_nobody_holds_is_rolled_again_and_delivered() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on(
        "PUT",
        "/user/tokens/*/value",
        FaultKind::DropAfterApply,
    ));
    let r = roll_stale(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("SECRET UNKNOWN"), "{}", r.stderr);
    emu.clear_faults();
    let lost = emu.current_secret(STALE).unwrap();
    let v = dry_run_changes_nothing(&emu, &s, "would finish");
    assert!(
        v["actions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("roll it again"),
        "{v}"
    );
    assert_eq!(emu.current_secret(STALE).unwrap(), lost);
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "finished");
    let now = emu.current_secret(STALE).unwrap();
    assert_ne!(now, lost, "rolled again");
    assert_eq!(s.delivered(STALE).unwrap(), now);
    assert!(s.escrowed(STALE).is_empty());
    let events: Vec<String> = s
        .journal_entries()
        .iter()
        .skip_while(|e| e["event"] != "end")
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        ["end", "rolling", "rolled", "delivered", "recovered"]
    );
    nothing_left(&emu, &s);
}

/// A journal that ends at `rolling` (killed while the roll was in flight) for a roll that
/// never reached Cloudflare: the token is as before, so the old secret still works.
#[test]
fn a_roll_cut_off_before_it_reached_cloudflare_is_closed_without_a_change() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on(
        "PUT",
        "/user/tokens/*/value",
        FaultKind::Status(403),
    ));
    let r = roll_stale(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    // Keep the journal as a kill during the roll would have left it.
    let kept: Vec<String> = s
        .journal_text()
        .lines()
        .filter(|l| !l.contains("\"event\":\"end\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(s.journal(), kept.concat()).unwrap();
    emu.clear_faults();
    let v = dry_run_changes_nothing(&emu, &s, "would close");
    assert_eq!(
        v["actions"][0]["journal_state"],
        "roll sent, no answer journaled"
    );
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "closed");
    assert!(r.json()["actions"][0]["message"]
        .as_str()
        .unwrap()
        .contains("never happened"));
    assert_eq!(emu.current_secret(STALE).unwrap(), initial_secret(STALE));
    assert_eq!(
        emu.write_requests(),
        1,
        "only the refused roll, nothing from recover"
    );
    assert!(s.delivered(STALE).is_none());
    nothing_left(&emu, &s);
}

/// The create's answer was lost and deleting the token it made failed: an orphan nobody
/// holds a secret for. Recover deletes it; the old token stays the one active token.
#[test]
fn an_orphaned_replacement_nobody_holds_a_secret_for_is_deleted() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let before = ids(&emu);
    emu.inject(Fault::on("POST", &tokens_path(), FaultKind::DropAfterApply));
    emu.inject(Fault::on("DELETE", &tokens_path(), FaultKind::Status(500)));
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    assert_eq!(ids(&emu).len(), before.len() + 1, "an orphan was left");
    emu.clear_faults();
    dry_run_changes_nothing(&emu, &s, "would undo");
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "undone");
    assert_eq!(ids(&emu), before, "the orphan is gone");
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "active");
    nothing_left(&emu, &s);
}

/// Delivery failed and the replacement could not be deleted: its secret is in escrow.
/// Recover completes the replace with it.
#[test]
fn a_replacement_whose_escrowed_secret_works_is_completed() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let new = replacement_left_in_escrow(&emu, &s);
    dry_run_changes_nothing(&emu, &s, "would finish");
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "finished");
    assert_one_active_pair(&emu, &s, EXPIRING, &new);
    nothing_left(&emu, &s);
}

/// The same, but the escrow file is gone (deleted by hand): nobody holds the
/// replacement's secret, so recover rolls the replace back.
#[test]
fn a_replacement_whose_secret_is_lost_is_deleted_and_the_old_token_kept() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let new = replacement_left_in_escrow(&emu, &s);
    for (path, _) in s.escrowed(&new) {
        std::fs::remove_file(path).unwrap();
    }
    dry_run_changes_nothing(&emu, &s, "would undo");
    let r = recover(&emu, &s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "undone");
    assert!(emu.token(&new).is_none(), "the replacement is deleted");
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "active");
    assert_eq!(
        emu.current_secret(EXPIRING).unwrap(),
        initial_secret(EXPIRING),
        "the one active token keeps the secret its consumers have"
    );
    nothing_left(&emu, &s);
}

/// The replacement was delivered but the old token could not be disabled.
#[test]
fn a_replacement_delivered_but_not_followed_by_the_disable_is_finished() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", &tokens_path(), FaultKind::Status(403)));
    let r = replace(&emu, &s, &s.file_sink());
    assert_eq!(r.code, 3);
    let new = new_id(&r);
    emu.clear_faults();
    dry_run_changes_nothing(&emu, &s, "would finish");
    let r = recover(&emu, &s, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verdict(&r), "finished");
    assert_one_active_pair(&emu, &s, EXPIRING, &new);
    nothing_left(&emu, &s);
}

/// When something cannot be finished, recover says so and exits 3; the action stays
/// unfinished for the next recover.
#[test]
fn what_cannot_be_finished_is_exit_3_and_stays_unfinished() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    let r = recover(
        &emu,
        &s,
        &["--apply", "--secret-sink", &s.exec_sink("exit 1")],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(verdict(&r), "failed");
    assert_eq!(s.escrowed(STALE).len(), 1, "the secret stays in escrow");
    let r = recover(&emu, &s, &[]);
    assert_eq!(
        r.json()["actions"].as_array().unwrap().len(),
        1,
        "still unfinished"
    );
}

/// `--apply` refuses before any change when a secret may need delivering and there is no
/// sink; a journal that is a symbolic link is refused too.
#[test]
fn recover_refuses_before_any_change() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.exec_sink("exit 1"));
    assert_eq!(r.code, 3);
    let writes = emu.write_requests();
    let r = recover(&emu, &s, &["--apply"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--secret-sink"), "{}", r.stderr);
    assert_eq!(emu.write_requests(), writes);
    assert_eq!(s.escrowed(STALE).len(), 1);

    let link = s.dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(s.journal(), &link).unwrap();
    let l = link.display().to_string();
    let r = run(&emu, &s, &["recover", "--journal", &l]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
}
