//! Finishing a request exactly once while many workers record its last images at the same time
//! (truly concurrently on PostgreSQL; serialised by SQLite in the embedded backend).

use std::time::Duration;

use futures::future::join_all;
use imgbatch::{
    db::{
        self,
        entities::image,
        images::{Outcome, Stored},
        ingest::NewRequest,
    },
    domain::{
        ids::{RequestId, TenantId},
        quality::Quality,
    },
    manifest::{self, Limits},
    pipeline::finalize::record_outcome,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{PATIENCE, TestApp, TestReceiver};

#[tokio::test]
async fn racing_workers_finish_a_request_once_and_send_one_webhook() {
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::spawn().await;
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=40 {
        csv.push_str(&format!("{i},P{i},https://cdn.example.com/{i}.jpg\n"));
    }
    let manifest = manifest::parse(csv.as_bytes(), Limits { max_rows: 100, max_images: 100 }).unwrap();
    let id = RequestId::new();
    let admin = TenantId::default_tenant();
    let new = NewRequest {
        tenant: &admin,
        id,
        webhook_url: Some(&receiver.url),
        quality: Quality::new(50).unwrap(),
        transform: Default::default(),
    };
    db::ingest::insert_manifest(&app.state.db, new, &manifest).await.unwrap();
    db::requests::mark_accepted(&app.state.db, &admin, id).await.unwrap();
    let images = image::Entity::find().filter(image::Column::RequestId.eq(id)).all(&app.state.db).await.unwrap();

    // Every image is recorded by three workers at once, as duplicate jobs would.
    let outcome = |i: usize| match i % 4 {
        0 => Outcome::Failed { error: "the image server answered 404 Not Found".into() },
        _ => Outcome::Succeeded(Stored {
            output_key: format!("{i:064x}.jpg"),
            input_bytes: 1000,
            output_bytes: 300,
            width: 10,
            height: 10,
        }),
    };
    let calls = images
        .iter()
        .enumerate()
        .flat_map(|(i, img)| (0..3).map(move |_| (i, img)))
        .map(|(i, img)| record_outcome(&app.state, img, outcome(i)));
    let recorded: Vec<_> =
        join_all(calls).await.into_iter().map(|r| r.expect("recording never fails on a race")).collect();
    assert_eq!(
        recorded.iter().filter(|r| r.counted).count(),
        40,
        "each image is recorded by exactly one of its workers"
    );
    let webhooks: Vec<_> = recorded.into_iter().filter_map(|r| r.webhook).collect();
    assert_eq!(webhooks.len(), 1, "exactly one recording finished the request and wrote its delivery");
    app.state.queue.deliver_webhook(&webhooks[0], 0, Duration::ZERO).await.unwrap();

    let request = app.wait_until_finished(&id.to_string()).await;
    assert_eq!(request["status"], "completed_with_errors");
    assert_eq!(request["counts"]["succeeded"], 30, "each image counted once: {request:#}");
    assert_eq!(request["counts"]["failed"], 10);
    let deliveries = db::entities::webhook_delivery::Entity::find()
        .filter(db::entities::webhook_delivery::Column::RequestId.eq(id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(deliveries, 1, "one delivery recorded");
    receiver.next(PATIENCE).await;
    receiver.assert_quiet(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn processes_starting_together_migrate_one_after_another() {
    if std::env::var("IMGBATCH_TEST_BACKEND").as_deref() != Ok("servers") {
        eprintln!("\n*** SKIPPED: concurrent migrations are a PostgreSQL matter (IMGBATCH_TEST_BACKEND=servers) ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = imgbatch::Config::defaults();
    crate::helpers::backends::configure(&mut config, dir.path()).await;
    let connections = join_all((0..5).map(|_| db::connect(&config.database_url))).await;
    let connections: Vec<_> = connections.into_iter().map(Result::unwrap).collect();
    for result in join_all(connections.iter().map(db::migrate)).await {
        result.expect("every process starts, whichever migrates");
    }
}
