//! # mxclock
//!
//! One shared, correct notion of Matrix *server time* (MSC4094) and the
//! expiry decisions built on it, for Rust, C, Kotlin and Swift.
//!
//! See `DESIGN.md` (in the steering repository) for the time model and the
//! algorithms; each module's docs say which section it implements.

pub mod error;
pub mod sample;
pub mod time;
mod uniffi_api;

pub use error::{Error, Result};
pub use sample::{Sample, SampleSource};
pub use time::{FakeTimeSource, OsTimeSource, TimeSource};
pub use uniffi_api::{
    mxclock_version, os_time_source, sample_from_date_header, sample_from_endpoint,
    sample_from_event_age,
};

uniffi::setup_scaffolding!("mxclock");
