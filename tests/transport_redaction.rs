//! The access token never appears in any `Debug`, `Display` or error output
//! of the transport layer, whatever the token looks like.

use mxclock::transport::{
    redact_error, response_to_error, server_now_request, validate_access_token, HomeserverUrl,
    HttpHeader, HttpRequest, HttpResponse, DEFAULT_ENDPOINT_PATH,
};
use mxclock::Error;
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

fn assert_hidden(shown: &str, token: &str) -> Result<(), TestCaseError> {
    prop_assert!(!shown.contains(token), "token leaked in {}", shown);
    Ok(())
}

/// Responses a server might send, some echoing the token back.
fn responses(token: &str) -> Vec<HttpResponse> {
    let echo = format!(r#"{{"errcode":"M_FORBIDDEN","error":"token {token} is not allowed"}}"#);
    // JSON may escape `/` as `\/`; the decoded text is the token again.
    let escaped = format!(
        r#"{{"errcode":"M_UNKNOWN","error":"bad {}"}}"#,
        token.replace('/', "\\/")
    );
    let statuses = [
        301, 302, 307, 400, 401, 403, 404, 405, 418, 429, 500, 502, 503,
    ];
    let bodies = [
        String::new(),
        r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#.to_owned(),
        r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#.to_owned(),
        echo,
        escaped,
        format!("<html>{token}</html>"),
    ];
    let mut out = Vec::new();
    for status in statuses {
        for body in &bodies {
            out.push(HttpResponse {
                status,
                headers: vec![
                    HttpHeader::new("Location", format!("https://evil.example/?t={token}")),
                    HttpHeader::new("Retry-After", "3"),
                ],
                body: body.clone().into_bytes(),
            });
        }
    }
    out
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

    /// (Tokens a homeserver can issue: a server echoing an invalid one with
    /// JSON escapes would show a different string, which is checked by
    /// `validate_access_token` at configuration time instead.)
    #[test]
    fn errors_about_responses_never_show_the_token(token in valid_token()) {
        prop_assert!(validate_access_token(&token).is_ok());
        let request = server_now_request(&homeserver(), DEFAULT_ENDPOINT_PATH, Some(&token), 5_000);
        for response in responses(&token) {
            let e = response_to_error(&response, &request);
            assert_hidden(&format!("{e} {e:?}"), &token)?;
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
            Error::Protocol(m.clone()),
            Error::Unsupported(m.clone()),
            Error::InvalidEvent { field: m.clone(), reason: m.clone() },
            Error::NoExpiryRule { event_type: m.clone() },
            Error::InvalidState(m.clone()),
            Error::Callback(m.clone()),
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
}

#[cfg(feature = "http")]
mod over_the_network {
    use super::*;
    use mxclock::transport::UreqTransport;
    use std::net::TcpListener;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Transport errors (here: connection refused, and headers that
        /// cannot be sent) never carry the token.
        #[test]
        fn transport_errors_never_show_the_token(token in token(), bad in "[\r\n\u{0}]") {
            let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            let url = HomeserverUrl::parse(&format!("http://{addr}"), false).unwrap();
            let transport = UreqTransport::new();
            let e = transport
                .send(server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some(&token), 2_000))
                .unwrap_err();
            prop_assert!(matches!(e, Error::Network(_)), "{:?}", e);
            assert_hidden(&format!("{e} {e:?}"), &token)?;

            let broken = format!("{token}{bad}{token}");
            let e = transport
                .send(server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some(&broken), 2_000))
                .unwrap_err();
            assert_hidden(&format!("{e} {e:?}"), &token)?;
        }
    }
}
