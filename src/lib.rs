//! # mxclock
//!
//! One shared, correct notion of Matrix *server time* (MSC4094) and the
//! expiry decisions built on it, for Rust, C, Kotlin and Swift.
//!
//! See `DESIGN.md` (in the steering repository) for the time model and the
//! algorithms; each module's docs say which section it implements.

pub mod error;
pub mod events;
pub mod expiry;
pub mod sample;
pub mod time;

pub use error::{Error, Result};
pub use events::{
    evaluate_event, evaluate_event_json, evaluate_events_json, EventExpiry, EventOutcome,
    ExpiryRule,
};
pub use expiry::{expiry_at, Expiry, ExpiryState, ServerNow};
pub use sample::{Sample, SampleSource};
pub use time::{FakeTimeSource, OsTimeSource, TimeSource};

uniffi::setup_scaffolding!("mxclock");
