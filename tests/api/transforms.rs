//! A CSV request's box and fit, applied to every image: the stored outputs have the sizes asked
//! for, and every bad option is a 400 naming it, with nothing stored.

use serde_json::Value;

use crate::helpers::{ImageServer, TestApp};

/// Width and height of the image at `url` (an output), decoded.
async fn dimensions(app: &TestApp, url: &str) -> (u32, u32) {
    let bytes = app.http.get(url).send().await.unwrap().bytes().await.unwrap();
    let image = turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).expect("the output is a JPEG that decodes");
    (image.width as u32, image.height as u32)
}

#[tokio::test]
async fn a_request_with_a_box_fits_every_image_to_it() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    // The image server's pictures are 320×240.
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,A,\"{},{}\"\n",
        images.url("/img/fit-a.jpg"),
        images.url("/img/fit-b.png")
    );
    for (fields, want) in [
        (vec![("width", "160")], (160, 120)),
        (vec![("width", "100"), ("height", "100"), ("fit", "cover")], (100, 100)),
        (vec![("width", "100"), ("height", "100"), ("fit", "contain")], (100, 100)),
        (vec![("height", "60"), ("fit", "inside")], (80, 60)),
        (vec![("width", "5000"), ("height", "5000")], (320, 240)),
    ] {
        let id = app.submit(&csv, &fields).await;
        let request = app.wait_until_finished(&id).await;
        assert_eq!(request["status"], "completed", "{fields:?}: {request}");
        for image in app.products(&id).await[0]["images"].as_array().unwrap() {
            assert_eq!(
                (image["width"].as_u64(), image["height"].as_u64()),
                (Some(want.0.into()), Some(want.1.into())),
                "{fields:?}"
            );
            assert_eq!(dimensions(&app, image["output_url"].as_str().unwrap()).await, want, "{fields:?}");
        }
    }
}

#[tokio::test]
async fn each_bad_option_is_a_400_naming_it_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    for (fields, says) in [
        (vec![("width", "0")], "width must be a whole number from 1 to 10000"),
        (vec![("width", "10001")], "width must be a whole number from 1 to 10000"),
        (vec![("height", "tall")], "height must be a whole number from 1 to 10000"),
        (vec![("width", "10"), ("height", "10"), ("fit", "fill")], "fit must be one of inside, cover, contain"),
        (vec![("width", "10"), ("fit", "cover")], "fit=cover needs both width and height"),
        (vec![("format", "gif")], "format must be one of jpeg, webp, png"),
    ] {
        let response = app.upload_with(csv, &fields).await;
        assert_eq!(response.status(), 400, "{fields:?}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(says), "{fields:?}: {problem}");
    }
    assert_eq!(app.get_json("/api/v1/requests").await.1["total"], 0);
}

#[tokio::test]
async fn a_request_for_webp_at_a_width_stores_webp_files_served_as_webp() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,A,\"{},{}\"\n",
        images.url("/img/w-a.jpg"),
        images.url("/img/w-b.png")
    );
    let id = app.submit(&csv, &[("width", "160"), ("format", "webp"), ("quality", "70")]).await;
    let request = app.wait_until_finished(&id).await;
    assert_eq!(request["status"], "completed", "{request}");
    let shown = serde_json::json!({"width": 160, "height": null, "fit": "inside", "format": "webp"});
    assert_eq!(request["transform"], shown, "the request says what was asked");
    for image in app.products(&id).await[0]["images"].as_array().unwrap() {
        let url = image["output_url"].as_str().unwrap();
        assert!(url.ends_with(".webp"), "{url}");
        let response = app.http.get(url).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "image/webp");
        let bytes = response.bytes().await.unwrap();
        let decoded =
            image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).expect("a WebP that decodes");
        assert_eq!((decoded.width(), decoded.height()), (160, 120));
    }
    let output = app.http.get(format!("{}/api/v1/requests/{id}/output.csv", app.base)).send().await.unwrap();
    let output = output.text().await.unwrap();
    assert_eq!(output.matches(".webp").count(), 2, "the output CSV links the WebP files: {output}");
}

#[tokio::test]
async fn a_catalogue_request_at_width_800_in_webp_gets_800_wide_webp_files_in_its_output_csv() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,Shoe,\"{},{}\"\n2,Bag,{}\n",
        images.url("/large/shoe-front.jpg"),
        images.url("/large/shoe-side.jpg"),
        images.url("/large/bag.jpg")
    );
    let id = app.submit(&csv, &[("width", "800"), ("format", "webp")]).await;
    let request = app.wait_until_finished(&id).await;
    app.assert_all_succeeded(&id, &request, 3).await;
    let output = app.http.get(format!("{}/api/v1/requests/{id}/output.csv", app.base)).send().await.unwrap();
    let output = output.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(output.as_bytes());
    let mut files = 0;
    for row in rows.records() {
        for url in row.unwrap()[3].split(',') {
            assert!(url.ends_with(".webp"), "{url}");
            let response = app.http.get(url).send().await.unwrap();
            assert_eq!(response.headers()["content-type"], "image/webp");
            let decoded =
                image::load_from_memory_with_format(&response.bytes().await.unwrap(), image::ImageFormat::WebP)
                    .expect("a WebP that decodes");
            assert_eq!((decoded.width(), decoded.height()), (800, 600), "{url}");
            files += 1;
        }
    }
    assert_eq!(files, 3, "every image is in the output CSV: {output}");
}
