//! Connections kept apart from the pool for the hottest point read, the status poll.
//!
//! Every query on SQLite is a hand-off to its connection's own thread and back, and the pool adds
//! a second one each time a connection is given back: sqlx pings it on release, unconditionally.
//! With the status read down to one statement, that ping was about a quarter of what a read cost: 15,500
//! reads/s on two cores through the pool, 20,200 on connections held here (and 74,000 with no
//! database at all). A connection held here is never given back to the pool, so it is never
//! pinged. PostgreSQL reads stay on the pool, whose pings find the connections a server restart or
//! the network dropped; a SQLite file cannot drop one.

use std::sync::{Arc, Mutex};

use sea_orm::sqlx::{self, SqliteConnection, SqlitePool};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Semaphore;

/// Most connections held for point reads. With 64 clients polling on two
/// cores: 2 held answered 18,000 reads/s, 4 held 19,000, 8 held 20,200, 16 or 32 no more.
const HELD: usize = 8;

/// Runs point reads; cheap to clone.
#[derive(Clone)]
pub struct Readers {
    db: DatabaseConnection,
    held: Option<Arc<Held>>,
}

struct Held {
    pool: SqlitePool,
    idle: Mutex<Vec<SqliteConnection>>,
    turns: Semaphore,
}

impl Readers {
    /// Reads through `db`, on connections of its own when `db` is SQLite.
    pub fn new(db: DatabaseConnection) -> Self {
        let held = (db.get_database_backend() == DbBackend::Sqlite).then(|| {
            let pool = db.get_sqlite_connection_pool().clone();
            Arc::new(Held { pool, idle: Mutex::new(Vec::with_capacity(HELD)), turns: Semaphore::new(HELD) })
        });
        Self { db, held }
    }

    /// The database's kind, which the statements are written for.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The first row `sql` returns, given `values`, if any.
    pub async fn one(&self, sql: &'static str, values: Values) -> Result<Option<QueryResult>, DbErr> {
        let Some(held) = &self.held else {
            return self.db.query_one_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await;
        };
        let _turn =
            held.turns.acquire().await.map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let idle = held.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut connection = match idle {
            Some(connection) => connection,
            // Taken from the pool once, with the pool's settings, and never given back.
            None => held.pool.acquire().await.map_err(query_err)?.detach(),
        };
        let row = sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values)).fetch_optional(&mut connection).await;
        // A connection whose read failed, or whose caller went away mid-read (this future dropped),
        // is closed with it rather than trusted again.
        let row = row.map_err(query_err)?;
        held.idle.lock().unwrap_or_else(|e| e.into_inner()).push(connection);
        Ok(row.map(QueryResult::from))
    }
}

/// A driver error as sea-orm reports one, so that `db::is_unavailable` judges it as any other.
pub(super) fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Value, Values};

    use super::{HELD, Readers};

    const SQL: &str = "SELECT name FROM things WHERE id = ?";

    async fn name(readers: &Readers, id: i64) -> Option<String> {
        let row = readers.one(SQL, Values(vec![Value::from(id)])).await.expect("a read");
        row.map(|r| r.try_get::<String>("", "name").expect("a name"))
    }

    #[tokio::test]
    async fn reads_see_each_commit_and_survive_failed_reads_and_callers_that_go_away_mid_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        let db = crate::db::connect(&url).await.unwrap();
        db.execute_unprepared("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await.unwrap();
        let readers = Readers::new(db.clone());
        assert_eq!(name(&readers, 1).await, None);

        db.execute_unprepared("INSERT INTO things VALUES (1, 'first')").await.unwrap();
        let many = (0..4 * HELD).map(|_| name(&readers, 1));
        assert!(futures::future::join_all(many).await.iter().all(|n| n.as_deref() == Some("first")));

        // Callers dropped before, during or after their read: none keeps a turn or breaks a connection.
        for _ in 0..4 * HELD {
            let _ = tokio::time::timeout(Duration::from_micros(50), name(&readers, 1)).await;
        }
        db.execute_unprepared("UPDATE things SET name = 'second' WHERE id = 1").await.unwrap();
        let read = tokio::time::timeout(Duration::from_secs(5), name(&readers, 1)).await;
        assert_eq!(read.expect("a read after the abandoned ones is answered").as_deref(), Some("second"));
        let held = || readers.held.as_ref().unwrap().idle.lock().unwrap().len();
        let idle = held();
        assert!((1..=HELD).contains(&idle), "{idle} connections held, at most {HELD}");

        // A read that fails closes its connection; the next read is answered on another.
        let failed = readers.one("SELECT name FROM missing WHERE id = ?", Values(vec![Value::from(1)])).await;
        assert!(failed.is_err(), "a read of a missing table fails");
        assert_eq!(held(), idle - 1, "the failed read's connection is not held again");
        assert_eq!(name(&readers, 1).await.as_deref(), Some("second"));
    }
}
