//! MSC4094 reply bodies: any bytes give a sane server time or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxclock::__internal::{
    is_endpoint_unsupported, matrix_error, parse_server_now_body, retry_after_ms,
    MAX_RETRY_AFTER_MS, MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS,
};
use mxclock::{Error, HttpResponse, Sample, MAX_BODY_BYTES};

fuzz_target!(|body: &[u8]| {
    match parse_server_now_body(body) {
        Ok(ms) => {
            // Accepted times are always inside the sane window.
            assert!(
                (MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&ms),
                "{ms}"
            );
            assert!(body.len() <= MAX_BODY_BYTES);
            // And always make a valid sample.
            Sample::from_endpoint(1_000, 1_050, ms)
                .unwrap()
                .validate()
                .unwrap();
        }
        Err(Error::ProtocolViolation(_) | Error::TimeOutOfRange(_)) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
    // The same bytes as an error reply: Matrix error, 429 hint, endpoint
    // support all read the body too.
    for status in [200, 404, 429, 500] {
        let r = HttpResponse {
            status,
            headers: vec![],
            body: body.to_vec(),
        };
        if let Some((code, msg)) = matrix_error(&r) {
            assert!(code.chars().count() <= 65 && msg.chars().count() <= 301);
            assert!(!code.chars().chain(msg.chars()).any(char::is_control));
        }
        if let Some(ms) = retry_after_ms(&r) {
            assert!(ms <= MAX_RETRY_AFTER_MS);
        }
        let _ = is_endpoint_unsupported(&r);
    }
});
