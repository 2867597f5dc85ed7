//! A real browser: Debian's Chromium, headless, driven over WebDriver by its ChromeDriver, which
//! the test starts on a free port. Downloads land in a directory the test names.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;

use super::{
    PATIENCE,
    backends::skip_unless_required,
    process::{ChildProcess, on_path},
};

/// Where the dashboard's screenshots are written, for a person to look at after a run.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("dashboard-screenshots")
}

/// A headless Chromium session.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Where downloads are saved.
    pub downloads: PathBuf,
    _driver: ChildProcess,
}

impl Browser {
    /// Starts ChromeDriver and a Chromium window `width`×`height`, logging into `dir`; `None`
    /// (said loudly, or a failure when services are required) when either is not installed.
    pub async fn start(test: &str, dir: &Path, width: u32, height: u32) -> Option<Self> {
        let (Some(chromium), Some(driver)) = (on_path("chromium"), on_path("chromedriver")) else {
            skip_unless_required(
                test,
                "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut process =
            ChildProcess::start(driver.to_str().unwrap(), &[&format!("--port={port}")], &[], dir, "chromedriver");
        process.wait_for_line("started successfully", Duration::from_secs(30)).await;
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let options = json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", format!("--window-size={width},{height}")],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connect =
            ClientBuilder::new(connector).capabilities(capabilities).connect(&format!("http://127.0.0.1:{port}")).await;
        let client = connect.expect("a Chromium session starts");
        Some(Self { client, downloads, _driver: process })
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn element(&self, css: &str) -> Element {
        self.until(&format!("an element {css}"), async || self.client.find(Locator::Css(css)).await.ok()).await
    }

    /// Waits until `check` gives a value, polling for at most [`PATIENCE`] (a WebDriver call that
    /// hangs counts against it too).
    pub async fn until<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, check()).await {
                Ok(Some(found)) => return found,
                Ok(None) if tokio::time::Instant::now() < deadline => {}
                _ => self.fail(what).await,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails the test, keeping a screenshot of the page as it was.
    async fn fail(&self, what: &str) -> ! {
        let last = Duration::from_secs(10);
        let url = tokio::time::timeout(last, self.client.current_url()).await;
        let url = url.ok().and_then(Result::ok).map(|u| u.to_string()).unwrap_or_default();
        if let Ok(Ok(png)) = tokio::time::timeout(last, self.client.screenshot()).await {
            let _ = std::fs::create_dir_all(screenshot_dir());
            let _ = std::fs::write(screenshot_dir().join("failure.png"), png);
        }
        panic!("the page at {url} did not show {what} within {PATIENCE:?} (screenshot: failure.png)");
    }

    /// The text of the first element matching `css`, once it satisfies `check`.
    pub async fn text_when(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.until(what, async || {
            let text = self.client.find(Locator::Css(css)).await.ok()?.text().await.ok()?;
            check(&text).then_some(text)
        })
        .await
    }

    /// The text of the first element matching `css` as it is now. Finding and reading are
    /// retried together: a live region may replace the element between the two.
    pub async fn text(&self, css: &str) -> String {
        self.text_when(css, &format!("the text of {css}"), |_| true).await
    }

    /// The attribute `name` of the first element matching `css` as it is now (`None` when the
    /// element lacks it), finding and reading retried together as in [`Self::text`].
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let what = format!("the attribute {name} of {css}");
        self.until(&what, async || self.client.find(Locator::Css(css)).await.ok()?.attr(name).await.ok()).await
    }

    /// Clicks the first element matching `css`, scrolled to the middle of the window first so
    /// that the sticky header cannot be in the way; an element replaced before the click is
    /// found again.
    pub async fn click(&self, css: &str) {
        let centre = "arguments[0].scrollIntoView({block: 'center'})";
        self.until(&format!("{css} to click"), async || {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            self.client.execute(centre, vec![serde_json::to_value(&element).ok()?]).await.ok()?;
            element.click().await.ok()
        })
        .await
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.map(|all| all.len()).unwrap_or(0)
    }

    /// Saves a screenshot of the whole page, `width` px wide, as `name`.png in [`screenshot_dir`]
    /// (the window grows to the page's height, up to 3000 px, for it).
    pub async fn screenshot(&self, name: &str, width: u32) -> PathBuf {
        self.client.set_window_size(width, 900).await.expect("the window resizes");
        self.painted().await;
        let script = "return [window.outerHeight - window.innerHeight, document.documentElement.scrollHeight]";
        let sizes = self.client.execute(script, vec![]).await.expect("the page's height");
        let height = sizes[0].as_u64().unwrap_or(0) + sizes[1].as_u64().unwrap_or(900);
        self.client.set_window_size(width, height.min(3000) as u32).await.expect("the window resizes");
        self.painted().await;
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Returns once the page has laid itself out and painted at its current size.
    async fn painted(&self) {
        let frames = "requestAnimationFrame(() => requestAnimationFrame(arguments[0]))";
        let waited = tokio::time::timeout(PATIENCE, self.client.execute_async(frames, vec![])).await;
        waited.expect("the page painted in time").expect("the page painted");
    }

    /// The one file downloaded into [`Browser::downloads`], once it is complete.
    ///
    /// Chromium may show the file under its final name before the last bytes are in, so a
    /// download counts as finished once two reads 100 ms apart agree and it is not empty.
    pub async fn downloaded(&self) -> Vec<u8> {
        let mut last: Option<Vec<u8>> = None;
        self.until("a finished download", async || {
            let files: Vec<_> = std::fs::read_dir(&self.downloads).ok()?.flatten().map(|e| e.path()).collect();
            let [file] = files.as_slice() else { return None };
            if file.extension().is_some_and(|e| e == "crdownload") {
                return None;
            }
            let now = std::fs::read(file).ok().filter(|bytes| !bytes.is_empty());
            let settled = now.is_some() && now == last;
            last = now;
            settled.then(|| last.clone().unwrap_or_default())
        })
        .await
    }

    /// Ends the browser session.
    pub async fn close(self) {
        self.client.close().await.expect("the browser closes");
    }
}
