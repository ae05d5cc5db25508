//! Keeping the access token out of messages.
//!
//! Text from outside (a server's Matrix error, a `Location` header, a
//! foreign transport's exception) reaches an [`Error`] in two places only,
//! and each scrubs it there, once: [`response_to_error`] and
//! [`TransportError::into_error`]. The parsers of this module never quote
//! reply text at all.
//!
//! A server may echo the token in another spelling, so the scrubber reads
//! the text the way a person could: percent escapes (`%2B`, `%2b`, double
//! `%252B`), JSON escapes (`\/`, `\u002b`) and HTML character references
//! (`&#43;`, `&#x2F;`) decoded, ASCII case ignored. Whatever run of the
//! text decodes to the whole token, or to a piece of at least
//! [`PARTIAL_SECRET_MIN`] characters of it (an echo cut short), is replaced
//! by `<redacted>`.
//!
//! [`response_to_error`]: super::response_to_error
//! [`TransportError::into_error`]: crate::transport::TransportError::into_error

use crate::error::Error;
use crate::transport::HttpRequest;

/// What replaces a secret in a message or a `Debug` output.
pub(crate) const REDACTED: &str = "<redacted>";

/// Shortest piece of a secret that is redacted on its own. Random tokens
/// do not share 8 characters with ordinary message text.
pub(super) const PARTIAL_SECRET_MIN: usize = 8;

/// Longest text scrubbed (16 KiB): a longer foreign message is cut first,
/// so that scrubbing stays cheap whatever a transport throws.
const MAX_SCRUBBED_BYTES: usize = 16 * 1024;

/// Header names whose values are secrets.
pub(crate) const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The secrets of one request, lower-cased, ready to scrub text with.
pub(crate) struct Secrets {
    /// (secret, whether pieces of it count too)
    secrets: Vec<(Vec<u8>, bool)>,
}

impl Secrets {
    /// The full value of each secret header, for `Authorization: Bearer x`
    /// also `x` alone, and any `access_token` query parameter.
    pub(crate) fn of_request(request: &HttpRequest) -> Secrets {
        let mut secrets = Vec::new();
        for h in &request.headers {
            let name = h.name.trim();
            if !SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                continue;
            }
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
        Secrets {
            secrets: secrets
                .into_iter()
                .filter(|s| !s.is_empty())
                // `Bearer x` counts whole only: its pieces are `x`'s, and a
                // piece must not swallow the word `Bearer` before a redaction.
                .map(|s| (s.to_ascii_lowercase().into_bytes(), !s.contains(' ')))
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every spelling of every secret, and of every piece of at
    /// least [`PARTIAL_SECRET_MIN`] characters, replaced by `<redacted>`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let text = cut(text, MAX_SCRUBBED_BYTES);
        let units = decode(text);
        let mut out = String::with_capacity(text.len());
        let mut p = 0;
        while p < units.len() {
            match self.run_at(&units[p..]) {
                0 => {
                    out.push_str(&text[units[p].start..units[p].end]);
                    p += 1;
                }
                n => {
                    out.push_str(REDACTED);
                    p += n;
                }
            }
        }
        out
    }

    /// How many units from the start of `units` spell a whole secret or a
    /// piece of one at least [`PARTIAL_SECRET_MIN`] long; 0 if none.
    fn run_at(&self, units: &[Unit]) -> usize {
        let mut best = 0;
        for (secret, pieces) in &self.secrets {
            let common = |q: usize| {
                secret[q..]
                    .iter()
                    .zip(units)
                    .take_while(|(s, u)| **s == u.byte)
                    .count()
            };
            if common(0) == secret.len() {
                best = best.max(secret.len());
            } else if *pieces {
                let first = units[0].byte;
                let longest_piece = (0..secret.len())
                    .filter(|&q| secret[q] == first)
                    .map(common)
                    .max()
                    .unwrap_or(0);
                if longest_piece >= PARTIAL_SECRET_MIN {
                    best = best.max(longest_piece);
                }
            }
        }
        best
    }

    /// `error` with every message it carries scrubbed.
    pub(crate) fn scrub_error(&self, error: Error) -> Error {
        if self.is_empty() {
            return error;
        }
        let s = |m: String| self.scrub(&m);
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
            Error::ProtocolViolation(m) => Error::ProtocolViolation(s(m)),
            Error::Unsupported(m) => Error::Unsupported(s(m)),
            Error::InvalidEvent { field, reason } => Error::InvalidEvent {
                field: s(field),
                reason: s(reason),
            },
            Error::NoExpiryRule { event_type } => Error::NoExpiryRule {
                event_type: s(event_type),
            },
            Error::InvalidState(m) => Error::InvalidState(s(m)),
            Error::Internal(m) => Error::Internal(s(m)),
            e @ (Error::NotSynced | Error::RateLimited { .. }) => e,
        }
    }
}

/// `error` with every secret of `request` (the `Authorization` value, the
/// bearer token alone, an `access_token` query parameter), in any spelling
/// and in pieces of 8 characters or more, replaced by `<redacted>`.
///
/// mxclock scrubs what it builds itself (a transport's failure through
/// [`Secrets::scrub_error`]); the tests use this to check every variant.
#[cfg(test)]
pub(crate) fn redact_error(error: Error, request: &HttpRequest) -> Error {
    Secrets::of_request(request).scrub_error(error)
}

/// One character of the text as a reader would decode it: `byte` is its
/// lower-cased ASCII value (0 for anything else, which matches no secret),
/// `start..end` the bytes of the text it came from.
struct Unit {
    byte: u8,
    start: usize,
    end: usize,
}

fn decode(text: &str) -> Vec<Unit> {
    let mut units = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let (byte, len) = escape_at(&text[i..]).unwrap_or_else(|| {
            let c = text[i..].chars().next().unwrap_or('\0');
            let byte = if c.is_ascii() { c as u8 } else { 0 };
            (byte, c.len_utf8())
        });
        units.push(Unit {
            byte: byte.to_ascii_lowercase(),
            start: i,
            end: i + len,
        });
        i += len;
    }
    units
}

/// The ASCII byte an escape at the start of `s` stands for, and its length.
fn escape_at(s: &str) -> Option<(u8, usize)> {
    let hex = |from: usize, len: usize| {
        let h = s.get(from..from + len)?;
        h.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(h, 16).ok())
            .flatten()
    };
    let double = s.starts_with("%25").then(|| hex(3, 2)).flatten();
    let (code, len) = if let Some(code) = double {
        // Double percent-encoding: `%252B` is `%2B` is `+`.
        (code, 5)
    } else if s.starts_with('%') {
        (hex(1, 2)?, 3)
    } else if s.starts_with("\\u") {
        (hex(2, 4)?, 6)
    } else if s.starts_with("\\/") {
        (u32::from(b'/'), 2)
    } else if let Some(rest) = s.strip_prefix("&#x").or_else(|| s.strip_prefix("&#X")) {
        let end = rest.find(';').filter(|&e| (1..=4).contains(&e))?;
        (hex(3, end)?, 3 + end + 1)
    } else if let Some(rest) = s.strip_prefix("&#") {
        let end = rest.find(';').filter(|&e| (1..=4).contains(&e))?;
        (rest[..end].parse().ok()?, 2 + end + 1)
    } else {
        return None;
    };
    u8::try_from(code)
        .ok()
        .filter(u8::is_ascii)
        .map(|b| (b, len))
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpHeader;

    fn request(headers: Vec<HttpHeader>, url: &str) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            headers,
            timeout_ms: 1_000,
        }
    }

    fn bearer(token: &str) -> Secrets {
        Secrets::of_request(&request(
            vec![HttpHeader::new("Authorization", format!("Bearer {token}"))],
            "https://h/x",
        ))
    }

    #[test]
    fn secrets_of_a_request() {
        let s = Secrets::of_request(&request(
            vec![HttpHeader::new("authorization", " Bearer  abc ")],
            "https://h/?access_token=zzz",
        ));
        assert_eq!(
            s.scrub("x Bearer  abc y abc zzz"),
            "x <redacted> y <redacted> <redacted>"
        );
        let s2 = Secrets::of_request(&request(vec![], "https://h/?x=1&ACCESS_TOKEN=a&b#c&d=1"));
        assert_eq!(s2.scrub("t=a&b#c&d=1 a"), "t=<redacted> <redacted>");
        let none = Secrets::of_request(&request(vec![], "https://h/"));
        assert_eq!(none.scrub("nothing %2B"), "nothing %2B");
    }

    #[test]
    fn any_case_and_pieces() {
        let s = bearer("syt_AbC");
        assert_eq!(
            s.scrub("https://syt_abc.x and SYT_ABC é syt_AbC"),
            "https://<redacted>.x and <redacted> é <redacted>"
        );
        // A piece of 8 or more characters goes too; shorter ones stay.
        let s = bearer("AbCdEfGhIj/KlMn");
        assert_eq!(
            s.scrub("to https://abcdefghij/ and ghijkl, é"),
            "to https://<redacted> and ghijkl, é"
        );
    }

    #[test]
    fn encoded_spellings() {
        let s = bearer("syt+a1b2c3/d4e5f6+g7h8==");
        for spelled in [
            "syt%2Ba1b2c3%2Fd4e5f6%2Bg7h8%3D%3D",
            "syt%2ba1b2c3%2fd4e5f6%2bg7h8%3d%3d",
            "SYT%2BA1B2C3%2FD4E5F6%2BG7H8%3D%3D",
            "syt%252Ba1b2c3%252Fd4e5f6%252Bg7h8%253D%253D",
            "syt\\u002ba1b2c3\\/d4e5f6\\u002Bg7h8\\u003d\\u003d",
            "syt&#43;a1b2c3&#x2F;d4e5f6&#43;g7h8&#61;&#x3d;",
            "%73%79%74%2b%61%31%62%32%63%33%2f%64%34%65%35%66%36%2b%67%37%68%38%3d%3d",
        ] {
            assert_eq!(
                s.scrub(&format!("[{spelled}]")),
                "[<redacted>]",
                "{spelled}"
            );
        }
        // Pieces of 8 characters, encoded.
        assert_eq!(s.scrub("x a1b2c3%2Fd4 y"), "x <redacted> y");
        assert_eq!(s.scrub("x a1b2c3%2F y"), "x a1b2c3%2F y");
        // Broken escapes are ordinary text.
        assert_eq!(s.scrub("%zz %2 \\u00 &#; &#x;"), "%zz %2 \\u00 &#; &#x;");
    }

    #[test]
    fn long_texts_are_cut_and_scrubbed() {
        let token = "t".repeat(4096);
        let s = bearer(&token);
        let text = format!("{}{token}{}", "a".repeat(1000), "b".repeat(100_000));
        let out = s.scrub(&text);
        assert!(out.len() <= MAX_SCRUBBED_BYTES, "{}", out.len());
        assert!(!out.contains("tttttttt"));
        assert!(out.starts_with(&"a".repeat(1000)));
        assert_eq!(cut("éé", 3), "é");
    }

    #[test]
    fn every_variant_is_scrubbed() {
        let s = bearer("syt_secret_0123456789");
        let m = "it was syt%5Fsecret%5F0123456789".to_owned();
        let errors = [
            Error::InvalidConfig(m.clone()),
            Error::InvalidArgument(m.clone()),
            Error::TimeOutOfRange(m.clone()),
            Error::Inconsistent(m.clone()),
            Error::Network(m.clone()),
            Error::Timeout {
                what: m.clone(),
                timeout_ms: 1,
            },
            Error::Http {
                status: 500,
                message: m.clone(),
            },
            Error::ProtocolViolation(m.clone()),
            Error::Unsupported(m.clone()),
            Error::InvalidEvent {
                field: m.clone(),
                reason: m.clone(),
            },
            Error::NoExpiryRule {
                event_type: m.clone(),
            },
            Error::InvalidState(m.clone()),
            Error::Internal(m.clone()),
        ];
        for e in errors {
            let shown = format!("{}", s.scrub_error(e));
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn redact_error_example() {
        use crate::{
            protocol::redact_error,
            transport::{HttpHeader, HttpRequest},
            Error,
        };
        let req = HttpRequest {
            url: "https://h.example/x".into(),
            headers: vec![HttpHeader::new("Authorization", "Bearer syt+secret/token")],
            timeout_ms: 1_000,
        };
        let e = redact_error(Error::Network("echo: syt%2Bsecret%2Ftoken".into()), &req);
        assert_eq!(e.to_string(), "network error: echo: <redacted>");
    }
}
