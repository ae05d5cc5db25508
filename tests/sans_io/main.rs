//! The integration tests that need no Cargo feature: the public API on
//! simulated time and app-fed samples, the expiry rules, the CLI examples'
//! logic, restore and the security checks. One crate, one link step; the
//! parts that go over the built-in HTTP transport are compiled in with the
//! `http` feature (`cargo test --no-default-features --tests` builds the
//! rest). Tests needing crate internals live in `src/tests/`. proptest keeps
//! the regression seeds of module `m` in `tests/proptest-regressions/m.txt`
//! (its default for a module of a `main.rs` crate).

mod cli_expiry;
mod cli_sync;
mod clock_core;
mod drift_learning;
mod events_json;
mod expiry_rules;
mod honesty;
mod restore;
mod security;
