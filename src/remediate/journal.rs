//! The remediation journal (docs/architecture.md §8): an append-only JSONL file with one entry when an
//! action starts and one when it ends — time, run, action, owner, token id and name, the
//! rules, the token's state before and after (API objects, never a secret), the outcome and
//! where a secret was delivered or escrowed. Each entry is flushed and synced before the
//! run goes on, so a crash loses at most the entry being written.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::{without_secret, ActionOutcome, PlanItem};
use crate::clock::Clock;

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
}

impl Journal {
    /// Open `path` for appending (created 0600 when missing; its directory must exist).
    /// Entries are stamped by `clock`. A symbolic link is refused, not followed (issue 12):
    /// the journal would otherwise be written wherever someone pointed it.
    pub fn open(path: &Path, clock: Clock) -> Result<Journal, JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(err(io::Error::other(
                "it is a symbolic link; refusing to follow it",
            )));
        }
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(path).map_err(err)?;
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
        })
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

    /// The entry written before an action touches anything.
    pub fn start(&mut self, item: &PlanItem) -> Result<(), JournalError> {
        let mut entry = base(&self.run, self.clock, "start", item);
        entry["before"] = without_secret(&item.scanned);
        self.append(&entry)
    }

    /// The entry written once the action is over, whatever happened.
    pub fn end(&mut self, item: &PlanItem, outcome: &ActionOutcome) -> Result<(), JournalError> {
        let mut entry = base(&self.run, self.clock, "end", item);
        let state = |v: &Option<Value>| v.as_ref().map_or(Value::Null, without_secret);
        entry["before"] = state(&outcome.before);
        entry["after"] = state(&outcome.after);
        entry["outcome"] = json!(outcome.status);
        entry["message"] = json!(outcome.message);
        entry["delivered_to"] = json!(outcome.delivered_to);
        entry["escrow"] = json!(outcome.escrow.as_ref().map(|p| p.display().to_string()));
        entry["new_token_id"] = json!(outcome.new_token_id);
        self.append(&entry)
    }
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
