//! Live progress: `GET /api/v1/requests/{id}/events` and `/api/v1/jobs/{id}/events` send the
//! request (or job) as `GET` shows it whenever it changes, then a final event, and end; a client
//! that comes after the end gets the final event at once. Streams follow work done by another
//! process, share one reader however many watch, and end when the app stops.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use crate::helpers::{
    ApiClient, ImageServer, PATIENCE, TestApp,
    api::new_tenant,
    events::{Event, EventStream},
    process::{self, ChildProcess},
};

/// A CSV of `count` images that each take 300 ms to download.
fn slow_csv(images: &ImageServer, count: usize) -> String {
    let rows: String =
        (0..count).map(|i| format!("{},P{i},{}\n", i + 1, images.url(&format!("/slow/e{i}.jpg")))).collect();
    format!("S. No.,Product Name,Input Image Urls\n{rows}")
}

/// Asserts the events of a request that ran to the end: progress events whose counts never go
/// back, then exactly one `finished` event, last, equal to what `GET` shows now.
async fn assert_ran_to_the_end(api: &ApiClient, path: &str, events: &[Event]) -> Value {
    let (last, progress) = events.split_last().expect("at least one event");
    assert_eq!(last.0, "finished", "the last event is the final one: {events:#?}");
    assert!(progress.iter().all(|(name, _)| name == "progress"), "{events:#?}");
    let done = |v: &Value| v["counts"]["succeeded"].as_u64().unwrap() + v["counts"]["failed"].as_u64().unwrap();
    let counts: Vec<u64> = events.iter().map(|(_, v)| done(v)).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "counts never go back: {counts:?}");
    let (status, now) = api.get_json(path).await;
    assert_eq!(status, 200);
    assert_eq!(last.1, now, "the final event is the request as GET shows it");
    last.1.clone()
}

#[tokio::test]
async fn a_request_stream_sends_each_change_then_the_final_state_and_ends() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 1).spawn().await;
    let id = app.submit(&slow_csv(&images, 4), &[]).await;
    let mut stream = EventStream::open(&app, &format!("/api/v1/requests/{id}/events")).await;
    let first = stream.next(Duration::from_secs(5)).await.expect("an event at once");
    assert_eq!(first.0, "progress", "{first:?}");
    assert_eq!(first.1["request_id"], id.as_str());
    let mut events = vec![first];
    events.extend(stream.rest(PATIENCE).await);
    let last = assert_ran_to_the_end(&app, &format!("/api/v1/requests/{id}"), &events).await;
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress"], 100);
    // One image at a time, 300 ms each: the stream showed the work in between, not only the end.
    let between = events.iter().filter(|(_, v)| (1..=99).contains(&v["progress"].as_u64().unwrap())).count();
    assert!(between >= 2, "progress in between was shown: {events:#?}");
}

#[tokio::test]
async fn a_stream_opened_after_the_end_gets_the_final_event_at_once() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let id = app.submit(&slow_csv(&images, 1), &[]).await;
    let finished = app.wait_until_finished(&id).await;
    let mut stream = EventStream::open(&app, &format!("/api/v1/requests/{id}/events")).await;
    let events = stream.rest(Duration::from_secs(5)).await;
    assert_eq!(events, vec![("finished".to_owned(), finished)]);
}

#[tokio::test]
async fn a_job_stream_ends_with_the_job_as_get_shows_it() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"url": images.url("/stall/job.jpg"), "width": 100});
    let id = ApiClient::accepted_job(app.job_json(&body).await).await;
    let mut stream = EventStream::open(&app, &format!("/api/v1/jobs/{id}/events")).await;
    let first = stream.next(Duration::from_secs(5)).await.expect("an event at once");
    assert_eq!((first.0.as_str(), first.1["job_id"].as_str()), ("progress", Some(id.as_str())), "{first:?}");
    let events = stream.rest(PATIENCE).await;
    let (name, last) = events.last().expect("a final event");
    assert_eq!(name, "finished", "{events:#?}");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["result"]["width"], 100);
    assert_eq!(*last, app.get_json(&format!("/api/v1/jobs/{id}")).await.1);
}

#[tokio::test]
async fn another_tenants_request_and_job_have_no_stream() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let request = app.submit(&slow_csv(&images, 1), &[]).await;
    let job =
        ApiClient::accepted_job(app.job_json(&serde_json::json!({"url": images.url("/stall/j.jpg")})).await).await;
    let (other, _) = new_tenant(&app.base, "events-other@example.com").await;
    for path in [format!("/api/v1/requests/{request}/events"), format!("/api/v1/jobs/{job}/events")] {
        let response = EventStream::request(&other, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 404, "{problem}");
    }
    let anonymous =
        EventStream::request(&ApiClient::new(&app.base), &format!("/api/v1/requests/{request}/events")).await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn five_hundred_streams_of_one_request_share_one_reader_and_all_see_the_end() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 1).spawn().await;
    // The image waits for the gate: the request cannot finish before every stream is open.
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,Gated,{}\n", images.url("/gated/a.jpg"));
    let id = app.submit(&csv, &[]).await;
    let path = format!("/api/v1/requests/{id}/events");
    let opened = futures::stream::iter(0..500)
        .map(|_| async {
            let mut stream = EventStream::open(&app, &path).await;
            assert_eq!(stream.next(Duration::from_secs(30)).await.expect("an event at once").0, "progress");
            stream
        })
        .buffer_unordered(50);
    let mut streams: Vec<EventStream> =
        tokio::time::timeout(PATIENCE, opened.collect()).await.expect("all opened in time");
    assert_eq!(app.state.progress.watched(), 1, "one request watched, however many streams");
    images.open_gate();
    let finals = futures::future::join_all(streams.iter_mut().map(|s| async { s.rest(PATIENCE).await.pop() })).await;
    let finished = app.wait_until_finished(&id).await;
    for last in finals {
        assert_eq!(last, Some(("finished".to_owned(), finished.clone())));
    }
}

#[tokio::test]
async fn open_streams_end_when_the_app_stops_and_do_not_hold_up_its_shutdown() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 1).spawn().await;
    let stalled: Vec<String> = (0..5).map(|i| images.url(&format!("/stall/s{i}.jpg"))).collect();
    let id =
        app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,Stalled,\"{}\"\n", stalled.join(",")), &[]).await;
    let mut stream = EventStream::open(&app, &format!("/api/v1/requests/{id}/events")).await;
    assert_eq!(stream.next(Duration::from_secs(5)).await.unwrap().0, "progress");
    let stopping = tokio::spawn(app.stop());
    // The in-flight image drains (3 s); the request stays unfinished, and its stream ends.
    let events = stream.rest(Duration::from_secs(20)).await;
    assert!(events.iter().all(|(name, _)| name == "progress"), "{events:#?}");
    tokio::time::timeout(PATIENCE, stopping).await.expect("the app stopped in time").unwrap();
}

#[tokio::test]
async fn an_api_process_streams_the_progress_a_separate_worker_process_makes() {
    let images = ImageServer::start().await;
    let (dir, config) = TestApp::builder().with_config(|c| c.concurrency = 1).configured().await;
    let env = process::imgbatch_env(&config);
    let mut api = ChildProcess::imgbatch(&["serve", "--no-workers", "--bind", "127.0.0.1:0"], &env, dir.path(), "api");
    let base = api.listening().await;
    let client = ApiClient::with_bearer(&base, &crate::helpers::admin_key_for(&config).await);
    let id = client.submit(&slow_csv(&images, 4), &[]).await;
    let mut stream = EventStream::open(&client, &format!("/api/v1/requests/{id}/events")).await;
    let first = stream.next(Duration::from_secs(5)).await.expect("an event at once");
    assert_eq!(first.1["status"], "queued", "no worker has started yet: {first:?}");
    let _worker = ChildProcess::imgbatch(&["worker", "--public-url", &base], &env, dir.path(), "worker");
    let mut events = vec![first];
    events.extend(stream.rest(PATIENCE).await);
    let last = assert_ran_to_the_end(&client, &format!("/api/v1/requests/{id}"), &events).await;
    assert_eq!(last["counts"]["succeeded"], 4, "{last}");
    assert!(events.len() >= 3, "the worker's progress came through as it went: {events:#?}");
}
