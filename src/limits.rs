//! Per-tenant and per-client limits, counted in fixed windows: in this process when the queue is
//! embedded, in Redis with `REDIS_URL`, so that they hold across every API process. One counting
//! rule serves both, so a limit means the same whichever runs.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use redis::aio::ConnectionManager;

/// A limit: at most `max` events per `period` for one key.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Names the counter (part of its key).
    pub name: &'static str,
    /// Events allowed per period.
    pub max: u64,
    /// The period.
    pub period: Duration,
}

/// Failed sign-ins allowed per email per window.
pub const LOGIN_FAILURES_PER_EMAIL: Window =
    Window { name: "login-email", max: 10, period: Duration::from_secs(15 * 60) };
/// Failed sign-ins allowed per client address per window.
pub const LOGIN_FAILURES_PER_CLIENT: Window =
    Window { name: "login-client", max: 100, period: Duration::from_secs(15 * 60) };
/// Keys counted at once in this process: past it, a new key is refused rather than letting a
/// flood of keys grow memory or wipe the counts.
const MAX_LOCAL_KEYS: usize = 100_000;

/// Where the counts live.
pub enum Limiter {
    /// In this process.
    Local(Mutex<HashMap<String, (u64, u64)>>),
    /// In Redis, under `{namespace}:limit:`.
    Redis {
        /// The connection.
        conn: ConnectionManager,
        /// Key prefix.
        namespace: String,
    },
}

impl Limiter {
    /// Counts in this process.
    pub fn local() -> Self {
        Self::Local(Mutex::new(HashMap::new()))
    }

    /// Counts in the Redis at `url`.
    pub async fn redis(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL")?;
        let conn = ConnectionManager::new(client).await.context("REDIS_URL: cannot connect to Redis")?;
        Ok(Self::Redis { conn, namespace: namespace.to_owned() })
    }

    /// Counts one event for `key`; `Some(wait)` when that goes over the limit, with how long
    /// until the window ends.
    pub async fn hit(&self, window: Window, key: &str) -> anyhow::Result<Option<Duration>> {
        self.count(window, key, 1).await
    }

    /// Whether `key` is over the limit now, without counting.
    pub async fn over(&self, window: Window, key: &str) -> anyhow::Result<Option<Duration>> {
        self.count(window, key, 0).await
    }

    async fn count(&self, window: Window, key: &str, add: u64) -> anyhow::Result<Option<Duration>> {
        let (index, left) = current(window.period);
        let id = format!("{}:{key}:{index}", window.name);
        let count = match self {
            Self::Local(counts) => {
                let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                if counts.len() >= MAX_LOCAL_KEYS {
                    counts.retain(|_, (i, _)| *i == index);
                }
                if counts.len() >= MAX_LOCAL_KEYS && !counts.contains_key(&id) {
                    return Ok(Some(left));
                }
                let entry = counts.entry(id).or_insert((index, 0));
                entry.1 += add;
                entry.1
            }
            Self::Redis { conn, namespace } => {
                let key = format!("{namespace}:limit:{id}");
                let mut conn = conn.clone();
                let (count,): (u64,) = redis::pipe()
                    .atomic()
                    .incr(&key, add)
                    .expire(&key, window.period.as_secs().max(1) as i64)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .context("counting a rate limit in Redis")?;
                count
            }
        };
        let over = if add == 0 { count >= window.max } else { count > window.max };
        Ok(over.then_some(left))
    }
}

/// The window index now and the time left in it.
fn current(period: Duration) -> (u64, Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let period = period.as_millis().max(1) as u64;
    (now / period, Duration::from_millis(period - now % period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_go_over_after_max_and_keys_are_apart() {
        let limiter = Limiter::local();
        let w = Window { name: "t", max: 3, period: Duration::from_secs(3600) };
        for _ in 0..3 {
            assert_eq!(limiter.hit(w, "a").await.unwrap(), None);
        }
        assert!(limiter.over(w, "a").await.unwrap().is_some());
        let wait = limiter.hit(w, "a").await.unwrap().expect("over the limit");
        assert!(wait <= Duration::from_secs(3600));
        assert_eq!(limiter.hit(w, "b").await.unwrap(), None);
        assert_eq!(limiter.over(w, "c").await.unwrap(), None);
    }
}
