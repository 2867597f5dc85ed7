//! Persistence through SeaORM, on SQLite (embedded) or PostgreSQL: the same code for both.
//! Functions take any connection or transaction; the caller owns the transaction.

pub mod entities;
pub mod images;
pub mod ingest;
pub mod jobs;
pub mod purge;
pub mod readers;
pub mod requests;
pub mod scope;
pub mod settings;
pub mod tenants;
pub mod webhook_secrets;
pub mod webhooks;

use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, TransactionTrait,
};

use migration::MigratorTrait;

/// Opens the database named by `DATABASE_URL`, creating a SQLite file's directory if needed.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("DATABASE_URL: cannot create directory {}", dir.display()))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        // SQLite has one writer at a time: more connections only queue on its lock. PostgreSQL
        // takes the API's reads and every worker's writes at once.
        .max_connections(if url.starts_with("sqlite") { 8 } else { 20 })
        // While the database refuses connections, callers learn it within this (an API answers
        // 503, a job waits and retries) rather than queueing for the pool.
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite") {
        // A file cannot drop a connection the way a server or the network can, and each ping is a
        // round trip to the connection's thread (a third of a status read's cost).
        options.test_before_acquire(false);
    }
    let db = Database::connect(options).await.context("DATABASE_URL: cannot connect to the database")?;
    if url.starts_with("sqlite") {
        // WAL lets readers (progress polling) go on while a worker writes.
        db.execute_unprepared("PRAGMA journal_mode = WAL;").await?;
    }
    Ok(db)
}

/// Applies every pending migration. On PostgreSQL, processes starting together take turns: the
/// first migrates while the others wait on a transaction-scoped advisory lock, then find nothing
/// left to do.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let turn = match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
            Some(txn)
        }
        _ => None,
    };
    migration::Migrator::up(db, None).await.context("applying database migrations")?;
    if let Some(txn) = turn {
        txn.commit().await?;
    }
    Ok(())
}

/// The advisory lock key that serialises migrations ("imgbatch" in ASCII).
const MIGRATION_LOCK: i64 = 0x696d_6762_6174_6368;

/// Checks that the database answers.
pub async fn ping(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.ping().await.context("database unreachable")
}

/// True when `e` says the database could not be reached or is too busy (connections refused or
/// dropped, the pool exhausted, the server shutting down, SQLite's lock held too long), rather than
/// that a statement was wrong: a state that passes, answered with 503 and retried.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (08…), operator intervention such as a terminated
        // session (57P…), too many connections, a database not accepting connections. SQLite:
        // busy and locked, with their extended codes.
        Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(code.as_ref(), "53300" | "55000" | "5" | "6" | "261" | "262" | "517" | "773")
        }),
        _ => false,
    }
}

/// The file of a `sqlite:` database URL, if it names one.
pub fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The current time, as stored.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
