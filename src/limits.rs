//! Per-tenant and per-client limits, counted over a sliding window: in this process when the
//! queue is embedded, in Redis with `REDIS_URL`, so that they hold across every API process. One
//! counting rule serves both, so a limit means the same whichever runs.
//!
//! Each key keeps the times of its events within the last period (at most `max` of them), so a
//! limit holds over any period, not per clock-aligned window: crossing a boundary forgets
//! nothing, and the wait given is exact (until the oldest event leaves the period). Refused
//! events are not kept, so a client that keeps retrying is held to the limit, not locked out for
//! as long as it retries.

use std::{
    collections::{HashMap, VecDeque},
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
/// Accounts one client address may register per window.
pub const REGISTRATIONS_PER_CLIENT: Window =
    Window { name: "register-client", max: 20, period: Duration::from_secs(60 * 60) };
/// Keys counted at once in this process: past it, a new key is refused rather than letting a
/// flood of keys grow memory or wipe the counts.
const MAX_LOCAL_KEYS: usize = 100_000;

/// Where the counts live.
pub enum Limiter {
    /// In this process: each key's event times (milliseconds since the epoch), oldest first.
    Local(Mutex<HashMap<String, VecDeque<u64>>>),
    /// In Redis, a sorted set of event times per key under `{namespace}:limit:`.
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

    /// Counts one event for `key`; `Some(wait)` when that goes over the limit (and the event is
    /// not kept), with how long until one more would fit. Counting comes before the work it
    /// limits, so that a burst of calls at once is counted whole.
    pub async fn hit(&self, window: Window, key: &str) -> anyhow::Result<Option<Duration>> {
        self.hit_at(window, key, now_ms()).await
    }

    async fn hit_at(&self, window: Window, key: &str, now: u64) -> anyhow::Result<Option<Duration>> {
        let period = window.period.as_millis() as u64;
        let since = now.saturating_sub(period);
        let id = format!("{}:{key}", window.name);
        let oldest = match self {
            Self::Local(events) => {
                let mut events = events.lock().unwrap_or_else(|e| e.into_inner());
                if events.len() >= MAX_LOCAL_KEYS {
                    events.retain(|_, times| times.back().is_some_and(|t| *t > since));
                }
                if events.len() >= MAX_LOCAL_KEYS && !events.contains_key(&id) {
                    // Refused rather than uncounted: a flood of keys must not open the limits.
                    return Ok(Some(window.period));
                }
                let times = events.entry(id).or_default();
                while times.front().is_some_and(|t| *t <= since) {
                    times.pop_front();
                }
                if (times.len() as u64) < window.max {
                    times.push_back(now);
                    return Ok(None);
                }
                times.front().copied()
            }
            Self::Redis { conn, namespace } => {
                let key = format!("{namespace}:limit:{id}");
                // Unique, so that events of the same millisecond are each kept.
                let member = format!("{now}-{:016x}", rand::random::<u64>());
                let mut conn = conn.clone();
                let (count, first): (u64, Vec<(String, f64)>) = redis::pipe()
                    .atomic()
                    .zrembyscore(&key, "-inf", since)
                    .ignore()
                    .zadd(&key, &member, now)
                    .ignore()
                    .zcard(&key)
                    .zrange_withscores(&key, 0, 0)
                    .pexpire(&key, period.max(1) as i64)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .context("counting a rate limit in Redis")?;
                if count <= window.max {
                    return Ok(None);
                }
                let _: () = redis::cmd("ZREM").arg(&key).arg(&member).query_async(&mut conn).await?;
                first.first().map(|(_, score)| *score as u64)
            }
        };
        // One more fits once the oldest event leaves the period; `Retry-After` counts whole seconds.
        let wait = oldest.map_or(period, |t| (t + period).saturating_sub(now));
        Ok(Some(Duration::from_secs(wait.div_ceil(1000).max(1))))
    }

    /// Takes back one event counted by [`hit`](Self::hit) (a sign-in that turned out right).
    pub async fn release(&self, window: Window, key: &str) -> anyhow::Result<()> {
        let id = format!("{}:{key}", window.name);
        match self {
            Self::Local(events) => {
                let mut events = events.lock().unwrap_or_else(|e| e.into_inner());
                events.get_mut(&id).map(VecDeque::pop_back);
            }
            Self::Redis { conn, namespace } => {
                let mut conn = conn.clone();
                let key = format!("{namespace}:limit:{id}");
                let _: Vec<String> = redis::cmd("ZPOPMAX").arg(&key).query_async(&mut conn).await?;
            }
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window { name: "t", max: 10, period: Duration::from_secs(900) };
    const PERIOD_MS: u64 = 900_000;

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
        // Taking back two of the three leaves room for two more.
        limiter.release(w, "a").await.unwrap();
        limiter.release(w, "a").await.unwrap();
        assert_eq!(limiter.hit(w, "a").await.unwrap(), None);
        assert_eq!(limiter.hit(w, "a").await.unwrap(), None);
        assert!(limiter.hit(w, "a").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn the_limit_holds_over_any_period_and_the_wait_is_until_the_oldest_leaves_it() {
        let limiter = Limiter::local();
        let start = 1_000_000 * PERIOD_MS;
        for i in 0..10 {
            assert_eq!(limiter.hit_at(W, "k", start + i * 1000).await.unwrap(), None);
        }
        // A clock boundary of any size forgets nothing; the first event leaves at start + period.
        let later = start + 60_000;
        assert_eq!(limiter.hit_at(W, "k", later).await.unwrap(), Some(Duration::from_secs(840)));
        // Retrying does not push the wait back: refused events are not kept.
        for _ in 0..100 {
            assert_eq!(limiter.hit_at(W, "k", later).await.unwrap(), Some(Duration::from_secs(840)));
        }
        // Once the first has left the period, exactly one more fits.
        let after = start + PERIOD_MS;
        assert_eq!(limiter.hit_at(W, "k", after).await.unwrap(), None);
        assert_eq!(limiter.hit_at(W, "k", after).await.unwrap(), Some(Duration::from_secs(1)));
        // A key's wait is never 0, and another key is apart.
        assert_eq!(limiter.hit_at(W, "other", after).await.unwrap(), None);
    }
}
