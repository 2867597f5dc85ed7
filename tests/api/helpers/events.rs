//! A client of server-sent events, written from the HTML standard's parsing rules rather than
//! shared with the app, so that a mistake in the app's framing is caught here.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use super::ApiClient;

/// One event: its name (`message` when none is given) and its data as JSON.
pub type Event = (String, Value);

/// An open events stream.
pub struct EventStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventStream {
    /// Opens `path` on `api`, asserting a 200 `text/event-stream` answer.
    pub async fn open(api: &ApiClient, path: &str) -> Self {
        let response = Self::request(api, path).await;
        let status = response.status();
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert_eq!(status, 200, "{path}: {}", response.text().await.unwrap_or_default());
        assert!(kind.starts_with("text/event-stream"), "{path}: content-type {kind}");
        Self { body: response.bytes_stream().boxed(), buffer: String::new() }
    }

    /// The answer to a request for `path`, whatever it is; the stream may stay open for minutes.
    pub async fn request(api: &ApiClient, path: &str) -> reqwest::Response {
        let request = api.http.get(format!("{}{path}", api.base)).header("accept", "text/event-stream");
        request.timeout(Duration::from_secs(300)).send().await.expect("events request")
    }

    /// The next event, or `None` once the server has ended the stream; fails the test if
    /// neither comes `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk.expect("events body"))),
                Ok(None) => return None,
                Err(_) => panic!("no event and no end of the stream within {within:?}"),
            }
        }
    }

    /// Every event until the server ends the stream, which must happen `within`.
    pub async fn rest(&mut self, within: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + within;
        let mut events = Vec::new();
        while let Some(event) = self.next(deadline.saturating_duration_since(tokio::time::Instant::now())).await {
            events.push(event);
        }
        events
    }
}

/// An event block; `None` for one without data (a keep-alive comment).
fn parse(block: &str) -> Option<Event> {
    let (mut name, mut data) = ("message".to_owned(), Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let json =
        serde_json::from_str(&data.join("\n")).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {block}"));
    Some((name, json))
}
