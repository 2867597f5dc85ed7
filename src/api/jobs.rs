//! `POST /api/v1/jobs`, `GET /api/v1/jobs`, `GET /api/v1/jobs/{id}`, `GET /api/v1/jobs/{id}/result`:
//! one image in, one result out, on the same queue, limits and webhooks as CSV requests.

use axum::{
    Json,
    extract::{FromRequestParts, Query, Request, State, rejection::QueryRejection},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    auth::Caller,
    dto::Pagination,
    extract::{RequestPath, check_bounds},
    job_input::{Given, JobForm, JobJson, read_job},
    limits,
};
use crate::{
    db::{self, jobs::JobInput},
    domain::{
        ids::{RequestId, TenantId},
        job::JobView,
        status::{JobStatus, RequestKind},
    },
    error::{ApiError, Problem, Result},
    outage::Part,
    queue::intake::{self, JobSubmission},
    retention,
    state::AppState,
    storage::StorageKey,
};

/// The answer to an accepted job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "job_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "status": "queued",
    "status_url": "http://127.0.0.1:8080/api/v1/jobs/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "result_url": "http://127.0.0.1:8080/api/v1/jobs/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/result",
    "created_at": "2026-12-02T10:00:00Z"
}))]
pub struct JobAccepted {
    /// The new job's id.
    #[schema(value_type = String)]
    pub job_id: RequestId,
    /// Always `queued`.
    pub status: JobStatus,
    /// Where to follow it.
    pub status_url: String,
    /// Where its result will be.
    pub result_url: String,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    /// The jobs on this page.
    pub items: Vec<JobView>,
    /// Jobs in all (with the status asked for, if any).
    pub total: u64,
    /// Jobs skipped.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// Paging and filtering of the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Items to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    offset: u64,
    /// Items to return (1–1000).
    #[serde(default = "super::dto::default_limit")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: u64,
    /// Only jobs with this status: `queued`, `processing`, `succeeded` or `failed`.
    #[param(value_type = Option<JobStatus>)]
    status: Option<String>,
}

/// Where an accepted job's image is.
enum Source {
    Url(url::Url),
    Stored(StorageKey),
}

/// The job id of a path such as `/api/v1/jobs/{id}`; a malformed id is answered 404.
pub struct JobPath(pub RequestId);

impl<S: Send + Sync> FromRequestParts<S> for JobPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match RequestPath::from_request_parts(parts, state).await {
            Ok(RequestPath(id)) => Ok(Self(id)),
            Err(ApiError::NotFound(_)) => Err(ApiError::NotFound("job")),
            Err(other) => Err(other),
        }
    }
}

/// Submit one image
///
/// The image comes one of three ways: a multipart form with `file` (or `url`), JSON with base64
/// `data`, or JSON with a `url` (fetched under the outbound policy, as a CSV's URLs are). An
/// uploaded image is stored before the answer; the job is processed in the background.
#[utoipa::path(
    post, path = "/api/v1/jobs", tag = "jobs",
    request_body(description = "The image and the options", content(
        (JobForm = "multipart/form-data"),
        (JobJson = "application/json", examples(
            ("url" = (summary = "An image by URL", value = json!({"url": "https://cdn.example.com/shoe.jpg", "width": 256, "height": 256, "fit": "cover", "format": "webp"}))),
            ("base64" = (summary = "An image in the body", value = json!({"data": "data:image/png;base64,iVBORw0KGgo…", "width": 800, "format": "jpeg", "quality": 70})))
        )),
    )),
    responses(
        (status = 202, description = "Accepted and queued", body = JobAccepted,
            headers(("Location" = String, description = "The job's status URL"))),
        (status = 400, description = "A bad option, bad base64, a bad URL, or no image", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/bad-request", "title": "The request is malformed", "status": 400,
                "detail": "fit must be one of inside, cover, contain, got \"fill\""})),
        (status = 413, description = "The image is larger than IMGBATCH_MAX_IMAGE_BYTES", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/payload-too-large", "title": "The body is too large", "status": 413,
                "detail": "the body is larger than the limit of 26214400 bytes"})),
        (status = 415, description = "The body is neither multipart nor JSON, or the image is not a JPEG, PNG, GIF or WebP by its bytes", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/unsupported-media-type", "title": "Not an image", "status": 415,
                "detail": "the image is not a JPEG, PNG, GIF or WebP file (judged by its first bytes)"})),
        (status = 429, description = "Over the account's jobs per minute or images waiting; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit allows again")),
            example = json!({"type": "https://imgbatch.dev/problems/too-many-requests", "title": "Too many requests", "status": 429,
                "detail": "at most 600 jobs per minute (IMGBATCH_RATE_JOBS)"})),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database, the store or the job queue is down; nothing was kept", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn create_job(State(state): State<AppState>, Caller(tenant): Caller, request: Request) -> Result<Response> {
    limits::check_job(&state, &tenant).await?;
    let job = read_job(&state, request).await?;
    limits::check_pending(&state, &tenant, 1).await?;
    // An uploaded image is stored first; the job names it by key.
    let source = match job.image {
        Given::Url(url) => Source::Url(url),
        Given::Bytes(bytes) => {
            let key = StorageKey::for_input(&bytes);
            let stored = state.storage.put(&key, bytes).await;
            stored.map_err(|e| ApiError::unavailable(Part::Storage, &format!("{e:#}")))?;
            Source::Stored(key)
        }
    };
    let input = match &source {
        Source::Url(url) => JobInput::Url(url.as_str()),
        Source::Stored(key) => JobInput::Stored(key.as_str()),
    };
    let submission =
        JobSubmission { input, webhook_url: job.webhook_url, quality: job.quality, transform: job.transform };
    let (id, created_at) = match intake::submit_job(&state, &tenant, &submission).await {
        Ok(accepted) => accepted,
        Err(refused) => {
            if let Source::Stored(key) = &source {
                retention::forget_input(&state, key).await;
            }
            return Err(refused.into());
        }
    };
    let status_url = state.urls.job(id);
    let body = JobAccepted {
        job_id: id,
        status: JobStatus::Queued,
        status_url: status_url.clone(),
        result_url: state.urls.job_result(id),
        created_at,
    };
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, status_url)], Json(body)).into_response())
}

/// List jobs
///
/// The caller's jobs, newest first; `status` keeps only those with that status.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jobs",
    params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 400, description = "Bad paging parameters or status", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/bad-request", "title": "The request is malformed", "status": 400,
                "detail": "status must be one of queued, processing, succeeded, failed, got \"done\""})),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    query: std::result::Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<JobPage>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(format!("bad query parameters: {}", e.body_text())))?;
    let Pagination { offset, limit } = check_bounds(Pagination { offset: query.offset, limit: query.limit })?;
    let status = match query.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<JobStatus>().map_err(|_| {
            ApiError::bad_request(format!("status must be one of queued, processing, succeeded, failed, got {s:?}"))
        })?),
    };
    let (jobs, total) = db::jobs::list(&state.db, &tenant, status, offset, limit).await?;
    let items = jobs.iter().map(|j| j.view(&state.urls)).collect();
    Ok(Json(JobPage { items, total, offset, limit }))
}

/// Get a job
///
/// Its status, options, and result or error.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is down; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn get_job(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<Json<JobView>> {
    Ok(Json(find_job(&state, &tenant, id).await?.view(&state.urls)))
}

/// Get a job's result
///
/// Redirects (303) to the stored image once the job has succeeded.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/result", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 303, description = "The result is at `Location`", headers(("Location" = String, description = "The stored image"))),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has not finished yet", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/conflict", "title": "Not available yet", "status": 409,
                "detail": "the job is still processing; follow its status_url"})),
        (status = 422, description = "The job failed; `detail` says why", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/job-failed", "title": "The job failed", "status": 422,
                "detail": "the job failed: the image server answered 404 Not Found"})),
    )
)]
pub async fn get_job_result(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<Response> {
    let view = find_job(&state, &tenant, id).await?.view(&state.urls);
    match (view.status, view.result, view.error) {
        (JobStatus::Succeeded, Some(result), _) => Ok(Redirect::to(&result.url).into_response()),
        (JobStatus::Failed, _, error) => Err(ApiError::JobFailed(error.unwrap_or_else(|| "no reason recorded".into()))),
        (status, ..) => Err(ApiError::Conflict(format!("the job is still {status}; follow its status_url"))),
    }
}

/// Delete a job
///
/// Removes the finished job, its rows, and its stored images (an image another request or job
/// also produced stays for that one). Its URLs answer 404 after. If this fails part-way (503),
/// call it again to finish.
#[utoipa::path(
    delete, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has not finished yet", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/conflict", "title": "Not available yet", "status": 409,
                "detail": "the job is still processing; delete it once it has finished"})),
        (status = 503, description = "The database or the store is down; call again to finish", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn delete_job(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<StatusCode> {
    // A job whose removal was cut short is hidden but still found here, to be finished.
    let job = db::purge::find_any(&state.db, &tenant, id, RequestKind::Job).await?.ok_or(ApiError::NotFound("job"))?;
    if job.accepted && !job.status.is_final() {
        let status = JobStatus::of(job.status);
        return Err(ApiError::Conflict(format!("the job is still {status}; delete it once it has finished")));
    }
    retention::purge(&state, &tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An accepted job of `tenant` by id, or 404 (also when it is another tenant's).
pub async fn find_job(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<db::jobs::Job> {
    db::jobs::find(&state.db, tenant, id).await?.ok_or(ApiError::NotFound("job"))
}
