//! `POST /api/v1/api-keys`, `GET /api/v1/api-keys`, `DELETE /api/v1/api-keys/{id}`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth::Caller, extract::PathParam, json_body};
use crate::{
    auth::accounts,
    db::{self, entities::api_key},
    domain::ids::ApiKeyId,
    error::{ApiError, Problem, Result},
    state::AppState,
};

/// A key to make.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "shop backend"}))]
pub struct NewKey {
    /// What it is for (1–100 characters).
    pub name: String,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10", "name": "shop backend", "prefix": "ib_Zm9vYmFy",
    "created_at": "2026-12-02T10:00:00Z", "last_used_at": null}))]
pub struct KeyOut {
    /// Its id, to revoke it.
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    /// Its name.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a call (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new API key, with the key itself: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10", "name": "shop backend", "prefix": "ib_Zm9vYmFy",
    "created_at": "2026-12-02T10:00:00Z", "last_used_at": null, "key": "ib_Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE"}))]
pub struct NewKeyOut {
    #[serde(flatten)]
    #[schema(inline)]
    key_info: KeyOut,
    /// The key: send it as `Authorization: Bearer <key>`. It is not stored and cannot be shown again.
    pub key: String,
}

/// The keys of the caller's account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    /// Newest first.
    pub items: Vec<KeyOut>,
}

impl From<api_key::Model> for KeyOut {
    fn from(k: api_key::Model) -> Self {
        Self { id: k.id, name: k.name, prefix: k.prefix, created_at: k.created_at, last_used_at: k.last_used_at }
    }
}

/// Make an API key
///
/// A key for a machine: it acts for the caller's account until revoked. The key is in this
/// answer only.
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "accounts",
    request_body = NewKey,
    responses(
        (status = 201, description = "The key, shown once", body = NewKeyOut),
        (status = 400, description = "A missing or bad name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    body: std::result::Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<NewKeyOut>)> {
    let NewKey { name } = json_body(body)?;
    let (row, key) = accounts::create_key(&state.db, &tenant, &name).await?;
    Ok((StatusCode::CREATED, Json(NewKeyOut { key_info: row.into(), key: key.expose().to_owned() })))
}

/// List API keys
///
/// The caller's account's keys: names, prefixes and use, never the keys.
#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "accounts",
    responses((status = 200, description = "The keys", body = KeyList))
)]
pub async fn list_keys(State(state): State<AppState>, Caller(tenant): Caller) -> Result<Json<KeyList>> {
    let items = db::tenants::keys(&state.db, &tenant).await?.into_iter().map(KeyOut::from).collect();
    Ok(Json(KeyList { items }))
}

/// Revoke an API key
///
/// The key stops working at once, on every server.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    PathParam(id): PathParam,
) -> Result<StatusCode> {
    let id: ApiKeyId = id.parse().map_err(|_| ApiError::NotFound("API key"))?;
    match db::tenants::revoke_key(&state.db, &tenant, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound("API key")),
    }
}
