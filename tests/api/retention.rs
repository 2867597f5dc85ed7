//! Removing what is finished: `DELETE` by the owner, and `IMGBATCH_RETENTION` by the recovery
//! pass. Rows and files go; a file that another request or job also produced stays for it; what
//! is unfinished is left alone (409).

use std::time::Duration;

use serde_json::json;

use crate::helpers::{ApiClient, ImageServer, TestApp, backends::S3Server, image_server, proxy::FaultProxy};

/// Status of a plain GET of `url` (a stored file).
async fn file_status(app: &TestApp, url: &str) -> u16 {
    app.http.get(url).send().await.unwrap().status().as_u16()
}

async fn delete(app: &TestApp, path: &str) -> u16 {
    app.http.delete(format!("{}{path}", app.base)).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn delete_removes_a_finished_request_or_job_and_its_files_but_keeps_files_still_shared() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    // The same image in two requests and a job, at the same settings: one stored file for all.
    let image = images.url("/img/shared.jpg");
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{image}\n");
    let first = app.submit(&csv, &[]).await;
    let second = app.submit(&csv, &[]).await;
    let job = ApiClient::accepted_job(app.job_json(&json!({"url": image})).await).await;
    app.wait_until_finished(&first).await;
    app.wait_until_finished(&second).await;
    let shown = app.wait_for_job(&job).await;
    let file = shown["result"]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.products(&first).await[0]["images"][0]["output_url"], file.as_str(), "one file for all");

    assert_eq!(delete(&app, &format!("/api/v1/requests/{first}")).await, 204);
    assert_eq!(app.get_json(&format!("/api/v1/requests/{first}")).await.0, 404);
    assert_eq!(app.get_json(&format!("/api/v1/requests/{first}/products")).await.0, 404);
    assert_eq!(delete(&app, &format!("/api/v1/requests/{first}")).await, 404, "gone");
    assert_eq!(file_status(&app, &file).await, 200, "still the second request's and the job's");
    assert_eq!(delete(&app, &format!("/api/v1/requests/{second}")).await, 204);
    assert_eq!(file_status(&app, &file).await, 200, "still the job's");
    assert_eq!(delete(&app, &format!("/api/v1/jobs/{job}")).await, 204);
    assert_eq!(app.get_json(&format!("/api/v1/jobs/{job}")).await.0, 404);
    assert_eq!(file_status(&app, &file).await, 404, "gone with its last row");
    let etag = file.rsplit('/').next().unwrap().split('.').next().unwrap();
    let revalidated = app.http.get(&file).header("if-none-match", format!("\"{etag}\"")).send().await.unwrap();
    assert_eq!(revalidated.status(), 404, "a cached copy is told it is gone, not that it is current");

    // An uploaded input goes with its job.
    let uploaded = ApiClient::accepted_job(app.job_file(image_server::png(9, 50, 40), &[]).await).await;
    let result = app.wait_for_job(&uploaded).await["result"]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.state.storage.keys("inputs").await.unwrap().len(), 1);
    assert_eq!(delete(&app, &format!("/api/v1/jobs/{uploaded}")).await, 204);
    assert_eq!(app.state.storage.keys("inputs").await.unwrap(), Vec::<String>::new(), "its input is gone");
    assert_eq!(file_status(&app, &result).await, 404);
    assert_eq!(app.state.storage.keys("images").await.unwrap(), Vec::<String>::new(), "no file is left");
}

#[tokio::test]
async fn what_is_unfinished_cannot_be_deleted() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/stall/r.jpg"));
    let request = app.submit(&csv, &[]).await;
    let job = ApiClient::accepted_job(app.job_json(&json!({"url": images.url("/stall/j.jpg")})).await).await;
    for path in [format!("/api/v1/requests/{request}"), format!("/api/v1/jobs/{job}")] {
        let response = app.http.delete(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 409, "{path}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("delete it once it has finished"), "{problem}");
    }
    assert_eq!(app.wait_until_finished(&request).await["status"], "completed", "left to finish");
    assert_eq!(app.wait_for_job(&job).await["status"], "succeeded");
}

#[tokio::test]
async fn retention_purges_old_requests_and_jobs_with_their_files_and_keeps_what_is_shared_or_newer() {
    let retention = Duration::from_secs(4);
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.retention = Some(retention)).spawn().await;
    let shared = images.url("/img/kept.jpg");
    let old_request = app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,A,{shared}\n"), &[]).await;
    let old_job = ApiClient::accepted_job(app.job_file(image_server::png(11, 60, 40), &[]).await).await;
    app.wait_until_finished(&old_request).await;
    let old_result = app.wait_for_job(&old_job).await["result"]["url"].as_str().unwrap().to_owned();
    let started = tokio::time::Instant::now();
    tokio::time::sleep(retention + Duration::from_millis(200)).await;

    // Newer, and sharing the old request's file.
    let new_request = app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,B,{shared}\n"), &[]).await;
    app.wait_until_finished(&new_request).await;
    let file = app.products(&new_request).await[0]["images"][0]["output_url"].as_str().unwrap().to_owned();
    imgbatch::queue::recover::recover(&app.state, Duration::from_secs(600)).await.unwrap();
    assert!(started.elapsed() < retention * 2, "the newer request was younger than the retention when purged");

    assert_eq!(app.get_json(&format!("/api/v1/requests/{old_request}")).await.0, 404, "the old request is gone");
    assert_eq!(app.get_json(&format!("/api/v1/jobs/{old_job}")).await.0, 404, "the old job is gone");
    assert_eq!(file_status(&app, &old_result).await, 404, "with its file");
    assert_eq!(app.state.storage.keys("inputs").await.unwrap(), Vec::<String>::new(), "and its input");
    assert_eq!(app.get_json(&format!("/api/v1/requests/{new_request}")).await.0, 200, "the newer one stays");
    assert_eq!(file_status(&app, &file).await, 200, "and so does the file it shares");
    assert_eq!(app.get_json("/api/v1/requests").await.1["total"], 1);
}

#[tokio::test]
async fn a_delete_while_the_store_refuses_connections_is_503_and_is_finished_by_a_second_delete_or_the_recovery_pass() {
    let Some(s3) = S3Server::find_or_skip("a_delete_while_the_store_refuses_connections").await else { return };
    let proxy = FaultProxy::start(s3.addr).await;
    let endpoint = proxy.url();
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_s3_through(s3, endpoint).spawn().await;
    let uploaded = ApiClient::accepted_job(app.job_file(image_server::png(21, 80, 60), &[]).await).await;
    let result = app.wait_for_job(&uploaded).await["result"]["url"].as_str().unwrap().to_owned();
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/outage-delete.jpg"));
    let request = app.submit(&csv, &[]).await;
    app.wait_until_finished(&request).await;
    let output = app.products(&request).await[0]["images"][0]["output_url"].as_str().unwrap().to_owned();

    proxy.refuse().await;
    for path in [format!("/api/v1/jobs/{uploaded}"), format!("/api/v1/requests/{request}")] {
        let response = app.http.delete(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(app.get_json(&path).await.0, 404, "{path}: hidden at once, never half-shown");
    }
    proxy.forward().await;
    assert_eq!(app.state.storage.keys("inputs").await.unwrap().len(), 1, "the input is still there");
    assert_eq!(file_status(&app, &output).await, 200, "and the output");

    // The job by calling DELETE again; the request by the recovery pass, as if no one had.
    assert_eq!(delete(&app, &format!("/api/v1/jobs/{uploaded}")).await, 204);
    imgbatch::queue::recover::recover(&app.state, Duration::ZERO).await.unwrap();
    assert_eq!(delete(&app, &format!("/api/v1/requests/{request}")).await, 404, "already finished by the pass");
    assert_eq!(file_status(&app, &result).await, 404);
    assert_eq!(file_status(&app, &output).await, 404);
    assert_eq!(app.state.storage.keys("inputs").await.unwrap(), Vec::<String>::new());
    assert_eq!(app.state.storage.keys("images").await.unwrap(), Vec::<String>::new(), "nothing left behind");
}

#[tokio::test]
async fn retention_keeps_a_request_whose_webhook_is_still_being_retried() {
    let images = ImageServer::start().await;
    let mut receiver = crate::helpers::TestReceiver::start(&[500; 10]).await;
    let app = TestApp::builder()
        .with_config(|c| {
            c.retention = Some(Duration::from_secs(1));
            c.webhook_retry_schedule = "1h".parse().unwrap();
        })
        .spawn()
        .await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/hooked-kept.jpg"));
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    app.wait_until_finished(&id).await;
    receiver.next(crate::helpers::PATIENCE).await;
    app.wait_for_delivery(&id, "its first attempt", |d| d["attempts"].as_array().is_some_and(|a| !a.is_empty())).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    imgbatch::queue::recover::recover(&app.state, Duration::from_secs(600)).await.unwrap();
    assert_eq!(app.get_json(&format!("/api/v1/requests/{id}")).await.0, 200, "kept while its webhook is retried");
    let delivery = app.delivery(&id).await;
    assert_eq!(delivery["status"], "pending", "{delivery}");
}
