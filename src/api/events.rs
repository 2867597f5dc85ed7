//! `GET /api/v1/requests/{id}/events` and `GET /api/v1/jobs/{id}/events`: live progress as
//! server-sent events, fed by [`crate::progress`].

use std::{convert::Infallible, future::Future, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, stream};
use serde::Serialize;

use super::{
    auth::Caller,
    extract::{RequestPath, find_request},
    jobs::{JobPath, find_job},
};
use sea_orm::DbErr;

use crate::{db, db::entities::request, error::Result, state::AppState};

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Follow a request
///
/// Server-sent events: a `progress` event whose data is the request as `GET
/// /api/v1/requests/{id}` shows it, at once and whenever it changes, then a `finished` event
/// with its final state, after which the stream ends. A client that connects after the end gets
/// the `finished` event at once. Reconnect (as `EventSource` does) if the stream breaks.
#[utoipa::path(
    get, path = "/api/v1/requests/{id}/events", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "`progress` events, then one `finished` event; each one's `data` is a `RequestOut`",
            content_type = "text/event-stream", body = String,
            example = "event: progress\ndata: {\"request_id\":\"0193…\",\"status\":\"processing\",\"progress\":50,…}\n\nevent: finished\ndata: {\"request_id\":\"0193…\",\"status\":\"completed\",\"progress\":100,…}\n\n"),
        (status = 404, description = "No such request", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is down; try again after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn request_events(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let row = find_request(&state, &tenant, id).await?;
    let urls = state.urls.clone();
    let render = move |row: request::Model| {
        let view = super::dto::RequestOut::new(row, &urls);
        async move { Ok::<_, DbErr>(Some(view)) }
    };
    Ok(follow(&state, row, render))
}

/// Follow a job
///
/// Server-sent events: a `progress` event whose data is the job as `GET /api/v1/jobs/{id}`
/// shows it, at once and whenever it changes, then a `finished` event once it has succeeded or
/// failed, after which the stream ends.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "`progress` events, then one `finished` event; each one's `data` is a `JobView`",
            content_type = "text/event-stream", body = String,
            example = "event: progress\ndata: {\"job_id\":\"0193…\",\"status\":\"queued\",…}\n\nevent: finished\ndata: {\"job_id\":\"0193…\",\"status\":\"succeeded\",\"result\":{…},…}\n\n"),
        (status = 404, description = "No such job", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is down; try again after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn job_events(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let job = find_job(&state, &tenant, id).await?;
    let (reader, urls) = (state.clone(), state.urls.clone());
    // A job's view includes its image row: read again when its request row changes.
    let render = move |row: request::Model| {
        let (state, urls, tenant) = (reader.clone(), urls.clone(), tenant.clone());
        async move { Ok(db::jobs::find(&state.db, &tenant, row.id).await?.map(|job| job.view(&urls))) }
    };
    Ok(follow(&state, job.request, render))
}

/// The events of one request row: its view now, each changed view, the final one. `render`
/// makes a view of a row; `Ok(None)` (the row is gone) ends the stream, an error skips that
/// version (the next change tries again). The stream also ends when the app shuts down.
fn follow<T, F, Fut>(
    state: &AppState,
    row: request::Model,
    render: F,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>> + use<T, F, Fut>>
where
    T: Serialize,
    F: Fn(request::Model) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = std::result::Result<Option<T>, DbErr>> + Send,
{
    let receiver = (!row.status.is_final()).then(|| state.progress.watch(row.clone()));
    let shutdown = state.shutdown.clone();
    let start = Some(Step { next: Some(row), receiver });
    let events = stream::unfold(start, move |step| {
        let (render, shutdown) = (render.clone(), shutdown.clone());
        async move {
            let Step { mut next, mut receiver } = step?;
            loop {
                let row = match next.take() {
                    Some(row) => row,
                    None => {
                        let watching = receiver.as_mut()?;
                        tokio::select! {
                            changed = watching.changed() => changed.ok()?,
                            () = shutdown.cancelled() => return None,
                        }
                        watching.borrow_and_update().clone()
                    }
                };
                let finished = row.status.is_final();
                let view = match render(row).await {
                    Ok(view) => view?,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read a followed request; waiting for its next change");
                        continue;
                    }
                };
                let name = if finished { "finished" } else { "progress" };
                let event = Event::default().event(name).json_data(view).expect("views serialize");
                let rest = (!finished).then_some(Step { next: None, receiver });
                return Some((Ok(event), rest));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Where a followed request's stream is: a row to send now, and the versions still to come.
struct Step {
    next: Option<request::Model>,
    receiver: Option<tokio::sync::watch::Receiver<request::Model>>,
}
