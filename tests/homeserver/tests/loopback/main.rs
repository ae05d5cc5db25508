//! The test homeserver's tests in one crate (one link step): its binary,
//! clock and delays, faults, and HTTPS. `tests/shutdown.rs` counts the
//! process's threads, so it keeps a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod clock;
mod faults;
#[cfg(feature = "tls")]
mod tls;
