//! Drives mxclock's sync session from async Rust: a tokio runtime and a
//! hyper 1 HTTP/1 client do the I/O, mxclock only decides. No thread is
//! parked inside mxclock: every session call returns at once, requests are
//! awaited, waits are `tokio::time::sleep`.
//!
//! Runs against the in-process loopback test homeserver (a clock skew known
//! only to the server, a few ms of network each way), once with the MSC4094
//! endpoint and once without it (timed `Date` probes), and prints the
//! estimate and its true error. Exits non-zero if the truth is outside the
//! estimate's uncertainty, so CI (`scripts/test-all.sh`) catches a rotten
//! example.
//!
//! ```sh
//! cargo run --example async_sync
//! ```
//!
//! Plain `http://` only (the test homeserver is on loopback): an app adds
//! TLS to `connect` (tokio-rustls, or its SDK's own client).

use std::error::Error;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::Uri;
use mxclock::{
    ClockConfig, HttpHeader, HttpRequest, HttpResponse, ServerClock, SyncAction, SyncReport,
    TransportError, MAX_BODY_BYTES,
};
use mxclock_test_homeserver::{Delay, HomeserverConfig, TestHomeserver};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

type BoxError = Box<dyn Error + Send + Sync>;

/// One sync, driven by hand: what an async Matrix SDK would write around
/// its own HTTP client.
async fn sync(clock: Arc<ServerClock>, http: &mut Http) -> mxclock::Result<SyncReport> {
    let session = Arc::clone(&clock).start_sync(clock.boot_ms())?;
    loop {
        match session.next_action(clock.boot_ms())? {
            SyncAction::Send {
                request_id,
                request,
            } => {
                let sent = clock.boot_ms();
                let timeout = Duration::from_millis(request.timeout_ms);
                let reply = match tokio::time::timeout(timeout, http.get(&request)).await {
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(e)) => Err(TransportError::Network {
                        reason: e.to_string(),
                    }),
                    Err(_) => Err(TransportError::Timeout {
                        reason: format!("no reply within {} ms", request.timeout_ms),
                    }),
                };
                if reply.is_err() {
                    http.connection = None; // start afresh on the next request
                }
                let received = clock.boot_ms();
                match reply {
                    Ok(response) => {
                        session.receive_response(request_id, sent, received, response)?
                    }
                    Err(failure) => session.receive_failure(request_id, sent, received, failure)?,
                }
            }
            SyncAction::Wait { until_boot_ms } => {
                let ms = until_boot_ms.saturating_sub(clock.boot_ms()).max(0);
                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
            }
            SyncAction::Done { report } => return Ok(report),
        }
    }
}

/// A minimal HTTP/1.1 client on hyper's connection API: one kept-alive
/// connection to the homeserver, reopened when it closes.
struct Http {
    connection: Option<http1::SendRequest<Empty<Bytes>>>,
}

impl Http {
    async fn get(&mut self, request: &HttpRequest) -> Result<HttpResponse, BoxError> {
        let uri: Uri = request.url.parse()?;
        if uri.scheme_str() != Some("http") {
            return Err("this example speaks plain http:// to loopback only".into());
        }
        let host = uri.host().ok_or("no host in the URL")?.to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let mut sender = match self.connection.take() {
            Some(s) if !s.is_closed() => s,
            _ => {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                let (sender, connection) = http1::handshake(Io(tcp)).await?;
                tokio::spawn(connection);
                sender
            }
        };
        sender.ready().await?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut builder = hyper::Request::get(path).header("Host", format!("{host}:{port}"));
        for h in &request.headers {
            builder = builder.header(&h.name, &h.value);
        }
        let reply = sender.send_request(builder.body(Empty::new())?).await?;
        self.connection = Some(sender);
        let status = reply.status().as_u16();
        let headers = reply
            .headers()
            .iter()
            .map(|(name, value)| {
                HttpHeader::new(name.as_str(), String::from_utf8_lossy(value.as_bytes()))
            })
            .collect();
        // The transport contract: never read more than MAX_BODY_BYTES.
        let body = Limited::new(reply.into_body(), MAX_BODY_BYTES)
            .collect()
            .await?
            .to_bytes()
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// tokio's socket as hyper's I/O (what hyper-util's `TokioIo` does, without
/// the extra dependency).
struct Io(TcpStream);

impl hyper::rt::Read for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut chunk = [0u8; 4096];
        let n = chunk.len().min(buf.remaining());
        let mut read = tokio::io::ReadBuf::new(&mut chunk[..n]);
        match Pin::new(&mut self.0).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(read.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// One run against a fresh homeserver; `Ok(true)` if the truth was inside
/// the estimate's uncertainty.
async fn run(name: &str, msc4094: bool) -> Result<bool, BoxError> {
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms: -42_137.6,
        uplink: Delay::fixed(4.0),
        downlink: Delay::fixed(6.0),
        msc4094,
        ..HomeserverConfig::default()
    })?;
    let clock = ServerClock::new_with_sources(ClockConfig::new(&server.base_url()), None, None)?;
    let mut http = Http { connection: None };
    let report = sync(Arc::clone(&clock), &mut http).await?;
    let e = clock.estimate().ok_or("no estimate after the sync")?;
    let truth = server.true_server_ms();
    let error_ms = clock.server_now_ms()? as f64 - truth;
    // + 1: the estimate is whole ms, the truth is not.
    let inside = error_ms.abs() <= e.uncertainty_ms as f64 + 1.0;
    println!(
        "{name:<22} source {:<11} requests {}  offset {:+} ms  ±{} ms  true error {:+.1} ms  {}",
        report.source.as_str(),
        report.requests,
        e.offset_ms,
        e.uncertainty_ms,
        error_ms,
        if inside {
            "(inside the uncertainty)"
        } else {
            "OUTSIDE THE UNCERTAINTY"
        }
    );
    Ok(inside)
}

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(async {
        let endpoint = run("MSC4094 endpoint", true).await?;
        let date = run("Date header (probes)", false).await?;
        Ok::<_, BoxError>(endpoint && date)
    })?;
    if !ok {
        return Err("the true server time was outside the estimate's uncertainty".into());
    }
    Ok(())
}
