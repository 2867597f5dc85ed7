//! The web dashboard at `/`: pages rendered from templates compiled into the binary, whose script
//! reads and changes everything through the JSON API with the session cookie (and, for a change,
//! the CSRF header). Pages set a strict Content-Security-Policy: scripts, styles and connections
//! only from this origin; images also from the merchants' image hosts.

mod assets;
mod signin;

use askama::Template;
use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Uri, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    auth::{session, settings::AuthMode},
    db,
    domain::ids::{RequestId, TenantId},
    error::ApiError,
    state::AppState,
};

/// What every page's script may load and call.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes (not part of the API's OpenAPI document).
pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(requests_page))
        .route("/requests/{id}", get(request_page))
        .route("/images", get(images_page))
        .route("/settings", get(settings_page))
        .route("/signin", get(signin::show_sign_in).post(signin::sign_in))
        .route("/signup", get(signin::show_sign_up).post(signin::sign_up))
        .route("/signout", post(signin::sign_out))
        // Pages hold a CSRF token and an account's data: never kept by a cache.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    Router::new()
        .merge(pages)
        .route("/assets/{name}", get(assets::serve))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
}

/// Who a page is shown to, and what its layout needs.
pub struct View {
    /// Which page (for the navigation and the script).
    pub page: &'static str,
    /// The account's email; none for the default tenant.
    pub email: Option<String>,
    /// The token the page's calls that change something carry.
    pub csrf: String,
    /// Whether there are accounts to sign out of.
    pub signed_in: bool,
    /// The cache-busted URLs of the stylesheet, script, icon and sample CSV.
    pub assets: &'static assets::Urls,
}

impl View {
    fn new(page: &'static str, email: Option<String>, csrf: String, signed_in: bool) -> Self {
        Self { page, email, csrf, signed_in, assets: assets::urls() }
    }
}

/// The viewer of a page: its tenant and layout, or where to go instead (sign in, or an error).
async fn viewer(state: &AppState, headers: &HeaderMap, uri: &Uri, page: &'static str) -> Result<View, Response> {
    if state.auth.mode == AuthMode::Off {
        return Ok(View::new(page, None, String::new(), false));
    }
    let to_sign_in = || Redirect::to(&format!("/signin?next={}", signin::encode_next(uri))).into_response();
    let Some(token) = session::cookie(headers, session::COOKIE) else {
        return Err(to_sign_in());
    };
    let tenant: TenantId = match state.auth.session(&state.db, &token).await {
        Ok(tenant) => tenant,
        Err(ApiError::Unauthorized(_)) => return Err(to_sign_in()),
        Err(e) => return Err(e.into_response()),
    };
    let email = db::tenants::find(&state.db, &tenant).await.map_err(|e| ApiError::from(e).into_response())?;
    Ok(View::new(page, email.and_then(|t| t.email), session::csrf_for(&token), true))
}

/// A page rendered, or a 500 if its template cannot be (which the tests rule out).
fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::Internal(anyhow::anyhow!("rendering a page: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    view: View,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    view: View,
    id: RequestId,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ImagesPage {
    view: View,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    view: View,
}

/// Shows a page to its viewer, or sends them where they must go first.
async fn show<T: Template>(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    page: &'static str,
    make: impl FnOnce(View) -> T,
) -> Response {
    match viewer(state, headers, uri, page).await {
        Ok(view) => render(&make(view)),
        Err(elsewhere) => elsewhere,
    }
}

async fn requests_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    show(&state, &headers, &uri, "requests", |view| RequestsPage { view }).await
}

async fn request_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Response {
    match id.parse::<RequestId>() {
        Ok(id) => show(&state, &headers, &uri, "request", |view| RequestPage { view, id }).await,
        Err(_) => ApiError::NotFound("request").into_response(),
    }
}

async fn images_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    show(&state, &headers, &uri, "images", |view| ImagesPage { view }).await
}

async fn settings_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    show(&state, &headers, &uri, "settings", |view| SettingsPage { view }).await
}
