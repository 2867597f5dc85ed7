//! `GET /files/{key}`: a stored output. Keys are content hashes, so the bytes under a key never
//! change: the ETag is the hash and the response may be cached for a year.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::extract::PathParam;
use crate::{
    error::{ApiError, Problem, Result},
    outage::Part,
    state::AppState,
    storage::StorageKey,
};

/// Download a compressed image
#[utoipa::path(
    get, path = "/files/{key}", tag = "files", security(()),
    params(("key" = String, Path, description = "The output's key: its SHA-256 and extension")),
    responses(
        (status = 200, description = "The image: `image/jpeg`, `image/webp` or `image/png`, as its extension says", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/png")),
            headers(("ETag" = String, description = "The content hash"), ("Cache-Control" = String, description = "public, max-age=31536000, immutable"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 404, description = "No such file", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is down; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn get_file(
    State(state): State<AppState>,
    PathParam(key): PathParam,
    headers: HeaderMap,
) -> Result<Response> {
    let key = StorageKey::parse(&key).ok_or(ApiError::NotFound("file"))?;
    let etag = format!("\"{}\"", key.as_str().split('.').next().unwrap_or_default());
    let cache = "public, max-age=31536000, immutable";
    let unavailable = |e: anyhow::Error| ApiError::unavailable(Part::Storage, &format!("{e:#}"));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        // A file removed with its request is gone, not "not modified".
        if !state.storage.exists(&key).await.map_err(unavailable)? {
            return Err(ApiError::NotFound("file"));
        }
        return Ok(
            (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache.into())]).into_response()
        );
    }
    let bytes = state.storage.get(&key).await.map_err(unavailable)?.ok_or(ApiError::NotFound("file"))?;
    Ok((
        [
            (header::CONTENT_TYPE, key.content_type().to_owned()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache.into()),
        ],
        bytes,
    )
        .into_response())
}
