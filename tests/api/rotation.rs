//! Rotating a tenant's webhook secret: for the overlap both secrets sign, so that a receiver still
//! holding the old one keeps verifying; after it, only the new one does.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{ImageServer, PATIENCE, TestApp, TestReceiver, api::new_tenant};

const OVERLAP: Duration = Duration::from_secs(3);

#[tokio::test]
async fn after_a_rotation_old_secret_receivers_verify_for_the_overlap_and_then_stop() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::builder().with_config(|c| c.access.webhook_secret_overlap = OVERLAP).spawn().await;
    let (merchant, _) = new_tenant(&app.base, "rotate@example.com").await;
    let (_, before) = merchant.get_json("/api/v1/webhook-secret").await;
    let old = before["secret"].as_str().unwrap().to_owned();

    let response = merchant.http.post(format!("{}/api/v1/webhook-secret/rotate", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let expires: chrono::DateTime<chrono::Utc> =
        rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    assert!(left <= OVERLAP && left > Duration::ZERO, "the old secret retires after the overlap: {rotated}");
    let (_, shown) = merchant.get_json("/api/v1/webhook-secret").await;
    assert_eq!(shown["secret"], new.as_str());

    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/rot.jpg"));
    let id = merchant.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    let during = receiver.next(PATIENCE).await;
    assert_eq!(during.headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2, "signed by both");
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret).unwrap().verify(&during.body, &during.headers).unwrap();
    }

    merchant.wait_for_delivery(&id, "delivered", |d| d["status"] == "succeeded").await;
    tokio::time::sleep_until(tokio::time::Instant::now() + left + Duration::from_millis(500)).await;
    let response = merchant.http.post(format!("{}/api/v1/requests/{id}/webhook/redeliver", app.base)).send().await;
    assert_eq!(response.unwrap().status(), 202);
    let after = receiver.next(PATIENCE).await;
    standardwebhooks::Webhook::new(&new).unwrap().verify(&after.body, &after.headers).unwrap();
    let stale = standardwebhooks::Webhook::new(&old).unwrap().verify(&after.body, &after.headers);
    assert!(stale.is_err(), "after the overlap the old secret no longer verifies");

    // Rotations in a row keep one previous secret signing, not every one.
    for _ in 0..3 {
        let response = merchant.http.post(format!("{}/api/v1/webhook-secret/rotate", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = merchant.http.post(format!("{}/api/v1/requests/{id}/webhook/redeliver", app.base)).send().await;
    assert_eq!(response.unwrap().status(), 202);
    let call = receiver.next(PATIENCE).await;
    assert_eq!(
        call.headers["webhook-signature"].to_str().unwrap().split(' ').count(),
        2,
        "the current and one previous"
    );
}

#[tokio::test]
async fn the_admin_secret_set_by_the_server_is_not_rotated_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, shown) = app.get_json("/api/v1/webhook-secret").await;
    assert_eq!(shown["secret"], app.secret.as_str(), "IMGBATCH_WEBHOOK_SECRET is the admin account's");
    let response = app.http.post(format!("{}/api/v1/webhook-secret/rotate", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let (_, still) = app.get_json("/api/v1/webhook-secret").await;
    assert_eq!(still["secret"], app.secret.as_str());
}
