//! Property tests of the pure protocol parsers: arbitrary input gives a
//! value or a typed error, never a panic, and what is accepted is coherent.

use crate::protocol::{
    is_endpoint_unsupported, matrix_error, parse_age_header, parse_date_header,
    parse_server_now_body, response_date, response_to_error, retry_after_ms, server_now_request,
    validate_endpoint_path, HomeserverUrl, DEFAULT_ENDPOINT_PATH, MAX_RETRY_AFTER_MS,
};
use crate::sample::{MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};
use crate::transport::{HttpHeader, HttpResponse};
use crate::Error;
use proptest::prelude::*;

/// Strings that look a bit like URLs, so that most get past the scheme.
fn url_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(https?|HTTP|ftp)://[a-zA-Z0-9.:@\\[\\]/%?#_ -]{0,40}",
        "https://\\[[0-9a-fA-F:.%]{0,40}\\](:[0-9]{0,6})?(/[a-z.]{0,5}){0,3}",
        "http://(127|10|192)\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,4}(:[0-9]{0,6})?/?",
        // Mostly valid, to exercise the accepted side.
        "(https|http|HTTPS)://[a-zA-Z][a-zA-Z0-9-]{0,8}(\\.[a-z]{2,5}){0,2}(:[0-9]{1,5})?(/[a-zA-Z0-9._~%-]{1,6}){0,3}/{0,2}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn homeserver_urls_parse_or_fail_cleanly(s in url_like(), insecure in any::<bool>()) {
        match HomeserverUrl::parse(&s, insecure) {
            Err(e) => prop_assert!(matches!(e, Error::InvalidConfig(_)), "{:?}", e),
            Ok(url) => {
                let norm = url.as_str();
                // The normal form parses to the same URL.
                prop_assert_eq!(HomeserverUrl::parse(&norm, insecure).unwrap(), url.clone());
                prop_assert!(norm.starts_with(&url.origin()));
                prop_assert!(norm.starts_with("https://") || norm.starts_with("http://"));
                prop_assert!(url.scheme() == "https" || url.is_loopback() || insecure);
                // No credentials, query, fragment or whitespace survive.
                prop_assert!(!url.origin().contains('@'));
                prop_assert!(!norm.contains(['?', '#', ' ', '\\']));
                // No dot segment, in any spelling.
                for segment in url.base_path().split('/').skip(1) {
                    let lower = segment.to_ascii_lowercase().replace("%2e", ".");
                    prop_assert!(lower != "." && lower != "..", "{}", norm);
                }
                let joined = url.join(DEFAULT_ENDPOINT_PATH);
                let after_scheme = &joined[joined.find("://").unwrap() + 3..];
                prop_assert!(!after_scheme.contains("//"), "{}", joined);
                prop_assert!(joined.ends_with(DEFAULT_ENDPOINT_PATH));
            }
        }
    }

    #[test]
    fn endpoint_paths_validate_or_fail_cleanly(s in any::<String>()) {
        if let Err(e) = validate_endpoint_path(&s) {
            prop_assert!(matches!(e, Error::InvalidConfig(_)));
        }
    }

    /// Any spelling of a dot segment, anywhere in a path, is refused; the
    /// same path without it is fine.
    #[test]
    fn dot_segments_are_refused_in_any_spelling(
        dots in "(\\.|%2[eE]){1,2}",
        before in "(/[a-z0-9_]{1,6}){0,3}",
        after in "(/[a-z0-9_]{1,6}){0,3}",
    ) {
        let path = format!("{before}/{dots}{after}");
        prop_assert!(validate_endpoint_path(&path).is_err(), "{}", path);
        let url = format!("https://h.example{path}");
        prop_assert!(HomeserverUrl::parse(&url, false).is_err(), "{}", url);
        let clean = format!("{before}/x{dots}{after}");
        prop_assert!(validate_endpoint_path(&clean).is_ok(), "{}", clean);
        let url = format!("https://h.example{clean}");
        prop_assert!(HomeserverUrl::parse(&url, false).is_ok(), "{}", url);
    }

    #[test]
    fn server_now_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        match parse_server_now_body(&body) {
            Ok(ms) => prop_assert!((MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&ms)),
            Err(e) => prop_assert!(
                matches!(e, Error::ProtocolViolation(_) | Error::TimeOutOfRange(_)),
                "{:?}", e
            ),
        }
    }

    #[test]
    fn json_shaped_bodies_are_read_exactly(
        field in prop::sample::select(vec!["server_now", "server_time", "now", "ts", "origin_server_ts"]),
        ms in any::<i64>(),
        ws in "[ \t\r\n]{0,3}",
    ) {
        let body = format!("{ws}{{{ws}\"{field}\"{ws}:{ws}{ms}{ws}}}{ws}");
        let sane = (MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&ms);
        match parse_server_now_body(body.as_bytes()) {
            Ok(got) => prop_assert!(sane && got == ms),
            Err(e) => prop_assert!(!sane && matches!(e, Error::TimeOutOfRange(_)), "{:?}", e),
        }
    }

    #[test]
    fn date_and_age_headers_never_panic(s in prop_oneof![
        any::<String>(),
        "[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    ]) {
        if let Err(e) = parse_date_header(&s) {
            prop_assert!(matches!(e, Error::ProtocolViolation(_)));
        }
        match parse_age_header(&s) {
            Ok(age) => prop_assert!((0..=1 << 31).contains(&age)),
            Err(e) => prop_assert!(matches!(e, Error::ProtocolViolation(_))),
        }
    }

    #[test]
    fn http_dates_round_trip(secs in 0u64..253_402_300_799) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let text = httpdate::fmt_http_date(t);
        let date = parse_date_header(&text).unwrap();
        prop_assert_eq!(date.unix_s(), secs as i64);
        prop_assert!(!date.is_leap_second());
    }

    /// Second 60 at the end of any day is that day's leap second: it reads
    /// as 23:59:59 and spans two seconds.
    #[test]
    fn leap_seconds_at_the_end_of_any_day(day in 0u64..2_900_000) {
        let secs = day * 86_400 + 86_399;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let text = httpdate::fmt_http_date(t);
        prop_assert!(text.contains(" 23:59:59 "), "{}", text);
        let leap = parse_date_header(&text.replace(" 23:59:59 ", " 23:59:60 ")).unwrap();
        prop_assert!(leap.is_leap_second());
        prop_assert_eq!(leap.unix_s(), secs as i64);
        prop_assert_eq!(leap.span_ms(), 2_000);
        // Any other time of day with second 60 is not a date.
        let not_leap = text.replace(" 23:59:59 ", " 23:58:60 ");
        prop_assert!(parse_date_header(&not_leap).is_err());
    }

    #[test]
    fn arbitrary_responses_never_panic(
        status in 100u16..600,
        headers in proptest::collection::vec(
            (prop::sample::select(vec!["Date", "Age", "Retry-After", "Location", "X"]), any::<String>()),
            0..4,
        ),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let response = HttpResponse {
            status,
            headers: headers.into_iter().map(|(n, v)| HttpHeader::new(n, v)).collect(),
            body,
        };
        let url = HomeserverUrl::parse("https://h.example", false).unwrap();
        let request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some("syt_tok"), 1_000);
        let _ = response_to_error(&response, &request);
        let _ = is_endpoint_unsupported(&response);
        let _ = matrix_error(&response);
        let _ = response_date(&response);
        if let Some(ms) = retry_after_ms(&response) {
            prop_assert!(ms <= MAX_RETRY_AFTER_MS);
        }
    }
}
