//! # mxclock
//!
//! One shared, correct notion of Matrix *server time* (MSC4094) and the
//! expiry decisions built on it, for Rust, C, Kotlin and Swift.
//!
//! See `DESIGN.md` (in the steering repository) for the time model and the
//! algorithms; each module's docs say which section it implements.

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
    mxclock_version, os_time_source, sample_from_date_header, sample_from_endpoint,
    sample_from_event_age,
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
