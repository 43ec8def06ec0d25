//! Runs the release binary as a child process and measures it: wall time from spawn to
//! reaping, the exit code, and the child's peak resident set size from `wait4`'s rusage
//! (the kernel's own high-water mark, so short peaks are not missed by sampling).
//!
//! Linux carries the high-water mark of the address space a process replaces across
//! `execve`, and a child spawned by this benchmark starts out as (or sharing) this
//! process, which holds a 10,000-token emulator world during the live case. Measured
//! directly, the child would report the benchmark's own peak. So the benchmark re-runs
//! itself as a small helper (`--measure-child PROGRAM ARGS...`) that spawns the program,
//! reaps it with `wait4` and prints `code wall_ns peak_kb`; the helper's fresh address
//! space is what the program inherits.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// First argument that makes the benchmark binary act as the measuring helper.
pub const HELPER_ARG: &str = "--measure-child";

/// What one run of the binary did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code, or `-signal` when the child was killed.
    pub code: i32,
    pub wall: Duration,
    /// Peak RSS in bytes.
    pub peak_rss: u64,
    pub stderr: Vec<u8>,
}

/// The binary under test (built by cargo for benches), with an empty environment so no
/// developer credential, endpoint or setting leaks in.
pub fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenwarden"));
    c.env_clear();
    c
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `cmd` (made by [`binary`], with arguments and variables added) to completion
/// through the helper: stdin closed, stdout discarded (reports go to `--output` files),
/// stderr captured and therefore not a terminal, as in CI.
pub fn run(cmd: &mut Command) -> Result<Run> {
    let mut helper = Command::new(std::env::current_exe()?);
    helper.env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            helper.env(key, value);
        }
    }
    helper
        .arg(HELPER_ARG)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = helper
        .spawn()
        .with_context(|| format!("cannot start {helper:?}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = child.wait()?;
    let out = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let stderr = err.join().unwrap_or_default();
    let fields: Vec<i64> = out
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [code, wall_ns, peak_kb] = fields[..] else {
        bail!(
            "measuring helper failed ({status}): {out}{}",
            String::from_utf8_lossy(&stderr)
        );
    };
    Ok(Run {
        code: code as i32,
        wall: Duration::from_nanos(wall_ns.max(0) as u64),
        peak_rss: peak_kb.max(0) as u64 * 1024,
        stderr,
    })
}

/// The helper: runs `PROGRAM ARGS...` (environment and stderr inherited) and prints
/// `code wall_ns peak_kb` on stdout.
// wait4 with rusage is the only way to read a child's peak RSS; the unsafe blocks say why each is sound.
#[allow(unsafe_code)]
pub fn helper_main(mut args: impl Iterator<Item = OsString>) -> Result<()> {
    let program = args.next().context("--measure-child needs a program")?;
    let start = Instant::now();
    let child = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", program.to_string_lossy()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills in; a zeroed one is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: pid is our own unreaped child; both pointers are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall = start.elapsed();
    if reaped != pid {
        bail!("wait4 on {pid} failed: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    // Linux reports ru_maxrss in kilobytes.
    println!("{code} {} {}", wall.as_nanos(), usage.ru_maxrss);
    Ok(())
}

/// The median of `xs` (upper median for an even count); zero for none.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}
