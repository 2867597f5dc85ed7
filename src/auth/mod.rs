//! Who is calling: accounts (tenants), their API keys and bearer tokens. Every `/api/v1` call
//! but register and login is authenticated here into the tenant it acts for; with
//! `IMGBATCH_AUTH=off` every call acts for the default tenant.

pub mod accounts;
pub mod admin;
pub mod bootstrap;
pub mod credentials;
pub mod session;
pub mod settings;
pub mod token;

use std::time::Duration;

use axum::http::{HeaderMap, Method, header};
use sea_orm::DatabaseConnection;

use self::{settings::AuthMode, token::Tokens};
use crate::{
    db,
    domain::{ids::TenantId, status::TenantOrigin},
    error::ApiError,
};

/// Authentication as configured.
#[derive(Debug)]
pub struct Auth {
    /// On or off.
    pub mode: AuthMode,
    /// Makes and checks tokens.
    pub tokens: Tokens,
    /// How long a login's token lasts.
    pub token_ttl: Duration,
}

impl Auth {
    /// The tenant a call proves: by its `Authorization` header, or else by the dashboard's
    /// session cookie (with the CSRF header when the call changes something); a 401 (or 403)
    /// saying why not.
    pub async fn authenticate(
        &self,
        db: &DatabaseConnection,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<TenantId, ApiError> {
        if self.mode == AuthMode::Off {
            // No credentials to forge, but a page on another site could still make the browser
            // of someone on this machine send a change here.
            if session::changes(method) && session::cross_site(headers) {
                return Err(ApiError::Forbidden(
                    "a change must come from imgbatch's own pages or from a client that is not a browser".into(),
                ));
            }
            return Ok(TenantId::default_tenant());
        }
        if let Some(credential) = bearer(headers) {
            return self.credential(db, credential?).await;
        }
        let Some(token) = session::cookie(headers, session::COOKIE) else {
            return Err(unauthorized("this call needs `Authorization: Bearer <API key or token>`"));
        };
        if session::changes(method) {
            let sent = headers.get(session::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !session::same(sent, &session::csrf_for(&token)) {
                return Err(ApiError::Forbidden(format!(
                    "a call made with the dashboard's session cookie must carry its `{}` header",
                    session::CSRF_HEADER
                )));
            }
        }
        self.session(db, &token).await
    }

    /// The API key an `Authorization: Bearer ib_…` header carries, hashed as it is stored, when
    /// auth is on: for a call whose own statement checks the key (see `api::auth`), which then
    /// answers [`invalid_key`] and notes [`key_used`] itself.
    pub fn api_key_hash(&self, headers: &HeaderMap) -> Option<String> {
        let key = bearer(headers)?.ok().filter(|c| c.starts_with(credentials::KEY_PREFIX))?;
        (self.mode == AuthMode::On).then(|| credentials::hash_api_key(key))
    }

    /// The tenant a session cookie's token proves; an API key is never a session.
    pub async fn session(&self, db: &DatabaseConnection, token: &str) -> Result<TenantId, ApiError> {
        if token.starts_with(credentials::KEY_PREFIX) {
            return Err(unauthorized("the session cookie holds no session"));
        }
        self.credential(db, token).await
    }

    /// The tenant an API key or bearer token proves.
    pub async fn credential(&self, db: &DatabaseConnection, credential: &str) -> Result<TenantId, ApiError> {
        if credential.starts_with(credentials::KEY_PREFIX) {
            let hash = credentials::hash_api_key(credential);
            let key = db::tenants::key_by_hash(db, &hash).await?.ok_or_else(invalid_key)?;
            key_used(db, &key).await;
            return Ok(key.tenant_id);
        }
        let bearer = self.tokens.verify(credential).map_err(unauthorized)?;
        let known = db::tenants::find(db, &bearer.tenant).await?;
        match (known.map(|t| t.origin), bearer.outside) {
            (Some(TenantOrigin::Local), false) | (Some(TenantOrigin::External), true) => Ok(bearer.tenant),
            // An outside provider's subject is an account from its first call.
            (None, true) => {
                accounts::create_outside(db, &bearer.tenant).await?;
                Ok(bearer.tenant)
            }
            (None, false) => Err(unauthorized("the token's account does not exist")),
            (Some(_), _) => Err(unauthorized("the token's issuer does not vouch for this account")),
        }
    }
}

/// The credential of an `Authorization` header: `None` without one, an error when it is not
/// `Bearer <credential>`.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ApiError>> {
    let header = headers.get(header::AUTHORIZATION)?;
    let credential = header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <API key or token>`"));
    Some(credential)
}

/// The 401 for an API key that no account holds.
pub fn invalid_key() -> ApiError {
    unauthorized("the API key is not valid (revoked or never issued)")
}

/// Notes that `key` authenticated a call: kept to the minute, and noting it never fails the call.
pub async fn key_used(db: &DatabaseConnection, key: &db::entities::api_key::Model) {
    let now = db::now();
    if key.last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1))
        && let Err(e) = db::tenants::touch_key(db, key, now).await
    {
        tracing::debug!(error = %e, "could not note an API key's use");
    }
}

/// A 401 saying why.
pub fn unauthorized(why: impl Into<String>) -> ApiError {
    ApiError::Unauthorized(why.into())
}
