//! The dashboard over plain HTTP, as a browser's requests reach it: the session cookie's
//! attributes, CSRF on every change, the sign-in form's errors, redirects that stay on the site,
//! assets under digest names, and the Content-Security-Policy.

use imgbatch::auth::settings::AuthMode;
use reqwest::{Client, Response, header, redirect::Policy};

use crate::helpers::{ImageServer, TestApp};

/// A browser without a cookie jar: cookies are sent by hand, redirects are not followed.
fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The `Set-Cookie` header of `response` naming `name`.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The `name=value` part of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

/// The value of the first `<input name="{name}" value="…">` or `<meta name="{name}" content="…">`
/// in a page, read from that tag alone.
fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no {name} in the page"));
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let attribute = if tag.starts_with("<meta") { "content=\"" } else { "value=\"" };
    let value = &tag[tag.find(attribute).unwrap_or_else(|| panic!("no value in {tag}")) + attribute.len()..];
    value[..value.find('"').unwrap()].to_owned()
}

/// Opens the sign-up form and posts it; returns the answer and the form cookie it needed.
async fn post_sign_up(base: &str, email: &str, password: &str, next: &str) -> Response {
    let form = browser().get(format!("{base}/signup")).send().await.unwrap();
    let form_cookie = pair(&set_cookie(&form, "imgbatch_form").expect("the form sets its cookie")).to_owned();
    let token = field(&form.text().await.unwrap(), "form_token");
    let fields = [("email", email), ("password", password), ("form_token", &token), ("next", next)];
    browser().post(format!("{base}/signup")).header(header::COOKIE, form_cookie).form(&fields).send().await.unwrap()
}

#[tokio::test]
async fn signing_up_sets_a_locked_down_session_cookie_and_changes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let images = ImageServer::start().await;
    let base = &app.base;
    let signed_out = browser().get(format!("{base}/settings")).send().await.unwrap();
    assert_eq!(signed_out.status(), 303);
    assert_eq!(signed_out.headers()[header::LOCATION], "/signin?next=%2Fsettings");

    let signed_up = post_sign_up(base, "csrf@example.com", "a long enough password", "/settings").await;
    assert_eq!(signed_up.status(), 303);
    assert_eq!(signed_up.headers()[header::LOCATION], "/settings");
    let session = set_cookie(&signed_up, "imgbatch_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    assert!(!session.contains("Secure"), "not Secure on an http service: {session}");
    let cookie = pair(&session).to_owned();

    let page = browser().get(format!("{base}/")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "no inline script or style is allowed: {csp}");
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("csrf@example.com"), "the page names the account");
    let csrf = field(&html, "csrf-token");
    assert_eq!(csrf.len(), 32, "the page's CSRF token: {csrf}");

    // The cookie alone reads, but a change sent with it and no CSRF token (as a form on another
    // site could make the browser send) is refused and stores nothing.
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,Mug,{}\n", images.url("/img/m.jpg"));
    let upload = |token: Option<String>| {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(csv.clone().into_bytes()).file_name("p.csv"));
        let call = browser().post(format!("{base}/api/v1/requests")).header(header::COOKIE, &cookie).multipart(form);
        match token {
            Some(token) => call.header("x-csrf-token", token),
            None => call,
        }
        .send()
    };
    let forged = upload(None).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(forged.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(upload(Some("0".repeat(32))).await.unwrap().status(), 403, "a wrong token is refused too");
    let list = browser().get(format!("{base}/api/v1/requests")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let listed: serde_json::Value = list.json().await.unwrap();
    assert_eq!(listed["total"], 0, "nothing was stored by the refused uploads");
    assert_eq!(upload(Some(csrf.clone())).await.unwrap().status(), 202, "the page's own call goes through");
    let keys = browser().get(format!("{base}/api/v1/api-keys")).header(header::COOKIE, &cookie).send().await.unwrap();
    let keys: serde_json::Value = keys.json().await.unwrap();
    let delete = |token: &str| {
        let url = format!("{base}/api/v1/api-keys/{}", keys["items"][0]["id"].as_str().unwrap_or("none"));
        browser().delete(url).header(header::COOKIE, &cookie).header("x-csrf-token", token).send()
    };
    assert_eq!(delete("").await.unwrap().status(), 403, "a DELETE needs the token too");

    // Signing out needs the token too, then clears the cookie.
    let no_token =
        browser().post(format!("{base}/signout")).header(header::COOKIE, &cookie).form(&[("csrf", "x")]).send();
    assert_eq!(no_token.await.unwrap().status(), 403);
    let out = browser().post(format!("{base}/signout")).header(header::COOKIE, &cookie).form(&[("csrf", &csrf)]).send();
    let out = out.await.unwrap();
    assert_eq!(out.status(), 303);
    let cleared = set_cookie(&out, "imgbatch_session").expect("the session cookie is cleared");
    assert!(cleared.starts_with("imgbatch_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn the_sign_in_form_says_what_was_wrong_and_never_redirects_off_the_site() {
    let app = TestApp::spawn().await;
    let base = &app.base;
    let made = post_sign_up(base, "shop@example.com", "a long enough password", "https://evil.example/").await;
    assert_eq!(made.headers()[header::LOCATION], "/", "a next URL on another site is dropped");
    let signed_in = pair(&set_cookie(&made, "imgbatch_session").unwrap()).to_owned();
    // Browsers drop tabs and newlines and read `\` as `/`: each of these would leave the site.
    for next in ["/%09/evil.example", "/\\evil.example", "/%0A/evil.example", "/signin", "//evil.example"] {
        let to = browser().get(format!("{base}/signin?next={next}")).header(header::COOKIE, &signed_in).send();
        let to = to.await.unwrap();
        assert_eq!(to.status(), 303, "{next}");
        assert_eq!(to.headers()[header::LOCATION], "/", "{next} is not followed");
    }
    let taken = post_sign_up(base, "shop@example.com", "a long enough password", "//evil.example/").await;
    assert_eq!(taken.status(), 409);
    assert!(set_cookie(&taken, "imgbatch_session").is_none());
    let html = taken.text().await.unwrap();
    assert!(html.contains("id=\"form-error\""), "the form shows the error");
    assert!(html.contains("value=\"shop@example.com\""), "the email is kept");
    assert!(html.contains("name=\"next\" value=\"/\""), "{html}");

    // Wrong password, then no form token at all.
    let form = browser().get(format!("{base}/signin")).send().await.unwrap();
    let form_cookie = pair(&set_cookie(&form, "imgbatch_form").unwrap()).to_owned();
    let token = field(&form.text().await.unwrap(), "form_token");
    let wrong = [("email", "shop@example.com"), ("password", "not the password"), ("form_token", &token)];
    let wrong = browser().post(format!("{base}/signin")).header(header::COOKIE, &form_cookie).form(&wrong).send();
    let wrong = wrong.await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "imgbatch_session").is_none());
    assert!(wrong.text().await.unwrap().contains("id=\"form-error\""));
    let forged = [("email", "shop@example.com"), ("password", "a long enough password"), ("form_token", &token)];
    let forged = browser().post(format!("{base}/signin")).form(&forged).send().await.unwrap();
    assert_eq!(forged.status(), 403, "a form posted without its cookie (from another site) is refused");
    assert!(set_cookie(&forged, "imgbatch_session").is_none());

    // Signing out once the session has gone (the cookie expired) just goes to sign in.
    let gone = browser().post(format!("{base}/signout")).form(&[("csrf", "stale")]).send().await.unwrap();
    assert_eq!(gone.status(), 303);
    assert_eq!(gone.headers()[header::LOCATION], "/signin");

    // A session cookie that is not a valid token is no session.
    let bogus =
        browser().get(format!("{base}/")).header(header::COOKIE, "imgbatch_session=nonsense").send().await.unwrap();
    assert_eq!(bogus.status(), 303);
}

#[tokio::test]
async fn with_auth_off_the_dashboard_opens_assets_are_cached_for_good_and_other_sites_change_nothing() {
    let app = TestApp::builder().with_config(|c| c.access.auth = AuthMode::Off).spawn().await;
    let page = browser().get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200, "with auth off the dashboard opens on the default account");
    let html = page.text().await.unwrap();
    assert!(html.contains("Default account") && !html.contains("/signout"), "no sign-out without accounts");
    for (stem, ext, kind) in [
        ("app", "css", "text/css"),
        ("app", "js", "text/javascript"),
        ("icon", "svg", "image/svg+xml"),
        ("sample-products", "csv", "text/csv"),
        ("requests", "js", "text/javascript"),
    ] {
        let url = html
            .match_indices(&format!("/assets/{stem}."))
            .map(|(at, _)| &html[at..at + html[at..].find('"').unwrap()])
            .find(|url| url.ends_with(&format!(".{ext}")))
            .unwrap_or_else(|| panic!("the page links {stem}.{ext}"));
        assert_eq!(url.len(), format!("/assets/{stem}..{ext}").len() + 12, "a 12-digit digest in {url}");
        let asset = browser().get(format!("{}{url}", app.base)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{url}");
        assert!(asset.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{url}");
        assert!(asset.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"), "{url}");
        let plain = browser().get(format!("{}/assets/{stem}.{ext}", app.base)).send().await.unwrap();
        assert_eq!(plain.status(), 404, "only the current digest is served");
    }
    // With no credentials at all, a page on another site still cannot make a browser change
    // anything here; the service's own pages and clients that are not browsers can.
    let make_key = |headers: &[(&str, &str)]| {
        let mut call = browser().post(format!("{}/api/v1/api-keys", app.base)).json(&serde_json::json!({"name": "k"}));
        for (k, v) in headers {
            call = call.header(*k, *v);
        }
        call.send()
    };
    let forged = make_key(&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")]).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(make_key(&[("origin", "https://evil.example")]).await.unwrap().status(), 403);
    assert_eq!(make_key(&[("sec-fetch-site", "same-origin")]).await.unwrap().status(), 201);
    assert_eq!(make_key(&[]).await.unwrap().status(), 201, "curl and the CLI send no Origin");
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_service_is_reached_over_https() {
    let public = url::Url::parse("https://images.example.com/").unwrap();
    let app = TestApp::builder().with_config(|c| c.public_url = Some(public)).spawn().await;
    let signed_up = post_sign_up(&app.base, "tls@example.com", "a long enough password", "/").await;
    let session = set_cookie(&signed_up, "imgbatch_session").expect("a session cookie");
    assert!(session.contains("Secure"), "{session}");

    // Behind a TLS proxy with no public URL set, the proxy's word is enough.
    let proxied = TestApp::spawn().await;
    let form =
        browser().get(format!("{}/signin", proxied.base)).header("x-forwarded-proto", "https").send().await.unwrap();
    let form_cookie = set_cookie(&form, "imgbatch_form").expect("the form sets its cookie");
    assert!(form_cookie.contains("Secure"), "{form_cookie}");
}
