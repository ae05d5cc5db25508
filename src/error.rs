//! The one error type of the crate.
//!
//! Every message says what went wrong and, where the caller can act, what to
//! do. No variant ever carries the access token: text from a server or a
//! transport is scrubbed where it enters an error (see
//! [`crate::protocol::redact_error`]), and messages only name URLs without
//! credentials. A transport's failure ([`crate::transport::TransportError`])
//! becomes an `Error` in one place, `TransportError::into_error`.

/// Everything that can go wrong in mxclock.
///
/// Exposed to Kotlin and Swift as an exception (`MxClockException` /
/// `MxClockError`) and to C as an `mxclock_status` plus a thread-local message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
// Named for the foreign side: plain `Error` would shadow Swift.Error and become
// `Exception` in Kotlin. A proc-macro name, not a uniffi.toml rename: uniffi
// 0.32.2 forgets TOML renames in constructors' error handling.
#[cfg_attr(feature = "uniffi", uniffi(flat_error, name = "MxClockError"))]
pub enum Error {
    /// A configuration value is unusable (bad URL, zero timeout, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// An argument to a call is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A time or sample is outside the sane window (before 2000 or after 2200,
    /// or a reply received before it was sent).
    #[error("time out of range: {0}")]
    TimeOutOfRange(String),

    /// The clock has no estimate yet: call `sync()` or feed a sample first.
    #[error("no server time estimate yet: call sync() or add a sample first")]
    NotSynced,

    /// The samples contradict each other and no majority agrees; nothing
    /// was taken from them.
    #[error("server times are inconsistent: {0}")]
    Inconsistent(String),

    /// Connecting, sending or receiving failed (DNS, refused, reset, TLS).
    #[error("network error: {0}")]
    Network(String),

    /// The request did not complete within the configured timeout.
    #[error("timed out after {timeout_ms} ms: {what}")]
    Timeout { what: String, timeout_ms: u64 },

    /// The server answered with an HTTP status we cannot use.
    #[error("HTTP {status} from the homeserver: {message}")]
    Http { status: u16, message: String },

    /// The server asked us to slow down (HTTP 429).
    #[error("rate limited by the homeserver; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },

    /// The reply was not what the protocol says (bad JSON, no time, bad
    /// `Date` header, body too large).
    #[error("protocol error: {0}")]
    ProtocolViolation(String),

    /// The homeserver does not implement the MSC4094 endpoint and gave no
    /// usable `Date` header either.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// Event JSON could not be read: not JSON, not an object, or a field of
    /// the wrong type. `field` names the JSON path.
    #[error("invalid event: field `{field}`: {reason}")]
    InvalidEvent { field: String, reason: String },

    /// The event type has no expiry rule in mxclock.
    #[error("no expiry rule for event type `{event_type}`")]
    NoExpiryRule { event_type: String },

    /// Saved state could not be restored (garbled, foreign or newer format).
    #[error("invalid saved state: {0}; discard it and sync again")]
    InvalidState(String),

    /// A bug in mxclock: a panic was caught at the boundary.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
