//! How long a server asked us to wait: `retry_after_ms` in a Matrix error
//! body, or the `Retry-After` header.

use serde_json::Value;

use super::body::json_object;
use super::date::parse_date_header;
use crate::transport::HttpResponse;

/// The wait reported in [`Error::RateLimited`](crate::Error::RateLimited)
/// when a 429 says nothing about when to retry (5 s).
pub const DEFAULT_RETRY_AFTER_MS: u64 = 5_000;

/// Longest wait [`retry_after_ms`] returns (one day), so that a broken or
/// hostile server cannot stop syncing for good.
pub const MAX_RETRY_AFTER_MS: u64 = 86_400_000;

/// How long the server asked us to wait, in ms: the Matrix body field
/// `retry_after_ms` first, then the `Retry-After` header in seconds or as an
/// HTTP date. An HTTP date is measured against the same response's `Date`
/// header (so a wrong device clock does not matter); without one it is
/// ignored. `None` when the response says nothing usable. Capped at
/// [`MAX_RETRY_AFTER_MS`].
///
/// ```
/// use mxclock::__internal::retry_after_ms;
/// use mxclock::{HttpHeader, HttpResponse};
/// let r = HttpResponse {
///     status: 429,
///     headers: vec![HttpHeader::new("Retry-After", "3")],
///     body: br#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}"#.to_vec(),
/// };
/// assert_eq!(retry_after_ms(&r), Some(1_500));
/// ```
pub fn retry_after_ms(response: &HttpResponse) -> Option<u64> {
    body_retry_after_ms(&response.body)
        .or_else(|| header_retry_after_ms(response))
        .map(|ms| ms.min(MAX_RETRY_AFTER_MS))
}

fn body_retry_after_ms(body: &[u8]) -> Option<u64> {
    match json_object(body)?.get("retry_after_ms")? {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            // Whole or fractional ms; never negative.
            (f.is_finite() && f >= 0.0).then(|| f.ceil().min(u64::MAX as f64) as u64)
        }),
        _ => None,
    }
}

fn header_retry_after_ms(response: &HttpResponse) -> Option<u64> {
    let v = response.header("Retry-After")?.trim_matches([' ', '\t']);
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let s = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(s.saturating_mul(1000));
    }
    let until_s = parse_date_header(v).ok()?.unix_s();
    let now_s = parse_date_header(response.header("Date")?).ok()?.unix_s();
    Some(until_s.saturating_sub(now_s).max(0) as u64 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpHeader;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| HttpHeader::new(*n, *v))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retry_after() {
        let body = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many","retry_after_ms":2500}"#;
        assert_eq!(retry_after_ms(&response(429, &[], body)), Some(2_500));
        // The body wins over the header.
        assert_eq!(
            retry_after_ms(&response(429, &[("Retry-After", "9")], body)),
            Some(2_500)
        );
        assert_eq!(
            retry_after_ms(&response(429, &[("retry-after", " 9 ")], "")),
            Some(9_000)
        );
        assert_eq!(
            retry_after_ms(&response(
                429,
                &[("Retry-After", "9")],
                r#"{"retry_after_ms":"5"}"#
            )),
            Some(9_000)
        );
        assert_eq!(
            retry_after_ms(&response(429, &[], r#"{"retry_after_ms":12.2}"#)),
            Some(13)
        );
        assert_eq!(
            retry_after_ms(&response(429, &[], r#"{"retry_after_ms":-5}"#)),
            None
        );
        assert_eq!(retry_after_ms(&response(429, &[], "")), None);
        assert_eq!(
            retry_after_ms(&response(429, &[("Retry-After", "soon")], "")),
            None
        );
        assert_eq!(
            retry_after_ms(&response(429, &[("Retry-After", "-3")], "")),
            None
        );
        // HTTP dates count from the response's own Date header.
        let dated = [
            ("Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("Retry-After", "Tue, 14 Nov 2023 22:13:50 GMT"),
        ];
        assert_eq!(retry_after_ms(&response(503, &dated, "")), Some(30_000));
        let past = [
            ("Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("Retry-After", "Tue, 14 Nov 2023 22:13:00 GMT"),
        ];
        assert_eq!(retry_after_ms(&response(503, &past, "")), Some(0));
        assert_eq!(
            retry_after_ms(&response(
                503,
                &[("Retry-After", "Tue, 14 Nov 2023 22:13:50 GMT")],
                ""
            )),
            None
        );
        // Absurd waits are capped.
        assert_eq!(
            retry_after_ms(&response(
                429,
                &[("Retry-After", "99999999999999999999999")],
                ""
            )),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(
            retry_after_ms(&response(429, &[], r#"{"retry_after_ms":1e300}"#)),
            Some(MAX_RETRY_AFTER_MS)
        );
    }
}
