//! A `redis-server` of the test's own, on a free port, so that pausing or killing it touches no
//! other test's queue. It keeps an append-only file fsynced on every write (and no snapshots), so
//! that a restart after SIGKILL reloads every job it had acknowledged.

use std::path::{Path, PathBuf};

use super::{
    backends,
    process::{self, ChildProcess, START_TIMEOUT},
};

/// A running (or killed, to be started again) redis-server.
pub struct RedisServer {
    program: PathBuf,
    port: u16,
    dir: PathBuf,
    process: Option<ChildProcess>,
    /// Killed processes, kept so that their logs are printed if the test fails.
    killed: Vec<ChildProcess>,
    starts: usize,
}

impl RedisServer {
    /// Starts `redis-server` from PATH with its data and logs in `dir`; `None` after a loud skip
    /// line when there is none (a failure when services are required).
    pub async fn start_or_skip(test: &str, dir: &Path) -> Option<Self> {
        let Some(program) = process::on_path("redis-server") else {
            backends::skip_unless_required(test, "redis-server is not on PATH");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { program, port, dir: dir.to_owned(), process: None, killed: Vec::new(), starts: 0 };
        server.start().await;
        Some(server)
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again) on the same port and directory, and waits until it accepts commands;
    /// after a kill, that is once it has reloaded its append-only file.
    pub async fn start(&mut self) {
        assert!(self.process.is_none(), "redis-server is already running");
        self.starts += 1;
        let data = self.dir.join("redis-data");
        std::fs::create_dir_all(&data).unwrap();
        let (port, data) = (self.port.to_string(), data.display().to_string());
        let args = [
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            &data,
        ];
        let name = format!("redis-server-{}", self.starts);
        let program = self.program.to_str().expect("a UTF-8 path");
        let mut process = ChildProcess::start(program, &args, &[], &self.dir, &name);
        process.wait_for_line("Ready to accept connections", START_TIMEOUT).await;
        self.process = Some(process);
    }

    /// Kills it with SIGKILL: it writes nothing more, and clients see their connections reset.
    pub async fn sigkill(&mut self) {
        let mut process = self.process.take().expect("redis-server is running");
        process.sigkill().await;
        self.killed.push(process);
    }

    /// Sends one command on a connection of its own.
    pub async fn command(&self, args: &[&str]) {
        let mut conn = apalis_redis::connect(self.url()).await.expect("connect to the test's redis-server");
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async::<()>(&mut conn).await.unwrap_or_else(|e| panic!("redis {args:?}: {e}"));
    }
}
