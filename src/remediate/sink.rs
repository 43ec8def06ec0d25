//! Secret sinks (docs/architecture.md §8): where a new secret goes after a roll or a replace, and the
//! escrow that keeps it when delivery fails.
//!
//! - `file:DIR` writes `DIR/<token_id>.secret` atomically (temp file, fsync, rename, fsync
//!   of the directory), mode 0600, creating `DIR` with mode 0700 when missing.
//! - `exec:COMMAND` runs `/bin/sh -c COMMAND` with the secret on stdin only — never in argv
//!   or the environment — and `TOKENWARDEN_TOKEN_ID`, `TOKENWARDEN_TOKEN_NAME`,
//!   `TOKENWARDEN_OWNER`, `TOKENWARDEN_ACTION` (and `TOKENWARDEN_REPLACES` for a replace) in
//!   the environment. Success is exit 0 within the timeout; after it the command's process
//!   group is killed. Its stdout is discarded (it must not mix with tokenwarden's report),
//!   its stderr passes through, and tokenwarden's own Cloudflare credential is removed from
//!   its environment.
//! - `stdout` prints `<token_id> <secret>` lines; only when named explicitly, and never
//!   into a closed stdout or `/dev/null` (Rust's runtime points a closed stdout there, so
//!   every write "succeeds" and the secret goes nowhere).
//!
//! A delivery counts only when every write, flush (and for files fsync and rename)
//! succeeded. [`SecretSink::check`] and [`check_escrow_dir`] run before anything changes and
//! prove with a real write (one block, fsynced, removed) that the sink's and the escrow's
//! filesystems can take a secret; a symbolic link where a directory or secret file should
//! be, or a directory others may write to, is refused (issue 12).
//!
//! The escrow (docs/architecture.md §8) is write-ahead: the caller escrows a new secret as
//! soon as the API answers, before delivery, and removes the file only once delivery is
//! confirmed ([`escrow`], [`remove_escrow`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::plan::Op;
use crate::inventory::Owner;
use crate::secret::Secret;

/// The shell an `exec:` sink runs under.
const SHELL: &str = "/bin/sh";
/// The longest an `exec:` sink may run (`--sink-timeout`, 1..=3600 s). A bound checked when
/// the sink is parsed, before anything changes: an unbounded timeout made the deadline
/// arithmetic overflow and panic *after* the roll, losing the secret (issue 12).
pub const MAX_EXEC_TIMEOUT_SECS: u64 = 3600;
/// What the pre-flight probes write: one filesystem block, more than any token secret, so
/// a disk with room only for inline or empty files fails the probe and not the delivery.
const PROBE_BYTES: usize = 4096;
/// tokenwarden's own credential: the sink command has no business with it.
const CREDENTIAL_VARS: [&str; 3] = [
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
];

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "invalid --secret-sink {spec:?}: {reason} (expected file:DIR, exec:COMMAND or stdout)"
    )]
    Spec { spec: String, reason: String },
    #[error("secret sink directory {}: {source}", .dir.display())]
    Dir { dir: PathBuf, source: io::Error },
    #[error("cannot write the secret of token {token_id} to {}: {source}", .path.display())]
    Write {
        token_id: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A token id that is not a Cloudflare id never becomes part of a file name.
    #[error("cannot deliver to a file: the token id {0}")]
    InvalidId(#[from] crate::id::IdError),
    #[error("exec: sink: {SHELL} is not available: {0}")]
    Shell(String),
    #[error("exec: sink for token {token_id}: cannot start the command: {source}")]
    Spawn { token_id: String, source: io::Error },
    #[error("exec: sink for token {token_id}: the command failed ({status})")]
    Exit { token_id: String, status: String },
    #[error("exec: sink for token {token_id}: the command did not finish within {secs} s and was killed")]
    Timeout { token_id: String, secs: u64 },
    #[error("exec: sink for token {token_id}: {source}")]
    Wait { token_id: String, source: io::Error },
    #[error("cannot print the secret of token {token_id} to stdout: {source}")]
    Stdout { token_id: String, source: io::Error },
    #[error("the stdout sink cannot take a secret: {0}")]
    StdoutUnusable(String),
    /// A path where a secret would be written that must not be trusted.
    #[error("refusing {}: {reason}", .path.display())]
    Unsafe { path: PathBuf, reason: String },
    #[error("escrow directory {}: {source}", .dir.display())]
    Escrow { dir: PathBuf, source: io::Error },
}

/// Where new secrets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSink {
    File(PathBuf),
    Exec { command: String, timeout: Duration },
    Stdout,
}

/// Whose secret is being delivered.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The token the secret belongs to (for a replace: the new token).
    pub token_id: &'a str,
    pub token_name: &'a str,
    pub owner: &'a Owner,
    pub op: Op,
    /// For a replace: the token being replaced.
    pub replaces: Option<&'a str>,
}

impl SecretSink {
    /// Parse `file:DIR`, `exec:COMMAND` or `stdout`.
    pub fn parse(spec: &str, exec_timeout: Duration) -> Result<SecretSink, SinkError> {
        let bad = |reason: &str| SinkError::Spec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec == "stdout" {
            return Ok(SecretSink::Stdout);
        }
        if let Some(dir) = spec.strip_prefix("file:") {
            if dir.trim().is_empty() {
                return Err(bad("file: needs a directory"));
            }
            return Ok(SecretSink::File(PathBuf::from(dir)));
        }
        if let Some(command) = spec.strip_prefix("exec:") {
            if command.trim().is_empty() {
                return Err(bad("exec: needs a command"));
            }
            if exec_timeout.is_zero() {
                return Err(bad("the exec: timeout must be at least one second"));
            }
            if exec_timeout > Duration::from_secs(MAX_EXEC_TIMEOUT_SECS) {
                return Err(bad(&format!(
                    "the exec: timeout must be at most {MAX_EXEC_TIMEOUT_SECS} seconds"
                )));
            }
            return Ok(SecretSink::Exec {
                command: command.to_string(),
                timeout: exec_timeout,
            });
        }
        Err(bad("unknown kind"))
    }

    /// A description for reports and the journal. Never the exec command itself: an
    /// operator may have put a credential for the secret store in it.
    pub fn describe(&self, token_id: &str) -> String {
        match self {
            SecretSink::File(dir) => match secret_path(dir, token_id) {
                Ok(p) => p.display().to_string(),
                Err(_) => format!("{} (refused: not a token id)", dir.display()),
            },
            SecretSink::Exec { .. } => "the exec: sink command".to_string(),
            SecretSink::Stdout => "stdout".to_string(),
        }
    }

    /// Check, before anything changes at Cloudflare, that a delivery can work: the
    /// directory is no symbolic link, exists (created 0700 if missing), is writable by its
    /// owner only, and takes a block-sized file (written, fsynced, removed); the shell
    /// exists; stdout is open and not `/dev/null`.
    pub fn check(&self) -> Result<(), SinkError> {
        match self {
            SecretSink::File(dir) => {
                refuse_symlink(dir)?;
                create_private_dir(dir).map_err(|source| SinkError::Dir {
                    dir: dir.clone(),
                    source,
                })?;
                refuse_shared_dir(dir)?;
                probe(dir).map_err(|source| SinkError::Dir {
                    dir: dir.clone(),
                    source,
                })
            }
            SecretSink::Exec { .. } => shell_available(),
            SecretSink::Stdout => stdout_usable().map_err(SinkError::StdoutUnusable),
        }
    }

    /// Check, before a roll, that the file the token's secret will replace is not a
    /// symbolic link (a `file:` sink; the others have no such file).
    pub fn check_target(&self, token_id: &str) -> Result<(), SinkError> {
        match self {
            SecretSink::File(dir) => refuse_symlink(&secret_path(dir, token_id)?),
            SecretSink::Exec { .. } | SecretSink::Stdout => Ok(()),
        }
    }

    /// Deliver `secret`; returns where it went.
    pub fn deliver(&self, d: &Delivery<'_>, secret: &Secret) -> Result<String, SinkError> {
        match self {
            SecretSink::File(dir) => {
                // Only a checked id names a file: `../../x` never leaves the directory.
                let path = secret_path(dir, d.token_id)?;
                let name = format!("{}.secret", d.token_id);
                write_secret(dir, &name, secret)
                    .map(|p| p.display().to_string())
                    .map_err(|source| SinkError::Write {
                        token_id: d.token_id.to_string(),
                        path,
                        source,
                    })
            }
            SecretSink::Exec { command, timeout } => {
                run_exec(command, *timeout, d, secret).map(|()| self.describe(d.token_id))
            }
            SecretSink::Stdout => {
                let failed = |source| SinkError::Stdout {
                    token_id: d.token_id.to_string(),
                    source,
                };
                // Checked again: a write into /dev/null succeeds and proves nothing.
                stdout_usable().map_err(|why| failed(io::Error::other(why)))?;
                let mut out = io::stdout().lock();
                writeln!(out, "{} {}", d.token_id, secret.expose())
                    .and_then(|()| out.flush())
                    .map(|()| "stdout".to_string())
                    .map_err(failed)
            }
        }
    }
}

/// `DIR/<id>.secret`, for a Cloudflare id only (docs/architecture.md §8).
fn secret_path(dir: &Path, token_id: &str) -> Result<PathBuf, SinkError> {
    crate::id::check(token_id)?;
    Ok(dir.join(format!("{token_id}.secret")))
}

/// The file-name prefix of every escrow file of `token_id`. An id that is not a
/// Cloudflare id is never put in a file name: its escrow is named `invalid-id` instead
/// (the journal records the path), so even then the secret is kept.
pub fn escrow_prefix(token_id: &str) -> String {
    let shown = if crate::id::is_id(token_id) {
        token_id
    } else {
        "invalid-id"
    };
    format!("tokenwarden-escrow-{shown}-")
}

/// Keep a new secret until its delivery is confirmed:
/// `DIR/tokenwarden-escrow-<id>-<time>-<pid>-<n>.secret`, exactly the secret, mode 0600,
/// created exclusively (never through a symbolic link or over an existing file), fsynced
/// with its directory before this returns. `dir` is the journal's directory; `now` comes
/// from the run's clock; the process id and a counter keep two escrows of one token in
/// one run (a fixed `--now`) apart.
pub fn escrow(
    dir: &Path,
    token_id: &str,
    secret: &Secret,
    now: DateTime<Utc>,
) -> Result<PathBuf, SinkError> {
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let name = format!(
        "{}{stamp}-{}-{}.secret",
        escrow_prefix(token_id),
        std::process::id(),
        next_serial()
    );
    let path = dir.join(&name);
    let written = private_file(&path)
        .and_then(|mut f| {
            f.write_all(secret.expose().as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| sync_dir(dir));
    if written.is_err() {
        // A partial file holds no usable secret; an untouched one was not created here.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            let _ = fs::remove_file(&path);
        }
    }
    written
        .map(|()| path.clone())
        .map_err(|source| SinkError::Write {
            token_id: token_id.to_string(),
            path,
            source,
        })
}

/// Remove an escrow file once its secret is delivered (or worthless), durably.
pub fn remove_escrow(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Check, before anything changes, that `dir` can keep escrowed secrets: not a symbolic
/// link, writable by its owner only, and able to take a block-sized file (written,
/// fsynced, removed), so a full disk, a read-only directory or missing inodes show here.
pub fn check_escrow_dir(dir: &Path) -> Result<(), SinkError> {
    refuse_symlink(dir)?;
    let meta = fs::metadata(dir).map_err(|source| SinkError::Escrow {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(SinkError::Escrow {
            dir: dir.to_path_buf(),
            source: io::Error::other("not a directory"),
        });
    }
    refuse_shared_dir(dir)?;
    probe(dir).map_err(|source| SinkError::Escrow {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Refuse `path` if it exists as a symbolic link: a secret must land where the operator
/// named, not where a link planted by someone else points.
pub fn refuse_symlink(path: &Path) -> Result<(), SinkError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(SinkError::Unsafe {
            path: path.to_path_buf(),
            reason: "it is a symbolic link".into(),
        }),
        _ => Ok(()),
    }
}

/// Refuse a directory others may write to: they could swap or watch the files in it.
fn refuse_shared_dir(dir: &Path) -> Result<(), SinkError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)
            .map_err(|source| SinkError::Dir {
                dir: dir.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(SinkError::Unsafe {
                path: dir.to_path_buf(),
                reason: format!(
                    "the directory is writable by group or others (mode {:04o}); make it 0700",
                    mode & 0o7777
                ),
            });
        }
    }
    Ok(())
}

/// Write one block to a new private file in `dir`, fsync it and the directory, remove it.
fn probe(dir: &Path) -> io::Result<()> {
    let path = dir.join(format!(
        ".tokenwarden-probe-{}-{}",
        std::process::id(),
        next_serial()
    ));
    let written = private_file(&path).and_then(|mut f| {
        f.write_all(&[b'x'; PROBE_BYTES])?;
        f.sync_all()
    });
    let removed = if fs::symlink_metadata(&path).is_ok() {
        fs::remove_file(&path)
    } else {
        Ok(())
    };
    written.and(removed).and_then(|()| sync_dir(dir))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether stdout can take a secret: open, and not `/dev/null` (where Rust's runtime
/// points a stdout that was closed when the process started).
fn stdout_usable() -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let meta = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .and_then(|fd| File::from(fd).metadata())
            .map_err(|e| format!("stdout is not open ({e})"))?;
        let is_null = meta.file_type().is_char_device()
            && fs::metadata("/dev/null").is_ok_and(|null| null.rdev() == meta.rdev());
        if is_null {
            return Err(
                "stdout is closed or /dev/null, so the secret would go nowhere".to_string(),
            );
        }
    }
    Ok(())
}

/// A number no earlier call in this process returned: keeps file names unique without
/// reading the wall clock.
fn next_serial() -> u64 {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::other("not a directory"))
    }
}

/// A new file only its owner can read (0600), failing if anything — a file or a symbolic
/// link — exists at `path` (O_CREAT|O_EXCL never follows a link).
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Atomically write `DIR/name`: a private temp file, fsync, rename over the target, fsync
/// of the directory, so a reader sees the old secret or the new one, never half of one.
fn write_secret(dir: &Path, name: &str, secret: &Secret) -> io::Result<PathBuf> {
    // The pre-flight checks again at delivery: the directory may have changed since.
    refuse_symlink(dir)
        .and_then(|()| {
            create_private_dir(dir).map_err(|source| SinkError::Dir {
                dir: dir.to_path_buf(),
                source,
            })
        })
        .and_then(|()| refuse_shared_dir(dir))
        .map_err(|e| io::Error::other(e.to_string()))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}-{:016x}",
        std::process::id(),
        next_serial(),
        fastrand::u64(..)
    ));
    let result = private_file(&tmp)
        .and_then(|mut f| {
            f.write_all(secret.expose().as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, &target))
        .and_then(|()| sync_dir(dir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

fn shell_available() -> Result<(), SinkError> {
    let meta = fs::metadata(SHELL).map_err(|e| SinkError::Shell(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(SinkError::Shell("not executable".into()));
        }
    }
    if meta.is_file() {
        Ok(())
    } else {
        Err(SinkError::Shell("not a file".into()))
    }
}

fn run_exec(
    command: &str,
    timeout: Duration,
    d: &Delivery<'_>,
    secret: &Secret,
) -> Result<(), SinkError> {
    let token_id = d.token_id.to_string();
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c")
        .arg(command)
        .env("TOKENWARDEN_TOKEN_ID", d.token_id)
        .env("TOKENWARDEN_TOKEN_NAME", d.token_name)
        .env("TOKENWARDEN_OWNER", d.owner.path())
        .env("TOKENWARDEN_ACTION", d.op.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    match d.replaces {
        Some(old) => cmd.env("TOKENWARDEN_REPLACES", old),
        None => cmd.env_remove("TOKENWARDEN_REPLACES"),
    };
    // Its own process group, so a timeout kills the whole pipeline, not just the shell.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|source| SinkError::Spawn {
        token_id: token_id.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that exits without reading its input closes the pipe: its exit status
        // decides, as for any other command.
        match stdin.write_all(secret.expose().as_bytes()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                kill(&mut child);
                return Err(SinkError::Wait {
                    token_id,
                    source: e,
                });
            }
            _ => {}
        }
    }
    // Checked, so no timeout can make this panic with the secret in hand (issue 12);
    // `parse` keeps timeouts within MAX_EXEC_TIMEOUT_SECS anyway.
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(SinkError::Exit {
                    token_id,
                    status: status.to_string(),
                })
            }
            Ok(None) if started.elapsed() >= timeout => {
                kill(&mut child);
                return Err(SinkError::Timeout {
                    token_id,
                    secs: timeout.as_secs(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => {
                kill(&mut child);
                return Err(SinkError::Wait { token_id, source });
            }
        }
    }
}

fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg only sends a signal; the group is the one the child leads
        // (process_group(0) above), so nothing outside the sink command is hit.
        #[allow(unsafe_code)]
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests;
