//! The dashboard's session: a bearer token kept in an `HttpOnly` cookie, and the CSRF token a
//! signed-in page sends back with every call that changes something. The CSRF token is derived
//! from the session token, so a page on another site (which can neither read the cookie nor the
//! page) cannot produce it; sign-in and sign-up forms, made before any session, carry a random
//! token that must match a cookie of their own (double submit).

use std::time::Duration;

use ::cookie::{Cookie, SameSite};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use sha2::{Digest, Sha256};

/// The session cookie: a bearer token.
pub const COOKIE: &str = "imgbatch_session";
/// The cookie a sign-in or sign-up form's CSRF token must match.
pub const FORM_COOKIE: &str = "imgbatch_form";
/// The header a signed-in page's calls that change something carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// The CSRF token that goes with a session token.
pub fn csrf_for(session: &str) -> String {
    let digest = Sha256::new().chain_update(b"imgbatch csrf\0").chain_update(session.as_bytes()).finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a method changes something (and so needs the CSRF token when sent with the cookie).
pub fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a browser says the call comes from a page of another site: `Sec-Fetch-Site`, or else
/// an `Origin` naming another host than the one called. Clients that are not browsers send
/// neither.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return !matches!(site, "same-origin" | "none");
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => false,
        (Some(origin), Some(host)) => origin.split_once("://").is_none_or(|(_, authority)| authority != host),
        (Some(_), None) => true,
    }
}

/// Whether the browser reached the service over https: the public URL says so, or the proxy in
/// front does (`X-Forwarded-Proto`; a client that forges it only makes its own cookie stricter).
pub fn over_https(public_url: Option<&url::Url>, headers: &HeaderMap) -> bool {
    public_url.is_some_and(|u| u.scheme() == "https")
        || headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// `Set-Cookie` for a new session lasting `ttl`. `secure` when the service is reached over https.
pub fn start(token: &str, ttl: Duration, secure: bool) -> HeaderValue {
    let max_age = ::cookie::time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    set(Cookie::build((COOKIE, token.to_owned())).max_age(max_age).same_site(SameSite::Lax), secure)
}

/// `Set-Cookie` that ends the session in this browser.
pub fn end(secure: bool) -> HeaderValue {
    set(Cookie::build((COOKIE, "")).max_age(::cookie::time::Duration::ZERO).same_site(SameSite::Lax), secure)
}

/// `Set-Cookie` for a form's CSRF token; it lives as long as a form is likely to stay open.
pub fn form_cookie(token: &str, secure: bool) -> HeaderValue {
    let max_age = ::cookie::time::Duration::hours(12);
    set(Cookie::build((FORM_COOKIE, token.to_owned())).max_age(max_age).same_site(SameSite::Strict), secure)
}

/// A fresh random token for a form.
pub fn new_form_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn set(builder: ::cookie::CookieBuilder<'static>, secure: bool) -> HeaderValue {
    let cookie = builder.path("/").http_only(true).secure(secure).build();
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie of tokens is a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_only_over_https() {
        let plain = start("tok", Duration::from_secs(60), false).to_str().unwrap().to_owned();
        assert!(plain.contains("imgbatch_session=tok") && plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(plain.contains("Max-Age=60") && plain.contains("Path=/") && !plain.contains("Secure"));
        assert!(start("tok", Duration::from_secs(60), true).to_str().unwrap().contains("Secure"));
        assert!(end(false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn cookies_are_found_by_name_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; imgbatch_session=abc".parse().unwrap());
        headers.append(header::COOKIE, "imgbatch_form=f".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, FORM_COOKIE).as_deref(), Some("f"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn calls_from_other_sites_are_told_apart_from_the_service_and_from_clients() {
        let with = |pairs: &[(&str, &str)]| {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
            }
            cross_site(&headers)
        };
        assert!(!with(&[]), "curl and the CLI send neither header");
        assert!(!with(&[("sec-fetch-site", "same-origin"), ("origin", "http://127.0.0.1:8080")]));
        assert!(with(&[("sec-fetch-site", "cross-site")]) && with(&[("sec-fetch-site", "same-site")]));
        assert!(!with(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]));
        assert!(with(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]));
        assert!(with(&[("origin", "null"), ("host", "127.0.0.1:8080")]));
    }

    #[test]
    fn https_is_known_from_the_public_url_or_the_proxy() {
        let https = url::Url::parse("https://img.example/").unwrap();
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(over_https(Some(&https), &HeaderMap::new()) && over_https(None, &proxied));
        assert!(!over_https(None, &HeaderMap::new()));
    }

    #[test]
    fn the_csrf_token_depends_on_the_session() {
        assert_eq!(csrf_for("a"), csrf_for("a"));
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert!(same(&csrf_for("a"), &csrf_for("a")) && !same(&csrf_for("a"), &csrf_for("b")) && !same("a", "ab"));
    }
}
