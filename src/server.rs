//! Serving HTTP on the internet: the accept loop, with what `axum::serve` leaves out. A client
//! has 10 s to send a request's headers and an idle connection is closed after as long, so slow
//! or idle connections cannot pile up; open connections are capped below the process's file
//! descriptor limit (raised to its hard limit at start), so that a flood of them queues in the
//! kernel instead of leaving no descriptor for the database, the store or `/healthz`.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Time a client has to send a request's headers; also how long an idle keep-alive connection
/// is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the kernel holds for the process while it is at its cap (the listen backlog).
const BACKLOG: u32 = 1024;
/// File descriptors kept for everything but client connections: database and queue pools,
/// downloads, webhook calls, the store, files.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets open requests finish.
pub async fn serve(listener: TcpListener, router: Router, max_connections: usize, shutdown: CancellationToken) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(HEADER_READ_TIMEOUT);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(max_connections));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, shutdown) = (builder.clone(), router.clone(), shutdown.clone());
        connections.spawn(async move {
            let _slot = permit;
            // Until its first bytes tell HTTP/1 from HTTP/2 no protocol timer runs: a
            // connection that sends nothing is closed here.
            if !sends_within(&stream, HEADER_READ_TIMEOUT).await {
                return;
            }
            // The peer's address, for limits kept per client (failed sign-ins).
            let service = tower::Layer::layer(&axum::Extension(axum::extract::ConnectInfo(peer)), router);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Binds `address` with a listen backlog of [`BACKLOG`] (the default is 128).
pub fn listen(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        std::net::SocketAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// True once `stream` has a byte to read within `within` (peeked, so hyper still reads it).
async fn sends_within(stream: &TcpStream, within: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(tokio::time::timeout(within, stream.peek(&mut first)).await, Ok(Ok(1)))
}

/// Raises this process's limit of open files to its hard limit where allowed, and returns how
/// many client connections to allow at once.
pub fn connection_cap() -> usize {
    let limit = raise_open_files_limit();
    let cap = limit.saturating_sub(RESERVED_DESCRIPTORS) * 3 / 4;
    usize::try_from(cap.clamp(32, 100_000)).unwrap_or(100_000)
}

/// The soft limit of open files after raising it to the hard limit (unchanged if not allowed).
fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}
