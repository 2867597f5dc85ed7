//! Tenants apart: every `/api/v1` route needs credentials, and another tenant's ids answer 404 on
//! every route, exactly as unknown ids do, with nothing of theirs changed.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{ApiClient, ImageServer, PATIENCE, TestApp, TestReceiver, api::new_tenant};

/// Every operation of the committed OpenAPI document: method and path template.
fn operations() -> Vec<(reqwest::Method, String)> {
    let spec: Value = serde_json::from_str(&imgbatch::api::openapi::openapi_json()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn every_api_route_but_register_and_login_answers_401_without_credentials() {
    let app = TestApp::spawn().await;
    let open = ApiClient::new(&app.base);
    let mut checked = 0;
    for (method, path) in operations() {
        if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/auth/") {
            continue;
        }
        let url = format!("{}{}", app.base, path.replace("{id}", "0193a000-0000-7000-8000-000000000000"));
        let response = open.http.request(method.clone(), url).send().await.unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"imgbatch\"", "{method} {path}");
        checked += 1;
    }
    assert!(checked >= 10, "every authenticated route was tried ({checked})");
}

#[tokio::test]
async fn a_tenant_cannot_list_read_page_download_or_redeliver_another_tenants_anything() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::spawn().await;
    let owner = &app.api;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,Owned,{}\n", images.url("/img/owned.jpg"));
    let id = owner.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    owner.wait_until_finished(&id).await;
    receiver.next(PATIENCE).await;
    let delivery = owner.wait_for_delivery(&id, "delivered", |d| d["status"] == "succeeded").await;
    let (_, keys) = owner.get_json("/api/v1/api-keys").await;
    let owner_key = keys["items"][0]["id"].as_str().unwrap().to_owned();

    let (stranger, _) = new_tenant(&app.base, "stranger@example.com").await;
    let unknown = "0193a000-0000-7000-8000-000000000000";
    for (method, path) in operations() {
        if !path.contains("{id}") {
            continue;
        }
        let target = if path.starts_with("/api/v1/api-keys/") { &owner_key } else { &id };
        for (whose, value) in [("the owner's", target.as_str()), ("an unknown", unknown)] {
            let url = format!("{}{}", app.base, path.replace("{id}", value));
            let response = stranger.http.request(method.clone(), url).send().await.unwrap();
            let status = response.status();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 404, "{method} {path} with {whose} id: {problem}");
        }
    }
    let (status, list) = stranger.get_json("/api/v1/requests?offset=0&limit=1000").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 0, "the stranger lists nothing of the owner's: {list}");
    let (_, keys) = stranger.get_json("/api/v1/api-keys").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 0, "{keys}");

    // Nothing of the owner's changed: the key still works, no redelivery was made.
    assert_eq!(owner.get_json(&format!("/api/v1/requests/{id}")).await.0, 200);
    receiver.assert_quiet(Duration::from_millis(500)).await;
    let after = owner.delivery(&id).await;
    assert_eq!(after["attempts"], delivery["attempts"], "no attempt was added");
    assert_eq!(after["status"], "succeeded");
}

#[tokio::test]
async fn each_tenant_signs_with_its_own_secret() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::spawn().await;
    let (merchant, _) = new_tenant(&app.base, "secrets@example.com").await;
    let (status, secret) = merchant.get_json("/api/v1/webhook-secret").await;
    assert_eq!(status, 200);
    let own = secret["secret"].as_str().unwrap().to_owned();
    assert!(own.starts_with("whsec_") && own != app.secret, "a secret of its own");
    assert!(secret["previous_secret_expires_at"].is_null());

    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/own.jpg"));
    merchant.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    let call = receiver.next(PATIENCE).await;
    assert_eq!(call.headers["webhook-signature"].to_str().unwrap().split(' ').count(), 1);
    standardwebhooks::Webhook::new(&own).unwrap().verify(&call.body, &call.headers).unwrap();
    let admin = standardwebhooks::Webhook::new(&app.secret).unwrap();
    assert!(admin.verify(&call.body, &call.headers).is_err(), "another tenant's secret does not verify it");
}

/// A status read with an API key is checked by the statement that reads the request; it must
/// answer exactly as every other call does.
#[tokio::test]
async fn a_status_read_with_an_api_key_answers_only_that_keys_tenant() {
    let app = TestApp::spawn().await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,Held,http://127.0.0.1:9/held.jpg\n";
    let id = app.api.submit(csv, &[]).await;
    let path = format!("/api/v1/requests/{id}");
    let (status, own) = app.api.get_json(&path).await;
    assert_eq!((status, own["request_id"].as_str()), (200, Some(id.as_str())), "{own}");

    let (stranger, _) = new_tenant(&app.base, "reader@example.com").await;
    let response = stranger.http.post(format!("{}/api/v1/api-keys", app.base)).json(&serde_json::json!({"name": "r"}));
    let made: Value = response.send().await.unwrap().json().await.unwrap();
    let key = ApiClient::with_bearer(&app.base, made["key"].as_str().unwrap());
    let (status, problem) = key.get_json(&path).await;
    assert_eq!(status, 404, "another tenant's request is unknown to the key: {problem}");
    assert_eq!(problem["detail"], "request not found");
    let (status, list) = stranger.get_json("/api/v1/api-keys").await;
    assert_eq!(status, 200);
    assert!(list["items"][0]["last_used_at"].is_string(), "the read notes the key's use: {list}");

    let revoke = stranger.http.delete(format!("{}/api/v1/api-keys/{}", app.base, made["id"].as_str().unwrap()));
    assert_eq!(revoke.send().await.unwrap().status(), 204);
    let unknown = ApiClient::with_bearer(&app.base, "ib_NeverIssuedNeverIssuedNeverIssuedNeverIssue");
    for (who, client) in [("a revoked key", &key), ("an unknown key", &unknown)] {
        for target in
            [path.as_str(), "/api/v1/requests/0193a000-0000-7000-8000-000000000000", "/api/v1/requests/not-an-id"]
        {
            let response = client.http.get(format!("{}{target}", app.base)).send().await.unwrap();
            assert_eq!(response.status(), 401, "{who} on {target}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"imgbatch\"", "{who}");
            let problem: Value = response.json().await.unwrap();
            assert!(problem["detail"].as_str().unwrap().contains("not valid"), "{who}: {problem}");
        }
    }
    assert_eq!(app.api.get_json(&path).await.0, 200, "the owner's key still reads it");
}
