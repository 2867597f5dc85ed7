//! Bad images among good ones: each fails alone with a readable error, the rest succeed.

use crate::helpers::{ImageServer, TestApp};

#[tokio::test]
async fn a_404_a_non_image_and_an_oversized_image_fail_alone_and_the_request_completes_with_errors() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.max_image_bytes = imgbatch::config::ByteSize(1 << 20)).spawn().await;
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,Good,\"{},{}\"\n2,Mixed,\"{},{},{}\"\n",
        images.url("/img/g1.jpg"),
        images.url("/img/g2.png"),
        images.url("/missing/x.jpg"),
        images.url("/text/y.jpg"),
        images.url("/huge/z.png"),
    );
    let id = app.submit(&csv, &[]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "completed_with_errors");
    assert_eq!(request["counts"]["succeeded"], 2);
    assert_eq!(request["counts"]["failed"], 3);

    let products = app.products(&id).await;
    let mixed = products[1]["images"].as_array().unwrap();
    let error = |i: usize| mixed[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(mixed.iter().all(|i| i["status"] == "failed" && i["output_url"].is_null()));
    assert!(error(0).contains("404"), "{}", error(0));
    assert!(error(1).contains("not a supported image"), "{}", error(1));
    assert!(error(2).contains("larger than the limit"), "{}", error(2));
    // Permanent failures are not retried.
    for name in ["x.jpg", "y.jpg", "z.png"] {
        assert_eq!(images.hits(name), 1, "{name} was fetched more than once");
    }

    let csv_out = app
        .http
        .get(format!("{}/api/v1/requests/{id}/output.csv", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_out.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows[0][3].split(',').filter(|u| !u.is_empty()).count(), 2);
    assert_eq!(&rows[1][3], ",,", "three failed slots stay empty but keep their places");
}

#[tokio::test]
async fn a_request_whose_images_all_fail_is_failed() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,Gone,{}\n", images.url("/missing/a.jpg"));
    let id = app.submit(&csv, &[]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "failed");
    assert_eq!(request["counts"]["failed"], 1);
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_the_image_succeeds() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!("S. No.,Product Name,Input Image Urls\n1,Flaky,{}\n", images.url("/flaky/t.jpg"));
    let id = app.submit(&csv, &[]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "completed", "{request:#}");
    assert_eq!(images.hits("t.jpg"), 3, "two 503 answers, then success");
}
