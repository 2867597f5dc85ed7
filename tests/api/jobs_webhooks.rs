//! A job's `job.completed` webhook: signed with the tenant's secret, its data the job exactly as
//! `GET` shows it, its attempts listed, and redelivered on request.

use serde_json::{Value, json};

use crate::helpers::{ApiClient, ImageServer, PATIENCE, TestApp, TestReceiver};

#[tokio::test]
async fn a_job_with_a_webhook_gets_one_signed_job_completed_event_that_can_be_redelivered() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::spawn().await;
    let body = json!({"url": images.url("/img/hooked.jpg"), "width": 64, "height": 64, "fit": "cover",
        "webhook_url": receiver.url});
    let id = ApiClient::accepted_job(app.job_json(&body).await).await;

    let call = receiver.next(PATIENCE).await;
    let verifier = standardwebhooks::Webhook::new(&app.secret).unwrap();
    verifier.verify(&call.body, &call.headers).expect("signed with the tenant's secret");
    let event: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(event["type"], "job.completed");
    let (_, shown) = app.get_json(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(event["data"], shown, "the event's data is the job as GET shows it");
    assert_eq!(event["data"]["status"], "succeeded");
    assert_eq!(event["timestamp"], shown["completed_at"]);
    assert_eq!(event["data"]["result"]["width"], 64);

    let delivery = wait_for_job_delivery(&app, &id, 1).await;
    assert_eq!(delivery["payload"], event);
    assert_eq!(delivery["id"], call.headers["webhook-id"].to_str().unwrap());

    let response = app.http.post(format!("{}/api/v1/jobs/{id}/webhook/redeliver", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let again = receiver.next(PATIENCE).await;
    assert_eq!(again.headers["webhook-id"], call.headers["webhook-id"], "the same webhook-id");
    assert_eq!(again.body, call.body, "the same event");
    wait_for_job_delivery(&app, &id, 2).await;
    receiver.assert_quiet(std::time::Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_job_without_a_webhook_has_no_delivery() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let id = ApiClient::accepted_job(app.job_json(&json!({"url": images.url("/img/quiet.jpg")})).await).await;
    assert_eq!(app.wait_for_job(&id).await["status"], "succeeded");
    let (status, problem) = app.get_json(&format!("/api/v1/jobs/{id}/webhook")).await;
    assert_eq!(status, 404, "{problem}");
}

/// Polls the job's delivery until it has succeeded after `attempts` attempts.
async fn wait_for_job_delivery(app: &TestApp, id: &str, attempts: usize) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, delivery) = app.get_json(&format!("/api/v1/jobs/{id}/webhook")).await;
        let done = delivery["status"] == "succeeded" && delivery["attempts"].as_array().map(Vec::len) == Some(attempts);
        if code == 200 && done {
            return delivery;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job's delivery never had {attempts} attempts: {delivery:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
