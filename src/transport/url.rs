//! The homeserver URL: parsed by hand (no `url` crate), strictly, once, at
//! configuration time (DESIGN.md section 9: HTTPS unless loopback or opted in;
//! no credentials in URLs).
//!
//! Accepted: `https://host[:port][/base/path]`, and `http://` only for a
//! loopback host (`127.0.0.0/8`, `[::1]`, `localhost`) or with
//! `allow_insecure_http`. `host` is a DNS name (ASCII; IDNs in their `xn--`
//! form), an IPv4 address in dotted-decimal form, or a bracketed IPv6 literal.
//! Rejected, each with a message saying what to do: other schemes, user
//! names and passwords, queries, fragments, whitespace, empty hosts, bad
//! ports, and `.`/`..`/empty path segments.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// A validated homeserver base URL.
///
/// ```
/// use mxclock::transport::HomeserverUrl;
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
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HomeserverUrl {
    https: bool,
    /// Lower-cased host; IPv6 literals with their brackets, in canonical form.
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
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(invalid(
                "homeserver URL has no scheme; write it as https://host (e.g. https://matrix.example.org)",
            ));
        };
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(invalid(format!(
                "homeserver URL scheme `{}` is not supported; use https://",
                truncate(scheme, 16)
            )));
        };
        if rest.contains('#') {
            return Err(invalid(
                "homeserver URL must not contain a fragment (#...); remove it",
            ));
        }
        if rest.contains('?') {
            return Err(invalid(
                "homeserver URL must not contain a query (?...); give the base URL only, \
                 and the access token separately",
            ));
        }
        if rest.contains('\\') {
            return Err(invalid(
                "homeserver URL contains a backslash; use forward slashes",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            // Do not echo the authority: it holds a user name or password.
            return Err(invalid(
                "homeserver URL must not contain a user name or password (user:pass@host); \
                 remove it and configure the access token separately",
            ));
        }
        let (host, loopback, port_text) = parse_authority(authority)?;
        let port = match port_text {
            None => None,
            Some(p) => {
                let port = parse_port(p)?;
                let default = if https { 443 } else { 80 };
                (port != default).then_some(port)
            }
        };
        let base_path = parse_base_path(path)?;
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
            base_path,
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
    /// configured paths with [`validate_endpoint_path`]).
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
/// `/_matrix/client/v3/get_server_now`: it starts with `/`, has no query,
/// fragment, whitespace, backslash, `.`/`..` or empty segment, and only
/// URL path characters.
pub fn validate_endpoint_path(path: &str) -> Result<()> {
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

/// Splits `host[:port]` / `[v6][:port]`; returns (normalised host, is
/// loopback, port text).
fn parse_authority(authority: &str) -> Result<(String, bool, Option<&str>)> {
    if authority.is_empty() {
        return Err(invalid(
            "homeserver URL has no host; write it as https://host",
        ));
    }
    if let Some(after_bracket) = authority.strip_prefix('[') {
        let Some((literal, after)) = after_bracket.split_once(']') else {
            return Err(invalid(
                "homeserver URL has an IPv6 address without its closing `]`",
            ));
        };
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
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(invalid(
                        "homeserver URL has characters after the IPv6 address; \
                         only :port may follow the closing ]",
                    ))
                }
            },
        };
        let loopback =
            addr.is_loopback() || addr.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
        return Ok((format!("[{addr}]"), loopback, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(invalid(
            "homeserver URL has no host; write it as https://host",
        ));
    }
    if host.contains(']') || host.contains('[') {
        return Err(invalid(
            "homeserver URL has a stray [ or ]; write IPv6 addresses as [2001:db8::1]",
        ));
    }
    let host = host.to_ascii_lowercase();
    let loopback = parse_host_name(&host)?;
    Ok((host, loopback, port))
}

/// Validates a DNS name or dotted IPv4 address (already lower-cased);
/// returns whether it is loopback.
fn parse_host_name(host: &str) -> Result<bool> {
    if host.len() > 253 {
        return Err(invalid(
            "homeserver host name is longer than 253 characters",
        ));
    }
    // A trailing dot (fully qualified name) is legal; look at the labels
    // without it.
    let name = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = name.split('.').collect();
    let last = labels.last().copied().unwrap_or("");
    // Like browsers: a name whose last label is numeric is an IPv4 address,
    // and only the plain dotted-decimal form is accepted (no 127.1, 0x7f...).
    let hex_number = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || hex_number) {
        let addr: Ipv4Addr = name.parse().map_err(|_| {
            invalid(format!(
                "homeserver URL host `{}` is not a valid IPv4 address; write four decimal \
                 numbers 0-255 without leading zeros, e.g. 192.0.2.1",
                truncate(host, 64)
            ))
        })?;
        return Ok(addr.is_loopback());
    }
    for label in &labels {
        if label.is_empty() {
            return Err(invalid(format!(
                "homeserver URL host `{}` has an empty label (.. or a leading dot)",
                truncate(host, 64)
            )));
        }
        if label.len() > 63 {
            return Err(invalid(
                "homeserver URL host has a label longer than 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!(
                "homeserver URL host `{}` contains characters not allowed in a host name \
                 (letters, digits, - and . only)",
                truncate(host, 64)
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(format!(
                "homeserver URL host `{}` has a label starting or ending with -",
                truncate(host, 64)
            )));
        }
    }
    Ok(name == "localhost")
}

fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() {
        return Err(invalid(
            "homeserver URL has a `:` but no port; remove the `:` or add a port number",
        ));
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
        return Err(invalid(format!(
            "homeserver URL port `{}` is not a number between 1 and 65535",
            truncate(p, 16)
        )));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(invalid(format!(
            "homeserver URL port {p} is not between 1 and 65535"
        ))),
    }
}

fn parse_base_path(path: &str) -> Result<String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    check_path_segments(trimmed, "homeserver URL path")?;
    Ok(trimmed.to_owned())
}

/// `path` starts with `/` and has no trailing slash to worry about.
fn check_path_segments(path: &str, what: &str) -> Result<()> {
    let body = path.strip_prefix('/').unwrap_or(path);
    for segment in body.split('/') {
        match segment {
            "" => {
                return Err(invalid(format!(
                    "{what} contains an empty segment (//); remove the extra slash"
                )))
            }
            "." | ".." => {
                return Err(invalid(format!(
                    "{what} contains a `.` or `..` segment; give the resolved path"
                )))
            }
            _ => {}
        }
        let bytes = segment.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let ok = bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit();
                if !ok {
                    return Err(invalid(format!(
                        "{what} has a `%` that is not followed by two hex digits"
                    )));
                }
                i += 3;
                continue;
            }
            // RFC 3986 pchar: unreserved / sub-delims / ":" / "@".
            let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
            if !allowed {
                return Err(invalid(format!(
                    "{what} contains `{}`, which must be percent-encoded",
                    b as char
                )));
            }
            i += 1;
        }
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`, lower-cased, default port omitted)
/// of an absolute `http(s)` URL such as a `Location` header, or `None` when
/// `s` is not one. Any user name or password is dropped, never returned.
pub(crate) fn origin_of(s: &str) -> Option<String> {
    let (scheme, rest) = s.trim().split_once("://")?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]:%".contains(&b))
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default = if https { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default).unwrap_or(&authority);
    Some(format!(
        "{}://{authority}",
        if https { "https" } else { "http" }
    ))
}

/// `url` without user info, query or fragment: safe to name in a message.
pub(crate) fn url_for_message(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    match (origin_of(url), url.split_once("://")) {
        (Some(origin), Some((_, rest))) => {
            let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            format!("{origin}{}", truncate(path, 200))
        }
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
        // (input, allow_insecure, as_str, origin, port, loopback)
        let table: &[(&str, bool, &str, &str, u16, bool)] = &[
            (
                "https://matrix.org",
                false,
                "https://matrix.org",
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org/",
                false,
                "https://matrix.org",
                "https://matrix.org",
                443,
                false,
            ),
            (
                "HTTPS://Matrix.ORG",
                false,
                "https://matrix.org",
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org:443",
                false,
                "https://matrix.org",
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://matrix.org:8448",
                false,
                "https://matrix.org:8448",
                "https://matrix.org:8448",
                8448,
                false,
            ),
            (
                "https://matrix.org:00443",
                false,
                "https://matrix.org",
                "https://matrix.org",
                443,
                false,
            ),
            (
                "https://example.org/base",
                false,
                "https://example.org/base",
                "https://example.org",
                443,
                false,
            ),
            (
                "https://example.org/a/b///",
                false,
                "https://example.org/a/b",
                "https://example.org",
                443,
                false,
            ),
            (
                "https://example.org/a%20b/c:d@e",
                false,
                "https://example.org/a%20b/c:d@e",
                "https://example.org",
                443,
                false,
            ),
            (
                "https://xn--bcher-kva.example",
                false,
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
                443,
                false,
            ),
            (
                "https://my_host.example",
                false,
                "https://my_host.example",
                "https://my_host.example",
                443,
                false,
            ),
            (
                "https://example.org.",
                false,
                "https://example.org.",
                "https://example.org.",
                443,
                false,
            ),
            (
                "https://192.0.2.1:8448",
                false,
                "https://192.0.2.1:8448",
                "https://192.0.2.1:8448",
                8448,
                false,
            ),
            (
                "https://[2001:db8::1]",
                false,
                "https://[2001:db8::1]",
                "https://[2001:db8::1]",
                443,
                false,
            ),
            (
                "https://[2001:DB8:0:0:0:0:0:1]:8448/x",
                false,
                "https://[2001:db8::1]:8448/x",
                "https://[2001:db8::1]:8448",
                8448,
                false,
            ),
            (
                "http://127.0.0.1:8008",
                false,
                "http://127.0.0.1:8008",
                "http://127.0.0.1:8008",
                8008,
                true,
            ),
            (
                "http://127.255.0.9",
                false,
                "http://127.255.0.9",
                "http://127.255.0.9",
                80,
                true,
            ),
            (
                "http://127.0.0.1:80/",
                false,
                "http://127.0.0.1",
                "http://127.0.0.1",
                80,
                true,
            ),
            (
                "http://localhost:8008",
                false,
                "http://localhost:8008",
                "http://localhost:8008",
                8008,
                true,
            ),
            (
                "http://LOCALHOST",
                false,
                "http://localhost",
                "http://localhost",
                80,
                true,
            ),
            (
                "http://localhost.",
                false,
                "http://localhost.",
                "http://localhost.",
                80,
                true,
            ),
            (
                "http://[::1]:8008",
                false,
                "http://[::1]:8008",
                "http://[::1]:8008",
                8008,
                true,
            ),
            (
                "http://[0:0:0:0:0:0:0:1]",
                false,
                "http://[::1]",
                "http://[::1]",
                80,
                true,
            ),
            (
                "http://[::ffff:127.0.0.1]:1",
                false,
                "http://[::ffff:127.0.0.1]:1",
                "http://[::ffff:127.0.0.1]:1",
                1,
                true,
            ),
            (
                "http://matrix.example.org",
                true,
                "http://matrix.example.org",
                "http://matrix.example.org",
                80,
                false,
            ),
            (
                "http://10.0.0.1:65535",
                true,
                "http://10.0.0.1:65535",
                "http://10.0.0.1:65535",
                65535,
                false,
            ),
            (
                "https://localhost",
                false,
                "https://localhost",
                "https://localhost",
                443,
                true,
            ),
        ];
        for &(input, insecure, as_str, origin, port, loopback) in table {
            let u = ok(input, insecure);
            assert_eq!(u.as_str(), as_str, "{input}");
            assert_eq!(u.to_string(), as_str, "{input}");
            assert_eq!(u.origin(), origin, "{input}");
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
            ("https:/matrix.org", false, "no scheme"),
            ("https://", false, "no host"),
            ("https:///path", false, "no host"),
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
            ("https://matrix.org:-1", false, "between 1 and 65535"),
            ("https://matrix.org:+443", false, "between 1 and 65535"),
            ("https://matrix.org:44a", false, "between 1 and 65535"),
            ("https://matrix.org:443:443", false, "between 1 and 65535"),
            ("https://ma_trix..org", false, "empty label"),
            ("https://.matrix.org", false, "empty label"),
            ("https://-matrix.org", false, "starting or ending with -"),
            ("https://matrix-.org", false, "starting or ending with -"),
            ("https://mat%72ix.org", false, "not allowed in a host name"),
            ("https://ma*trix.org", false, "not allowed in a host name"),
            ("https://ma!trix.org", false, "not allowed in a host name"),
            ("https://127.1", false, "not a valid IPv4"),
            ("https://1.2.3.256", false, "not a valid IPv4"),
            ("https://01.2.3.4", false, "not a valid IPv4"),
            ("https://example.123", false, "not a valid IPv4"),
            ("https://0x7f.0.0.1", false, "not a valid IPv4"),
            ("https://0x7f", false, "not a valid IPv4"),
            ("https://a.0x", false, "not a valid IPv4"),
            ("https://[::1", false, "closing"),
            ("https://[::1]x", false, "only :port"),
            ("https://[::1]:", false, "no port"),
            ("https://[::1]:70000", false, "between 1 and 65535"),
            ("https://[fe80::1%25eth0]", false, "zone id"),
            ("https://[::g]", false, "invalid IPv6"),
            ("https://[]", false, "invalid IPv6"),
            ("https://[127.0.0.1]", false, "invalid IPv6"),
            ("https://::1", false, "no host"),
            ("https://a]b", false, "stray"),
            ("https://matrix.org\\evil.com", false, "backslash"),
            ("https://matrix.org//x", false, "empty segment"),
            ("https://matrix.org/a//b", false, "empty segment"),
            ("https://matrix.org/a/../b", false, "`..`"),
            ("https://matrix.org/./b", false, "`..`"),
            ("https://matrix.org/a%2", false, "two hex digits"),
            ("https://matrix.org/a%zz", false, "two hex digits"),
            ("https://matrix.org/a\"b", false, "percent-encoded"),
            ("https://matrix.org/a<b", false, "percent-encoded"),
            ("http://matrix.example.org", false, "not encrypted"),
            ("http://10.0.0.1:8008", false, "not encrypted"),
            ("http://[2001:db8::1]", false, "not encrypted"),
            ("http://localhost.example.org", false, "not encrypted"),
            ("http://128.0.0.1", false, "not encrypted"),
        ];
        for &(input, insecure, want) in table {
            let msg = err(input, insecure);
            assert!(
                msg.contains(want),
                "{input:?}: message {msg:?} lacks {want:?}"
            );
        }
        let long_label = format!("https://{}.org", "a".repeat(64));
        assert!(err(&long_label, false).contains("63"));
        let long_host = format!("https://{}org", "abcdefghi.".repeat(26));
        assert!(err(&long_host, false).contains("253"));
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
        for bad in [
            "",
            "/",
            "_matrix/x",
            "/a?b",
            "/a#b",
            "/a b",
            "/a//b",
            "/a/../b",
            "/a/",
            "/é",
            "/a%",
            "/a\\b",
        ] {
            assert!(
                matches!(validate_endpoint_path(bad), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
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
