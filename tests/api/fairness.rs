//! Fair shares: a tenant's small upload is not stuck behind another tenant's big one, and a big
//! request has only its tenant's window of jobs in the queue at a time.

use imgbatch::db::entities::image;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{ImageServer, TestApp, api::new_tenant};

#[tokio::test]
async fn a_small_upload_finishes_before_another_tenants_big_one_is_20_percent_done() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let window = app.config.access.tenant_window;
    let mut big = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=3000 {
        big.push_str(&format!("{i},Big {i},{}\n", images.url(&format!("/slow/big-{i}.jpg"))));
    }
    let big_id = app.submit(&big, &[]).await;
    let admin = imgbatch::domain::ids::TenantId::default_tenant();
    let queued = image::Entity::find()
        .filter(image::Column::TenantId.eq(admin))
        .filter(image::Column::Queued.eq(true))
        .count(&app.state.db)
        .await
        .unwrap();
    assert!(queued <= window, "{queued} jobs queued at once; the window is {window}");

    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (small_tenant, _) = new_tenant(&app.base, "small@example.com").await;
    let mut small = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=10 {
        small.push_str(&format!("{i},Small {i},{}\n", images.url(&format!("/slow/small-{i}.jpg"))));
    }
    let small_id = small_tenant.submit(&small, &[]).await;
    let finished = small_tenant.wait_until_finished(&small_id).await;
    assert_eq!(finished["counts"]["succeeded"], 10, "{finished}");

    let (_, big_now) = app.get_json(&format!("/api/v1/requests/{big_id}")).await;
    let done = big_now["counts"]["succeeded"].as_u64().unwrap() + big_now["counts"]["failed"].as_u64().unwrap();
    assert!(done < 600, "the big upload was {done} of 3000 done when the small one finished");
}
