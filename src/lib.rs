//! # mxclock
//!
//! One shared, correct notion of Matrix *server time* (MSC4094) and the
//! expiry decisions built on it, for Rust, C, Kotlin and Swift.
//!
//! How it works (time model, samples, estimator, sync policy, persistence,
//! the sync session, errors, security) is `docs/design.md` in the
//! repository; each module's docs cover its own part.
//!
//! ## Quick start
//!
//! A [`ServerClock`] is made from a [`ClockConfig`]; [`ServerClock::sync`]
//! (feature `http`) or a [`SyncSession`] measures the server, and apps may
//! feed it measurements of their own ([`Sample`]). Its [`Estimate`] and
//! [`ServerNow`] answer what time it is on the server, and the expiry rules
//! ([`evaluate_event_json`], [`expiry_at`], [`rules`]) what that means for an
//! event:
//!
//! ```
//! use std::sync::Arc;
//! use mxclock::{evaluate_event_json, ClockConfig, ExpiryState, FakeTimeSource, ServerClock};
//!
//! // Simulated clocks; ServerClock::new(config) reads the OS ones.
//! let time = Arc::new(FakeTimeSource::new(1_000, 1_700_000_000_000, "boot"));
//! let clock = ServerClock::new_with_sources(ClockConfig::new(""), Some(time), None)?;
//!
//! // A request sent at boot 1 000 ms came back at 1 060 ms saying the
//! // server's time: the server is 37 s ahead of this device.
//! clock.add_endpoint_sample(1_000, 1_060, 1_700_000_037_280)?;
//! let e = clock.estimate().expect("one sample is enough");
//! assert!((e.offset_ms - 37_250).abs() <= e.uncertainty_ms);
//!
//! // A call invite sent 10 s ago (server time) with a 60 s lifetime rings.
//! let now = clock.server_now()?;
//! let invite = format!(
//!     r#"{{"type":"m.call.invite","origin_server_ts":{},"content":{{"call_id":"c1","lifetime":60000,"version":"1"}}}}"#,
//!     now.server_now_ms - 10_000
//! );
//! let decision = evaluate_event_json(&invite, &now, None)?;
//! assert_eq!(decision.expiry.state, ExpiryState::Live);
//! assert_eq!(decision.should_ring, Some(true));
//! # Ok::<(), mxclock::Error>(())
//! ```
//!
//! ## Your own HTTP client
//!
//! The clock sends its requests through an [`HttpTransport`]:
//! [`UreqTransport`] (feature `http`) by default, or one of the app's (its
//! contract is in the trait's docs). A transport that answers at once:
//!
//! ```
//! use std::sync::Arc;
//! use mxclock::{
//!     ClockConfig, HttpHeader, HttpRequest, HttpResponse, HttpTransport, ServerClock,
//!     TransportError,
//! };
//!
//! /// A homeserver that answers every request at once (an app's HTTP stack
//! /// goes here).
//! struct Canned;
//!
//! impl HttpTransport for Canned {
//!     fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
//!         assert!(request.url.starts_with("https://matrix.example.org/"));
//!         let now_ms = std::time::SystemTime::now()
//!             .duration_since(std::time::UNIX_EPOCH)
//!             .unwrap()
//!             .as_millis();
//!         Ok(HttpResponse {
//!             status: 200,
//!             headers: vec![HttpHeader::new("Content-Type", "application/json")],
//!             body: format!(r#"{{"server_now":{now_ms}}}"#).into_bytes(),
//!         })
//!     }
//! }
//!
//! let config = ClockConfig::new("https://matrix.example.org");
//! let clock = ServerClock::new_with_sources(config, None, Some(Arc::new(Canned)))?;
//! let report = clock.sync()?;
//! assert!(report.estimate.uncertainty_ms < 1_000);
//! # Ok::<(), mxclock::Error>(())
//! ```
//!
//! ## The sync session
//!
//! A sync that the caller drives: the clock says what to do next, the
//! caller does it with its own HTTP client and timers, and hands back what
//! happened (sans-I/O, after matrix-sdk-crypto's `outgoing_requests` /
//! `mark_request_as_sent` and sntpc's send/process split).
//!
//! [`ServerClock::start_sync`] gives a [`SyncSession`]. Its
//! [`next_action`](SyncSession::next_action) answers one of:
//!
//! - [`SyncAction::Send`]: send this [`HttpRequest`] now, then hand back the
//!   reply with [`receive_response`](SyncSession::receive_response) (any
//!   status: a 404 or a 500 is a reply) or the failure with
//!   [`receive_failure`](SyncSession::receive_failure), each with the boot
//!   times the request left and the reply (or failure) came back;
//! - [`SyncAction::Wait`]: nothing to do before the boot clock reads
//!   `until_boot_ms` (a `Date` probe timed to the server's second boundary,
//!   or the spacing between requests); then ask again;
//! - [`SyncAction::Done`]: the sync is over; its samples are in the clock,
//!   and the [`SyncReport`] says what it did. A sync that failed makes
//!   `next_action` return the error instead, as `sync()` would.
//!
//! Every boot time comes from the caller (`clock.boot_ms()`, or the clock's
//! own [`TimeSource`]): the session never sleeps, never
//! touches the network, and reads the clock's boot clock only to refuse
//! times that cannot be from it. Every call returns at once, so an async
//! runtime, a Kotlin coroutine or an OkHttp callback can make them.
//!
//! The blocking [`ServerClock::sync`] is this loop with the clock's
//! transport and sleeps.
//!
//! ### Rules
//!
//! - **One request at a time.** A session hands out a request only after the
//!   previous one's reply or failure came back. Asked again meanwhile, it
//!   answers `Wait` until that request's `timeout_ms` (plus
//!   a grace of 1 s) has passed; asked after that, it counts the request
//!   as timed out and carries on without it (a reply that comes later is
//!   refused). Transports should still enforce `timeout_ms` themselves.
//! - **Replies it did not ask for.** A reply or failure for an id that is
//!   not the request out (another session's, an old one, a made-up one, a
//!   second reply for one request) is refused with
//!   [`Error::InvalidArgument`]; the session is unchanged.
//! - **Boot times.** `now_boot_ms` and `received_boot_ms` must be at least
//!   every boot time the session was already given (the boot clock never
//!   goes back), `sent_boot_ms` at least the time its request was handed
//!   out, `received_boot_ms` at least `sent_boot_ms`, and none more than
//!   1 s ahead of the clock's own boot clock (a
//!   wall-clock time passed by mistake, say). Otherwise the call fails with
//!   [`Error::TimeOutOfRange`] and the session is unchanged.
//! - **The whole sync** starts no request that could end after
//!   `policy.max_sync_ms`, as `sync()`; the 429 `Retry-After`, failure
//!   backoff and "endpoint missing" memory are updated exactly as `sync()`
//!   updates them.
//! - **Several at once.** One burst runs per clock. A session started while
//!   another burst is in flight (another session's, or a blocking
//!   `sync()`'s) joins it: it answers `Wait` in steps of 50 ms
//!   and then ends with that burst's report or error. Blocking `sync()`
//!   callers likewise wait for a session's burst.
//! - **Dropping a session** before it is done abandons its burst: nothing it
//!   took is kept, no failure is recorded, and the next sync starts afresh
//!   (joined sessions and waiting `sync()` callers start it). A session left
//!   undriven and undropped (an app that forgot it) holds its burst only
//!   until its deadline (`policy.max_sync_ms`, or one request and one
//!   probe wait if longer, plus one more request timeout) after it
//!   started; a later sync then takes over, and the forgotten session, if
//!   driven again, ends with [`Error::Timeout`].
//!
//! ### Example
//!
//! A session driven by hand, against a simulated homeserver 37 s ahead of
//! the device and 10 ms away:
//!
//! ```
//! use std::sync::Arc;
//! use mxclock::{ClockConfig, FakeTimeSource, HttpHeader, HttpResponse, ServerClock,
//!     SyncAction, TimeSource};
//!
//! let time = Arc::new(FakeTimeSource::new(10_000, 1_700_000_000_000, "boot"));
//! let clock = ServerClock::new_with_sources(
//!     ClockConfig::new("https://matrix.example.org"), Some(time.clone()), None)?;
//!
//! let session = Arc::clone(&clock).start_sync(time.boot_ms())?;
//! let report = loop {
//!     match session.next_action(time.boot_ms())? {
//!         SyncAction::Send { request_id, request } => {
//!             // Your HTTP client sends `request` here.
//!             assert!(request.url.ends_with("/_matrix/client/v3/get_server_now"));
//!             let sent = time.boot_ms();
//!             time.advance_ms(5);
//!             let server_ms = time.wall_ms() + 37_000;
//!             time.advance_ms(5);
//!             let response = HttpResponse {
//!                 status: 200,
//!                 headers: vec![HttpHeader::new("Content-Type", "application/json")],
//!                 body: format!("{{\"server_now\":{server_ms}}}").into_bytes(),
//!             };
//!             session.receive_response(request_id, sent, time.boot_ms(), response)?;
//!         }
//!         // Your timer sleeps here.
//!         SyncAction::Wait { until_boot_ms } => time.advance_ms(until_boot_ms - time.boot_ms()),
//!         SyncAction::Done { report } => break report,
//!     }
//! };
//! assert_eq!(report.requests, 2);
//! let e = clock.estimate().unwrap();
//! // Half the round trip, + 1 ms resolution, + 1 ms drift, + 1 ms boot read.
//! assert!((e.offset_ms - 37_000).abs() <= e.uncertainty_ms && e.uncertainty_ms <= 8);
//! # Ok::<(), mxclock::Error>(())
//! ```

mod clock;
mod config;
mod drift;
mod error;
mod estimate;
mod events;
mod expiry;
#[cfg(feature = "capi")]
mod ffi;
mod policy;
mod probe;
mod protocol;
mod sample;
mod session;
mod snapshot;
mod sync;
#[cfg(test)]
mod tests;
mod time;
mod transport;
#[cfg(feature = "uniffi")]
mod uniffi_api;

// The clock and its configuration.
pub use clock::{Estimate, ServerClock, SyncReport};
pub use config::ClockConfig;
pub use error::{Error, Result};
pub use policy::{SyncPolicy, SyncReason};
pub use protocol::{HomeserverUrl, DATE_PROBE_PATH, DEFAULT_ENDPOINT_PATH};
pub use snapshot::{ClockListener, ClockSnapshot};

// Measurements an app makes itself, and the sans-I/O sync session.
pub use sample::{Sample, SampleSource};
pub use session::{SyncAction, SyncSession};

// Clocks and the HTTP seam.
pub use time::{FakeTimeSource, OsTimeSource, Sleeper, ThreadSleeper, TimeSource};
#[cfg(feature = "http")]
pub use transport::UreqTransport;
pub use transport::{
    HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError, MAX_BODY_BYTES,
};

// Expiry decisions.
pub use events::{
    evaluate_event, evaluate_event_json, evaluate_events_json, EventError, EventErrorKind,
    EventExpiry, EventOutcome,
};
pub use expiry::{
    expiry_at, Expiry, ExpiryRule, ExpiryState, NotificationType, ServerNow, VerificationValidity,
};

// The free functions of the Kotlin and Swift bindings.
#[cfg(feature = "uniffi")]
pub use uniffi_api::{
    os_time_source, sample_from_date_header, sample_from_endpoint, sample_from_event_age, version,
};

/// Each Matrix feature's expiry rule as a function of the event's fields,
/// with the constants the specification and the reference clients use: for
/// apps that already parsed the event. [`evaluate_event_json`] picks the rule
/// and reads the fields itself; `docs/expiry.md` lists every rule's sources.
///
/// ```
/// use mxclock::{rules, ServerNow};
///
/// // Server time 1 700 000 000 000 ms, known to ± 20 ms, read at boot 5 000 ms.
/// let now = ServerNow::new(1_700_000_000_000, 20, 5_000);
/// // A legacy call membership whose `expires_ts` passed a minute ago.
/// let e = rules::call_membership_legacy_expiry(1_700_000_000_000 - 60_000, &now);
/// assert!(e.is_expired);
/// assert_eq!(rules::VERIFICATION_REQUEST_MAX_AGE_MS, 600_000);
/// ```
pub mod rules {
    pub use crate::expiry::{
        beacon_info_expiry, call_invite_age_expiry, call_invite_expiry,
        call_membership_legacy_expiry, call_membership_session_expiry, rtc_notification_expiry,
        rtc_notification_should_ring, rtc_notification_start_ms, sticky_expiry, sticky_ttl_expiry,
        verification_in_progress_expiry, verification_prompt_expiry, verification_request_expiry,
        verification_request_validity, BEACON_DEFAULT_TIMEOUT_MS, DEFAULT_CALL_INVITE_GRACE_MS,
        DEFAULT_CALL_MEMBER_EXPIRES_MS, JS_SDK_CALL_INVITE_GRACE_MS,
        NOTIFICATION_DEFAULT_LIFETIME_MS, NOTIFICATION_MAX_LIFETIME_MS,
        NOTIFICATION_MAX_SENDER_TS_OFFSET_MS, STICKY_DURATION_MAX_MS,
        VERIFICATION_PROMPT_RECEIVED_TIMEOUT_MS, VERIFICATION_REQUEST_MAX_AGE_MS,
        VERIFICATION_REQUEST_MAX_FUTURE_MS, VERIFICATION_TIMEOUT_MS,
    };
}

/// **Not part of the API; no semver promise.** Internals that the benches
/// (`benches/accuracy.rs`, `benches/ffi_cost.rs`), the fuzz targets
/// (`fuzz/`) and a few integration tests drive directly: the estimator, drift
/// learning, the sync policy's burst rules, the `Date` probe planner and the
/// reply parsers. They may change or go in any release.
#[doc(hidden)]
pub mod __internal {
    pub use crate::drift::{learn, validate_history, Drift, SyncInterval};
    pub use crate::estimate::{
        drift_widening_ms, select, select_with_drift, trim_window, Selection, DEFAULT_DRIFT_PPM,
        DEFAULT_MAX_SAMPLES,
    };
    pub use crate::policy::{
        burst_complete, burst_has_majority, burst_request_limit, burst_target_uncertainty_ms,
        BURST_MIN_GAP_MS,
    };
    pub use crate::probe::{DateBurst, DateProbePurpose};
    pub use crate::protocol::{
        is_endpoint_unsupported, matrix_error, parse_age_header, parse_date_header,
        parse_server_now_body, retry_after_ms, server_now_request, ResponseDate,
        DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS,
    };
    pub use crate::sample::{MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};

    /// The C functions `benches/ffi_cost.rs` calls from Rust, to compare
    /// the C ABI with the Rust call in one process.
    #[cfg(feature = "capi")]
    pub mod ffi {
        pub use crate::ffi::{
            mxclock_add_endpoint_sample, mxclock_config_default, mxclock_free, mxclock_new,
            mxclock_server_now_ms, mxclock_status,
        };
    }
}

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("mxclock");

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
