//! The remediation journal (docs/architecture.md §8): an append-only JSONL file. Every
//! action gets an entry when it starts and one when it ends — time, run, action, owner,
//! token id and name, the rules, the token's state before and after (API objects, never a
//! secret), the outcome, where a secret was delivered or escrowed, and whether the action
//! left work for `tokenwarden recover` (`unfinished`). In between, a roll or replace
//! journals each step as it happens ([`Step`]): before the API write that makes a secret
//! (`rolling`, `creating`), once the secret is escrowed (`rolled`, `created`), once it is
//! delivered (`delivered`). A run stopped by a signal says so (`interrupted`); recover
//! closes what it finished or undid (`recovered`). Each entry is flushed and synced before
//! the run goes on, so a crash loses at most the entry being written, and an action cut
//! short shows how far it got.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::{without_secret, ActionOutcome, PlanItem};
use crate::clock::Clock;

/// One step inside a roll or replace, journaled the moment it happens.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A roll is about to be sent: from here on the token's secret may change.
    Rolling { attempt: usize },
    /// The roll answered and its secret is in the escrow file (or escrowing it failed).
    Rolled {
        escrow: Option<&'a Path>,
        escrow_error: Option<&'a str>,
    },
    /// A replacement named `name` is about to be created; `existing` are the ids that
    /// already bore the name, so an orphan can be told apart.
    Creating {
        name: &'a str,
        existing: &'a [String],
    },
    /// The replacement exists and its secret is in the escrow file (or escrowing failed).
    Created {
        new_token_id: &'a str,
        new_token_name: &'a str,
        escrow: Option<&'a Path>,
        escrow_error: Option<&'a str>,
    },
    /// The secret of `secret_of` reached the sink, confirmed.
    Delivered {
        secret_of: &'a str,
        delivered_to: &'a str,
    },
}

impl Step<'_> {
    /// The entry's `event` and its own fields.
    fn entry(&self) -> (&'static str, Value) {
        let path = |p: Option<&Path>| json!(p.map(|p| p.display().to_string()));
        match *self {
            Step::Rolling { attempt } => ("rolling", json!({"attempt": attempt})),
            Step::Rolled {
                escrow,
                escrow_error,
            } => (
                "rolled",
                json!({"escrow": path(escrow), "escrow_error": escrow_error}),
            ),
            Step::Creating { name, existing } => (
                "creating",
                json!({"new_token_name": name, "existing": existing}),
            ),
            Step::Created {
                new_token_id,
                new_token_name,
                escrow,
                escrow_error,
            } => (
                "created",
                json!({
                    "new_token_id": new_token_id,
                    "new_token_name": new_token_name,
                    "escrow": path(escrow),
                    "escrow_error": escrow_error,
                }),
            ),
            Step::Delivered {
                secret_of,
                delivered_to,
            } => (
                "delivered",
                json!({"secret_of": secret_of, "delivered_to": delivered_to}),
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("journal {}: {source}", .path.display())]
pub struct JournalError {
    pub path: PathBuf,
    pub source: io::Error,
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    run: String,
    clock: Clock,
    /// While `tokenwarden recover` works on an action of an earlier run: that run's id,
    /// written as `recovers` so the entries extend that action.
    recovers: Option<String>,
}

impl Journal {
    /// Open `path` for appending (created 0600 when missing; its directory must exist).
    /// Entries are stamped by `clock`. A symbolic link is refused, not followed.
    pub fn open(path: &Path, clock: Clock) -> Result<Journal, JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        refuse_link(path)?;
        let created = std::fs::symlink_metadata(path).is_err();
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let mut file = options.open(path).map_err(err)?;
        if created {
            // The new file's name must survive a crash as well as its entries.
            File::open(escrow_dir(path))
                .and_then(|dir| dir.sync_all())
                .map_err(err)?;
        }
        end_torn_line(&mut file).map_err(err)?;
        let run = format!(
            "{}-{}",
            clock.now().format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        );
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            run,
            clock,
            recovers: None,
        })
    }

    /// This run's id (`<time>-<pid>`).
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Entries from now on extend the action of run `run` (`None`: this run's own).
    pub fn set_recovers(&mut self, run: Option<&str>) {
        self.recovers = run.map(str::to_string);
    }

    /// The clock that stamps this journal's entries.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where escrow files go: beside the journal.
    pub fn escrow_dir(&self) -> PathBuf {
        escrow_dir(&self.path)
    }

    fn append(&mut self, entry: &Value) -> Result<(), JournalError> {
        let err = |source| JournalError {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(entry).map_err(|e| err(io::Error::other(e)))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(err)
    }

    fn base(&self, event: &str, item: &PlanItem) -> Value {
        let mut entry = base(&self.run, self.clock, event, item);
        if let Some(run) = &self.recovers {
            entry["recovers"] = json!(run);
        }
        entry
    }

    /// The entry written before an action touches anything.
    pub fn start(&mut self, item: &PlanItem) -> Result<(), JournalError> {
        let mut entry = self.base("start", item);
        entry["before"] = without_secret(&item.scanned);
        self.append(&entry)
    }

    /// One step of a roll or replace, as it happens.
    pub fn step(&mut self, item: &PlanItem, step: Step<'_>) -> Result<(), JournalError> {
        let (event, fields) = step.entry();
        let mut entry = self.base(event, item);
        if let (Value::Object(map), Value::Object(extra)) = (&mut entry, fields) {
            map.extend(extra);
        }
        self.append(&entry)
    }

    /// The run was stopped by a signal: the actions in `not_started` were not started.
    pub fn interrupted(&mut self, not_started: &[&PlanItem]) -> Result<(), JournalError> {
        let ids: Vec<&str> = not_started.iter().map(|i| i.token_id.as_str()).collect();
        let entry = json!({
            "time": self.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "run": self.run,
            "event": "interrupted",
            "not_started": ids,
            "message": "stopped by a signal: the current action finished its critical step, no further action was started; `tokenwarden recover` finishes what is left",
        });
        self.append(&entry)
    }

    /// `tokenwarden recover` closed the action of run `recovers` on `item`'s token:
    /// `outcome` is `finished`, `undone` or `nothing_to_do`.
    pub fn recovered(
        &mut self,
        recovers: &str,
        item: &PlanItem,
        outcome: &str,
        message: &str,
    ) -> Result<(), JournalError> {
        let mut entry = base(&self.run, self.clock, "recovered", item);
        entry["recovers"] = json!(recovers);
        entry["outcome"] = json!(outcome);
        entry["message"] = json!(message);
        self.append(&entry)
    }

    /// The entry written once the action is over, whatever happened.
    pub fn end(&mut self, item: &PlanItem, outcome: &ActionOutcome) -> Result<(), JournalError> {
        let mut entry = self.base("end", item);
        let state = |v: &Option<Value>| v.as_ref().map_or(Value::Null, without_secret);
        entry["before"] = state(&outcome.before);
        entry["after"] = state(&outcome.after);
        entry["outcome"] = json!(outcome.status);
        entry["message"] = json!(outcome.message);
        entry["delivered_to"] = json!(outcome.delivered_to);
        entry["escrow"] = json!(outcome.escrow.as_ref().map(|p| p.display().to_string()));
        entry["new_token_id"] = json!(outcome.new_token_id);
        entry["unfinished"] = json!(outcome.unfinished);
        self.append(&entry)
    }
}

/// A journal path that is a symbolic link is refused, never followed (issue 12): the
/// journal would be read from, or written, wherever someone pointed it.
fn refuse_link(path: &Path) -> Result<(), JournalError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(JournalError {
            path: path.to_path_buf(),
            source: io::Error::other("it is a symbolic link; refusing to follow it"),
        });
    }
    Ok(())
}

/// A journal whose last line was cut off (the process died mid-write) gets its line ended
/// first, so the next entry is a line of its own.
fn end_torn_line(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut reader = file.try_clone()?;
    reader.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    reader.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    Ok(())
}

/// Every entry of the journal at `path`, in order. A line that is not a JSON object — a
/// line cut off by a crash — is skipped and counted in the second value.
pub fn read(path: &Path) -> Result<(Vec<Value>, usize), JournalError> {
    let err = |source| JournalError {
        path: path.to_path_buf(),
        source,
    };
    refuse_link(path)?;
    let text = std::fs::read_to_string(path).map_err(err)?;
    let mut entries = Vec::new();
    let mut torn = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => entries.push(v),
            _ => torn += 1,
        }
    }
    Ok((entries, torn))
}

/// Where the escrow files of the journal at `path` go: its directory.
pub fn escrow_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn base(run: &str, clock: Clock, event: &str, item: &PlanItem) -> Value {
    json!({
        "time": clock.now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "run": run,
        "event": event,
        "action": item.op,
        "owner": item.owner,
        "token_id": item.token_id,
        "token_name": item.token_name,
        "rules": item.rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Owner;
    use crate::remediate::{ActionStatus, Op};

    fn clock() -> Clock {
        Clock::from_arg(Some("2026-11-22T10:00:00Z")).unwrap()
    }

    fn item() -> PlanItem {
        PlanItem {
            owner: Owner::User { id: None },
            token_id: "t1".into(),
            token_name: Some("n".into()),
            op: Op::Roll,
            rules: vec!["token-secret-stale".into()],
            severity: None,
            superseded: vec![],
            scanned: json!({"id": "t1", "value": "cfut_leak", "status": "active"}),
            is_self: false,
        }
    }

    #[test]
    fn entries_are_appended_one_json_line_each_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let mut j = Journal::open(&path, clock()).unwrap();
        j.start(&item()).unwrap();
        let mut o = ActionOutcome::new(ActionStatus::Succeeded, "rolled");
        o.after = Some(json!({"id": "t1", "value": "cfut_leak2"}));
        j.end(&item(), &o).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "appended, not truncated");
        assert_eq!(lines[1]["event"], "start");
        assert_eq!(lines[1]["action"], "roll");
        assert_eq!(lines[1]["rules"][0], "token-secret-stale");
        assert_eq!(lines[2]["event"], "end");
        assert_eq!(lines[2]["outcome"], "succeeded");
        assert_eq!(lines[1]["run"], lines[2]["run"]);
        // Stamped by the run's clock (`--now`), never by the machine's (issue 10).
        assert_eq!(lines[1]["time"], "2026-11-22T10:00:00.000Z");
        assert_eq!(lines[2]["time"], "2026-11-22T10:00:00.000Z");
        assert!(lines[1]["run"]
            .as_str()
            .unwrap()
            .starts_with("20261122T100000Z-"));
        assert!(!text.contains("cfut_leak"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join("new.jsonl");
            Journal::open(&p, clock()).unwrap();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn escrow_goes_beside_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("x.jsonl"), clock()).unwrap();
        assert_eq!(j.escrow_dir(), dir.path());

        let e = Journal::open(Path::new("/nonexistent-dir/j.jsonl"), clock()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/j.jsonl"), "{e}");
    }

    /// Issue 12: each step is its own synced line, entries of a recovered action say which
    /// run they extend, a line cut off by a crash is ended before the next entry, and
    /// reading skips (and counts) it.
    #[test]
    fn steps_are_lines_of_their_own_and_a_torn_line_is_ended_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"event\":\"start\",\"tok").unwrap();
        let mut j = Journal::open(&path, clock()).unwrap();
        let escrow = dir.path().join("e.secret");
        j.step(&item(), Step::Rolling { attempt: 1 }).unwrap();
        j.step(
            &item(),
            Step::Rolled {
                escrow: Some(&escrow),
                escrow_error: None,
            },
        )
        .unwrap();
        j.set_recovers(Some("20261122T090000Z-7"));
        j.step(
            &item(),
            Step::Delivered {
                secret_of: "t1",
                delivered_to: "stdout",
            },
        )
        .unwrap();
        j.interrupted(&[&item()]).unwrap();
        let (entries, torn) = read(&path).unwrap();
        assert_eq!(torn, 1);
        let events: Vec<&str> = entries
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["rolling", "rolled", "delivered", "interrupted"]);
        assert_eq!(entries[0]["attempt"], 1);
        assert_eq!(entries[1]["escrow"], escrow.display().to_string());
        assert!(entries[1].get("recovers").is_none());
        assert_eq!(entries[2]["recovers"], "20261122T090000Z-7");
        assert_eq!(entries[2]["secret_of"], "t1");
        assert_eq!(entries[3]["not_started"], json!(["t1"]));
        assert_eq!(entries[0]["run"], j.run());
    }

    /// Issue 12: a journal path that is a symbolic link is refused, never written through.
    #[cfg(unix)]
    #[test]
    fn a_journal_that_is_a_symbolic_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("j.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = Journal::open(&link, clock()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let dangling = dir.path().join("dangling.jsonl");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(Journal::open(&dangling, clock()).is_err());
        assert!(
            !dir.path().join("nowhere").exists(),
            "not created through the link"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }
}
