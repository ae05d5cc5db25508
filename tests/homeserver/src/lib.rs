//! A loopback Matrix homeserver for mxclock's tests: a server clock with a
//! known skew, delays per network direction, MSC4094 on or off, and faults.
//!
//! Plain std networking and threads: a thread accepts on `127.0.0.1:0`, and
//! each connection gets its own thread (HTTP/1.1 keep-alive is supported).
//! Dropping the [`TestHomeserver`] stops everything and joins every thread,
//! including connections held open by [`Fault::NeverAnswer`] or trickling a
//! [`Fault::SlowBody`].
//!
//! # Routes
//!
//! | route | reply |
//! |---|---|
//! | `GET /_matrix/client/v3/get_server_now` (also the unstable `/_matrix/client/unstable/org.matrix.msc4094/get_server_now`) | MSC4094 on: 200 `{"server_now": <ms>}`; off: 404 `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}` |
//! | `GET /_matrix/client/versions` | 200 with `versions` and `unstable_features."org.matrix.msc4094"` |
//! | any other path | 404 `M_UNRECOGNIZED` |
//! | another method on a known path | 405 `M_UNRECOGNIZED` (`HEAD` is served like `GET`, without body) |
//! | `GET /_test/true_server_ms` | **test-only**: `{"true_server_ms": <f64>}`, the server clock now |
//! | `GET /_test/request_count` | **test-only**: `{"time_endpoint": n, "total": n}` |
//!
//! The `/_test/…` routes exist so out-of-process tests can measure true error;
//! they are never delayed, faulted, counted or recorded. No real homeserver
//! has them.
//!
//! # Timing model
//!
//! For each request: read the whole request → sleep the **uplink** delay →
//! read the server clock `S = SystemTime::now() + skew_ms` → build the reply →
//! sleep the **downlink** delay → write the reply in one write. So a client
//! that sent at `B0` and received at `B3` (same machine clock) always has
//! `B0 + skew ≤ S ≤ B3 + skew`, and the split between the delays is the path
//! asymmetry. The body says `floor(S)` in integer ms; the `Date` header says
//! `floor(S / 1000)` seconds as an IMF-fixdate, from the **same** instant, so
//! probing against the second boundary works. Every reply (200, 404, 429,
//! 500 …) carries `Date` unless a fault removes it.
//!
//! # Faults
//!
//! [`HomeserverConfig::fault`] applies to every request; faults queued with
//! [`TestHomeserver::script_faults`] are used first, one per request, in
//! order. See [`Fault`] for what each does and for the names the binary takes.
//!
//! # TLS
//!
//! With the default `tls` feature, [`TestHomeserver::start_tls`] serves the
//! same thing over HTTPS with the self-signed [`TLS_CERT_DER`]: a verifying
//! client fails the handshake (the "TLS failure" fault), a client that
//! trusts that certificate works. Independently, a TLS client pointed at the
//! plain port gets a plain-text 400 and fails at once.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use mxclock_test_homeserver::{HomeserverConfig, TestHomeserver};
//!
//! let server = TestHomeserver::start(HomeserverConfig {
//!     skew_ms: 37_250.0,
//!     ..HomeserverConfig::default()
//! })
//! .unwrap();
//! let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
//! tcp.write_all(b"GET /_matrix/client/v3/get_server_now HTTP/1.1\r\n\
//!                 Host: x\r\nConnection: close\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! tcp.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 200 OK"));
//! assert!(reply.contains("\"server_now\":"));
//! assert_eq!(server.request_count().time_endpoint, 1);
//! assert_eq!(server.skew_ms(), 37_250.0);
//! ```

mod config;
mod http;
mod rng;
mod server;
#[cfg(feature = "tls")]
mod tls;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use config::{
    BackendOrder, Delay, Fault, HomeserverConfig, AGE_HUGE_HEADER, DATE_MALFORMED_HEADER,
    DEFAULT_REDIRECT_LOCATION, HUGE_BODY_BYTES, RANDOM_TIME_RANGE_MS, SLOW_BODY_BYTE_INTERVAL,
    YEAR_1900_MS, YEAR_3000_MS,
};
pub use http::{imf_fixdate, RecordedRequest};
#[cfg(feature = "tls")]
pub use tls::TLS_CERT_DER;

use server::{lock, Shared};

/// The MSC4094 endpoint path.
pub const TIME_PATH: &str = "/_matrix/client/v3/get_server_now";
/// The unstable MSC4094 path, served the same way.
pub const UNSTABLE_TIME_PATH: &str = "/_matrix/client/unstable/org.matrix.msc4094/get_server_now";
/// The client-server API versions path.
pub const VERSIONS_PATH: &str = server::VERSIONS_PATH;
/// Test-only route: `{"true_server_ms": <f64>}`.
pub const TRUE_SERVER_MS_PATH: &str = server::TRUE_SERVER_MS_PATH;
/// Test-only route: `{"time_endpoint": n, "total": n}`.
pub const REQUEST_COUNT_PATH: &str = server::REQUEST_COUNT_PATH;
/// At most this many recent requests are kept by [`TestHomeserver::requests`].
pub const RECORD_LIMIT: usize = server::RECORD_LIMIT;

/// A `http://127.0.0.1:PORT` URL where nothing listens (a port the OS just
/// handed out and that was closed again), for "connection refused" tests.
/// Another process could in principle take the port in between; ports are
/// not reused that quickly in practice.
pub fn refused_base_url() -> io::Result<String> {
    let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
    Ok(format!("http://127.0.0.1:{port}"))
}

/// Requests seen since start (test-only routes excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RequestCount {
    /// Requests to the MSC4094 paths (whatever the reply was).
    pub time_endpoint: u64,
    /// All requests.
    pub total: u64,
}

/// A running loopback homeserver. Stops on drop.
pub struct TestHomeserver {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: bool,
    acceptor: Option<JoinHandle<()>>,
}

impl TestHomeserver {
    /// Starts serving plain HTTP on `127.0.0.1`, on a free port.
    pub fn start(config: HomeserverConfig) -> io::Result<TestHomeserver> {
        Self::start_inner(config, None)
    }

    /// Starts serving HTTPS on `127.0.0.1` with the self-signed
    /// [`TLS_CERT_DER`]; [`base_url`](Self::base_url) is `https://…`.
    #[cfg(feature = "tls")]
    pub fn start_tls(config: HomeserverConfig) -> io::Result<TestHomeserver> {
        Self::start_inner(config, Some(tls::server_config()?))
    }

    fn start_inner(
        config: HomeserverConfig,
        #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
        #[cfg(not(feature = "tls"))] tls: Option<std::convert::Infallible>,
    ) -> io::Result<TestHomeserver> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let is_tls = tls.is_some();
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("test-homeserver-{}", addr.port()))
                .spawn(move || accept_loop(&shared, listener, tls))?
        };
        Ok(TestHomeserver {
            shared,
            addr,
            tls: is_tls,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`start_tls`](Self::start_tls)), no trailing slash.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    /// The MSC4094 endpoint's full URL.
    pub fn time_url(&self) -> String {
        format!("{}{TIME_PATH}", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The current configuration.
    pub fn config(&self) -> HomeserverConfig {
        self.shared.config()
    }

    /// Replaces the whole configuration for requests that start from now on.
    /// Also reseeds the RNG and undoes any clock step of
    /// [`Fault::StepAfter`]; the fault script is kept.
    pub fn set_config(&self, config: HomeserverConfig) {
        self.shared.set_config(config);
    }

    /// Replaces the default fault and restarts the request counting of
    /// [`Fault::StepAfter`] (a step already taken stays).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.set_fault(fault);
    }

    /// Changes the skew (any step already taken stays on top).
    pub fn set_skew_ms(&self, skew_ms: f64) {
        self.shared.update(|c| c.skew_ms = skew_ms);
    }

    /// Turns the MSC4094 endpoint on or off.
    pub fn set_msc4094(&self, on: bool) {
        self.shared.update(|c| c.msc4094 = on);
    }

    /// Changes both delays.
    pub fn set_delays(&self, uplink: Delay, downlink: Delay) {
        self.shared.update(|c| {
            c.uplink = uplink;
            c.downlink = downlink;
        });
    }

    /// Queues faults for the next requests, one each, in order (after any
    /// already queued); when the queue is empty the configured fault applies.
    pub fn script_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script(faults);
    }

    /// Scripted faults not yet used.
    pub fn scripted_faults_left(&self) -> usize {
        self.shared.script_len()
    }

    /// Requests counted since start (test-only routes excluded).
    pub fn request_count(&self) -> RequestCount {
        let (time_endpoint, total) = self.shared.counts();
        RequestCount {
            time_endpoint,
            total,
        }
    }

    /// The most recent requests (up to [`RECORD_LIMIT`]), oldest first, so
    /// tests can check `Authorization`, `Cache-Control`, `User-Agent`.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorded()
    }

    /// Forgets recorded requests (counts are kept).
    pub fn clear_requests(&self) {
        self.shared.clear_recorded();
    }

    /// The server clock now, in fractional Unix ms (this machine's
    /// `SystemTime` + skew + any [`Fault::StepAfter`] step).
    pub fn true_server_ms(&self) -> f64 {
        server::wall_ms() + self.shared.offset_ms()
    }

    /// Server clock minus this machine's wall clock, in ms (skew plus any step).
    pub fn skew_ms(&self) -> f64 {
        self.shared.offset_ms()
    }

    /// Connections currently open (for leak checks).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.conns).len()
    }
}

impl Drop for TestHomeserver {
    fn drop(&mut self) {
        self.shared.stop();
        // Wake the blocking accept(); the accept loop then closes every
        // connection and joins their threads.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl std::fmt::Debug for TestHomeserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHomeserver")
            .field("base_url", &self.base_url())
            .field("skew_ms", &self.skew_ms())
            .finish()
    }
}

fn accept_loop(
    shared: &Arc<Shared>,
    listener: TcpListener,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
    #[cfg(not(feature = "tls"))] _tls: Option<std::convert::Infallible>,
) {
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    for stream in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let tcp = match stream {
            Ok(tcp) => tcp,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        if let Ok(clone) = tcp.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        handles.retain(|h| !h.is_finished());
        let conn_shared = shared.clone();
        #[cfg(feature = "tls")]
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("test-homeserver-conn".into())
            .spawn(move || {
                #[cfg(feature = "tls")]
                if let Some(config) = tls {
                    if let Ok(mut stream) = tls::wrap(&config, tcp) {
                        server::serve_connection(&conn_shared, &mut stream, false);
                    }
                    lock(&conn_shared.conns).remove(&id);
                    return;
                }
                let mut tcp = tcp;
                server::serve_connection(&conn_shared, &mut tcp, true);
                lock(&conn_shared.conns).remove(&id);
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(_) => {
                lock(&shared.conns).remove(&id);
            }
        }
    }
    server::shutdown_all(shared);
    for handle in handles {
        let _ = handle.join();
    }
}
