//! Signing in, up and out of the dashboard: HTML forms posted to the server, which answers with
//! the session cookie and a redirect, or the form again with what was wrong.

use std::net::SocketAddr;

use askama::Template;
use axum::{
    Form,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{View, render};
use crate::{
    api::accounts,
    auth::{session, settings::AuthMode, settings::Registration},
    error::ApiError,
    state::AppState,
};

/// Where to go after signing in.
#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// A posted sign-in or sign-up form (no `Debug`: it holds a password).
#[derive(Deserialize)]
pub struct AccountForm {
    email: String,
    password: String,
    form_token: String,
    #[serde(default)]
    next: Option<String>,
}

/// A posted sign-out form.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct AccountPage {
    view: View,
    signing_up: bool,
    registration_open: bool,
    email: String,
    error: Option<String>,
    form_token: String,
    next: String,
    /// `?next=…` for the link to the other form, or nothing.
    switch_query: String,
    min_password: usize,
}

/// `next`, percent-encoded for a query string.
pub(super) fn encode_next(uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    url::form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

/// Only a path on this site: never `//host`, a URL, or anything a browser could turn into one
/// (it drops tabs and newlines and reads `\\` as `/`), and never a sign-in page (a loop).
fn safe_next(next: Option<&str>) -> &str {
    let page = |n: &str| n.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/').to_owned();
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && !matches!(page(n).as_str(), "/signin" | "/signup" | "/signout") =>
        {
            n
        }
        _ => "/",
    }
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    session::over_https(state.config.public_url.as_ref(), headers)
}

/// The form, with a form token matching the browser's form cookie (set here if it has none).
fn form_page(state: &AppState, headers: &HeaderMap, page: AccountPageParts) -> Response {
    let existing = session::cookie(headers, session::FORM_COOKIE);
    let token = existing.clone().unwrap_or_else(session::new_form_token);
    let AccountPageParts { signing_up, email, error, next, status } = page;
    let template = AccountPage {
        view: View::new(if signing_up { "signup" } else { "signin" }, None, String::new(), false),
        signing_up,
        registration_open: state.config.access.registration != Registration::Closed,
        email,
        error,
        form_token: token.clone(),
        switch_query: match next.as_str() {
            "/" => String::new(),
            other => format!("?next={}", url::form_urlencoded::byte_serialize(other.as_bytes()).collect::<String>()),
        },
        next,
        min_password: crate::auth::credentials::MIN_PASSWORD_CHARS,
    };
    let mut response = (status, render(&template)).into_response();
    if existing.is_none() {
        response.headers_mut().append(header::SET_COOKIE, session::form_cookie(&token, secure(state, headers)));
    }
    response
}

struct AccountPageParts {
    signing_up: bool,
    email: String,
    error: Option<String>,
    next: String,
    status: StatusCode,
}

/// Whether the browser already has a working session (or needs none).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    if state.auth.mode == AuthMode::Off {
        return true;
    }
    match session::cookie(headers, session::COOKIE) {
        Some(token) => state.auth.session(&state.db, &token).await.is_ok(),
        None => false,
    }
}

async fn account_form(state: AppState, headers: HeaderMap, next: Next, signing_up: bool) -> Response {
    let next = safe_next(next.next.as_deref()).to_owned();
    if signed_in(&state, &headers).await {
        return Redirect::to(&next).into_response();
    }
    let signing_up = signing_up && state.config.access.registration != Registration::Closed;
    form_page(
        &state,
        &headers,
        AccountPageParts { signing_up, email: String::new(), error: None, next, status: StatusCode::OK },
    )
}

/// `GET /signin`.
pub async fn show_sign_in(State(state): State<AppState>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    account_form(state, headers, next, false).await
}

/// `GET /signup`.
pub async fn show_sign_up(State(state): State<AppState>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    account_form(state, headers, next, true).await
}

/// `POST /signin`.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AccountForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    submit(state, peer, headers, form, false).await
}

/// `POST /signup`: makes the account, then signs in with it.
pub async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AccountForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    submit(state, peer, headers, form, true).await
}

async fn submit(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    form: Result<Form<AccountForm>, axum::extract::rejection::FormRejection>,
    signing_up: bool,
) -> Response {
    let Ok(Form(form)) = form else {
        return ApiError::bad_request("expected the form's email, password and form_token").into_response();
    };
    let expected = session::cookie(&headers, session::FORM_COOKIE).unwrap_or_default();
    let next = safe_next(form.next.as_deref()).to_owned();
    let result = if expected.is_empty() || !session::same(&form.form_token, &expected) {
        Err(ApiError::Forbidden("the form expired; it has been renewed, send it again".into()))
    } else {
        account(&state, &headers, peer, &form, signing_up).await
    };
    match result {
        Ok(token) => {
            let cookie = session::start(&token.access_token, state.auth.token_ttl, secure(&state, &headers));
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let error = Some(e.problem().detail);
            // The API's answer logs an internal error and says when to retry; the page says why.
            let answer = e.into_response();
            let parts = AccountPageParts { signing_up, email: form.email, error, next, status: answer.status() };
            let mut response = form_page(&state, &headers, parts);
            let (answered, _) = answer.into_parts();
            if let Some(wait) = answered.headers.get(header::RETRY_AFTER) {
                response.headers_mut().insert(header::RETRY_AFTER, wait.clone());
            }
            // What the answer noted for the outage tracking (a database found down) goes along.
            response.extensions_mut().extend(answered.extensions);
            response
        }
    }
}

/// Makes the account when signing up, then signs in with it.
async fn account(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    form: &AccountForm,
    signing_up: bool,
) -> Result<accounts::TokenOut, ApiError> {
    let client = accounts::client_of(state, headers, peer);
    if signing_up {
        accounts::sign_up(state, &client, &form.email, form.password.clone()).await?;
    }
    accounts::sign_in(state, &client, &form.email, form.password.clone()).await
}

/// `POST /signout`: ends the session in this browser.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().append(header::SET_COOKIE, session::end(secure(&state, &headers)));
    // A session already gone (the cookie expired) has nothing another site could end.
    let Some(token) = session::cookie(&headers, session::COOKIE) else {
        return response;
    };
    let valid = form.is_ok_and(|Form(f)| session::same(&f.csrf, &session::csrf_for(&token)));
    if !valid {
        return ApiError::Forbidden("signing out needs the page's CSRF token".into()).into_response();
    }
    response
}
