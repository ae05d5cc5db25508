//! The `extern "C"` functions. Each one checks its pointers, converts its
//! arguments, calls one `ServerClock` method and converts the result: no
//! decisions are taken here (`docs/design.md#layers`).
//!
//! Rules that hold for every function (stated once here, repeated in the
//! header's per-function docs where they matter):
//! - A function returning `mxclock_status` writes its out-parameters only
//!   when it returns `MXCLOCK_STATUS_OK`.
//! - `const mxclock_server_clock *` functions may be called from any number of threads
//!   at once on the same clock; only `mxclock_free` must not race with them.
//! - Strings passed in are copied; they need not outlive the call.

use std::ffi::{c_char, c_int, CString};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::clock::ServerClock;
use crate::error::Error;
use crate::sample::Sample;
use crate::time::TimeSource;
use crate::transport::HttpTransport;

use super::boundary::{
    c_string, ffi_panic_boundary, last_error_bytes, last_error_ptr, mxclock_status, out_ptr,
    str_arg, write_opt, write_out, Failure,
};
use super::callbacks::{mxclock_http_transport, mxclock_time_source, CTimeSource, CTransport};
use super::types::{
    empty_event_expiry, event_error_status, expiry_rule_name, expiry_state_name, mxclock_config,
    mxclock_estimate, mxclock_event_expiry, mxclock_event_outcome, mxclock_event_outcomes,
    mxclock_expiry, mxclock_sample, mxclock_sync_report, sample_source_from_int,
    sample_source_name, sync_reason_name,
};

/// A server clock for one homeserver (opaque). Created by `mxclock_new*` or
/// `mxclock_restore*`, released by `mxclock_free`. Thread-safe: share one
/// pointer between threads.
#[allow(non_camel_case_types)]
pub struct mxclock_server_clock {
    // The pointer is an `Arc<ServerClock>` turned into a raw pointer; this
    // type only gives it a C name.
    _opaque: [u8; 0],
}

/// The clock behind a C handle, borrowed for the call.
///
/// # Safety
/// `p` is NULL or came from `mxclock_new*`/`mxclock_restore*` and was not
/// freed.
#[inline(always)]
unsafe fn clock<'a>(p: *const mxclock_server_clock) -> Result<&'a ServerClock, Failure> {
    // SAFETY: a live handle is an `Arc<ServerClock>` from `Arc::into_raw`.
    unsafe { (p as *const ServerClock).as_ref() }.ok_or(Failure::Null("clock"))
}

fn handle(c: Arc<ServerClock>) -> *mut mxclock_server_clock {
    Arc::into_raw(c) as *mut mxclock_server_clock
}

/// The config behind a pointer.
///
/// # Safety
/// `p` is NULL or a valid `mxclock_config` whose strings are valid.
unsafe fn config(p: *const mxclock_config) -> Result<crate::ClockConfig, Failure> {
    // SAFETY: per the caller's contract.
    let c = unsafe { p.as_ref() }.ok_or(Failure::Null("config"))?;
    // SAFETY: as above.
    unsafe { c.into_rust() }
}

/// The optional time source and transport of a clock.
type Sources = (Option<Arc<dyn TimeSource>>, Option<Arc<dyn HttpTransport>>);

/// # Safety
/// `ts`/`tr` are NULL or valid structs.
unsafe fn sources(
    ts: *const mxclock_time_source,
    tr: *const mxclock_http_transport,
) -> Result<Sources, Failure> {
    // SAFETY: per the caller's contract.
    let ts = match unsafe { ts.as_ref() } {
        Some(t) => Some(Arc::new(CTimeSource::new(t)?) as Arc<dyn TimeSource>),
        None => None,
    };
    // SAFETY: as above.
    let tr = match unsafe { tr.as_ref() } {
        Some(t) => Some(Arc::new(CTransport::new(t)?) as Arc<dyn HttpTransport>),
        None => None,
    };
    Ok((ts, tr))
}

fn opt_boot(has: bool, ms: i64) -> Option<i64> {
    has.then_some(ms)
}

// ---------------------------------------------------------------------------
// Library-wide
// ---------------------------------------------------------------------------

/// The library version, e.g. `"0.1.0"`: a static string, never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_version() -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
        V.as_ptr() as *const c_char
    }
}

/// The name of a status constant, e.g. `"MXCLOCK_STATUS_NOT_SYNCED"`: a
/// static string, never freed; NULL if unknown (as every `mxclock_*_name`).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_status_name(status: c_int) -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        mxclock_status::ALL
            .iter()
            .find(|s| **s as c_int == status)
            .map_or(std::ptr::null(), |s| s.name().as_ptr())
    }
}

/// The message of the last failed mxclock call **on this thread** (each
/// thread has its own), e.g. `"network error: connection refused ..."`.
/// Never NULL (`""` before any failure). Owned by mxclock: do not free it;
/// it stays valid until the next mxclock call on this thread, so copy it
/// if you need it longer (or use `mxclock_last_error_copy`). Only
/// meaningful right after a call returned a status other than OK: a
/// successful call does not clear it. Never contains the access token.
#[no_mangle]
pub extern "C" fn mxclock_last_error_message() -> *const c_char {
    ffi_panic_boundary! { or c"".as_ptr();
        last_error_ptr()
    }
}

/// Copies this thread's last error message (see
/// `mxclock_last_error_message`) into `buf` of `buf_len` bytes,
/// NUL-terminated and cut to fit. `*out_len` (optional) receives the full
/// length without the NUL, so a caller can retry with a larger buffer.
/// `buf` may be NULL only when `buf_len` is 0. Thread-safe.
///
/// # Safety
/// `buf` is valid for `buf_len` bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_last_error_copy(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> mxclock_status {
    // Read before the boundary: a failure of this call would replace it.
    let message = last_error_bytes();
    ffi_panic_boundary! {
        if buf.is_null() && buf_len > 0 {
            return Err(Failure::Null("buf"));
        }
        if buf_len > 0 {
            let n = message.len().min(buf_len - 1);
            // SAFETY: `buf` holds `buf_len` > n bytes; the regions are distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
        }
        // SAFETY: NULL or writable per the contract.
        unsafe { write_opt(out_len, message.len()) };
        Ok(())
    }
}

/// Frees a string returned by mxclock (`mxclock_export_state`). NULL is
/// fine. Never pass a string from anywhere else, nor free one twice.
/// Thread-safe.
///
/// # Safety
/// `s` is NULL or a string from mxclock not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mxclock_string_free(s: *mut c_char) {
    ffi_panic_boundary! { or ();
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` per the contract.
            drop(unsafe { CString::from_raw(s) });
        }
    }
}

/// The name of a `mxclock_sample_source` value (`"endpoint"`,
/// `"date_header"`, `"event_age"`): static, never freed; NULL if unknown.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_sample_source_name(source: c_int) -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        sample_source_name(source).map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

/// The name of a `mxclock_expiry_state` value (`"live"`, `"expired"`,
/// `"uncertain"`): static, never freed; NULL if unknown.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_expiry_state_name(state: c_int) -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        expiry_state_name(state).map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

/// The name of a `mxclock_expiry_rule` value (`"call_member_session"`,
/// ..., as in the JSON output): static, never freed; NULL if unknown.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_expiry_rule_name(rule: c_int) -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        expiry_rule_name(rule).map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

/// The name of a `mxclock_sync_reason` value (`"no_estimate"`,
/// ...): static, never freed; NULL if unknown.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mxclock_sync_reason_name(reason: c_int) -> *const c_char {
    ffi_panic_boundary! { or std::ptr::null();
        sync_reason_name(reason).map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

// ---------------------------------------------------------------------------
// Creating and releasing clocks
// ---------------------------------------------------------------------------

/// Fills `*out` with the default configuration (no homeserver, no token,
/// default timeouts and policy). Set `homeserver_url` afterwards.
/// Thread-safe.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_config_default(out: *mut mxclock_config) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, mxclock_config::defaults()) };
        Ok(())
    }
}

/// Creates a clock on the OS clocks and the built-in HTTPS transport.
/// `*out` receives a clock to release with `mxclock_free`. The config and
/// its strings are copied. Fails with `MXCLOCK_STATUS_INVALID_CONFIG` on an
/// unusable value (the message names the field). Does no I/O. Thread-safe
/// (each call makes an independent clock).
///
/// # Safety
/// `config` is NULL or valid with valid strings; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_new(
    config: *const mxclock_config,
    out: *mut *mut mxclock_server_clock,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe { mxclock_new_with_sources(config, std::ptr::null(), std::ptr::null(), out) }
}

/// As `mxclock_new`, with an optional C time source (C clocks instead of the
/// OS ones, see `mxclock_time_source`) and an optional C transport (instead
/// of the built-in one, see `mxclock_http_transport`); NULL: the default for
/// that one. The structs are copied; their `userdata` must stay valid until
/// `mxclock_free`.
///
/// # Safety
/// As `mxclock_new`; `time_source` and `transport` are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn mxclock_new_with_sources(
    config: *const mxclock_config,
    time_source: *const mxclock_time_source,
    transport: *const mxclock_http_transport,
    out: *mut *mut mxclock_server_clock,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let config = unsafe { self::config(config) }?;
        // SAFETY: per the contract.
        let (ts, tr) = unsafe { sources(time_source, transport) }?;
        let clock = ServerClock::new_with_sources(config, ts, tr)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, handle(clock)) };
        Ok(())
    }
}

/// Creates a clock from state saved by `mxclock_export_state` (same
/// homeserver URL). After a reboot the estimate is carried over through the
/// wall clock with a wider uncertainty, or dropped if too old. Garbled,
/// foreign or newer state gives `MXCLOCK_STATUS_INVALID_STATE` (discard it
/// and create a fresh clock). Release the result with `mxclock_free`.
/// Does no I/O. Thread-safe.
///
/// # Safety
/// As `mxclock_new`; `state_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mxclock_restore(
    config: *const mxclock_config,
    state_json: *const c_char,
    out: *mut *mut mxclock_server_clock,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe {
        mxclock_restore_with_sources(config, state_json, std::ptr::null(), std::ptr::null(), out)
    }
}

/// As `mxclock_restore`, with an optional C time source and transport
/// (NULL: the default).
///
/// # Safety
/// As `mxclock_restore` and `mxclock_new_with_sources`.
#[no_mangle]
pub unsafe extern "C" fn mxclock_restore_with_sources(
    config: *const mxclock_config,
    state_json: *const c_char,
    time_source: *const mxclock_time_source,
    transport: *const mxclock_http_transport,
    out: *mut *mut mxclock_server_clock,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let config = unsafe { self::config(config) }?;
        // SAFETY: per the contract.
        let state = unsafe { str_arg(state_json, "state_json") }?;
        // SAFETY: per the contract.
        let (ts, tr) = unsafe { sources(time_source, transport) }?;
        let clock = ServerClock::restore_with_sources(config, state, ts, tr)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, handle(clock)) };
        Ok(())
    }
}

/// Releases a clock. NULL is fine. No other call on this clock may run
/// concurrently or follow; a sync in progress on another thread must have
/// returned first.
///
/// # Safety
/// `clock` is NULL or a live clock, freed once.
#[no_mangle]
pub unsafe extern "C" fn mxclock_free(clock: *mut mxclock_server_clock) {
    ffi_panic_boundary! { or ();
        if !clock.is_null() {
            // SAFETY: a live handle is an `Arc` from `Arc::into_raw`.
            drop(unsafe { Arc::from_raw(clock as *const ServerClock) });
        }
    }
}

/// The clock's state as JSON (estimate, samples, policy memory; never the
/// token), to save and pass to `mxclock_restore`. `*out_json` receives a
/// string to release with `mxclock_string_free`. Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_export_state(
    clock: *const mxclock_server_clock,
    out_json: *mut *mut c_char,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_json, "out_json")?;
        // SAFETY: per the contract.
        let json = unsafe { self::clock(clock) }?.export_state()?;
        let s = c_string(json)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, s) };
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Syncing
// ---------------------------------------------------------------------------

/// Syncs now: a blocking burst of up to `policy.max_samples_per_sync`
/// requests, each bounded by `request_timeout_ms` (a `Date`-only burst may
/// also wait up to a second per probe to time it). `*out_report`
/// (optional, may be NULL) receives what it did.
///
/// Thread-safety: call from any thread (not the UI thread: it blocks).
/// Concurrent calls on one clock share one burst; readers
/// (`mxclock_server_now_ms`, ...) never wait for it. A C transport's `get`
/// runs on the calling thread.
///
/// Errors: `NETWORK`, `TIMEOUT`, `HTTP`, `RATE_LIMITED` (a 429; also
/// returned without a request while its `Retry-After` lasts), `PROTOCOL_VIOLATION`,
/// `UNSUPPORTED`, `INVALID_CONFIG` (no homeserver URL).
///
/// # Safety
/// `clock` is NULL or live; `out_report` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync(
    clock: *const mxclock_server_clock,
    out_report: *mut mxclock_sync_report,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let report = unsafe { self::clock(clock) }?.sync()?;
        // SAFETY: NULL or writable per the contract.
        unsafe { write_opt(out_report, (&report).into()) };
        Ok(())
    }
}

/// Syncs only if due (no estimate, uncertainty above `max_uncertainty_ms`,
/// reboot, network change) and allowed (minimum interval, backoff, 429).
/// On OK, `*out_has_report` says whether a sync ran, and `*out_report`
/// (optional) is written only if it did. Blocking and thread-safe as
/// `mxclock_sync`.
///
/// # Safety
/// `clock` is NULL or live; `out_has_report` is NULL or writable;
/// `out_report` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync_if_needed(
    clock: *const mxclock_server_clock,
    out_has_report: *mut bool,
    out_report: *mut mxclock_sync_report,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out_has_report = out_ptr(out_has_report, "out_has_report")?;
        // SAFETY: per the contract.
        let report = unsafe { self::clock(clock) }?.sync_if_needed()?;
        // SAFETY: checked non-NULL / NULL or writable per the contract.
        unsafe {
            write_out(out_has_report, report.is_some());
            if let Some(r) = &report {
                write_opt(out_report, r.into());
            }
        }
        Ok(())
    }
}

/// Why a sync is due now, ignoring rate limits: `*out_has_reason` says
/// whether one is, and `*out_reason` (optional) is written only if it is.
/// Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_has_reason` and `out_reason` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_get_sync_reason(
    clock: *const mxclock_server_clock,
    out_has_reason: *mut bool,
    out_reason: *mut crate::policy::SyncReason,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out_has_reason = out_ptr(out_has_reason, "out_has_reason")?;
        // SAFETY: per the contract.
        let reason = unsafe { self::clock(clock) }?.sync_reason();
        // SAFETY: checked non-NULL / NULL or writable per the contract.
        unsafe {
            write_out(out_has_reason, reason.is_some());
            if let Some(r) = reason {
                write_opt(out_reason, r);
            }
        }
        Ok(())
    }
}

/// Milliseconds until `mxclock_sync_if_needed` would sync (0: now), to
/// schedule it. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_next_sync_due_in_ms(
    clock: *const mxclock_server_clock,
    out_ms: *mut i64,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_ms, "out_ms")?;
        // SAFETY: per the contract.
        let ms = unsafe { self::clock(clock) }?.next_sync_due_in_ms();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, ms) };
        Ok(())
    }
}

/// Tells the clock the network changed (new Wi-Fi, VPN): the next
/// `mxclock_sync_if_needed` syncs and failure backoff is forgotten.
/// Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mxclock_network_changed(
    clock: *const mxclock_server_clock,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        unsafe { self::clock(clock) }?.network_changed();
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Reading the server clock
// ---------------------------------------------------------------------------

/// The full estimate now. `MXCLOCK_STATUS_NOT_SYNCED` before the first
/// sample. Thread-safe, no I/O, never waits for a sync.
///
/// # Safety
/// `clock` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_get_estimate(
    clock: *const mxclock_server_clock,
    out: *mut mxclock_estimate,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let e = unsafe { self::clock(clock) }?.estimate().ok_or(Error::NotSynced)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, (&e).into()) };
        Ok(())
    }
}

/// Server time now, Unix ms. `MXCLOCK_STATUS_NOT_SYNCED` before the first
/// sample. Lock-free (a boot-clock read and an atomic load): call it as
/// often as needed, from any thread.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_server_now_ms(
    clock: *const mxclock_server_clock,
    out_ms: *mut i64,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_ms, "out_ms")?;
        // SAFETY: per the contract.
        let ms = unsafe { self::clock(clock) }?.server_now_ms()?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, ms) };
        Ok(())
    }
}

/// `server now + duration_ms`: the `expires_ts` to put into an event the
/// app creates. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_server_ms_after(
    clock: *const mxclock_server_clock,
    duration_ms: i64,
    out_ms: *mut i64,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_ms, "out_ms")?;
        // SAFETY: per the contract.
        let ms = unsafe { self::clock(clock) }?.server_ms_after(duration_ms)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, ms) };
        Ok(())
    }
}

/// The clock's boot clock now, ms (for the `*_boot_ms` arguments of the
/// `mxclock_add_*` calls). Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_boot_ms(
    clock: *const mxclock_server_clock,
    out_ms: *mut i64,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_ms, "out_ms")?;
        // SAFETY: per the contract.
        let ms = unsafe { self::clock(clock) }?.boot_ms();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, ms) };
        Ok(())
    }
}

/// One conversion call: `clock.method(value)` into `*out_ms`.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[inline(always)]
unsafe fn convert(
    clock: *const mxclock_server_clock,
    value: i64,
    out_ms: *mut i64,
    method: fn(&ServerClock, i64) -> crate::Result<i64>,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_ms, "out_ms")?;
        // SAFETY: per the contract.
        let ms = method(unsafe { self::clock(clock) }?, value)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, ms) };
        Ok(())
    }
}

/// Boot-clock time at which the server clock reads `server_ms`.
/// `MXCLOCK_STATUS_NOT_SYNCED` before the first sample. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_server_ms_to_boot_ms(
    clock: *const mxclock_server_clock,
    server_ms: i64,
    out_ms: *mut i64,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe { convert(clock, server_ms, out_ms, ServerClock::server_ms_to_boot_ms) }
}

/// Server time when the boot clock reads `boot_ms`.
/// `MXCLOCK_STATUS_NOT_SYNCED` before the first sample. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_boot_ms_to_server_ms(
    clock: *const mxclock_server_clock,
    boot_ms: i64,
    out_ms: *mut i64,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe { convert(clock, boot_ms, out_ms, ServerClock::boot_ms_to_server_ms) }
}

/// Device wall-clock time at which the server clock reads `server_ms` (by
/// the wall clock as it is set now). `MXCLOCK_STATUS_NOT_SYNCED` before the
/// first sample. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_server_ms_to_wall_ms(
    clock: *const mxclock_server_clock,
    server_ms: i64,
    out_ms: *mut i64,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe { convert(clock, server_ms, out_ms, ServerClock::server_ms_to_wall_ms) }
}

/// Server time corresponding to device wall-clock time `wall_ms`.
/// `MXCLOCK_STATUS_NOT_SYNCED` before the first sample. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_wall_ms_to_server_ms(
    clock: *const mxclock_server_clock,
    wall_ms: i64,
    out_ms: *mut i64,
) -> mxclock_status {
    // SAFETY: forwarded contract.
    unsafe { convert(clock, wall_ms, out_ms, ServerClock::wall_ms_to_server_ms) }
}

// ---------------------------------------------------------------------------
// Feeding samples (sans-I/O)
// ---------------------------------------------------------------------------

/// Writes the estimate of a successful `add_*` call.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn estimate_result(
    r: crate::Result<crate::Estimate>,
    out: *mut mxclock_estimate,
) -> Result<(), Failure> {
    let e = r?;
    // SAFETY: NULL or writable per the caller's contract.
    unsafe { write_opt(out, (&e).into()) };
    Ok(())
}

/// Feeds an interval sample the app computed itself. `*out_estimate`
/// (optional) receives the new estimate. `MXCLOCK_STATUS_INCONSISTENT` when
/// no majority of the kept samples agrees (the sample is kept, the estimate
/// unchanged); `INVALID_ARGUMENT` for an unknown `source`. Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `sample` is NULL or valid; `out_estimate` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_add_sample(
    clock: *const mxclock_server_clock,
    sample: *const mxclock_sample,
    out_estimate: *mut mxclock_estimate,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        // SAFETY: per the contract.
        let s = unsafe { sample.as_ref() }.ok_or(Failure::Null("sample"))?;
        let source = sample_source_from_int(s.source)
            .ok_or_else(|| Failure::Invalid(format!("sample->source {} is not a mxclock_sample_source", s.source)))?;
        let sample = Sample {
            source,
            lo_ms: s.lo_ms,
            hi_ms: s.hi_ms,
            taken_boot_ms: s.taken_boot_ms,
        };
        // SAFETY: forwarded contract.
        unsafe { estimate_result(clock.add_sample(sample), out_estimate) }
    }
}

/// The app timed a request to the MSC4094 endpoint itself: sent at boot
/// time `sent_boot_ms`, answered at `received_boot_ms` with server time
/// `server_ms`. `*out_estimate` (optional) receives the new estimate.
/// Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_estimate` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_add_endpoint_sample(
    clock: *const mxclock_server_clock,
    sent_boot_ms: i64,
    received_boot_ms: i64,
    server_ms: i64,
    out_estimate: *mut mxclock_estimate,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        let r = clock.add_endpoint_sample(sent_boot_ms, received_boot_ms, server_ms);
        // SAFETY: forwarded contract.
        unsafe { estimate_result(r, out_estimate) }
    }
}

/// Any HTTP response of the homeserver, timed by the app: its `Date`
/// header as Unix seconds, and its `Age` header in seconds if `has_age_s`
/// (else `age_s` is ignored). `*out_estimate` (optional) receives the new
/// estimate. Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_estimate` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_add_date_sample(
    clock: *const mxclock_server_clock,
    sent_boot_ms: i64,
    received_boot_ms: i64,
    date_unix_s: i64,
    has_age_s: bool,
    age_s: i64,
    out_estimate: *mut mxclock_estimate,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        let r = clock.add_date_sample(sent_boot_ms, received_boot_ms, date_unix_s, has_age_s.then_some(age_s));
        // SAFETY: forwarded contract.
        unsafe { estimate_result(r, out_estimate) }
    }
}

/// An event from `/sync` with `origin_server_ts` and `unsigned.age`,
/// received at `received_boot_ms` (the weakest source; outliers are
/// outvoted). `*out_estimate` (optional) receives the new estimate.
/// Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_estimate` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_observe_event(
    clock: *const mxclock_server_clock,
    origin_server_ts: i64,
    age_ms: i64,
    received_boot_ms: i64,
    out_estimate: *mut mxclock_estimate,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        let r = clock.observe_event(origin_server_ts, age_ms, received_boot_ms);
        // SAFETY: forwarded contract.
        unsafe { estimate_result(r, out_estimate) }
    }
}

// ---------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------

/// The expiry of a deadline on the server clock (Unix ms), at the current
/// estimate. `MXCLOCK_STATUS_NOT_SYNCED` before the first sample.
/// Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_expiry_at(
    clock: *const mxclock_server_clock,
    deadline_ms: i64,
    out: *mut mxclock_expiry,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let e = unsafe { self::clock(clock) }?.expiry_at(deadline_ms)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, (&e).into()) };
        Ok(())
    }
}

/// Evaluates one Matrix event (JSON object, NUL-terminated UTF-8) against
/// its expiry rule at the current estimate. `received_boot_ms` (used only
/// if `has_received_boot_ms`) is when this device received the event, for
/// rules with a boot-clock part (verification prompts, sticky TTLs, the
/// invite's `unsigned.age`).
/// Errors: `INVALID_EVENT` (not JSON, wrong field type: the message names
/// the field), `NO_EXPIRY_RULE`, `NOT_SYNCED`. Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `json` is NULL or NUL-terminated; `out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_evaluate_event_json(
    clock: *const mxclock_server_clock,
    json: *const c_char,
    has_received_boot_ms: bool,
    received_boot_ms: i64,
    out: *mut mxclock_event_expiry,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        // SAFETY: per the contract.
        let json = unsafe { str_arg(json, "json") }?;
        let e = clock.evaluate_event_json(json.to_owned(), opt_boot(has_received_boot_ms, received_boot_ms))?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, (&e).into()) };
        Ok(())
    }
}

/// Evaluates every event of a JSON array with one reading of the server
/// clock, in one call (for timelines: one FFI crossing, not one per event).
/// `*out` receives one outcome per event, in order; an event that cannot be
/// evaluated gets its own `status` (`INVALID_EVENT`, `NO_EXPIRY_RULE`),
/// `error_path` and `error_message` instead of failing the batch. A ring response
/// in the batch (decline, answer, reject, hangup) ends the ring it refers
/// to. The call fails (`INVALID_EVENT`) only if `json_array` is not a JSON
/// array. Release `*out` with `mxclock_event_outcomes_free`.
/// Thread-safe, no I/O.
///
/// # Safety
/// `clock` is NULL or live; `json_array` is NULL or NUL-terminated; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_evaluate_events_json(
    clock: *const mxclock_server_clock,
    json_array: *const c_char,
    has_received_boot_ms: bool,
    received_boot_ms: i64,
    out: *mut mxclock_event_outcomes,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out, "out")?;
        // SAFETY: per the contract.
        let clock = unsafe { self::clock(clock) }?;
        // SAFETY: per the contract.
        let json = unsafe { str_arg(json_array, "json_array") }?;
        let outcomes = clock.evaluate_events_json(json.to_owned(), opt_boot(has_received_boot_ms, received_boot_ms))?;
        let to_c = |s: String| CString::new(s.replace('\0', "\\0")).map_or(std::ptr::null_mut(), CString::into_raw);
        let items: Box<[mxclock_event_outcome]> = outcomes
            .into_iter()
            .map(|o| {
                let (status, error_path, error_message) = match o.error {
                    Some(e) => (event_error_status(e.kind), to_c(e.path), to_c(e.message)),
                    None => (mxclock_status::Ok, std::ptr::null_mut(), std::ptr::null_mut()),
                };
                mxclock_event_outcome {
                    status,
                    result: o.result.as_ref().map_or_else(empty_event_expiry, Into::into),
                    event_id: o.event_id.map_or(std::ptr::null_mut(), to_c),
                    error_path,
                    error_message,
                }
            })
            .collect();
        let len = items.len();
        let items = if len == 0 {
            std::ptr::null_mut()
        } else {
            Box::into_raw(items) as *mut mxclock_event_outcome
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, mxclock_event_outcomes { items, len }) };
        Ok(())
    }
}

/// Releases the outcomes of `mxclock_evaluate_events_json` (and every
/// string in them), then sets `items` to NULL and `len` to 0. NULL, or
/// outcomes already freed this way, are fine. Thread-safe.
///
/// # Safety
/// `outcomes` is NULL or holds what `mxclock_evaluate_events_json` wrote
/// (or NULL/0).
#[no_mangle]
pub unsafe extern "C" fn mxclock_event_outcomes_free(outcomes: *mut mxclock_event_outcomes) {
    ffi_panic_boundary! { or ();
        // SAFETY: per the contract.
        let Some(o) = (unsafe { outcomes.as_mut() }) else { return };
        if let Some(items) = NonNull::new(o.items) {
            // SAFETY: `items`/`len` came from `Box::into_raw` of a boxed slice.
            let items = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(items.as_ptr(), o.len)) };
            for item in items.iter() {
                for s in [item.event_id, item.error_path, item.error_message] {
                    if !s.is_null() {
                        // SAFETY: from `CString::into_raw`, freed once.
                        drop(unsafe { CString::from_raw(s) });
                    }
                }
            }
        }
        o.items = std::ptr::null_mut();
        o.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::boundary::last_error_bytes;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A time source that panics once armed: a way to make the core panic
    /// on purpose without a test hook in the C ABI.
    #[derive(Default)]
    struct ArmedTime {
        armed: AtomicBool,
    }

    impl TimeSource for ArmedTime {
        fn boot_ms(&self) -> i64 {
            if self.armed.load(Ordering::SeqCst) {
                panic!("boot clock exploded");
            }
            5_000
        }
        fn wall_ms(&self) -> i64 {
            1_700_000_000_000
        }
        fn boot_id(&self) -> String {
            "boot".into()
        }
    }

    #[test]
    fn a_panic_in_the_core_becomes_a_status_and_a_message() {
        let time = Arc::new(ArmedTime::default());
        let clock =
            ServerClock::new_with_sources(crate::ClockConfig::new(""), Some(time.clone()), None)
                .unwrap();
        let h = handle(clock);
        time.armed.store(true, Ordering::SeqCst);
        let mut out = -1i64;
        let mut estimate = std::mem::MaybeUninit::uninit();
        // SAFETY: a live handle and valid out-pointers; freed once below.
        unsafe {
            assert_eq!(mxclock_boot_ms(h, &mut out), mxclock_status::Panic);
            assert_eq!(out, -1, "out-parameter untouched");
            let msg = String::from_utf8(last_error_bytes()).unwrap();
            assert!(msg.contains("boot clock exploded"), "{msg}");
            assert!(msg.contains("panicked"), "{msg}");
            assert_eq!(
                mxclock_get_estimate(h, estimate.as_mut_ptr()),
                mxclock_status::Panic
            );
            // The clock is still usable once the cause is gone.
            time.armed.store(false, Ordering::SeqCst);
            assert_eq!(mxclock_boot_ms(h, &mut out), mxclock_status::Ok);
            assert_eq!(out, 5_000);
            mxclock_free(h);
        }
    }
}
