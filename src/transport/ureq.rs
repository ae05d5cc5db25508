//! The built-in [`HttpTransport`]: ureq 3 with rustls (ring, webpki roots).
//!
//! - No redirects are followed: a 3xx comes back as a response, and the
//!   caller reports it ([`response_to_error`](super::response_to_error))
//!   without re-sending the token anywhere.
//! - Every status is a response (`http_status_as_error(false)`).
//! - `timeout_ms` bounds the whole exchange: DNS, connect, TLS, sending,
//!   waiting and reading the body (ureq's global timeout).
//! - Bodies over [`MAX_BODY_BYTES`] fail with [`Error::Protocol`] without
//!   being read to the end.
//! - One agent per transport, so connections are kept alive and reused.
//! - Proxies from the usual environment variables (`HTTPS_PROXY`, ...,
//!   `NO_PROXY`) are honoured, as ureq does by default.

use std::io::Read;
use std::time::Duration;

use super::url::url_for_message;
use super::{
    redact_error, HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError,
    MAX_BODY_BYTES, USER_AGENT,
};
use crate::error::{Error, Result};

/// Largest `timeout_ms` accepted (one day): longer means a configuration
/// mistake, and would park a thread for good.
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// [`HttpTransport`] over ureq and rustls. Cheap to share (`Arc`), safe to
/// call from several threads at once.
///
/// ```no_run
/// use mxclock::transport::{server_now_request, parse_server_now_body, HomeserverUrl,
///     UreqTransport, DEFAULT_ENDPOINT_PATH};
/// let transport = UreqTransport::new();
/// let url = HomeserverUrl::parse("https://matrix.example.org", false)?;
/// let response = transport.send(server_now_request(&url, DEFAULT_ENDPOINT_PATH, None, 5_000))?;
/// if response.status == 200 {
///     println!("server time: {} ms", parse_server_now_body(&response.body)?);
/// }
/// # Ok::<(), mxclock::Error>(())
/// ```
#[derive(Clone)]
pub struct UreqTransport {
    agent: ::ureq::Agent,
}

impl std::fmt::Debug for UreqTransport {
    /// Opaque on purpose: the agent's own `Debug` shows its configuration,
    /// which includes any proxy URL from the environment and its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqTransport { .. }")
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new()
    }
}

impl UreqTransport {
    /// A transport with its own connection pool.
    pub fn new() -> UreqTransport {
        let config = ::ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .build();
        UreqTransport {
            agent: ::ureq::Agent::new_with_config(config),
        }
    }

    fn get_inner(&self, request: &HttpRequest) -> Result<HttpResponse> {
        let what = format!("GET {}", url_for_message(&request.url));
        if request.timeout_ms == 0 || request.timeout_ms > MAX_TIMEOUT_MS {
            return Err(Error::InvalidArgument(format!(
                "timeout_ms {} for {what} is not between 1 and {MAX_TIMEOUT_MS}",
                request.timeout_ms
            )));
        }
        let mut builder = self.agent.get(&request.url);
        for HttpHeader { name, value } in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder
            .config()
            .timeout_global(Some(Duration::from_millis(request.timeout_ms)))
            .build()
            .call()
            .map_err(|e| map_error(e, request, &what))?;

        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| HttpHeader {
                name: name.as_str().to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).trim().to_owned(),
            })
            .collect();
        let body = response.into_body();
        if let Some(len) = body.content_length() {
            if len > MAX_BODY_BYTES as u64 {
                return Err(too_large(&what, Some(len)));
            }
        }
        let mut buf = Vec::new();
        body.into_reader()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| map_error(::ureq::Error::from(e), request, &what))?;
        if buf.len() > MAX_BODY_BYTES {
            return Err(too_large(&what, None));
        }
        Ok(HttpResponse {
            status,
            headers,
            body: buf,
        })
    }
}

impl UreqTransport {
    /// One GET, with the crate's error type (what the trait method returns,
    /// before it is turned into a [`TransportError`]).
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        // Whatever a message was built from, the token does not leave.
        self.get_inner(&request)
            .map_err(|e| redact_error(e, &request))
    }
}

impl HttpTransport for UreqTransport {
    fn get(&self, request: HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        self.send(request).map_err(TransportError::from)
    }
}

fn too_large(what: &str, content_length: Option<u64>) -> Error {
    let size = match content_length {
        Some(n) => format!("{n} bytes"),
        None => "more".to_owned(),
    };
    Error::Protocol(format!(
        "body larger than 64 KiB ({size}) in the reply to {what}; not read"
    ))
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

fn map_error(e: ::ureq::Error, request: &HttpRequest, what: &str) -> Error {
    use ::ureq::Error as U;
    use std::io::ErrorKind;
    let timeout = || Error::Timeout {
        what: what.to_owned(),
        timeout_ms: request.timeout_ms,
    };
    match e {
        U::Timeout(_) => timeout(),
        U::Io(io) => match io.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => timeout(),
            ErrorKind::ConnectionRefused => Error::Network(format!(
                "{what}: connection refused; is the server running?"
            )),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Error::Network(format!("{what}: connection reset by the server"))
            }
            ErrorKind::UnexpectedEof => Error::Network(format!(
                "{what}: the server closed the connection before the reply was complete"
            )),
            // rustls reports bad records and handshakes as InvalidData.
            ErrorKind::InvalidData if is_https(&request.url) => {
                Error::Network(format!("{what}: TLS failed: {io}"))
            }
            _ => Error::Network(format!("{what}: {io}")),
        },
        U::HostNotFound => Error::Network(format!("{what}: host not found (DNS)")),
        U::ConnectionFailed => Error::Network(format!("{what}: connection failed")),
        U::Tls(msg) => Error::Network(format!("{what}: TLS failed: {msg}")),
        U::Rustls(err) => Error::Network(format!("{what}: TLS failed: {err}")),
        U::Pem(_) => Error::Network(format!("{what}: TLS certificate could not be read")),
        U::TlsRequired => Error::Network(format!("{what}: TLS required but not available")),
        U::Protocol(err) => Error::Protocol(format!("{what}: malformed HTTP reply: {err}")),
        U::LargeResponseHeader(..) => {
            Error::Protocol(format!("{what}: the reply's headers are too large"))
        }
        U::BodyExceedsLimit(_) => too_large(what, None),
        // The http crate's errors name the problem, never the value.
        U::Http(err) => Error::InvalidArgument(format!("{what}: invalid request: {err}")),
        U::BadUri(_) => Error::InvalidArgument(format!(
            "{what}: the URL is not a valid absolute http(s) URL"
        )),
        U::RequireHttpsOnly(_) => Error::InvalidArgument(format!("{what}: https required")),
        U::InvalidProxyUrl | U::ConnectProxyFailed(_) => Error::Network(format!(
            "{what}: the proxy from the environment (HTTPS_PROXY, ...) failed"
        )),
        other => Error::Network(format!("{what}: {other}")),
    }
}
