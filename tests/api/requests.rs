//! Reading requests back: lists, unknown ids, the output CSV before the end, files, health.

use serde_json::Value;

use crate::helpers::{ImageServer, TestApp};

#[tokio::test]
async fn unknown_requests_and_files_are_404_problems() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/requests/0193a000-0000-7000-8000-000000000000",
        "/api/v1/requests/not-an-id",
        "/api/v1/requests/0193a000-0000-7000-8000-000000000000/output.csv",
        "/api/v1/requests/0193a000-0000-7000-8000-000000000000/products",
        &format!("/files/{}.jpg", "0".repeat(64)),
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/no/such/route",
    ] {
        let response = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 404);
    }
}

#[tokio::test]
async fn wrong_methods_and_malformed_paths_are_problems_too() {
    let app = TestApp::spawn().await;
    for (method, path, status) in [
        (reqwest::Method::DELETE, "/api/v1/requests", 405),
        (reqwest::Method::PUT, "/healthz", 405),
        (reqwest::Method::GET, "/api/v1/requests/%FF", 400),
    ] {
        let response = app.http.request(method.clone(), format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{method} {path}");
    }
}

#[tokio::test]
async fn the_output_csv_is_409_until_the_request_finishes_and_lists_are_newest_first() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 1).spawn().await;
    let slow = (0..6).map(|i| images.url(&format!("/slow/s{i}.png"))).collect::<Vec<_>>().join(",");
    let first = app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,Slow,\"{slow}\"\n"), &[]).await;
    let second =
        app.submit(&format!("S. No.,Product Name,Input Image Urls\n1,Fast,{}\n", images.url("/img/f.jpg")), &[]).await;

    let response = app.http.get(format!("{}/api/v1/requests/{first}/output.csv", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("once every image has finished"), "{problem:#}");

    let (status, list) = app.get_json("/api/v1/requests?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["request_id"], second.as_str());
    assert_eq!(list["items"][1]["request_id"], first.as_str());
    let (_, page) = app.get_json("/api/v1/requests?offset=1&limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["request_id"], first.as_str());
    let (status, _) = app.get_json("/api/v1/requests?limit=0").await;
    assert_eq!(status, 400);

    let processing = app.wait_for(&first, "processing", |r| r["status"] == "processing").await;
    assert!(processing["progress"].as_u64().unwrap() < 100);
    app.wait_until_finished(&first).await;
    let response = app.http.get(format!("{}/api/v1/requests/{first}/output.csv", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn health_readiness_and_swagger_ui_answer() {
    let app = TestApp::spawn().await;
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    for dep in ["database", "queue", "storage"] {
        assert_eq!(ready["checks"][dep], "ok", "{ready}");
    }
    let ui = app.http.get(format!("{}/swagger-ui/", app.base)).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
    let (status, spec) = app.get_json("/api-docs/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/api/v1/requests"]["post"].is_object());
}

#[tokio::test]
async fn an_upload_bigger_than_one_write_batch_is_stored_whole_and_in_file_order() {
    // 27,000 images: more than one batch of the writer's 25,000, with a product's images on
    // either side of the boundary.
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let url = |row: usize, i: usize| images.url(&format!("/missing/{row}-{i}.jpg"));
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for row in 1..=9_000 {
        csv += &format!("{row},Product {row},\"{},{},{}\"\n", url(row, 0), url(row, 1), url(row, 2));
    }
    let response = app.upload_with(csv, &[]).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!((accepted["products"].as_u64(), accepted["images"].as_u64()), (Some(9_000), Some(27_000)));
    let id = accepted["request_id"].as_str().unwrap();
    for offset in [0, 8_330, 8_990] {
        let (status, page) = app.get_json(&format!("/api/v1/requests/{id}/products?offset={offset}&limit=10")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 9_000);
        let serials: Vec<u64> =
            page["items"].as_array().unwrap().iter().map(|p| p["serial_number"].as_u64().unwrap()).collect();
        assert_eq!(serials, (offset + 1..=offset + 10).collect::<Vec<u64>>(), "products in file order");
        for product in page["items"].as_array().unwrap() {
            let row = product["serial_number"].as_u64().unwrap() as usize;
            assert_eq!(product["product_name"], format!("Product {row}"));
            let urls: Vec<&str> =
                product["images"].as_array().unwrap().iter().map(|i| i["input_url"].as_str().unwrap()).collect();
            assert_eq!(urls, [url(row, 0), url(row, 1), url(row, 2)], "product {row}'s images in order");
        }
    }
}

#[tokio::test]
async fn names_and_urls_are_stored_exactly_as_written_whatever_characters_they_hold() {
    // Characters the bulk writers give a meaning to: COPY's escapes and NULL marker, JSON's
    // quoting, SQL's.
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let names = ["Tab\there", "Back\\slash \\N", "Line\nbreak\r\nand return", "Quote \"' ; --", "Ünïcødé 📦"];
    let url = |i: usize| images.url(&format!("/missing/{i}\\a%09b.jpg?q=\\N&t=%0A"));
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for (i, name) in names.iter().enumerate() {
        csv += &format!("{},\"{}\",{}\n", i + 1, name.replace('"', "\"\""), url(i));
    }
    let id = app.submit(&csv, &[]).await;
    let (status, page) = app.get_json(&format!("/api/v1/requests/{id}/products")).await;
    assert_eq!(status, 200, "{page}");
    let stored: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["product_name"].as_str().unwrap(), p["images"][0]["input_url"].as_str().unwrap()))
        .collect();
    let urls: Vec<String> = (0..names.len()).map(url).collect();
    let written: Vec<(&str, &str)> = names.iter().copied().zip(urls.iter().map(String::as_str)).collect();
    assert_eq!(stored, written);
}

#[tokio::test]
async fn an_upload_whose_second_write_batch_fails_keeps_nothing() {
    use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait};
    // The database refuses the second batch's rows, after the first 25,000 images were committed:
    // on PostgreSQL as a server shutting down does (57P01), on SQLite as a failed constraint.
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let sql = match app.state.db.get_database_backend() {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION refuse_marked() RETURNS trigger AS $$ BEGIN \
             IF NEW.input_url LIKE '%/refused-here/%' THEN RAISE EXCEPTION 'shutting down' USING ERRCODE = '57P01'; \
             END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON images FOR EACH ROW EXECUTE FUNCTION refuse_marked()",
        ],
        _ => vec![
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON images WHEN NEW.input_url LIKE '%/refused-here/%' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        ],
    };
    for statement in sql {
        app.state.db.execute_unprepared(statement).await.unwrap();
    }
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for row in 1..=9_000 {
        let folder = if row == 9_000 { "refused-here" } else { "missing" };
        let urls: Vec<String> = (0..3).map(|i| images.url(&format!("/{folder}/{row}-{i}.jpg"))).collect();
        csv += &format!("{row},Product {row},\"{}\"\n", urls.join(","));
    }
    let response = app.upload_with(csv, &[]).await;
    assert!(response.status().is_server_error(), "refused by imgbatch's own part: {}", response.status());
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    if app.state.db.get_database_backend() == DbBackend::Postgres {
        assert_eq!(response.status(), 503, "a database going away is answered 503");
    }
    assert_eq!(app.get_json("/api/v1/requests").await.1["total"], 0, "no request is shown");
    let db = &app.state.db;
    let left = (
        imgbatch::db::entities::request::Entity::find().count(db).await.unwrap(),
        imgbatch::db::entities::product::Entity::find().count(db).await.unwrap(),
        imgbatch::db::entities::image::Entity::find().count(db).await.unwrap(),
    );
    assert_eq!(left, (0, 0, 0), "the first batch's committed rows were removed again");
}
