//! `ApiClient`: the calls a merchant's client makes, against any running imgbatch (an app in this
//! process or a child `imgbatch serve`), each one bounded in time.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::PATIENCE;

/// Longest a single call may take: an app that has not answered by then is broken, and a test
/// must fail rather than hang.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one running imgbatch.
#[derive(Clone)]
pub struct ApiClient {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A plain HTTP client whose calls time out after 30 s.
    pub http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `base` without credentials.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build().expect("HTTP client");
        Self { base: base.into(), http }
    }

    /// A client of the API at `base` that sends `Authorization: Bearer <credential>` (an API key
    /// or a token) on every call.
    pub fn with_bearer(base: impl Into<String>, credential: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value: reqwest::header::HeaderValue = format!("Bearer {credential}").parse().expect("header value");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        let http =
            reqwest::Client::builder().timeout(CALL_TIMEOUT).default_headers(headers).build().expect("HTTP client");
        Self { base: base.into(), http }
    }

    /// Uploads `csv` as the `file` field, with more form fields.
    pub async fn upload_with(&self, csv: impl Into<Vec<u8>>, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv.into()).file_name("products.csv").mime_str("text/csv").unwrap(),
        );
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.http.post(format!("{}/api/v1/requests", self.base)).multipart(form).send().await.expect("upload")
    }

    /// Uploads `csv` and returns the new request id, asserting it was accepted.
    pub async fn submit(&self, csv: &str, fields: &[(&str, &str)]) -> String {
        let response = self.upload_with(csv, fields).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "upload refused: {body:#}");
        body["request_id"].as_str().unwrap().to_owned()
    }

    /// GETs `path` (relative to the app) and returns status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls the request until its status is final, and returns it.
    pub async fn wait_until_finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.get_json(&format!("/api/v1/requests/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if matches!(body["status"].as_str(), Some("completed" | "completed_with_errors" | "failed")) {
                return body;
            }
            assert!(Instant::now() < deadline, "request {id} did not finish: {body:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `check` holds for the request.
    pub async fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (_, body) = self.get_json(&format!("/api/v1/requests/{id}")).await;
            if check(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "request {id} never reached {what}: {body:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls until at least `count` images of the request have succeeded.
    pub async fn wait_for_succeeded(&self, id: &str, count: u64) -> Value {
        let what = format!("{count} images succeeded");
        self.wait_for(id, &what, |r| r["counts"]["succeeded"].as_u64().unwrap_or(0) >= count).await
    }

    /// All products of a request with their images.
    pub async fn products(&self, id: &str) -> Vec<Value> {
        let (status, body) = self.get_json(&format!("/api/v1/requests/{id}/products?limit=1000")).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Asserts that the request completed with every one of its `images` succeeded, each once.
    pub async fn assert_all_succeeded(&self, id: &str, request: &Value, images: u64) {
        assert_eq!(request["status"], "completed", "{request:#}");
        assert_eq!(request["counts"]["succeeded"], images, "every image counted exactly once: {request:#}");
        assert_eq!(request["counts"]["failed"], 0, "{request:#}");
        let mut seen = 0;
        for product in self.products(id).await {
            for image in product["images"].as_array().unwrap() {
                assert_eq!(image["status"], "succeeded", "{image}");
                seen += 1;
            }
        }
        assert_eq!(seen, images, "every image is listed once");
    }

    /// The request's webhook delivery with its attempts.
    pub async fn delivery(&self, id: &str) -> Value {
        let (status, delivery) = self.get_json(&format!("/api/v1/requests/{id}/webhook")).await;
        assert_eq!(status, 200, "{delivery}");
        delivery
    }

    /// Polls the request's webhook delivery until `check` holds for it.
    pub async fn wait_for_delivery(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (code, delivery) = self.get_json(&format!("/api/v1/requests/{id}/webhook")).await;
            if code == 200 && check(&delivery) {
                return delivery;
            }
            assert!(Instant::now() < deadline, "the delivery of {id} never reached {what}: {delivery:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /api/v1/jobs` with a JSON body.
    pub async fn job_json(&self, body: &Value) -> reqwest::Response {
        self.http.post(format!("{}/api/v1/jobs", self.base)).json(body).send().await.expect("POST /api/v1/jobs")
    }

    /// `POST /api/v1/jobs` with the image as the multipart `file`, and more form fields.
    pub async fn job_file(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form =
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name("image"));
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.http.post(format!("{}/api/v1/jobs", self.base)).multipart(form).send().await.expect("POST /api/v1/jobs")
    }

    /// The id of a job the response accepted, asserting it was (202, with its Location).
    pub async fn accepted_job(response: reqwest::Response) -> String {
        let status = response.status();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "job refused: {body:#}");
        assert_eq!(body["status"], "queued", "{body}");
        assert_eq!(location.as_deref(), body["status_url"].as_str(), "Location is the status URL");
        body["job_id"].as_str().unwrap().to_owned()
    }

    /// Polls the job until it has succeeded or failed, and returns it.
    pub async fn wait_for_job(&self, id: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.get_json(&format!("/api/v1/jobs/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if matches!(body["status"].as_str(), Some("succeeded" | "failed")) {
                return body;
            }
            assert!(Instant::now() < deadline, "job {id} did not finish: {body:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /readyz` within `within`: its status and body, or `None` when it did not answer.
    pub async fn readiness(&self, within: Duration) -> Option<(u16, Value)> {
        let response = self.http.get(format!("{}/readyz", self.base)).timeout(within).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// The value of one series of `GET /metrics`, such as `imgbatch_outages_total{part="storage"}`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let response = self.http.get(format!("{}/metrics", self.base)).send().await.expect("GET /metrics");
        assert_eq!(response.status(), 200, "/metrics answers");
        let text = response.text().await.unwrap();
        text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }
}

/// Registers an account on the API at `base` and signs it in: a client acting for it, and its
/// tenant id.
pub async fn new_tenant(base: &str, email: &str) -> (ApiClient, String) {
    let open = ApiClient::new(base);
    let password = "correct horse battery staple";
    let credentials = serde_json::json!({"email": email, "password": password});
    let response = open.http.post(format!("{base}/api/v1/auth/register")).json(&credentials).send().await.unwrap();
    let status = response.status();
    let account: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "registered: {account:#}");
    let response = open.http.post(format!("{base}/api/v1/auth/login")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), 200, "signed in");
    let token: Value = response.json().await.unwrap();
    let client = ApiClient::with_bearer(base, token["access_token"].as_str().unwrap());
    (client, account["tenant_id"].as_str().unwrap().to_owned())
}
