//! The sync session in C: `mxclock_start_sync` hands out a
//! `mxclock_sync_session`, whose `mxclock_sync_session_next_action` says
//! what to do (send a request, wait, or done) and whose
//! `mxclock_sync_session_receive_*` take back what happened. Translation
//! only: each function calls one [`SyncSession`] or [`ServerClock`] method.

use std::ffi::{c_char, c_int, CString};
use std::sync::Arc;

use crate::clock::ServerClock;
use crate::error::Error;
use crate::session::{SyncAction, SyncSession};
use crate::transport::{HttpRequest, TransportError};

use super::boundary::{
    ffi_panic_boundary, mxclock_status, opt_str_arg, out_ptr, write_out, Failure,
};
use super::c::mxclock_server_clock;
use super::callbacks::{copy_response, mxclock_http_header, mxclock_http_response};
use super::types::mxclock_sync_report;

/// A sync driven by the caller (opaque): the clock says what to do next,
/// the caller does it with its own HTTP client and timers and hands back
/// what happened. Created by `mxclock_start_sync*`, released by
/// `mxclock_sync_session_free`. It holds its own reference to the clock:
/// the two may be freed in either order.
///
/// Thread-safety: a session may move between threads, but its calls must
/// not run concurrently (one caller drives it, one step after the other).
#[allow(non_camel_case_types)]
pub struct mxclock_sync_session {
    session: Arc<SyncSession>,
    /// The strings of the last `MXCLOCK_SYNC_ACTION_SEND`, which the action
    /// points into until the next call on this session.
    url: CString,
    header_strings: Vec<(CString, CString)>,
    headers: Vec<mxclock_http_header>,
}

/// What `mxclock_sync_session_next_action` asks for.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_sync_action_kind {
    /// Send the request now (GET `url` with `headers`, within
    /// `timeout_ms`, not following redirects), then call
    /// `mxclock_sync_session_receive_response` (any HTTP status) or
    /// `mxclock_sync_session_receive_failure` with `request_id`.
    Send = 0,
    /// Nothing to do before the boot clock reads `until_boot_ms`; then call
    /// `mxclock_sync_session_next_action` again.
    Wait = 1,
    /// The sync is over and succeeded: `report` says what it did.
    Done = 2,
}

/// One action of a sync session. Only the fields of its `kind` are set;
/// the others are 0 or NULL.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_sync_action {
    /// Which action.
    pub kind: mxclock_sync_action_kind,
    /// SEND: quote it when handing back the reply or failure.
    pub request_id: u64,
    /// SEND: the absolute URL to GET. Owned by the session: valid until the
    /// next call on the session (copy it if you need it longer).
    pub url: *const c_char,
    /// SEND: `n_headers` request headers to send as they are. Owned by the
    /// session, valid as `url`.
    pub headers: *const mxclock_http_header,
    /// SEND: number of headers.
    pub n_headers: usize,
    /// SEND: budget for the whole exchange, ms.
    pub timeout_ms: u64,
    /// WAIT: the boot-clock time to wait for, ms.
    pub until_boot_ms: i64,
    /// DONE: what the sync did.
    pub report: mxclock_sync_report,
}

/// The clock behind a C handle, with a reference of its own.
///
/// # Safety
/// `p` is NULL or a live clock handle (an `Arc<ServerClock>` from
/// `Arc::into_raw`).
unsafe fn clock_arc(p: *const mxclock_server_clock) -> Result<Arc<ServerClock>, Failure> {
    if p.is_null() {
        return Err(Failure::Null("clock"));
    }
    let p = p as *const ServerClock;
    // SAFETY: a live handle came from `Arc::into_raw`; the count goes up
    // before the new `Arc` is made, so the handle keeps its own.
    unsafe {
        Arc::increment_strong_count(p);
        Ok(Arc::from_raw(p))
    }
}

fn session_handle(session: Arc<SyncSession>) -> *mut mxclock_sync_session {
    Box::into_raw(Box::new(mxclock_sync_session {
        session,
        url: CString::default(),
        header_strings: Vec::new(),
        headers: Vec::new(),
    }))
}

/// The session behind a C handle, borrowed mutably for the call.
///
/// # Safety
/// `p` is NULL or a live session not used concurrently.
unsafe fn session<'a>(
    p: *mut mxclock_sync_session,
) -> Result<&'a mut mxclock_sync_session, Failure> {
    // SAFETY: per the contract, a live, exclusively used `Box` allocation.
    unsafe { p.as_mut() }.ok_or(Failure::Null("session"))
}

/// A C string of a request's text; NUL bytes cannot occur in what mxclock
/// builds, but are refused rather than cut.
fn c_text(s: &str, what: &str) -> Result<CString, Failure> {
    CString::new(s)
        .map_err(|_| Failure::Lib(Error::Internal(format!("{what} contains a NUL byte"))))
}

impl mxclock_sync_session {
    /// Keeps `request`'s strings and returns the SEND action pointing at them.
    fn send_action(
        &mut self,
        request_id: u64,
        request: &HttpRequest,
    ) -> Result<mxclock_sync_action, Failure> {
        self.url = c_text(&request.url, "the request URL")?;
        self.header_strings = request
            .headers
            .iter()
            .map(|h| {
                Ok((
                    c_text(&h.name, "a header name")?,
                    c_text(&h.value, "a header value")?,
                ))
            })
            .collect::<Result<_, Failure>>()?;
        self.headers = self
            .header_strings
            .iter()
            .map(|(n, v)| mxclock_http_header {
                name: n.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        Ok(mxclock_sync_action {
            kind: mxclock_sync_action_kind::Send,
            request_id,
            url: self.url.as_ptr(),
            headers: self.headers.as_ptr(),
            n_headers: self.headers.len(),
            timeout_ms: request.timeout_ms,
            ..empty_action(mxclock_sync_action_kind::Send)
        })
    }
}

fn empty_action(kind: mxclock_sync_action_kind) -> mxclock_sync_action {
    mxclock_sync_action {
        kind,
        request_id: 0,
        url: std::ptr::null(),
        headers: std::ptr::null(),
        n_headers: 0,
        timeout_ms: 0,
        until_boot_ms: 0,
        report: zero_report(),
    }
}

/// An all-zero report, for actions other than DONE.
fn zero_report() -> mxclock_sync_report {
    let estimate = crate::Estimate {
        server_now_ms: 0,
        uncertainty_ms: 0,
        offset_ms: 0,
        boot_offset_ms: 0,
        boot_ms: 0,
        source: crate::SampleSource::Endpoint,
        samples: 0,
        falsetickers: 0,
        newest_sample_boot_ms: 0,
        within_policy: false,
        wall_jump_ms: 0,
        server_clock_stepped: false,
    };
    (&crate::SyncReport {
        requests: 0,
        samples_taken: 0,
        source: crate::SampleSource::Endpoint,
        endpoint_supported: false,
        reason: None,
        min_rtt_ms: None,
        date_disagreement_ms: None,
        estimate,
    })
        .into()
}

/// Starts a sync that the caller drives with its own HTTP client, at boot
/// time `now_boot_ms` (read it with `mxclock_boot_ms`, or from the clock's
/// C time source). `*out_session` receives a session to release with
/// `mxclock_sync_session_free`. If a sync is already in flight on this
/// clock (another session's, or a blocking `mxclock_sync`'s), the session
/// joins it: it answers WAIT until that sync is over, then its result.
/// Needs no transport; does no I/O. Thread-safe.
///
/// Errors (as `mxclock_sync` before its first request): `INVALID_CONFIG`
/// (no homeserver URL), `RATE_LIMITED` (a 429's `Retry-After` still
/// lasts), `TIME_OUT_OF_RANGE` (`now_boot_ms` is ahead of the clock's boot
/// clock: a wall-clock time?).
///
/// # Safety
/// `clock` is NULL or live; `out_session` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_start_sync(
    clock: *const mxclock_server_clock,
    now_boot_ms: i64,
    out_session: *mut *mut mxclock_sync_session,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_session, "out_session")?;
        // SAFETY: per the contract.
        let clock = unsafe { clock_arc(clock) }?;
        let session = clock.start_sync(now_boot_ms)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, session_handle(session)) };
        Ok(())
    }
}

/// As `mxclock_start_sync`, only if a sync is due and allowed at
/// `now_boot_ms` (as `mxclock_sync_if_needed`). On OK, `*out_session` is
/// the new session, or NULL if none was started. Thread-safe.
///
/// # Safety
/// `clock` is NULL or live; `out_session` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_start_sync_if_needed(
    clock: *const mxclock_server_clock,
    now_boot_ms: i64,
    out_session: *mut *mut mxclock_sync_session,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out_session = out_ptr(out_session, "out_session")?;
        // SAFETY: per the contract.
        let clock = unsafe { clock_arc(clock) }?;
        let session = clock.start_sync_if_needed(now_boot_ms)?;
        let handle = session.map_or(std::ptr::null_mut(), session_handle);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out_session, handle) };
        Ok(())
    }
}

/// What to do next, at boot time `now_boot_ms`: `*out_action` receives a
/// SEND (its strings stay valid until the next call on this session), a
/// WAIT or a DONE. A failed sync returns its status here instead
/// (`NETWORK`, `TIMEOUT`, `HTTP`, `RATE_LIMITED`, `PROTOCOL_VIOLATION`,
/// `UNSUPPORTED`, `INCONSISTENT`, ...), every time it is asked.
/// `TIME_OUT_OF_RANGE` for a boot time earlier than one already given, or
/// ahead of the clock. While a request is out, the answer is WAIT until
/// its timeout (plus a second) has passed; after that the request counts
/// as timed out. Never blocks.
///
/// # Safety
/// `session` is NULL or live and not used concurrently; `out_action` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync_session_next_action(
    session: *mut mxclock_sync_session,
    now_boot_ms: i64,
    out_action: *mut mxclock_sync_action,
) -> mxclock_status {
    ffi_panic_boundary! {
        let out = out_ptr(out_action, "out_action")?;
        // SAFETY: per the contract.
        let s = unsafe { self::session(session) }?;
        let action = match s.session.next_action(now_boot_ms)? {
            SyncAction::Send { request_id, request } => s.send_action(request_id, &request)?,
            SyncAction::Wait { until_boot_ms } => mxclock_sync_action {
                until_boot_ms,
                ..empty_action(mxclock_sync_action_kind::Wait)
            },
            SyncAction::Done { report } => mxclock_sync_action {
                report: (&report).into(),
                ..empty_action(mxclock_sync_action_kind::Done)
            },
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, action) };
        Ok(())
    }
}

/// The reply to request `request_id` (any HTTP status: a 404 or a 500 is a
/// reply), sent at boot time `sent_boot_ms`, received at
/// `received_boot_ms`. mxclock copies `*response` during the call (its
/// `response_userdata` is not used); a response that breaks the
/// `mxclock_http_response` rules (NULL strings, body over 64 KiB) counts
/// as a bad reply to the request. Errors: `INVALID_ARGUMENT` when that
/// request is not waiting for a reply in this session (another session's,
/// answered already, given up), `TIME_OUT_OF_RANGE` for impossible times;
/// the session is then unchanged. The sync's own outcome comes from
/// `mxclock_sync_session_next_action`.
///
/// # Safety
/// `session` is NULL or live and not used concurrently; `response` is NULL
/// or valid, its arrays as `mxclock_http_response` describes.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync_session_receive_response(
    session: *mut mxclock_sync_session,
    request_id: u64,
    sent_boot_ms: i64,
    received_boot_ms: i64,
    response: *const mxclock_http_response,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let s = unsafe { self::session(session) }?;
        // SAFETY: per the contract.
        let r = unsafe { response.as_ref() }.ok_or(Failure::Null("response"))?;
        // SAFETY: the arrays are valid per the contract.
        match unsafe { copy_response(r) } {
            Ok(response) => s.session.receive_response(request_id, sent_boot_ms, received_boot_ms, response)?,
            // As a C transport's broken response: the request's failure.
            Err(e) => s.session.receive_failure(
                request_id,
                sent_boot_ms,
                received_boot_ms,
                e,
            )?,
        }
        Ok(())
    }
}

/// Request `request_id` failed without a reply: `failure` is
/// `MXCLOCK_STATUS_TIMEOUT` for a timeout, any other value for a network
/// failure; `reason` (optional, NULL: none) says why, and never reaches a
/// message with the access token in it. Sent at `sent_boot_ms`, given up
/// at `received_boot_ms`. Errors as
/// `mxclock_sync_session_receive_response`, and `INVALID_UTF8` for
/// `reason`.
///
/// # Safety
/// `session` is NULL or live and not used concurrently; `reason` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync_session_receive_failure(
    session: *mut mxclock_sync_session,
    request_id: u64,
    sent_boot_ms: i64,
    received_boot_ms: i64,
    failure: c_int,
    reason: *const c_char,
) -> mxclock_status {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        let s = unsafe { self::session(session) }?;
        // SAFETY: per the contract.
        let reason = unsafe { opt_str_arg(reason, "reason") }?
            .map_or_else(|| "the C caller's transport failed".to_owned(), str::to_owned);
        let error = if failure == mxclock_status::Timeout as c_int {
            TransportError::Timeout { reason }
        } else {
            TransportError::Network { reason }
        };
        s.session.receive_failure(request_id, sent_boot_ms, received_boot_ms, error)?;
        Ok(())
    }
}

/// Releases a session. NULL is fine. A session freed before its sync is
/// done abandons it: nothing it took is kept, and the next sync starts
/// afresh. Must not run concurrently with another call on the session.
///
/// # Safety
/// `session` is NULL or a live session, freed once.
#[no_mangle]
pub unsafe extern "C" fn mxclock_sync_session_free(session: *mut mxclock_sync_session) {
    ffi_panic_boundary! { or ();
        if !session.is_null() {
            // SAFETY: a live handle is a `Box` from `Box::into_raw`.
            drop(unsafe { Box::from_raw(session) });
        }
    }
}
