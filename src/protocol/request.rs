//! The two GETs mxclock makes: the MSC4094 endpoint (with the token) and
//! the `Date` probe (without).

use super::url::HomeserverUrl;
use crate::transport::{HttpHeader, HttpRequest};

/// The MSC4094 endpoint, relative to the homeserver base URL.
pub const DEFAULT_ENDPOINT_PATH: &str = "/_matrix/client/v3/get_server_now";

/// Path probed for `Date` headers when the endpoint is missing: cheap,
/// unauthenticated, served by every homeserver.
pub const DATE_PROBE_PATH: &str = "/_matrix/client/versions";

/// The MSC4094 request: `GET {homeserver}{endpoint_path}` with
/// `Accept: application/json`, `Cache-Control: no-cache` (a cached reply
/// would carry a stale time) and, only when a non-empty token is given,
/// `Authorization: Bearer <token>`.
///
/// ```
/// use mxclock::__internal::server_now_request;
/// use mxclock::{HomeserverUrl, DEFAULT_ENDPOINT_PATH};
/// let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
/// let req = server_now_request(&url, DEFAULT_ENDPOINT_PATH, None, 5_000);
/// assert_eq!(req.url, "https://matrix.example.org/_matrix/client/v3/get_server_now");
/// assert_eq!(req.header("Cache-Control"), Some("no-cache"));
/// assert_eq!(req.header("Authorization"), None);
/// ```
pub fn server_now_request(
    url: &HomeserverUrl,
    endpoint_path: &str,
    access_token: Option<&str>,
    timeout_ms: u64,
) -> HttpRequest {
    let mut headers = vec![
        HttpHeader::new("Accept", "application/json"),
        HttpHeader::new("Cache-Control", "no-cache"),
    ];
    if let Some(token) = access_token.filter(|t| !t.is_empty()) {
        headers.push(HttpHeader::new("Authorization", format!("Bearer {token}")));
    }
    HttpRequest {
        url: url.join(endpoint_path),
        headers,
        timeout_ms,
    }
}

/// A `Date` probe: `GET {homeserver}/_matrix/client/versions` with
/// `Cache-Control: no-cache` and no token (the path needs none, and a reply
/// from it is only read for its `Date` header).
pub(crate) fn date_probe_request(url: &HomeserverUrl, timeout_ms: u64) -> HttpRequest {
    HttpRequest {
        url: url.join(DATE_PROBE_PATH),
        headers: vec![
            HttpHeader::new("Cache-Control", "no-cache"),
            HttpHeader::new("Accept", "application/json"),
        ],
        timeout_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_now_request() {
        let url = HomeserverUrl::parse("https://h.example/base", false).unwrap();
        let r = server_now_request(&url, "/_matrix/client/v3/get_server_now", Some("tok"), 1234);
        assert_eq!(
            r.url,
            "https://h.example/base/_matrix/client/v3/get_server_now"
        );
        assert_eq!(r.timeout_ms, 1234);
        assert_eq!(r.header("authorization"), Some("Bearer tok"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        for none in [None, Some("")] {
            let r = server_now_request(&url, "/x", none, 1);
            assert_eq!(r.header("Authorization"), None);
            assert_eq!(r.headers.len(), 2);
        }
    }

    #[test]
    fn the_date_probe() {
        let url = HomeserverUrl::parse("http://127.0.0.1:8008/base", false).unwrap();
        let r = date_probe_request(&url, 77);
        assert_eq!(r.url, "http://127.0.0.1:8008/base/_matrix/client/versions");
        assert_eq!(r.timeout_ms, 77);
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert_eq!(r.header("authorization"), None);
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn date_probe_request_example() {
        use crate::protocol::{date_probe_request, HomeserverUrl};
        let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
        let req = date_probe_request(&url, 5_000);
        assert_eq!(
            req.url,
            "https://matrix.example.org/_matrix/client/versions"
        );
        assert_eq!(req.header("Authorization"), None);
    }
}
