//! `POST /api/v1/requests`, `GET /api/v1/requests`, `GET /api/v1/requests/{id}`.

use axum::{
    Json,
    extract::{Multipart, Query, State, multipart::MultipartRejection},
    http::{StatusCode, header},
    response::IntoResponse,
};

use super::{
    auth::{Caller, Reader},
    dto::{Pagination, RequestAccepted, RequestOut, RequestPage},
    extract::{RequestPath, UploadForm, check_page, read_request, read_upload, refuse_declared_oversize},
    limits,
};
use crate::{
    db,
    domain::status::{RequestKind, RequestStatus},
    error::{ApiError, Problem, Result},
    queue::intake,
    retention,
    state::AppState,
};

/// Upload a product CSV
///
/// Accepts the CSV at once and processes its images in the background. Follow progress at
/// `status_url`; the output CSV is at `output_csv_url` once every image has finished.
#[utoipa::path(
    post, path = "/api/v1/requests", tag = "requests",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted and queued", body = RequestAccepted,
            headers(("Location" = String, description = "The request's status URL"))),
        (status = 400, description = "No file, a broken multipart body, or a bad webhook_url or quality", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/bad-request", "title": "The request is malformed", "status": 400,
                "detail": "quality must be a whole number from 1 to 100, got \"150\""})),
        (status = 413, description = "The CSV is larger than IMGBATCH_MAX_UPLOAD_BYTES", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/payload-too-large", "title": "The body is too large", "status": 413,
                "detail": "the body is larger than the limit of 52428800 bytes"})),
        (status = 422, description = "The CSV is invalid; `errors` lists every problem by line and column", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/invalid-csv", "title": "The CSV is invalid", "status": 422,
                "detail": "2 problems found; fix them and upload again",
                "errors": [{"line": 3, "column": 3, "message": "image URL \"ftp://x/a.jpg\" must start with http:// or https://"},
                           {"line": 4, "column": 1, "message": "S. No. 1 already used on line 2"}]})),
        (status = 429, description = "Over the account's uploads per minute or images waiting; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit allows again")),
            example = json!({"type": "https://imgbatch.dev/problems/too-many-requests", "title": "Too many requests", "status": 429,
                "detail": "at most 60 uploads per minute (IMGBATCH_RATE_UPLOADS)"})),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database or the job queue is down; nothing was kept. Try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again")),
            example = json!({"type": "https://imgbatch.dev/problems/unavailable", "title": "A dependency is unavailable", "status": 503,
                "detail": "the database is unavailable; try again shortly"})),
    )
)]
pub async fn create_request(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    headers: axum::http::HeaderMap,
    form: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    refuse_declared_oversize(&state, &headers)?;
    limits::check_upload(&state, &tenant).await?;
    let form =
        form.map_err(|e| ApiError::bad_request(format!("expected a multipart/form-data body: {}", e.body_text())))?;
    let submission = read_upload(&state, form).await?;
    limits::check_pending(&state, &tenant, submission.manifest.image_count() as u64).await?;
    let id = intake::submit(&state, &tenant, &submission).await?;
    let status_url = state.urls.request(id);
    let body = RequestAccepted {
        request_id: id,
        status: RequestStatus::Queued,
        products: submission.manifest.products.len() as u64,
        images: submission.manifest.image_count() as u64,
        output_csv_url: state.urls.output_csv(id),
        status_url: status_url.clone(),
    };
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, status_url)], Json(body)))
}

/// List requests
///
/// Requests, newest first.
#[utoipa::path(
    get, path = "/api/v1/requests", tag = "requests",
    params(Pagination),
    responses(
        (status = 200, description = "A page of requests", body = RequestPage),
        (status = 400, description = "Bad paging parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_requests(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    page: std::result::Result<Query<Pagination>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RequestPage>> {
    let Pagination { offset, limit } = check_page(page)?;
    let (rows, total) = db::requests::list(&state.db, &tenant, offset, limit).await?;
    let items = rows.into_iter().map(|r| RequestOut::new(r, &state.urls)).collect();
    Ok(Json(RequestPage { items, total, offset, limit }))
}

/// Get a request
///
/// Its status, counts and progress.
#[utoipa::path(
    get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The request", body = RequestOut),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is down; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn get_request(
    State(state): State<AppState>,
    reader: Reader,
    RequestPath(id): RequestPath,
) -> Result<Json<RequestOut>> {
    let request = read_request(&state, reader, id).await?;
    Ok(Json(RequestOut::new(request, &state.urls)))
}

/// Delete a request
///
/// Removes the finished request, its rows, and its stored images (an image another request or job
/// also produced stays for that one). Its URLs answer 404 after. If this fails part-way (503),
/// call it again to finish.
#[utoipa::path(
    delete, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request has not finished yet", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/conflict", "title": "Not available yet", "status": 409,
                "detail": "the request is still processing; delete it once it has finished"})),
        (status = 503, description = "The database or the store is down; call again to finish", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn delete_request(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
) -> Result<StatusCode> {
    // A request whose removal was cut short is hidden but still found here, to be finished.
    let request = db::purge::find_any(&state.db, &tenant, id, RequestKind::Request).await?;
    let request = request.ok_or(ApiError::NotFound("request"))?;
    if request.accepted && !request.status.is_final() {
        return Err(ApiError::Conflict(format!(
            "the request is still {}; delete it once it has finished",
            request.status
        )));
    }
    retention::purge(&state, &tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
