//! `FaultProxy`: a local TCP proxy in front of one upstream server (the S3 server, say) whose
//! behaviour a test switches while the app uses it, to make the upstream look down.
//!
//! - [`forward`](FaultProxy::forward): passes bytes both ways, as if the proxy were not there.
//! - [`refuse`](FaultProxy::refuse): stops listening, so a new connection is refused
//!   (ECONNREFUSED), and closes every open connection: a server process that died. Leaving this
//!   mode listens on the same port again.
//! - [`hang`](FaultProxy::hang): accepts new connections but never forwards a byte of them, and
//!   freezes the open ones where they stand (nothing more read from or written to either side,
//!   nothing closed): what a client sees when the server process is stopped with SIGSTOP, whose
//!   kernel still completes handshakes and buffers what it is sent. Back to `forward`, frozen and
//!   waiting connections carry on, as after SIGCONT.
//!
//! Each switch returns once the listener is in its new state; open connections follow within
//! microseconds, each in its own task.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Refuse,
    Hang,
}

/// A running proxy; it stops, closing every connection, when dropped.
pub struct FaultProxy {
    /// The address clients connect to.
    pub addr: SocketAddr,
    switch: mpsc::UnboundedSender<(Mode, oneshot::Sender<()>)>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 that forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = listen_outside_ephemeral_ports().await;
        let addr = listener.local_addr().unwrap();
        let (switch, commands) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(listener, upstream, commands));
        Self { addr, switch, task }
    }

    /// `http://<addr>`, to give the app as an endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Passes traffic through (again).
    pub async fn forward(&self) {
        self.set(Mode::Forward).await
    }

    /// Refuses new connections and closes the open ones.
    pub async fn refuse(&self) {
        self.set(Mode::Refuse).await
    }

    /// Accepts connections but answers nothing, and freezes the open ones.
    pub async fn hang(&self) {
        self.set(Mode::Hang).await
    }

    async fn set(&self, mode: Mode) {
        let (done, applied) = oneshot::channel();
        self.switch.send((mode, done)).expect("proxy running");
        tokio::time::timeout(Duration::from_secs(10), applied)
            .await
            .expect("the proxy switched within 10 s")
            .expect("proxy running");
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the task drops the mode sender, which ends every connection task.
        self.task.abort();
    }
}

/// Owns the listener: accepts while listening, and applies each switch before acknowledging it.
async fn run(
    listener: TcpListener,
    upstream: SocketAddr,
    mut commands: mpsc::UnboundedReceiver<(Mode, oneshot::Sender<()>)>,
) {
    let addr = listener.local_addr().unwrap();
    let (mode_tx, _) = watch::channel(Mode::Forward);
    let mut listener = Some(listener);
    loop {
        let command = match &listener {
            Some(l) => tokio::select! {
                command = commands.recv() => command,
                accepted = l.accept() => {
                    if let Ok((client, _)) = accepted {
                        tokio::spawn(carry(client, upstream, mode_tx.subscribe()));
                    }
                    continue;
                }
            },
            None => commands.recv().await,
        };
        let Some((mode, done)) = command else { return };
        match mode {
            Mode::Refuse => listener = None,
            Mode::Forward | Mode::Hang if listener.is_none() => listener = Some(rebind(addr).await),
            _ => {}
        }
        mode_tx.send_replace(mode);
        let _ = done.send(());
    }
}

/// Listens on a free port of 127.0.0.1 below the kernel's range of ephemeral ports, which it
/// never hands to an outgoing connection: no socket can take the port while the proxy refuses,
/// so it can listen on it again.
async fn listen_outside_ephemeral_ports() -> TcpListener {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let first_ephemeral = range.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(32768u16);
    if first_ephemeral > 10_000 {
        for _ in 0..100 {
            let port = rand::random_range(10_000..first_ephemeral);
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                return listener;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0").await.expect("proxy listens")
}

/// Listens on `addr` again (connections it carried may still be in TIME_WAIT: SO_REUSEADDR),
/// retrying for a while in case another socket holds the port.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        match socket.bind(addr).and_then(|()| socket.listen(1024)) {
            Ok(listener) => return listener,
            Err(e) if tokio::time::Instant::now() > deadline => panic!("the proxy cannot listen on {addr} again: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Carries one client connection: waits while hanging, connects upstream once forwarding, then
/// copies both ways while forwarding; drops both sides on `Refuse` or when the proxy stops.
async fn carry(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let mut server = loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Refuse => return,
            Mode::Forward => match TcpStream::connect(upstream).await {
                Ok(server) => break server,
                Err(_) => return,
            },
            Mode::Hang => {}
        }
        if mode.changed().await.is_err() {
            return;
        }
    };
    let (mut client_in, mut client_out) = client.split();
    let (mut server_in, mut server_out) = server.split();
    let (mut up, mut down) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
    let (mut client_open, mut server_open) = (true, true);
    while client_open || server_open {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Refuse => return,
            Mode::Hang => {
                if mode.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Forward => {}
        }
        tokio::select! {
            changed = mode.changed() => if changed.is_err() { return },
            read = client_in.read(&mut up), if client_open => match read {
                Ok(0) | Err(_) => {
                    client_open = false;
                    let _ = server_out.shutdown().await;
                }
                Ok(n) => if !write_unless_refused(&mut server_out, &up[..n], &mut mode).await { return },
            },
            read = server_in.read(&mut down), if server_open => match read {
                Ok(0) | Err(_) => {
                    server_open = false;
                    let _ = client_out.shutdown().await;
                }
                Ok(n) => if !write_unless_refused(&mut client_out, &down[..n], &mut mode).await { return },
            },
        }
    }
}

/// Writes `bytes` (bytes already read are delivered even if the proxy hangs meanwhile, as a
/// stopped server's kernel would) unless the proxy starts refusing first; false when the
/// connection is over.
async fn write_unless_refused(
    out: &mut (impl AsyncWriteExt + Unpin),
    bytes: &[u8],
    mode: &mut watch::Receiver<Mode>,
) -> bool {
    let write = out.write_all(bytes);
    tokio::pin!(write);
    loop {
        tokio::select! {
            written = &mut write => return written.is_ok(),
            changed = mode.changed() => if changed.is_err() || *mode.borrow() == Mode::Refuse { return false },
        }
    }
}
