//! Safety property: a roll never loses the secret. After every path — delivered, delivery
//! failed or timed out, the roll's answer lost in each way the emulator can lose it — the
//! secret that currently authenticates as the token is in the sink or in the escrow file;
//! where it is neither, nothing changed or the run says loudly that nobody holds it.

use std::time::{Duration, Instant};

use super::*;
use tokenwarden_emulator::{Emulator, Fault, FaultKind};

const ROLL: &str = "/user/tokens/*/value";

fn rolls(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/value"))
        .count()
}

fn current(emu: &Emulator) -> String {
    emu.current_secret(STALE).unwrap()
}

pub(super) fn roll_stale(emu: &Emulator, s: &Scratch, sink: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--apply",
        "--yes",
        "--token",
        STALE,
        "--format",
        "json",
        "--secret-sink",
        sink,
    ];
    args.extend_from_slice(extra);
    remediate(emu, s, &args)
}

/// The current secret is in exactly one escrow file, 0600, beside the journal, named in
/// the report, the journal and stderr.
fn assert_escrowed(emu: &Emulator, s: &Scratch, r: &Output) {
    let escrow = s.escrowed(STALE);
    assert_eq!(escrow.len(), 1, "{escrow:?}");
    let (path, text) = &escrow[0];
    assert_eq!(
        text,
        &current(emu),
        "the escrow holds the secret that works now"
    );
    assert_eq!(mode(path), 0o600);
    let shown = path.display().to_string();
    assert_eq!(r.json()["actions"][0]["escrow"], shown);
    assert!(
        r.stderr.contains(&shown) && r.stderr.contains("ROLLED BUT NOT DELIVERED"),
        "{}",
        r.stderr
    );
    assert_eq!(s.journal_entries().last().unwrap()["escrow"], shown);
    // Write-ahead (issue 12): the escrow was written as the roll answered, before delivery
    // was tried, and it is that same file that is kept; the end leaves work for recover.
    let j = s.journal_entries();
    let events: Vec<&str> = j.iter().map(|e| e["event"].as_str().unwrap()).collect();
    let rolled = events.iter().rposition(|e| *e == "rolled").unwrap();
    assert_eq!(j[rolled]["escrow"], shown, "{events:?}");
    assert_eq!(events[rolled + 1..], ["end"], "never delivered: {events:?}");
    assert_eq!(j.last().unwrap()["unfinished"], true);
}

#[test]
fn a_roll_delivers_the_new_secret_to_a_private_file() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.file_sink(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(current(&emu), initial_secret(STALE), "rolled");
    assert_eq!(s.delivered(STALE).as_deref(), Some(current(&emu).as_str()));
    assert_eq!(mode(&s.secrets()), 0o700);
    assert_eq!(mode(&s.secrets().join(format!("{STALE}.secret"))), 0o600);
    let a = &r.json()["actions"][0];
    assert_eq!(a["status"], "succeeded");
    assert_eq!(
        a["delivered_to"],
        s.secrets()
            .join(format!("{STALE}.secret"))
            .display()
            .to_string()
    );
    assert_eq!(rolls(&emu), 1);
    // Each step journaled as it happened (issue 12): the roll about to be sent, the secret
    // escrowed, delivered; then the end. The escrow is gone once delivery is confirmed.
    let j = s.journal_entries();
    let events: Vec<&str> = j.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["start", "rolling", "rolled", "delivered", "end"]);
    let end = &j[4];
    assert_eq!(end["rules"], serde_json::json!(["token-secret-stale"]));
    assert_ne!(end["after"]["modified_on"], end["before"]["modified_on"]);
    assert_eq!(end["unfinished"], false);
    let escrow = j[2]["escrow"].as_str().expect("escrowed before delivery");
    assert!(
        escrow.contains(&format!("tokenwarden-escrow-{STALE}-")),
        "{escrow}"
    );
    assert!(!Path::new(escrow).exists(), "removed once delivered");
    assert_eq!(j[3]["delivered_to"], a["delivered_to"]);
    assert_eq!(j[3]["secret_of"], STALE);
    assert!(s.escrowed(STALE).is_empty());
}

#[test]
fn an_exec_sink_gets_the_secret_on_stdin_and_the_token_in_its_environment() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let env = s.dir.path().join("env");
    let sink = s.exec_sink(&format!("env > {}", env.display()));
    let r = single(
        &emu,
        &s,
        "roll",
        STALE,
        &["--apply", "--secret-sink", &sink],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.exec_delivered(STALE).as_deref(),
        Some(current(&emu).as_str())
    );
    let env = std::fs::read_to_string(env).unwrap();
    for line in [
        format!("TOKENWARDEN_TOKEN_ID={STALE}"),
        "TOKENWARDEN_TOKEN_NAME=grafana-dns-read".to_string(),
        "TOKENWARDEN_OWNER=user".to_string(),
        "TOKENWARDEN_ACTION=roll".to_string(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing:\n{env}");
    }
    assert_no_secret(&emu, &[&env]);
    assert!(
        !env.contains(SCANNER_SECRET),
        "tokenwarden's own credential is not passed on"
    );
}

#[test]
fn a_failed_delivery_escrows_the_new_secret_and_exits_3() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = roll_stale(&emu, &s, &s.exec_sink("exit 1"), &[]);
    assert_eq!(r.code, 3);
    assert_eq!(r.json()["actions"][0]["status"], "failed");
    assert_escrowed(&emu, &s, &r);
}

#[test]
fn a_sink_that_hangs_is_killed_and_the_secret_escrowed() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let started = Instant::now();
    let r = roll_stale(&emu, &s, &s.exec_sink("sleep 30"), &["--sink-timeout", "1"]);
    assert_eq!(r.code, 3);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.stderr.contains("did not finish within 1 s"),
        "{}",
        r.stderr
    );
    assert_escrowed(&emu, &s, &r);
}

/// The first roll's answer is lost in the way `kind` loses it; the second answers.
fn lost_answer(kind: FaultKind, tune: impl FnOnce(&mut tokenwarden_emulator::World)) {
    let mut w = world();
    tune(&mut w);
    let emu = Emulator::start(w);
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", ROLL, kind.clone()).nth(1));
    let r = roll_stale(&emu, &s, &s.file_sink(), &[]);
    assert_eq!(r.code, 0, "{kind:?}: {}", r.stderr);
    assert_eq!(rolls(&emu), 2, "{kind:?}: rolled again");
    assert_eq!(
        s.delivered(STALE).as_deref(),
        Some(current(&emu).as_str()),
        "{kind:?}: the last secret, the one that works, was delivered"
    );
    let msg = r.json()["actions"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("answer was lost"), "{kind:?}: {msg}");
}

#[test]
fn a_roll_whose_connection_dropped_after_it_acted_is_rolled_again() {
    lost_answer(FaultKind::DropAfterApply, |_| {});
}

#[test]
fn a_roll_answered_with_a_5xx_after_it_acted_is_rolled_again() {
    lost_answer(FaultKind::StatusAfterApply(502), |_| {});
}

#[test]
fn a_roll_answered_with_a_5xx_before_it_acted_is_rolled_again() {
    lost_answer(FaultKind::Status(500), |_| {});
}

#[test]
fn a_roll_whose_answer_was_cut_off_is_rolled_again() {
    lost_answer(FaultKind::Truncated, |_| {});
}

#[test]
fn a_roll_that_timed_out_is_rolled_again() {
    lost_answer(FaultKind::Hang, |w| {
        w.hang_limit = Duration::from_millis(500)
    });
}

#[test]
fn a_lost_answer_and_a_failed_delivery_escrow_the_last_secret() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", ROLL, FaultKind::DropAfterApply).nth(1));
    let r = roll_stale(&emu, &s, &s.exec_sink("exit 3"), &[]);
    assert_eq!(r.code, 3);
    assert_eq!(rolls(&emu), 2);
    assert_escrowed(&emu, &s, &r);
}

#[test]
fn when_every_answer_is_lost_the_run_says_nobody_holds_the_secret() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", ROLL, FaultKind::DropAfterApply));
    let r = roll_stale(&emu, &s, &s.file_sink(), &[]);
    assert_eq!(r.code, 3);
    assert_eq!(rolls(&emu), 3, "bounded: never rolled blindly forever");
    assert!(
        r.stderr.contains("SECRET UNKNOWN") && r.stderr.contains("roll it again"),
        "{}",
        r.stderr
    );
    assert!(s.delivered(STALE).is_none(), "no stale secret delivered");
    assert!(s.escrowed(STALE).is_empty());
}

#[test]
fn a_refused_roll_changes_nothing() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    emu.inject(Fault::on("PUT", ROLL, FaultKind::Status(403)));
    let r = roll_stale(&emu, &s, &s.file_sink(), &[]);
    assert_eq!(r.code, 3);
    assert_eq!(rolls(&emu), 1, "a refusal is not retried");
    assert_eq!(
        current(&emu),
        initial_secret(STALE),
        "the old secret still works"
    );
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(s.delivered(STALE).is_none());
}

#[test]
fn the_stdout_sink_prints_only_secrets_on_stdout() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    // Not through `run`: stdout is meant to hold the secret here.
    let out = tw()
        .emulator(&emu, SCANNER_SECRET)
        .args([
            "roll",
            STALE,
            "--apply",
            "--secret-sink",
            "stdout",
            "--journal",
        ])
        .arg(s.journal())
        .code(0)
        .run();
    assert_eq!(out.stdout, format!("{STALE} {}\n", current(&emu)));
    let err = out.stderr;
    assert!(
        err.contains("succeeded") && err.contains("stdout"),
        "the report goes to stderr: {err}"
    );
    assert_no_secret(&emu, &[&err, &s.journal_text()]);
}

/// Issue 12: `--sink-timeout 18446744073709551615` was accepted, and the deadline
/// arithmetic panicked after the roll, with the new secret in nobody's hands. clap now
/// keeps the flag within 1..=3600 before anything is done.
#[test]
fn a_sink_timeout_out_of_range_is_refused_before_anything_is_done() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    for bad in ["18446744073709551615", "3601", "0"] {
        let r = roll_stale(&emu, &s, &s.exec_sink("exit 0"), &["--sink-timeout", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--sink-timeout"), "{bad}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    assert!(emu.requests().is_empty(), "not even a read");
    assert_eq!(current(&emu), initial_secret(STALE));
    assert!(s.journal_text().is_empty());
}
