//! The C ABI: `extern "C"` functions prefixed `mxclock_`, declared in the
//! generated `include/mxclock.h` (`docs/design.md#layers`, `#errors`).
//!
//! Conventions, after rustls-ffi:
//! - every fallible function returns [`mxclock_status`]; results go through
//!   out-parameters, written only on `MXCLOCK_STATUS_OK`;
//! - the failure's message is kept per thread for
//!   `mxclock_last_error_message()`;
//! - every body runs inside a panic boundary: a panic becomes
//!   `MXCLOCK_STATUS_PANIC`, never an unwind into C (the release profile
//!   keeps `panic = "unwind"` for this);
//! - NULL pointers give `MXCLOCK_STATUS_NULL_ARGUMENT` and non-UTF-8
//!   strings `MXCLOCK_STATUS_INVALID_UTF8`, both naming the argument;
//! - objects come in `_new`/`_free` pairs; strings handed to C are freed by
//!   `mxclock_string_free`.
//!
//! This layer translates and never decides: each function calls one
//! [`ServerClock`](crate::ServerClock) method. See `docs/c-api.md`.

mod boundary;
mod c;
mod callbacks;
mod session;
mod types;

// The C symbols are `#[no_mangle]` and need no Rust path; these two serve
// `crate::__internal::ffi` (benches/ffi_cost.rs).
pub use boundary::mxclock_status;
pub use c::*;
