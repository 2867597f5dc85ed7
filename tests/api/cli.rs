//! The command line as a script uses it: `imgbatch submit --wait` against a running server, its
//! exit status for each outcome, the output CSV it saves, and `imgbatch status`.

use std::{path::Path, process::Output, time::Duration};

use crate::helpers::{ImageServer, PATIENCE, TestApp};

/// Runs the real binary with `args` against `app` (its key in `IMGBATCH_API_KEY`), with no
/// terminal, and waits for it to exit.
async fn imgbatch(app: &TestApp, args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
        .args(args)
        .env("IMGBATCH_SERVER", &app.base)
        .env("IMGBATCH_API_KEY", &app.key)
        .current_dir(app.dir.path())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(PATIENCE, run).await.expect("the command finished in time").expect("the command ran")
}

fn write_csv(dir: &Path, name: &str, rows: &[String]) -> String {
    let path = dir.join(name);
    let body: String = rows.iter().enumerate().map(|(i, urls)| format!("{},Product {i},\"{urls}\"\n", i + 1)).collect();
    std::fs::write(&path, format!("S. No.,Product Name,Input Image Urls\n{body}")).unwrap();
    path.display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn submit_wait_shows_progress_saves_the_output_csv_and_exits_0_when_completed() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 1).spawn().await;
    let urls = (0..3).map(|i| images.url(&format!("/slow/c{i}.jpg"))).collect::<Vec<_>>();
    let csv = write_csv(app.dir.path(), "good.csv", &[urls[..2].join(","), urls[2].clone()]);
    let out = app.dir.path().join("out.csv");
    let run = imgbatch(&app, &["submit", &csv, "--wait", "--width", "100", "--output", out.to_str().unwrap()]).await;
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let id = stdout.lines().next().expect("the request id first").trim().to_owned();
    // Without a terminal, progress comes as plain lines, ending at all three.
    assert!(stderr.contains("progress: 3/3 images (100%)"), "{stderr}");
    assert!(stderr.contains("completed: 3 of 3 images succeeded, 0 failed"), "{stderr}");
    let (status, request) = app.get_json(&format!("/api/v1/requests/{id}")).await;
    assert_eq!((status, request["status"].as_str()), (200, Some("completed")), "{request}");
    assert_eq!(request["transform"]["width"], 100);
    let served = app.http.get(format!("{}/api/v1/requests/{id}/output.csv", app.base)).send().await.unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), served.text().await.unwrap(), "the saved CSV is the API's");

    let status = imgbatch(&app, &["status", &id]).await;
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    assert!(text(&status.stdout).starts_with(&format!("{id} completed 100% (3 succeeded")), "{}", text(&status.stdout));
}

#[tokio::test]
async fn submit_wait_exits_2_with_errors_and_1_when_failed_or_refused() {
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let mixed = write_csv(app.dir.path(), "mixed.csv", &[images.url("/img/ok.jpg"), images.url("/missing/gone.jpg")]);
    let run = imgbatch(&app, &["submit", &mixed, "--wait"]).await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("completed_with_errors: 1 of 2 images succeeded, 1 failed"),
        "{}",
        text(&run.stderr)
    );

    let gone = write_csv(app.dir.path(), "gone.csv", &[images.url("/missing/a.jpg")]);
    let run = imgbatch(&app, &["submit", &gone, "--wait"]).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("failed: 0 of 1 images succeeded, 1 failed"), "{}", text(&run.stderr));

    // Refused: the server's problems, by line and column, and nothing kept.
    let bad = app.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "S. No.,Product Name,Input Image Urls\n1,Mug,ftp://x/a.jpg\n1,Cup,https://cdn.example.com/b.jpg\n",
    )
    .unwrap();
    let before = app.get_json("/api/v1/requests").await.1["total"].clone();
    let run = imgbatch(&app, &["submit", bad.to_str().unwrap(), "--wait"]).await;
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the server answered 422"), "{stderr}");
    assert!(stderr.contains("line 2, column 3: "), "{stderr}");
    assert!(stderr.contains("line 3, column 1: "), "{stderr}");
    assert!(run.stdout.is_empty(), "no request id for a refused upload");
    assert_eq!(app.get_json("/api/v1/requests").await.1["total"], before);

    // A wrong key is refused too, and says so.
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
        .args(["submit", &mixed, "--server", &app.base, "--api-key", "ib_wrong"])
        .env_remove("IMGBATCH_API_KEY")
        .output();
    let run = tokio::time::timeout(Duration::from_secs(30), run).await.unwrap().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).contains("the server answered 401"), "{}", text(&run.stderr));
}

/// Starts `imgbatch demo` with `args`, its standard error piped and standard output as `stdout`;
/// returns it with the directory it keeps its data in.
fn spawn_demo(args: &[&str], stdout: std::process::Stdio) -> (tokio::process::Child, std::path::PathBuf) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
        .arg("demo")
        .args(args)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let dir = std::env::temp_dir().join(format!("imgbatch-demo-{}", child.id().unwrap()));
    (child, dir)
}

#[tokio::test]
async fn demo_runs_the_sample_end_to_end_prints_the_output_csv_and_cleans_up() {
    let (child, dir) = spawn_demo(&[], std::process::Stdio::piped());
    let run =
        tokio::time::timeout(PATIENCE, child.wait_with_output()).await.expect("the demo finished in time").unwrap();
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("completed_with_errors: 4 of 5 images succeeded, 1 failed"), "{stderr}");
    let header = stdout.lines().position(|l| l == "S. No.,Product Name,Input Image Urls,Output Image Urls");
    let rows: Vec<&str> = stdout.lines().skip(header.expect("the output CSV is printed") + 1).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[0].starts_with("1,Red mug,") && rows[0].matches("/files/").count() == 2, "{}", rows[0]);
    // The lamp's second image is missing on purpose: its slot is empty.
    assert!(rows[2].starts_with("3,Lamp,") && rows[2].matches("/files/").count() == 1, "{}", rows[2]);
    assert!(!dir.exists(), "the demo removed {}", dir.display());
}

#[tokio::test]
async fn demo_keep_stays_up_with_the_dashboard_open_until_told_to_stop() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (mut child, dir) = spawn_demo(&["--keep"], std::process::Stdio::null());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let said = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("for the dashboard") {
                return line;
            }
        }
        panic!("the demo ended without saying where the dashboard is")
    });
    let line = said.await.expect("the demo said where the dashboard is in time");
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().trim_end_matches('/').to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // The dashboard opens without signing in, on the finished sample request.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("id=\"upload-form\""));
    let list: serde_json::Value = reqwest::get(format!("{base}/api/v1/requests")).await.unwrap().json().await.unwrap();
    assert_eq!(list["items"][0]["status"], "completed_with_errors", "{list:#}");

    // SAFETY: kill(2) on a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("the demo stopped in time").unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!dir.exists(), "the demo removed {}", dir.display());
}

#[tokio::test]
async fn login_keeps_a_token_only_the_user_can_read_and_submit_uses_it_for_that_account() {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::AsyncWriteExt;
    let images = ImageServer::start().await;
    let app = TestApp::spawn().await;
    let (merchant, _) = crate::helpers::api::new_tenant(&app.base, "cli-login@example.com").await;
    let home = app.dir.path().join("home");
    let command = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"));
        command
            .args(args)
            .env("IMGBATCH_SERVER", &app.base)
            .env_remove("IMGBATCH_API_KEY")
            .env_remove("XDG_CONFIG_HOME")
            .env("HOME", &home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    };
    let login = |password: &'static str| {
        let mut child = command(&["login", "--email", "cli-login@example.com"]).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        async move {
            stdin.write_all(format!("{password}\n").as_bytes()).await.unwrap();
            drop(stdin);
            tokio::time::timeout(PATIENCE, child.wait_with_output()).await.unwrap().unwrap()
        }
    };
    let wrong = login("not the password").await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("the server answered 401"), "{}", text(&wrong.stderr));
    let kept = home.join(".config/imgbatch/token.json");
    assert!(!kept.exists(), "a refused sign-in keeps nothing");

    let right = login("correct horse battery staple").await;
    assert_eq!(right.status.code(), Some(0), "{}", text(&right.stderr));
    let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the user can read the kept token");
    assert!(!text(&right.stdout).contains("eyJ") && !text(&right.stderr).contains("eyJ"), "the token is not printed");

    let csv = write_csv(app.dir.path(), "mine.csv", &[images.url("/img/login.jpg")]);
    let run = tokio::time::timeout(PATIENCE, command(&["submit", &csv, "--wait"]).output()).await.unwrap().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let id = text(&run.stdout).trim().to_owned();
    assert_eq!(merchant.get_json(&format!("/api/v1/requests/{id}")).await.0, 200, "the request is the merchant's");
    assert_eq!(app.get_json(&format!("/api/v1/requests/{id}")).await.0, 404, "not the admin's");
}
