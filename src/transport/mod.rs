//! HTTP transport: the one GET that server-time sync needs, and the pure
//! parsing of its replies (DESIGN.md sections 3, 5 and 9).
//!
//! - [`HttpTransport`] is the seam between the clock and the network. The
//!   built-in [`UreqTransport`] (feature `http`) implements it with ureq and
//!   rustls; apps can implement it in Kotlin or Swift to reuse OkHttp or
//!   URLSession, and tests implement it in Rust.
//! - [`parse`] turns replies into times and errors without any I/O.
//! - [`url`] validates the homeserver URL (HTTPS unless loopback or opted in,
//!   no credentials in it).
//!
//! Nothing here ever prints the access token: [`HttpRequest`]'s `Debug`
//! redacts it, and error messages are built from statuses, origins and the
//! server's own words only.

mod error;
pub mod parse;
#[cfg(feature = "http")]
pub mod ureq;
pub mod url;

use std::fmt;

use crate::error::Error;

#[cfg(feature = "http")]
pub use self::ureq::UreqTransport;
pub use self::url::{validate_endpoint_path, HomeserverUrl};
pub use error::TransportError;
pub use parse::{
    is_endpoint_unsupported, matrix_error, parse_age_header, parse_date_header,
    parse_server_now_body, response_date, response_to_error, retry_after_ms, server_now_request,
    validate_access_token, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, SERVER_NOW_FIELDS,
};

/// Largest response body any transport may hand to mxclock (64 KiB). A reply
/// of the MSC4094 endpoint is a few dozen bytes; anything bigger is a broken
/// or hostile server, and reading it would only cost memory and time.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The MSC4094 endpoint, relative to the homeserver base URL.
pub const DEFAULT_ENDPOINT_PATH: &str = "/_matrix/client/v3/get_server_now";

/// The `User-Agent` mxclock sends: `mxclock/<crate version>`.
pub const USER_AGENT: &str = concat!("mxclock/", env!("CARGO_PKG_VERSION"));

/// Header names whose values are secrets and never appear in `Debug` output.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// What `Debug` prints instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// One HTTP header. Names compare case-insensitively wherever mxclock looks
/// them up; values are kept as received (non-UTF-8 bytes replaced by U+FFFD).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
// Kotlin/Swift print the redacting Debug, not the fields (see ClockConfig).
#[cfg_attr(feature = "uniffi", uniffi::export(Debug))]
pub struct HttpHeader {
    /// Header name, e.g. `Date`.
    pub name: String,
    /// Header value, without surrounding whitespace.
    pub value: String,
}

impl HttpHeader {
    /// A header from a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> HttpHeader {
        HttpHeader {
            name: name.into(),
            value: value.into(),
        }
    }

    fn is_secret(&self) -> bool {
        SECRET_HEADERS
            .iter()
            .any(|s| self.name.trim().eq_ignore_ascii_case(s))
    }
}

impl fmt::Debug for HttpHeader {
    /// Redacts the value of `Authorization`, `Proxy-Authorization`, `Cookie`
    /// and `Set-Cookie`, so that a header list can be logged safely.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_secret() {
            write!(f, "{}: {REDACTED}", self.name)
        } else {
            write!(f, "{}: {:?}", self.name, self.value)
        }
    }
}

/// A GET request: the only kind mxclock makes.
///
/// Its `Debug` output redacts the `Authorization` header (and any
/// `access_token` query parameter), so the token never reaches a log:
///
/// ```
/// use mxclock::transport::{server_now_request, HomeserverUrl};
/// let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
/// let req = server_now_request(&url, "/_matrix/client/v3/get_server_now", Some("syt_secret"), 5_000);
/// let shown = format!("{req:?}");
/// assert!(!shown.contains("syt_secret"));
/// assert!(shown.contains("Authorization: <redacted>"));
/// ```
#[derive(Clone)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[cfg_attr(feature = "uniffi", uniffi::export(Debug))]
pub struct HttpRequest {
    /// Absolute `https://` (or loopback `http://`) URL, without credentials.
    pub url: String,
    /// Headers to send, in order. Transports add `Host`, and may add
    /// `User-Agent` and connection headers of their own.
    pub headers: Vec<HttpHeader>,
    /// Budget for the whole exchange (connect, TLS, send, wait, body), in ms.
    pub timeout_ms: u64,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("url", &redact_url_query(&self.url))
            .field("headers", &self.headers)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// A response with any status: transports return 3xx, 4xx and 5xx as
/// responses, not errors, because their `Date` header and body still matter.
///
/// Its `Debug` shows the body's size only (a server may echo the token in
/// it) and redacts secret headers such as `Set-Cookie`, as [`HttpHeader`]
/// does.
#[derive(Clone)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[cfg_attr(feature = "uniffi", uniffi::export(Debug))]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, in the order received.
    pub headers: Vec<HttpHeader>,
    /// Body bytes, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive), e.g. `Date`.
    ///
    /// ```
    /// use mxclock::transport::{HttpHeader, HttpResponse};
    /// let r = HttpResponse { status: 200, headers: vec![HttpHeader::new("date", "x")], body: vec![] };
    /// assert_eq!(r.header("Date"), Some("x"));
    /// assert_eq!(r.header("Age"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

fn find_header<'a>(headers: &'a [HttpHeader], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.trim().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Makes one HTTP GET. Implemented by [`UreqTransport`] (feature `http`),
/// by apps in Kotlin or Swift (OkHttp, URLSession), or by tests.
///
/// # Contract
///
/// An implementation **must**:
/// - send exactly the given headers (adding only `Host`, `User-Agent` and
///   connection management), and never send the request body;
/// - **not follow redirects**, or at least never to another origin with the
///   `Authorization` header: return a 3xx as a response and mxclock reports it
///   (naming the target origin) without re-sending the token;
/// - honour `timeout_ms` for the **whole** exchange (DNS, connect, TLS, send,
///   waiting for the reply, reading the body) and fail with
///   [`TransportError::Timeout`] when it runs out;
/// - return **every** HTTP status as an [`HttpResponse`], not an error (mxclock
///   reads the `Date` header of a 404 or 500 too);
/// - cap the body at [`MAX_BODY_BYTES`] and fail with
///   [`TransportError::BadReply`] rather than read more;
/// - be callable from several threads at once (`Send + Sync`);
/// - never put the access token into an error message or log.
///
/// Failures are [`TransportError`]s: `Network` (DNS, refused, reset, TLS),
/// `Timeout`, `BadReply` (not HTTP, body too large) or `InvalidRequest`.
/// From Kotlin or Swift, throw `TransportException` / `TransportError`; any
/// other exception (`IOException`, `URLError`) arrives as `Network` with its
/// message, so keep the token out of that message as well.
///
/// mxclock measures the round trip around `get`, so an implementation should
/// send the request as soon as it is called (no queueing behind other work).
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait HttpTransport: Send + Sync {
    /// Performs the GET described by `request`.
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The URL with its query and fragment replaced by `<redacted>` when they
/// mention `access_token` (old Matrix clients put the token there; mxclock
/// never does). The whole rest goes, because a raw token may itself contain
/// `&` or `#`.
pub(crate) fn redact_url_query(url: &str) -> String {
    match url.find('?') {
        Some(q) if contains_ignore_case(&url[q..], "access_token") => {
            format!("{}{REDACTED}", &url[..=q])
        }
        _ => url.to_owned(),
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Shortest piece of a secret that [`scrub`] redacts on its own: a reply may
/// echo a secret cut short (at a `/`, at a length limit), which an exact
/// match would miss. Random tokens do not share 8 characters with ordinary
/// message text.
const PARTIAL_SECRET_MIN: usize = 8;

/// `text` with every occurrence of each non-empty secret, and every run of
/// at least [`PARTIAL_SECRET_MIN`] bytes taken from one, replaced by
/// [`REDACTED`]: a last line of defence for messages built from a library's
/// error text or a server's reply, which we do not control.
///
/// Matching ignores ASCII case: messages lower-case some parts (the origin of
/// a `Location` header, where a server may have reflected the token).
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    // One pass, longest match first, so that no replacement is matched
    // again. ASCII lower-casing keeps every byte offset, so positions in the
    // lowered copy are positions (and char boundaries) in `text`.
    let secrets: Vec<String> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if secrets.is_empty() {
        return text.to_owned();
    }
    let lowered = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        match secret_run(&lowered[i..], &secrets) {
            0 => {
                out.push(c);
                i += c.len_utf8();
            }
            n => {
                out.push_str(REDACTED);
                i += n;
            }
        }
    }
    out
}

/// Length in bytes of the longest start of `rest` that is a whole secret or
/// a piece of one at least [`PARTIAL_SECRET_MIN`] long; 0 if none.
fn secret_run(rest: &str, secrets: &[String]) -> usize {
    let mut best = 0;
    for s in secrets {
        if rest.starts_with(s.as_str()) {
            best = best.max(s.len());
            continue;
        }
        if s.contains(' ') {
            // `Bearer x`: its pieces are `x`'s, which is a secret of its own
            // (and a piece must not swallow the space before it).
            continue;
        }
        // Grow the piece one character at a time while it occurs in `s`
        // (secrets are header values: ASCII, so pieces are too).
        let mut len = 0;
        while len < rest.len() && rest.is_char_boundary(len + 1) && s.contains(&rest[..len + 1]) {
            len += 1;
        }
        if len >= PARTIAL_SECRET_MIN {
            best = best.max(len);
        }
    }
    best
}

/// `error` with every secret of `request` (the `Authorization` value, the
/// bearer token alone, an `access_token` query parameter) replaced by
/// `<redacted>` in every message it carries.
///
/// [`UreqTransport`] already does this. Callers of a foreign
/// [`HttpTransport`] should pass its errors through this too: an app's HTTP
/// stack may put request details into an exception message.
///
/// ```
/// use mxclock::{transport::{redact_error, HttpHeader, HttpRequest}, Error};
/// let req = HttpRequest {
///     url: "https://h.example/x".into(),
///     headers: vec![HttpHeader::new("Authorization", "Bearer syt_secret")],
///     timeout_ms: 1_000,
/// };
/// let e = redact_error(Error::Callback("bad header: Bearer syt_secret".into()), &req);
/// assert_eq!(e.to_string(), "callback failed: bad header: <redacted>");
/// ```
pub fn redact_error(error: Error, request: &HttpRequest) -> Error {
    let secrets = request_secrets(request);
    if secrets.iter().all(|s| s.is_empty()) {
        return error;
    }
    let s = |m: String| scrub(&m, &secrets);
    match error {
        Error::InvalidConfig(m) => Error::InvalidConfig(s(m)),
        Error::InvalidArgument(m) => Error::InvalidArgument(s(m)),
        Error::TimeOutOfRange(m) => Error::TimeOutOfRange(s(m)),
        Error::Inconsistent(m) => Error::Inconsistent(s(m)),
        Error::Network(m) => Error::Network(s(m)),
        Error::Timeout { what, timeout_ms } => Error::Timeout {
            what: s(what),
            timeout_ms,
        },
        Error::Http { status, message } => Error::Http {
            status,
            message: s(message),
        },
        Error::Protocol(m) => Error::Protocol(s(m)),
        Error::Unsupported(m) => Error::Unsupported(s(m)),
        Error::InvalidEvent { field, reason } => Error::InvalidEvent {
            field: s(field),
            reason: s(reason),
        },
        Error::NoExpiryRule { event_type } => Error::NoExpiryRule {
            event_type: s(event_type),
        },
        Error::InvalidState(m) => Error::InvalidState(s(m)),
        Error::Callback(m) => Error::Callback(s(m)),
        Error::Internal(m) => Error::Internal(s(m)),
        e @ (Error::NotSynced | Error::RateLimited { .. }) => e,
    }
}

/// The secrets of a request: the full value of each secret header and, for
/// `Authorization: Bearer x`, `x` alone.
pub(crate) fn request_secrets(request: &HttpRequest) -> Vec<&str> {
    let mut secrets = Vec::new();
    for h in request.headers.iter().filter(|h| h.is_secret()) {
        let value = h.value.trim();
        secrets.push(value);
        if let Some((_, credential)) = value.split_once(' ') {
            secrets.push(credential.trim());
        }
    }
    // A query token: up to the next `&` and, in case the raw token holds
    // `&` or `#`, up to the end.
    let lower = request.url.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("access_token=") {
        let start = from + i + "access_token=".len();
        let rest = &request.url[start..];
        secrets.push(rest);
        secrets.push(&rest[..rest.find('&').unwrap_or(rest.len())]);
        from = start;
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: Vec<HttpHeader>, url: &str) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            headers,
            timeout_ms: 1_000,
        }
    }

    #[test]
    fn debug_redacts_authorization_in_any_case() {
        for name in [
            "Authorization",
            "authorization",
            "AUTHORIZATION",
            " Authorization ",
        ] {
            let r = request(
                vec![
                    HttpHeader::new(name, "Bearer tok_abcdef123456"),
                    HttpHeader::new("Accept", "application/json"),
                ],
                "https://h/x",
            );
            let shown = format!("{r:?} {:#?}", r);
            assert!(!shown.contains("tok_abcdef123456"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(shown.contains("application/json"), "{shown}");
        }
    }

    #[test]
    fn debug_redacts_other_secret_headers_and_query_token() {
        let r = request(
            vec![
                HttpHeader::new("Cookie", "session=s3cr3tcookie"),
                HttpHeader::new("Proxy-Authorization", "Basic cHJveHlwYXNz"),
            ],
            "https://h/x?a=1&access_token=qtok987654&b=2#frag",
        );
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cr3tcookie"), "{shown}");
        assert!(!shown.contains("cHJveHlwYXNz"), "{shown}");
        assert!(!shown.contains("qtok987654"), "{shown}");
        assert!(shown.contains("\"https://h/x?<redacted>\""), "{shown}");
        let plain = request(vec![], "https://h/x?a=1#f");
        assert!(format!("{plain:?}").contains("https://h/x?a=1#f"));
    }

    #[test]
    fn response_debug_shows_body_size_only() {
        let r = HttpResponse {
            status: 403,
            headers: vec![
                HttpHeader::new("Set-Cookie", "sid=cookie_secret_1"),
                HttpHeader::new("Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ],
            body: b"{\"error\":\"bad token body_secret_2\"}".to_vec(),
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("cookie_secret_1"), "{shown}");
        assert!(!shown.contains("body_secret_2"), "{shown}");
        assert!(
            shown.contains("<35 bytes>") && shown.contains("403"),
            "{shown}"
        );
        assert!(shown.contains("22:13:20"), "{shown}");
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_first_wins() {
        let r = HttpResponse {
            status: 200,
            headers: vec![
                HttpHeader::new("DATE", "first"),
                HttpHeader::new("date", "second"),
            ],
            body: vec![],
        };
        assert_eq!(r.header("Date"), Some("first"));
        assert_eq!(r.header("dAtE"), Some("first"));
        assert_eq!(r.header("Dat"), None);
    }

    #[test]
    fn secrets_of_a_request() {
        let r = request(
            vec![HttpHeader::new("authorization", " Bearer  abc ")],
            "https://h/?access_token=zzz",
        );
        let s = request_secrets(&r);
        assert!(s.contains(&"Bearer  abc"));
        assert!(s.contains(&"abc"));
        assert!(s.contains(&"zzz"));
        let r2 = request(vec![], "https://h/?x=1&ACCESS_TOKEN=a&b#c&d=1");
        let s2 = request_secrets(&r2);
        assert!(s2.contains(&"a&b#c&d=1") && s2.contains(&"a"), "{s2:?}");
        assert_eq!(scrub("t=a&b#c&d=1 a", &s2), "t=<redacted> <redacted>");
        assert_eq!(
            scrub("x Bearer  abc y abc zzz", &s),
            "x <redacted> y <redacted> <redacted>"
        );
        assert_eq!(scrub("nothing", &["", "q"]), "nothing");
        assert_eq!(
            scrub("https://syt_abc.x and SYT_ABC é syt_AbC", &["syt_AbC"]),
            "https://<redacted>.x and <redacted> é <redacted>"
        );
        // A piece of 8 or more characters goes too; shorter ones stay.
        assert_eq!(
            scrub("to https://abcdefghij/ and ghijkl, é", &["AbCdEfGhIj/KlMn"]),
            "to https://<redacted> and ghijkl, é"
        );
    }

    #[test]
    fn user_agent_names_the_crate_version() {
        assert_eq!(USER_AGENT, format!("mxclock/{}", env!("CARGO_PKG_VERSION")));
    }
}
