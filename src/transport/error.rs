//! The error a transport reports when no HTTP response came back.
//!
//! Separate from [`crate::Error`] because it crosses the FFI the other way:
//! Kotlin and Swift transports throw it into Rust. `crate::Error` is a uniffi
//! *flat* error (readable messages in Kotlin/Swift), and uniffi cannot lift a
//! flat error back into Rust (it panics with "Can't lift flat errors"); this
//! one has fields, so it can.

use super::HttpRequest;
use crate::error::Error;
use crate::protocol::Secrets;

/// Why an [`HttpTransport`](super::HttpTransport) returned no response.
/// `reason` says what failed, e.g. `GET https://h/x: connection refused`;
/// the kind is said by the variant (the display adds "network error: " and
/// so on), and the timeout's length by the request.
///
/// Kotlin: throw `TransportException.Network(reason)` and so on; any other
/// exception arrives as `Network` with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
pub enum TransportError {
    /// DNS, connection refused or reset, TLS failure.
    #[error("network error: {reason}")]
    Network { reason: String },
    /// The whole exchange did not finish within the request's `timeout_ms`;
    /// `reason` names what was being done (`GET https://h/x`).
    #[error("timed out: {reason}")]
    Timeout { reason: String },
    /// The reply was not HTTP, or its body exceeded 64 KiB.
    #[error("bad reply: {reason}")]
    BadReply { reason: String },
    /// The request could not be sent as given (bad URL or header).
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
}

#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Network { reason: e.reason }
    }
}

impl TransportError {
    /// The crate error for this failure of `request`: the one conversion
    /// on the way from any transport (built-in, C, Kotlin, Swift) to the
    /// app, which also scrubs the request's secrets, in any spelling, from
    /// the message (a foreign HTTP stack may put request details there).
    ///
    /// ```
    /// use mxclock::{HttpHeader, HttpRequest, TransportError};
    /// let request = HttpRequest {
    ///     url: "https://h.example/x".into(),
    ///     headers: vec![HttpHeader::new("Authorization", "Bearer syt+secret/abc")],
    ///     timeout_ms: 1_500,
    /// };
    /// let e = TransportError::Timeout { reason: "GET https://h.example/x".into() };
    /// assert_eq!(e.into_error(&request).to_string(), "timed out after 1500 ms: GET https://h.example/x");
    /// let e = TransportError::Network { reason: "reset, sent syt%2Bsecret%2Fabc".into() };
    /// assert_eq!(e.into_error(&request).to_string(), "network error: reset, sent <redacted>");
    /// ```
    pub fn into_error(self, request: &HttpRequest) -> Error {
        let error = match self {
            TransportError::Network { reason } => Error::Network(reason),
            TransportError::Timeout { reason } => Error::Timeout {
                what: reason,
                timeout_ms: request.timeout_ms,
            },
            TransportError::BadReply { reason } => Error::ProtocolViolation(reason),
            TransportError::InvalidRequest { reason } => Error::InvalidArgument(reason),
        };
        Secrets::of_request(request).scrub_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpHeader;

    fn request() -> HttpRequest {
        HttpRequest {
            url: "https://h.example/x".into(),
            headers: vec![HttpHeader::new("Authorization", "Bearer tok_0123456789")],
            timeout_ms: 5,
        }
    }

    #[test]
    fn each_kind_becomes_one_error_kind() {
        let r = || "GET https://h.example/x".to_owned();
        assert_eq!(
            TransportError::Network { reason: r() }.into_error(&request()),
            Error::Network(r())
        );
        assert_eq!(
            TransportError::Timeout { reason: r() }.into_error(&request()),
            Error::Timeout {
                what: r(),
                timeout_ms: 5
            }
        );
        assert_eq!(
            TransportError::BadReply { reason: r() }.into_error(&request()),
            Error::ProtocolViolation(r())
        );
        assert_eq!(
            TransportError::InvalidRequest { reason: r() }.into_error(&request()),
            Error::InvalidArgument(r())
        );
    }

    #[test]
    fn no_message_repeats_itself() {
        let e = TransportError::Timeout {
            reason: "GET https://h.example/x".into(),
        }
        .into_error(&request());
        let shown = e.to_string();
        assert_eq!(shown, "timed out after 5 ms: GET https://h.example/x");
        assert_eq!(shown.matches("5 ms").count(), 1, "{shown}");
        let e = TransportError::Network {
            reason: "refused".into(),
        }
        .into_error(&request());
        assert_eq!(e.to_string(), "network error: refused");
    }

    #[test]
    fn secrets_are_scrubbed_once_here() {
        let e = TransportError::BadReply {
            reason: "echo TOK_0123456789 and tok%5F0123456789".into(),
        }
        .into_error(&request());
        assert_eq!(
            e.to_string(),
            "protocol error: echo <redacted> and <redacted>"
        );
    }

    #[cfg(feature = "uniffi")]
    #[test]
    fn foreign_exceptions_arrive_as_network_errors() {
        let cb = TransportError::from(uniffi::UnexpectedUniFFICallbackError::new(
            "java.io.IOException: boom",
        ));
        assert!(matches!(cb, TransportError::Network { reason } if reason.contains("boom")));
    }
}
