//! Tests that drive the crate's internals (the protocol functions, the
//! session's timing constants) next to its public API: kept in the crate so
//! that those internals need no public path. Unit tests of one module stay
//! in that module. proptest keeps the regression seeds of `tests::m` in
//! `proptest-regressions/tests/m.txt` (its default for a module of `lib.rs`).

mod sync_sim;
mod transport_parse_props;
mod transport_redaction;
#[cfg(feature = "http")]
mod transport_ureq;
