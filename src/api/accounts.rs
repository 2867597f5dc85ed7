//! `POST /api/v1/auth/register`, `POST /api/v1/auth/login`.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json,
    extract::{ConnectInfo, State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json_body;
use crate::{
    auth::{accounts, credentials, settings::Registration, unauthorized},
    db,
    domain::ids::TenantId,
    error::{ApiError, Problem, Result},
    limits::{LOGIN_FAILURES_PER_CLIENT, LOGIN_FAILURES_PER_EMAIL, REGISTRATIONS_PER_CLIENT},
    outage::Part,
    state::AppState,
};

/// An email and a password.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "merchant@example.com", "password": "correct horse battery"}))]
pub struct Credentials {
    /// The sign-in email.
    pub email: String,
    /// At least 10 characters.
    pub password: String,
}

/// A new account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"tenant_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10", "email": "merchant@example.com", "created_at": "2026-12-02T10:00:00Z"}))]
pub struct Account {
    /// The tenant: every request, key and secret of the account belongs to it.
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The sign-in email, lower-cased.
    pub email: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A bearer token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkzN2ExZSJ9.c2ln", "token_type": "Bearer", "expires_in": 3600}))]
pub struct TokenOut {
    /// A JWT; send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds it lasts.
    pub expires_in: u64,
}

/// Make an account
///
/// Makes a tenant that signs in with this email and password, with its own webhook signing
/// secret. Closed when the server runs with `IMGBATCH_REGISTRATION=closed`.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "accounts", security(()),
    request_body = Credentials,
    responses(
        (status = 201, description = "The account", body = Account),
        (status = 400, description = "A bad email, or a password under 10 characters", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/bad-request", "title": "The request is malformed", "status": 400, "detail": "password must have at least 10 characters"})),
        (status = 403, description = "Registration is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email already has an account", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/email-taken", "title": "The email is taken", "status": 409, "detail": "an account with this email already exists"})),
        (status = 429, description = "More than 20 accounts registered from this address in an hour", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until registering is allowed again"))),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: std::result::Result<Json<Credentials>, JsonRejection>,
) -> Result<(StatusCode, Json<Account>)> {
    let Credentials { email, password } = json_body(body)?;
    let account = sign_up(&state, &client_of(&state, &headers, peer), &email, password).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Makes a local account (register, and the dashboard's sign-up), counted against the client's
/// registrations.
pub async fn sign_up(state: &AppState, client: &str, email: &str, password: String) -> Result<Account> {
    if state.config.access.registration == Registration::Closed {
        return Err(ApiError::Forbidden(
            "registration is closed; an operator makes accounts with `imgbatch tenant create`".into(),
        ));
    }
    if let Some(wait) = state.limiter.hit(REGISTRATIONS_PER_CLIENT, client).await.map_err(limiter_down)? {
        return Err(ApiError::too_many("too many accounts registered from this address; try again later", wait));
    }
    let email = credentials::normalise_email(email).map_err(ApiError::BadRequest)?;
    credentials::check_password(&password).map_err(ApiError::BadRequest)?;
    let hash = state.run_cpu(move || credentials::hash_password(&password)).await.map_err(anyhow::Error::new)??;
    let tenant_id = accounts::create_local(&state.db, &email, Some(&hash)).await?;
    let created_at = db::tenants::find(&state.db, &tenant_id).await?.map_or_else(db::now, |t| t.created_at);
    Ok(Account { tenant_id, email, created_at })
}

/// Sign in
///
/// Trades an email and password for a bearer token. Wrong email and wrong password get the same
/// answer; after 10 failures for one email, or 100 from one address, in 15 minutes, sign-ins
/// are refused (429) until older failures slide out of the last 15 minutes.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "accounts", security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "A token", body = TokenOut),
        (status = 400, description = "The body is not the JSON expected", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/unauthorized", "title": "Authentication required", "status": 401, "detail": "wrong email or password"})),
        (status = 429, description = "Too many failed sign-ins; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until sign-ins are allowed again")),
            example = json!({"type": "https://imgbatch.dev/problems/too-many-requests", "title": "Too many requests", "status": 429, "detail": "too many failed sign-ins for this email; try again later"})),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: std::result::Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<TokenOut>> {
    let Credentials { email, password } = json_body(body)?;
    Ok(Json(sign_in(&state, &client_of(&state, &headers, peer), &email, password).await?))
}

/// Trades an email and password for a bearer token (login, and the dashboard's sign-in), under
/// the sign-in failure limits of the email and of the client.
pub async fn sign_in(state: &AppState, client: &str, email: &str, password: String) -> Result<TokenOut> {
    let email = email.trim().to_lowercase();
    // Counted under a digest, so that neither an email nor its length goes into the counter's key.
    let email_key = credentials::hash_api_key(&email);
    let limits = [
        (LOGIN_FAILURES_PER_EMAIL, email_key.as_str(), "this email"),
        (LOGIN_FAILURES_PER_CLIENT, client, "this address"),
    ];
    // Every attempt is counted before the password is checked, so that guesses sent at once are
    // counted too; a right one is taken back.
    for (window, key, whose) in limits {
        if let Some(wait) = state.limiter.hit(window, key).await.map_err(limiter_down)? {
            return Err(ApiError::too_many(format!("too many failed sign-ins for {whose}; try again later"), wait));
        }
    }
    let tenant = match password.len() <= credentials::MAX_PASSWORD_BYTES {
        true => db::tenants::by_email(&state.db, &email).await?,
        false => None,
    };
    let stored = tenant.as_ref().and_then(|t| t.password_hash.clone());
    let valid = state
        .run_cpu(move || credentials::verify_password(&password, stored.as_deref()))
        .await
        .map_err(anyhow::Error::new)?;
    let Some(tenant) = tenant.filter(|_| valid) else {
        return Err(unauthorized("wrong email or password"));
    };
    for (window, key, _) in limits {
        state.limiter.release(window, key).await.map_err(limiter_down)?;
    }
    let ttl = state.auth.token_ttl;
    let access_token = state.auth.tokens.issue(&tenant.id, ttl)?;
    Ok(TokenOut { access_token, token_type: "Bearer".into(), expires_in: ttl.as_secs() })
}

/// The key a client's limits are counted under.
pub fn client_of(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    client_key(client_address(state.config.access.trust_forwarded_for, headers, peer))
}

/// The client's address: the connection's, or behind a trusted proxy the last `X-Forwarded-For`
/// entry (the one that proxy appended; earlier ones are the client's to choose).
fn client_address(trust_forwarded_for: bool, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    let forwarded = || {
        let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
        last.rsplit(',').next()?.trim().parse().ok()
    };
    match trust_forwarded_for {
        true => forwarded().unwrap_or(peer.ip()),
        false => peer.ip(),
    }
}

/// What a client is counted under: its address, or for IPv6 its /64 (one subscriber's block,
/// which a client can rotate through freely).
fn client_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// While the limits cannot be counted, sign-ins are refused rather than let through uncounted.
pub fn limiter_down(e: anyhow::Error) -> ApiError {
    ApiError::unavailable(Part::Queue, &format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_address_is_the_proxys_last_entry_only_when_trusted() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "1.2.3.4, 198.51.100.7".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(client_address(false, &headers, peer), peer.ip());
        assert_eq!(client_address(true, &headers, peer).to_string(), "203.0.113.9");
        assert_eq!(client_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:bbbb::9".parse().unwrap()), "2001:db8:1:2::/64");
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_address(true, &junk, peer), peer.ip());
    }
}
