//! Webhook retries and redelivery: the same `webhook-id` on every attempt, every attempt recorded.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{ImageServer, PATIENCE, TestApp, TestReceiver};

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_same_signed_webhook_until_it_succeeds() {
    let images = ImageServer::start().await;
    // A redirect is not followed (it would turn the POST into a GET): it counts as a failure.
    let mut receiver = TestReceiver::start(&[500, 307]).await;
    let app = TestApp::spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/w.jpg"));
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;

    let verifier = standardwebhooks::Webhook::new(&app.secret).unwrap();
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let call = receiver.next(PATIENCE).await;
        verifier.verify(&call.body, &call.headers).expect("every attempt is signed");
        ids.push(call.headers["webhook-id"].to_str().unwrap().to_owned());
        bodies.push(call.body);
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "one webhook-id on every attempt: {ids:?}");
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the same body on every attempt");
    receiver.assert_quiet(Duration::from_millis(800)).await;

    let delivery = wait_for_delivery(&app, &id, "succeeded").await;
    assert_eq!(delivery["id"], ids[0].as_str());
    let codes: Vec<Value> = delivery["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(codes, [500, 307, 204]);
    assert!(delivery["attempts"][0]["error"].as_str().unwrap().contains("500"));
}

#[tokio::test]
async fn a_webhook_that_never_succeeds_fails_after_its_schedule_and_can_be_redelivered() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[500, 500, 500, 500]).await;
    let app = TestApp::spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/r.jpg"));
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    for _ in 0..4 {
        receiver.next(PATIENCE).await;
    }
    let delivery = wait_for_delivery(&app, &id, "failed").await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 4, "the first try and three retries");
    receiver.assert_quiet(Duration::from_millis(800)).await;

    let response = app.http.post(format!("{}/api/v1/requests/{id}/webhook/redeliver", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let call = receiver.next(PATIENCE).await;
    assert_eq!(call.headers["webhook-id"].to_str().unwrap(), delivery["id"].as_str().unwrap());
    let delivery = wait_for_delivery(&app, &id, "succeeded").await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_receiver_down_for_four_attempts_gets_the_webhook_on_the_fifth_each_a_scheduled_delay_after_the_last() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[503, 503, 503, 503, 200]).await;
    let app =
        TestApp::builder().with_config(|c| c.webhook_retry_schedule = "1s,1s,1s,1s,1s".parse().unwrap()).spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/d.jpg"));
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;

    let verifier = standardwebhooks::Webhook::new(&app.secret).unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let call = receiver.next(PATIENCE).await;
        verifier.verify(&call.body, &call.headers).expect("every attempt is signed");
        ids.push(call.headers["webhook-id"].to_str().unwrap().to_owned());
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "one webhook-id over all five calls: {ids:?}");
    // A sixth call would come a second after the fifth if the 200 had not been taken as delivered.
    receiver.assert_quiet(Duration::from_secs(2)).await;

    let delivery = wait_for_delivery(&app, &id, "succeeded").await;
    assert_eq!(delivery["id"], ids[0].as_str());
    let attempts = delivery["attempts"].as_array().unwrap();
    let field = |name: &str| attempts.iter().map(|a| a[name].clone()).collect::<Vec<Value>>();
    assert_eq!(field("number"), [1, 2, 3, 4, 5], "{delivery:#}");
    assert_eq!(field("status_code"), [503, 503, 503, 503, 200], "{delivery:#}");
    let times: Vec<_> = field("attempted_at")
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).expect("attempted_at is RFC 3339"))
        .collect();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= chrono::Duration::seconds(1),
            "an attempt came {gap} after the one before, sooner than the schedule's 1 s: {delivery:#}"
        );
    }
}

async fn wait_for_delivery(app: &TestApp, id: &str, status: &str) -> Value {
    app.wait_for_delivery(id, status, |d| d["status"] == status).await
}

#[tokio::test]
async fn a_generated_secret_is_kept_across_restarts_and_signs_the_webhook() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::builder().with_config(|c| c.webhook_secret = None).spawn().await;
    let generated = imgbatch::db::settings::get(&app.state.db, "webhook_secret").await.unwrap().expect("a secret");
    assert!(generated.starts_with("whsec_"));
    let (dir, config) = app.stop().await;

    let app = TestApp::builder().reusing(dir, config).spawn().await;
    let kept = imgbatch::db::settings::get(&app.state.db, "webhook_secret").await.unwrap();
    assert_eq!(kept.as_deref(), Some(generated.as_str()));
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/k.jpg"));
    app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    let call = receiver.next(PATIENCE).await;
    standardwebhooks::Webhook::new(&generated).unwrap().verify(&call.body, &call.headers).unwrap();
}

/// A webhook queued while the image workers were busy goes out at once, not at the webhook
/// worker's next heartbeat (30 s here, so that a late one cannot pass).
#[tokio::test]
async fn a_webhook_queued_after_a_busy_spell_is_sent_at_once() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::builder().with_config(|c| c.worker_heartbeat = Duration::from_secs(30)).spawn().await;
    for round in 0..2 {
        let rows: String =
            (1..=80).map(|i| format!("{i},P{i},{}\n", images.url(&format!("/large/r{round}-{i}.jpg")))).collect();
        let csv = format!("S. No.,Product Name,Input Image Urls\n{rows}");
        let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
        let request = app.wait_until_finished(&id).await;
        assert_eq!(request["status"], "completed", "{request}");
        let completed: chrono::DateTime<chrono::Utc> = request["completed_at"].as_str().unwrap().parse().unwrap();
        let call = receiver.next(Duration::from_secs(10)).await;
        let late = chrono::Utc::now() - completed;
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["data"]["request_id"], id.as_str(), "{body}");
        assert!(
            late < chrono::Duration::seconds(2),
            "round {round}: the webhook came {late} after the request finished"
        );
    }
}
