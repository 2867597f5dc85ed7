//! By default, URLs that resolve to non-global addresses are refused, for images and webhooks.

use serde_json::Value;

use crate::helpers::{ImageServer, TestApp};

#[tokio::test]
async fn image_urls_on_private_addresses_are_refused_by_default() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.allow_private_urls = false).spawn().await;
    let by_name = images.url("/img/named.png").replace("127.0.0.1", "localhost");
    let redirected = "http://127.0.0.1:9/redirect".to_owned();
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,A,\"{},{by_name}\"\n2,B,{redirected}\n",
        images.url("/img/literal.png")
    );
    let id = app.submit(&csv, &[]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "failed");
    for image in app.products(&id).await.iter().flat_map(|p| p["images"].as_array().unwrap().clone()) {
        let error = image["error"].as_str().unwrap();
        assert!(error.contains("loopback") && error.contains("IMGBATCH_ALLOW_PRIVATE_URLS"), "{error}");
    }
    assert_eq!(images.total_hits(), 0, "nothing may reach the private server");
}

#[tokio::test]
async fn a_webhook_url_on_a_private_address_is_refused_at_upload() {
    let app = TestApp::builder().with_config(|c| c.allow_private_urls = false).spawn().await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    for (url, kind) in [("http://10.0.0.8/hook", "private"), ("http://localhost:9/hook", "loopback")] {
        let response = app.upload_with(csv, &[("webhook_url", url)]).await;
        assert_eq!(response.status(), 400, "{url}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(kind), "{problem:#}");
    }
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0);
}

/// A host that resolved to a global address at upload may resolve elsewhere later (DNS
/// rebinding): the address is checked again when each attempt connects.
#[tokio::test]
async fn a_webhook_host_resolving_to_a_private_address_at_delivery_fails_that_attempt_clearly() {
    use imgbatch::{
        db::{self, ingest::NewRequest},
        domain::{ids::RequestId, ids::TenantId, quality::Quality},
        manifest::{self, Limits},
    };
    let mut receiver = crate::helpers::TestReceiver::start(&[]).await;
    let app = TestApp::builder()
        .with_config(|c| {
            c.allow_private_urls = false;
            c.webhook_retry_schedule = "".parse().unwrap();
        })
        .spawn()
        .await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    let manifest = manifest::parse(csv.as_bytes(), Limits { max_rows: 10, max_images: 10 }).unwrap();
    let (admin, id) = (TenantId::default_tenant(), RequestId::new());
    let rebound = receiver.url.replace("127.0.0.1", "localhost");
    let new = NewRequest {
        tenant: &admin,
        id,
        webhook_url: Some(&rebound),
        quality: Quality::new(50).unwrap(),
        transform: Default::default(),
    };
    db::ingest::insert_manifest(&app.state.db, new, &manifest).await.unwrap();
    db::requests::mark_accepted(&app.state.db, &admin, id).await.unwrap();
    // The request's delivery as its last image would write it, due now.
    db::webhooks::insert_delivery(&app.state.db, &admin, id, &rebound, "{}").await.unwrap();
    imgbatch::queue::recover::recover(&app.state, std::time::Duration::from_secs(600)).await.unwrap();

    let delivery = app.wait_for_delivery(&id.to_string(), "failed", |d| d["status"] == "failed").await;
    let error = delivery["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("loopback") && error.contains("IMGBATCH_ALLOW_PRIVATE_URLS"), "{error}");
    receiver.assert_quiet(std::time::Duration::from_millis(300)).await;
}
