//! # mxclock
//!
//! One shared, correct notion of Matrix *server time* (MSC4094) and the
//! expiry decisions built on it, for Rust, C, Kotlin and Swift.
//!
//! See `DESIGN.md` (in the steering repository) for the time model and the
//! algorithms; each module's docs say which section it implements.

pub mod clock;
pub mod config;
pub mod drift;
pub mod error;
pub mod estimate;
pub mod events;
pub mod expiry;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod policy;
pub mod probe;
pub mod protocol;
pub mod sample;
pub mod session;
pub mod snapshot;
mod sync;
pub mod time;
pub mod transport;
#[cfg(feature = "uniffi")]
mod uniffi_api;

pub use clock::{Estimate, ServerClock, SyncReport};
pub use config::ClockConfig;
pub use error::{Error, Result};
pub use events::{
    evaluate_event, evaluate_event_json, evaluate_events_json, EventError, EventErrorKind,
    EventExpiry, EventOutcome, ExpiryRule,
};
pub use expiry::{expiry_at, Expiry, ExpiryState, ServerNow};
pub use policy::{SyncPolicy, SyncReason};
pub use protocol::HomeserverUrl;
pub use sample::{Sample, SampleSource};
pub use session::{SyncAction, SyncSession};
pub use snapshot::{ClockListener, ClockSnapshot};
pub use time::{FakeTimeSource, OsTimeSource, Sleeper, ThreadSleeper, TimeSource};
#[cfg(feature = "http")]
pub use transport::UreqTransport;
pub use transport::{HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError};
#[cfg(feature = "uniffi")]
pub use uniffi_api::{
    os_time_source, sample_from_date_header, sample_from_endpoint, sample_from_event_age, version,
};

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("mxclock");

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
