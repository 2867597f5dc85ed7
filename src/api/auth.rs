//! Authentication of every `/api/v1` call but register and login, before any handler runs: the
//! tenant it proves is put on the request, and handlers take it as [`Caller`]. A route added
//! under `/api/v1` is authenticated without saying so.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::request::Parts,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{auth::unauthorized, domain::ids::TenantId, error::ApiError, state::AppState};

/// Routes anyone may call: they are how one gets credentials.
const OPEN: [&str; 2] = ["/api/v1/auth/register", "/api/v1/auth/login"];

/// The tenant a call acts for.
#[derive(Debug, Clone)]
pub struct Caller(pub TenantId);

/// Authenticates `/api/v1` calls; a failure is answered 401 before the handler.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/v1/") && !OPEN.contains(&path) {
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
