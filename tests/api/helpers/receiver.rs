//! A local webhook receiver: every call lands in a channel as (headers, body); it answers with
//! the status codes it was told to, then 204.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use tokio::sync::mpsc;

/// One call received.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// A running receiver.
pub struct TestReceiver {
    /// The URL to give as `webhook_url`.
    pub url: String,
    calls: mpsc::UnboundedReceiver<Call>,
}

#[derive(Clone)]
struct Shared {
    tx: mpsc::UnboundedSender<Call>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl TestReceiver {
    /// A receiver answering `answers` in turn, then 204 to everything.
    pub async fn start(answers: &[u16]) -> Self {
        let (tx, calls) = mpsc::unbounded_channel();
        let shared = Shared { tx, answers: Arc::new(Mutex::new(answers.iter().copied().collect())) };
        let app = Router::new().route("/hook", post(receive)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, calls }
    }

    /// The next call, failing the test if none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Call {
        tokio::time::timeout(within, self.calls.recv())
            .await
            .expect("no webhook call arrived in time")
            .expect("receiver closed")
    }

    /// Asserts that no further call arrives within `window`.
    pub async fn assert_quiet(&mut self, window: Duration) {
        if let Ok(Some(call)) = tokio::time::timeout(window, self.calls.recv()).await {
            panic!("unexpected extra webhook call: {}", String::from_utf8_lossy(&call.body));
        }
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = shared.tx.send(Call { headers, body });
    let code = shared.answers.lock().unwrap().pop_front().unwrap_or(204);
    StatusCode::from_u16(code).unwrap()
}
