//! The built-in [`HttpTransport`]: ureq 3 with rustls (ring, webpki roots).
//!
//! - No redirects are followed: a 3xx comes back as a response, and the
//!   caller reports it without re-sending the token anywhere.
//! - Every status is a response (`http_status_as_error(false)`).
//! - `timeout_ms` bounds the whole exchange: DNS, connect, TLS, sending,
//!   waiting and reading the body (ureq's global timeout).
//! - Bodies over [`MAX_BODY_BYTES`] fail with [`TransportError::BadReply`]
//!   without being read to the end.
//! - Plain `http://` and loopback hosts connect directly; `https://` to
//!   other hosts may go through a proxy as a CONNECT tunnel (see
//!   [the module docs](super#proxies)).
//! - One connection pool per route, so connections are kept alive and
//!   reused.

use std::io::Read;
use std::time::Duration;

use ::ureq::{Agent, Proxy, ProxyProtocol};
use http::Uri;

use super::{
    HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError, MAX_BODY_BYTES,
    USER_AGENT,
};
use crate::error::{Error, Result};
use crate::protocol::{is_loopback_host, url_for_message};

/// Largest `timeout_ms` accepted (one day): longer means a configuration
/// mistake, and would park a thread for good.
pub(super) const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// [`HttpTransport`] over ureq and rustls. Cheap to share (`Arc`), safe to
/// call from several threads at once.
///
/// [`ServerClock::new`](crate::ServerClock::new) uses one; an app that wants
/// another proxy setting passes its own:
///
/// ```no_run
/// use std::sync::Arc;
/// use mxclock::{ClockConfig, ServerClock, UreqTransport};
/// let transport = Arc::new(UreqTransport::direct()); // no proxy
/// let config = ClockConfig::new("https://matrix.example.org");
/// let clock = ServerClock::new_with_sources(config, None, Some(transport))?;
/// let report = clock.sync()?;
/// let e = report.estimate;
/// println!("server time: {} ms ± {} ms", e.server_now_ms, e.uncertainty_ms);
/// # Ok::<(), mxclock::Error>(())
/// ```
///
/// # Proxies
///
/// A request that carries the access token never goes through a proxy in
/// clear text. [`UreqTransport`] connects **directly** for every `http://`
/// URL (a loopback homeserver, or one allowed with `allow_insecure_http`)
/// and for every loopback host, whatever `HTTP_PROXY`, `HTTPS_PROXY`,
/// `ALL_PROXY` or `NO_PROXY` say: through a proxy the bytes would leave
/// the machine (and a proxy's loopback is not ours). `https://` to any other
/// host uses the proxy from the environment as ureq reads it by default
/// (`ALL_PROXY`, then `HTTPS_PROXY`, then `HTTP_PROXY`, upper or lower case;
/// hosts in `NO_PROXY` bypass it), always as a `CONNECT` tunnel: TLS runs
/// end to end inside it and the certificate is checked against the
/// homeserver's name, so the proxy sees the host name and the timing, not
/// the token, and cannot answer for the server. Delays it adds only widen
/// the samples. An app that wants another proxy (or none) builds the
/// transport with [`UreqTransport::with_proxy`] or [`UreqTransport::direct`];
/// mobile apps usually bring their own [`HttpTransport`] over the platform
/// stack, which follows the system's proxy settings.
#[derive(Clone)]
pub struct UreqTransport {
    /// Plain `http://`, loopback hosts, and everything when there is no
    /// proxy.
    direct: Agent,
    /// `https://` to other hosts, when there is a proxy.
    proxied: Option<Agent>,
    /// Where the proxy came from, for `Debug`.
    proxy_source: &'static str,
}

impl std::fmt::Debug for UreqTransport {
    /// Names where the proxy came from, never its URL (which may hold a
    /// password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UreqTransport")
            .field("proxy", &self.proxy_source)
            .finish()
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new()
    }
}

impl UreqTransport {
    /// A transport that uses the proxy from the environment (`ALL_PROXY`,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, read now) for `https://` to
    /// non-loopback hosts only, as a CONNECT tunnel.
    pub fn new() -> UreqTransport {
        match Proxy::try_from_env() {
            Some(proxy) => UreqTransport::build(Some(proxy), "environment"),
            None => UreqTransport::build(None, "none"),
        }
    }

    /// A transport that never uses a proxy, whatever the environment says.
    pub fn direct() -> UreqTransport {
        UreqTransport::build(None, "none")
    }

    /// A transport that sends `https://` requests to non-loopback hosts
    /// through the proxy at `proxy_url` (`http://host:port` or
    /// `https://host:port`, with `user:password@` if it needs them) as a
    /// CONNECT tunnel, and everything else directly. The environment is
    /// not read. The error never repeats the URL (it may hold a password).
    ///
    /// ```
    /// use mxclock::UreqTransport;
    /// assert!(UreqTransport::with_proxy("http://proxy.example:3128").is_ok());
    /// assert!(UreqTransport::with_proxy("socks5://proxy.example:1080").is_err());
    /// ```
    pub fn with_proxy(proxy_url: &str) -> Result<UreqTransport> {
        let proxy = Proxy::new(proxy_url).map_err(|_| {
            Error::InvalidConfig("the proxy URL is not valid; write it as http://host:port".into())
        })?;
        if !matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https) {
            return Err(Error::InvalidConfig(
                "only http:// and https:// (CONNECT) proxies are supported".into(),
            ));
        }
        Ok(UreqTransport::build(Some(proxy), "configured"))
    }

    fn build(proxy: Option<Proxy>, proxy_source: &'static str) -> UreqTransport {
        let agent = |proxy: Option<Proxy>| {
            Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .user_agent(USER_AGENT)
                .proxy(proxy)
                .build()
                .new_agent()
        };
        UreqTransport {
            direct: agent(None),
            proxied: proxy.map(|p| agent(Some(p))),
            proxy_source,
        }
    }

    /// The agent for `url`: the proxied one only for `https://` to a host
    /// that is not loopback.
    fn agent_for(&self, url: &str) -> &Agent {
        let Some(proxied) = &self.proxied else {
            return &self.direct;
        };
        let may_proxy = url.parse::<Uri>().is_ok_and(|uri| {
            uri.scheme_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("https"))
                && uri.host().is_some_and(|h| !is_loopback_host(h))
        });
        if may_proxy {
            proxied
        } else {
            &self.direct
        }
    }

    fn fetch(&self, request: &HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let what = format!("GET {}", url_for_message(&request.url));
        if request.timeout_ms == 0 || request.timeout_ms > MAX_TIMEOUT_MS {
            return Err(TransportError::InvalidRequest {
                reason: format!(
                    "{what}: timeout_ms {} is not between 1 and {MAX_TIMEOUT_MS}",
                    request.timeout_ms
                ),
            });
        }
        let mut builder = self.agent_for(&request.url).get(&request.url);
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

impl HttpTransport for UreqTransport {
    fn get(&self, request: HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        self.fetch(&request)
    }
}

fn too_large(what: &str, content_length: Option<u64>) -> TransportError {
    let size = match content_length {
        Some(n) => format!("{n} bytes"),
        None => "more".to_owned(),
    };
    TransportError::BadReply {
        reason: format!("{what}: body larger than 64 KiB ({size}); not read"),
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// The transport error for a ureq failure. Messages are built from the kind
/// of failure and the URL without query or credentials; ureq's own texts
/// are used only where they name a TLS or protocol problem, never a value
/// that was sent.
fn map_error(e: ::ureq::Error, request: &HttpRequest, what: &str) -> TransportError {
    use ::ureq::Error as U;
    use std::io::ErrorKind;
    let network = |m: String| TransportError::Network { reason: m };
    let timeout = || TransportError::Timeout {
        reason: what.to_owned(),
    };
    match e {
        U::Timeout(_) => timeout(),
        U::Io(io) => match io.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => timeout(),
            ErrorKind::ConnectionRefused => network(format!(
                "{what}: connection refused; is the server running?"
            )),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                network(format!("{what}: connection reset by the server"))
            }
            ErrorKind::UnexpectedEof => network(format!(
                "{what}: the server closed the connection before the reply was complete"
            )),
            // rustls reports bad records and handshakes as InvalidData.
            ErrorKind::InvalidData if is_https(&request.url) => {
                network(format!("{what}: TLS failed: {io}"))
            }
            _ => network(format!("{what}: {io}")),
        },
        U::HostNotFound => network(format!("{what}: host not found (DNS)")),
        U::ConnectionFailed => network(format!("{what}: connection failed")),
        U::Tls(msg) => network(format!("{what}: TLS failed: {msg}")),
        U::Rustls(err) => network(format!("{what}: TLS failed: {err}")),
        U::Pem(_) => network(format!("{what}: TLS certificate could not be read")),
        U::TlsRequired => network(format!("{what}: TLS required but not available")),
        U::Protocol(err) => TransportError::BadReply {
            reason: format!("{what}: malformed HTTP reply: {err}"),
        },
        U::LargeResponseHeader(..) => TransportError::BadReply {
            reason: format!("{what}: the reply's headers are too large"),
        },
        U::BodyExceedsLimit(_) => too_large(what, None),
        // The http crate's errors name the problem, never the value.
        U::Http(err) => TransportError::InvalidRequest {
            reason: format!("{what}: {err}"),
        },
        U::BadUri(_) => TransportError::InvalidRequest {
            reason: format!("{what}: the URL is not a valid absolute http(s) URL"),
        },
        U::RequireHttpsOnly(_) => TransportError::InvalidRequest {
            reason: format!("{what}: https required"),
        },
        U::InvalidProxyUrl | U::ConnectProxyFailed(_) => {
            network(format!("{what}: the proxy failed to open a CONNECT tunnel"))
        }
        other => network(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_other_hosts_may_use_the_proxy() {
        let t = UreqTransport::with_proxy("http://127.0.0.1:9").unwrap();
        let proxied = t.proxied.as_ref().unwrap() as *const Agent;
        let uses_proxy = |url: &str| std::ptr::eq(t.agent_for(url), proxied);
        for url in [
            "https://matrix.example.org/x",
            "HTTPS://matrix.example.org",
            "https://0.0.0.0:8448/x",
            "https://127.1/x",
            "https://[2001:db8::1]/x",
        ] {
            assert!(uses_proxy(url), "{url}");
        }
        for url in [
            "http://matrix.example.org/x",
            "http://127.0.0.1:8008/x",
            "https://127.0.0.1/x",
            "https://localhost:8448/x",
            "https://[::1]/x",
            "HTTP://10.0.0.1/x",
            "not a url",
        ] {
            assert!(!uses_proxy(url), "{url}");
        }
        let direct = UreqTransport::direct();
        assert!(direct.proxied.is_none());
    }

    #[test]
    fn proxy_urls_are_checked_and_never_echoed() {
        for bad in [
            "socks5://u:hunter2@p:1080",
            "ftp://u:hunter2@p",
            "http://u:hunter2@[::1",
        ] {
            let e = UreqTransport::with_proxy(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig(_)), "{bad}: {e:?}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let t = UreqTransport::with_proxy("http://u:hunter2@proxy.example:3128").unwrap();
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("configured"),
            "{shown}"
        );
    }
}
