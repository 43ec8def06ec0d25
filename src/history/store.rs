//! Where the history lives: SQLite (a file path) or PostgreSQL (a `postgres://` URL) behind
//! one small [`Backend`] trait, the versioned schema, and the few reads and writes history
//! needs. The same SQL runs on both (`$n` placeholders, `ON CONFLICT DO NOTHING`,
//! `RETURNING`); only the id column differs.
//!
//! Token states are stored once per distinct state (by content hash) and each scan points
//! at the states it saw, so a year of nightly scans of an unchanged estate costs one small
//! row per token per night. Finding identities are stored once too.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::drift::{Covered, TokenChange, TokenEvent};
use super::lifecycle::RecordedFinding;
use super::record::{RecordToken, ScanRecord};
use super::state::TokenState;
use crate::finding::Severity;
use crate::inventory::NotEvaluated;
use crate::scope::Owner;

/// One value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Val {
    fn int(&self) -> i64 {
        match self {
            Val::Int(Some(i)) => *i,
            Val::Text(Some(s)) => s.parse().unwrap_or_default(),
            _ => 0,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Val::Text(t) => t.clone(),
            Val::Int(i) => i.map(|i| i.to_string()),
        }
    }

    fn string(&self) -> String {
        self.text().unwrap_or_default()
    }
}

/// Column `i`'s text, moved out of a streamed row (left `NULL`).
fn take(r: &mut [Val], i: usize) -> Option<String> {
    match r.get_mut(i).map(|v| std::mem::replace(v, Val::Text(None))) {
        Some(Val::Text(t)) => t,
        Some(v) => v.text(),
        None => None,
    }
}

fn int(i: impl TryInto<i64>) -> Val {
    Val::Int(Some(i.try_into().unwrap_or(i64::MAX)))
}

fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}

/// An error from the database driver; `busy` when another writer held the lock.
#[derive(Debug, Clone)]
pub struct DbError {
    pub message: String,
    pub busy: bool,
}

/// The little a history needs from a SQL database.
pub trait Backend: Send {
    fn is_postgres(&self) -> bool;
    /// Several statements, no parameters.
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Start a write transaction (SQLite takes the write lock now).
    fn begin(&mut self) -> Result<(), DbError>;
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError>;
    /// Hand each result row to `row` as it is read: a 300k-finding scan is never held as
    /// rows of values, only as what `row` makes of them.
    fn each_row(
        &mut self,
        sql: &str,
        params: &[Val],
        row: &mut dyn FnMut(&mut Vec<Val>) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        let mut out = Vec::new();
        self.each_row(sql, params, &mut |r| {
            out.push(std::mem::take(r));
            Ok(())
        })?;
        Ok(out)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open the history {db}: {message}")]
    Open { db: String, message: String },
    #[error("the history {db} has schema version {found}, newer than this tokenwarden understands ({supported}); upgrade tokenwarden, or record into another database")]
    TooNew {
        db: String,
        found: i64,
        supported: i64,
    },
    #[error("history {db}: {message}")]
    Query { db: String, message: String },
    #[error("history {db}: scan {id} is not recorded")]
    NoScan { db: String, id: i64 },
    #[error("history {db}: {message}")]
    Corrupt { db: String, message: String },
}

/// The schema's versions, oldest first: (version, SQL). `{id}` is the backend's
/// auto-increment key column.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE scans (
        id {id},
        at BIGINT NOT NULL,
        scope TEXT NOT NULL,
        source TEXT NOT NULL,
        policy_digest TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        covered TEXT NOT NULL,
        not_evaluated TEXT NOT NULL,
        tokens BIGINT NOT NULL,
        critical BIGINT NOT NULL,
        high BIGINT NOT NULL,
        medium BIGINT NOT NULL,
        low BIGINT NOT NULL,
        new_findings BIGINT NOT NULL,
        resolved BIGINT NOT NULL,
        drifted BIGINT NOT NULL,
        overdue BIGINT NOT NULL
    );
    CREATE INDEX scans_scope_at ON scans (scope, at, id);
    CREATE INDEX scans_at ON scans (at);
    CREATE TABLE token_states (
        id {id},
        hash TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        token_id TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE TABLE scan_tokens (
        scan_id BIGINT NOT NULL,
        state_id BIGINT NOT NULL,
        last_used_on TEXT,
        carried BIGINT NOT NULL,
        PRIMARY KEY (scan_id, state_id)
    );
    CREATE INDEX scan_tokens_state ON scan_tokens (state_id);
    CREATE TABLE finding_keys (
        id {id},
        fingerprint TEXT NOT NULL UNIQUE,
        rule_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        token_id TEXT NOT NULL
    );
    CREATE TABLE scan_findings (
        scan_id BIGINT NOT NULL,
        finding_id BIGINT NOT NULL,
        severity TEXT NOT NULL,
        token_name TEXT,
        exempted BIGINT NOT NULL,
        first_seen BIGINT NOT NULL,
        carried BIGINT NOT NULL,
        PRIMARY KEY (scan_id, finding_id)
    );
    CREATE INDEX scan_findings_finding ON scan_findings (finding_id);
    CREATE TABLE scan_changes (
        scan_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        owner TEXT NOT NULL,
        token_id TEXT NOT NULL,
        token_name TEXT,
        events TEXT NOT NULL,
        changes TEXT NOT NULL,
        PRIMARY KEY (scan_id, seq)
    );",
)];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 1;

/// A database location as it may be shown: a `postgres://` URL without its password.
pub fn redact(location: &str) -> String {
    if is_postgres_url(location) {
        match url::Url::parse(location) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                // A password may also ride in the query (`?password=`).
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k.eq_ignore_ascii_case("password") {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                if !pairs.is_empty() {
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                }
                u.to_string()
            }
            Err(_) => "a postgres:// URL".to_string(),
        }
    } else {
        location.to_string()
    }
}

pub fn is_postgres_url(location: &str) -> bool {
    let l = location.to_ascii_lowercase();
    l.starts_with("postgres://") || l.starts_with("postgresql://")
}

/// One recorded scan, as `history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub scope: String,
    pub source: String,
    pub policy_digest: String,
    pub tool_version: String,
    pub tokens: i64,
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub new: i64,
    pub resolved: i64,
    pub drifted: i64,
    pub overdue: i64,
    pub not_evaluated: Vec<NotEvaluated>,
}

/// One token a scan holds, without its state: enough to tell whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedToken {
    /// `user` or `accounts/<id>`.
    pub owner: String,
    pub token_id: String,
    pub hash: String,
    pub last_used_on: Option<String>,
}

/// What was recorded for one scan, loaded back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub summary: ScanSummary,
    pub covered: Covered,
    /// Every token the record holds (carried ones included).
    pub index: Vec<IndexedToken>,
    /// Full states: of every token from [`Store::load`]; from [`Store::previous`] only of
    /// those asked for (the ones whose state differs from the current scan's).
    pub tokens: Vec<TokenState>,
    pub findings: Vec<RecordedFinding>,
}

/// A recorded drift entry (the dashboard's "recent drift").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChange {
    pub scan_id: i64,
    pub at: DateTime<Utc>,
    pub change: TokenChange,
}

/// An open history database.
pub struct Store {
    db: Box<dyn Backend>,
    /// The location, safe to show.
    name: String,
    /// Row ids of the token states and finding keys of the last scan loaded, by hash and by
    /// fingerprint: a nightly scan mostly records what the previous one did, and need not
    /// look those up again. (Prune keeps the latest scan of every scope, and with it these.)
    known_states: HashMap<String, i64>,
    known_findings: HashMap<String, i64>,
}

/// Rows per multi-row INSERT or `IN (…)` list: far under SQLite's and PostgreSQL's
/// parameter limits, and few statements (round trips, for PostgreSQL) per scan.
const CHUNK: usize = 200;

const SCAN_COLUMNS: &str = "id, at, scope, source, policy_digest, tool_version, tokens, critical, high, medium, low, new_findings, resolved, drifted, overdue, not_evaluated";

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Store {
    /// Open (creating a SQLite file if needed) and bring the schema up to date. A database
    /// whose schema is newer than this binary is refused.
    pub fn open(location: &str) -> Result<Store, HistoryError> {
        let name = redact(location);
        let open_err = |e: DbError| HistoryError::Open {
            db: name.clone(),
            message: e.message,
        };
        let db: Box<dyn Backend> = if is_postgres_url(location) {
            Box::new(super::pg::Postgres::open(location).map_err(open_err)?)
        } else {
            Box::new(super::sqlite::Sqlite::open(&PathBuf::from(location)).map_err(open_err)?)
        };
        let mut store = Store {
            db,
            name,
            known_states: HashMap::new(),
            known_findings: HashMap::new(),
        };
        let found = store.with_retry(|s| s.migrate())?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::TooNew {
                db: store.name,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// The location, without a password.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, e: DbError) -> HistoryError {
        HistoryError::Query {
            db: self.name.clone(),
            message: e.message,
        }
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, HistoryError> {
        self.db.query(sql, params).map_err(|e| self.err(e))
    }

    /// Run `f` in one transaction; a busy database (another writer) is retried a few times.
    fn with_retry<T>(
        &mut self,
        mut f: impl FnMut(&mut Store) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.db.begin().and_then(|()| f(self));
            match result {
                Ok(v) => match self.db.batch("COMMIT") {
                    Ok(()) => return Ok(v),
                    Err(e) if e.busy && attempt < 8 => {
                        let _ = self.db.batch("ROLLBACK");
                    }
                    Err(e) => {
                        let _ = self.db.batch("ROLLBACK");
                        return Err(self.err(e));
                    }
                },
                Err(e) => {
                    let _ = self.db.batch("ROLLBACK");
                    if !(e.busy && attempt < 8) {
                        return Err(self.err(e));
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
        }
    }

    fn migrate(&mut self) -> Result<i64, DbError> {
        if self.db.is_postgres() {
            // Two jobs opening a fresh database at once: one migrates, the other waits.
            self.db.exec("SELECT pg_advisory_xact_lock(7461636)", &[])?;
        }
        self.db.batch(
            "CREATE TABLE IF NOT EXISTS tokenwarden_schema (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )?;
        let rows = self
            .db
            .query("SELECT MAX(version) FROM tokenwarden_schema", &[])?;
        let current = rows.first().and_then(|r| r.first()).map_or(0, Val::int);
        if current > SCHEMA_VERSION {
            return Ok(current);
        }
        let id = if self.db.is_postgres() {
            "BIGSERIAL PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        };
        for (version, sql) in MIGRATIONS {
            if *version > current {
                self.db.batch(&sql.replace("{id}", id))?;
                self.db.exec(
                    "INSERT INTO tokenwarden_schema (version, applied_at) VALUES ($1, $2)",
                    &[int(*version), text(env!("CARGO_PKG_VERSION"))],
                )?;
            }
        }
        Ok(current)
    }

    /// The schema version of the database.
    pub fn schema_version(&mut self) -> Result<i64, HistoryError> {
        let rows = self.query("SELECT MAX(version) FROM tokenwarden_schema", &[])?;
        Ok(rows.first().and_then(|r| r.first()).map_or(0, Val::int))
    }

    /// The latest scan of `scope` at or before `at`.
    pub fn previous(
        &mut self,
        scope: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Recorded>, HistoryError> {
        let rows = self.query(
            "SELECT id FROM scans WHERE scope = $1 AND at <= $2 ORDER BY at DESC, id DESC LIMIT 1",
            &[text(scope), int(at.timestamp())],
        )?;
        match rows.first().and_then(|r| r.first()) {
            None => Ok(None),
            Some(id) => self.read(id.int(), |_| false).map(Some),
        }
    }

    /// The full states of the recorded tokens whose hash is in `hashes`, into `rec.tokens`.
    pub fn add_states(
        &mut self,
        rec: &mut Recorded,
        hashes: &[String],
    ) -> Result<(), HistoryError> {
        let name = self.name.clone();
        for chunk in hashes.chunks(CHUNK) {
            let values: Vec<Val> = chunk.iter().map(|h| text(h.as_str())).collect();
            let rows = select_in(
                self.db.as_mut(),
                "SELECT id, hash, state FROM token_states WHERE hash IN",
                &values,
            )
            .map_err(|e| self.err(e))?;
            let states = parse_states(&rows).map_err(|e| HistoryError::Corrupt {
                db: name.clone(),
                message: format!("scan {}: token state: {e}", rec.summary.id),
            })?;
            rec.tokens.extend(states);
        }
        let used: HashMap<(String, &str), Option<&String>> = rec
            .index
            .iter()
            .map(|t| {
                (
                    (t.owner.clone(), t.token_id.as_str()),
                    t.last_used_on.as_ref(),
                )
            })
            .collect();
        for t in &mut rec.tokens {
            if let Some(u) = used.get(&(t.owner.path(), t.id.as_str())) {
                t.last_used_on = u.cloned();
            }
        }
        rec.tokens.sort_by_cached_key(TokenState::key);
        Ok(())
    }

    fn summary_of(&self, r: &[Val]) -> Result<ScanSummary, HistoryError> {
        let get = |i: usize| r.get(i).cloned().unwrap_or(Val::Int(None));
        let not_evaluated =
            serde_json::from_str(&get(15).string()).map_err(|e| HistoryError::Corrupt {
                db: self.name.clone(),
                message: format!("scan {}: not_evaluated: {e}", get(0).int()),
            })?;
        Ok(ScanSummary {
            id: get(0).int(),
            at: time(get(1).int()),
            scope: get(2).string(),
            source: get(3).string(),
            policy_digest: get(4).string(),
            tool_version: get(5).string(),
            tokens: get(6).int(),
            critical: get(7).int(),
            high: get(8).int(),
            medium: get(9).int(),
            low: get(10).int(),
            new: get(11).int(),
            resolved: get(12).int(),
            drifted: get(13).int(),
            overdue: get(14).int(),
            not_evaluated,
        })
    }

    /// Every scan at or after `since` (of `scope`, when given), oldest first.
    pub fn list(
        &mut self,
        since: Option<DateTime<Utc>>,
        scope: Option<&str>,
    ) -> Result<Vec<ScanSummary>, HistoryError> {
        let since = int(since.map_or(i64::MIN, |t| t.timestamp()));
        let rows = match scope {
            Some(s) => self.query(
                &format!("SELECT {SCAN_COLUMNS} FROM scans WHERE at >= $1 AND scope = $2 ORDER BY at, id"),
                &[since, text(s)],
            )?,
            None => self.query(
                &format!("SELECT {SCAN_COLUMNS} FROM scans WHERE at >= $1 ORDER BY at, id"),
                &[since],
            )?,
        };
        rows.iter().map(|r| self.summary_of(r)).collect()
    }

    /// Everything recorded for scan `id`.
    pub fn load(&mut self, id: i64) -> Result<Recorded, HistoryError> {
        self.read(id, |_| true)
    }

    /// Scan `id` with the full states of the tokens `want` picks.
    fn read(
        &mut self,
        id: i64,
        want: impl Fn(&IndexedToken) -> bool,
    ) -> Result<Recorded, HistoryError> {
        let rows = self.query(
            &format!("SELECT {SCAN_COLUMNS}, covered FROM scans WHERE id = $1"),
            &[int(id)],
        )?;
        let Some(row) = rows.first() else {
            return Err(HistoryError::NoScan {
                db: self.name.clone(),
                id,
            });
        };
        let summary = self.summary_of(row)?;
        let name = self.name.clone();
        let corrupt = |what: &str, e: serde_json::Error| HistoryError::Corrupt {
            db: name.clone(),
            message: format!("scan {id}: {what}: {e}"),
        };
        let covered: Covered =
            serde_json::from_str(&row.get(16).map(Val::string).unwrap_or_default())
                .map_err(|e| corrupt("covered", e))?;
        let mut known = HashMap::new();
        let mut index = Vec::new();
        self.db
            .each_row(
                "SELECT ts.id, ts.hash, ts.owner, ts.token_id, st.last_used_on FROM scan_tokens st JOIN token_states ts ON ts.id = st.state_id WHERE st.scan_id = $1",
                &[int(id)],
                &mut |r| {
                    let t = IndexedToken {
                        hash: take(r, 1).unwrap_or_default(),
                        owner: take(r, 2).unwrap_or_default(),
                        token_id: take(r, 3).unwrap_or_default(),
                        last_used_on: take(r, 4),
                    };
                    known.insert(t.hash.clone(), r.first().map_or(0, Val::int));
                    index.push(t);
                    Ok(())
                },
            )
            .map_err(|e| self.err(e))?;
        self.known_states = known;
        let wanted: Vec<String> = index
            .iter()
            .filter(|t| want(t))
            .map(|t| t.hash.clone())
            .collect();
        // Streamed: each row becomes its finding as it is read.
        let mut known = HashMap::new();
        let mut findings = Vec::new();
        // A scan's findings have few distinct owners: each is parsed once.
        let mut owners: HashMap<String, Owner> = HashMap::new();
        let mut bad = None;
        let read = self.db.each_row(
            "SELECT fk.fingerprint, fk.rule_id, fk.owner, fk.token_id, sf.severity, sf.token_name, sf.exempted, sf.first_seen, fk.id FROM scan_findings sf JOIN finding_keys fk ON fk.id = sf.finding_id WHERE sf.scan_id = $1",
            &[int(id)],
            &mut |r| match finding_of(r, &mut owners) {
                Ok(f) => {
                    known.insert(f.fingerprint.clone(), r.get(8).map_or(0, Val::int));
                    findings.push(f);
                    Ok(())
                }
                Err(message) => {
                    bad = Some(message);
                    Err(DbError {
                        message: String::new(),
                        busy: false,
                    })
                }
            },
        );
        if let Some(message) = bad {
            return Err(HistoryError::Corrupt {
                db: name,
                message: format!("scan {id}: {message}"),
            });
        }
        read.map_err(|e| self.err(e))?;
        self.known_findings = known;
        // Keys made once per finding, not twice per comparison.
        findings.sort_by_cached_key(|f| (f.owner.path(), f.token_id.clone(), f.rule_id.clone()));
        let mut rec = Recorded {
            summary,
            covered,
            index,
            tokens: Vec::new(),
            findings,
        };
        self.add_states(&mut rec, &wanted)?;
        Ok(rec)
    }

    /// Which of `fingerprints` any recorded scan holds.
    pub fn seen_before(
        &mut self,
        fingerprints: &[String],
    ) -> Result<BTreeSet<String>, HistoryError> {
        let mut out = BTreeSet::new();
        for chunk in fingerprints.chunks(200) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT fk.fingerprint FROM finding_keys fk WHERE fk.fingerprint IN ({}) AND EXISTS (SELECT 1 FROM scan_findings sf WHERE sf.finding_id = fk.id)",
                placeholders.join(", ")
            );
            let params: Vec<Val> = chunk.iter().map(|f| text(f.as_str())).collect();
            for r in self.query(&sql, &params)? {
                out.insert(r[0].string());
            }
        }
        Ok(out)
    }

    /// Record one scan; returns its id.
    pub fn record(&mut self, rec: &ScanRecord) -> Result<i64, HistoryError> {
        self.with_retry(|s| s.insert(rec))
    }

    fn insert(&mut self, rec: &ScanRecord) -> Result<i64, DbError> {
        let db = &mut self.db;
        let count = |sev: Severity| {
            rec.findings
                .iter()
                .filter(|(f, carried)| !carried && !f.exempted && f.severity == sev)
                .count()
        };
        let ne = serde_json::to_string(&rec.not_evaluated).unwrap_or_else(|_| "[]".into());
        let covered = serde_json::to_string(&rec.covered).unwrap_or_else(|_| "[]".into());
        let rows = db.query(
            "INSERT INTO scans (at, scope, source, policy_digest, tool_version, covered, not_evaluated, tokens, critical, high, medium, low, new_findings, resolved, drifted, overdue) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
            &[
                int(rec.at.timestamp()),
                text(rec.scope.as_str()),
                text(rec.source.as_str()),
                text(rec.policy_digest.as_str()),
                text(rec.tool_version.as_str()),
                text(covered),
                text(ne),
                int(rec.tokens_scanned),
                int(count(Severity::Critical)),
                int(count(Severity::High)),
                int(count(Severity::Medium)),
                int(count(Severity::Low)),
                int(rec.new_findings),
                int(rec.resolved),
                int(rec.drifted),
                int(rec.overdue),
            ],
        )?;
        let scan_id = rows.first().and_then(|r| r.first()).map_or(0, Val::int);
        // Token states: the ids of those already stored, the new ones inserted in bulk.
        let mut state_ids = std::mem::take(&mut self.known_states);
        let mut missing: Vec<&RecordToken> = {
            let mut seen = BTreeSet::new();
            rec.tokens
                .iter()
                .filter(|t| !state_ids.contains_key(&t.hash) && seen.insert(t.hash.as_str()))
                .filter(|t| t.state.is_some())
                .collect()
        };
        // In key order, each insert appends to the UNIQUE index instead of splitting pages
        // at random: a first recording of 100k tokens spends a third less time here.
        missing.sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
        let db = &mut self.db;
        for chunk in missing.chunks(CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * 4);
            for t in chunk {
                let (owner, token_id, json) = t.state.clone().unwrap_or_default();
                rows.extend([
                    text(t.hash.as_str()),
                    text(owner),
                    text(token_id),
                    text(json),
                ]);
            }
            store_keys(
                db.as_mut(),
                ("token_states", "hash, owner, token_id, state", 4),
                &rows,
                &mut state_ids,
            )?;
        }
        // Linked in row-id order (appending to the primary key), each id once (the first
        // token holding it); rows are made a chunk at a time, never all held.
        let mut linked = Vec::with_capacity(rec.tokens.len());
        for t in &rec.tokens {
            let Some(&state_id) = state_ids.get(&t.hash) else {
                return Err(missing_row("token state", &t.hash));
            };
            linked.push((state_id, t));
        }
        linked.sort_by_key(|(id, _)| *id);
        linked.dedup_by_key(|(id, _)| *id);
        for chunk in linked.chunks(CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * 4);
            for (state_id, t) in chunk {
                rows.extend([
                    int(scan_id),
                    int(*state_id),
                    Val::Text(t.last_used_on.clone()),
                    int(i64::from(t.carried)),
                ]);
            }
            insert_rows(
                db.as_mut(),
                "scan_tokens (scan_id, state_id, last_used_on, carried)",
                4,
                &rows,
            )?;
        }
        // Finding identities likewise, then the scan's findings.
        let mut finding_ids = std::mem::take(&mut self.known_findings);
        let mut missing: Vec<&RecordedFinding> = {
            let mut seen = BTreeSet::new();
            rec.findings
                .iter()
                .map(|(f, _)| f)
                .filter(|f| {
                    !finding_ids.contains_key(&f.fingerprint) && seen.insert(f.fingerprint.as_str())
                })
                .collect()
        };
        missing.sort_unstable_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        for chunk in missing.chunks(CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * 4);
            for f in chunk {
                rows.extend([
                    text(f.fingerprint.as_str()),
                    text(f.rule_id.as_str()),
                    text(serde_json::to_string(&f.owner).unwrap_or_default()),
                    text(f.token_id.as_str()),
                ]);
            }
            store_keys(
                db.as_mut(),
                ("finding_keys", "fingerprint, rule_id, owner, token_id", 4),
                &rows,
                &mut finding_ids,
            )?;
        }
        let mut linked = Vec::with_capacity(rec.findings.len());
        for (f, carried) in &rec.findings {
            let Some(&finding_id) = finding_ids.get(&f.fingerprint) else {
                return Err(missing_row("finding", &f.fingerprint));
            };
            linked.push((finding_id, f, *carried));
        }
        linked.sort_by_key(|(id, _, _)| *id);
        linked.dedup_by_key(|(id, _, _)| *id);
        for chunk in linked.chunks(CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * 7);
            for (finding_id, f, carried) in chunk {
                rows.extend([
                    int(scan_id),
                    int(*finding_id),
                    text(f.severity.as_str()),
                    Val::Text(f.token_name.clone()),
                    int(i64::from(f.exempted)),
                    int(f.first_seen.timestamp()),
                    int(i64::from(*carried)),
                ]);
            }
            insert_rows(
                db.as_mut(),
                "scan_findings (scan_id, finding_id, severity, token_name, exempted, first_seen, carried)",
                7,
                &rows,
            )?;
        }
        for (seq, c) in rec.changes.iter().enumerate() {
            let events: Vec<&str> = c.events.iter().map(|e| e.as_str()).collect();
            db.exec(
                "INSERT INTO scan_changes (scan_id, seq, owner, token_id, token_name, events, changes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    int(scan_id),
                    int(seq),
                    text(serde_json::to_string(&c.owner).unwrap_or_default()),
                    text(c.token_id.as_str()),
                    Val::Text(c.token_name.clone()),
                    text(serde_json::to_string(&events).unwrap_or_default()),
                    text(serde_json::to_string(&c.changes).unwrap_or_default()),
                ],
            )?;
        }
        Ok(scan_id)
    }

    /// The token changes recorded by scans of `scope` (all scopes when `None`), newest
    /// first, at most `limit`.
    pub fn recent_changes(
        &mut self,
        scope: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RecordedChange>, HistoryError> {
        let sql = "SELECT s.id, s.at, c.owner, c.token_id, c.token_name, c.events, c.changes FROM scan_changes c JOIN scans s ON s.id = c.scan_id WHERE ($1 = '' OR s.scope = $1) ORDER BY s.at DESC, s.id DESC, c.seq LIMIT $2";
        let rows = self.query(sql, &[text(scope.unwrap_or("")), int(limit)])?;
        let mut out = Vec::new();
        for r in rows {
            let corrupt = |e: serde_json::Error| HistoryError::Corrupt {
                db: self.name.clone(),
                message: format!("scan {}: recorded change: {e}", r[0].int()),
            };
            let owner: Owner = serde_json::from_str(&r[2].string()).map_err(corrupt)?;
            let events: Vec<String> = serde_json::from_str(&r[5].string()).map_err(corrupt)?;
            let changes: Vec<String> = serde_json::from_str(&r[6].string()).map_err(corrupt)?;
            // An event this binary does not know is a corrupt row, never silently dropped.
            let events = events
                .iter()
                .map(|e| {
                    TokenEvent::ALL
                        .into_iter()
                        .find(|k| k.as_str() == e)
                        .ok_or_else(|| HistoryError::Corrupt {
                            db: self.name.clone(),
                            message: format!(
                                "scan {}: recorded change: unknown event {e:?}",
                                r[0].int()
                            ),
                        })
                })
                .collect::<Result<_, _>>()?;
            out.push(RecordedChange {
                scan_id: r[0].int(),
                at: time(r[1].int()),
                change: TokenChange {
                    owner,
                    token_id: r[3].string(),
                    token_name: r[4].text(),
                    events,
                    changes,
                },
            });
        }
        Ok(out)
    }

    /// Delete scans before `before`, except the latest of each scope (the next scan is
    /// compared with it), and whatever only they used. Returns how many scans went.
    pub fn prune(&mut self, before: DateTime<Utc>) -> Result<u64, HistoryError> {
        self.with_retry(|s| {
            let db = &mut s.db;
            let n = db.exec(
                "DELETE FROM scans WHERE at < $1 AND id NOT IN (SELECT MAX(id) FROM scans s WHERE s.at = (SELECT MAX(at) FROM scans t WHERE t.scope = s.scope) GROUP BY s.scope)",
                &[int(before.timestamp())],
            )?;
            db.batch(
                "DELETE FROM scan_tokens WHERE scan_id NOT IN (SELECT id FROM scans);
                 DELETE FROM scan_findings WHERE scan_id NOT IN (SELECT id FROM scans);
                 DELETE FROM scan_changes WHERE scan_id NOT IN (SELECT id FROM scans);
                 DELETE FROM token_states WHERE id NOT IN (SELECT state_id FROM scan_tokens);
                 DELETE FROM finding_keys WHERE id NOT IN (SELECT finding_id FROM scan_findings);",
            )?;
            Ok(n)
        })
    }
}

/// `INSERT INTO table_and_columns VALUES (…), (…)…` for `rows` of `width` values each.
fn insert_sql(table_and_columns: &str, width: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
    for i in 0..rows {
        sql.push_str(if i > 0 { ", (" } else { "(" });
        for j in 1..=width {
            let sep = if j < width { ", " } else { ")" };
            sql.push_str(&format!("${}{sep}", i * width + j));
        }
    }
    sql
}

/// One INSERT of all `rows` (their values in order, `width` a row).
fn insert_rows(
    db: &mut dyn Backend,
    table_and_columns: &str,
    width: usize,
    rows: &[Val],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    db.exec(
        &insert_sql(table_and_columns, width, rows.len() / width),
        rows,
    )
    .map(|_| ())
}

/// Store identity rows (their key first; `(table, columns, width)`) unless stored already,
/// and put each key's row id into `ids`. The ids of the rows inserted come back from the
/// INSERT itself; only keys another scan stored first are looked up.
fn store_keys(
    db: &mut dyn Backend,
    (table, columns, width): (&str, &str, usize),
    rows: &[Val],
    ids: &mut HashMap<String, i64>,
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let key = columns.split(',').next().unwrap_or_default();
    let sql = format!(
        "{} ON CONFLICT ({key}) DO NOTHING RETURNING id, {key}",
        insert_sql(&format!("{table} ({columns})"), width, rows.len() / width)
    );
    db.each_row(&sql, rows, &mut |r| {
        ids.insert(take(r, 1).unwrap_or_default(), r[0].int());
        Ok(())
    })?;
    let rest: Vec<Val> = rows
        .iter()
        .step_by(width)
        .filter(|k| !matches!(k, Val::Text(Some(s)) if ids.contains_key(s)))
        .cloned()
        .collect();
    if !rest.is_empty() {
        let select = format!("SELECT id, {key} FROM {table} WHERE {key} IN");
        for r in select_in(db, &select, &rest)? {
            ids.insert(r[1].string(), r[0].int());
        }
    }
    Ok(())
}

/// `select (…values)`: the rows whose key is one of `values`.
fn select_in(db: &mut dyn Backend, select: &str, values: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    db.query(&format!("{select} ({})", placeholders.join(", ")), values)
}

/// A recorded finding from a `(fingerprint, rule_id, owner, token_id, severity, token_name,
/// exempted, first_seen)` row, its strings moved out of the row; `owners` caches parsed owners.
fn finding_of(
    r: &mut [Val],
    owners: &mut HashMap<String, Owner>,
) -> Result<RecordedFinding, String> {
    let owner_json = take(r, 2).unwrap_or_default();
    let owner = match owners.get(&owner_json) {
        Some(o) => o.clone(),
        None => {
            let o: Owner =
                serde_json::from_str(&owner_json).map_err(|e| format!("finding owner: {e}"))?;
            owners.insert(owner_json, o.clone());
            o
        }
    };
    let severity: Severity = take(r, 4)
        .unwrap_or_default()
        .parse()
        .map_err(|e: crate::finding::UnknownName| e.to_string())?;
    Ok(RecordedFinding {
        fingerprint: take(r, 0).unwrap_or_default(),
        rule_id: take(r, 1).unwrap_or_default(),
        owner,
        token_id: take(r, 3).unwrap_or_default(),
        severity,
        token_name: take(r, 5),
        exempted: r.get(6).map_or(0, Val::int) != 0,
        first_seen: time(r.get(7).map_or(0, Val::int)),
    })
}

fn missing_row(what: &str, key: &str) -> DbError {
    // Another job pruned the row between our read and our write: try the write again.
    DbError {
        message: format!("the {what} row {key} vanished while recording"),
        busy: true,
    }
}

/// Token states from `(id, hash, state, last_used_on)` rows, parsed on every core.
fn parse_states(rows: &[Vec<Val>]) -> Result<Vec<TokenState>, serde_json::Error> {
    let parse = |share: &[Vec<Val>]| -> Result<Vec<TokenState>, serde_json::Error> {
        share
            .iter()
            .map(|r| {
                let mut t: TokenState = serde_json::from_str(&r[2].string())?;
                t.last_used_on = r.get(3).and_then(Val::text);
                Ok(t)
            })
            .collect()
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(rows.len().div_ceil(1024).max(1));
    if workers <= 1 {
        return parse(rows);
    }
    let chunk = rows.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|share| scope.spawn(move || parse(share)))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for (h, share) in handles.into_iter().zip(rows.chunks(chunk)) {
            out.extend(h.join().unwrap_or_else(|_| parse(share))?);
        }
        Ok(out)
    })
}
