//! C function-pointer implementations of [`HttpTransport`] and
//! [`TimeSource`], so C apps can bring their own HTTP stack and clocks.
//!
//! Memory rule of the transport: C owns everything it hands back. mxclock
//! copies the status, headers and body out of `mxclock_http_response` as
//! soon as `get` returns, then calls `free_response` (if set) so C can
//! release its buffers. Nothing C allocated is ever freed by Rust.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::protocol::url_for_message;
use crate::time::{OsTimeSource, TimeSource};
use crate::transport::{
    HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError, MAX_BODY_BYTES,
};

use super::boundary::{mxclock_status, Failure};

/// One HTTP header as C strings (NUL-terminated; mxclock sends and expects
/// ASCII; invalid UTF-8 in a response value is replaced by U+FFFD).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_http_header {
    /// Header name, e.g. `Date`.
    pub name: *const c_char,
    /// Header value.
    pub value: *const c_char,
}

/// The response a C transport fills in. Every pointer stays owned by C and
/// must stay valid until mxclock calls `free_response` (or, if that is
/// NULL, until the next call of `get` on the same transport).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_http_response {
    /// HTTP status code (any: 404 and 500 are responses, not failures).
    pub status: u16,
    /// `n_headers` response headers (may be NULL when `n_headers` is 0).
    pub headers: *const mxclock_http_header,
    /// Number of headers.
    pub n_headers: usize,
    /// `body_len` bytes of body (may be NULL when `body_len` is 0); at most
    /// 65536 bytes, larger is a protocol error.
    pub body: *const u8,
    /// Body length in bytes.
    pub body_len: usize,
    /// For the transport's own use (e.g. the buffer to free in
    /// `free_response`); mxclock does not touch it.
    pub response_userdata: *mut c_void,
}

/// Performs one HTTP GET of `url` with the given request headers (an array
/// of `n_headers`, valid during the call only), giving up after
/// `timeout_ms` for the whole exchange. Fill `*out_response` and return 0;
/// or return non-zero on failure: `MXCLOCK_STATUS_TIMEOUT` (8) for a
/// timeout, anything else for a network failure. Do not follow redirects:
/// return a 3xx as a response.
#[allow(non_camel_case_types)]
pub type mxclock_http_transport_get_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        url: *const c_char,
        headers: *const mxclock_http_header,
        n_headers: usize,
        timeout_ms: u64,
        out_response: *mut mxclock_http_response,
    ) -> c_int,
>;

/// Releases what `get` put into `response` (called once per successful
/// `get`, after mxclock copied the response).
#[allow(non_camel_case_types)]
pub type mxclock_http_transport_free_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, response: *mut mxclock_http_response)>;

/// An HTTP transport written in C. mxclock copies this struct; `userdata`
/// must stay valid until the clock is freed.
///
/// Thread-safety: `get` runs on whichever thread calls `mxclock_sync` or
/// `mxclock_sync_if_needed`. Syncs of one clock are single-flight, so one
/// clock never runs two `get`s at once; if several clocks share a
/// `userdata`, `get` must be thread-safe. `get` may read the clock
/// (`mxclock_server_now_ms`) but must not sync the same clock: that sync
/// would wait for itself.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_http_transport {
    /// Passed to both callbacks unchanged.
    pub userdata: *mut c_void,
    /// Required.
    pub get: mxclock_http_transport_get_fn,
    /// Optional (NULL: nothing to release).
    pub free_response: mxclock_http_transport_free_fn,
}

/// The C transport inside the clock.
pub(crate) struct CTransport {
    userdata: *mut c_void,
    get: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const mxclock_http_header,
        usize,
        u64,
        *mut mxclock_http_response,
    ) -> c_int,
    free_response: mxclock_http_transport_free_fn,
}

// SAFETY: the C caller promises (header docs) that the callbacks may be
// called from any thread and that `userdata` outlives the clock.
unsafe impl Send for CTransport {}
// SAFETY: as above; mxclock itself never calls `get` concurrently for one
// clock (single-flight sync), and C is told to make it thread-safe anyway.
unsafe impl Sync for CTransport {}

impl CTransport {
    pub(crate) fn new(t: &mxclock_http_transport) -> Result<CTransport, Failure> {
        Ok(CTransport {
            userdata: t.userdata,
            get: t.get.ok_or(Failure::Null("transport->get"))?,
            free_response: t.free_response,
        })
    }
}

/// What the C side's failures and broken replies become: the transport's
/// own error, converted to the crate's once, by the caller.
type Result<T, E = TransportError> = std::result::Result<T, E>;

fn c_str(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| TransportError::InvalidRequest {
        reason: format!("{what} contains a NUL byte"),
    })
}

fn bad_reply(reason: String) -> TransportError {
    TransportError::BadReply { reason }
}

/// `p` as a lossy string; NULL is a protocol error naming `what`.
///
/// # Safety
/// `p` is NULL or NUL-terminated and valid.
unsafe fn lossy(p: *const c_char, what: &str) -> Result<String> {
    if p.is_null() {
        return Err(bad_reply(format!("C transport returned a NULL {what}")));
    }
    // SAFETY: per the caller's contract.
    Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Copies C's response into Rust memory.
///
/// # Safety
/// `r`'s arrays are valid: it was filled by a `get` that returned 0, or
/// handed to `mxclock_sync_session_receive_response`.
pub(crate) unsafe fn copy_response(r: &mxclock_http_response) -> Result<HttpResponse> {
    if r.body_len > MAX_BODY_BYTES {
        return Err(bad_reply(format!(
            "response body of {} bytes is over the {MAX_BODY_BYTES}-byte limit (64 KiB)",
            r.body_len
        )));
    }
    let body = if r.body_len == 0 {
        Vec::new()
    } else if r.body.is_null() {
        return Err(bad_reply(
            "C transport returned a NULL body with a non-zero length".into(),
        ));
    } else {
        // SAFETY: non-NULL, `body_len` bytes per the transport contract.
        unsafe { std::slice::from_raw_parts(r.body, r.body_len) }.to_vec()
    };
    let headers = if r.n_headers == 0 {
        Vec::new()
    } else if r.headers.is_null() {
        return Err(bad_reply(
            "C transport returned NULL headers with a non-zero count".into(),
        ));
    } else {
        // SAFETY: non-NULL, `n_headers` entries per the transport contract.
        let raw = unsafe { std::slice::from_raw_parts(r.headers, r.n_headers) };
        raw.iter()
            .map(|h| {
                // SAFETY: each entry holds valid C strings or NULL.
                let name = unsafe { lossy(h.name, "header name") }?;
                let value = unsafe { lossy(h.value, "header value") }?;
                Ok(HttpHeader::new(name, value))
            })
            .collect::<Result<Vec<_>>>()?
    };
    Ok(HttpResponse {
        status: r.status,
        headers,
        body,
    })
}

impl HttpTransport for CTransport {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse> {
        let url = c_str(&request.url, "the request URL")?;
        let names_values = request
            .headers
            .iter()
            .map(|h| {
                Ok((
                    c_str(&h.name, "a header name")?,
                    c_str(&h.value, "a header value")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let headers: Vec<mxclock_http_header> = names_values
            .iter()
            .map(|(n, v)| mxclock_http_header {
                name: n.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let mut response = mxclock_http_response {
            status: 0,
            headers: std::ptr::null(),
            n_headers: 0,
            body: std::ptr::null(),
            body_len: 0,
            response_userdata: std::ptr::null_mut(),
        };
        // SAFETY: every pointer is valid for the call; the C side promised
        // a callback with this signature.
        let rc = unsafe {
            (self.get)(
                self.userdata,
                url.as_ptr(),
                headers.as_ptr(),
                headers.len(),
                request.timeout_ms,
                &mut response,
            )
        };
        if rc != 0 {
            let what = format!("GET {}", url_for_message(&request.url));
            return Err(if rc == mxclock_status::Timeout as c_int {
                TransportError::Timeout { reason: what }
            } else {
                TransportError::Network {
                    reason: format!("{what}: the C transport failed with code {rc}"),
                }
            });
        }
        // SAFETY: `get` returned 0, so the response is filled in.
        let copied = unsafe { copy_response(&response) };
        if let Some(free) = self.free_response {
            // SAFETY: handing back exactly what `get` filled in, once.
            unsafe { free(self.userdata, &mut response) };
        }
        copied
    }
}

/// A clock reading in ms: the boot clock or the wall clock (see
/// `mxclock_time_source`).
#[allow(non_camel_case_types)]
pub type mxclock_time_ms_fn = Option<unsafe extern "C" fn(userdata: *mut c_void) -> i64>;

/// Writes the current boot's identifier into `buf` (capacity `buf_len`,
/// NUL-terminated; longer ids are cut).
#[allow(non_camel_case_types)]
pub type mxclock_boot_id_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *mut c_char, buf_len: usize)>;

/// Capacity of the buffer passed to `mxclock_time_source.boot_id`.
pub const MXCLOCK_BOOT_ID_MAX: usize = 128;

/// Clocks written in C (tests, or an app's own clocks). mxclock copies this
/// struct; `userdata` must stay valid until the clock is freed.
///
/// Thread-safety: the callbacks are called from every thread that calls
/// into the clock (and already during `mxclock_new*`/`mxclock_restore*`),
/// concurrently: they must be thread-safe, cheap, and must not block or
/// call back into mxclock.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_time_source {
    /// Passed to every callback unchanged.
    pub userdata: *mut c_void,
    /// Boot clock, ms (required): monotonic, counts sleep.
    pub boot_ms: mxclock_time_ms_fn,
    /// Wall clock, Unix ms (required).
    pub wall_ms: mxclock_time_ms_fn,
    /// Boot identifier (optional; NULL: the operating system's).
    pub boot_id: mxclock_boot_id_fn,
}

type TimeFn = unsafe extern "C" fn(*mut c_void) -> i64;

pub(crate) struct CTimeSource {
    userdata: *mut c_void,
    boot_ms: TimeFn,
    wall_ms: TimeFn,
    boot_id: mxclock_boot_id_fn,
}

// SAFETY: the C caller promises thread-safe callbacks and a `userdata`
// that outlives the clock (header docs).
unsafe impl Send for CTimeSource {}
// SAFETY: as above.
unsafe impl Sync for CTimeSource {}

impl CTimeSource {
    pub(crate) fn new(t: &mxclock_time_source) -> Result<CTimeSource, Failure> {
        Ok(CTimeSource {
            userdata: t.userdata,
            boot_ms: t.boot_ms.ok_or(Failure::Null("time_source->boot_ms"))?,
            wall_ms: t.wall_ms.ok_or(Failure::Null("time_source->wall_ms"))?,
            boot_id: t.boot_id,
        })
    }
}

impl TimeSource for CTimeSource {
    fn boot_ms(&self) -> i64 {
        // SAFETY: a valid callback per the C caller's contract.
        unsafe { (self.boot_ms)(self.userdata) }
    }

    fn wall_ms(&self) -> i64 {
        // SAFETY: as above.
        unsafe { (self.wall_ms)(self.userdata) }
    }

    fn boot_id(&self) -> String {
        let Some(f) = self.boot_id else {
            return OsTimeSource::new().boot_id();
        };
        let mut buf = [0 as c_char; MXCLOCK_BOOT_ID_MAX];
        // SAFETY: `buf` is writable for its length.
        unsafe { f(self.userdata, buf.as_mut_ptr(), buf.len()) };
        // A callback that forgot the terminator is cut at the buffer's end.
        buf[MXCLOCK_BOOT_ID_MAX - 1] = 0;
        // SAFETY: NUL-terminated by the line above at the latest.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cbindgen does not export constants (it would take the whole crate's):
    /// the header's `#define` comes from cbindgen.toml and must agree.
    #[test]
    fn header_boot_id_max_matches() {
        let toml = include_str!("../../cbindgen.toml");
        let define = format!("#define MXCLOCK_BOOT_ID_MAX {MXCLOCK_BOOT_ID_MAX}\n");
        assert!(toml.contains(&define), "cbindgen.toml lacks {define:?}");
    }
}
