//! The recovery pass: dead uploads are removed, due webhook deliveries are sent again.

use std::time::Duration;

use imgbatch::{
    db::{self, entities::webhook_delivery, ingest::NewRequest},
    domain::{
        ids::{RequestId, TenantId},
        quality::Quality,
    },
    manifest::{self, Limits},
    queue::recover::recover,
};
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::helpers::{ImageServer, PATIENCE, TestApp, TestReceiver};

/// Stores `csv` as a request of the admin account as an upload does, without queueing any of its
/// images; marked accepted when `accepted`.
async fn stored(app: &TestApp, csv: &str, accepted: bool) -> RequestId {
    let manifest = manifest::parse(csv.as_bytes(), Limits { max_rows: 10, max_images: 10 }).unwrap();
    let (admin, id) = (TenantId::default_tenant(), RequestId::new());
    let new = NewRequest {
        tenant: &admin,
        id,
        webhook_url: None,
        quality: Quality::new(50).unwrap(),
        transform: Default::default(),
    };
    db::ingest::insert_manifest(&app.state.db, new, &manifest).await.unwrap();
    if accepted {
        db::requests::mark_accepted(&app.state.db, &admin, id).await.unwrap();
    }
    id
}

#[tokio::test]
async fn an_upload_that_died_before_its_jobs_were_queued_is_invisible_then_removed() {
    let app = TestApp::spawn().await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    let id = stored(&app, csv, false).await;

    let (status, _) = app.get_json(&format!("/api/v1/requests/{id}")).await;
    assert_eq!(status, 404, "a request whose jobs were never all queued is not shown");
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0);

    assert_eq!(recover(&app.state, Duration::from_secs(600)).await.unwrap().0, 0, "a fresh upload is left alone");
    // The pass the workers run at start may hold the database at the same moment; a pass that
    // cannot remove it leaves it to the next (a minute later in the service).
    let mut removed = 0;
    for _ in 0..5 {
        removed = recover(&app.state, Duration::ZERO).await.unwrap().0;
        if removed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(removed, 1, "the dead upload is removed within a few passes");
    let left = imgbatch::db::entities::request::Entity::find_by_id(id).one(&app.state.db).await.unwrap();
    assert!(left.is_none(), "the dead upload is gone");
}

#[tokio::test]
async fn a_due_delivery_whose_attempt_was_lost_is_sent_again() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[500]).await;
    let app = TestApp::builder().with_config(|c| c.webhook_retry_schedule = "1h".parse().unwrap()).spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/l.jpg"));
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    let first = receiver.next(PATIENCE).await;

    // Once the first attempt is recorded, as if the hour had passed and the queued retry were lost.
    let delivery =
        app.wait_for_delivery(&id, "one attempt", |d| d["attempts"].as_array().is_some_and(|a| a.len() == 1)).await;
    let past = webhook_delivery::ActiveModel {
        id: Set(delivery["id"].as_str().unwrap().parse().unwrap()),
        next_attempt_at: Set(Some(db::now() - chrono::Duration::seconds(1))),
        ..Default::default()
    };
    webhook_delivery::Entity::update(past).exec(&app.state.db).await.unwrap();

    assert_eq!(recover(&app.state, Duration::from_secs(600)).await.unwrap().1, 1);
    let second = receiver.next(PATIENCE).await;
    assert_eq!(second.headers["webhook-id"], first.headers["webhook-id"]);
    receiver.assert_quiet(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn images_whose_window_top_up_was_missed_are_queued_by_the_recovery_pass() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    // The pass the workers run at start is over before the rows below exist.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,A,\"{},{}\"\n",
        images.url("/img/m1.jpg"),
        images.url("/img/m2.jpg")
    );
    // Stored and accepted, but the process died before its tenant's window was topped up.
    let id = stored(&app, &csv, true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(images.total_hits(), 0, "nothing queued them yet");

    recover(&app.state, Duration::from_secs(600)).await.unwrap();
    let request = app.wait_until_finished(&id.to_string()).await;
    app.assert_all_succeeded(&id.to_string(), &request, 2).await;
}

#[tokio::test]
async fn an_image_whose_job_was_lost_with_the_queues_data_is_queued_again_after_its_lease() {
    use sea_orm::{ColumnTrait, QueryFilter};
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    // The pass the workers run at start is over before the rows below exist.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,A,{}\n", images.url("/img/lost.jpg"));
    let id = stored(&app, &csv, true).await;
    // Handed to the queue two hours ago, and the queue has no job for it any more.
    imgbatch::db::entities::image::Entity::update_many()
        .col_expr(imgbatch::db::entities::image::Column::Queued, true.into())
        .col_expr(imgbatch::db::entities::image::Column::UpdatedAt, (db::now() - chrono::Duration::hours(2)).into())
        .filter(imgbatch::db::entities::image::Column::RequestId.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(images.total_hits(), 0, "nothing queued it again yet");

    recover(&app.state, Duration::from_secs(600)).await.unwrap();
    let request = app.wait_until_finished(&id.to_string()).await;
    app.assert_all_succeeded(&id.to_string(), &request, 1).await;
}
