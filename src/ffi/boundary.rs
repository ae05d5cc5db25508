//! What every C entry point shares: the status enum, the thread's last error
//! message, the panic boundary, and the pointer and string checks.
//!
//! A function body runs inside [`ffi_panic_boundary!`]: it returns
//! `Result<(), Failure>`, and the boundary turns that (or a panic) into an
//! [`mxclock_status`], recording the message for
//! `mxclock_last_error_message`. Out-parameters are written by the body as
//! its last step, so a failing call leaves them untouched.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::ptr::NonNull;

use crate::error::Error;

/// The result of every fallible mxclock C function. `MXCLOCK_STATUS_OK` (0)
/// is success; anything else is a failure whose message
/// `mxclock_last_error_message()` returns on the same thread.
///
/// The values are part of the ABI and never change meaning; new ones may
/// be added, so treat an unknown value as a failure.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum mxclock_status {
    /// Success: the out-parameters were written.
    Ok = 0,
    /// A required pointer argument was NULL (the message names it).
    NullArgument = 1,
    /// An argument was out of range or malformed.
    InvalidArgument = 2,
    /// A configuration value is unusable (bad URL, zero timeout, ...).
    InvalidConfig = 3,
    /// A string argument was not valid UTF-8 (the message names it).
    InvalidUtf8 = 4,
    /// No server time estimate yet: sync or add a sample first.
    NotSynced = 5,
    /// The samples contradict each other; the estimate was not changed.
    Inconsistent = 6,
    /// Connecting, sending or receiving failed (refused, reset, DNS, TLS),
    /// or a C transport callback returned a failure.
    Network = 7,
    /// A request did not complete within `request_timeout_ms`.
    Timeout = 8,
    /// The homeserver answered with an unusable HTTP status.
    Http = 9,
    /// The homeserver answered 429; `mxclock_next_sync_due_in_ms` says when
    /// to try again.
    RateLimited = 10,
    /// The reply broke the protocol (bad JSON, no time, bad `Date`, too big).
    ProtocolViolation = 11,
    /// The homeserver has no MSC4094 endpoint and gave no usable `Date`.
    Unsupported = 12,
    /// A time was outside the sane range (before 2000, after 2200, or a
    /// reply received before it was sent).
    TimeOutOfRange = 13,
    /// Event JSON could not be read (the message names the field).
    InvalidEvent = 14,
    /// The event type has no expiry rule.
    NoExpiryRule = 15,
    /// Saved state could not be restored: discard it and sync again.
    InvalidState = 16,
    // 17 was MXCLOCK_STATUS_CALLBACK, which nothing returned: retired, never
    // reused.
    /// mxclock panicked; the panic was caught. A bug: please report it.
    Panic = 18,
    /// An internal error in mxclock. A bug: please report it.
    Internal = 19,
}

impl mxclock_status {
    /// Every status, in value order (`mxclock_status_name`, tests). Values
    /// have gaps where a status was retired.
    pub const ALL: [mxclock_status; 19] = [
        mxclock_status::Ok,
        mxclock_status::NullArgument,
        mxclock_status::InvalidArgument,
        mxclock_status::InvalidConfig,
        mxclock_status::InvalidUtf8,
        mxclock_status::NotSynced,
        mxclock_status::Inconsistent,
        mxclock_status::Network,
        mxclock_status::Timeout,
        mxclock_status::Http,
        mxclock_status::RateLimited,
        mxclock_status::ProtocolViolation,
        mxclock_status::Unsupported,
        mxclock_status::TimeOutOfRange,
        mxclock_status::InvalidEvent,
        mxclock_status::NoExpiryRule,
        mxclock_status::InvalidState,
        mxclock_status::Panic,
        mxclock_status::Internal,
    ];

    /// The C constant's name, NUL-terminated.
    pub fn name(self) -> &'static CStr {
        match self {
            mxclock_status::Ok => c"MXCLOCK_STATUS_OK",
            mxclock_status::NullArgument => c"MXCLOCK_STATUS_NULL_ARGUMENT",
            mxclock_status::InvalidArgument => c"MXCLOCK_STATUS_INVALID_ARGUMENT",
            mxclock_status::InvalidConfig => c"MXCLOCK_STATUS_INVALID_CONFIG",
            mxclock_status::InvalidUtf8 => c"MXCLOCK_STATUS_INVALID_UTF8",
            mxclock_status::NotSynced => c"MXCLOCK_STATUS_NOT_SYNCED",
            mxclock_status::Inconsistent => c"MXCLOCK_STATUS_INCONSISTENT",
            mxclock_status::Network => c"MXCLOCK_STATUS_NETWORK",
            mxclock_status::Timeout => c"MXCLOCK_STATUS_TIMEOUT",
            mxclock_status::Http => c"MXCLOCK_STATUS_HTTP",
            mxclock_status::RateLimited => c"MXCLOCK_STATUS_RATE_LIMITED",
            mxclock_status::ProtocolViolation => c"MXCLOCK_STATUS_PROTOCOL_VIOLATION",
            mxclock_status::Unsupported => c"MXCLOCK_STATUS_UNSUPPORTED",
            mxclock_status::TimeOutOfRange => c"MXCLOCK_STATUS_TIME_OUT_OF_RANGE",
            mxclock_status::InvalidEvent => c"MXCLOCK_STATUS_INVALID_EVENT",
            mxclock_status::NoExpiryRule => c"MXCLOCK_STATUS_NO_EXPIRY_RULE",
            mxclock_status::InvalidState => c"MXCLOCK_STATUS_INVALID_STATE",
            mxclock_status::Panic => c"MXCLOCK_STATUS_PANIC",
            mxclock_status::Internal => c"MXCLOCK_STATUS_INTERNAL",
        }
    }
}

impl From<&Error> for mxclock_status {
    /// Exhaustive on purpose: a new `Error` variant fails to compile here
    /// until it has a status.
    fn from(e: &Error) -> Self {
        match e {
            Error::InvalidConfig(_) => mxclock_status::InvalidConfig,
            Error::InvalidArgument(_) => mxclock_status::InvalidArgument,
            Error::TimeOutOfRange(_) => mxclock_status::TimeOutOfRange,
            Error::NotSynced => mxclock_status::NotSynced,
            Error::Inconsistent(_) => mxclock_status::Inconsistent,
            Error::Network(_) => mxclock_status::Network,
            Error::Timeout { .. } => mxclock_status::Timeout,
            Error::Http { .. } => mxclock_status::Http,
            Error::RateLimited { .. } => mxclock_status::RateLimited,
            Error::ProtocolViolation(_) => mxclock_status::ProtocolViolation,
            Error::Unsupported(_) => mxclock_status::Unsupported,
            Error::InvalidEvent { .. } => mxclock_status::InvalidEvent,
            Error::NoExpiryRule { .. } => mxclock_status::NoExpiryRule,
            Error::InvalidState(_) => mxclock_status::InvalidState,
            Error::Internal(_) => mxclock_status::Internal,
        }
    }
}

/// Why a C call failed, before it becomes a status and a message.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The named pointer argument was NULL.
    Null(&'static str),
    /// The named string argument was not UTF-8.
    Utf8(&'static str),
    /// An argument the FFI layer itself rejects (an unknown enum value).
    Invalid(String),
    /// The library's own error.
    Lib(Error),
    /// A caught panic, with its message.
    Panic(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Lib(e)
    }
}

impl Failure {
    fn status_and_message(self) -> (mxclock_status, String) {
        match self {
            Failure::Null(name) => (
                mxclock_status::NullArgument,
                format!("null argument: `{name}` must not be NULL"),
            ),
            Failure::Utf8(name) => (
                mxclock_status::InvalidUtf8,
                format!("invalid UTF-8 in argument `{name}`"),
            ),
            Failure::Invalid(m) => (
                mxclock_status::InvalidArgument,
                format!("invalid argument: {m}"),
            ),
            Failure::Lib(e) => (mxclock_status::from(&e), e.to_string()),
            Failure::Panic(m) => (
                mxclock_status::Panic,
                format!("mxclock panicked (caught at the C boundary, please report): {m}"),
            ),
        }
    }
}

thread_local! {
    /// The message of this thread's last failed call. A `CString` so that
    /// `mxclock_last_error_message` can hand out a pointer into it.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records `failure` as this thread's last error and returns its status.
pub(crate) fn record(failure: Failure) -> mxclock_status {
    let (status, message) = failure.status_and_message();
    // A message never holds NUL from our side, but a server's words might.
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`: during thread teardown the slot may be gone; the status
    // still goes back.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(message);
        }
    });
    status
}

/// Pointer to this thread's last error message; valid until the next
/// `record` on this thread. Never NULL.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| match slot.try_borrow().as_deref() {
            Ok(Some(s)) => s.as_ptr(),
            _ => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// A copy of this thread's last error message (for the copy-out variant).
pub(crate) fn last_error_bytes() -> Vec<u8> {
    LAST_ERROR
        .try_with(|slot| {
            slot.try_borrow()
                .ok()
                .and_then(|s| s.as_ref().map(|s| s.as_bytes().to_vec()))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// The message of a panic payload (`panic!` with a literal or a format).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Runs a status-returning body: `Ok` → `MXCLOCK_STATUS_OK`, a failure or a
/// panic → its status, with the message recorded.
#[inline(always)]
pub(crate) fn run_status(f: impl FnOnce() -> Result<(), Failure>) -> mxclock_status {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => mxclock_status::Ok,
        Ok(Err(failure)) => record(failure),
        Err(payload) => record(Failure::Panic(panic_message(&*payload))),
    }
}

/// Runs a body that returns a plain value; a panic gives `default` (and is
/// recorded as the thread's last error).
#[inline(always)]
pub(crate) fn run_value<T>(default: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            record(Failure::Panic(panic_message(&*payload)));
            default
        }
    }
}

/// The panic boundary around every C entry point (as rustls-ffi's
/// `ffi_panic_boundary!`): no panic unwinds into C.
///
/// - `ffi_panic_boundary! { ...; Ok(()) }`: the body returns
///   `Result<(), Failure>`, the function returns `mxclock_status`.
/// - `ffi_panic_boundary! { or DEFAULT; ... }`: the body returns a value,
///   `DEFAULT` on panic.
///
/// `AssertUnwindSafe` is sound here: after a panic the clock's locks are
/// poisoned and every later call reports `MXCLOCK_STATUS_INTERNAL` instead
/// of reading half-updated state.
macro_rules! ffi_panic_boundary {
    (or $default:expr; $($body:tt)*) => {
        $crate::ffi::boundary::run_value($default, move || { $($body)* })
    };
    ($($body:tt)*) => {
        $crate::ffi::boundary::run_status(
            move || -> ::std::result::Result<(), $crate::ffi::boundary::Failure> { $($body)* },
        )
    };
}
pub(crate) use ffi_panic_boundary;

/// `p` as a non-NULL out-pointer, or `Failure::Null(name)`.
#[inline(always)]
pub(crate) fn out_ptr<T>(p: *mut T, name: &'static str) -> Result<NonNull<T>, Failure> {
    NonNull::new(p).ok_or(Failure::Null(name))
}

/// Writes `value` through an optional out-pointer (NULL: not wanted).
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
#[inline(always)]
pub(crate) unsafe fn write_opt<T>(p: *mut T, value: T) {
    if let Some(p) = NonNull::new(p) {
        // SAFETY: the caller guarantees a valid, writable `T` (which may be
        // uninitialised, hence `write` and no drop of the old value).
        unsafe { p.as_ptr().write(value) };
    }
}

/// Writes `value` through a checked out-pointer.
///
/// # Safety
/// `p` is valid for a write of `T`.
#[inline(always)]
pub(crate) unsafe fn write_out<T>(p: NonNull<T>, value: T) {
    // SAFETY: as `write_opt`.
    unsafe { p.as_ptr().write(value) };
}

/// A required C string argument as `&str`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::Null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Failure::Utf8(name))
}

/// An optional C string argument (NULL: `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as `str_arg`.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// A Rust string handed to C, freed by `mxclock_string_free`.
pub(crate) fn c_string(s: String) -> Result<*mut c_char, Failure> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| Failure::Lib(Error::Internal("string with an interior NUL".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each variant. The match below stops compiling when a
    /// variant is added, so the tests that walk this list see every one.
    fn one_of_each() -> Vec<Error> {
        let errors = vec![
            Error::InvalidConfig("x".into()),
            Error::InvalidArgument("x".into()),
            Error::TimeOutOfRange("x".into()),
            Error::NotSynced,
            Error::Inconsistent("x".into()),
            Error::Network("x".into()),
            Error::Timeout {
                what: "x".into(),
                timeout_ms: 1,
            },
            Error::Http {
                status: 500,
                message: "x".into(),
            },
            Error::RateLimited { retry_after_ms: 1 },
            Error::ProtocolViolation("x".into()),
            Error::Unsupported("x".into()),
            Error::InvalidEvent {
                field: "f".into(),
                reason: "r".into(),
            },
            Error::NoExpiryRule {
                event_type: "t".into(),
            },
            Error::InvalidState("x".into()),
            Error::Internal("x".into()),
        ];
        for e in &errors {
            match e {
                Error::InvalidConfig(_)
                | Error::InvalidArgument(_)
                | Error::TimeOutOfRange(_)
                | Error::NotSynced
                | Error::Inconsistent(_)
                | Error::Network(_)
                | Error::Timeout { .. }
                | Error::Http { .. }
                | Error::RateLimited { .. }
                | Error::ProtocolViolation(_)
                | Error::Unsupported(_)
                | Error::InvalidEvent { .. }
                | Error::NoExpiryRule { .. }
                | Error::InvalidState(_)
                | Error::Internal(_) => {}
            }
        }
        errors
    }

    /// `ProtocolViolation` → `PROTOCOL_VIOLATION`.
    fn screaming_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    /// The name of a variant, from its `Debug` form.
    fn variant_name(debug: &str) -> &str {
        debug
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap()
    }

    #[test]
    fn every_error_variant_has_its_own_status() {
        let errors = one_of_each();
        let mut seen: Vec<mxclock_status> = errors.iter().map(mxclock_status::from).collect();
        seen.sort_by_key(|s| *s as i32);
        seen.dedup();
        assert_eq!(seen.len(), errors.len());
        assert!(!seen.contains(&mxclock_status::Ok));
    }

    /// One vocabulary: the C status of an error is named after its variant
    /// (`Error::ProtocolViolation` → `MXCLOCK_STATUS_PROTOCOL_VIOLATION`),
    /// and Kotlin and Swift take the variant's name as it is.
    #[test]
    fn every_error_variant_is_the_status_of_its_name() {
        for e in one_of_each() {
            let debug = format!("{e:?}");
            let want = format!("MXCLOCK_STATUS_{}", screaming_snake(variant_name(&debug)));
            let status = mxclock_status::from(&e);
            assert_eq!(status.name().to_str().unwrap(), want);
            let debug = format!("{status:?}");
            assert_eq!(variant_name(&debug), variant_name(&format!("{e:?}")));
        }
    }

    #[test]
    fn status_values_and_names_match() {
        let values: Vec<i32> = mxclock_status::ALL.iter().map(|s| *s as i32).collect();
        let want: Vec<i32> = (0..=19).filter(|v| *v != 17).collect();
        assert_eq!(values, want, "in value order, 17 (retired) missing");
        for s in mxclock_status::ALL {
            let want = format!("MXCLOCK_STATUS_{}", screaming_snake(&format!("{s:?}")));
            assert_eq!(s.name().to_str().unwrap(), want);
        }
    }

    #[test]
    fn boundary_catches_panics_and_records_the_message() {
        let status = ffi_panic_boundary! {
            if std::hint::black_box(true) {
                panic!("boom {}", 42);
            }
            Ok(())
        };
        assert_eq!(status, mxclock_status::Panic);
        let msg = String::from_utf8(last_error_bytes()).unwrap();
        assert!(msg.contains("boom 42"), "{msg}");
        let v: i32 = ffi_panic_boundary! { or -1;
            if std::hint::black_box(true) {
                panic!("again");
            }
            5
        };
        assert_eq!(v, -1);
    }

    #[test]
    fn failures_record_named_messages() {
        let status = ffi_panic_boundary! { Err(Failure::Null("clock")) };
        assert_eq!(status, mxclock_status::NullArgument);
        let msg = String::from_utf8(last_error_bytes()).unwrap();
        assert!(msg.contains("`clock`"), "{msg}");
        let status = ffi_panic_boundary! { Err(Error::ProtocolViolation("a\0b".into()).into()) };
        assert_eq!(status, mxclock_status::ProtocolViolation);
        let msg = String::from_utf8(last_error_bytes()).unwrap();
        assert_eq!(msg, "protocol error: a\\0b");
    }
}
