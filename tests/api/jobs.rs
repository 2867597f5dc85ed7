//! Single-image jobs: three ways in, each to the asked result (decoded and checked); exact fits
//! on landscape, portrait and EXIF-rotated inputs; every bad input refused at once with nothing
//! stored; a failed job's reason as its result; and only its owner sees a job.

use base64::Engine as _;
use image::{DynamicImage, GenericImageView, ImageFormat};
use serde_json::{Value, json};

use crate::helpers::{ApiClient, ImageServer, TestApp, api::new_tenant, image_server};

/// The job's result, fetched through its `result_url` (a 303 to the file), decoded, and its
/// content type; checked against what `GET` says of it.
async fn result_of(app: &TestApp, job: &Value) -> (DynamicImage, String) {
    assert_eq!(job["status"], "succeeded", "{job:#}");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects.get(job["result_url"].as_str().unwrap()).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(response.status(), 303, "the result is a redirect");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, job["result"]["url"].as_str().unwrap(), "to the stored image");
    let file = app.http.get(&location).send().await.unwrap();
    let content_type = file.headers()["content-type"].to_str().unwrap().to_owned();
    let bytes = file.bytes().await.unwrap();
    assert_eq!(job["result"]["bytes"], bytes.len() as u64, "{job}");
    let format = image::guess_format(&bytes).expect("a known image format");
    // JPEG goes through libjpeg-turbo, as in the service; the image crate has no JPEG decoder here.
    let decoded = match format {
        ImageFormat::Jpeg => {
            let rgb = turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).expect("the result decodes");
            let rgb = image::RgbImage::from_raw(rgb.width as u32, rgb.height as u32, rgb.pixels).unwrap();
            DynamicImage::ImageRgb8(rgb)
        }
        _ => image::load_from_memory_with_format(&bytes, format).expect("the result decodes"),
    };
    assert_eq!(
        (job["result"]["width"].as_u64(), job["result"]["height"].as_u64()),
        (Some(decoded.width().into()), Some(decoded.height().into())),
        "{job}"
    );
    (decoded, content_type)
}

/// A 300×200 PNG whose left half is transparent.
fn half_transparent_png() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(300, 200, |x, y| {
        image::Rgba([200, (y % 256) as u8, 40, if x < 150 { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_job_by_multipart_by_base64_and_by_url_each_gives_the_result_asked_for() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;

    // Multipart: a thumbnail in WebP, its transparency kept.
    let response = app
        .job_file(half_transparent_png(), &[("width", "100"), ("height", "100"), ("fit", "cover"), ("format", "webp")])
        .await;
    let id = ApiClient::accepted_job(response).await;
    let job = app.wait_for_job(&id).await;
    let (webp, content_type) = result_of(&app, &job).await;
    assert_eq!(content_type, "image/webp");
    assert_eq!(job["result"]["format"], "webp");
    assert_eq!((webp.width(), webp.height()), (100, 100));
    assert!(webp.color().has_alpha(), "the WebP keeps its alpha");
    assert!(webp.get_pixel(5, 50)[3] < 10 && webp.get_pixel(95, 50)[3] > 245, "transparent left, opaque right");
    assert_eq!(job["options"]["source_url"], Value::Null, "an uploaded image has no source URL");
    assert_eq!(job["result"]["input_bytes"], half_transparent_png().len() as u64);

    // Base64 with a data: prefix: a JPEG fitted inside 160 wide.
    let jpeg = image_server::jpeg(3, 320, 240);
    let data = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&jpeg));
    let id = ApiClient::accepted_job(app.job_json(&json!({"data": data, "width": 160, "quality": 80})).await).await;
    let job = app.wait_for_job(&id).await;
    let (out, content_type) = result_of(&app, &job).await;
    assert_eq!((content_type.as_str(), out.width(), out.height()), ("image/jpeg", 160, 120));
    assert_eq!(
        job["options"],
        json!({"width": 160, "height": null, "fit": "inside", "format": "jpeg", "quality": 80,
        "webhook_url": null, "source_url": null})
    );

    // A URL: contained in a 100 box as PNG, padded white above and below.
    let url = images.url("/img/job-url.png");
    let body = json!({"url": url, "width": "100", "height": "100", "fit": "contain", "format": "png"});
    let id = ApiClient::accepted_job(app.job_json(&body).await).await;
    let job = app.wait_for_job(&id).await;
    let (png, content_type) = result_of(&app, &job).await;
    assert_eq!((content_type.as_str(), png.width(), png.height()), ("image/png", 100, 100));
    assert_eq!(png.to_rgb8().get_pixel(50, 2).0, [255, 255, 255], "padded with white");
    assert_eq!(job["options"]["source_url"], url.as_str());
    assert_eq!(images.hits("job-url.png"), 1);

    // The list shows all three, newest first.
    let (status, page) = app.get_json("/api/v1/jobs").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"][0]["job_id"], id.as_str());
    let (_, requests) = app.get_json("/api/v1/requests").await;
    assert_eq!(requests["total"], 0, "jobs are not CSV requests");
}

/// `jpeg` with an EXIF orientation of 6: shown turned a quarter clockwise.
fn rotated(jpeg: Vec<u8>) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0".to_vec();
    tiff.extend([6, 0, 0, 0, 0, 0, 0]);
    let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
    let segment = [&[0xFF, 0xE1][..], &((payload.len() + 2) as u16).to_be_bytes(), &payload].concat();
    [&jpeg[..2], &segment, &jpeg[2..]].concat()
}

#[tokio::test]
async fn cover_inside_and_contain_give_exact_sizes_on_landscape_portrait_and_exif_rotated_inputs() {
    let app = TestApp::spawn().await;
    let landscape = image_server::jpeg(1, 400, 200);
    let portrait = image_server::jpeg(2, 200, 400);
    // Stored 400×200, shown 200×400: fitted as the portrait it is.
    let turned = rotated(image_server::jpeg(4, 400, 200));
    for (name, input, inside, white_at) in [
        ("landscape", &landscape, (100, 50), (50, 2)),
        ("portrait", &portrait, (50, 100), (2, 50)),
        ("exif-rotated", &turned, (50, 100), (2, 50)),
    ] {
        for (fit, want) in [("cover", (100, 100)), ("inside", inside), ("contain", (100, 100))] {
            let response = app.job_file(input.clone(), &[("width", "100"), ("height", "100"), ("fit", fit)]).await;
            let job = app.wait_for_job(&ApiClient::accepted_job(response).await).await;
            let (out, _) = result_of(&app, &job).await;
            assert_eq!((out.width(), out.height()), want, "{name} {fit}");
            if fit == "contain" {
                let pad = out.to_rgb8().get_pixel(white_at.0, white_at.1).0;
                assert!(pad.iter().all(|&c| c > 245), "{name}: padded on the short side, got {pad:?}");
                let middle = out.to_rgb8().get_pixel(50, 50).0;
                assert!(middle.iter().any(|&c| c < 200), "{name}: the picture in the middle, got {middle:?}");
            }
        }
    }
}

#[tokio::test]
async fn each_bad_input_is_refused_at_once_with_its_reason_and_nothing_is_stored() {
    let app =
        TestApp::builder().with_config(|c| c.max_image_bytes = imgbatch::config::ByteSize(64 << 10)).spawn().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let url = "https://cdn.example.com/a.jpg";
    // Noise does not compress: a PNG of it is far over 64 KiB.
    let noise = image::RgbImage::from_fn(300, 300, |x, y| {
        image::Rgb([(x * 7919 + y * 104729) as u8, (x ^ y) as u8, (x * y) as u8])
    });
    let mut big = std::io::Cursor::new(Vec::new());
    noise.write_to(&mut big, ImageFormat::Png).unwrap();
    let big = big.into_inner();
    assert!(big.len() > 64 << 10);
    for (body, code, says) in [
        (json!({"data": "!!!!"}), 400, "data is not valid base64"),
        (json!({"data": b64(b"hello, world")}), 415, "not a JPEG, PNG, GIF or WebP"),
        (json!({"data": b64(&big)}), 413, "limit of 65536 bytes"),
        (json!({}), 400, "no image"),
        (json!({"url": url, "data": b64(b"x")}), 400, "one way only"),
        (json!({"url": "ftp://cdn.example.com/a.jpg"}), 400, "url must start with http:// or https://"),
        (json!({"url": url, "width": 0}), 400, "width must be a whole number from 1 to 10000"),
        (json!({"url": url, "height": "tall"}), 400, "height must be a whole number from 1 to 10000"),
        (
            json!({"url": url, "width": 10, "height": 10, "fit": "fill"}),
            400,
            "fit must be one of inside, cover, contain",
        ),
        (json!({"url": url, "width": 10, "fit": "cover"}), 400, "fit=cover needs both width and height"),
        (json!({"url": url, "format": "gif"}), 400, "format must be one of jpeg, webp, png"),
        (json!({"url": url, "quality": 101}), 400, "quality must be a whole number from 1 to 100"),
        (json!({"url": url, "webhook_url": "mailto:x@example.com"}), 400, "webhook_url must start with http"),
        (json!({"url": url, "colour": "red"}), 400, "unknown field `colour`"),
    ] {
        let response = app.job_json(&body).await;
        assert_eq!(response.status(), code, "{body}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(says), "{body}: {problem}");
    }
    for (bytes, fields, code, says) in [
        (big.clone(), vec![], 413, "limit of 65536 bytes"),
        (b"<html>hi</html>".to_vec(), vec![], 415, "not a JPEG, PNG, GIF or WebP"),
        (image_server::png(1, 20, 20), vec![("fit", "fill")], 400, "fit must be one of"),
        (image_server::png(1, 20, 20), vec![("url", url)], 400, "one way only"),
    ] {
        let response = app.job_file(bytes, &fields).await;
        assert_eq!(response.status(), code, "{fields:?}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(says), "{fields:?}: {problem}");
    }
    let response = app.http.post(format!("{}/api/v1/jobs", app.base)).body("abc").send().await.unwrap();
    assert_eq!(response.status(), 415, "neither multipart nor JSON");
    // Far over the body's limit, sent without a length: cut off while it is read.
    let huge = serde_json::to_vec(&json!({"data": b64(&vec![7u8; 400 << 10])})).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge.chunks(16 << 10).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .http
        .post(format!("{}/api/v1/jobs", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "a streamed body past the limit");
    let (status, problem) = app.get_json("/api/v1/jobs?status=done").await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("status must be one of queued, processing, succeeded, failed")
    );

    assert_eq!(app.get_json("/api/v1/jobs").await.1["total"], 0, "no job was made");
    assert_eq!(app.state.storage.keys("inputs").await.unwrap(), Vec::<String>::new(), "no input was stored");
}

#[tokio::test]
async fn a_failed_job_answers_its_reason_an_unfinished_one_409_and_the_list_filters_by_status() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let stalled = ApiClient::accepted_job(app.job_json(&json!({"url": images.url("/stall/s.jpg")})).await).await;
    let (status, problem) = app.get_json(&format!("/api/v1/jobs/{stalled}/result")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().starts_with("the job is still"), "{problem}");

    let missing = ApiClient::accepted_job(app.job_json(&json!({"url": images.url("/missing/m.jpg")})).await).await;
    let job = app.wait_for_job(&missing).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["result"], Value::Null);
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("404"), "{error}");
    let (status, problem) = app.get_json(&format!("/api/v1/jobs/{missing}/result")).await;
    assert_eq!(status, 422);
    assert_eq!(problem["detail"], format!("the job failed: {error}"));

    assert_eq!(app.wait_for_job(&stalled).await["status"], "succeeded");
    for (filter, want) in [("succeeded", &stalled), ("failed", &missing)] {
        let (_, page) = app.get_json(&format!("/api/v1/jobs?status={filter}")).await;
        assert_eq!(page["total"], 1, "{filter}: {page}");
        assert_eq!(page["items"][0]["job_id"], want.as_str());
    }
    let (_, page) = app.get_json("/api/v1/jobs?limit=1").await;
    assert_eq!((page["total"].as_u64(), page["items"][0]["job_id"].as_str()), (Some(2), Some(missing.as_str())));
    assert_eq!(app.get_json("/api/v1/jobs?status=queued").await.1["total"], 0);
}

#[tokio::test]
async fn another_tenant_can_neither_see_nor_touch_a_job() {
    let app = TestApp::spawn().await;
    let (a, _) = new_tenant(&app.base, "a@example.com").await;
    let (b, _) = new_tenant(&app.base, "b@example.com").await;
    let id = ApiClient::accepted_job(a.job_file(image_server::png(5, 40, 30), &[]).await).await;
    assert_eq!(a.wait_for_job(&id).await["status"], "succeeded");
    for path in ["", "/result", "/webhook"] {
        let (status, problem) = b.get_json(&format!("/api/v1/jobs/{id}{path}")).await;
        assert_eq!(status, 404, "{path}: {problem}");
    }
    let redeliver = b.http.post(format!("{}/api/v1/jobs/{id}/webhook/redeliver", app.base)).send().await.unwrap();
    assert_eq!(redeliver.status(), 404);
    let delete = b.http.delete(format!("{}/api/v1/jobs/{id}", app.base)).send().await.unwrap();
    assert_eq!(delete.status(), 404);
    assert_eq!(b.get_json("/api/v1/jobs").await.1["total"], 0);
    assert_eq!(a.get_json("/api/v1/jobs").await.1["total"], 1);
    assert_eq!(a.get_json(&format!("/api/v1/jobs/{id}")).await.0, 200, "still there for its owner");
    // A job is not a CSV request, under either's routes.
    assert_eq!(a.get_json(&format!("/api/v1/requests/{id}")).await.0, 404);
}
