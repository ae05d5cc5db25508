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
pub mod transport;

pub use error::{Error, Result};
pub use sample::{Sample, SampleSource};
pub use time::{FakeTimeSource, OsTimeSource, TimeSource};
#[cfg(feature = "http")]
pub use transport::UreqTransport;
pub use transport::{HomeserverUrl, HttpHeader, HttpRequest, HttpResponse, HttpTransport};

uniffi::setup_scaffolding!("mxclock");
