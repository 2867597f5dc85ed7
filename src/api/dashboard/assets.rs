//! The dashboard's stylesheet, script and icon, compiled into the binary and served under names
//! that carry a digest of their content: a browser keeps each for a year and fetches the new one
//! the moment a new build changes it.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// One compiled-in file.
struct Asset {
    /// The name it is served under: `app.<digest>.css`.
    name: String,
    url: String,
    content_type: &'static str,
    body: &'static [u8],
}

/// The URLs pages link to.
pub struct Urls {
    pub css: &'static str,
    /// The script every page shares; each page's own comes after it.
    pub js: &'static str,
    pub requests_js: &'static str,
    pub request_js: &'static str,
    pub images_js: &'static str,
    pub settings_js: &'static str,
    pub icon: &'static str,
    /// A sample CSV, for a merchant to start from.
    pub sample_csv: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: LazyLock<[Asset; 8]> = LazyLock::new(|| {
    [
        asset("app", "css", "text/css; charset=utf-8", include_bytes!("../../../assets/app.css")),
        asset("app", "js", JS, include_bytes!("../../../assets/app.js")),
        asset("requests", "js", JS, include_bytes!("../../../assets/requests.js")),
        asset("request", "js", JS, include_bytes!("../../../assets/request.js")),
        asset("images", "js", JS, include_bytes!("../../../assets/images.js")),
        asset("settings", "js", JS, include_bytes!("../../../assets/settings.js")),
        asset("icon", "svg", "image/svg+xml", include_bytes!("../../../assets/icon.svg")),
        asset("sample-products", "csv", "text/csv; charset=utf-8", include_bytes!("../../../samples/products.csv")),
    ]
});

static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: &ASSETS[0].url,
    js: &ASSETS[1].url,
    requests_js: &ASSETS[2].url,
    request_js: &ASSETS[3].url,
    images_js: &ASSETS[4].url,
    settings_js: &ASSETS[5].url,
    icon: &ASSETS[6].url,
    sample_csv: &ASSETS[7].url,
});

fn asset(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let digest = Sha256::digest(body);
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name = format!("{stem}.{short}.{ext}");
    Asset { url: format!("/assets/{name}"), name, content_type, body }
}

/// The URLs of this build's assets.
pub fn urls() -> &'static Urls {
    &URLS
}

/// `GET /assets/{name}`: only this build's names; an old name is a 404, not stale content
/// cached for a year.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::NotFound("asset").into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
