//! Reading an upload: the multipart form, streamed. The CSV is parsed row by row on the blocking
//! pool while its bytes arrive, and the size limit is enforced as they are counted.

use std::io::Read;

use axum::{
    extract::{FromRequestParts, Multipart, Path, Query, multipart::Field, rejection::QueryRejection},
    http::request::Parts,
};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{auth::Reader, dto::Pagination};
use crate::{
    auth::{invalid_key, key_used},
    db::{self, entities::request},
    domain::{
        ids::{RequestId, TenantId},
        product::check_url,
        quality::Quality,
        transform::{Fields, Fit, OutputFormat, Transform},
    },
    error::ApiError,
    manifest::{self, Manifest, ManifestError},
    net,
    queue::intake::Submission,
    state::AppState,
};

/// The longest text field accepted (`webhook_url`, `quality`).
const MAX_TEXT_FIELD: usize = 4096;

/// The largest paging offset accepted.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// The multipart form of an upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The product CSV: `S. No.,Product Name,Input Image Urls`.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    file: Vec<u8>,
    /// Where to POST the signed completion event (http or https).
    #[schema(example = "https://example.com/hooks/imgbatch")]
    webhook_url: Option<String>,
    /// JPEG quality, 1–100 (default: the server's `IMGBATCH_JPEG_QUALITY`).
    #[schema(minimum = 1, maximum = 100, example = 50)]
    quality: Option<u8>,
    /// Width of the box every image is fitted to, 1–10000 (default: no bound).
    #[schema(minimum = 1, maximum = 10000, example = 800)]
    width: Option<u32>,
    /// Height of the box every image is fitted to, 1–10000 (default: no bound).
    #[schema(minimum = 1, maximum = 10000, example = 800)]
    height: Option<u32>,
    /// How images go into the box: `inside` (scaled down to fit, never up), `cover` (scaled and
    /// centre-cropped to exactly the box) or `contain` (fitted inside, padded with white to the
    /// box). `cover` and `contain` need both width and height.
    #[schema(value_type = Option<Fit>, example = "inside")]
    fit: Option<String>,
    /// What images are written as: `jpeg` (default), `webp` (lossy, alpha kept) or `png`
    /// (lossless, alpha kept). `quality` applies to JPEG and WebP.
    #[schema(value_type = Option<OutputFormat>, example = "webp")]
    format: Option<String>,
}

/// The most bytes an upload's body may have: the CSV's limit, plus room for the other fields and
/// the multipart framing.
pub fn upload_body_limit(config: &crate::Config) -> u64 {
    config.max_upload_bytes.0.saturating_add(64 << 10)
}

/// A body that says it is larger than an upload can be is answered 413 before it is read, rather
/// than after the client has sent (or promised and never sent) all of it.
pub fn refuse_declared_oversize(state: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    match declared_length(headers) {
        Some(n) if n > upload_body_limit(&state.config) => {
            Err(ApiError::PayloadTooLarge { limit: state.config.max_upload_bytes.0 })
        }
        _ => Ok(()),
    }
}

/// The body length a request's `Content-Length` declares, if it declares one.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

/// Reads the form into a validated submission.
pub async fn read_upload(state: &AppState, mut form: Multipart) -> Result<Submission, ApiError> {
    let mut manifest = None;
    let mut webhook_url = None;
    let mut quality = None;
    let (mut width, mut height, mut fit, mut format) = (None, None, None, None);
    let limit = state.config.max_upload_bytes.0;
    while let Some(field) = form.next_field().await.map_err(broken(limit))? {
        match field.name().unwrap_or_default() {
            "file" if manifest.is_some() => {
                return Err(ApiError::bad_request("more than one `file` field"));
            }
            "file" => manifest = Some(read_csv(state, field).await?),
            "webhook_url" => webhook_url = non_empty(read_text(field, limit).await?),
            "quality" => quality = non_empty(read_text(field, limit).await?),
            "width" => width = non_empty(read_text(field, limit).await?),
            "height" => height = non_empty(read_text(field, limit).await?),
            "fit" => fit = non_empty(read_text(field, limit).await?),
            "format" => format = non_empty(read_text(field, limit).await?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field {other:?}; expected file, webhook_url, quality, width, height, fit, format"
                )));
            }
        }
    }
    let manifest = manifest.ok_or_else(|| ApiError::bad_request("the form has no `file` field with the CSV"))?;
    let webhook_url = match webhook_url {
        Some(u) => Some(parse_webhook_url(&u, state.config.allow_private_urls).await?),
        None => None,
    };
    let quality = match quality {
        None => state.config.jpeg_quality,
        Some(q) => Quality::parse(&q).map_err(ApiError::BadRequest)?,
    };
    let fields =
        Fields { width: width.as_deref(), height: height.as_deref(), fit: fit.as_deref(), format: format.as_deref() };
    let transform = Transform::from_fields(fields).map_err(|e| ApiError::BadRequest(e.0))?;
    Ok(Submission { manifest: manifest?, webhook_url, quality, transform })
}

/// Checks a webhook URL now, so a merchant learns at once that it can never be called: its
/// scheme, and unless private URLs are allowed, the addresses its host resolves to.
pub(super) async fn parse_webhook_url(raw: &str, allow_private: bool) -> Result<url::Url, ApiError> {
    let raw = raw.trim();
    let url = check_url(raw).map_err(|why| ApiError::bad_request(format!("webhook_url {why}")))?;
    let host = url.host_str().unwrap_or_default();
    net::check_url(&url, allow_private).map_err(|e| ApiError::bad_request(format!("webhook_url: {e}")))?;
    if !allow_private && matches!(url.host(), Some(url::Host::Domain(_))) {
        net::resolve_global(host).await.map_err(|e| ApiError::bad_request(format!("webhook_url: {e}")))?;
    }
    Ok(url)
}

pub(super) fn non_empty(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

/// Maps a multipart error: the whole body over its limit is a 413, anything else a 400.
pub(super) fn broken(limit: u64) -> impl Fn(axum::extract::multipart::MultipartError) -> ApiError {
    move |e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
        _ => ApiError::bad_request(format!("the multipart body is broken: {}", e.body_text())),
    }
}

pub(super) async fn read_text(mut field: Field<'_>, limit: u64) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(broken(limit))? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(format!("the {name} field is longer than {MAX_TEXT_FIELD} bytes")));
        }
    }
    String::from_utf8(buf).map_err(|_| ApiError::bad_request(format!("the {name} field is not UTF-8 text")))
}

/// Streams the file field into the parser. The outer error stops the request (413, broken
/// body); the inner one is the CSV's verdict, reported after the other fields are checked.
async fn read_csv(state: &AppState, mut field: Field<'_>) -> Result<Result<Manifest, ApiError>, ApiError> {
    let limit = state.config.max_upload_bytes.0;
    let limits = manifest::Limits {
        max_rows: usize::try_from(state.config.max_rows).unwrap_or(usize::MAX),
        max_images: usize::try_from(state.config.max_images).unwrap_or(usize::MAX),
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    // Not under the CPU gate: the parser mostly waits for the upload's bytes.
    let parser = tokio::task::spawn_blocking(move || manifest::parse(ChannelReader { rx, buf: Bytes::new() }, limits));
    let feed = async move {
        let mut total = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(broken(limit))? {
            total += chunk.len() as u64;
            if total > limit {
                let _ = tx.send(Err(std::io::Error::other("upload over the limit"))).await;
                return Err(ApiError::PayloadTooLarge { limit });
            }
            if tx.send(Ok(chunk)).await.is_err() {
                // The parser stopped early (too many problems); drain the rest to count it.
                while let Some(chunk) = field.chunk().await.map_err(broken(limit))? {
                    total += chunk.len() as u64;
                    if total > limit {
                        return Err(ApiError::PayloadTooLarge { limit });
                    }
                }
                break;
            }
        }
        Ok(())
    };
    let (fed, parsed) = tokio::join!(feed, parser);
    fed?;
    let parsed = parsed.map_err(|e| ApiError::Internal(anyhow::anyhow!("CSV parser stopped: {e}")))?;
    Ok(match parsed {
        Ok(manifest) => Ok(manifest),
        Err(ManifestError::Invalid(problems)) => Err(ApiError::InvalidCsv(problems)),
        Err(ManifestError::Io(e)) => Err(ApiError::Internal(anyhow::anyhow!("reading the upload: {e}"))),
    })
}

/// A blocking reader over chunks sent from the async side.
struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.buf = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// A path segment such as `{key}`; a malformed one is answered as a problem, like every error.
pub struct PathParam(pub String);

/// The request id of a path such as `/api/v1/requests/{id}`; a malformed id is answered 404, as
/// an unknown one is.
pub struct RequestPath(pub RequestId);

impl<S: Send + Sync> FromRequestParts<S> for RequestPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let PathParam(raw) = PathParam::from_request_parts(parts, state).await?;
        raw.parse().map(Self).map_err(|_| ApiError::NotFound("request"))
    }
}

/// An accepted request of `tenant` by id, or 404 (also when it is another tenant's).
pub async fn find_request(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<request::Model, ApiError> {
    db::requests::find(&state.db, tenant, id).await?.ok_or(ApiError::NotFound("request"))
}

/// [`find_request`] for a [`Reader`]: an unchecked API key is checked by the same statement.
pub async fn read_request(state: &AppState, reader: Reader, id: RequestId) -> Result<request::Model, ApiError> {
    match reader {
        Reader::Caller(tenant) => find_request(state, &tenant, id).await,
        Reader::Key(hash) => {
            let (key, request) =
                db::requests::find_with_key(&state.readers, &hash, id).await?.ok_or_else(invalid_key)?;
            key_used(&state.db, &key).await;
            request.ok_or(ApiError::NotFound("request"))
        }
    }
}

/// Validated paging parameters.
pub fn check_page(page: Result<Query<Pagination>, QueryRejection>) -> Result<Pagination, ApiError> {
    let Query(page) = page.map_err(|e| ApiError::bad_request(format!("bad paging parameters: {}", e.body_text())))?;
    check_bounds(page)
}

/// Paging parameters within their bounds.
pub fn check_bounds(page: Pagination) -> Result<Pagination, ApiError> {
    if !(1..=1000).contains(&page.limit) {
        return Err(ApiError::bad_request(format!("limit must be from 1 to 1000, got {}", page.limit)));
    }
    // The databases take signed 64-bit offsets; past that the query cannot be built.
    if page.offset > MAX_OFFSET {
        return Err(ApiError::bad_request(format!("offset must be from 0 to {MAX_OFFSET}, got {}", page.offset)));
    }
    Ok(page)
}

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(e) => Err(ApiError::bad_request(format!("bad path: {}", e.body_text()))),
        }
    }
}
