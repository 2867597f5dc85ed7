//! Any upload, whatever its bytes, is answered with a verdict and never a server error, and the
//! app keeps answering after it. Each case is an HTTP call, so there are few cases.

use std::time::Duration;

use imgbatch::config::ByteSize;
use proptest::{
    prop_assert,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::Value;
use tokio::{runtime::Runtime, time::timeout};

use crate::helpers::{PATIENCE, TestApp};

// The parser's own strategies: its test code is not built into the library this suite links, so
// the file is included by path rather than copied.
#[allow(dead_code)] // The products each valid file holds are checked by the parser's tests.
#[path = "../../src/manifest/parse/generate.rs"]
mod generate;

/// Longest any one call may take here.
const DEADLINE: Duration = Duration::from_secs(20);

/// Small enough that the longer generated files are refused as too large.
const MAX_UPLOAD: u64 = 32 << 10;

async fn within<T>(what: &str, call: impl Future<Output = T>) -> Result<T, TestCaseError> {
    timeout(DEADLINE, call).await.map_err(|_| TestCaseError::fail(format!("{what}: no answer in {DEADLINE:?}")))
}

/// Uploads `bytes` as the file and checks the answer, then that the app is still alive.
async fn upload_is_answered(app: &TestApp, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let lines = generate::line_count(&bytes);
    let response = within("the upload", app.upload_with(bytes, &[])).await?;
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = within("the body", response.json()).await?.unwrap_or(Value::Null);
    prop_assert!(matches!(status, 202 | 400 | 413 | 422), "answered {status}: {body:#}");
    if status != 202 {
        prop_assert!(content_type.as_deref() == Some("application/problem+json"), "{status} as {content_type:?}");
    }
    if status == 422 {
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        prop_assert!((1..=100).contains(&errors.len()), "{} errors: {body:#}", errors.len());
        for error in &errors {
            let line = error["line"].as_u64().unwrap_or(0);
            prop_assert!((1..=lines).contains(&line), "{error} in a file of {lines} lines");
        }
    }
    let health = within("/healthz", app.http.get(format!("{}/healthz", app.base)).send()).await?;
    prop_assert!(health.is_ok_and(|r| r.status() == 200), "/healthz stopped answering after a {status}");
    Ok(())
}

#[test]
fn any_upload_is_answered_202_400_413_or_422_and_the_app_keeps_answering() {
    let rt = Runtime::new().expect("a runtime");
    // Many uploads a minute: the uploads limit is not what this test is about.
    let limited = TestApp::builder().with_config(|c| {
        c.max_upload_bytes = ByteSize(MAX_UPLOAD);
        c.access.rate_uploads = 1_000_000;
    });
    let app = rt.block_on(async { timeout(PATIENCE, limited.spawn()).await }).expect("the app started in time");
    // Regressions are kept as plain tests, so a failing run writes no file into the tree.
    let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
    let verdict =
        TestRunner::new(config).run(&generate::upload(), |bytes| rt.block_on(upload_is_answered(&app, bytes)));
    drop(app);
    // Accepted uploads leave image jobs (and their address lookups) running; they are not what is
    // tested, so they get a moment to stop and are then left behind.
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Err(failure) = verdict {
        panic!("{failure}");
    }
}
