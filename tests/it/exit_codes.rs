//! README's exit-code table, one test per row (issue 11): which failures give which code,
//! the same whichever flag named a path; and a closed stdout, which is no failure at all.

use std::path::Path;

use crate::support::*;
use tokenwarden_emulator::{Emulator, World};

const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SECRET: &str = "cfut_exitcodes0scanner0secret0000000000";
const A_TOKEN: &str = "ed17574386854bf78a67040be0a770b0";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn row_0_a_complete_scan_whose_gate_passes() {
    let Output { code, stderr, .. } = scan_example(&["--fail-on", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let Output {
        code,
        stdout,
        stderr,
    } = scan_example(&["--fail-on", "never", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"gate_failed\": false"), "{stdout}");
}

#[test]
fn row_1_a_complete_scan_whose_gate_fails() {
    for format in ["table", "json", "sarif", "markdown"] {
        let Output { code, stderr, .. } = scan_example(&["--format", format]);
        assert_eq!(code, 1, "{format}: {stderr}");
    }
}

/// Every file the user names for reading: missing is exit 2, and the message names it.
#[test]
fn row_2_a_named_file_that_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["scan", "--snapshot", missing],
        vec!["scan", "--policy", missing],
        vec!["scan", "--exemptions", missing],
        vec!["scan", "--rules", missing],
        vec!["scan", "--baseline", missing],
        vec!["explain", A_TOKEN, "--snapshot", missing],
        vec!["permission-groups", "--snapshot", missing],
        vec!["rules", "test", missing],
        vec!["--api-token-file", missing, "scan"],
    ];
    for args in cases {
        let mut cmd = tw().args(&args);
        // Reads that need an inventory get the example unless the case names its own.
        if args[0] == "scan" && !args.contains(&"--snapshot") && !args.contains(&"--api-token-file")
        {
            cmd = cmd.arg("--snapshot").arg(example_snapshot());
        }
        let out = cmd.run();
        let err = out.stderr;
        assert_eq!(out.code, 2, "{args:?}: {err}");
        assert!(
            err.contains(missing),
            "{args:?} does not name the path: {err}"
        );
    }
}

/// Every file the user names for writing: one that cannot be written is exit 2 before the
/// run starts — the same for every flag — and nothing is left half-written.
#[test]
fn row_2_a_named_file_that_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no-such-dir").join("out");
    let nowhere = nowhere.to_str().unwrap();
    for flag in ["--output", "--sarif", "--write-baseline"] {
        let Output {
            code,
            stdout,
            stderr,
        } = scan_example(&[flag, nowhere]);
        assert_eq!(code, 2, "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot write {flag} {nowhere}")),
            "{flag}: {stderr}"
        );
        assert!(
            stdout.is_empty(),
            "{flag}: the report was not written: {stdout}"
        );
    }
    // `snapshot --output` is checked before any credential or request is needed.
    let out = tw().args(["snapshot", "--output", nowhere]).code(2).run();
    assert!(out.stderr.contains("cannot write --output"));
}

#[test]
fn row_2_configuration_that_does_not_parse_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.toml",
        "[thresholds]\nmax_lifetime_days = \"x\"\n",
    );
    let snapshot = write(dir.path(), "s.json", "{\"format\": 1}");
    let baseline = write(dir.path(), "b.json", "not json");
    for args in [
        vec!["scan", "--policy", &policy],
        vec!["scan", "--baseline", &baseline],
        vec!["--now", "yesterday", "scan"],
        vec!["scan", "--fail-on", "sometimes"],
    ] {
        let out = tw()
            .args(&args)
            .arg("--snapshot")
            .arg(example_snapshot())
            .run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    tw().args(["scan", "--snapshot", &snapshot]).code(2).run();
    // No credential at all, and a remediation refused before any change.
    let out = tw().arg("scan").code(2).run();
    assert!(out.stderr.contains("hint: "), "{}", out.stderr);
    tw().args(["remediate", "--apply", "--snapshot"])
        .arg(example_snapshot())
        .code(2)
        .run();
}

#[test]
fn row_3_not_evaluated_or_a_write_that_fails_after_the_run_started() {
    let dir = tempfile::tempdir().unwrap();
    let partial = write(
        dir.path(),
        "partial.json",
        r#"{"format":"tokenwarden-snapshot/v1","user":{"tokens":[]},
            "not_evaluated":[{"scope":"accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens","reason":"403"}]}"#,
    );
    let code = tw()
        .args(["scan", "--fail-on", "never", "--snapshot", &partial])
        .run()
        .code;
    assert_eq!(code, 3, "never hidden, even with --fail-on never");
    // /dev/full opens for writing (the pre-flight passes) but every write fails: the run
    // started, so this is a runtime failure.
    if Path::new("/dev/full").exists() {
        let Output { code, stderr, .. } = scan_example(&["--output", "/dev/full"]);
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains("cannot write the report to /dev/full"),
            "{stderr}"
        );
    }
    // An API that fails: the credential is refused.
    let emu = Emulator::start(World::new(now()));
    let out = tw()
        .emulator(&emu, SECRET)
        .arg("permission-groups")
        .code(3)
        .run();
    assert!(!out.stderr.contains(SECRET));
}

/// Run with stdout a pipe whose reading end is already closed, so every write fails with
/// `EPIPE` (Rust ignores SIGPIPE): no panic, no message, and the command's own exit code.
fn with_closed_stdout(cmd: Tw) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).run()
}

#[test]
fn a_closed_stdout_is_not_an_error_for_any_command() {
    let snap = example_snapshot();
    let snap = snap.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // A gate keeps its verdict whoever reads the report.
        (vec!["scan", "--snapshot", snap], 1),
        (vec!["scan", "--snapshot", snap, "--format", "json"], 1),
        (vec!["scan", "--snapshot", snap, "--format", "sarif"], 1),
        (vec!["scan", "--snapshot", snap, "--format", "markdown"], 1),
        (vec!["scan", "--snapshot", snap, "--fail-on", "never"], 0),
        (vec!["rules", "list"], 0),
        (vec!["rules", "list", "--format", "json"], 0),
        (vec!["rules", "show", "token-no-expiry"], 0),
        (vec!["rules", "test"], 0),
        (vec!["explain", A_TOKEN, "--snapshot", snap], 0),
        (
            vec!["explain", A_TOKEN, "--snapshot", snap, "--format", "json"],
            0,
        ),
        (vec!["permission-groups", "--snapshot", snap], 0),
        (
            vec!["permission-groups", "--snapshot", snap, "--format", "json"],
            0,
        ),
        (vec!["remediate", "--snapshot", snap], 0),
        (vec!["completions", "bash"], 0),
        (vec!["--help"], 0),
        (vec!["--version"], 0),
    ];
    for (args, expected) in cases {
        let Output { code, stderr, .. } = with_closed_stdout(tw().args(&args));
        assert_eq!(code, expected, "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} said something: {stderr}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error_for_doctor_either() {
    let mut w = World::new(now());
    w.add_scanner_user_token(SCANNER, SECRET, &[]);
    let emu = Emulator::start(w);
    let doctor = || tw().emulator(&emu, SECRET).arg("doctor");
    let expected = doctor().run().code;
    let Output { code, stderr, .. } = with_closed_stdout(doctor());
    assert_eq!(code, expected, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}
