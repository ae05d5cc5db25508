//! Sending the GET: the [`HttpTransport`] seam between the clock and the
//! network, the built-in [`UreqTransport`] (feature `http`), and the
//! [`TransportError`] a transport returns when no response came back.
//! What to send and how to read the reply is [`crate::protocol`]'s.
//!
//! - [`HttpTransport`] is implemented by [`UreqTransport`], by apps in
//!   Kotlin or Swift (OkHttp, URLSession), or by tests in Rust.
//! - A transport's failure is a [`TransportError`]; the clock turns it into
//!   an [`Error`](crate::Error) once, with [`TransportError::into_error`],
//!   which also scrubs the request's secrets from it.
//!
//! How [`UreqTransport`] treats proxies: its docs.

mod error;
mod message;
#[cfg(feature = "http")]
mod ureq;

#[cfg(feature = "http")]
pub use self::ureq::UreqTransport;
pub use error::TransportError;
pub use message::{HttpHeader, HttpRequest, HttpResponse};

/// Largest response body any transport may hand to mxclock (64 KiB). A reply
/// of the MSC4094 endpoint is a few dozen bytes; anything bigger is a broken
/// or hostile server, and reading it would only cost memory and time.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `User-Agent` mxclock sends: `mxclock/<crate version>`.
#[cfg(any(feature = "http", test))]
pub(crate) const USER_AGENT: &str = concat!("mxclock/", env!("CARGO_PKG_VERSION"));

/// Makes one HTTP GET. Implemented by [`UreqTransport`] (feature `http`),
/// by apps in Kotlin or Swift (OkHttp, URLSession), or by tests.
///
/// # Contract
///
/// An implementation **must**:
/// - send exactly the given headers (adding only `Host`, `User-Agent` and
///   connection management), and never send the request body;
/// - **not follow redirects**, or at least never to another origin with the
///   `Authorization` header: return a 3xx as a response and mxclock reports it
///   (naming the target origin) without re-sending the token;
/// - never send a request with the `Authorization` header through a proxy
///   in clear text (send plain `http://` directly; `https://` may go
///   through a CONNECT tunnel, which keeps TLS end to end);
/// - honour `timeout_ms` for the **whole** exchange (DNS, connect, TLS, send,
///   waiting for the reply, reading the body) and fail with
///   [`TransportError::Timeout`] when it runs out;
/// - return **every** HTTP status as an [`HttpResponse`], not an error (mxclock
///   reads the `Date` header of a 404 or 500 too);
/// - cap the body at [`MAX_BODY_BYTES`] and fail with
///   [`TransportError::BadReply`] rather than read more;
/// - be callable from several threads at once (`Send + Sync`).
///
/// Failures are [`TransportError`]s: `Network` (DNS, refused, reset, TLS),
/// `Timeout`, `BadReply` (not HTTP, body too large) or `InvalidRequest`.
/// From Kotlin or Swift, throw `TransportException` / `TransportError`; any
/// other exception (`IOException`, `URLError`) arrives as `Network` with its
/// message. mxclock scrubs the token from these messages, in any spelling,
/// but a transport should not put it there in the first place.
///
/// mxclock measures the round trip around `get`, so an implementation should
/// send the request as soon as it is called (no queueing behind other work).
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait HttpTransport: Send + Sync {
    /// Performs the GET described by `request`.
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_the_crate_version() {
        assert_eq!(USER_AGENT, format!("mxclock/{}", env!("CARGO_PKG_VERSION")));
    }
}
