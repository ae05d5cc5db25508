//! The homeserver URL and the endpoint path: syntax is `http::Uri`'s, and
//! only mxclock's own rules are checked on top:
//!
//! - `https://`, or `http://` to a loopback host (`127.0.0.0/8`, `[::1]`,
//!   `localhost`) or with `allow_insecure_http`;
//! - no user name or password (the access token is configured apart);
//! - no query and no fragment;
//! - no `.`/`..` path segment, also percent-encoded (`%2e%2e`, `%2E.`), and
//!   no empty one (`//`);
//! - a port between 1 and 65535.
//!
//! The URL is parsed once, when a clock is built, and kept parsed.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::uri::PathAndQuery;
use http::Uri;

use crate::error::{Error, Result};

/// A validated homeserver base URL.
///
/// ```
/// use mxclock::HomeserverUrl;
/// let url = HomeserverUrl::parse("https://Matrix.Example.org:8448/base/", false).unwrap();
/// assert_eq!(url.as_str(), "https://matrix.example.org:8448/base");
/// assert_eq!(url.origin(), "https://matrix.example.org:8448");
/// assert_eq!(
///     url.join("/_matrix/client/v3/get_server_now"),
///     "https://matrix.example.org:8448/base/_matrix/client/v3/get_server_now"
/// );
/// // Plain HTTP only on loopback unless the app opts in.
/// assert!(HomeserverUrl::parse("http://127.0.0.1:8008", false).is_ok());
/// assert!(HomeserverUrl::parse("http://matrix.example.org", false).is_err());
/// assert!(HomeserverUrl::parse("http://matrix.example.org", true).is_ok());
/// // Dot segments are refused in any spelling.
/// assert!(HomeserverUrl::parse("https://matrix.example.org/%2e%2E/x", false).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HomeserverUrl {
    https: bool,
    /// Lower-cased host; IPv6 literals in brackets, in canonical form.
    host: String,
    /// Explicit port when it is not the scheme's default.
    port: Option<u16>,
    /// Base path without a trailing slash ("" for the root).
    base_path: String,
    loopback: bool,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidConfig(msg.into())
}

impl HomeserverUrl {
    /// Parses and validates `s`. `allow_insecure_http` permits `http://` to a
    /// non-loopback host (the access token then crosses the network in clear
    /// text: only for test setups).
    pub fn parse(s: &str, allow_insecure_http: bool) -> Result<HomeserverUrl> {
        if s.is_empty() {
            return Err(invalid(
                "homeserver URL is empty; give one like https://matrix.example.org",
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "homeserver URL contains whitespace or control characters; remove them",
            ));
        }
        if !s.is_ascii() {
            return Err(invalid(
                "homeserver URL contains non-ASCII characters; write an internationalised \
                 host name in its xn-- (punycode) form and percent-encode the path",
            ));
        }
        // `http::Uri` drops a fragment silently; a query it keeps, but the
        // message is clearer from here.
        if s.contains('#') {
            return Err(invalid(
                "homeserver URL must not contain a fragment (#...); remove it",
            ));
        }
        if s.contains('?') {
            return Err(invalid(
                "homeserver URL must not contain a query (?...); give the base URL only, \
                 and the access token separately",
            ));
        }
        let uri: Uri = s.parse().map_err(|e| {
            invalid(format!(
                "homeserver URL is not a valid URL ({e}); write it as https://host[:port][/path]"
            ))
        })?;
        let https = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
            Some(scheme) => {
                return Err(invalid(format!(
                    "homeserver URL scheme `{}` is not supported; use https://",
                    truncate(scheme, 16)
                )))
            }
            None => {
                return Err(invalid(
                    "homeserver URL has no scheme; write it as https://host \
                     (e.g. https://matrix.example.org)",
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("homeserver URL has no host; write it as https://host"))?;
        if authority.as_str().contains('@') {
            // Not echoed: it holds a user name or password.
            return Err(invalid(
                "homeserver URL must not contain a user name or password (user:pass@host); \
                 remove it and configure the access token separately",
            ));
        }
        let raw_host = authority.host();
        if raw_host.is_empty() {
            return Err(invalid(
                "homeserver URL has no host; write it as https://host",
            ));
        }
        let (host, loopback) = normalise_host(raw_host)?;
        let port_text = authority.as_str()[raw_host.len()..].strip_prefix(':');
        let port = match port_text {
            None => None,
            Some(p) => {
                let port = parse_port(p)?;
                let default = if https { 443 } else { 80 };
                (port != default).then_some(port)
            }
        };
        let base_path = uri.path().trim_end_matches('/');
        if !base_path.is_empty() {
            check_path_segments(base_path, "homeserver URL path")?;
        }
        if !https && !loopback && !allow_insecure_http {
            return Err(invalid(format!(
                "homeserver URL http://{host} is not encrypted and {host} is not a loopback \
                 address; use https:// (or, for a test setup only, allow insecure HTTP)"
            )));
        }
        Ok(HomeserverUrl {
            https,
            host,
            port,
            base_path: base_path.to_owned(),
            loopback,
        })
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The host, lower-cased; IPv6 literals in brackets (`[::1]`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default (443 or 80).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// The base path without a trailing slash; empty for the root.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// `scheme://host[:port]`, the port only when not the default: the
    /// origin that redirects are compared against.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme(), self.host),
            None => format!("{}://{}", self.scheme(), self.host),
        }
    }

    /// The normalised URL: origin plus base path.
    pub fn as_str(&self) -> String {
        format!("{}{}", self.origin(), self.base_path)
    }

    /// `{base}{path}` with exactly one slash between them, whatever slashes
    /// `path` starts with. `path` is taken as given otherwise (validate
    /// configured paths with `validate_endpoint_path`).
    pub fn join(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        format!("{}{}/{path}", self.origin(), self.base_path)
    }
}

impl fmt::Display for HomeserverUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl fmt::Debug for HomeserverUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HomeserverUrl({})", self.as_str())
    }
}

impl std::str::FromStr for HomeserverUrl {
    type Err = Error;

    /// Parses without allowing insecure HTTP to non-loopback hosts.
    fn from_str(s: &str) -> Result<HomeserverUrl> {
        HomeserverUrl::parse(s, false)
    }
}

/// Checks a configured endpoint path such as
/// `/_matrix/client/v3/get_server_now`: a URI path (`http::Uri`'s syntax)
/// that starts with `/`, is ASCII without whitespace, and has no query,
/// fragment, empty segment or `.`/`..` segment (also percent-encoded).
pub(crate) fn validate_endpoint_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.len() < 2 {
        return Err(invalid(format!(
            "endpoint path `{}` must start with / and name a path, e.g. \
             /_matrix/client/v3/get_server_now",
            truncate(path, 80)
        )));
    }
    if path.contains('?') || path.contains('#') {
        return Err(invalid(
            "endpoint path must not contain a query or a fragment (? or #)",
        ));
    }
    if !path.is_ascii() || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "endpoint path contains whitespace, control or non-ASCII characters; percent-encode them",
        ));
    }
    PathAndQuery::try_from(path).map_err(|e| {
        invalid(format!(
            "endpoint path is not a valid URL path ({e}); percent-encode special characters"
        ))
    })?;
    check_path_segments(path, "endpoint path")
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// The host lower-cased (IPv6 literals in canonical form) and whether it
/// is loopback.
fn normalise_host(host: &str) -> Result<(String, bool)> {
    if let Some(literal) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if literal.contains('%') {
            return Err(invalid(
                "homeserver URL has an IPv6 zone id (%...); zone ids are not supported, \
                 use a global or loopback address",
            ));
        }
        let addr: Ipv6Addr = literal.parse().map_err(|_| {
            invalid(format!(
                "homeserver URL has an invalid IPv6 address [{}]",
                truncate(literal, 45)
            ))
        })?;
        return Ok((format!("[{addr}]"), is_loopback_ip6(addr)));
    }
    let host = host.to_ascii_lowercase();
    let loopback = is_loopback_host(&host);
    Ok((host, loopback))
}

fn is_loopback_ip6(addr: Ipv6Addr) -> bool {
    addr.is_loopback() || addr.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
}

/// Whether `host` (as in a URL: IPv6 in brackets) is loopback by mxclock's
/// rule: `127.0.0.0/8` in dotted-decimal form, `::1` (also IPv4-mapped),
/// or `localhost`. Other spellings that a resolver might map to loopback
/// (`127.1`, `2130706433`) are not, so they need HTTPS like any other host.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if let Some(literal) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return literal.parse::<Ipv6Addr>().is_ok_and(is_loopback_ip6);
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.")
}

fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() {
        return Err(invalid(
            "homeserver URL has a `:` but no port; remove the `:` or add a port number",
        ));
    }
    // `http::Uri` reads an out-of-range port as no port at all (`:65536`
    // would silently become 443): check the text.
    match p
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| p.parse::<u32>())
    {
        Some(Ok(n @ 1..=65535)) => Ok(n as u16),
        _ => Err(invalid(format!(
            "homeserver URL port `{}` is not a number between 1 and 65535",
            truncate(p, 16)
        ))),
    }
}

/// `path` starts with `/` and has no trailing slash to worry about.
fn check_path_segments(path: &str, what: &str) -> Result<()> {
    if path.contains('\\') {
        return Err(invalid(format!(
            "{what} contains a backslash; use forward slashes"
        )));
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    for segment in body.split('/') {
        if segment.is_empty() {
            return Err(invalid(format!(
                "{what} contains an empty segment (//); remove the extra slash"
            )));
        }
        // Servers and proxies decode `%2e` before resolving dot segments,
        // so `/%2e%2e/` climbs like `/../`; some also split at an encoded
        // `/` or `\`.
        let decoded = percent_decode(segment, what)?;
        if decoded
            .split(|b| *b == b'/' || *b == b'\\')
            .any(|part| matches!(part, b"." | b".."))
        {
            return Err(invalid(format!(
                "{what} contains a `.` or `..` segment (also percent-encoded, e.g. %2e%2e); \
                 give the resolved path"
            )));
        }
    }
    Ok(())
}

/// The bytes `segment` stands for; an error for a `%` not followed by two
/// hex digits.
fn percent_decode(segment: &str, what: &str) -> Result<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = segment
            .get(i + 1..i + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return Err(invalid(format!(
                "{what} has a `%` that is not followed by two hex digits"
            )));
        };
        out.push(byte);
        i += 3;
    }
    Ok(out)
}

/// The origin (`scheme://host[:port]`, lower-cased, default port omitted)
/// of an absolute `http(s)` URL such as a `Location` header, or `None` when
/// `s` is not one. A user name or password is dropped, never returned.
pub(crate) fn origin_of(s: &str) -> Option<String> {
    let uri: Uri = s.trim().parse().ok()?;
    let https = match uri.scheme_str()? {
        scheme if scheme.eq_ignore_ascii_case("https") => true,
        scheme if scheme.eq_ignore_ascii_case("http") => false,
        _ => return None,
    };
    let host = uri.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    let scheme = if https { "https" } else { "http" };
    match uri.port_u16() {
        Some(p) if p != if https { 443 } else { 80 } => Some(format!("{scheme}://{host}:{p}")),
        _ => Some(format!("{scheme}://{host}")),
    }
}

/// `url` without user info, query or fragment: safe to name in a message.
pub(crate) fn url_for_message(url: &str) -> String {
    match (origin_of(url), url.trim().parse::<Uri>()) {
        (Some(origin), Ok(uri)) => format!("{origin}{}", truncate(uri.path(), 200)),
        _ => "<invalid URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str, insecure: bool) -> HomeserverUrl {
        HomeserverUrl::parse(s, insecure).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str, insecure: bool) -> String {
        match HomeserverUrl::parse(s, insecure) {
            Ok(u) => panic!("{s} parsed as {u}"),
            Err(Error::InvalidConfig(m)) => m,
            Err(e) => panic!("{s}: wrong error {e:?}"),
        }
    }

    #[test]
    fn accepted_urls_table() {
        // (input, allow_insecure, as_str, port, loopback); the origin is
        // as_str without the base path.
        let table: &[(&str, bool, &str, u16, bool)] = &[
            (
                "https://matrix.org",
                false,
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org/",
                false,
                "https://matrix.org",
                443,
                false,
            ),
            (
                "HTTPS://Matrix.ORG",
                false,
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org:443",
                false,
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org:8448",
                false,
                "https://matrix.org:8448",
                8448,
                false,
            ),
            (
                "https://matrix.org:00443",
                false,
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://example.org/base",
                false,
                "https://example.org/base",
                443,
                false,
            ),
            (
                "https://example.org/a/b///",
                false,
                "https://example.org/a/b",
                443,
                false,
            ),
            (
                "https://example.org/a%20b/c:d@e",
                false,
                "https://example.org/a%20b/c:d@e",
                443,
                false,
            ),
            (
                "https://example.org/a..b/.well-known",
                false,
                "https://example.org/a..b/.well-known",
                443,
                false,
            ),
            (
                "https://xn--bcher-kva.example",
                false,
                "https://xn--bcher-kva.example",
                443,
                false,
            ),
            (
                "https://example.org.",
                false,
                "https://example.org.",
                443,
                false,
            ),
            (
                "https://192.0.2.1:8448",
                false,
                "https://192.0.2.1:8448",
                8448,
                false,
            ),
            (
                "https://[2001:db8::1]",
                false,
                "https://[2001:db8::1]",
                443,
                false,
            ),
            (
                "https://[2001:DB8:0:0:0:0:0:1]:8448/x",
                false,
                "https://[2001:db8::1]:8448/x",
                8448,
                false,
            ),
            (
                "http://127.0.0.1:8008",
                false,
                "http://127.0.0.1:8008",
                8008,
                true,
            ),
            ("http://127.255.0.9", false, "http://127.255.0.9", 80, true),
            ("http://127.0.0.1:80/", false, "http://127.0.0.1", 80, true),
            (
                "http://localhost:8008",
                false,
                "http://localhost:8008",
                8008,
                true,
            ),
            ("http://LOCALHOST", false, "http://localhost", 80, true),
            ("http://localhost.", false, "http://localhost.", 80, true),
            ("http://[::1]:8008", false, "http://[::1]:8008", 8008, true),
            ("http://[0:0:0:0:0:0:0:1]", false, "http://[::1]", 80, true),
            (
                "http://[::ffff:127.0.0.1]:1",
                false,
                "http://[::ffff:127.0.0.1]:1",
                1,
                true,
            ),
            (
                "http://matrix.example.org",
                true,
                "http://matrix.example.org",
                80,
                false,
            ),
            (
                "http://10.0.0.1:65535",
                true,
                "http://10.0.0.1:65535",
                65535,
                false,
            ),
            ("https://localhost", false, "https://localhost", 443, true),
            // Not loopback by mxclock's rule, though a resolver may say so.
            ("https://127.1", false, "https://127.1", 443, false),
        ];
        for &(input, insecure, as_str, port, loopback) in table {
            let u = ok(input, insecure);
            assert_eq!(u.as_str(), as_str, "{input}");
            assert_eq!(u.to_string(), as_str, "{input}");
            assert!(as_str.starts_with(&u.origin()), "{input}");
            assert_eq!(
                u.origin().len() + u.base_path().len(),
                as_str.len(),
                "{input}"
            );
            assert_eq!(u.port(), port, "{input}");
            assert_eq!(u.is_loopback(), loopback, "{input}");
            // Parsing the normalised form gives the same URL.
            assert_eq!(ok(&u.as_str(), insecure), u, "{input}");
        }
    }

    #[test]
    fn rejected_urls_table() {
        // (input, allow_insecure, a word the message must contain)
        let table: &[(&str, bool, &str)] = &[
            ("", false, "empty"),
            ("matrix.org", false, "no scheme"),
            ("//matrix.org", false, "no scheme"),
            ("ftp://matrix.org", false, "scheme `ftp`"),
            ("wss://matrix.org", false, "use https://"),
            ("https:/matrix.org", false, "not a valid URL"),
            ("https://", false, "not a valid URL"),
            ("https:///path", false, "not a valid URL"),
            ("https://:8448", false, "no host"),
            (
                "https://user:pass@matrix.org",
                false,
                "user name or password",
            ),
            ("https://@matrix.org", false, "user name or password"),
            ("https://matrix.org?x=1", false, "query"),
            ("https://matrix.org/?access_token=abc", false, "query"),
            ("https://matrix.org#frag", false, "fragment"),
            ("https://matrix.org/#", false, "fragment"),
            (" https://matrix.org", false, "whitespace"),
            ("https://matrix.org ", false, "whitespace"),
            ("https://matrix.org\n", false, "whitespace"),
            ("https://mat rix.org", false, "whitespace"),
            ("https://matrix.org\t/x", false, "whitespace"),
            ("https://matrix.org\u{0}", false, "control"),
            ("https://bücher.example", false, "xn--"),
            ("https://matrix.org:", false, "no port"),
            ("https://matrix.org:0", false, "between 1 and 65535"),
            ("https://matrix.org:65536", false, "between 1 and 65535"),
            (
                "https://matrix.org:99999999999",
                false,
                "between 1 and 65535",
            ),
            ("https://matrix.org:+443", false, "between 1 and 65535"),
            ("https://matrix.org:443:443", false, "not a valid URL"),
            ("https://mat%72ix.org", false, "not a valid URL"),
            ("https://[::1", false, "not a valid URL"),
            ("https://[::1]:", false, "no port"),
            ("https://[::1]:70000", false, "between 1 and 65535"),
            ("https://[fe80::1%25eth0]", false, "zone id"),
            ("https://[::g]", false, "invalid IPv6"),
            ("https://::1", false, "not a valid URL"),
            ("https://matrix.org\\evil.com", false, "not a valid URL"),
            ("https://matrix.org//x", false, "empty segment"),
            ("https://matrix.org/a//b", false, "empty segment"),
            ("https://matrix.org/a/../b", false, "`..` segment"),
            ("https://matrix.org/./b", false, "`..` segment"),
            ("https://matrix.org/a/%2e%2e/b", false, "`..` segment"),
            ("https://matrix.org/%2E%2E", false, "`..` segment"),
            ("https://matrix.org/%2e./b", false, "`..` segment"),
            ("https://matrix.org/.%2E/b", false, "`..` segment"),
            ("https://matrix.org/%2e/b", false, "`..` segment"),
            ("https://matrix.org/a/%2e%2e%2fb", false, "`..` segment"),
            ("https://matrix.org/a/..%5Cb", false, "`..` segment"),
            ("https://matrix.org/a\\b", false, "backslash"),
            ("https://matrix.org/a%2", false, "two hex digits"),
            ("https://matrix.org/a%zz", false, "two hex digits"),
            ("https://matrix.org/a<b", false, "not a valid URL"),
            ("http://matrix.example.org", false, "not encrypted"),
            ("http://10.0.0.1:8008", false, "not encrypted"),
            ("http://[2001:db8::1]", false, "not encrypted"),
            ("http://localhost.example.org", false, "not encrypted"),
            ("http://128.0.0.1", false, "not encrypted"),
            ("http://127.1", false, "not encrypted"),
            ("http://2130706433", false, "not encrypted"),
            ("http://0.0.0.0", false, "not encrypted"),
        ];
        for &(input, insecure, want) in table {
            let msg = err(input, insecure);
            assert!(
                msg.contains(want),
                "{input:?}: message {msg:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn userinfo_is_never_echoed() {
        for input in [
            "https://alice:hunter2secret@matrix.org",
            "http://alice:hunter2secret@10.0.0.1",
            "https://alice:hunter2secret@[::1]:99999",
        ] {
            let msg = err(input, false);
            assert!(!msg.contains("hunter2secret"), "{msg}");
            assert!(!msg.contains("alice"), "{msg}");
        }
    }

    #[test]
    fn join_never_doubles_slashes() {
        let root = ok("https://h.example", false);
        let base = ok("https://h.example/base/", false);
        assert_eq!(root.join("/a/b"), "https://h.example/a/b");
        assert_eq!(root.join("a/b"), "https://h.example/a/b");
        assert_eq!(root.join("//a"), "https://h.example/a");
        assert_eq!(root.join(""), "https://h.example/");
        assert_eq!(base.join("/a"), "https://h.example/base/a");
        assert_eq!(base.join("a"), "https://h.example/base/a");
        assert_eq!(base.join("///a/"), "https://h.example/base/a/");
        let v6 = ok("http://[::1]:8008", false);
        assert_eq!(v6.join("/x"), "http://[::1]:8008/x");
    }

    #[test]
    fn endpoint_paths() {
        validate_endpoint_path("/_matrix/client/v3/get_server_now").unwrap();
        validate_endpoint_path("/_matrix/client/unstable/org.matrix.msc4094/get_server_now")
            .unwrap();
        validate_endpoint_path("/a..b/.x/%2e%2ex").unwrap();
        for bad in [
            "",
            "/",
            "_matrix/x",
            "/a?b",
            "/a#b",
            "/a b",
            "/a//b",
            "/a/../b",
            "/a/%2e%2e/b",
            "/a/%2E./b",
            "/%2e",
            "/a/",
            "/é",
            "/a%",
            "/a\\b",
            "/a/..%5cb",
            "/a/%2E%2E%2Fb",
            "/a<b",
        ] {
            assert!(
                matches!(validate_endpoint_path(bad), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.9.9.9",
            "localhost",
            "LocalHost.",
            "[::1]",
            "[::ffff:127.0.0.2]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "127.1",
            "2130706433",
            "0.0.0.0",
            "localhost.example",
            "[::2]",
            "::1",
            "10.0.0.1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn origins_of_locations() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://other.example/x?y#z", Some("https://other.example")),
            ("HTTPS://Other.Example:443/", Some("https://other.example")),
            ("http://127.0.0.1:9000/p", Some("http://127.0.0.1:9000")),
            ("http://h:80", Some("http://h")),
            (
                "https://user:pw@evil.example/p",
                Some("https://evil.example"),
            ),
            ("https://[::1]:8448", Some("https://[::1]:8448")),
            ("/relative/path", None),
            ("ftp://h/", None),
            ("https://", None),
            ("https://bad host/", None),
            ("https://syt%2Babc.evil.example/", None),
        ];
        for &(input, want) in cases {
            assert_eq!(origin_of(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn urls_for_messages_drop_secrets() {
        assert_eq!(
            url_for_message("https://u:p@h.example/a/b?access_token=t#f"),
            "https://h.example/a/b"
        );
        assert_eq!(url_for_message("garbage"), "<invalid URL>");
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn validate_endpoint_path_example() {
        use crate::protocol::validate_endpoint_path;
        assert!(validate_endpoint_path("/_matrix/client/v3/get_server_now").is_ok());
        assert!(validate_endpoint_path("/_matrix/%2E%2e/admin").is_err());
    }
}
