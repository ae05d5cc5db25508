//! Pure parsing of replies: the MSC4094 body, `Date`, `Age` and
//! `Retry-After` headers, Matrix errors, and the mapping of HTTP statuses to
//! [`Error`]s. No I/O and no clock: callers pass everything in.
//!
//! # The MSC4094 reply body
//!
//! MSC4094 (`GET /_matrix/client/v3/get_server_now`) does not fix a response
//! body, so [`parse_server_now_body`] accepts what implementations plausibly
//! send:
//!
//! - a JSON object with an integer field holding the server's Unix time in
//!   milliseconds, looked up in this order: `server_now`, `server_time`,
//!   `now`, `ts`, `origin_server_ts` (the first one present is used, and it
//!   must be valid: no falling through to the next name);
//! - a bare JSON integer (`1700000000000`).
//!
//! Leading and trailing JSON whitespace and a UTF-8 byte order mark are
//! ignored. Everything else is an error: strings (`"1700000000000"`),
//! fractions or exponents (`1.7e12`), negative numbers, nested objects,
//! a time field given twice, invalid UTF-8, bodies over
//! [`MAX_BODY_BYTES`], and times outside 2000–2200
//! ([`MIN_SANE_SERVER_MS`]..=[`MAX_SANE_SERVER_MS`]).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::url::{origin_of, url_for_message, HomeserverUrl};
use super::{redact_error, HttpHeader, HttpRequest, HttpResponse, MAX_BODY_BYTES};
use crate::error::{Error, Result};
use crate::sample::{MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};

/// Field names that may hold the server time, in the order they are tried.
pub const SERVER_NOW_FIELDS: [&str; 5] =
    ["server_now", "server_time", "now", "ts", "origin_server_ts"];

/// The wait reported in [`Error::RateLimited`] when a 429 says nothing about
/// when to retry (5 s).
pub const DEFAULT_RETRY_AFTER_MS: u64 = 5_000;

/// Longest wait [`retry_after_ms`] returns (one day), so that a broken or
/// hostile server cannot stop syncing for good.
pub const MAX_RETRY_AFTER_MS: u64 = 86_400_000;

/// Longest `Date` header value looked at; real ones are 29 characters.
const MAX_DATE_HEADER_LEN: usize = 64;

/// The server time in ms from an MSC4094 reply body (see the
/// [module docs](self) for the accepted shapes).
///
/// ```
/// use mxclock::transport::parse_server_now_body;
/// assert_eq!(parse_server_now_body(br#"{"server_now": 1700000000123}"#).unwrap(), 1_700_000_000_123);
/// assert_eq!(parse_server_now_body(b" 1700000000123\n").unwrap(), 1_700_000_000_123);
/// assert!(parse_server_now_body(br#"{"server_now": "1700000000123"}"#).is_err());
/// assert!(parse_server_now_body(br#"{"server_now": 1700000000.123}"#).is_err());
/// ```
pub fn parse_server_now_body(body: &[u8]) -> Result<i64> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::Protocol(format!(
            "server time reply body is {} bytes, larger than 64 KiB",
            body.len()
        )));
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::Protocol(format!(
            "server time reply is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(Error::Protocol(
            "server time reply body is empty; expected JSON like {\"server_now\": 1700000000000}"
                .into(),
        ));
    }
    let top: TopLevel = serde_json::from_str(text).map_err(|e| {
        Error::Protocol(format!(
            "server time reply is not valid JSON ({}); expected {{\"server_now\": <ms>}}",
            json_error_summary(&e)
        ))
    })?;
    match top {
        TopLevel::Scalar(v) => time_from_value("(the whole reply)", &v),
        TopLevel::Array => Err(Error::Protocol(
            "server time reply is a JSON array; expected {\"server_now\": <ms>} or an integer"
                .into(),
        )),
        TopLevel::Object(entries) => {
            for field in SERVER_NOW_FIELDS {
                let mut found = entries.iter().filter(|(k, _)| k == field);
                let Some((_, value)) = found.next() else {
                    continue;
                };
                if found.next().is_some() {
                    return Err(Error::Protocol(format!(
                        "server time reply has the field `{field}` more than once; \
                         refusing to guess which one is meant"
                    )));
                }
                return time_from_value(&format!("`{field}`"), value);
            }
            Err(Error::Protocol(format!(
                "server time reply has none of the fields {}; expected {{\"server_now\": <ms>}}",
                SERVER_NOW_FIELDS.join(", ")
            )))
        }
    }
}

/// A JSON document's top level: object entries in order (duplicates kept,
/// unlike `serde_json::Map`), a scalar, or an array (not kept).
enum TopLevel {
    Object(Vec<(String, Value)>),
    Scalar(Value),
    Array,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(Value::String(v.to_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel::Scalar(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<TopLevel, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(TopLevel::Object(entries))
    }
}

/// The category and position of a JSON error, without echoing the input.
fn json_error_summary(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected data",
        Category::Eof => "truncated",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn time_from_value(what: &str, v: &Value) -> Result<i64> {
    let Value::Number(n) = v else {
        return Err(Error::Protocol(format!(
            "server time {what} is {}; it must be a JSON integer of milliseconds",
            json_kind(v)
        )));
    };
    if let Some(ms) = n.as_i64() {
        return check_server_ms(what, ms);
    }
    if n.as_u64().is_some() {
        return Err(Error::TimeOutOfRange(format!(
            "server time {what} {n} ms is far beyond the year 2200"
        )));
    }
    // serde_json reads fractions, exponents and integers beyond u64 as f64.
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.0e18 {
        return Err(Error::TimeOutOfRange(format!(
            "server time {what} is far outside the years 2000-2200"
        )));
    }
    Err(Error::Protocol(format!(
        "server time {what} is {n}, not an integer; it must be whole milliseconds \
         without a fraction or exponent"
    )))
}

fn check_server_ms(what: &str, ms: i64) -> Result<i64> {
    if (MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&ms) {
        return Ok(ms);
    }
    let hint = if ms < 0 {
        "; it is negative"
    } else if (MIN_SANE_SERVER_MS / 1000..=MAX_SANE_SERVER_MS / 1000).contains(&ms) {
        "; it looks like seconds, but must be milliseconds"
    } else {
        ""
    };
    Err(Error::TimeOutOfRange(format!(
        "server time {what} {ms} ms is not between the years 2000 and 2200{hint}"
    )))
}

/// A `Date` header value as Unix seconds. Accepts IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) and the obsolete RFC 850 and asctime
/// forms, as the `httpdate` crate does; surrounding whitespace is ignored.
/// The range is not checked here ([`Sample::from_date_header`] does).
///
/// [`Sample::from_date_header`]: crate::Sample::from_date_header
///
/// ```
/// use mxclock::transport::parse_date_header;
/// assert_eq!(parse_date_header("Sun, 06 Nov 1994 08:49:37 GMT").unwrap(), 784_111_777);
/// assert!(parse_date_header("yesterday").is_err());
/// ```
pub fn parse_date_header(value: &str) -> Result<i64> {
    let v = value.trim_matches([' ', '\t']);
    if v.len() > MAX_DATE_HEADER_LEN || !v.is_ascii() {
        return Err(Error::Protocol(
            "Date header is not an HTTP date (too long or not ASCII)".into(),
        ));
    }
    let t = httpdate::parse_http_date(v).map_err(|_| {
        Error::Protocol(format!(
            "Date header {v:?} is not an HTTP date like `Sun, 06 Nov 1994 08:49:37 GMT`"
        ))
    })?;
    Ok(unix_seconds(t))
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The `Date` (Unix seconds) and `Age` (seconds, if any) headers of a
/// response: the inputs of [`Sample::from_date_header`]. Errors when `Date`
/// is missing or malformed, when either header appears more than once with
/// different values (which one would be the server's?), or when `Age` is
/// malformed.
///
/// [`Sample::from_date_header`]: crate::Sample::from_date_header
///
/// ```
/// use mxclock::transport::{response_date, HttpHeader, HttpResponse};
/// let r = HttpResponse {
///     status: 404,
///     headers: vec![HttpHeader::new("Date", "Tue, 14 Nov 2023 22:13:20 GMT")],
///     body: vec![],
/// };
/// assert_eq!(response_date(&r).unwrap(), (1_700_000_000, None));
/// ```
pub fn response_date(response: &HttpResponse) -> Result<(i64, Option<i64>)> {
    let date = single_header(response, "Date")?.ok_or_else(|| {
        Error::Protocol("the reply has no Date header; the server's time is unknown".into())
    })?;
    let date_s = parse_date_header(date)?;
    let age_s = single_header(response, "Age")?
        .map(parse_age_header)
        .transpose()?;
    Ok((date_s, age_s))
}

/// The value of header `name`, `None` if absent; an error if it is given
/// several times with different values.
fn single_header<'a>(response: &'a HttpResponse, name: &str) -> Result<Option<&'a str>> {
    let mut values = response
        .headers
        .iter()
        .filter(|h| h.name.trim().eq_ignore_ascii_case(name))
        .map(|h| h.value.trim());
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.any(|v| v != first) {
        return Err(Error::Protocol(format!(
            "the reply has several different {name} headers; a proxy or cache is \
             interfering, so none is believed"
        )));
    }
    Ok(Some(first))
}

/// An `Age` header value in seconds (RFC 9111: non-negative decimal digits;
/// a value too large to represent counts as 2^31). Whether the age is
/// believable is [`Sample::from_date_header`]'s decision.
///
/// [`Sample::from_date_header`]: crate::Sample::from_date_header
///
/// ```
/// use mxclock::transport::parse_age_header;
/// assert_eq!(parse_age_header("42").unwrap(), 42);
/// assert!(parse_age_header("-1").is_err());
/// ```
pub fn parse_age_header(value: &str) -> Result<i64> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        // The value is not repeated: a cut-off echo of a secret (a server
        // reflecting the Authorization header) could not be scrubbed.
        return Err(Error::Protocol(format!(
            "Age header is not a whole number of seconds ({} characters, not all digits)",
            v.chars().count()
        )));
    }
    const RFC_9111_MAX: i64 = 1 << 31;
    Ok(v.parse::<i64>()
        .map_or(RFC_9111_MAX, |s| s.min(RFC_9111_MAX)))
}

/// How long the server asked us to wait, in ms: the Matrix body field
/// `retry_after_ms` first, then the `Retry-After` header in seconds or as an
/// HTTP date. An HTTP date is measured against the same response's `Date`
/// header (so a wrong device clock does not matter); without one it is
/// ignored. `None` when the response says nothing usable. Capped at
/// [`MAX_RETRY_AFTER_MS`].
///
/// ```
/// use mxclock::transport::{retry_after_ms, HttpHeader, HttpResponse};
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
    let until_s = parse_date_header(v).ok()?;
    let now_s = parse_date_header(response.header("Date")?).ok()?;
    Some(until_s.saturating_sub(now_s).max(0) as u64 * 1000)
}

/// The body as a JSON object, if it is one (and not over the cap).
fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice(body).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Whether the reply says the MSC4094 endpoint does not exist: 404, 405, or
/// a Matrix `M_UNRECOGNIZED` error with any status. The `Date` header of the
/// same response is still a usable sample.
pub fn is_endpoint_unsupported(response: &HttpResponse) -> bool {
    matches!(response.status, 404 | 405)
        || matrix_error(response).is_some_and(|(errcode, _)| errcode == "M_UNRECOGNIZED")
}

/// The Matrix error of a reply (`errcode`, `error`), if its body is one.
/// `error` is empty when absent; both are cleaned of control characters and
/// shortened, as they end up in messages.
pub fn matrix_error(response: &HttpResponse) -> Option<(String, String)> {
    let obj = json_object(&response.body)?;
    let errcode = obj.get("errcode")?.as_str()?;
    let error = obj.get("error").and_then(Value::as_str).unwrap_or("");
    Some((clean(errcode, 64), clean(error, 300)))
}

/// `s` without control characters, at most `max_chars` characters.
fn clean(s: &str, max_chars: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    truncate(&s, max_chars)
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

/// Checks that an access token is a Bearer credential (RFC 6750
/// `b64token`: letters, digits, `-._~+/`, then optional `=` padding), as
/// every homeserver issues them. Anything else (spaces, line breaks, quotes,
/// non-ASCII) would break or inject headers, or be mangled on the way. The
/// message never contains the token.
///
/// ```
/// use mxclock::transport::validate_access_token;
/// assert!(validate_access_token("syt_YWxpY2U_HdTBobVyRVrDmZdLzXSc_1GhsNJ").is_ok());
/// assert!(validate_access_token("two words").is_err());
/// ```
pub fn validate_access_token(token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidConfig(
            "the access token is empty; pass none instead".into(),
        ));
    }
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !ok {
        return Err(Error::InvalidConfig(
            "the access token contains characters a Bearer token cannot have (spaces, line \
             breaks, quotes, non-ASCII, ...); copy it again exactly as the homeserver gave it"
                .into(),
        ));
    }
    Ok(())
}

/// The MSC4094 request: `GET {homeserver}{endpoint_path}` with
/// `Accept: application/json`, `Cache-Control: no-cache` (a cached reply
/// would carry a stale time) and, only when a non-empty token is given,
/// `Authorization: Bearer <token>`.
///
/// ```
/// use mxclock::transport::{server_now_request, HomeserverUrl, DEFAULT_ENDPOINT_PATH};
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

/// The error for a reply to `request` that carries no usable server time,
/// from its status (and Matrix error, if any). Messages name the request URL
/// without query or credentials, and the request's secrets are redacted from
/// them (a server may echo the token in its `error` text).
///
/// - 3xx: [`Error::Http`] "redirect to `<origin>` not followed": mxclock never
///   re-sends the token elsewhere; configure the target URL instead.
/// - 401/403: [`Error::Http`]; `M_UNKNOWN_TOKEN` says the access token is
///   invalid (the token itself is never printed).
/// - 404/405/`M_UNRECOGNIZED`: [`Error::Unsupported`].
/// - 429: [`Error::RateLimited`] with [`retry_after_ms`] or
///   [`DEFAULT_RETRY_AFTER_MS`].
/// - other statuses (4xx, 5xx, even 2xx): [`Error::Http`].
///
/// ```
/// use mxclock::transport::{response_to_error, server_now_request, HomeserverUrl,
///     HttpHeader, HttpResponse, DEFAULT_ENDPOINT_PATH};
/// use mxclock::Error;
/// let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
/// let request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some("syt_secret"), 5_000);
/// let r = HttpResponse {
///     status: 302,
///     headers: vec![HttpHeader::new("Location", "https://elsewhere.example/x")],
///     body: vec![],
/// };
/// let e = response_to_error(&r, &request);
/// assert!(matches!(&e, Error::Http { status: 302, message } if message.contains("https://elsewhere.example")));
/// ```
pub fn response_to_error(response: &HttpResponse, request: &HttpRequest) -> Error {
    redact_error(status_error(response, &request.url), request)
}

fn status_error(response: &HttpResponse, request_url: &str) -> Error {
    let status = response.status;
    let where_ = url_for_message(request_url);
    let mx = matrix_error(response);
    let mx_suffix = match &mx {
        Some((code, msg)) if msg.is_empty() => format!(" ({code})"),
        Some((code, msg)) => format!(" ({code}: {msg})"),
        None => String::new(),
    };
    let errcode = mx.as_ref().map(|(c, _)| c.as_str());
    match status {
        300..=399 => {
            let target = match response.header("Location").map(str::trim) {
                None | Some("") => "an address not given (no Location header)".to_owned(),
                Some(loc) => match origin_of(loc) {
                    Some(origin) => origin,
                    // A relative Location stays on the request's origin.
                    None if loc.starts_with('/') && !loc.starts_with("//") => {
                        format!("another path on {}", origin_of(request_url).unwrap_or(where_.clone()))
                    }
                    None => "an unusable Location".to_owned(),
                },
            };
            Error::Http {
                status,
                message: format!(
                    "redirect to {target} not followed (request to {where_}); mxclock never \
                     re-sends the access token elsewhere: configure the homeserver URL the \
                     server redirects to"
                ),
            }
        }
        401 | 403 if errcode == Some("M_UNKNOWN_TOKEN") => Error::Http {
            status,
            message: format!(
                "the access token is invalid, expired or logged out (M_UNKNOWN_TOKEN) at \
                 {where_}; log in again and configure the new token"
            ),
        },
        401 if errcode == Some("M_MISSING_TOKEN") || mx.is_none() => Error::Http {
            status,
            message: format!(
                "{where_} needs an access token{mx_suffix}; configure one, or rely on the Date header"
            ),
        },
        401 | 403 => Error::Http {
            status,
            message: format!("access to {where_} denied{mx_suffix}"),
        },
        429 => Error::RateLimited {
            retry_after_ms: retry_after_ms(response).unwrap_or(DEFAULT_RETRY_AFTER_MS),
        },
        404 | 405 => Error::Unsupported(format!(
            "{where_} answered {status}{mx_suffix}: the homeserver does not implement the \
             MSC4094 endpoint; use the Date header instead"
        )),
        _ if errcode == Some("M_UNRECOGNIZED") => Error::Unsupported(format!(
            "{where_} answered {status}{mx_suffix}: the homeserver does not implement the \
             MSC4094 endpoint; use the Date header instead"
        )),
        500..=599 => Error::Http {
            status,
            message: format!("server error at {where_}{mx_suffix}; try again later"),
        },
        _ => Error::Http {
            status,
            message: format!("unexpected status from {where_}{mx_suffix}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000_123;

    fn parse(s: &str) -> Result<i64> {
        parse_server_now_body(s.as_bytes())
    }

    fn protocol(r: Result<i64>) -> String {
        match r {
            Err(Error::Protocol(m)) => m,
            other => panic!("expected Protocol, got {other:?}"),
        }
    }

    fn out_of_range(r: Result<i64>) -> String {
        match r {
            Err(Error::TimeOutOfRange(m)) => m,
            other => panic!("expected TimeOutOfRange, got {other:?}"),
        }
    }

    #[test]
    fn accepted_bodies() {
        let cases = [
            format!(r#"{{"server_now":{T}}}"#),
            format!(r#"{{"server_time":{T}}}"#),
            format!(r#"{{"now":{T}}}"#),
            format!(r#"{{"ts":{T}}}"#),
            format!(r#"{{"origin_server_ts":{T}}}"#),
            format!("{T}"),
            format!(" \t\r\n{T}\n"),
            format!("\n  {{ \"server_now\" : {T} }}  \n"),
            format!(r#"{{"other":"x","nested":{{"server_now":1}},"server_now":{T}}}"#),
            format!(r#"{{"server_now":{T},"server_now_extra":[1,2,{{}}]}}"#),
            format!("\u{feff}{{\"server_now\":{T}}}"),
            format!("\u{feff}{T}"),
            // Duplicated keys that are not the time do not matter.
            format!(r#"{{"x":1,"x":2,"server_now":{T}}}"#),
        ];
        for body in &cases {
            assert_eq!(parse(body).unwrap(), T, "{body}");
        }
    }

    #[test]
    fn field_order_decides_and_first_present_must_be_valid() {
        let t2 = T + 5;
        assert_eq!(
            parse(&format!(r#"{{"ts":{t2},"server_now":{T}}}"#)).unwrap(),
            T
        );
        assert_eq!(
            parse(&format!(r#"{{"origin_server_ts":{t2},"now":{T}}}"#)).unwrap(),
            T
        );
        assert_eq!(
            parse(&format!(r#"{{"ts":{T},"server_time":{t2}}}"#)).unwrap(),
            t2
        );
        // A broken `server_now` is an error even if `ts` is fine.
        protocol(parse(&format!(r#"{{"server_now":"x","ts":{T}}}"#)));
    }

    #[test]
    fn sane_window_edges() {
        assert_eq!(
            parse(&MIN_SANE_SERVER_MS.to_string()).unwrap(),
            MIN_SANE_SERVER_MS
        );
        assert_eq!(
            parse(&MAX_SANE_SERVER_MS.to_string()).unwrap(),
            MAX_SANE_SERVER_MS
        );
        out_of_range(parse(&(MIN_SANE_SERVER_MS - 1).to_string()));
        out_of_range(parse(&(MAX_SANE_SERVER_MS + 1).to_string()));
    }

    #[test]
    fn rejected_types() {
        let m = protocol(parse(&format!(r#"{{"server_now":"{T}"}}"#)));
        assert!(m.contains("a string"), "{m}");
        assert!(protocol(parse(&format!(r#""{T}""#))).contains("a string"));
        for float in [
            "1700000000123.5",
            "1700000000123.0",
            "1.7e12",
            "1.700000000123E+12",
        ] {
            let m = protocol(parse(&format!(r#"{{"server_now":{float}}}"#)));
            assert!(m.contains("not an integer"), "{float}: {m}");
            protocol(parse(float));
        }
        for v in ["null", "true", "[1]", "{}", &format!("{{\"ms\":{T}}}")] {
            let m = protocol(parse(&format!(r#"{{"server_now":{v}}}"#)));
            assert!(m.contains("must be a JSON integer"), "{v}: {m}");
        }
        assert!(protocol(parse("null")).contains("null"));
        assert!(protocol(parse("true")).contains("boolean"));
        assert!(protocol(parse(&format!("[{T}]"))).contains("array"));
    }

    #[test]
    fn nested_time_is_not_looked_for() {
        let m = protocol(parse(&format!(r#"{{"data":{{"server_now":{T}}}}}"#)));
        assert!(m.contains("none of the fields"), "{m}");
        protocol(parse("{}"));
    }

    #[test]
    fn negative_old_future_and_huge_times() {
        assert!(out_of_range(parse(&format!(r#"{{"server_now":-{T}}}"#))).contains("negative"));
        out_of_range(parse("-1"));
        // 1900-01-01 and 3000-01-01 in ms.
        out_of_range(parse(r#"{"server_now":-2208988800000}"#));
        out_of_range(parse(r#"{"server_now":32503680000000}"#));
        // 0 and 1970.
        out_of_range(parse(r#"{"server_now":0}"#));
        // Seconds instead of ms get a hint.
        let m = out_of_range(parse(r#"{"server_now":1700000000}"#));
        assert!(m.contains("seconds"), "{m}");
        // Beyond i64, beyond u64, far beyond.
        out_of_range(parse(&format!(r#"{{"server_now":{}}}"#, i64::MAX)));
        out_of_range(parse(&format!(r#"{{"server_now":{}}}"#, u64::MAX)));
        out_of_range(parse(r#"{"server_now":123456789012345678901234567890}"#));
        out_of_range(parse("-123456789012345678901234567890"));
        out_of_range(parse(r#"{"server_now":1e300}"#));
        // Too big to be a number at all.
        protocol(parse(r#"{"server_now":1e400}"#));
    }

    #[test]
    fn duplicate_time_field_is_rejected() {
        let m = protocol(parse(&format!(r#"{{"server_now":{T},"server_now":{T}}}"#)));
        assert!(m.contains("more than once"), "{m}");
        protocol(parse(&format!(r#"{{"ts":1,"ts":{T}}}"#)));
    }

    #[test]
    fn not_json_or_not_utf8() {
        for body in [
            &b""[..],
            b"   \n",
            b"\xEF\xBB\xBF",
            b"<html>oops</html>",
            b"{\"server_now\":",
            b"{\"server_now\":1700000000123",
            b"{\"server_now\":1700000000123}}",
            b"{\"server_now\":1700000000123} x",
            b"1700000000123 1700000000124",
            b"{'server_now':1700000000123}",
            b"{\"server_now\":01700000000123}",
            b"{\"server_now\":+1700000000123}",
            b"{\"server_now\":NaN}",
            b"{\"server_now\":0x18BCFE56800}",
        ] {
            protocol(parse_server_now_body(body));
        }
        let m = protocol(parse_server_now_body(
            b"{\"server_now\":1700000000123,\"x\":\"\xff\"}",
        ));
        assert!(m.contains("not UTF-8"), "{m}");
        protocol(parse_server_now_body(
            b"\xEF\xBB{\"server_now\":1700000000123}",
        ));
        // A UTF-16 BOM is not UTF-8.
        protocol(parse_server_now_body(b"\xFF\xFE1\x007\x00"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        protocol(parse(&deep[..MAX_BODY_BYTES.min(deep.len())]));
        let deep_obj = format!(
            r#"{{"server_now":{T},"x":{}1{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        protocol(parse(&deep_obj));
    }

    #[test]
    fn body_size_cap() {
        let mut body = format!(r#"{{"server_now":{T}}}"#).into_bytes();
        body.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(parse_server_now_body(&body).unwrap(), T);
        body.push(b' ');
        let m = protocol(parse_server_now_body(&body));
        assert!(m.contains("64 KiB"), "{m}");
    }

    #[test]
    fn date_headers() {
        let want = 784_111_777;
        for v in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "  Sun, 06 Nov 1994 08:49:37 GMT\t",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_date_header(v).unwrap(), want, "{v}");
        }
        assert_eq!(
            parse_date_header("Tue, 14 Nov 2023 22:13:20 GMT").unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_date_header("Thu, 01 Jan 1970 00:00:00 GMT").unwrap(),
            0
        );
        for bad in [
            "",
            "   ",
            "1700000000",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "2023-11-14T22:13:20Z",
            "Sun, 06 Nov 1994 08:49:37 GMT garbage garbage garbage garbage garbage",
            "Sün, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert!(
                matches!(parse_date_header(bad), Err(Error::Protocol(_))),
                "{bad:?} → {:?}",
                parse_date_header(bad)
            );
        }
    }

    #[test]
    fn dates_and_ages_of_responses() {
        let d = "Tue, 14 Nov 2023 22:13:20 GMT";
        let ok = |h: &[(&str, &str)]| response_date(&response(200, h, ""));
        assert_eq!(ok(&[("Date", d)]).unwrap(), (1_700_000_000, None));
        assert_eq!(
            ok(&[("date", d), ("AGE", "12")]).unwrap(),
            (1_700_000_000, Some(12))
        );
        assert_eq!(
            ok(&[("Date", d), ("Date", d)]).unwrap(),
            (1_700_000_000, None)
        );
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("Age", "3")],
            &[("Date", "soon")],
            &[("Date", d), ("Date", "Tue, 14 Nov 2023 22:13:21 GMT")],
            &[("Date", d), ("Age", "x")],
            &[("Date", d), ("Age", "1"), ("Age", "2")],
        ];
        for h in cases {
            assert!(matches!(ok(h), Err(Error::Protocol(_))), "{h:?}");
        }
    }

    #[test]
    fn age_headers() {
        assert_eq!(parse_age_header("0").unwrap(), 0);
        assert_eq!(parse_age_header(" 42 ").unwrap(), 42);
        assert_eq!(parse_age_header("007").unwrap(), 7);
        assert_eq!(parse_age_header("2147483648").unwrap(), 1 << 31);
        assert_eq!(
            parse_age_header("99999999999999999999999").unwrap(),
            1 << 31
        );
        for bad in ["", " ", "-1", "+1", "1.5", "1e3", "abc", "1 2", "١"] {
            assert!(
                matches!(parse_age_header(bad), Err(Error::Protocol(_))),
                "{bad:?}"
            );
        }
    }

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

    #[test]
    fn endpoint_unsupported() {
        assert!(is_endpoint_unsupported(&response(404, &[], "")));
        assert!(is_endpoint_unsupported(&response(405, &[], "<html>")));
        let unrec = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#;
        assert!(is_endpoint_unsupported(&response(400, &[], unrec)));
        assert!(!is_endpoint_unsupported(&response(200, &[], "{}")));
        assert!(!is_endpoint_unsupported(&response(500, &[], "")));
        assert!(!is_endpoint_unsupported(&response(
            400,
            &[],
            r#"{"errcode":"M_UNKNOWN","error":"x"}"#
        )));
    }

    #[test]
    fn matrix_errors() {
        let r = response(
            403,
            &[],
            r#"{"errcode":"M_FORBIDDEN","error":"No\nway\u0007"}"#,
        );
        assert_eq!(
            matrix_error(&r),
            Some(("M_FORBIDDEN".into(), "Noway".into()))
        );
        let r = response(403, &[], r#"{"errcode":"M_FORBIDDEN"}"#);
        assert_eq!(
            matrix_error(&r),
            Some(("M_FORBIDDEN".into(), String::new()))
        );
        assert_eq!(matrix_error(&response(500, &[], r#"{"error":"x"}"#)), None);
        assert_eq!(matrix_error(&response(500, &[], r#"{"errcode":5}"#)), None);
        assert_eq!(
            matrix_error(&response(500, &[], "Internal Server Error")),
            None
        );
        let long = format!(r#"{{"errcode":"M_X","error":"{}"}}"#, "e".repeat(10_000));
        let (_, msg) = matrix_error(&response(500, &[], &long)).unwrap();
        assert!(msg.chars().count() <= 301, "{}", msg.len());
    }

    #[test]
    fn access_tokens() {
        validate_access_token("syt_YWxpY2U_abcdefghijklmnop_0a1b2c").unwrap();
        validate_access_token("MDAxabc+/~.-_==").unwrap();
        for bad in [
            "",
            " ",
            "=",
            "a b",
            "abc\r\nX-Evil: 1",
            "tök",
            "a\u{0}",
            "a=b",
            "a\"b",
            "a\\b",
            "a#b",
            "a&b",
            "a,b",
            "a:b",
        ] {
            match validate_access_token(bad) {
                Err(Error::InvalidConfig(m)) => {
                    assert!(bad.trim().is_empty() || !m.contains(bad), "{m}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

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

    const URL: &str = "https://h.example/_matrix/client/v3/get_server_now?access_token=qq";

    fn req() -> HttpRequest {
        HttpRequest {
            url: URL.into(),
            headers: vec![HttpHeader::new("Authorization", "Bearer syt_tok_123")],
            timeout_ms: 1_000,
        }
    }

    #[test]
    fn echoed_tokens_are_redacted() {
        let echo = r#"{"errcode":"M_FORBIDDEN","error":"token syt_tok_123 may not; nor qq"}"#;
        let (_, m) = http_error(response_to_error(&response(403, &[], echo), &req()));
        assert!(!m.contains("syt_tok_123"), "{m}");
        assert!(
            m.contains("token <redacted> may not; nor <redacted>"),
            "{m}"
        );
    }

    fn http_error(e: Error) -> (u16, String) {
        match e {
            Error::Http { status, message } => {
                assert!(!message.contains("qq"), "{message}");
                (status, message)
            }
            other => panic!("expected Http, got {other:?}"),
        }
    }

    #[test]
    fn redirects_name_the_target_origin() {
        for status in [301, 302, 303, 307, 308] {
            let r = response(
                status,
                &[("Location", "https://evil.example:8443/steal?x=1")],
                "",
            );
            let (s, m) = http_error(response_to_error(&r, &req()));
            assert_eq!(s, status);
            assert!(
                m.contains("redirect to https://evil.example:8443 not followed"),
                "{m}"
            );
            assert!(!m.contains("steal"), "{m}");
            assert!(
                m.contains("https://h.example/_matrix/client/v3/get_server_now"),
                "{m}"
            );
        }
        let r = response(302, &[("Location", "https://u:pw@evil.example/")], "");
        let (_, m) = http_error(response_to_error(&r, &req()));
        assert!(!m.contains("pw"), "{m}");
        let (_, m) = http_error(response_to_error(
            &response(302, &[("Location", "/x")], ""),
            &req(),
        ));
        assert!(m.contains("another path on https://h.example"), "{m}");
        let (_, m) = http_error(response_to_error(&response(302, &[], ""), &req()));
        assert!(m.contains("no Location"), "{m}");
        let (_, m) = http_error(response_to_error(
            &response(302, &[("Location", "//evil")], ""),
            &req(),
        ));
        assert!(m.contains("unusable"), "{m}");
    }

    #[test]
    fn auth_failures() {
        let unknown = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#;
        for status in [401, 403] {
            let (s, m) = http_error(response_to_error(&response(status, &[], unknown), &req()));
            assert_eq!(s, status);
            assert!(m.contains("access token is invalid"), "{m}");
        }
        let missing = r#"{"errcode":"M_MISSING_TOKEN","error":"Missing access token"}"#;
        let (_, m) = http_error(response_to_error(&response(401, &[], missing), &req()));
        assert!(m.contains("needs an access token"), "{m}");
        let (_, m) = http_error(response_to_error(&response(401, &[], ""), &req()));
        assert!(m.contains("needs an access token"), "{m}");
        let forbidden = r#"{"errcode":"M_FORBIDDEN","error":"Nope"}"#;
        let (_, m) = http_error(response_to_error(&response(403, &[], forbidden), &req()));
        assert!(m.contains("denied (M_FORBIDDEN: Nope)"), "{m}");
    }

    #[test]
    fn other_statuses() {
        assert_eq!(
            response_to_error(&response(429, &[("Retry-After", "7")], ""), &req()),
            Error::RateLimited {
                retry_after_ms: 7_000
            }
        );
        assert_eq!(
            response_to_error(&response(429, &[], ""), &req()),
            Error::RateLimited {
                retry_after_ms: DEFAULT_RETRY_AFTER_MS
            }
        );
        for status in [404, 405] {
            assert!(matches!(
                response_to_error(&response(status, &[], ""), &req()),
                Error::Unsupported(m) if m.contains(&status.to_string()) && !m.contains("qq")
            ));
        }
        let unrec = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized"}"#;
        assert!(matches!(
            response_to_error(&response(400, &[], unrec), &req()),
            Error::Unsupported(m) if m.contains("M_UNRECOGNIZED")
        ));
        for status in [500, 502, 503, 504] {
            let (s, m) = http_error(response_to_error(&response(status, &[], "oops"), &req()));
            assert_eq!(s, status);
            assert!(m.contains("server error"), "{m}");
        }
        let (s, m) = http_error(response_to_error(&response(418, &[], ""), &req()));
        assert_eq!(s, 418);
        assert!(m.contains("unexpected status"), "{m}");
    }
}
