//! The MSC4094 reply body ([`parse_server_now_body`]).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::sample::{MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};
use crate::transport::MAX_BODY_BYTES;

/// Field names that may hold the server time, in the order they are tried.
pub(super) const SERVER_NOW_FIELDS: [&str; 5] =
    ["server_now", "server_time", "now", "ts", "origin_server_ts"];

/// The server time in ms from an MSC4094 reply body.
///
/// MSC4094 (`GET /_matrix/client/v3/get_server_now`) does not fix a
/// response body, so this accepts what implementations plausibly send:
///
/// - a JSON object with an integer field holding the server's Unix time in
///   milliseconds, looked up in the order of `SERVER_NOW_FIELDS`
///   (`server_now`, `server_time`, `now`, `ts`, `origin_server_ts`; the
///   first one present is used, and it must be valid: no falling through to
///   the next name);
/// - a bare JSON integer (`1700000000000`).
///
/// Leading and trailing JSON whitespace and a UTF-8 byte order mark are
/// ignored. Everything else is an error: strings (`"1700000000000"`),
/// fractions or exponents (`1.7e12`), negative numbers, nested objects, a
/// time field given twice, invalid UTF-8, bodies over 64 KiB, and times
/// outside 2000–2200. Messages name what is wrong, never the body's text (a
/// server may echo the token in it).
///
/// ```
/// use mxclock::__internal::parse_server_now_body;
/// assert_eq!(parse_server_now_body(br#"{"server_now": 1700000000123}"#).unwrap(), 1_700_000_000_123);
/// assert_eq!(parse_server_now_body(b" 1700000000123\n").unwrap(), 1_700_000_000_123);
/// assert!(parse_server_now_body(br#"{"server_now": "1700000000123"}"#).is_err());
/// assert!(parse_server_now_body(br#"{"server_now": 1700000000.123}"#).is_err());
/// ```
pub fn parse_server_now_body(body: &[u8]) -> Result<i64> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::ProtocolViolation(format!(
            "server time reply body is {} bytes, larger than 64 KiB",
            body.len()
        )));
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::ProtocolViolation(format!(
            "server time reply is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(Error::ProtocolViolation(
            "server time reply body is empty; expected JSON like {\"server_now\": 1700000000000}"
                .into(),
        ));
    }
    let top: TopLevel = serde_json::from_str(text).map_err(|e| {
        Error::ProtocolViolation(format!(
            "server time reply is not valid JSON ({}); expected {{\"server_now\": <ms>}}",
            json_error_summary(&e)
        ))
    })?;
    match top {
        TopLevel::Scalar(v) => time_from_value("(the whole reply)", &v),
        TopLevel::Array => Err(Error::ProtocolViolation(
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
                    return Err(Error::ProtocolViolation(format!(
                        "server time reply has the field `{field}` more than once; \
                         refusing to guess which one is meant"
                    )));
                }
                return time_from_value(&format!("`{field}`"), value);
            }
            Err(Error::ProtocolViolation(format!(
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
        return Err(Error::ProtocolViolation(format!(
            "server time {what} is {}; it must be a JSON integer of milliseconds",
            json_kind(v)
        )));
    };
    if let Some(ms) = n.as_i64() {
        return check_server_ms(what, ms);
    }
    if n.as_u64().is_some() {
        return Err(Error::TimeOutOfRange(format!(
            "server time {what} is far beyond the year 2200"
        )));
    }
    // serde_json reads fractions, exponents and integers beyond u64 as f64.
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.0e18 {
        return Err(Error::TimeOutOfRange(format!(
            "server time {what} is far outside the years 2000-2200"
        )));
    }
    Err(Error::ProtocolViolation(format!(
        "server time {what} is not an integer; it must be whole milliseconds \
         without a fraction or exponent"
    )))
}

fn check_server_ms(what: &str, ms: i64) -> Result<i64> {
    if (MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&ms) {
        return Ok(ms);
    }
    // The year, not the number: a server may have echoed anything there.
    let when = if ms < 0 {
        "negative".to_owned()
    } else if (MIN_SANE_SERVER_MS / 1000..=MAX_SANE_SERVER_MS / 1000).contains(&ms) {
        "in seconds, but must be milliseconds".to_owned()
    } else {
        format!("in the year {}", 1970 + ms / 31_556_952_000)
    };
    Err(Error::TimeOutOfRange(format!(
        "server time {what} is {when}, not between the years 2000 and 2200"
    )))
}

/// The body as a JSON object, if it is one (and not over the cap).
pub(super) fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice(body).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
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
            Err(Error::ProtocolViolation(m)) => m,
            other => panic!("expected ProtocolViolation, got {other:?}"),
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
}
