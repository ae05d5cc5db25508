//! The error a transport reports when no HTTP response came back.
//!
//! Separate from [`crate::Error`] because it crosses the FFI the other way:
//! Kotlin and Swift transports throw it into Rust. `crate::Error` is a uniffi
//! *flat* error (readable messages in Kotlin/Swift), and uniffi cannot lift a
//! flat error back into Rust (it panics with "Can't lift flat errors"); this
//! one has fields, so it can.

use crate::error::Error;

/// Why an [`HttpTransport`](super::HttpTransport) returned no response.
///
/// Kotlin: throw `TransportException.Network(reason)` and so on; any other
/// exception arrives as `Network` with its message. Never put the access
/// token in `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
pub enum TransportError {
    /// DNS, connection refused or reset, TLS failure.
    #[error("network error: {reason}")]
    Network { reason: String },
    /// The whole exchange did not finish within `timeout_ms`.
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

impl From<Error> for TransportError {
    fn from(e: Error) -> Self {
        match e {
            Error::Network(reason) => TransportError::Network { reason },
            Error::Timeout { what, timeout_ms } => TransportError::Timeout {
                reason: format!("{what} after {timeout_ms} ms"),
            },
            Error::Protocol(reason) => TransportError::BadReply { reason },
            Error::InvalidArgument(reason) | Error::InvalidConfig(reason) => {
                TransportError::InvalidRequest { reason }
            }
            other => TransportError::Network {
                reason: other.to_string(),
            },
        }
    }
}

impl TransportError {
    /// The crate error for this failure of a request with `timeout_ms`.
    pub fn into_error(self, timeout_ms: u64) -> Error {
        match self {
            TransportError::Network { reason } => Error::Network(reason),
            TransportError::Timeout { reason } => Error::Timeout {
                what: reason,
                timeout_ms,
            },
            TransportError::BadReply { reason } => Error::Protocol(reason),
            TransportError::InvalidRequest { reason } => Error::InvalidArgument(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_keep_the_kind() {
        let cases = [
            Error::Network("refused".into()),
            Error::Timeout {
                what: "GET x".into(),
                timeout_ms: 5,
            },
            Error::Protocol("huge".into()),
            Error::InvalidArgument("bad header".into()),
        ];
        for e in cases {
            let back = TransportError::from(e.clone()).into_error(5);
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&e),
                "{e:?} -> {back:?}"
            );
        }
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
