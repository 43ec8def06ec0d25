//! Safety property: a secret is handed out only where it can be kept (issue 12, item 12).
//! Delivery counts only when the write and flush succeeded; the pre-flight proves, before
//! the roll, that the sink and the escrow can take a secret, and refuses symbolic links and
//! directories others may write to. Every refusal is exit 2 with nothing changed.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use super::*;
use tokenwarden_emulator::Emulator;

fn roll_args<'a>(journal: &'a str, sink: &'a str) -> Vec<&'a str> {
    vec![
        "roll",
        STALE,
        "--apply",
        "--format",
        "json",
        "--journal",
        journal,
        "--secret-sink",
        sink,
    ]
}

/// The run was refused before anything changed at Cloudflare.
fn assert_refused(emu: &Emulator, r: &Output, says: &str) {
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(says), "{says:?} not in: {}", r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert_eq!(emu.write_requests(), 0, "nothing was written at Cloudflare");
    assert_eq!(
        emu.current_secret(STALE).unwrap(),
        initial_secret(STALE),
        "the old secret still works"
    );
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 12: Rust points a stdout closed at start (`>&-`) at /dev/null, where every write
/// "succeeds"; the roll reported success and the secret went nowhere. Now the pre-flight
/// sees it and refuses before the roll.
#[test]
fn a_closed_stdout_is_refused_before_the_roll() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let j = s.journal_arg();
    for closed in [true, false] {
        let tw = tw()
            .emulator(&emu, SCANNER_SECRET)
            .args(roll_args(&j, "stdout"));
        let r = if closed {
            tw.closed_stdout().run()
        } else {
            tw.stdout(
                std::fs::File::options()
                    .write(true)
                    .open("/dev/null")
                    .unwrap(),
            )
            .run()
        };
        assert_refused(&emu, &r, "stdout is closed or /dev/null");
    }
}

/// A stdout that fails at the write (a full device, a reader that went away) is no
/// delivery: the secret stays in the escrow written before delivery, and the run exits 3.
#[test]
fn a_stdout_that_cannot_take_the_write_leaves_the_secret_in_escrow_and_exits_3() {
    let full = || {
        std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let gone = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    for (what, out) in [
        ("/dev/full", std::process::Stdio::from(full())),
        ("a pipe nobody reads", std::process::Stdio::from(gone())),
    ] {
        let emu = Emulator::start(world());
        let s = Scratch::new();
        let j = s.journal_arg();
        let r = tw()
            .emulator(&emu, SCANNER_SECRET)
            .args(roll_args(&j, "stdout"))
            .stdout(out)
            .run();
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        let current = emu.current_secret(STALE).unwrap();
        assert_ne!(current, initial_secret(STALE), "{what}: rolled");
        let escrow = s.escrowed(STALE);
        assert_eq!(escrow.len(), 1, "{what}: {escrow:?}");
        assert_eq!(
            escrow[0].1, current,
            "{what}: the escrow holds the working secret"
        );
        assert!(
            r.stderr.contains("ROLLED BUT NOT DELIVERED")
                && r.stderr.contains(&escrow[0].0.display().to_string()),
            "{what}: {}",
            r.stderr
        );
        let events: Vec<String> = s
            .journal_entries()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            events,
            ["start", "rolling", "rolled", "end"],
            "{what}: no delivery"
        );
        assert_no_secret(&emu, &[&r.stderr, &s.journal_text()]);
    }
}

#[test]
fn a_file_sink_directory_others_may_write_to_is_refused() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let j = s.journal_arg();
    for mode in [0o770, 0o707, 0o1777] {
        let dir = s.dir.path().join(format!("shared-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, mode);
        let sink = format!("file:{}", dir.display());
        let r = run(&emu, &s, &roll_args(&j, &sink));
        assert_refused(&emu, &r, "writable by group or others");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no probe left");
    }
}

#[test]
fn symbolic_links_where_the_sink_journal_or_escrow_would_write_are_refused() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let real = s.dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let elsewhere = s.dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "").unwrap();

    // The sink directory is a link.
    let linked_dir = s.dir.path().join("linked-sink");
    symlink(&real, &linked_dir).unwrap();
    let sink = format!("file:{}", linked_dir.display());
    let r = run(&emu, &s, &roll_args(&s.journal_arg(), &sink));
    assert_refused(&emu, &r, "symbolic link");

    // The file a roll's secret would replace is a link.
    let target = real.join(format!("{STALE}.secret"));
    symlink(&elsewhere, &target).unwrap();
    let sink = format!("file:{}", real.display());
    let r = run(&emu, &s, &roll_args(&s.journal_arg(), &sink));
    assert_refused(&emu, &r, "symbolic link");
    std::fs::remove_file(&target).unwrap();

    // The journal is a link.
    let journal = s.dir.path().join("linked-journal.jsonl");
    symlink(&elsewhere, &journal).unwrap();
    let j = journal.display().to_string();
    let r = run(&emu, &s, &roll_args(&j, &s.file_sink()));
    assert_refused(&emu, &r, "symbolic link");
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "",
        "not written through"
    );

    // The journal's directory, where escrow files go, is a link.
    let linked_escrow = s.dir.path().join("linked-escrow");
    symlink(&real, &linked_escrow).unwrap();
    let j = linked_escrow.join("journal.jsonl").display().to_string();
    let r = run(&emu, &s, &roll_args(&j, &s.file_sink()));
    assert_refused(&emu, &r, "symbolic link");
    assert!(!real.join("journal.jsonl").exists());
}

#[test]
fn an_escrow_directory_others_may_write_to_is_refused() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let shared = s.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o775);
    let j = shared.join("journal.jsonl").display().to_string();
    let r = run(&emu, &s, &roll_args(&j, &s.file_sink()));
    assert_refused(&emu, &r, "writable by group or others");
}

/// A sink or escrow directory that cannot take a file is caught before the roll. A path
/// under /proc fails for root too; a read-only directory only when not root (root
/// writes there anyway), so that sub-case says it is skipped.
#[test]
fn a_sink_or_escrow_that_cannot_take_a_file_is_refused_before_the_roll() {
    let emu = Emulator::start(world());
    let s = Scratch::new();
    let r = run(
        &emu,
        &s,
        &roll_args(&s.journal_arg(), "file:/proc/self/tokenwarden-secrets"),
    );
    assert_refused(&emu, &r, "secret sink");

    let ro = s.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o500);
    if std::fs::write(ro.join("probe"), "x").is_ok() {
        eprintln!(
            "skipped: the read-only directory sub-case (running as root, chmod does not bind)"
        );
        return;
    }
    let sink = format!("file:{}", ro.display());
    let r = run(&emu, &s, &roll_args(&s.journal_arg(), &sink));
    assert_refused(&emu, &r, "secret sink");
    // The escrow directory read-only: the journal can exist, the escrow cannot be written.
    let journal_dir = s.dir.path().join("ro-journal");
    std::fs::create_dir(&journal_dir).unwrap();
    std::fs::write(journal_dir.join("journal.jsonl"), "").unwrap();
    chmod(&journal_dir, 0o500);
    let j = journal_dir.join("journal.jsonl").display().to_string();
    let r = run(&emu, &s, &roll_args(&j, &s.file_sink()));
    assert_refused(&emu, &r, "escrow directory");
}
