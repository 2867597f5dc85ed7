//! The dashboard in a real browser (headless Chromium over WebDriver): a merchant signs up,
//! uploads a CSV, watches it finish live, reads the results, downloads the output CSV and
//! redelivers the webhook. Screenshots at 375 and 1440 px land in `target/dashboard-screenshots`.

use fantoccini::Locator;

use crate::helpers::{
    ApiClient, ImageServer, PATIENCE, TestApp, TestReceiver,
    browser::{Browser, screenshot_dir},
};

const EMAIL: &str = "shop@example.com";
const PASSWORD: &str = "a long enough password";
/// A product name carrying markup that would become an element if the page put it in as HTML.
const LAMP: &str = "Red lamp <img src=x onerror=alert(1)>";

/// Signs up through the page, which signs in, and returns a client of the API with the same
/// account's token (to compare what the page shows with what the API answers).
async fn sign_up(browser: &Browser, base: &str) -> ApiClient {
    let client = &browser.client;
    client.goto(&format!("{base}/")).await.unwrap();
    // Signed out, the dashboard sends the visitor to sign in, and from there to sign up.
    browser.until("the sign-in page", async || client.current_url().await.ok().filter(|u| u.path() == "/signin")).await;
    browser.click("a[href='/signup']").await;
    browser.element("form[action='/signup'] #email").await.send_keys(EMAIL).await.unwrap();
    assert_labelled(browser).await;
    browser.element("#password").await.send_keys(PASSWORD).await.unwrap();
    browser.click("button[type=submit]").await;
    browser.text_when(".account", "the account's email in the header", |t| t.contains(EMAIL)).await;

    let login = serde_json::json!({"email": EMAIL, "password": PASSWORD});
    let response = reqwest::Client::new().post(format!("{base}/api/v1/auth/login")).json(&login).send().await.unwrap();
    let token: serde_json::Value = response.json().await.unwrap();
    ApiClient::with_bearer(base, token["access_token"].as_str().expect("the account signs in through the API"))
}

#[tokio::test]
async fn a_merchant_uploads_watches_downloads_and_redelivers_in_the_browser() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::start("the dashboard test", app.dir.path(), 1440, 900).await else { return };
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let base = app.base.clone();
    let api = sign_up(&browser, &base).await;
    let client = &browser.client;

    // An invalid file is refused with its problems by line and column, and nothing is stored.
    let bad = app.dir.path().join("broken.csv");
    std::fs::write(
        &bad,
        "S. No.,Product Name,Input Image Urls\n1,Mug,https://a.example/m.jpg\n1,Lamp,ftp://a.example/l.jpg\n",
    )
    .unwrap();
    browser.element("#file").await.send_keys(bad.to_str().unwrap()).await.unwrap();
    browser.click("#upload-button").await;
    browser.until("two problems", async || (browser.count("#csv-problems tbody tr").await == 2).then_some(())).await;
    let problems = browser.text("#csv-problems tbody").await;
    assert!(problems.contains("3 1") && problems.contains("3 3"), "line and column of each: {problems}");
    browser.text_when("#requests-list", "an empty list", |t| t.contains("No requests yet")).await;
    assert_labelled(&browser).await;

    // A mark that a reload would wipe: the progress below must come without one.
    client.execute("window.__imgbatchNoReload = true", vec![]).await.unwrap();
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,Blue mug,\"{},{}\"\n2,{LAMP},{}\n",
        images.url("/gated/mug-front.jpg"),
        images.url("/img/mug-side.png"),
        images.url("/missing/lamp.jpg"),
    );
    let file = app.dir.path().join("products.csv");
    std::fs::write(&file, &csv).unwrap();
    browser.element("#file").await.send_keys(file.to_str().unwrap()).await.unwrap();
    browser.text_when("#file-name", "the chosen file's name", |t| t.contains("products.csv")).await;
    browser.click("details.options summary").await;
    browser.element("#quality").await.send_keys("60").await.unwrap();
    browser.element("#webhook_url").await.send_keys(&receiver.url).await.unwrap();
    browser.click("#upload-button").await;

    let id = browser.text("#upload-accepted a").await;
    let row = format!("#requests tr[data-id='{id}']");
    // One image waits behind the gate: the row shows the request unfinished…
    browser.text_when(&format!("{row} .badge"), "the request processing", |t| t == "Processing" || t == "Queued").await;
    let bar = format!("{row} progress");
    let before = browser.attr(&bar, "value").await.expect("the bar has a value");
    assert_ne!(before, "100", "the request is not done while an image waits");
    browser.screenshot("requests-1440", 1440).await;
    images.open_gate();
    // …then finished, in place.
    browser.text_when(&format!("{row} .badge"), "the request finished", |t| t == "Completed with errors").await;
    browser
        .until("the bar at 100%", async || {
            let value = client.find(Locator::Css(&bar)).await.ok()?.attr("value").await.ok()??;
            (value == "100").then_some(())
        })
        .await;
    let kept = client.execute("return window.__imgbatchNoReload === true", vec![]).await.unwrap();
    assert_eq!(kept, true, "the page updated without a reload");
    assert_eq!(browser.text(&format!("{row} td.num")).await, "3 / 3 (1 failed)");
    browser.screenshot("requests-375", 375).await;

    // The request's page: products in file order, both pictures of each image, the failure.
    client.set_window_size(1440, 900).await.unwrap();
    browser.click(&format!("{row} a.id-link")).await;
    browser.until("three image cards", async || (browser.count(".image").await == 3).then_some(())).await;
    assert_labelled(&browser).await;
    let names: Vec<String> = {
        let mut names = Vec::new();
        for heading in client.find_all(Locator::Css(".product h3")).await.unwrap() {
            names.push(heading.text().await.unwrap());
        }
        names
    };
    assert!(names[0].starts_with("Blue mug") && names[1].starts_with(LAMP), "file order, as text: {names:?}");
    assert_eq!(
        browser.count(".product h3 img").await,
        0,
        "markup in a product name is shown as text, never made an element"
    );
    assert_eq!(browser.count(".image.succeeded img.thumb").await, 4, "before and after of both mug images");
    let error = browser.text(".image.failed .error").await;
    assert!(error.contains("404"), "the failed image says why: {error}");
    let script = "return [...document.querySelectorAll('.image.succeeded img.thumb')].every(i => i.complete && i.naturalWidth > 0)";
    browser
        .until("every thumbnail loaded", async || (client.execute(script, vec![]).await.ok()? == true).then_some(()))
        .await;
    browser.text_when(".image.succeeded .dims", "an output's dimensions", |t| t == "320×240").await;

    // The webhook went out once; redeliver makes a second attempt, shown on the page.
    receiver.next(PATIENCE).await;
    browser
        .until("one delivery attempt", async || (browser.count("#attempts tbody tr").await == 1).then_some(()))
        .await;
    browser.screenshot("request-1440", 1440).await;
    browser.screenshot("request-375", 375).await;
    client.set_window_size(1440, 900).await.unwrap();
    browser.click("#redeliver").await;
    receiver.next(PATIENCE).await;
    browser
        .until("a second delivery attempt", async || (browser.count("#attempts tbody tr").await == 2).then_some(()))
        .await;

    // The download is the API's output CSV, byte for byte.
    browser.click("#download[aria-disabled='false']").await;
    let downloaded = browser.downloaded().await;
    let from_api = api.http.get(format!("{base}/api/v1/requests/{id}/output.csv")).send().await.unwrap();
    assert_eq!(from_api.status(), 200);
    assert_eq!(String::from_utf8(downloaded).unwrap(), from_api.text().await.unwrap());

    // Signing out ends the page's session.
    browser.click("form[action='/signout'] button").await;
    browser.until("the sign-in page", async || client.current_url().await.ok().filter(|u| u.path() == "/signin")).await;
    client.goto(&format!("{base}/settings")).await.unwrap();
    browser
        .until("a redirect to sign in", async || client.current_url().await.ok().filter(|u| u.path() == "/signin"))
        .await;
    eprintln!("dashboard screenshots in {}", screenshot_dir().display());
    browser.close().await;
}

#[tokio::test]
async fn a_merchant_resizes_an_image_manages_keys_and_the_secret_and_pages_through_requests_in_the_browser() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::start("the dashboard settings test", app.dir.path(), 1440, 900).await else { return };
    let base = app.base.clone();
    let api = sign_up(&browser, &base).await;
    let client = &browser.client;

    // One image, resized to a WebP 200 px wide, shown beside the original.
    client.goto(&format!("{base}/images")).await.unwrap();
    let file = app.dir.path().join("photo.jpg");
    std::fs::write(&file, crate::helpers::image_server::jpeg(3, 800, 600)).unwrap();
    browser.element("#image-file").await.send_keys(file.to_str().unwrap()).await.unwrap();
    browser.element("#width").await.send_keys("200").await.unwrap();
    browser.element("#format").await.select_by_value("webp").await.unwrap();
    browser.click("#job-button").await;
    let caption = browser.text_when("figure.result figcaption", "the result", |t| t.contains("WEBP")).await;
    assert!(caption.contains("200×150"), "{caption}");
    let width = browser
        .until("the result image loaded", async || {
            let script =
                "const i = document.querySelector('figure.result img'); return i && i.complete ? i.naturalWidth : 0";
            let width = client.execute(script, vec![]).await.ok()?.as_u64()?;
            (width > 0).then_some(width)
        })
        .await;
    assert_eq!(width, 200);
    let (_, jobs) = api.get_json("/api/v1/jobs").await;
    assert_eq!(jobs["items"][0]["result"]["format"], "webp", "{jobs:#}");
    browser.text_when("#jobs-list tbody tr", "the job in the list", |t| t.contains("Succeeded")).await;
    browser.screenshot("images-1440", 1440).await;
    client.set_window_size(1440, 900).await.unwrap();

    assert_labelled(&browser).await;

    // A new key is shown once and works; revoked, it does not.
    client.goto(&format!("{base}/settings")).await.unwrap();
    assert_labelled(&browser).await;
    browser.element("#key-name").await.send_keys("shop backend").await.unwrap();
    browser.click("#key-form button[type=submit]").await;
    let key = browser.text_when("#new-key-value", "the new key", |t| t.starts_with("ib_")).await;
    let with_key = ApiClient::with_bearer(&base, &key);
    assert_eq!(with_key.get_json("/api/v1/requests").await.0, 200, "the key shown works");
    browser.text_when("#key-table", "the key in the list", |t| t.contains("shop backend")).await;
    let source = client.source().await.unwrap();
    assert_eq!(source.matches(&key).count(), 1, "the key is on the page once, in the new-key box");
    browser.screenshot("settings-1440", 1440).await;
    client.set_window_size(1440, 900).await.unwrap();
    browser.click("button[aria-label='Revoke key shop backend']").await;
    accept_dialog(&browser).await;
    browser.text_when("#keys", "the key gone from the list", |t| !t.contains("shop backend")).await;
    assert_eq!(with_key.get_json("/api/v1/requests").await.0, 401, "the revoked key is refused");

    // The webhook secret: revealed as the API has it, then rotated.
    let (_, before) = api.get_json("/api/v1/webhook-secret").await;
    browser.click("#reveal").await;
    let shown = browser.text_when("#secret", "the secret", |t| t.starts_with("whsec_") && !t.contains('•')).await;
    assert_eq!(shown, before["secret"].as_str().unwrap());
    browser.click("#rotate").await;
    accept_dialog(&browser).await;
    let rotated = browser.text_when("#secret", "a new secret", |t| t.starts_with("whsec_") && t != shown).await;
    let (_, after) = api.get_json("/api/v1/webhook-secret").await;
    assert_eq!(rotated, after["secret"].as_str().unwrap());
    browser.text_when("#secret-note", "the old secret's overlap", |t| t.contains("previous secret")).await;

    // Twenty-one requests: a page of twenty, newest first, and one older.
    let images = ImageServer::start().await;
    let mut ids = Vec::new();
    for n in 0..21 {
        let csv = format!("S. No.,Product Name,Input Image Urls\n1,Item {n},{}\n", images.url("/missing/a.jpg"));
        ids.push(api.submit(&csv, &[]).await);
    }
    client.goto(&format!("{base}/")).await.unwrap();
    browser.text_when("#page-info", "the first page", |t| t == "1–20 of 21").await;
    assert_eq!(browser.count("#requests tbody tr").await, 20);
    let first = browser.attr("#requests tbody tr", "data-id").await;
    assert_eq!(first.as_deref(), Some(ids[20].as_str()), "newest first");
    assert_eq!(browser.attr("#newer", "disabled").await.as_deref(), Some("true"));
    browser.click("#older").await;
    browser.text_when("#page-info", "the second page", |t| t == "21–21 of 21").await;
    let only = browser.attr("#requests tbody tr", "data-id").await;
    assert_eq!(only.as_deref(), Some(ids[0].as_str()), "the oldest last");
    assert_eq!(browser.attr("#older", "disabled").await.as_deref(), Some("true"));
    browser.close().await;
}

/// Fails unless every visible form control on the page has a label (or an `aria-label`).
async fn assert_labelled(browser: &Browser) {
    let script = "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
        .filter(e => !e.labels?.length && !e.getAttribute('aria-label')).map(e => e.id || e.name || e.outerHTML)";
    let unlabelled = browser.client.execute(script, vec![]).await.unwrap();
    assert_eq!(unlabelled, serde_json::json!([]), "controls without a label");
}

/// Accepts the confirmation dialog the last click opened.
async fn accept_dialog(browser: &Browser) {
    browser.until("a confirmation dialog", async || browser.client.accept_alert().await.ok()).await;
}
