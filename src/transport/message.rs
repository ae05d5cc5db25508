//! The HTTP messages a transport exchanges: [`HttpRequest`] (always a GET),
//! [`HttpResponse`] and their [`HttpHeader`]s. Their `Debug` output never
//! shows a secret: `Authorization`, `Proxy-Authorization`, `Cookie` and
//! `Set-Cookie` values, an `access_token` query, or a reply body.

use std::fmt;

use crate::protocol::{REDACTED, SECRET_HEADERS};

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
        let name = self.name.trim();
        SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s))
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
/// use mxclock::{HttpHeader, HttpRequest};
/// let req = HttpRequest {
///     url: "https://matrix.example.org/_matrix/client/v3/get_server_now".into(),
///     headers: vec![HttpHeader::new("Authorization", "Bearer syt_secret")],
///     timeout_ms: 5_000,
/// };
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
    /// Body bytes, at most 64 KiB (`transport::MAX_BODY_BYTES`).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive), e.g. `Date`.
    ///
    /// ```
    /// use mxclock::{HttpHeader, HttpResponse};
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

/// The URL with its query and fragment replaced by `<redacted>` when they
/// mention `access_token` (old Matrix clients put the token there; mxclock
/// never does). The whole rest goes, because a raw token may itself contain
/// `&` or `#`.
fn redact_url_query(url: &str) -> String {
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
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn http_request_debug_redacts_the_token() {
        use crate::protocol::{server_now_request, HomeserverUrl};
        let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
        let req = server_now_request(
            &url,
            "/_matrix/client/v3/get_server_now",
            Some("syt_secret"),
            5_000,
        );
        let shown = format!("{req:?}");
        assert!(!shown.contains("syt_secret"));
        assert!(shown.contains("Authorization: <redacted>"));
    }
}
