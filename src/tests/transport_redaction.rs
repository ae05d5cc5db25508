//! The access token never appears in any `Debug`, `Display` or error output
//! of the protocol and transport layers, whatever the token looks like and
//! in whatever spelling a server or a foreign transport echoes it:
//! percent-encoded (either case of hex, doubled), JSON-escaped, HTML
//! character references, case-folded, or a piece of 8 characters or more.

use crate::protocol::{
    redact_error, response_to_error, server_now_request, validate_access_token, HomeserverUrl,
    DEFAULT_ENDPOINT_PATH, MAX_ACCESS_TOKEN_BYTES,
};
use crate::transport::{HttpHeader, HttpRequest, HttpResponse, TransportError};
use crate::Error;
use proptest::prelude::*;

/// Tokens as homeservers issue them (Synapse `syt_…`, Conduit random
/// alphanumerics, macaroons with `+/=`): Bearer `b64token`s, long enough
/// that an accidental match with other text is impossible.
fn valid_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "syt_[A-Za-z0-9]{8,24}_[A-Za-z0-9]{20}_[A-Za-z0-9]{6}",
        "[A-Za-z0-9]{16,64}",
        "MDA[A-Za-z0-9+/]{20,80}={0,2}",
        "[A-Za-z0-9._~+/-]{16,64}",
    ]
}

/// Any printable ASCII: what an app might pass without validating.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![valid_token(), "[!-~]{16,64}"]
}

fn homeserver() -> HomeserverUrl {
    HomeserverUrl::parse("https://matrix.example.org", false).unwrap()
}

#[path = "../../tests/support/spelling.rs"]
mod spelling;

use spelling::{json_escape_all, percent_encode, token_piece_in};

/// Fails when `shown` holds 8 characters of the token in any spelling.
fn assert_hidden(shown: &str, token: &str) -> Result<(), TestCaseError> {
    if let Some(piece) = token_piece_in(token, shown) {
        prop_assert!(
            false,
            "the piece {:?} of the token leaked in {}",
            piece,
            shown
        );
    }
    Ok(())
}

/// The spellings a server or a transport might echo the token in.
fn spellings(token: &str) -> Vec<String> {
    let pct = |upper: bool| percent_encode(token, !upper);
    let every_byte: String = token.bytes().map(|b| format!("%{b:02x}")).collect();
    let json = json_escape_all(token);
    let html: String = token
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#{};", c as u32)
            }
        })
        .collect();
    let mid = token.len() / 2;
    let piece = &token[mid.saturating_sub(5)..(mid + 5).min(token.len())];
    vec![
        token.to_owned(),
        pct(true),
        pct(false),
        pct(true).replace('%', "%25"),
        every_byte,
        json,
        html,
        token.to_ascii_uppercase(),
        token.to_ascii_lowercase(),
        format!("Bearer {}", pct(true)),
        piece.to_owned(),
        piece
            .replace('+', "%2B")
            .replace('/', "%2f")
            .replace('=', "%3D"),
    ]
}

const STATUSES: [u16; 14] = [
    301, 302, 304, 307, 400, 401, 403, 404, 405, 418, 429, 500, 502, 503,
];

/// A response a server might send, echoing the token (spelled `echo`) in
/// body number `body` and `Location` number `location` (each of 0..4).
fn response(status: u16, echo: &str, body: usize, location: usize) -> HttpResponse {
    let body = match body {
        0 => r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#.to_owned(),
        1 => format!(r#"{{"errcode":"M_FORBIDDEN","error":"token {echo} is not allowed"}}"#),
        2 => format!(r#"{{"errcode":"{echo}","error":"x"}}"#),
        _ => format!("<html>{echo}</html>"),
    };
    let location = match location {
        0 => format!("https://evil.example/?t={echo}"),
        1 => format!("https://{echo}.evil.example/"),
        2 => format!("https://u:{echo}@evil.example/"),
        _ => format!("/{echo}"),
    };
    HttpResponse {
        status,
        headers: vec![
            HttpHeader::new("Location", location),
            HttpHeader::new("Retry-After", "3"),
        ],
        body: body.into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_debug_never_shows_the_token(token in token()) {
        let request = server_now_request(&homeserver(), DEFAULT_ENDPOINT_PATH, Some(&token), 5_000);
        let bearer = format!("Bearer {token}");
        prop_assert_eq!(request.header("Authorization"), Some(bearer.as_str()));
        let shown = format!("{request:?} {request:#?} {:?}", request.headers);
        assert_hidden(&shown, &token)?;
        prop_assert!(shown.contains("<redacted>"));

        // Any spelling of the header name, any other header, token in the query.
        let request = HttpRequest {
            url: format!("https://h.example/x?access_token={token}&b=1"),
            headers: vec![
                HttpHeader::new("AUTHORIZATION", format!("Bearer {token}")),
                HttpHeader::new("authorization", token.clone()),
                HttpHeader::new("Accept", "application/json"),
            ],
            timeout_ms: 1,
        };
        assert_hidden(&format!("{request:?} {request:#?}"), &token)?;
    }

    /// Replies echoing the token in any spelling, in the Matrix error, the
    /// errcode, an HTML body or any part of a `Location`.
    #[test]
    fn errors_about_responses_never_show_the_token(
        token in valid_token(),
        status in prop::sample::select(STATUSES.to_vec()),
        body in 0usize..4,
        location in 0usize..4,
    ) {
        prop_assert!(validate_access_token(&token).is_ok());
        let request = server_now_request(&homeserver(), DEFAULT_ENDPOINT_PATH, Some(&token), 5_000);
        for echo in spellings(&token) {
            let e = response_to_error(&response(status, &echo, body, location), &request);
            assert_hidden(&format!("{e} {e:?}"), &token)?;
        }
    }

    /// A foreign transport's failure, whatever spelling its message holds,
    /// is scrubbed by the one conversion to the crate's error.
    #[test]
    fn transport_errors_never_show_the_token(token in valid_token()) {
        let request = server_now_request(&homeserver(), DEFAULT_ENDPOINT_PATH, Some(&token), 5_000);
        for echo in spellings(&token) {
            let reason = format!("IOException: stream closed; request had {echo} in it");
            for e in [
                TransportError::Network { reason: reason.clone() },
                TransportError::Timeout { reason: reason.clone() },
                TransportError::BadReply { reason: reason.clone() },
                TransportError::InvalidRequest { reason: reason.clone() },
            ] {
                let e = e.into_error(&request);
                assert_hidden(&format!("{e} {e:?}"), &token)?;
            }
        }
    }

    #[test]
    fn redact_error_scrubs_every_variant(token in token()) {
        let request = server_now_request(&homeserver(), DEFAULT_ENDPOINT_PATH, Some(&token), 5_000);
        let m = format!("header was Bearer {token}, token {token}");
        let errors = vec![
            Error::InvalidConfig(m.clone()),
            Error::InvalidArgument(m.clone()),
            Error::TimeOutOfRange(m.clone()),
            Error::Inconsistent(m.clone()),
            Error::Network(m.clone()),
            Error::Timeout { what: m.clone(), timeout_ms: 1 },
            Error::Http { status: 500, message: m.clone() },
            Error::ProtocolViolation(m.clone()),
            Error::Unsupported(m.clone()),
            Error::InvalidEvent { field: m.clone(), reason: m.clone() },
            Error::NoExpiryRule { event_type: m.clone() },
            Error::InvalidState(m.clone()),
            Error::Internal(m.clone()),
        ];
        for e in errors {
            let e = redact_error(e, &request);
            assert_hidden(&format!("{e} {e:?}"), &token)?;
            prop_assert!(e.to_string().contains("<redacted>"));
        }
    }

    #[test]
    fn token_validation_never_shows_the_token(token in "[ -~\u{80}-\u{10ffff}\r\n\t]{16,64}") {
        if let Err(e) = validate_access_token(&token) {
            assert_hidden(&format!("{e} {e:?}"), &token)?;
        }
    }

    /// The length limit: up to 4 KiB of token characters pass, more never.
    #[test]
    fn token_length_limit(len in 1usize..10_000, c in "[A-Za-z0-9._~+/-]") {
        let token = c.repeat(len);
        let r = validate_access_token(&token);
        prop_assert_eq!(r.is_ok(), len <= MAX_ACCESS_TOKEN_BYTES, "{} bytes: {:?}", len, r);
        if let Err(e) = r {
            prop_assert!(e.to_string().contains(&len.to_string()));
        }
    }
}

/// The checker itself: it finds what it must (else every test above would
/// pass vacuously).
#[test]
fn the_leak_checker_sees_every_spelling() {
    let token = "syt+a1b2c3/d4e5f6+g7h8==";
    for echo in spellings(token) {
        let found = assert_hidden(&format!("x {echo} y"), token).is_err();
        assert!(found, "{echo}");
    }
    assert!(assert_hidden("nothing here", token).is_ok());
}

#[cfg(feature = "http")]
mod over_the_network {
    use super::*;
    use crate::transport::{HttpTransport, UreqTransport};
    use std::net::TcpListener;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The built-in transport's own errors (here: connection refused, and
        /// headers that cannot be sent) never carry the token, before or
        /// after the conversion.
        #[test]
        fn ureq_errors_never_show_the_token(token in token(), bad in "[\r\n\u{0}]") {
            let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            let url = HomeserverUrl::parse(&format!("http://{addr}"), false).unwrap();
            let transport = UreqTransport::new();
            let request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some(&token), 2_000);
            let e = transport.get(request.clone()).unwrap_err();
            prop_assert!(matches!(e, TransportError::Network { .. }), "{:?}", e);
            assert_hidden(&format!("{e} {e:?}"), &token)?;
            let e = e.into_error(&request);
            assert_hidden(&format!("{e} {e:?}"), &token)?;

            let broken = format!("{token}{bad}{token}");
            let request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some(&broken), 2_000);
            let e = transport.get(request).unwrap_err();
            assert_hidden(&format!("{e} {e:?}"), &token)?;
        }
    }
}
