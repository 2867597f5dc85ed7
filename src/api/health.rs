//! `GET /healthz` (alive) and `GET /readyz` (database, queue and store reachable).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{outage::Part, state::AppState};

/// Time each dependency has to answer a readiness check: a part that hangs is reported
/// unavailable within this, so `/readyz` always answers within 2 s.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// Health of the service and of each dependency.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "checks": {"database": "ok", "queue": "ok", "storage": "ok"}}))]
pub struct Health {
    /// `ok` when everything answered, otherwise `unavailable`.
    pub status: String,
    /// Each dependency: `ok` or `unavailable` (the log says why).
    #[schema(value_type = Object)]
    pub checks: serde_json::Map<String, serde_json::Value>,
}

/// Liveness
///
/// Answers while the process is running.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), checks: Default::default() })
}

/// Prometheus metrics
///
/// Uploads accepted, images processed by outcome, processing and download time histograms and
/// webhook attempts by outcome, as counted by this process; images by status, queue depth and
/// pending webhooks over all processes.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String,
            example = "# TYPE imgbatch_queue_depth gauge\nimgbatch_queue_depth 12\n"),
        (status = 503, description = "The database did not answer", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(State(state): State<AppState>) -> crate::error::Result<impl axum::response::IntoResponse> {
    let totals = crate::db::images::totals(&state.db)
        .await
        .map_err(|e| crate::error::ApiError::unavailable(Part::Database, &e))?;
    let mut text = state.metrics.render(&totals);
    state.outages.render(&mut text);
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// Readiness
///
/// Checks that the database, the queue and the store answer, each within 1.5 s. A failed check
/// is also recorded as an outage of that part (logged once, counted in `/metrics`).
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "Every dependency answered", body = Health),
        (status = 503, description = "A dependency did not answer; `checks` says which", body = Health),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (db, queue, storage) =
        tokio::join!(within(crate::db::ping(&state.db)), within(state.queue.ping()), within(state.storage.ping()));
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for (part, result) in [(Part::Database, db), (Part::Queue, queue), (Part::Storage, storage)] {
        let value = match result {
            Ok(()) => {
                state.outages.up(part);
                "ok"
            }
            Err(e) => {
                // Details (paths, hosts) go to the log, not to anonymous callers.
                tracing::warn!(dependency = part.name(), error = %format!("{e:#}"), "readiness check failed");
                state.outages.down(part, &e);
                ok = false;
                "unavailable"
            }
        };
        checks.insert(part.name().into(), value.into());
    }
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Health { status: if ok { "ok" } else { "unavailable" }.into(), checks }))
}

/// A check's result, or a timeout error once [`CHECK_TIMEOUT`] has passed.
async fn within(check: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}
