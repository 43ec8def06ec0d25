//! Safety property: no signal and no crash loses a secret (issue 12, items 9 and 10). The
//! real binary runs against the emulator with an `exec:` sink that stores what it reads,
//! leaves a marker with its pid and then waits for the test's go-ahead: a reliable hook for
//! "now it is delivering". The test signals or kills tokenwarden there, then checks the
//! emulator's current secret against the sink and the escrow, the journal, and what
//! `tokenwarden recover` makes of it. Every wait is a bounded poll.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::*;
use tokenwarden_emulator::Emulator;

const LIMIT: Duration = Duration::from_secs(20);

/// Poll `ok` every 20 ms until it holds; fail the test naming `what` after [`LIMIT`].
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait (bounded) for the process to end.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("tokenwarden did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn signal(child: &Child, sig: i32) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal, to the child this test started.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// A run of tokenwarden in the background, with the gated sink and its files.
pub struct Gated {
    pub scratch: Scratch,
    pub child: Child,
}

impl Gated {
    /// `exec:` sink: stores stdin in `exec/<token id>`, writes its pid to
    /// `marker-<token id>`, then waits (at most 20 s) for the file `go`; exit 0 only if it came.
    pub fn sink(scratch: &Scratch) -> String {
        let d = scratch.dir.path().display().to_string();
        scratch.exec_sink(&format!(
            "echo $$ > {d}/marker-\"$TOKENWARDEN_TOKEN_ID\"; i=0; while [ ! -e {d}/go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; [ -e {d}/go ]"
        ))
    }

    /// Start `tokenwarden args…` (plus `--journal`) against `emu`, stdout and stderr to files.
    pub fn start(emu: &Emulator, args: &[&str]) -> Gated {
        let scratch = Scratch::new();
        let sink = Gated::sink(&scratch);
        let journal = scratch.journal_arg();
        let stdout = File::create(scratch.dir.path().join("stdout")).unwrap();
        let stderr = File::create(scratch.dir.path().join("stderr")).unwrap();
        let child = tw()
            .emulator(emu, SCANNER_SECRET)
            .args(args)
            .args(["--journal", &journal, "--secret-sink", &sink])
            .spawn(stdout, stderr);
        Gated { scratch, child }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.scratch.dir.path().join(name)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.path("stdout")).unwrap_or_default()
    }

    /// Wait until the sink holds the secret of `token_id` and waits for the go-ahead.
    pub fn delivering(&self, token_id: &str) {
        let marker = self.path(&format!("marker-{token_id}"));
        wait_until(&format!("the sink to be delivering {token_id}"), || {
            std::fs::read_to_string(&marker).is_ok_and(|t| t.ends_with('\n'))
        });
    }

    /// Any marker at all (the id of a replacement is not known in advance).
    pub fn delivering_any(&self) -> String {
        let mut found = String::new();
        wait_until("the sink to be delivering", || {
            let markers: Vec<String> = std::fs::read_dir(self.scratch.dir.path())
                .unwrap()
                .filter_map(|e| {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    name.strip_prefix("marker-").map(str::to_string)
                })
                .collect();
            match markers.first() {
                Some(id)
                    if std::fs::read_to_string(self.path(&format!("marker-{id}")))
                        .is_ok_and(|t| t.ends_with('\n')) =>
                {
                    found = id.clone();
                    true
                }
                _ => false,
            }
        });
        found
    }

    /// Wait until the sink delivers `token_id`'s secret, send SIGTERM, and wait until
    /// tokenwarden acknowledges it.
    pub fn terminated_while_delivering(&self, token_id: &str) {
        self.delivering(token_id);
        signal(&self.child, libc::SIGTERM);
        self.acknowledged("received SIGTERM");
    }

    pub fn go(&self) {
        std::fs::write(self.path("go"), "").unwrap();
    }

    /// Wait until tokenwarden says it received a signal.
    pub fn acknowledged(&self, what: &str) {
        wait_until(&format!("tokenwarden to say {what:?}"), || {
            self.stderr().contains(what)
        });
    }

    /// Kill the sink's process group (it outlives a killed tokenwarden).
    pub fn kill_sinks(&self) {
        for e in std::fs::read_dir(self.scratch.dir.path()).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with("marker-") {
                let pid: libc::pid_t = std::fs::read_to_string(self.path(&name))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                // SAFETY: kill(2) only sends a signal, to the sink's own process group
                // (tokenwarden starts each sink as a group leader).
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }

    pub fn events(&self) -> Vec<(String, String)> {
        self.scratch
            .journal_entries()
            .iter()
            .map(|e| {
                (
                    e["token_id"].as_str().unwrap_or("-").to_string(),
                    e["event"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.kill_sinks();
    }
}

/// `recover --journal <the run's journal> --format json` plus `args`.
pub fn recover(emu: &Emulator, s: &Scratch, args: &[&str]) -> Output {
    let j = s.journal_arg();
    let mut all = vec!["recover", "--journal", &j, "--format", "json"];
    all.extend_from_slice(args);
    run(emu, s, &all)
}

/// A dry run says what it would do per action, exits 0 and changes nothing.
pub fn dry_run_changes_nothing(emu: &Emulator, s: &Scratch, verdict: &str) -> serde_json::Value {
    let writes = emu.write_requests();
    let journal = s.journal_text();
    let r = recover(emu, s, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["actions"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["actions"][0]["verdict"], verdict, "{v}");
    assert_eq!(emu.write_requests(), writes, "a dry run writes nothing");
    assert_eq!(s.journal_text(), journal, "nor the journal");
    v
}

/// After `recover --apply`, a second recover finds nothing left.
pub fn nothing_left(emu: &Emulator, s: &Scratch) {
    let r = recover(emu, s, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["actions"], serde_json::json!([]), "{}", r.stdout);
}

fn ev(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `remediate --apply` rolling STALE and then ADMIN (their stale secrets).
fn roll_two(emu: &Emulator) -> Gated {
    Gated::start(
        emu,
        &[
            "remediate",
            "--apply",
            "--yes",
            "--rule",
            "token-secret-stale",
            "--format",
            "json",
        ],
    )
}

/// `replace EXPIRING --apply`.
fn replace_expiring(emu: &Emulator) -> Gated {
    Gated::start(
        emu,
        &[
            "replace",
            EXPIRING,
            "--account",
            ACC,
            "--apply",
            "--format",
            "json",
        ],
    )
}

/// SIGTERM while the first of two rolls is delivering: the delivery finishes, the journal
/// says `interrupted`, the second roll never starts, exit 3.
#[test]
fn sigterm_during_delivery_finishes_it_starts_nothing_else_and_exits_3() {
    let emu = Emulator::start(world());
    let mut run = roll_two(&emu);
    run.terminated_while_delivering(STALE);
    run.go();
    let status = wait_exit(&mut run.child, LIMIT);
    let (out, err) = (run.stdout(), run.stderr());
    assert_eq!(status.code(), Some(3), "{err}");
    let current = emu.current_secret(STALE).unwrap();
    assert_ne!(current, initial_secret(STALE), "rolled");
    assert_eq!(
        run.scratch.exec_delivered(STALE).as_deref(),
        Some(current.as_str())
    );
    assert!(
        run.scratch.escrowed(STALE).is_empty(),
        "delivered, so no escrow"
    );
    assert_eq!(
        emu.current_secret(ADMIN).unwrap(),
        initial_secret(ADMIN),
        "the second roll never started"
    );
    assert_eq!(
        run.events(),
        ev(&[
            (STALE, "start"),
            (STALE, "rolling"),
            (STALE, "rolled"),
            (STALE, "delivered"),
            (STALE, "end"),
            ("-", "interrupted"),
        ])
    );
    let j = run.scratch.journal_entries();
    assert_eq!(j[5]["not_started"], serde_json::json!([ADMIN]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["actions"][0]["status"], "succeeded");
    assert_eq!(v["actions"][1]["status"], "deferred");
    assert!(err.contains("1 of 2 action(s) not started"), "{err}");
    assert_no_secret(&emu, &[&out, &err, &run.scratch.journal_text()]);
}

/// A second signal exits at once, delivery or not: the escrow already holds the secret.
#[test]
fn a_second_signal_exits_at_once_with_the_secret_in_escrow() {
    let emu = Emulator::start(world());
    let mut run = roll_two(&emu);
    run.terminated_while_delivering(STALE);
    let started = Instant::now();
    signal(&run.child, libc::SIGINT);
    let status = wait_exit(&mut run.child, Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = run.stderr();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("received SIGINT again: exiting at once"),
        "{err}"
    );
    let escrow = run.scratch.escrowed(STALE);
    assert_eq!(escrow.len(), 1);
    assert_eq!(escrow[0].1, emu.current_secret(STALE).unwrap());
    assert_eq!(mode(&escrow[0].0), 0o600);
    assert_eq!(
        run.events(),
        ev(&[(STALE, "start"), (STALE, "rolling"), (STALE, "rolled")])
    );
    assert_eq!(emu.current_secret(ADMIN).unwrap(), initial_secret(ADMIN));
    assert_no_secret(&emu, &[&err, &run.scratch.journal_text()]);

    run.kill_sinks();
    let s = &run.scratch;
    dry_run_changes_nothing(&emu, s, "would finish");
    let r = recover(&emu, s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.delivered(STALE), emu.current_secret(STALE));
    assert!(
        s.escrowed(STALE).is_empty(),
        "escrow removed once delivered"
    );
    nothing_left(&emu, s);
}

/// kill -9 between the roll and the end of delivery: the secret that works now is on disk.
#[test]
fn kill_9_after_the_roll_before_delivery_leaves_the_working_secret_in_escrow() {
    let emu = Emulator::start(world());
    let mut run = roll_two(&emu);
    run.delivering(STALE);
    signal(&run.child, libc::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    let escrow = run.scratch.escrowed(STALE);
    assert_eq!(escrow.len(), 1);
    assert_eq!(escrow[0].1, emu.current_secret(STALE).unwrap());
    assert_eq!(
        run.events(),
        ev(&[(STALE, "start"), (STALE, "rolling"), (STALE, "rolled")])
    );
    assert_eq!(
        run.scratch.journal_entries()[2]["escrow"],
        escrow[0].0.display().to_string()
    );

    // Recover: the escrowed secret still authenticates, so it is delivered as it is.
    run.kill_sinks();
    let s = &run.scratch;
    let secret = escrow[0].1.clone();
    let v = dry_run_changes_nothing(&emu, s, "would finish");
    assert_eq!(v["actions"][0]["token_id"], STALE);
    assert_eq!(
        v["actions"][0]["journal_state"],
        "rolled, secret escrowed, not delivered"
    );
    assert!(s.delivered(STALE).is_none());
    assert_eq!(s.escrowed(STALE).len(), 1, "kept by the dry run");
    emu.clear_requests();
    let r = recover(&emu, s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["actions"][0]["verdict"], "finished", "{v}");
    assert_eq!(
        emu.current_secret(STALE).unwrap(),
        secret,
        "not rolled again"
    );
    assert_eq!(s.delivered(STALE).unwrap(), secret);
    assert!(s.escrowed(STALE).is_empty());
    // Verified at the user-token verify endpoint, as the token itself; nothing written.
    let verified: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/verify"))
        .collect();
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert_eq!(verified[0].path, "/user/tokens/verify");
    assert_eq!(
        verified[0].auth,
        tokenwarden_emulator::AuthKind::Bearer {
            token_id: Some(STALE.to_string())
        }
    );
    assert_eq!(emu.write_requests(), 0);
    let events: Vec<String> = run.events().into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        ["start", "rolling", "rolled", "delivered", "recovered"]
    );
    let j = s.journal_entries();
    assert_eq!(j[3]["recovers"], j[0]["run"]);
    assert_eq!(j[4]["outcome"], "finished");
    nothing_left(&emu, s);
}

/// kill -9 while a replace delivers: the replacement exists, the old token is still
/// active, and the replacement's secret is in escrow.
#[test]
fn kill_9_after_a_replace_created_its_token_leaves_its_secret_in_escrow() {
    let emu = Emulator::start(world());
    let mut run = replace_expiring(&emu);
    let new = run.delivering_any();
    signal(&run.child, libc::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    assert_eq!(emu.token(&new).unwrap()["status"], "active");
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "active");
    let escrow = run.scratch.escrowed(&new);
    assert_eq!(escrow.len(), 1);
    assert_eq!(Some(&escrow[0].1), emu.current_secret(&new).as_ref());
    assert_eq!(
        run.events(),
        ev(&[
            (EXPIRING, "start"),
            (EXPIRING, "creating"),
            (EXPIRING, "created"),
        ])
    );
    assert_eq!(run.scratch.journal_entries()[2]["new_token_id"], new);

    // Recover completes it: the new secret to the sink, the old token disabled.
    run.kill_sinks();
    let s = &run.scratch;
    dry_run_changes_nothing(&emu, s, "would finish");
    assert_eq!(emu.token(EXPIRING).unwrap()["status"], "active");
    emu.clear_requests();
    let r = recover(&emu, s, &["--apply", "--secret-sink", &s.file_sink()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["actions"][0]["verdict"], "finished");
    assert_one_active_pair(&emu, s, EXPIRING, &new);
    let verify = emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/verify"))
        .unwrap();
    assert_eq!(verify.path, format!("/accounts/{ACC}/tokens/verify"));
    assert_eq!(
        verify.auth,
        tokenwarden_emulator::AuthKind::Bearer {
            token_id: Some(new.clone())
        }
    );
    nothing_left(&emu, s);
}

/// The end state of a replace pair: exactly one token active — the replacement — whose
/// secret is the one in the sink, and no escrow left.
pub fn assert_one_active_pair(emu: &Emulator, s: &Scratch, old: &str, new: &str) {
    assert_eq!(emu.token(old).unwrap()["status"], "disabled");
    assert_eq!(emu.token(new).unwrap()["status"], "active");
    assert_eq!(
        s.delivered(new).or_else(|| s.exec_delivered(new)),
        emu.current_secret(new),
        "the active token's secret is in the sink"
    );
    assert!(s.escrowed(new).is_empty(), "no escrow left");
}

/// SIGTERM while a replace delivers: the delivery finishes, the old token is not disabled
/// (no further change starts), and the end entry leaves that to recover.
#[test]
fn sigterm_during_a_replace_delivers_and_leaves_the_disable_to_recover() {
    let emu = Emulator::start(world());
    let mut run = replace_expiring(&emu);
    let new = run.delivering_any();
    signal(&run.child, libc::SIGTERM);
    run.acknowledged("received SIGTERM");
    run.go();
    let status = wait_exit(&mut run.child, LIMIT);
    let err = run.stderr();
    assert_eq!(status.code(), Some(3), "{err}");
    assert_eq!(run.scratch.exec_delivered(&new), emu.current_secret(&new));
    assert_eq!(
        emu.token(EXPIRING).unwrap()["status"],
        "active",
        "not disabled"
    );
    assert!(
        run.scratch.escrowed(&new).is_empty(),
        "delivered, so no escrow"
    );
    assert_eq!(
        run.events(),
        ev(&[
            (EXPIRING, "start"),
            (EXPIRING, "creating"),
            (EXPIRING, "created"),
            (EXPIRING, "delivered"),
            (EXPIRING, "end"),
            ("-", "interrupted"),
        ])
    );
    let end = &run.scratch.journal_entries()[4];
    assert_eq!(end["unfinished"], true);
    assert!(
        end["message"].as_str().unwrap().contains("recover"),
        "{end}"
    );
    let writes: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| r.method)
        .collect();
    assert_eq!(writes, ["POST"], "created, and nothing after the signal");

    // Recover disables the old token; no sink needed, the secret was delivered.
    let s = &run.scratch;
    dry_run_changes_nothing(&emu, s, "would finish");
    let r = recover(&emu, s, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_one_active_pair(&emu, s, EXPIRING, &new);
    nothing_left(&emu, s);
}
