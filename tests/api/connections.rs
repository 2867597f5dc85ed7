//! Connections an attacker holds open: half-sent headers and idle keep-alives are closed after
//! ten seconds, a flood of them never takes every file descriptor, and every answer carries a
//! request id.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, process::ChildProcess};

/// How long the service gives a client to send its headers, plus a margin for a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(16);

#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed_after_ten_seconds() {
    let app = TestApp::spawn().await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for i in 0..100 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(b"GET /api/v1/requests HTTP/1.1\r\nHost: imgbatch\r\nX-Slow: ").await.unwrap();
        }
        held.push(stream);
    }
    let deadline = tokio::time::Instant::now() + CLOSED_WITHIN;
    for (i, mut stream) in held.into_iter().enumerate() {
        let mut buf = [0u8; 1024];
        // The server closes the connection (perhaps after a 408 for the half-sent request).
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => continue,
                Err(_) => panic!("connection {i} was still open {CLOSED_WITHIN:?} after it went quiet"),
            }
        }
    }
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn eleven_hundred_idle_connections_to_a_process_limited_to_1024_files_leave_healthz_answering() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = imgbatch::Config::defaults();
    crate::helpers::backends::configure(&mut config, dir.path()).await;
    config.webhook_secret = Some(imgbatch::webhook::sign::generate_secret());
    let env = crate::helpers::process::imgbatch_env(&config);
    let args = ["--nofile=1024:1024", "--", env!("CARGO_BIN_EXE_imgbatch"), "serve", "--bind", "127.0.0.1:0"];
    let mut process = ChildProcess::start("prlimit", &args, &env, dir.path(), "imgbatch-1024-files");
    let base = process.listening().await;
    let address = base.trim_start_matches("http://").to_owned();

    let mut idle = Vec::new();
    for _ in 0..1100 {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&address)).await;
        idle.push(stream.expect("the kernel takes the connection").expect("connected"));
    }
    let http = reqwest::Client::builder().timeout(CLOSED_WITHIN).build().unwrap();
    let health = http.get(format!("{base}/healthz")).send().await.expect("/healthz answers despite the flood");
    assert_eq!(health.status(), 200);
    let ready = http.get(format!("{base}/readyz")).send().await.expect("/readyz answers despite the flood");
    assert_eq!(ready.status(), 200, "the database and store still have descriptors");
    drop(idle);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_json_is_compressed_for_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    let response = app.http.get(format!("{}/api/v1/requests", app.base)).send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let response = app
        .http
        .get(format!("{}/api/v1/requests/not-an-id", app.base))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42", "a caller's id is kept");
    let response = app
        .http
        .get(format!("{}/api-docs/openapi.json", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff", "no answer is sniffed into a page");
}
