//! One error type for the HTTP API, rendered as RFC 9457 `application/problem+json`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{manifest::CsvProblem, outage::Part, queue::intake::NotAccepted};

/// Everything the API can answer with instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (missing file, broken multipart, bad field).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials: missing, malformed, expired, revoked, or a wrong password. Answered
    /// with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, or not needing to be, but not allowed (registration closed).
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist, or belongs to another tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Registration with an email that already has an account.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Over a limit; answered with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests {
        /// Which limit, and its value.
        detail: String,
        /// Seconds until it allows again.
        retry_after: u64,
    },
    /// The route exists but not with this method.
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    /// The resource is not in a state that allows this yet.
    #[error("{0}")]
    Conflict(String),
    /// The request took longer than its time.
    #[error("the request took longer than {secs} s")]
    Timeout {
        /// Its time, in seconds.
        secs: u64,
    },
    /// The body (an upload, a JSON document) is larger than its route's limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The body is not a kind this route takes (a job's upload that is not an image by its bytes).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A job that failed: its result is the reason.
    #[error("the job failed: {0}")]
    JobFailed(String),
    /// The CSV is invalid; every problem found.
    #[error("the CSV is invalid")]
    InvalidCsv(Vec<CsvProblem>),
    /// One of imgbatch's own parts (database, queue, store) is down: answered 503 with
    /// `Retry-After`, and nothing of the request was kept.
    #[error("the {} is unavailable; try again shortly", describe(*part))]
    Unavailable {
        /// The part that is down.
        part: Part,
        /// Why, for the log only.
        cause: String,
    },
    /// Anything else: logged with its cause, answered without details.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Carried on a 503 response from the handler to the router's outage layer, which records the
/// outage (logged once, counted in `/metrics`) where the shared state is at hand.
#[derive(Debug, Clone)]
pub struct OutageSeen {
    /// The part that is down.
    pub part: Part,
    /// Why.
    pub cause: String,
}

/// Seconds a client is told to wait (`Retry-After`) while a part of imgbatch is down.
const RETRY_AFTER_SECS: u32 = 5;

/// Results of API handlers.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://imgbatch.dev/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "request not found"
}))]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// For an invalid CSV: every problem found (at most 100), by line and column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<CsvProblem>>,
}

impl ApiError {
    /// A 429 answer for a limit that allows again after `wait`.
    pub fn too_many(detail: impl Into<String>, wait: std::time::Duration) -> Self {
        Self::TooManyRequests { detail: detail.into(), retry_after: wait.as_secs_f64().ceil() as u64 }
    }

    /// A 400 answer.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::JobFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidCsv(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) => ("bad-request", "The request is malformed"),
            Self::Unauthorized(_) => ("unauthorized", "Authentication required"),
            Self::Forbidden(_) => ("forbidden", "Not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::EmailTaken => ("email-taken", "The email is taken"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            Self::Conflict(_) => ("conflict", "Not available yet"),
            Self::Timeout { .. } => ("request-timeout", "The request took too long"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "The body is too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Not an image"),
            Self::JobFailed(_) => ("job-failed", "The job failed"),
            Self::InvalidCsv(_) => ("invalid-csv", "The CSV is invalid"),
            Self::Unavailable { .. } => ("unavailable", "A dependency is unavailable"),
            Self::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            Self::Internal(_) => "an internal error occurred; it has been logged".to_owned(),
            Self::InvalidCsv(p) => format!(
                "{} problem{} found; fix {} and upload again",
                p.len(),
                if p.len() == 1 { "" } else { "s" },
                if p.len() == 1 { "it" } else { "them" },
            ),
            other => other.to_string(),
        };
        Problem {
            kind: format!("https://imgbatch.dev/problems/{slug}"),
            title: title.to_owned(),
            status: self.status().as_u16(),
            detail,
            errors: match self {
                Self::InvalidCsv(p) => Some(p.clone()),
                _ => None,
            },
        }
    }
}

impl ApiError {
    /// The answer while `part` is down; the cause goes to the log, once per outage (see
    /// [`OutageSeen`]).
    pub fn unavailable(part: Part, cause: &dyn std::fmt::Display) -> Self {
        Self::Unavailable { part, cause: cause.to_string() }
    }
}

fn describe(part: Part) -> &'static str {
    match part {
        Part::Database => "database",
        Part::Storage => "image store",
        Part::Queue => "job queue",
        Part::Worker => "service",
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        match crate::db::is_unavailable(&e) {
            true => Self::unavailable(Part::Database, &e),
            false => Self::Internal(e.into()),
        }
    }
}

impl From<NotAccepted> for ApiError {
    fn from(e: NotAccepted) -> Self {
        let unreachable_db =
            |e: &anyhow::Error| e.downcast_ref::<sea_orm::DbErr>().is_some_and(crate::db::is_unavailable);
        match e.part {
            Part::Database if !unreachable_db(&e.error) => Self::Internal(e.into()),
            part => Self::unavailable(part, &format!("{:#}", e.error)),
        }
    }
}

impl From<crate::retention::PurgeFailed> for ApiError {
    fn from(e: crate::retention::PurgeFailed) -> Self {
        match e {
            crate::retention::PurgeFailed::Db(e) => e.into(),
            crate::retention::PurgeFailed::Storage(e) => Self::unavailable(Part::Storage, &format!("{e:#}")),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error.cause_chain = ?e, "request failed");
        }
        let problem = self.problem();
        let mut response = (self.status(), axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self {
            Self::Unavailable { part, cause } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
                response.extensions_mut().insert(OutageSeen { part, cause });
            }
            Self::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"imgbatch\""));
            }
            _ => {}
        }
        response
    }
}
