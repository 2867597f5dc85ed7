//! Outages of imgbatch's own parts (database, store, queue, a job that panicked), as this
//! process sees them. An outage is logged once when it starts and once when it ends, counted for
//! `/metrics`, and sets how long work waits before it is tried again: waits grow with the outage
//! (1 s, then as long as it has lasted, so each image's retries double), up to
//! `IMGBATCH_OUTAGE_RETRY_MAX`. Such a failure is never the image's fault and never counts
//! against it, however long it lasts.

use std::{
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// One of imgbatch's own parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The database (SQLite or PostgreSQL).
    Database,
    /// The output store (local files or S3).
    Storage,
    /// The job queue (embedded or Redis).
    Queue,
    /// imgbatch's own code: a job panicked, or a statement or a stored row was wrong.
    Worker,
}

impl Part {
    const ALL: [Part; 4] = [Part::Database, Part::Storage, Part::Queue, Part::Worker];

    /// The part to blame for a database error: the database when it could not be reached, our
    /// own code when a statement or a stored row was wrong (still retried, never the image's
    /// fault, but not reported as a database outage).
    pub fn of_db_error(e: &sea_orm::DbErr) -> Part {
        match crate::db::is_unavailable(e) {
            true => Part::Database,
            false => Part::Worker,
        }
    }

    /// The name used in logs, `/readyz` and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Part::Database => "database",
            Part::Storage => "storage",
            Part::Queue => "queue",
            Part::Worker => "worker",
        }
    }
}

/// The shortest wait after a failure of our own parts.
const FIRST_WAIT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    /// When the current outage began, while there is one.
    since: Mutex<Option<Instant>>,
    /// Outages seen since start.
    count: AtomicU64,
}

/// What this process knows of its parts' outages.
pub struct Outages {
    parts: [State; 4],
    max_wait: Duration,
}

impl Outages {
    /// No outage yet; retries wait at most `max_wait`.
    pub fn new(max_wait: Duration) -> Self {
        Self { parts: Default::default(), max_wait: max_wait.max(FIRST_WAIT) }
    }

    fn state(&self, part: Part) -> &State {
        &self.parts[part as usize]
    }

    /// Records a failure of `part` and returns how long to wait before trying again.
    pub fn down(&self, part: Part, error: &anyhow::Error) -> Duration {
        let state = self.state(part);
        let mut since = state.since.lock().unwrap_or_else(|e| e.into_inner());
        let began = *since.get_or_insert_with(|| {
            state.count.fetch_add(1, Ordering::Relaxed);
            tracing::error!(part = part.name(), error = %format!("{error:#}"),
                "outage: {} unavailable; work waits and is retried until it is back", part.name());
            Instant::now()
        });
        began.elapsed().clamp(FIRST_WAIT, self.max_wait)
    }

    /// Records that `part` answered; ends its outage if it had one.
    pub fn up(&self, part: Part) {
        let state = self.state(part);
        let mut since = state.since.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(began) = since.take() {
            tracing::warn!(
                part = part.name(),
                after_s = began.elapsed().as_secs(),
                "outage over: {} is back",
                part.name()
            );
        }
    }

    /// True while `part` has an outage.
    pub fn is_down(&self, part: Part) -> bool {
        self.state(part).since.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// `imgbatch_outages_total` and `imgbatch_dependency_up`, in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP imgbatch_outages_total Outages of imgbatch's own parts seen by this process.");
        let _ = writeln!(out, "# TYPE imgbatch_outages_total counter");
        for part in Part::ALL {
            let n = self.state(part).count.load(Ordering::Relaxed);
            let _ = writeln!(out, "imgbatch_outages_total{{part=\"{}\"}} {n}", part.name());
        }
        let _ = writeln!(out, "# HELP imgbatch_dependency_up 1 unless this process sees an outage of the part.");
        let _ = writeln!(out, "# TYPE imgbatch_dependency_up gauge");
        for part in Part::ALL {
            let _ =
                writeln!(out, "imgbatch_dependency_up{{part=\"{}\"}} {}", part.name(), u8::from(!self.is_down(part)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_counted_once_and_waits_grow_to_the_cap() {
        let outages = Outages::new(Duration::from_secs(30));
        let err = anyhow::anyhow!("connection refused");
        assert_eq!(outages.down(Part::Storage, &err), FIRST_WAIT);
        assert_eq!(outages.down(Part::Storage, &err), FIRST_WAIT);
        assert!(outages.is_down(Part::Storage));
        assert!(!outages.is_down(Part::Database));
        outages.up(Part::Storage);
        outages.down(Part::Storage, &err);
        let mut text = String::new();
        outages.render(&mut text);
        assert!(text.contains("imgbatch_outages_total{part=\"storage\"} 2\n"), "{text}");
        assert!(text.contains("imgbatch_dependency_up{part=\"storage\"} 0\n"), "{text}");
        assert!(text.contains("imgbatch_dependency_up{part=\"database\"} 1\n"), "{text}");
    }

    #[test]
    fn waits_never_exceed_the_cap() {
        let outages = Outages::new(Duration::from_millis(1));
        assert_eq!(outages.down(Part::Queue, &anyhow::anyhow!("x")), FIRST_WAIT, "at least the first wait");
    }
}
