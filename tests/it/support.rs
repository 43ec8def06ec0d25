//! Shared test helpers: the binary with a scrubbed environment, fixture paths.

use std::path::PathBuf;

use assert_cmd::Command;

pub const NOW: &str = "2026-11-22T10:00:00Z";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example_snapshot() -> PathBuf {
    root().join("examples/snapshot.json")
}

/// `tokenwarden` with an empty environment, so no developer credential or setting leaks in.
/// Only libfaketime's variables pass through: CI runs the suite with the clock years away
/// (issue 10), and the binary must see the same far-off clock as the tests.
pub fn tw() -> Command {
    Command::from_std(bin())
}

/// [`tw`] as a plain `std::process::Command`, for tests that wire its pipes themselves.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tokenwarden"));
    c.env_clear();
    for (k, v) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        let faketime = k_str.starts_with("FAKETIME")
            || (k_str == "LD_PRELOAD" && v.to_string_lossy().contains("faketime"));
        if faketime {
            c.env(k, v);
        }
    }
    c.current_dir(root());
    c
}

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Scan the example snapshot with `args` added; returns (exit code, stdout, stderr).
pub fn scan_example(args: &[&str]) -> (i32, String, String) {
    let mut cmd = tw();
    cmd.args(["scan", "--snapshot"]).arg(example_snapshot());
    if !args.contains(&"--now") {
        cmd.args(["--now", NOW]);
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout_of(&out),
        stderr_of(&out),
    )
}
