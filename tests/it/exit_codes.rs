//! README's exit-code table, one test per row (issue 11): which failures give which code,
//! the same whichever flag named a path; and a closed stdout, which is no failure at all.

use std::path::Path;
use std::process::Stdio;

use crate::support::*;
use tokenwarden_emulator::{Emulator, World};

const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SECRET: &str = "cfut_exitcodes0scanner0secret0000000000";
const A_TOKEN: &str = "ed17574386854bf78a67040be0a770b0";

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn row_0_a_complete_scan_whose_gate_passes() {
    let (code, _, err) = scan_example(&["--fail-on", "never"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = scan_example(&["--fail-on", "never", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"gate_failed\": false"), "{out}");
}

#[test]
fn row_1_a_complete_scan_whose_gate_fails() {
    for format in ["table", "json", "sarif", "markdown"] {
        let (code, _, err) = scan_example(&["--format", format]);
        assert_eq!(code, 1, "{format}: {err}");
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
        let mut cmd = tw();
        cmd.args(&args).args(["--now", NOW]);
        // Reads that need an inventory get the example unless the case names its own.
        if args[0] == "scan" && !args.contains(&"--snapshot") && !args.contains(&"--api-token-file")
        {
            cmd.arg("--snapshot").arg(example_snapshot());
        }
        let out = cmd.output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
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
        let (code, out, err) = scan_example(&[flag, nowhere]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(
            err.contains(&format!("cannot write {flag} {nowhere}")),
            "{flag}: {err}"
        );
        assert!(out.is_empty(), "{flag}: the report was not written: {out}");
    }
    // `snapshot --output` is checked before any credential or request is needed.
    let out = tw()
        .args(["snapshot", "--now", NOW, "--output", nowhere])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("cannot write --output"));
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
        let mut cmd = tw();
        cmd.args(&args).arg("--snapshot").arg(example_snapshot());
        let out = cmd.output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr_of(&out));
    }
    let out = tw()
        .args(["scan", "--now", NOW, "--snapshot", &snapshot])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr_of(&out));
    // No credential at all, and a remediation refused before any change.
    let out = tw().args(["scan", "--now", NOW]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr_of(&out).contains("hint: "), "{}", stderr_of(&out));
    let out = tw()
        .args(["remediate", "--now", NOW, "--apply", "--snapshot"])
        .arg(example_snapshot())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr_of(&out));
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
    let out = tw()
        .args([
            "scan",
            "--now",
            NOW,
            "--fail-on",
            "never",
            "--snapshot",
            &partial,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "never hidden, even with --fail-on never");
    // /dev/full opens for writing (the pre-flight passes) but every write fails: the run
    // started, so this is a runtime failure.
    if Path::new("/dev/full").exists() {
        let (code, _, err) = scan_example(&["--output", "/dev/full"]);
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains("cannot write the report to /dev/full"),
            "{err}"
        );
    }
    // An API that fails: the credential is refused.
    let emu = Emulator::start(World::new(now()));
    let out = tw()
        .env("CLOUDFLARE_API_BASE_URL", emu.base_url())
        .env("CLOUDFLARE_API_TOKEN", SECRET)
        .args(["permission-groups", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains(SECRET));
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
}

/// Run with stdout a pipe whose reading end is already closed, so every write fails with
/// `EPIPE` (Rust ignores SIGPIPE): no panic, no message, and the command's own exit code.
fn with_closed_stdout(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = bin();
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    (code(&out), stderr_of(&out))
}

#[test]
fn a_closed_stdout_is_not_an_error_for_any_command() {
    let snap = example_snapshot();
    let snap = snap.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // A gate keeps its verdict whoever reads the report.
        (vec!["scan", "--now", NOW, "--snapshot", snap], 1),
        (
            vec!["scan", "--now", NOW, "--snapshot", snap, "--format", "json"],
            1,
        ),
        (
            vec![
                "scan",
                "--now",
                NOW,
                "--snapshot",
                snap,
                "--format",
                "sarif",
            ],
            1,
        ),
        (
            vec![
                "scan",
                "--now",
                NOW,
                "--snapshot",
                snap,
                "--format",
                "markdown",
            ],
            1,
        ),
        (
            vec![
                "scan",
                "--now",
                NOW,
                "--snapshot",
                snap,
                "--fail-on",
                "never",
            ],
            0,
        ),
        (vec!["rules", "list"], 0),
        (vec!["rules", "list", "--format", "json"], 0),
        (vec!["rules", "show", "token-no-expiry"], 0),
        (vec!["rules", "test"], 0),
        (
            vec!["explain", A_TOKEN, "--now", NOW, "--snapshot", snap],
            0,
        ),
        (
            vec![
                "explain",
                A_TOKEN,
                "--now",
                NOW,
                "--snapshot",
                snap,
                "--format",
                "json",
            ],
            0,
        ),
        (vec!["permission-groups", "--snapshot", snap], 0),
        (
            vec!["permission-groups", "--snapshot", snap, "--format", "json"],
            0,
        ),
        (vec!["remediate", "--now", NOW, "--snapshot", snap], 0),
        (vec!["completions", "bash"], 0),
        (vec!["--help"], 0),
        (vec!["--version"], 0),
    ];
    for (args, expected) in cases {
        let (code, err) = with_closed_stdout(&args, &[]);
        assert_eq!(code, expected, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} said something: {err}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error_for_doctor_either() {
    let mut w = World::new(now());
    w.add_scanner_user_token(SCANNER, SECRET, &[]);
    let emu = Emulator::start(w);
    let base = emu.base_url();
    let env = [
        ("CLOUDFLARE_API_BASE_URL", base.as_str()),
        ("CLOUDFLARE_API_TOKEN", SECRET),
    ];
    let (expected, _) = {
        let out = tw()
            .envs(env)
            .args(["doctor", "--now", NOW])
            .output()
            .unwrap();
        (code(&out), ())
    };
    let (code, err) = with_closed_stdout(&["doctor", "--now", NOW], &env);
    assert_eq!(code, expected, "{err}");
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
}
