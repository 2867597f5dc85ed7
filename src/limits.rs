//! Per-tenant and per-client limits, counted in fixed windows: in this process when the queue is
//! embedded, in Redis with `REDIS_URL`, so that they hold across every API process. One counting
//! rule serves both, so a limit means the same whichever runs.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
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
/// Accounts one client address may register per window.
pub const REGISTRATIONS_PER_CLIENT: Window =
    Window { name: "register-client", max: 20, period: Duration::from_secs(60 * 60) };
/// Keys counted at once in this process: past it, a new key is refused rather than letting a
/// flood of keys grow memory or wipe the counts.
const MAX_LOCAL_KEYS: usize = 100_000;

/// Where the counts live.
pub enum Limiter {
    /// In this process: each key's count and when its window ends.
    Local(Mutex<HashMap<String, (Instant, u64)>>),
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
    /// until the window ends. Counting comes before the work it limits, so that a burst of calls
    /// at once is counted whole.
    pub async fn hit(&self, window: Window, key: &str) -> anyhow::Result<Option<Duration>> {
        let (index, left) = current(window.period);
        let count = self.add(window, key, index, left, 1).await?;
        Ok((count > window.max).then_some(left))
    }

    /// Takes back one event counted by [`hit`](Self::hit) (a sign-in that turned out right).
    pub async fn release(&self, window: Window, key: &str) -> anyhow::Result<()> {
        let (index, left) = current(window.period);
        self.add(window, key, index, left, -1).await.map(drop)
    }

    async fn add(&self, window: Window, key: &str, index: u64, left: Duration, by: i64) -> anyhow::Result<u64> {
        let id = format!("{}:{key}:{index}", window.name);
        match self {
            Self::Local(counts) => {
                let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if counts.len() >= MAX_LOCAL_KEYS {
                    counts.retain(|_, (ends, _)| *ends > now);
                }
                if counts.len() >= MAX_LOCAL_KEYS && !counts.contains_key(&id) {
                    // Refused rather than uncounted: a flood of keys must not open the limits.
                    return Ok(u64::MAX);
                }
                let entry = counts.entry(id).or_insert((now + left, 0));
                entry.1 = entry.1.saturating_add_signed(by);
                Ok(entry.1)
            }
            Self::Redis { conn, namespace } => {
                let key = format!("{namespace}:limit:{id}");
                let mut conn = conn.clone();
                let (count,): (i64,) = redis::pipe()
                    .atomic()
                    .incr(&key, by)
                    .expire(&key, window.period.as_secs().max(1) as i64)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .context("counting a rate limit in Redis")?;
                Ok(count.max(0) as u64)
            }
        }
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
        let wait = limiter.hit(w, "a").await.unwrap().expect("over the limit");
        assert!(wait <= Duration::from_secs(3600));
        assert_eq!(limiter.hit(w, "b").await.unwrap(), None);
        // Taking back two of the four leaves room for one more.
        limiter.release(w, "a").await.unwrap();
        limiter.release(w, "a").await.unwrap();
        assert_eq!(limiter.hit(w, "a").await.unwrap(), None);
        assert!(limiter.hit(w, "a").await.unwrap().is_some());
    }
}
