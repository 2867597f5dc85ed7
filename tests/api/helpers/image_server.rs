//! A local image server: real PNG and JPEG files made on the fly, plus a 404, a non-image, an
//! oversized body, a 1600×1200 JPEG, a slow route, a stalled one, a route that fails twice with 503 and a redirect. It counts the
//! requests it receives.

use std::{
    collections::HashMap,
    io::Cursor,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

/// A running image server.
#[derive(Clone)]
pub struct ImageServer {
    /// Its address.
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
}

/// An RGB test picture whose colours depend on `seed`, so different names give different files.
pub fn picture(seed: u32, width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, (seed.wrapping_mul(97) % 256) as u8])
    })
}

/// The picture as PNG bytes.
pub fn png(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture(seed, width, height).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The picture as JPEG bytes at quality 95.
pub fn jpeg(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let img = picture(seed, width, height);
    let image = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: width as usize,
        pitch: width as usize * 3,
        height: height as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, 95, turbojpeg::Subsamp::None).unwrap().to_vec()
}

fn seed_of(name: &str) -> u32 {
    name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
}

impl ImageServer {
    /// Starts the server on 127.0.0.1.
    pub async fn start() -> Self {
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let gate = Arc::new(tokio::sync::watch::channel(false).0);
        let held = gate.clone();
        let app = Router::new()
            .route("/gated/{name}", get(move |name| gated_image(held.subscribe(), name)))
            .route("/img/{name}", get(serve_image))
            .route("/slow/{name}", get(slow_image))
            .route("/stall/{name}", get(stalled_image))
            .route("/large/{name}", get(large_image))
            .route("/flaky/{name}", get(flaky_image))
            .route("/missing/{name}", get(|| async { StatusCode::NOT_FOUND }))
            .route(
                "/text/{name}",
                get(|| async { ([(header::CONTENT_TYPE, "image/jpeg")], "<html>not an image</html>") }),
            )
            .route("/huge/{name}", get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 3 << 20]) }))
            .route(
                "/redirect/{name}",
                get(|Path(name): Path<String>| async move { Redirect::temporary(&format!("/img/{name}")) }),
            )
            .layer(axum::middleware::from_fn_with_state(hits.clone(), count))
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, hits, gate }
    }

    /// Lets every request for `/gated/…` be answered (they wait until this is called).
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received for files named `name`, on any route.
    pub fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    /// Requests received in all.
    pub fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// Counts every request by the last segment of its path.
async fn count(State(hits): State<Hits>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let name = request.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
    *hits.lock().unwrap().entry(name).or_default() += 1;
    next.run(request).await
}

async fn serve_image(Path(name): Path<String>) -> Response {
    let seed = seed_of(&name);
    if name.ends_with(".png") {
        ([(header::CONTENT_TYPE, "image/png")], png(seed, 320, 240)).into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/jpeg")], jpeg(seed, 320, 240)).into_response()
    }
}

async fn slow_image(name: Path<String>) -> Response {
    tokio::time::sleep(Duration::from_millis(300)).await;
    serve_image(name).await
}

/// A 1600×1200 JPEG: a catalogue photograph's size.
async fn large_image(Path(name): Path<String>) -> Response {
    ([(header::CONTENT_TYPE, "image/jpeg")], jpeg(seed_of(&name), 1600, 1200)).into_response()
}

/// The image after 3 s: long enough for a test to see its job unfinished.
async fn stalled_image(name: Path<String>) -> Response {
    tokio::time::sleep(Duration::from_secs(3)).await;
    serve_image(name).await
}

/// The image once the test opens the gate (at most 120 s later): the image's job stays
/// unfinished for exactly as long as the test needs.
async fn gated_image(mut gate: tokio::sync::watch::Receiver<bool>, name: Path<String>) -> Response {
    let _ = tokio::time::timeout(Duration::from_secs(120), gate.wait_for(|open| *open)).await;
    serve_image(name).await
}

/// Answers 503 to the first two requests for a name, then the image.
async fn flaky_image(State(hits): State<Hits>, name: Path<String>) -> Response {
    let seen = hits.lock().unwrap().get(name.as_str()).copied().unwrap_or(0);
    if seen <= 2 {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    serve_image(name).await
}
