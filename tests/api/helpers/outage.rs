//! What the outage tests check while one of imgbatch's own parts (database, store, queue) is
//! down and after it is back, as a client, an operator's probe and a Prometheus scrape see it.

use std::time::Duration;

use imgbatch::Config;
use tokio::time::Instant;

use super::ApiClient;

/// How soon `/readyz` must report an outage: a load balancer probing every second or two
/// takes the instance out of rotation at once.
pub const READINESS_WITHIN: Duration = Duration::from_secs(2);

/// Images a batch interrupted by an outage has.
pub const IMAGES: u64 = 100;

/// Settings of an app that meets an outage: the default concurrency, so that many images are in
/// flight when it starts, and waits between retries capped at 5 s instead of 30, so that the
/// batch resumes soon after the outage ends.
pub fn settings(config: &mut Config) {
    config.concurrency = 16;
    config.outage_retry_max = Duration::from_secs(5);
}

/// Asserts that `/readyz` answers 503 with `part` unavailable within 2 s of `began`.
pub async fn assert_unready_soon(api: &ApiClient, part: &str, began: Instant) {
    let deadline = began + READINESS_WITHIN;
    let mut last = None;
    while Instant::now() < deadline {
        let answer = api.readiness(deadline - Instant::now()).await;
        if let Some((503, body)) = &answer
            && body["checks"][part] == "unavailable"
        {
            return;
        }
        last = answer.or(last);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not report {part} unavailable within {READINESS_WITHIN:?} of the outage: last answer {last:?}");
}

/// Asserts that `/readyz` answers 200 with every check ok again, within a minute.
pub async fn assert_ready_again(api: &ApiClient) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = api.readiness(READINESS_WITHIN).await;
        if let Some((200, body)) = &answer {
            assert_eq!(body["status"], "ok", "{body:#}");
            return;
        }
        assert!(Instant::now() < deadline, "/readyz still not ready a minute after the outage: {answer:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Until `until`, about once a second, asserts what a client polling its request sees while
/// the store or queue is down: a prompt 200, the request not finished and no image failed.
pub async fn assert_status_readable_until(api: &ApiClient, id: &str, until: Instant) {
    while Instant::now() < until {
        let response = request_status(api, id, Duration::from_secs(5)).await;
        assert_eq!(response.status(), 200, "the status is read from the database alone");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(matches!(body["status"].as_str(), Some("queued" | "processing")), "finished mid-outage: {body:#}");
        assert_eq!(body["counts"]["failed"], 0, "an outage of our own fails no image: {body:#}");
        tokio::time::sleep(Duration::from_secs(1).min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// Until `until`, asserts that the status of a request answers only 200 or 503 (never 500) while
/// the database is down, each 503 as `application/problem+json` with a `Retry-After`, and that a
/// 503 was seen.
pub async fn assert_status_unavailable_until(api: &ApiClient, id: &str, until: Instant) {
    let mut unavailable = 0;
    while Instant::now() < until {
        let response = request_status(api, id, Duration::from_secs(10)).await;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (content_type, retry_after) = (header("content-type"), header("retry-after"));
        let body = response.text().await.unwrap_or_default();
        match status {
            200 => {}
            503 => {
                unavailable += 1;
                let problem = content_type.as_deref().is_some_and(|t| t.starts_with("application/problem+json"));
                assert!(problem, "a 503 is a problem document, not {content_type:?}: {body}");
                // Retry-After is a number of seconds or an HTTP date (RFC 9110).
                let valid = retry_after
                    .as_deref()
                    .is_some_and(|v| v.parse::<u64>().is_ok() || chrono::DateTime::parse_from_rfc2822(v).is_ok());
                assert!(valid, "a 503 says when to retry: Retry-After {retry_after:?}");
            }
            other => panic!("the status answered {other} during a database outage (only 503 is right): {body}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(unavailable > 0, "no 503 was seen while the database was down");
}

/// `GET /api/v1/requests/{id}`, failing the test when it does not answer within `within`: a
/// client polling its request gives up then.
async fn request_status(api: &ApiClient, id: &str, within: Duration) -> reqwest::Response {
    let url = format!("{}/api/v1/requests/{id}", api.base);
    let sent = api.http.get(url).timeout(within).send().await;
    sent.unwrap_or_else(|e| panic!("the status of a request did not answer within {within:?} during the outage: {e}"))
}

/// Asserts that `/metrics` counts at least one outage of `part` and shows it up again.
pub async fn assert_outage_counted(api: &ApiClient, part: &str) {
    let outages = api.metric(&format!("imgbatch_outages_total{{part=\"{part}\"}}")).await;
    assert!(outages.is_some_and(|n| n >= 1.0), "imgbatch_outages_total for {part}: {outages:?}");
    let up = api.metric(&format!("imgbatch_dependency_up{{part=\"{part}\"}}")).await;
    assert_eq!(up, Some(1.0), "imgbatch_dependency_up for {part} after the outage");
}
