//! The HTTP API: routes and OpenAPI document from one list, Swagger UI beside them.
//! Handlers extract, call one function, and map the result to a DTO.

pub mod accounts;
pub mod auth;
pub mod dashboard;
pub mod dto;
pub mod events;
pub mod extract;
pub mod files;
pub mod health;
pub mod job_input;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod openapi;
pub mod output;
pub mod products;
pub mod requests;
pub mod secrets;
pub mod webhooks;

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnFailure, TraceLayer},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::{ApiError, OutageSeen},
    outage::Part,
    state::AppState,
};

/// Every route, with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(secrets::get_secret))
        .routes(routes!(secrets::rotate_secret))
        .routes(routes!(requests::create_request, requests::list_requests))
        .routes(routes!(requests::get_request, requests::delete_request))
        .routes(routes!(events::request_events))
        .routes(routes!(products::list_products))
        .routes(routes!(output::get_output_csv))
        .routes(routes!(webhooks::get_webhook))
        .routes(routes!(webhooks::redeliver_webhook))
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::delete_job))
        .routes(routes!(jobs::get_job_result))
        .routes(routes!(events::job_events))
        .routes(routes!(webhooks::get_job_webhook))
        .routes(routes!(webhooks::redeliver_job_webhook))
        .routes(routes!(files::get_file))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

/// The routes and the whole OpenAPI document describing them.
pub fn split() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = routes().split_for_parts();
    utoipa::Modify::modify(&openapi::Bearer, &mut api);
    (router, api)
}

/// The application's router: the API, `/api-docs/openapi.json` and Swagger UI at `/swagger-ui/`.
pub fn router(state: AppState) -> Router {
    let (router, api) = split();
    let largest = extract::upload_body_limit(&state.config).max(job_input::job_body_limit(&state.config));
    let body_limit = usize::try_from(largest).unwrap_or(usize::MAX);
    router
        .merge(SwaggerUi::new("/swagger-ui").url("/api-docs/openapi.json", api))
        .merge(dashboard::routes())
        // The upload counts its file against IMGBATCH_MAX_UPLOAD_BYTES itself, and a job its image
        // against IMGBATCH_MAX_IMAGE_BYTES; this bounds the whole body (other fields, multipart
        // framing, base64) a little above the larger.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), track_outages))
        .layer(middleware::from_fn_with_state(state.clone(), per_route_limits))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        // JSON and CSV answers are gzipped for clients that accept it (images never are).
        .layer(CompressionLayer::new())
        // A browser shown a stored file takes it as the type it is served as, never as a page.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Every request gets an id (or keeps the caller's `x-request-id`), answered in
        // `x-request-id` and carried by every log line about it.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                // A 5xx is logged once where it is made (an internal error with its cause, an
                // outage once), not again for every answer.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// A JSON body, or a 400 (413 over the limit) saying what is wrong with it.
pub fn json_body<T>(body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    body.map(|axum::Json(v)| v).map_err(|e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: JSON_BODY_LIMIT as u64 },
        _ => ApiError::bad_request(format!("expected a JSON body: {}", e.body_text())),
    })
}

/// Time a request may take to be answered (the body of a download streams after).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time an upload may take: a CSV at the size limit over a slow link, parsed and stored.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest body of any route but the upload (their bodies are small JSON documents).
pub const JSON_BODY_LIMIT: usize = 64 << 10;

/// Each route's time and body limits. A request that takes longer than its time is answered 408,
/// and what it had begun is undone (an upload's transaction rolls back, or its unaccepted rows
/// are removed by the recovery pass). A body over its route's limit is answered 413: at once when
/// its length says so, else when reading passes the limit. (The upload counts its CSV against
/// `IMGBATCH_MAX_UPLOAD_BYTES`, and a job its image against `IMGBATCH_MAX_IMAGE_BYTES`, themselves.)
async fn per_route_limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let post = request.method() == Method::POST;
    let (time, body) = match request.uri().path() {
        "/api/v1/requests" if post => (UPLOAD_TIMEOUT, None),
        // A job's body is its image in base64 at most; the answer names the image's limit.
        "/api/v1/jobs" if post => {
            (UPLOAD_TIMEOUT, Some((job_input::job_body_limit(&state.config), state.config.max_image_bytes.0)))
        }
        _ => (REQUEST_TIMEOUT, Some((JSON_BODY_LIMIT as u64, JSON_BODY_LIMIT as u64))),
    };
    let request = match body {
        None => request,
        Some((limit, shown)) => {
            if extract::declared_length(request.headers()).is_some_and(|n| n > limit) {
                return ApiError::PayloadTooLarge { limit: shown }.into_response();
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)))
        }
    };
    match tokio::time::timeout(time, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { secs: time.as_secs() }.into_response(),
    }
}

/// Records what answers say of imgbatch's own parts, so that an API-only process logs an outage
/// once and shows it in `/metrics` as its workers would: a 503 for a part that is down starts
/// (or continues) its outage; a success of a route that needs the part ends it. Every
/// `/api/v1` route reads the database; `/files` reads the store.
async fn track_outages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let part = match request.uri().path() {
        p if p.starts_with("/api/v1/") => Some(Part::Database),
        p if p.starts_with("/files/") => Some(Part::Storage),
        _ => None,
    };
    let response = next.run(request).await;
    if let Some(seen) = response.extensions().get::<OutageSeen>() {
        state.outages.down(seen.part, &anyhow::anyhow!("{}", seen.cause));
    } else if let Some(part) = part.filter(|_| response.status().is_success()) {
        state.outages.up(part);
    }
    response
}
