//! Per-tenant and per-client limits: 429 problems with `Retry-After`, nothing stored for a refused
//! upload, and one tenant's use never limits another. With Redis the counts are shared by every
//! API process.

use serde_json::Value;

use crate::helpers::{ApiClient, ImageServer, TestApp, api::new_tenant, backends};

/// Asserts a 429 problem with a `Retry-After` of 1 to `max` seconds, and returns its detail.
async fn assert_limited(response: reqwest::Response, max: u64) -> String {
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=max).contains(&wait), "Retry-After {wait}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    problem["detail"].as_str().unwrap().to_owned()
}

const CSV: &str = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";

#[tokio::test]
async fn uploads_past_the_rate_are_429_for_that_tenant_only_and_across_api_processes() {
    let app = TestApp::builder().with_config(|c| c.access.rate_uploads = 2).spawn().await;
    // With Redis, a second API process on the same data shares the counts.
    let second = match backends::servers_backend() {
        true => Some(TestApp::builder().reusing(app.dir.clone(), app.config.clone()).spawn().await),
        false => None,
    };
    let other = second.as_ref().map_or(&app.api, |s| &s.api);
    let other = ApiClient::with_bearer(&other.base, &app.key);
    app.submit(CSV, &[]).await;
    other.submit(CSV, &[]).await;
    let detail = assert_limited(app.upload_with(CSV, &[]).await, 60).await;
    assert!(detail.contains("IMGBATCH_RATE_UPLOADS"), "{detail}");
    assert_eq!(app.get_json("/api/v1/requests").await.1["total"], 2, "the refused upload left nothing");

    let (merchant, _) = new_tenant(&app.base, "rate@example.com").await;
    merchant.submit(CSV, &[]).await;
}

#[tokio::test]
async fn jobs_past_the_rate_are_429_and_store_nothing_for_that_tenant_only() {
    let app = TestApp::builder().with_config(|c| c.access.rate_jobs = 2).spawn().await;
    let png = || crate::helpers::image_server::png(1, 10, 10);
    for _ in 0..2 {
        ApiClient::accepted_job(app.job_file(png(), &[]).await).await;
    }
    let detail = assert_limited(app.job_file(crate::helpers::image_server::png(2, 10, 10), &[]).await, 60).await;
    assert!(detail.contains("IMGBATCH_RATE_JOBS"), "{detail}");
    assert_eq!(app.get_json("/api/v1/jobs").await.1["total"], 2, "the refused job left nothing");
    assert_eq!(app.state.storage.keys("inputs").await.unwrap().len(), 1, "only the accepted (identical) input");
    let (merchant, _) = new_tenant(&app.base, "jobs-rate@example.com").await;
    ApiClient::accepted_job(merchant.job_file(png(), &[]).await).await;
}

#[tokio::test]
async fn an_upload_that_would_pass_the_waiting_images_limit_is_429_and_stores_nothing() {
    let images = ImageServer::start().await;
    let app = TestApp::builder()
        .with_config(|c| {
            c.access.tenant_max_pending_images = 3;
            c.concurrency = 1;
        })
        .spawn()
        .await;
    let slow = (0..3).map(|i| images.url(&format!("/slow/p{i}.jpg"))).collect::<Vec<_>>().join(",");
    let first = app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,Slow,\"{slow}\"\n"), &[]).await;
    let detail = assert_limited(app.upload_with(CSV, &[]).await, 60).await;
    assert!(detail.contains("IMGBATCH_TENANT_MAX_PENDING_IMAGES"), "{detail}");
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 1, "{list}");
    app.wait_until_finished(&first).await;
    app.submit(CSV, &[]).await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_email_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    new_tenant(&app.base, "brute@example.com").await;
    let open = ApiClient::new(&app.base);
    let login = |password: &str| {
        let body = serde_json::json!({"email": "brute@example.com", "password": password});
        open.http.post(format!("{}/api/v1/auth/login", app.base)).json(&body).send()
    };
    for _ in 0..10 {
        assert_eq!(login("a wrong guess!!").await.unwrap().status(), 401);
    }
    let detail = assert_limited(login("correct horse battery staple").await.unwrap(), 15 * 60).await;
    assert!(detail.contains("this email"), "{detail}");
    let body = serde_json::json!({"email": "someone-else@example.com", "password": "whatever it is"});
    let elsewhere = open.http.post(format!("{}/api/v1/auth/login", app.base)).json(&body).send().await.unwrap();
    assert_eq!(elsewhere.status(), 401, "other emails from the same client are not locked yet");
}

#[tokio::test]
async fn guesses_sent_all_at_once_are_counted_before_any_is_checked() {
    let app = TestApp::spawn().await;
    new_tenant(&app.base, "burst@example.com").await;
    let open = ApiClient::new(&app.base);
    let guesses = (0..30).map(|i| {
        let body = serde_json::json!({"email": "burst@example.com", "password": format!("wrong guess {i}")});
        open.http.post(format!("{}/api/v1/auth/login", app.base)).json(&body).send()
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.as_ref().unwrap().status() == 401).count();
    let refused = answers.iter().filter(|a| a.as_ref().unwrap().status() == 429).count();
    assert_eq!((checked, refused), (10, 20), "at most 10 guesses per email are ever checked");
}

#[tokio::test]
async fn one_address_registers_at_most_20_accounts_an_hour_and_fails_100_sign_ins_in_15_minutes() {
    let app = TestApp::spawn().await;
    let open = ApiClient::new(&app.base);
    let call = |route: &str, email: String| {
        let body = serde_json::json!({"email": email, "password": "correct horse battery"});
        open.http.post(format!("{}/api/v1/auth/{route}", app.base)).json(&body).send()
    };
    for i in 0..20 {
        assert_eq!(call("register", format!("farm{i}@example.com")).await.unwrap().status(), 201, "account {i}");
    }
    let detail = assert_limited(call("register", "farm20@example.com".into()).await.unwrap(), 3600).await;
    assert!(detail.contains("this address"), "{detail}");
    // One failure for each of 100 emails: the address's limit, not any email's.
    for i in 0..100 {
        assert_eq!(call("login", format!("nobody{i}@example.com")).await.unwrap().status(), 401, "guess {i}");
    }
    let detail = assert_limited(call("login", "farm0@example.com".into()).await.unwrap(), 15 * 60).await;
    assert!(detail.contains("this address"), "{detail}");
}
