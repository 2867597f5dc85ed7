//! Logging set-up and the process signals that stop the service.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the log subscriber: `RUST_LOG` filters, `info` by default.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,apalis=warn"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}

/// Installs a log subscriber of warnings and errors only, on standard error: for the commands
/// whose standard output is their answer.
pub fn init_quiet() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,sqlx=error,sea_orm=error"));
    let _ = fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}

/// Installs a log subscriber for tests, only when `TEST_LOG` is set, so test output stays quiet.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
        let _ = fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
