//! Outages of imgbatch's own parts in the middle of a batch of 100 images: the store (S3 behind
//! a fault proxy, in both backends), the database (PostgreSQL) and the queue (a Redis of the
//! test's own). While a part is down `/readyz` says which within 2 s and images wait instead of
//! failing; once it is back every image succeeds once, the request completes and its webhook
//! goes out once.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use tokio::time::Instant;

use crate::helpers::{
    TestApp,
    backends::{self, S3Server},
    batch::Batch,
    outage::{self, IMAGES},
    proxy::FaultProxy,
    redis_server::RedisServer,
};

#[tokio::test]
async fn a_store_refusing_connections_for_a_minute_mid_batch_delays_images_but_loses_none() {
    store_outage("the store outage test", Fault::Refuse, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn a_store_refusing_connections_for_150_seconds_mid_batch_delays_images_but_loses_none() {
    store_outage("the long store outage test", Fault::Refuse, Duration::from_secs(150)).await;
}

#[tokio::test]
async fn a_store_that_hangs_for_a_minute_mid_batch_delays_images_but_loses_none() {
    store_outage("the hung store test", Fault::Hang, Duration::from_secs(60)).await;
}

enum Fault {
    /// The S3 server is gone: connections refused, open ones closed.
    Refuse,
    /// The S3 server is stopped: connections accepted, nothing answered.
    Hang,
}

/// Runs a batch with outputs stored through a fault proxy and breaks the store for `lasting`
/// once a fifth of the images have succeeded.
async fn store_outage(test: &str, fault: Fault, lasting: Duration) {
    let Some(s3) = S3Server::find_or_skip(test).await else { return };
    let proxy = FaultProxy::start(s3.addr).await;
    let endpoint = proxy.url();
    let app = TestApp::builder().with_config(outage::settings).with_s3_through(s3, endpoint).spawn().await;
    let batch = Batch::upload(&app, IMAGES).await;
    batch.wait_for_percent(&app, 20).await;

    let began = Instant::now();
    match fault {
        Fault::Refuse => proxy.refuse().await,
        Fault::Hang => proxy.hang().await,
    }
    outage::assert_unready_soon(&app, "storage", began).await;
    outage::assert_status_readable_until(&app, &batch.id, began + lasting).await;
    proxy.forward().await;

    outage::assert_ready_again(&app).await;
    batch.assert_finished_once(&app, &app.secret).await;
    outage::assert_outage_counted(&app, "storage").await;
}

#[tokio::test]
async fn a_database_refusing_connections_for_30_seconds_mid_batch_answers_503_then_loses_no_image() {
    if !backends::servers_backend() {
        eprintln!(
            "\n*** SKIPPED the database outage test: it cuts PostgreSQL's connections (IMGBATCH_TEST_BACKEND=servers) ***\n"
        );
        return;
    }
    let app = TestApp::builder().with_config(outage::settings).spawn().await;
    if !app.config.database_url.starts_with("postgres") {
        return; // The servers backend is absent and `configure` said so.
    }
    let database = database_name(&app.config.database_url);
    let admin = Database::connect(backends::postgres_admin_url()).await.expect("an admin connection");
    let batch = Batch::upload(&app, IMAGES).await;
    batch.wait_for_percent(&app, 20).await;

    let began = Instant::now();
    // No new connection to the database, and every open one cut: a database server gone away.
    admin.execute_unprepared(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false")).await.unwrap();
    let cut = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    );
    admin.execute_unprepared(&cut).await.unwrap();
    outage::assert_unready_soon(&app, "database", began).await;
    outage::assert_status_unavailable_until(&app, &batch.id, began + Duration::from_secs(30)).await;
    admin.execute_unprepared(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await.unwrap();

    outage::assert_ready_again(&app).await;
    batch.assert_finished_once(&app, &app.secret).await;
    outage::assert_outage_counted(&app, "database").await;
}

#[tokio::test]
async fn a_sqlite_database_locked_by_another_process_for_30_seconds_mid_batch_loses_no_image() {
    if backends::servers_backend() {
        eprintln!("\n*** SKIPPED the SQLite lock test: the servers backend runs on PostgreSQL ***\n");
        return;
    }
    let app = TestApp::builder().with_config(outage::settings).spawn().await;
    let batch = Batch::upload(&app, IMAGES).await;
    batch.wait_for_percent(&app, 20).await;

    // Another process (a backup, an operator's shell) holding the write lock: every write of the
    // app waits out its busy timeout and fails, while reads go on (WAL).
    let options = sea_orm::ConnectOptions::new(app.config.database_url.clone()).max_connections(1).to_owned();
    let other = Database::connect(options).await.expect("a second connection to the database file");
    other.execute_unprepared("BEGIN EXCLUSIVE").await.expect("the write lock");
    let began = Instant::now();
    let csv = "S. No.,Product Name,Input Image Urls\n1,Refused,https://cdn.example.com/r.jpg\n";
    let refused = tokio::time::timeout(Duration::from_secs(20), app.upload_with(csv, &[]))
        .await
        .expect("an upload while the database is locked is answered within 20 s");
    assert_eq!(refused.status(), 503, "an upload that cannot be written is a 503: {:?}", refused.text().await);
    // Reads may queue behind writers waiting out the lock for a pool connection, so no answer
    // time is promised while it is held: only that nothing is lost once it is released.
    tokio::time::sleep_until(began + Duration::from_secs(30)).await;
    other.execute_unprepared("COMMIT").await.expect("the lock released");

    batch.assert_finished_once(&app, &app.secret).await;
    outage::assert_outage_counted(&app, "database").await;
    let (_, requests) = app.get_json("/api/v1/requests").await;
    assert_eq!(requests["total"], 1, "the refused upload left nothing behind: {requests:#}");
}

/// The name of the database a PostgreSQL URL names.
fn database_name(url: &str) -> String {
    url::Url::parse(url).unwrap().path().trim_start_matches('/').to_owned()
}

#[tokio::test]
async fn a_queue_paused_for_30_seconds_mid_batch_delays_images_but_loses_none() {
    queue_outage("the paused queue test", QueueFault::Pause).await;
}

#[tokio::test]
async fn a_queue_killed_mid_batch_and_started_again_5_seconds_later_loses_no_image() {
    queue_outage("the killed queue test", QueueFault::Kill).await;
}

enum QueueFault {
    /// `CLIENT PAUSE 30000 ALL`: Redis holds every command for 30 s, as a stalled server would.
    Pause,
    /// SIGKILL, and a new redis-server on the same port and data 5 s later.
    Kill,
}

/// Runs a batch on a Redis of the test's own and breaks it once a fifth of the images have
/// succeeded.
async fn queue_outage(test: &str, fault: QueueFault) {
    if !backends::servers_backend() {
        eprintln!(
            "\n*** SKIPPED {test}: the embedded queue has no server to lose (IMGBATCH_TEST_BACKEND=servers) ***\n"
        );
        return;
    }
    let (dir, mut config) = TestApp::builder().with_config(outage::settings).configured().await;
    if config.redis_url.is_none() {
        return; // The servers backend is absent and `configure` said so.
    }
    let Some(mut redis) = RedisServer::start_or_skip(test, dir.path()).await else { return };
    config.redis_url = Some(redis.url());
    let app = TestApp::builder().reusing(dir, config).spawn().await;
    let batch = Batch::upload(&app, IMAGES).await;
    batch.wait_for_percent(&app, 20).await;

    let began = Instant::now();
    let lasting = match fault {
        QueueFault::Pause => {
            redis.command(&["CLIENT", "PAUSE", "30000", "ALL"]).await;
            Duration::from_secs(30)
        }
        QueueFault::Kill => {
            redis.sigkill().await;
            Duration::from_secs(5)
        }
    };
    outage::assert_unready_soon(&app, "queue", began).await;
    assert_upload_refused_and_not_kept(&app).await;
    outage::assert_status_readable_until(&app, &batch.id, began + lasting).await;
    if let QueueFault::Kill = fault {
        redis.start().await;
    }

    outage::assert_ready_again(&app).await;
    batch.assert_finished_once(&app, &app.secret).await;
    outage::assert_outage_counted(&app, "queue").await;
    let (_, requests) = app.get_json("/api/v1/requests").await;
    assert_eq!(requests["total"], 1, "the upload refused during the outage left nothing behind: {requests:#}");
}

/// An upload while the queue is down: its jobs cannot be queued, so it is answered 503 with
/// `Retry-After` (the merchant uploads again later) and nothing of it is kept.
async fn assert_upload_refused_and_not_kept(app: &TestApp) {
    let csv = "S. No.,Product Name,Input Image Urls\n1,Refused,https://cdn.example.com/r.jpg\n";
    let response = tokio::time::timeout(Duration::from_secs(10), app.upload_with(csv, &[]))
        .await
        .expect("an upload during the queue outage is answered within 10 s");
    assert_eq!(response.status(), 503, "{:?}", response.text().await);
    assert!(response.headers().contains_key("retry-after"));
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/problem+json"), "{content_type}");
}
