//! The SQLite backend (a file path): WAL, a busy timeout, and an immediate write lock per
//! transaction, so parallel jobs writing one file wait their turn instead of failing.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::store::{Backend, DbError, Val};

pub struct Sqlite {
    conn: Connection,
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Int(Some(i)) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Val::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Int(None) | Val::Text(None) => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}

fn err(e: rusqlite::Error) -> DbError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    DbError {
        message: e.to_string(),
        busy,
    }
}

/// How long a job waits for another job's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Switch the file to WAL. Parallel jobs opening a new file at once race for the switch,
/// and SQLite answers the loser "database is locked" at once, without the busy timeout:
/// that is retried for as long as the timeout would have waited.
fn wal(conn: &Connection) -> Result<(), DbError> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL").map_err(err) {
            Err(e) if e.busy && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Sqlite, DbError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // WAL lets readers go on while one job writes; NORMAL sync is durable in WAL mode
        // up to the last checkpointed transaction, which is enough for a scan history.
        wal(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // A 100k-token scan writes ~400k rows into indexes keyed by random hashes: with
        // SQLite's default 2 MB page cache nearly every insert misses it. 64 MB (used only
        // as needed) keeps the indexes' pages in memory; sorts stay in memory too.
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;
        Ok(Sqlite { conn })
    }
}

impl Backend for Sqlite {
    fn is_postgres(&self) -> bool {
        false
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(err)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        // Take the write lock now: a deferred transaction that reads first and writes later
        // can fail with SQLITE_BUSY past the timeout instead of waiting.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(err)?;
        Ok(n as u64)
    }

    fn each_row(
        &mut self,
        sql: &str,
        params: &[Val],
        row: &mut dyn FnMut(&mut Vec<Val>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(err)?;
        let mut values = Vec::with_capacity(columns);
        while let Some(r) = rows.next().map_err(err)? {
            values.clear();
            for i in 0..columns {
                values.push(match r.get_ref(i).map_err(err)? {
                    ValueRef::Null => Val::Text(None),
                    ValueRef::Integer(n) => Val::Int(Some(n)),
                    ValueRef::Real(f) => Val::Int(Some(f as i64)),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Val::Text(Some(String::from_utf8_lossy(t).into_owned()))
                    }
                });
            }
            row(&mut values)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// Parallel jobs opening one new file at once: every one opens and migrates it
    /// (switching a file to WAL can answer "database is locked" without waiting on the busy
    /// timeout).
    #[test]
    fn many_jobs_opening_a_new_file_at_once_all_open_it() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20 {
            let path = dir.path().join(format!("h{round}.db"));
            let barrier = std::sync::Barrier::new(8);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            crate::history::Store::open(&path.display().to_string())
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                for h in handles {
                    assert_eq!(h.join().unwrap(), Ok(()), "round {round}");
                }
            });
        }
    }

    /// A recorded change whose event this binary does not know is a corrupt row, named
    /// as such, never dropped from the change.
    #[test]
    fn an_unknown_recorded_event_is_corrupt_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut store = crate::history::Store::open(&path.display().to_string()).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO scans (at, scope, source, policy_digest, tool_version, covered, not_evaluated, tokens, critical, high, medium, low, new_findings, resolved, drifted, overdue) VALUES (0, 'all', 'snapshot', 'd', 'v', '[]', '[]', 1, 0, 0, 0, 0, 0, 0, 1, 0);
             INSERT INTO scan_changes (scan_id, seq, owner, token_id, token_name, events, changes) VALUES (1, 0, '{\"kind\":\"user\"}', 'abc', NULL, '[\"drifted\",\"teleported\"]', '[]');",
        )
        .unwrap();
        let err = store.recent_changes(None, 10).unwrap_err().to_string();
        assert!(err.contains("unknown event \"teleported\""), "{err}");
    }
}
