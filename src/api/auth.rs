//! Authentication of every `/api/v1` call but register and login, before any handler runs: the
//! tenant it proves is put on the request, and handlers take it as [`Caller`]. A route added
//! under `/api/v1` is authenticated without saying so.
//!
//! One call is the exception: `GET /api/v1/requests/{id}` with an API key, the status poll that
//! clients make most, is checked by the statement that reads the request (one round trip to the
//! database instead of two), so its handler takes a [`Reader`]. Any other handler on that path
//! would find no [`Caller`] and answer 401: the exception cannot let a call through unchecked.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{Method, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    auth::unauthorized,
    domain::ids::{RequestId, TenantId},
    error::ApiError,
    state::AppState,
};

/// Routes anyone may call: they are how one gets credentials.
const OPEN: [&str; 2] = ["/api/v1/auth/register", "/api/v1/auth/login"];

/// The tenant a call acts for.
#[derive(Debug, Clone)]
pub struct Caller(pub TenantId);

/// Authenticates `/api/v1` calls; a failure is answered 401 before the handler.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/v1/") && !OPEN.contains(&path) {
        if let Some(hash) = checked_by_its_read(&request).then(|| state.auth.api_key_hash(request.headers())).flatten()
        {
            request.extensions_mut().insert(KeyToCheck(hash));
            return next.run(request).await;
        }
        match state.auth.authenticate(&state.db, request.method(), request.headers()).await {
            Ok(tenant) => {
                request.extensions_mut().insert(Caller(tenant));
            }
            Err(e) => return e.into_response(),
        }
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Absent only on a route outside `/api/v1`, which must not take a caller.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| unauthorized("this call needs credentials"))
    }
}

/// Whether the call is a read whose statement checks an API key itself: `GET /api/v1/requests/{id}`
/// with a well-formed id. (A malformed one is checked here as any call is, so that a bad key is
/// answered 401 before the path is judged.)
fn checked_by_its_read(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path().strip_prefix("/api/v1/requests/").is_some_and(|id| id.parse::<RequestId>().is_ok())
}

/// The hash of an API key not yet checked, for the read that checks it.
#[derive(Debug, Clone)]
struct KeyToCheck(String);

/// Who reads a request: a caller already authenticated, or an API key that the read's own
/// statement must find (its hash), answering [`crate::auth::invalid_key`] if it does not.
#[derive(Debug, Clone)]
pub enum Reader {
    /// Authenticated as usual.
    Caller(TenantId),
    /// Not checked yet.
    Key(String),
}

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<KeyToCheck>() {
            Some(KeyToCheck(hash)) => Ok(Self::Key(hash.clone())),
            None => Caller::from_request_parts(parts, state).await.map(|Caller(tenant)| Self::Caller(tenant)),
        }
    }
}
