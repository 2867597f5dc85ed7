//! A good CSV all the way through: upload, progress, output CSV, stored files, signed webhook.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{ImageServer, PATIENCE, TestApp, TestReceiver};

#[tokio::test]
async fn a_multi_row_csv_ends_in_compressed_images_an_output_csv_and_a_signed_webhook() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::spawn().await;
    let urls = [
        vec![images.url("/img/a1.jpg"), images.url("/img/a2.png")],
        vec![images.url("/img/b1.png")],
        vec![images.url("/img/c1.jpg"), images.url("/redirect/c2.jpg"), images.url("/img/c3.png")],
    ];
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,SKU1,\"{}\"\n2,SKU2,{}\n3,\"Shoe, red\",\"{}\"\n",
        urls[0].join(","),
        urls[1][0],
        urls[2].join(", ")
    );

    let response = app.upload_with(csv, &[("webhook_url", &receiver.url), ("quality", "60")]).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["products"], 3);
    assert_eq!(accepted["images"], 6);
    assert_eq!(accepted["status_url"], location);
    let id = accepted["request_id"].as_str().unwrap();

    let call = receiver.next(PATIENCE).await;
    let verifier = standardwebhooks::Webhook::new(&app.secret).unwrap();
    verifier.verify(&call.body, &call.headers).expect("the webhook verifies with the integrator's secret");
    let event: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(event["type"], "request.completed");
    assert_eq!(event["data"]["request_id"], id);
    assert_eq!(event["data"]["status"], "completed");
    assert_eq!(event["data"]["counts"]["succeeded"], 6);
    assert_eq!(event["data"]["counts"]["failed"], 0);
    assert!(call.headers["webhook-id"].to_str().unwrap().starts_with("msg_"));

    let request = app.wait_until_finished(id).await;
    assert_eq!(request["status"], "completed");
    assert_eq!(request["progress"], 100);
    assert_eq!(request["quality"], 60);
    assert_eq!(request["counts"]["pending"], 0);
    assert!(request["completed_at"].is_string());

    let output = app.http.get(event["data"]["output_csv_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(output.status(), 200);
    assert!(output.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = output.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, ["S. No.", "Product Name", "Input Image Urls", "Output Image Urls"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][1], "Shoe, red");
    for (row, inputs) in rows.iter().zip(&urls) {
        let given: Vec<&str> = row[2].split(',').collect();
        assert_eq!(given, inputs.iter().map(String::as_str).collect::<Vec<_>>());
        let outputs: Vec<&str> = row[3].split(',').collect();
        assert_eq!(outputs.len(), inputs.len(), "one output per input in {row:?}");
        for url in outputs {
            let file = app.http.get(url).send().await.unwrap();
            assert_eq!(file.status(), 200, "{url}");
            assert_eq!(file.headers()["content-type"], "image/jpeg");
            assert!(file.headers()["cache-control"].to_str().unwrap().contains("immutable"));
            assert!(file.headers().contains_key("etag"));
            let bytes = file.bytes().await.unwrap();
            assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "{url} is a JPEG");
            let decoded = turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).unwrap();
            assert_eq!((decoded.width, decoded.height), (320, 240));
        }
    }

    let products = app.products(id).await;
    assert_eq!(products.len(), 3);
    assert_eq!(products[0]["serial_number"], 1);
    assert_eq!(products[2]["product_name"], "Shoe, red");
    for image in products.iter().flat_map(|p| p["images"].as_array().unwrap()) {
        assert_eq!(image["status"], "succeeded", "{image}");
        assert_eq!(image["width"], 320);
        assert_eq!(image["height"], 240);
        assert!(image["output_bytes"].as_u64().unwrap() > 0);
        assert!(image["error"].is_null());
    }
    // A JPEG is never made larger: its smaller re-encoding, or the input itself, is stored.
    for image in products.iter().flat_map(|p| p["images"].as_array().unwrap()) {
        if image["input_url"].as_str().unwrap().ends_with(".jpg") {
            assert!(image["output_bytes"].as_u64() <= image["input_bytes"].as_u64(), "{image}");
        }
    }

    let (status, delivery) = app.get_json(&format!("/api/v1/requests/{id}/webhook")).await;
    assert_eq!(status, 200);
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(delivery["attempts"][0]["status_code"], 204);
    receiver.assert_quiet(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_request_without_webhook_still_finishes_and_reports_progress() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!("s. no.,product name,input image urls\n1,A,{}\n", images.url("/img/solo.png"));
    let id = app.submit(&csv, &[]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "completed");
    assert_eq!(request["quality"], 50, "the default quality applies");
    assert!(request["webhook_url"].is_null());
    let (status, problem) = app.get_json(&format!("/api/v1/requests/{id}/webhook")).await;
    assert_eq!(status, 404, "{problem}");

    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for line in [
        "imgbatch_requests_accepted_total 1",
        "imgbatch_images_processed_total{outcome=\"succeeded\"} 1",
        "imgbatch_image_download_seconds_count 1",
        "imgbatch_images{status=\"succeeded\"} 1",
        "imgbatch_queue_depth 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
    }
}

/// A new upload's image is fetched as soon as the upload is accepted: its worker is woken then,
/// not at its next poll, and not before the upload is accepted (a job that comes early is put off
/// for a second or two).
#[tokio::test]
async fn an_idle_service_fetches_each_new_uploads_image_at_once() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    for round in 0..6 {
        let name = format!("wake-{round}.png");
        let csv = format!("S. No.,Product Name,Input Image Urls\n1,P{round},{}\n", images.url(&format!("/img/{name}")));
        let sent = std::time::Instant::now();
        let id = app.submit(&csv, &[]).await;
        while images.hits(&name) == 0 {
            let waited = sent.elapsed();
            assert!(
                waited < Duration::from_secs(1),
                "round {round}: the image was not fetched {waited:?} after upload"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(app.wait_until_finished(&id).await["status"], "completed");
    }
}
