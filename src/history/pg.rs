//! The PostgreSQL backend (a `postgres://` URL), for scheduled jobs on ephemeral runners.
//! Statements are prepared once per connection; every write is one transaction.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::store::{Backend, DbError, Val};

pub struct Postgres {
    client: Client,
    prepared: HashMap<String, Statement>,
}

fn err(e: postgres::Error) -> DbError {
    // Serialization failures and deadlocks are worth one more try, like SQLite's busy.
    let busy = e.code().is_some_and(|c| {
        *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *c == postgres::error::SqlState::UNIQUE_VIOLATION
    });
    // The driver's message names the server's error; never the connection string.
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    DbError { message, busy }
}

impl Postgres {
    pub fn open(url: &str) -> Result<Postgres, DbError> {
        let client = Client::connect(url, NoTls).map_err(err)?;
        Ok(Postgres {
            client,
            prepared: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(err)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn params(values: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| match v {
            Val::Int(i) => i as &(dyn ToSql + Sync),
            Val::Text(t) => t as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Backend for Postgres {
    fn is_postgres(&self) -> bool {
        true
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(err)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        self.client.batch_execute("BEGIN").map_err(err)
    }

    fn exec(&mut self, sql: &str, values: &[Val]) -> Result<u64, DbError> {
        let s = self.statement(sql)?;
        self.client.execute(&s, &params(values)).map_err(err)
    }

    fn each_row(
        &mut self,
        sql: &str,
        values: &[Val],
        row: &mut dyn FnMut(&mut Vec<Val>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let s = self.statement(sql)?;
        let mut rows = self.client.query_raw(&s, params(values)).map_err(err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(err)? {
            out.clear();
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                out.push(if *t == Type::INT8 {
                    Val::Int(r.try_get::<_, Option<i64>>(i).map_err(err)?)
                } else if *t == Type::INT4 {
                    Val::Int(r.try_get::<_, Option<i32>>(i).map_err(err)?.map(i64::from))
                } else {
                    Val::Text(r.try_get::<_, Option<String>>(i).map_err(err)?)
                });
            }
            row(&mut out)?;
        }
        Ok(())
    }
}
