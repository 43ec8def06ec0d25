//! Scan history through the binary (issue 15): record, changes since the previous scan in
//! every format, partial scans, SLA deadlines, the history gate, `history` list/diff/prune/
//! report, concurrent writers, a database newer than the binary. Every test of the suite
//! runs against SQLite and against a real PostgreSQL server (`TOKENWARDEN_TEST_POSTGRES`, or
//! a throwaway cluster started here); without one the PostgreSQL run says it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

const T1: &str = "2026-11-01T00:00:00Z";
const T2: &str = "2026-11-15T00:00:00Z";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const LEGACY: &str = "a519d449d3fe339d179c42578c4e1a9f";
const DNS: &str = "eb9f40546feb7ff55315e0a403ca7a43";

fn snapshot() -> Value {
    serde_json::from_str(&std::fs::read_to_string(example_snapshot()).unwrap()).unwrap()
}

fn user_token<'a>(s: &'a mut Value, id: &str) -> &'a mut Value {
    s["user"]["tokens"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["id"] == id)
        .unwrap()
}

/// The example estate two weeks later: the scanner token gained Zone Write and lost its IP
/// condition and expiry, the DNS token's secret was rolled, the legacy token was deleted.
fn later() -> Value {
    let mut s = snapshot();
    let t = user_token(&mut s, SCANNER);
    t["policies"][0]["permission_groups"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "e6d2666161e84845a636613608cee8d5", "name": "Zone Write"}));
    t.as_object_mut().unwrap().remove("condition");
    t["expires_on"] = Value::Null;
    user_token(&mut s, DNS)["modified_on"] = json!("2026-11-10T00:00:00Z");
    s["user"]["tokens"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["id"] != LEGACY);
    s
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p
}

fn scan(db: &str, snap: &Path, now: &str, extra: &[&str]) -> Tw {
    tw().args(["scan", "--snapshot"])
        .arg(snap)
        .args(["--history", db, "--now", now])
        .args(extra)
}

/// A PostgreSQL server for the suite: `TOKENWARDEN_TEST_POSTGRES`, else a throwaway cluster.
struct Postgres {
    url: String,
    data: Option<(PathBuf, tempfile::TempDir)>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((bin, dir)) = &self.data {
            let _ = as_postgres_user(&bin.join("pg_ctl"))
                .args(["stop", "-m", "immediate", "-D"])
                .arg(dir.path().join("data"))
                .output();
        }
    }
}

fn postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("initdb"))
            .find(|p| p.exists())
    });
    let debian = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.flatten()
            .map(|e| e.path().join("bin/initdb"))
            .find(|p| p.exists())
    });
    on_path
        .or(debian)
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid() == 0
    }
}

/// PostgreSQL refuses to run as root: as root, run it as `nobody`.
fn as_postgres_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A server for the suite, or why none could be started. Eight tests start clusters at
/// once; a start that fails is tried again once before the reason is reported.
fn postgres() -> Result<Postgres, String> {
    if let Ok(url) = std::env::var("TOKENWARDEN_TEST_POSTGRES") {
        return Ok(Postgres { url, data: None });
    }
    let bin = postgres_bin().ok_or("no initdb on PATH or under /usr/lib/postgresql")?;
    match start_postgres(&bin) {
        Ok(pg) => Ok(pg),
        Err(first) => start_postgres(&bin)
            .map_err(|second| format!("first start: {first}\nsecond start: {second}")),
    }
}

fn start_postgres(bin: &Path) -> Result<Postgres, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .map_err(|e| format!("chmod {}: {e}", dir.path().display()))?;
    }
    let data = dir.path().join("data");
    let run = |mut c: Command, what: &str| -> Result<(), String> {
        let out = c.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} exited {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let mut initdb = as_postgres_user(&bin.join("initdb"));
    initdb
        .args(["-A", "trust", "-U", "warden", "-D"])
        .arg(&data);
    run(initdb, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("picking a port: {e}"))?
        .port();
    let opts = format!(
        "-c listen_addresses='' -c unix_socket_directories='{}' -p {port}",
        dir.path().display()
    );
    let log = dir.path().join("log");
    let mut pg_ctl = as_postgres_user(&bin.join("pg_ctl"));
    pg_ctl
        .args(["start", "-w", "-D"])
        .arg(&data)
        .args(["-l"])
        .arg(&log)
        .args(["-o", &opts]);
    if let Err(e) = run(pg_ctl, "pg_ctl start") {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("{e}\nserver log:\n{log}"));
    }
    // The password is ignored (trust), and must never be echoed.
    let url = format!(
        "postgres://warden:hunter2-secret@localhost:{port}/postgres?host={}",
        dir.path().display()
    );
    Ok(Postgres {
        url,
        data: Some((bin.to_path_buf(), dir)),
    })
}

/// Makes fresh, empty history databases of one kind.
struct Fresh<'a> {
    dir: &'a Path,
    pg: Option<&'a Postgres>,
    name: &'a str,
    n: std::cell::Cell<usize>,
}

impl Fresh<'_> {
    fn db(&self) -> String {
        let n = self.n.get() + 1;
        self.n.set(n);
        match self.pg {
            None => self
                .dir
                .join(format!("history-{n}.db"))
                .display()
                .to_string(),
            Some(pg) => {
                let dbname = format!("tw_{}_{}_{n}", self.name, std::process::id());
                let mut admin = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {dbname}"))
                    .unwrap();
                admin
                    .batch_execute(&format!("CREATE DATABASE {dbname}"))
                    .unwrap();
                pg.url.replacen("/postgres?", &format!("/{dbname}?"), 1)
            }
        }
    }
}

/// Run `test` against fresh SQLite files and fresh PostgreSQL databases.
fn on_both(name: &str, test: impl Fn(&Fresh<'_>, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    let fresh = Fresh {
        dir: dir.path(),
        pg: None,
        name,
        n: Default::default(),
    };
    test(&fresh, dir.path());
    let pg = match postgres() {
        Ok(pg) => pg,
        Err(why) => {
            // CI installs PostgreSQL and sets this: there, a skip would hide a broken half.
            assert!(
                std::env::var_os("TOKENWARDEN_REQUIRE_POSTGRES").is_none(),
                "history::{name}: TOKENWARDEN_REQUIRE_POSTGRES is set but no PostgreSQL server could be started: {why}"
            );
            eprintln!("history::{name}: PostgreSQL run skipped: {why} (set TOKENWARDEN_TEST_POSTGRES or install initdb/pg_ctl)");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = Fresh {
        dir: dir.path(),
        pg: Some(&pg),
        name,
        n: Default::default(),
    };
    test(&fresh, dir.path());
}

fn no_password(out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("hunter2"), "a password was echoed:\n{text}");
    }
}

#[test]
fn changes_since_the_previous_scan_in_every_format() {
    on_both("changes", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        let s2 = write(dir, "s2.json", &later());
        let first = scan(db, &s1, T1, &["--format", "json", "--fail-on", "never"]).run();
        no_password(&first);
        let j = first.json();
        assert_eq!(j["history"]["previous_scan"], Value::Null);
        assert_eq!(j["summary"]["new"], j["findings"].as_array().unwrap().len());
        let second = scan(db, &s2, T2, &["--format", "json", "--fail-on", "never"]).run();
        no_password(&second);
        let j = second.json();
        let h = &j["history"];
        assert_eq!(h["previous_scan"]["at"], T1);
        let tokens = h["tokens"].as_array().unwrap();
        let change = |id: &str| tokens.iter().find(|t| t["token_id"] == id).unwrap().clone();
        assert_eq!(change(LEGACY)["events"], json!(["deleted"]));
        assert_eq!(change(DNS)["events"], json!(["rolled"]));
        let drift = change(SCANNER);
        assert_eq!(drift["events"], json!(["drifted"]));
        let lines: Vec<&str> = drift["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert!(
            lines.iter().any(|l| l.starts_with("+ \"Zone Write\" on ")),
            "{lines:?}"
        );
        assert!(lines.contains(&"- condition.request_ip.in"), "{lines:?}");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("expires_on ") && l.ends_with("→ null")));
        assert_eq!(h["drifted"], 1);
        assert!(h["resolved"].as_u64().unwrap() >= 1);
        assert!(h["resolved_findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["token_id"] == LEGACY));
        // Every open finding has its lifecycle; an old one keeps its first-seen time.
        for f in j["findings"].as_array().unwrap() {
            let life = &f["history"];
            assert!(life["first_seen"].is_string(), "{f}");
            if life["status"] == "open" {
                assert_eq!(life["first_seen"], T1);
                assert_eq!(life["age_days"], 14);
            }
        }
        // The same changes in the other formats (each on a history holding the first scan).
        let seeded = || {
            let db = fresh.db();
            scan(&db, &s1, T1, &["--fail-on", "never"]).run();
            db
        };
        let table = scan(&seeded(), &s2, T2, &["--fail-on", "never"]).run();
        assert!(table.stdout.contains("CHANGED TOKENS"), "{}", table.stdout);
        assert!(table.stdout.contains("- condition.request_ip.in"));
        assert!(table.stdout.contains("RESOLVED"));
        let md = scan(
            &seeded(),
            &s2,
            T2,
            &["--format", "markdown", "--fail-on", "never"],
        )
        .run();
        assert!(
            md.stdout.contains("### Changes since the previous scan"),
            "{}",
            md.stdout
        );
        assert!(md.stdout.contains("Open since"));
        let sarif = scan(
            &seeded(),
            &s2,
            T2,
            &["--format", "sarif", "--fail-on", "never"],
        )
        .run();
        let s = sarif.json();
        assert_eq!(s["runs"][0]["properties"]["history"]["drifted"], 1);
        let props = &s["runs"][0]["results"][0]["properties"];
        assert!(
            props["first_seen"].is_string() && props["overdue"].is_boolean(),
            "{props}"
        );
        no_password(&sarif);
    });
}

#[test]
fn a_scope_not_evaluated_yields_no_deletions_or_resolutions() {
    on_both("partial", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        let mut partial = later();
        let user_tokens = partial["user"]["tokens"].take();
        assert!(user_tokens.as_array().is_some());
        partial["user"]["tokens"] = json!([]);
        partial["not_evaluated"] = json!([{"scope": "user/tokens", "reason": "403"}]);
        let s2 = write(dir, "s2.json", &partial);
        scan(db, &s1, T1, &["--fail-on", "never"]).run();
        let j = scan(db, &s2, T2, &["--format", "json", "--fail-on", "never"])
            .code(3)
            .run()
            .json();
        let h = &j["history"];
        assert_eq!(h["resolved"], 0, "{h}");
        assert!(
            h["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["events"] != json!(["deleted"])),
            "{h}"
        );
        // The next full scan compares with what was last known: the legacy token's
        // deletion shows then.
        let s3 = write(dir, "s3.json", &later());
        let j = scan(
            db,
            &s3,
            "2026-11-16T00:00:00Z",
            &["--format", "json", "--fail-on", "never"],
        )
        .run()
        .json();
        let tokens = j["history"]["tokens"].as_array().unwrap().clone();
        assert!(
            tokens
                .iter()
                .any(|t| t["token_id"] == LEGACY && t["events"] == json!(["deleted"])),
            "{tokens:?}"
        );
        // The user's findings carried over the partial scan keep their first-seen time.
        let carried: Vec<&Value> = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["owner"]["kind"] == "user" && f["history"]["status"] == "open")
            .collect();
        assert!(!carried.is_empty());
        assert!(
            carried.iter().all(|f| f["history"]["first_seen"] == T1),
            "{carried:?}"
        );
    });
}

#[test]
fn the_gate_fails_on_drift_new_findings_or_overdue_alone() {
    on_both("gate", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        let s2 = write(dir, "s2.json", &later());
        let policy = dir.join("policy.toml");
        std::fs::write(
            &policy,
            "[gate]\nfail_on = \"never\"\nfail_on_overdue = true\n[sla]\nhigh = 7\n",
        )
        .unwrap();
        let seeded = || {
            let db = fresh.db();
            scan(&db, &s1, T1, &["--fail-on", "never"]).run();
            db
        };
        scan(db, &s1, T1, &["--fail-on", "never"]).run();
        // Without a history flag the gate is off.
        scan(&seeded(), &s2, T2, &["--fail-on", "never"])
            .code(0)
            .run();
        let drift = ["--fail-on", "never", "--fail-on-drift"];
        scan(&seeded(), &s2, T2, &drift).code(1).run();
        // Once recorded, the drift is not new: the next scan passes.
        scan(db, &s2, T2, &["--fail-on", "never"]).run();
        scan(db, &s2, T2, &drift).code(0).run();
        // Only new findings count: the new ones are high, so fail on high fails...
        let only_new = |level| ["--fail-on", level, "--fail-on-new"];
        scan(&seeded(), &s2, T2, &only_new("high")).code(1).run();
        // ...and nothing new is critical, while an old critical finding is there.
        scan(&seeded(), &s2, T2, &only_new("critical"))
            .code(0)
            .run();
        scan(&seeded(), &s1, T2, &["--fail-on", "critical"])
            .code(1)
            .run();
        // Two weeks open with a 7-day deadline: overdue.
        let out = tw()
            .args(["scan", "--snapshot"])
            .arg(&s2)
            .args(["--history", db, "--now", T2, "--format", "json", "--policy"])
            .arg(&policy)
            .code(1)
            .run();
        let j = out.json();
        assert!(j["summary"]["overdue"].as_u64().unwrap() > 0);
        let overdue: Vec<&Value> = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["history"]["overdue"] == true)
            .collect();
        assert!(overdue
            .iter()
            .all(|f| f["severity"] == "high" && f["history"]["due"] == "2026-11-08T00:00:00Z"));
    });
}

#[test]
fn history_lists_diffs_prunes_and_reports() {
    on_both("list", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        let s2 = write(dir, "s2.json", &later());
        scan(db, &s1, T1, &["--fail-on", "never"]).run();
        scan(db, &s2, T2, &["--fail-on", "never"]).run();
        let out = tw()
            .args(["history", "--history", db, "--format", "json"])
            .run();
        no_password(&out);
        let scans = out.json()["scans"].as_array().unwrap().clone();
        assert_eq!(scans.len(), 2);
        assert_eq!(scans[1]["drifted"], 1);
        assert!(scans[1]["resolved"].as_u64().unwrap() > 0);
        let (a, b) = (scans[0]["id"].to_string(), scans[1]["id"].to_string());
        let since = tw()
            .args([
                "history",
                "--history",
                db,
                "--since",
                "2026-11-10",
                "--format",
                "json",
            ])
            .run()
            .json();
        assert_eq!(since["scans"].as_array().unwrap().len(), 1);
        let table = tw().args(["history", "--history", db]).run();
        assert!(table.stdout.contains("DRIFTED"), "{}", table.stdout);
        let diff = tw()
            .args(["history", "--history", db, "diff", &a, &b])
            .run();
        assert!(
            diff.stdout.contains("- condition.request_ip.in"),
            "{}",
            diff.stdout
        );
        let diff = tw()
            .args([
                "history",
                "--history",
                db,
                "--format",
                "json",
                "diff",
                &a,
                &b,
            ])
            .run()
            .json();
        assert_eq!(diff["drifted"], 1);
        tw().args(["history", "--history", db, "diff", &a, "999"])
            .code(2)
            .run();
        // The dashboard, from `history report` and from `scan --format html`.
        let html = dir.join("dash.html");
        tw().args([
            "history",
            "--history",
            db,
            "--now",
            T2,
            "report",
            "--output",
        ])
        .arg(&html)
        .run();
        assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));
        let out = scan(
            db,
            &s2,
            "2026-11-16T00:00:00Z",
            &["--format", "html", "--fail-on", "never"],
        )
        .run();
        assert!(out.stdout.contains("<html"));
        // Prune keeps the latest scan of the scope, and says what it removed.
        let pruned = tw()
            .args([
                "history",
                "--history",
                db,
                "--now",
                "2027-06-01T00:00:00Z",
                "prune",
                "--keep",
                "30",
            ])
            .run();
        assert!(
            pruned
                .stdout
                .starts_with("pruned 2 scans recorded before 2027-05-02T00:00:00Z from "),
            "{}",
            pruned.stdout
        );
        no_password(&pruned);
        let scans = tw()
            .args(["history", "--history", db, "--format", "json"])
            .run()
            .json()["scans"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0]["at"], "2026-11-16T00:00:00Z");
        // And the next scan still compares with it.
        let j = scan(
            db,
            &s1,
            "2027-06-01T00:00:00Z",
            &["--format", "json", "--fail-on", "never"],
        )
        .run()
        .json();
        assert_eq!(j["history"]["previous_scan"]["at"], "2026-11-16T00:00:00Z");
    });
}

#[test]
fn two_scans_recording_at_once_both_land() {
    on_both("concurrent", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        let children: Vec<_> = (0..2)
            .map(|i| {
                scan(
                    db,
                    &s1,
                    &format!("2026-11-0{}T00:00:00Z", i + 1),
                    &["--fail-on", "never", "--format", "json"],
                )
                .spawn(std::process::Stdio::null(), std::process::Stdio::piped())
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let scans = tw()
            .args(["history", "--history", db, "--format", "json"])
            .run()
            .json()["scans"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(scans.len(), 2);
    });
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    on_both("too_new", |fresh, dir| {
        let db = &fresh.db();
        let s1 = write(dir, "s1.json", &snapshot());
        scan(db, &s1, T1, &["--fail-on", "never"]).run();
        let sql = "INSERT INTO tokenwarden_schema (version, applied_at) VALUES (99, 'future')";
        if db.starts_with("postgres") {
            postgres::Client::connect(db, postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap();
        } else {
            rusqlite::Connection::open(db)
                .unwrap()
                .execute_batch(sql)
                .unwrap();
        }
        let out = scan(db, &s1, T2, &[]).code(2).run();
        assert!(out.stderr.contains("schema version 99"), "{}", out.stderr);
        no_password(&out);
        tw().args(["history", "--history", db]).code(2).run();
    });
}

#[test]
fn html_needs_a_history_and_history_needs_a_database() {
    tw().args(["scan", "--format", "html"])
        .arg("--snapshot")
        .arg(example_snapshot())
        .code(2)
        .run();
    let out = tw()
        .args(["history"])
        .env("TOKENWARDEN_HISTORY", "")
        .code(2)
        .run();
    assert!(out.stderr.contains("--history"), "{}", out.stderr);
}

#[test]
fn the_policy_validates_sla_and_history_gate_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "[sla]\nhigh = 0\nurgent = 3\n[gate]\nfail_on_drift = \"yes\"\n",
    )
    .unwrap();
    let out = tw()
        .args(["scan", "--snapshot"])
        .arg(example_snapshot())
        .arg("--policy")
        .arg(&p)
        .code(2)
        .run();
    for key in ["sla.high", "sla.urgent", "gate.fail_on_drift"] {
        assert!(out.stderr.contains(key), "{key}: {}", out.stderr);
    }
}
