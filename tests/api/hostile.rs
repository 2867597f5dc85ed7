//! Input an attacker would send: every piece is refused with a clear 4xx problem naming what is
//! wrong (and for a CSV, where), nothing is kept, and the service goes on answering.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;

#[tokio::test]
async fn paging_offsets_past_what_a_database_can_take_are_400_not_a_dropped_connection() {
    let app = TestApp::spawn().await;
    let id = app.submit("S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n", &[]).await;
    for path in ["/api/v1/requests".to_owned(), format!("/api/v1/requests/{id}/products")] {
        let (status, problem) = app.get_json(&format!("{path}?offset=9223372036854775808")).await;
        assert_eq!(status, 400, "{path}: {problem}");
        assert!(problem["detail"].as_str().unwrap().starts_with("offset must be from 0 to"), "{problem}");
        let (status, page) = app.get_json(&format!("{path}?offset=9223372036854775807")).await;
        assert_eq!(status, 200, "the largest offset accepted answers an empty page: {page}");
        assert_eq!(page["items"], serde_json::json!([]));
    }
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "the service still answers");
}

#[tokio::test]
async fn urls_with_credentials_or_over_2048_bytes_and_names_with_nul_are_422_at_their_line_and_column() {
    let app = TestApp::spawn().await;
    let long = format!("https://cdn.example.com/{}.jpg", "a".repeat(2100));
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,A,http://user:secret@cdn.example.com/a.jpg\n2,B,{long}\n3,\"C\0D\",https://cdn.example.com/c.jpg\n4,E,\" \0HTTPS://cdn.example.com/e.jpg\"\n"
    );
    let response = app.upload_with(csv, &[]).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let errors = problem["errors"].as_array().unwrap();
    let at =
        |line: u64| errors.iter().find(|e| e["line"] == line).unwrap_or_else(|| panic!("line {line}: {problem:#}"));
    assert_eq!(at(2)["column"], 3);
    assert!(at(2)["message"].as_str().unwrap().ends_with("must not contain a user name or password"), "{problem:#}");
    assert_eq!(at(3)["column"], 3);
    assert!(at(3)["message"].as_str().unwrap().contains("the limit is 2048"), "{problem:#}");
    assert_eq!(at(4)["column"], 2);
    assert_eq!(at(4)["message"], "Product Name must not contain NUL characters");
    // The URL parser would drop the NUL, but the text kept would have it (PostgreSQL refuses it).
    assert_eq!(at(5)["column"], 3);
    assert!(at(5)["message"].as_str().unwrap().ends_with("must not contain control characters"), "{problem:#}");
    assert!(!problem.to_string().contains("secret"), "a password is never echoed back: {problem}");
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0, "nothing was kept");
}

#[tokio::test]
async fn a_webhook_url_with_credentials_is_refused_at_upload() {
    let app = TestApp::spawn().await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    let response = app.upload_with(csv, &[("webhook_url", "https://me:pw@hooks.example.com/x")]).await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("must not contain a user name or password"), "{problem}");
}

#[tokio::test]
async fn a_body_declaring_two_gigabytes_is_answered_413_before_it_is_sent() {
    let app = TestApp::spawn().await;
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/v1/requests HTTP/1.1\r\nHost: imgbatch\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 2000000000\r\n\r\n--x\r\n",
        app.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes: the answer must not wait for it.
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the promised body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn json_routes_take_at_most_64_kib_declared_or_streamed() {
    let app = TestApp::spawn().await;
    let big = serde_json::json!({"email": "a@example.com", "password": "x".repeat(100 << 10)});
    let response = app.http.post(format!("{}/api/v1/auth/login", app.base)).json(&big).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    // A streamed body with no length is cut off at the limit too.
    let chunks = futures::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .http
        .post(format!("{}/api/v1/api-keys", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let (status, _) = app.get_json("/api/v1/api-keys").await;
    assert_eq!(status, 200, "the service keeps answering");
}
