//! The command line's client of a running imgbatch: `submit` (with `--wait`, a progress bar fed
//! by the events stream), `status` and `login`. It speaks only the public HTTP API.

mod login;

pub use login::login;

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// Where the server is and who is calling.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// The server's base URL.
    #[arg(long = "server", env = "IMGBATCH_SERVER", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key (or bearer token) of the account [default: the token `imgbatch login` kept].
    #[arg(long = "api-key", env = "IMGBATCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl Server {
    /// The base URL without a trailing slash.
    pub fn base(&self) -> String {
        self.url.trim_end_matches('/').to_owned()
    }
}

/// What `submit` sends besides the CSV.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SubmitOptions {
    /// Where to POST the signed completion event.
    #[arg(long)]
    pub webhook: Option<String>,
    /// JPEG and WebP quality, 1–100.
    #[arg(long)]
    pub quality: Option<u8>,
    /// Width of the box every image is fitted to.
    #[arg(long)]
    pub width: Option<u32>,
    /// Height of the box every image is fitted to.
    #[arg(long)]
    pub height: Option<u32>,
    /// `inside`, `cover` or `contain`.
    #[arg(long)]
    pub fit: Option<String>,
    /// `jpeg`, `webp` or `png`.
    #[arg(long)]
    pub format: Option<String>,
    /// Follow the request to its end with a progress bar; the exit status is its outcome.
    #[arg(long)]
    pub wait: bool,
    /// Save the output CSV here once finished (implies `--wait`); `-` prints it.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// A client of one server.
struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    fn new(server: &Server) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
        let base = server.base();
        // No key given: the token `imgbatch login` kept for this server, if any.
        let key = server.api_key.clone().or_else(|| login::stored_token(&base));
        Ok(Self { http, base, key })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.authorized(self.http.get(format!("{}{path}", self.base)))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// The body of a successful answer, or an error made of its problem.
    async fn body(&self, request: reqwest::RequestBuilder) -> anyhow::Result<bytes::Bytes> {
        let response = request.timeout(Duration::from_secs(600)).send().await.context(self.unreachable())?;
        let status = response.status();
        let body = response.bytes().await.context(self.unreachable())?;
        if !status.is_success() {
            let problem = serde_json::from_slice(&body).unwrap_or(Value::Null);
            bail!("{}", describe_problem(status.as_u16(), &problem));
        }
        Ok(body)
    }

    /// The JSON of a successful answer, or an error made of its problem.
    async fn json(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&self.body(request).await?).unwrap_or(Value::Null))
    }

    fn unreachable(&self) -> String {
        format!("cannot reach the server at {} (--server, IMGBATCH_SERVER)", self.base)
    }
}

/// A problem+json answer in a few lines: its status and detail, then each CSV problem by line.
fn describe_problem(status: u16, body: &Value) -> String {
    let detail = body["detail"].as_str().or(body["title"].as_str()).unwrap_or("no detail");
    let mut text = format!("the server answered {status}: {detail}");
    for error in body["errors"].as_array().into_iter().flatten() {
        let (line, column) = (&error["line"], &error["column"]);
        text.push_str(&format!("\n  line {line}, column {column}: {}", error["message"].as_str().unwrap_or("")));
    }
    text
}

/// `imgbatch submit`: uploads the CSV and prints the request id; with `--wait`, follows it and
/// returns its outcome (0 completed, 2 completed with errors, 1 failed or refused).
pub async fn submit(file: PathBuf, server: Server, options: SubmitOptions) -> anyhow::Result<ExitCode> {
    let client = Client::new(&server)?;
    let csv = tokio::fs::read(&file).await.with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map_or("products.csv".into(), |n| n.to_string_lossy().into_owned());
    let mut form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv).file_name(name).mime_str("text/csv")?);
    let fields = [
        ("webhook_url", options.webhook.clone()),
        ("quality", options.quality.map(|q| q.to_string())),
        ("width", options.width.map(|w| w.to_string())),
        ("height", options.height.map(|h| h.to_string())),
        ("fit", options.fit.clone()),
        ("format", options.format.clone()),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            form = form.text(field, value);
        }
    }
    let request = client.authorized(client.http.post(format!("{}/api/v1/requests", client.base)));
    let accepted = client.json(request.multipart(form)).await?;
    let id = accepted["request_id"].as_str().context("the answer has no request_id")?.to_owned();
    println!("{id}");
    if !options.wait && options.output.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    let finished = follow(&client, &id, accepted["images"].as_u64().unwrap_or(0)).await?;
    let counts = &finished["counts"];
    eprintln!(
        "{}: {} of {} images succeeded, {} failed",
        finished["status"].as_str().unwrap_or("finished"),
        counts["succeeded"],
        counts["images"],
        counts["failed"]
    );
    if let Some(path) = &options.output {
        let csv = client.get(&format!("/api/v1/requests/{id}/output.csv"));
        let bytes = client.body(csv).await.context("cannot fetch the output CSV")?;
        if path.as_os_str() == "-" {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).context("cannot print the output CSV")?;
        } else {
            tokio::fs::write(path, &bytes).await.with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("output CSV saved to {}", path.display());
        }
    }
    Ok(outcome(&finished))
}

/// `imgbatch status`: prints the request's status and counts; the exit status as `submit --wait`
/// would give it (3 while it is still running).
pub async fn status(id: String, server: Server) -> anyhow::Result<ExitCode> {
    let client = Client::new(&server)?;
    let request = client.json(client.get(&format!("/api/v1/requests/{id}"))).await?;
    let counts = &request["counts"];
    println!(
        "{id} {} {}% ({} succeeded, {} failed, {} pending of {} images)",
        request["status"].as_str().unwrap_or("?"),
        request["progress"],
        counts["succeeded"],
        counts["failed"],
        counts["pending"],
        counts["images"]
    );
    Ok(match request["status"].as_str() {
        Some("queued" | "processing") => ExitCode::from(3),
        _ => outcome(&request),
    })
}

/// The exit status for a finished request.
fn outcome(request: &Value) -> ExitCode {
    match request["status"].as_str() {
        Some("completed") => ExitCode::SUCCESS,
        Some("completed_with_errors") => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// Follows the request's events to its `finished` event, showing progress (a bar on a terminal,
/// plain lines otherwise); reconnects when the stream breaks.
async fn follow(client: &Client, id: &str, images: u64) -> anyhow::Result<Value> {
    let bar = match std::io::stderr().is_terminal() {
        true => ProgressBar::new(images),
        false => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} images  {rate}  ETA {eta}")
            .expect("a valid template")
            .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", state.per_sec());
            }),
    );
    let mut last_line = None;
    let mut breaks = 0;
    loop {
        let response = client.get(&format!("/api/v1/requests/{id}/events")).send().await;
        let mut events = match response {
            Ok(r) if r.status().is_success() => r.bytes_stream().eventsource(),
            Ok(r) => {
                let status = r.status().as_u16();
                bail!("{}", describe_problem(status, &r.json().await.unwrap_or(Value::Null)))
            }
            Err(e) if breaks < 30 => {
                breaks += 1;
                tracing::debug!(error = %e, "events stream unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => return Err(e).context(client.unreachable()),
        };
        while let Some(event) = events.next().await {
            let Ok(event) = event else { break };
            let Ok(request) = serde_json::from_str::<Value>(&event.data) else { continue };
            let counts = &request["counts"];
            let done = counts["succeeded"].as_u64().unwrap_or(0) + counts["failed"].as_u64().unwrap_or(0);
            bar.set_length(counts["images"].as_u64().unwrap_or(images));
            bar.set_position(done);
            if bar.is_hidden() && last_line != Some(done) {
                eprintln!("progress: {done}/{} images ({}%)", counts["images"], request["progress"]);
                last_line = Some(done);
            }
            if event.event == "finished" {
                bar.finish_and_clear();
                return Ok(request);
            }
        }
        // The stream ended early (a restart, a proxy): pick up where it was.
        breaks += 1;
        if breaks > 30 {
            bail!("the events stream kept breaking before the request finished");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_csv_problem_lists_every_error_by_line_and_column() {
        let body = json!({"detail": "2 problems found", "errors": [
            {"line": 3, "column": 3, "message": "bad URL"}, {"line": 4, "column": 1, "message": "S. No. used"}]});
        assert_eq!(
            super::describe_problem(422, &body),
            "the server answered 422: 2 problems found\n  line 3, column 3: bad URL\n  line 4, column 1: S. No. used"
        );
    }
}
