//! One API process and three worker processes on PostgreSQL, Redis and S3; one worker is killed
//! with SIGKILL mid-run. Every image still finishes exactly once and the webhook comes once.
//! Runs in the servers backend only (`IMGBATCH_TEST_BACKEND=servers`).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use imgbatch::storage::StorageLocation;

use crate::helpers::{ImageServer, PATIENCE, TestReceiver, backends};

/// Child processes, killed when the test ends however it ends.
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn three_workers_one_killed_finish_every_image_once_and_send_one_webhook() {
    if std::env::var("IMGBATCH_TEST_BACKEND").as_deref() != Ok("servers") {
        eprintln!("\n*** SKIPPED: the multi-process test needs IMGBATCH_TEST_BACKEND=servers ***\n");
        return;
    }
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = imgbatch::Config::defaults();
    backends::configure(&mut config, dir.path()).await;
    let StorageLocation::S3 { bucket, prefix } = &config.storage else { panic!("servers backend without S3") };
    let secret = imgbatch::webhook::sign::generate_secret();
    let env = [
        ("DATABASE_URL", config.database_url.clone()),
        ("REDIS_URL", config.redis_url.clone().unwrap()),
        ("IMGBATCH_QUEUE_NAMESPACE", config.queue_namespace.clone()),
        ("IMGBATCH_STORAGE", format!("s3://{bucket}/{prefix}")),
        ("IMGBATCH_WEBHOOK_SECRET", secret.expose().to_owned()),
        ("IMGBATCH_ALLOW_PRIVATE_URLS", "true".into()),
        ("IMGBATCH_WORKER_HEARTBEAT", "2s".into()),
        ("IMGBATCH_CONCURRENCY", "4".into()),
        ("RUST_LOG", "warn".into()),
    ];
    let command = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imgbatch"));
        c.args(args).envs(env.iter().map(|(k, v)| (*k, v.as_str()))).stdin(Stdio::null()).stderr(Stdio::null());
        c
    };
    let mut fleet = Fleet(Vec::new());
    let mut api = command(&["serve", "--no-workers", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(api.stdout.take().unwrap()).lines();
    fleet.0.push(api);
    let base = loop {
        let line = lines.next().expect("the API printed its address").unwrap();
        if let Some(url) = line.strip_prefix("imgbatch listening on ") {
            break url.to_owned();
        }
    };
    for _ in 0..3 {
        let worker = command(&["worker", "--public-url", &base]).stdout(Stdio::null()).spawn().unwrap();
        fleet.0.push(worker);
    }

    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=150 {
        let a = images.url(&format!("/slow/m{i}a.jpg"));
        let b = images.url(&format!("/img/m{i}b.png"));
        csv.push_str(&format!("{i},P{i},\"{a},{b}\"\n"));
    }
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("p.csv"))
        .text("webhook_url", receiver.url.clone());
    let http = reqwest::Client::new();
    let accepted: serde_json::Value =
        http.post(format!("{base}/api/v1/requests")).multipart(form).send().await.unwrap().json().await.unwrap();
    let id = accepted["request_id"].as_str().expect("accepted").to_owned();
    let status = |http: reqwest::Client, base: String, id: String| async move {
        let r = http.get(format!("{base}/api/v1/requests/{id}")).send().await.unwrap();
        r.json::<serde_json::Value>().await.unwrap()
    };

    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    loop {
        let r = status(http.clone(), base.clone(), id.clone()).await;
        if r["counts"]["succeeded"].as_u64().unwrap_or(0) >= 60 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fleet.0[1].kill().expect("SIGKILL a worker mid-run");
    let request = loop {
        let r = status(http.clone(), base.clone(), id.clone()).await;
        if r["status"] != "queued" && r["status"] != "processing" {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "did not finish after the kill: {r:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(request["status"], "completed", "{request:#}");
    assert_eq!(request["counts"]["succeeded"], 300, "every image counted exactly once: {request:#}");

    let call = receiver.next(PATIENCE).await;
    standardwebhooks::Webhook::new(secret.expose()).unwrap().verify(&call.body, &call.headers).unwrap();
    receiver.assert_quiet(Duration::from_secs(3)).await;
    let delivery: serde_json::Value =
        http.get(format!("{base}/api/v1/requests/{id}/webhook")).send().await.unwrap().json().await.unwrap();
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1, "{delivery:#}");
}
