//! Child processes: the real `imgbatch` binary (or a server such as `redis-server`) run by a
//! test, so that a crash is a real SIGKILL. Each one writes its stdout and stderr to a log file
//! in the test's directory, printed when the test fails, and is killed when dropped.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use imgbatch::{Config, config::Secret, storage::StorageLocation};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

/// The file `program` names in a directory of `PATH`, if any.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// How long a process has to start (migrate, bind, connect) and print that it is ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running child process.
pub struct ChildProcess {
    name: String,
    child: Child,
    log: PathBuf,
    stdout: mpsc::UnboundedReceiver<String>,
}

impl ChildProcess {
    /// Starts `program` with `args` and `env` added to this process's environment (the AWS_*
    /// variables pass through), in `dir`, logging to `dir/<name>.log`.
    pub fn start(program: &str, args: &[&str], env: &[(&str, String)], dir: &Path, name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        File::create(&log).expect("log file");
        // Both streams append, so that neither writes over the other.
        let append = || OpenOptions::new().append(true).open(&log).expect("log file");
        let stderr = append();
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            // The test's directory, so that no stray `.env` is read.
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let (tx, stdout) = mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut copy = append();
        // Read stdout to its end, so that the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(copy, "{line}");
                let _ = tx.send(line);
            }
        });
        Self { name: name.to_owned(), child, log, stdout }
    }

    /// Starts the `imgbatch` binary.
    pub fn imgbatch(args: &[&str], env: &[(&str, String)], dir: &Path, name: &str) -> Self {
        Self::start(env!("CARGO_BIN_EXE_imgbatch"), args, env, dir, name)
    }

    /// Starts `imgbatch serve` on a free port and returns it with the URL it listens on.
    pub async fn serve(env: &[(&str, String)], dir: &Path, name: &str) -> (Self, String) {
        let mut process = Self::imgbatch(&["serve", "--bind", "127.0.0.1:0"], env, dir, name);
        let base = process.listening().await;
        (process, base)
    }

    /// Waits for the line an API process prints once it is ready, and returns its URL.
    pub async fn listening(&mut self) -> String {
        let line = self.wait_for_line("imgbatch listening on ", START_TIMEOUT).await;
        line.trim_start_matches("imgbatch listening on ").to_owned()
    }

    /// Waits for a line of stdout containing `text`, for at most `within`.
    pub async fn wait_for_line(&mut self, text: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some(line)) if line.contains(text) => return line,
                Ok(Some(_)) => {}
                Ok(None) => panic!("{} ended before printing {text:?}", self.name),
                Err(_) => panic!("{} did not print {text:?} within {within:?}", self.name),
            }
        }
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        self.child.id().expect("still running") as i32
    }

    /// Kills it with SIGKILL, as a crash or the OOM killer would, and waits for it to be gone.
    pub async fn sigkill(&mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// Asks it to stop with SIGTERM, as an orchestrator does before a deploy.
    pub fn sigterm(&self) {
        // SAFETY: kill(2) on a child we started and have not reaped, so the pid is still ours.
        let sent = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM to {}", self.name);
    }

    /// Waits for it to exit, failing the test if it is still running after `within`.
    pub async fn exit_within(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!("{} still running {within:?} after being told to stop", self.name),
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("\n--- {} ({}) ---\n{log}--- end of {} ---", self.name, self.log.display(), self.name);
        }
    }
}

/// The environment that runs `imgbatch` with `config`'s database, queue, store and settings.
pub fn imgbatch_env(config: &Config) -> Vec<(&'static str, String)> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let storage = match &config.storage {
        StorageLocation::Local(dir) => dir.display().to_string(),
        StorageLocation::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
    };
    let schedule: Vec<String> = config.webhook_retry_schedule.0.iter().map(|d| ms(*d)).collect();
    let mut env = vec![
        ("DATABASE_URL", config.database_url.clone()),
        ("IMGBATCH_STORAGE", storage),
        ("IMGBATCH_QUEUE_NAMESPACE", config.queue_namespace.clone()),
        ("IMGBATCH_ALLOW_PRIVATE_URLS", config.allow_private_urls.to_string()),
        ("IMGBATCH_WEBHOOK_RETRY_SCHEDULE", schedule.join(",")),
        ("IMGBATCH_WORKER_HEARTBEAT", ms(config.worker_heartbeat)),
        ("IMGBATCH_DOWNLOAD_TIMEOUT", ms(config.download_timeout)),
        ("IMGBATCH_OUTAGE_RETRY_MAX", ms(config.outage_retry_max)),
        ("IMGBATCH_CONCURRENCY", config.concurrency.to_string()),
        ("RUST_LOG", "info,sqlx=warn,sea_orm=warn,apalis=warn".into()),
    ];
    let optional = [
        ("REDIS_URL", config.redis_url.clone()),
        ("IMGBATCH_QUEUE_FILE", config.queue_file.as_ref().map(|f| f.display().to_string())),
        ("IMGBATCH_S3_ENDPOINT", config.s3_endpoint.clone()),
        ("IMGBATCH_WEBHOOK_SECRET", config.webhook_secret.as_ref().map(|s| Secret::expose(s).to_owned())),
        ("IMGBATCH_WORKER_NAME", config.worker_name.clone()),
    ];
    env.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    env
}
