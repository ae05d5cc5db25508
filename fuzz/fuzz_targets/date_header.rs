//! `Date`, `Age` and `Retry-After` headers, and the `Date` sample built from
//! them: any header text gives a typed error or a valid sample.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxclock::__internal::{
    parse_age_header, parse_date_header, retry_after_ms, ResponseDate, MAX_RETRY_AFTER_MS,
};
use mxclock::{HttpHeader, HttpResponse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Up to three header values separated by newlines: Date, Age, Retry-After.
    let mut parts = text.splitn(3, '\n');
    let date = parts.next().unwrap_or("");
    let age = parts.next();
    let retry = parts.next();

    let parsed = parse_date_header(date);
    let age_s = age.map(parse_age_header);
    if let Ok(d) = parsed {
        // Boot times as a real transport would read them, and extreme ones.
        for (sent, received) in [
            (0, 40),
            (1_000_000, 1_000_000),
            (i64::MAX / 2, i64::MAX / 2 + 1),
        ] {
            let age = match &age_s {
                Some(Ok(a)) => Some(*a),
                Some(Err(_)) | None => None,
            };
            let reply = ResponseDate {
                date: d,
                age_s: age,
            };
            if let Ok(s) = reply.sample(sent, received) {
                assert!(s.lo_ms <= s.hi_ms, "{s:?}");
                // A leap second spans two seconds, never less.
                assert!(s.width_ms() >= d.span_ms(), "{s:?} {d:?}");
            }
        }
    }
    if let Some(Ok(a)) = age_s {
        assert!(a >= 0);
    }
    let mut headers = vec![HttpHeader::new("Date", date)];
    if let Some(r) = retry {
        headers.push(HttpHeader::new("Retry-After", r));
    }
    let response = HttpResponse {
        status: 429,
        headers,
        body: vec![],
    };
    if let Some(ms) = retry_after_ms(&response) {
        assert!(ms <= MAX_RETRY_AFTER_MS);
    }
});
