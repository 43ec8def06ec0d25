//! How the tests run the binary: [`tw`] starts a [`Tw`], the one command builder (a scrubbed
//! environment, the fixed clock, optional emulator wiring, an expected exit code); fixture
//! paths; and the suite's one clock, [`NOW`], shared with the emulator's worlds.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use tokenwarden_emulator::Emulator;

pub use tokenwarden_emulator::{now, NOW};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example_snapshot() -> PathBuf {
    root().join("examples/snapshot.json")
}

/// `tokenwarden`, to be given arguments and run: see [`Tw`].
pub fn tw() -> Tw {
    Tw::new()
}

/// One run of the binary, built up and then [`run`](Tw::run):
/// - the environment is empty, so no developer credential or setting leaks in; only
///   libfaketime's variables pass through, because CI runs the suite with the clock years
///   away (issue 10) and the binary must see the same far-off clock as the tests;
/// - `--now NOW` comes first unless the arguments give a `--now` of their own, so no run
///   reads the machine's clock;
/// - the working directory is the repository root, for relative fixture paths.
#[must_use]
pub struct Tw {
    cmd: Command,
    args: Vec<OsString>,
    code: Option<i32>,
}

impl Tw {
    fn new() -> Tw {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenwarden"));
        cmd.env_clear();
        for (k, v) in std::env::vars_os() {
            let k_str = k.to_string_lossy();
            let faketime = k_str.starts_with("FAKETIME")
                || (k_str == "LD_PRELOAD" && v.to_string_lossy().contains("faketime"));
            if faketime {
                cmd.env(k, v);
            }
        }
        cmd.current_dir(root());
        Tw {
            cmd,
            args: Vec::new(),
            code: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Tw {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Tw {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Tw {
        self.cmd.env(key, value);
        self
    }

    /// Talks to `emu` instead of Cloudflare, authenticated with the API token `secret`.
    pub fn emulator(self, emu: &Emulator, secret: &str) -> Tw {
        self.api_base(emu).env("CLOUDFLARE_API_TOKEN", secret)
    }

    /// Talks to `emu` instead of Cloudflare, with whatever credential the test sets.
    pub fn api_base(self, emu: &Emulator) -> Tw {
        self.env("CLOUDFLARE_API_BASE_URL", emu.base_url())
    }

    /// `scan --snapshot examples/snapshot.json`, the bundled example.
    pub fn scan_example(self) -> Tw {
        self.args(["scan", "--snapshot"]).arg(example_snapshot())
    }

    /// Sends stdout to `to` instead of capturing it (then [`Output::stdout`] is empty).
    pub fn stdout(mut self, to: impl Into<Stdio>) -> Tw {
        self.cmd.stdout(to);
        self
    }

    /// Starts the binary with its stdout closed, as `>&-` does in a shell. Without
    /// libfaketime: a preloaded library that opens a file as it loads takes the freed fd 1
    /// before Rust's runtime can point it at /dev/null, so stdout would not be closed any
    /// more (the fixed `--now` already keeps such a run off the wall clock).
    pub fn closed_stdout(mut self) -> Tw {
        use std::os::unix::process::CommandExt;
        self.cmd.env_remove("LD_PRELOAD");
        // SAFETY: runs in the child between fork and exec, after its stdio is set up;
        // close(2) is async-signal-safe and touches nothing but the child's own fd 1.
        #[allow(unsafe_code)]
        unsafe {
            self.cmd.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        self
    }

    /// The exit code the run must end with; a different one fails the test, showing the
    /// command line, stdout and stderr.
    pub fn code(mut self, code: i32) -> Tw {
        self.code = Some(code);
        self
    }

    /// The command line as it will run: the fixed clock unless the arguments set one.
    fn command(&mut self) -> &mut Command {
        let sets_now = self
            .args
            .iter()
            .any(|a| a == "--now" || a.to_string_lossy().starts_with("--now="));
        if !sets_now {
            self.cmd.args(["--now", NOW]);
        }
        self.cmd.args(&self.args)
    }

    /// Starts the run without waiting for it (for tests that signal or kill it), stdin
    /// closed, stdout and stderr where the test says.
    pub fn spawn(mut self, stdout: impl Into<Stdio>, stderr: impl Into<Stdio>) -> Child {
        self.command()
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tokenwarden: {e}"))
    }

    pub fn run(mut self) -> Output {
        let out = self
            .command()
            .output()
            .unwrap_or_else(|e| panic!("cannot run tokenwarden: {e}"));
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if let Some(expected) = self.code {
            assert_eq!(
                out.code,
                expected,
                "tokenwarden {} exited {}, not {expected}\n--- stdout\n{}\n--- stderr\n{}",
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                out.code,
                out.stdout,
                out.stderr
            );
        }
        out
    }
}

/// What a run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit code, or -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Stdout as JSON; fails the test, showing stdout and stderr, when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}:\n{}\n--- stderr\n{}", self.stdout, self.stderr))
    }
}

/// Scan the example snapshot with `args` added.
pub fn scan_example(args: &[&str]) -> Output {
    tw().scan_example().args(args).run()
}

#[test]
fn the_builder_gives_the_fixed_clock_unless_the_test_gives_one() {
    let at = |extra: &[&str]| scan_example(&[&["--format", "json"], extra].concat()).json();
    assert_eq!(at(&[])["scanned_at"], NOW);
    let later = "2027-01-01T00:00:00Z";
    assert_eq!(
        at(&["--now", later])["scanned_at"],
        later,
        "not given twice"
    );
    let given = &format!("--now={later}");
    assert_eq!(at(&[given])["scanned_at"], later);
}

#[test]
#[should_panic(expected = "tokenwarden frobnicate exited 2, not 0")]
fn an_unexpected_exit_code_fails_the_test_showing_the_output() {
    tw().arg("frobnicate").code(0).run();
}
