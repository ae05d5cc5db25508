//! The `Date` and `Age` headers of a reply: the server's time to the
//! second, and how long a cache held the reply.
//!
//! A `Date` in second 60 is a leap second, which RFC 9110 allows. Unix time
//! has no name for it: during it a server's clock reads 23:59:59 again
//! (stepped back), stays at 23:59:59.999 (held), or already reads
//! 00:00:00 (stepped early or smeared). mxclock takes it as 23:59:59.999,
//! the last instant of second 59, and widens the sample to cover every
//! reading: from 23:59:59.000 to the end of 00:00:00, two seconds instead
//! of one, so the interval never claims more than the truth allows.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::sample::Sample;
use crate::transport::HttpResponse;

/// Longest `Date` header value looked at; real ones are 29 characters.
const MAX_DATE_HEADER_LEN: usize = 64;

/// A `Date` header's time: whole Unix seconds, the floor of the server's
/// clock when it made the reply.
///
/// ```
/// use mxclock::__internal::parse_date_header;
/// let d = parse_date_header("Sat, 31 Dec 2016 23:59:60 GMT").unwrap();
/// assert!(d.is_leap_second());
/// assert_eq!(d.unix_s(), 1_483_228_799); // 23:59:59
/// assert_eq!(d.span_ms(), 2_000);        // 23:59:59.000 to 00:00:01.000
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpDate {
    unix_s: i64,
    leap_second: bool,
}

impl HttpDate {
    /// A date of `unix_s` whole seconds (no leap second).
    pub fn from_unix_s(unix_s: i64) -> HttpDate {
        HttpDate {
            unix_s,
            leap_second: false,
        }
    }

    /// Whole Unix seconds; for a leap second, the second before it
    /// (23:59:59).
    pub fn unix_s(self) -> i64 {
        self.unix_s
    }

    /// Whether the header named second 60.
    pub fn is_leap_second(self) -> bool {
        self.leap_second
    }

    /// How many ms from `unix_s() * 1000` the server's Unix clock may have
    /// read: 1 000, or 2 000 for a leap second.
    pub fn span_ms(self) -> i64 {
        if self.leap_second {
            2_000
        } else {
            1_000
        }
    }
}

/// A `Date` header value. Accepts IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) and the obsolete RFC 850 and asctime
/// forms, as the `httpdate` crate does, plus second 60 at 23:59 (a leap
/// second); surrounding whitespace is ignored. The range is not checked
/// here (the sample does that). The message never quotes the value.
///
/// ```
/// use mxclock::__internal::parse_date_header;
/// assert_eq!(parse_date_header("Sun, 06 Nov 1994 08:49:37 GMT").unwrap().unix_s(), 784_111_777);
/// assert!(parse_date_header("yesterday").is_err());
/// ```
pub fn parse_date_header(value: &str) -> Result<HttpDate> {
    let v = value.trim_matches([' ', '\t']);
    let not_a_date = || {
        Error::ProtocolViolation(format!(
            "Date header ({} characters) is not an HTTP date like \
             `Sun, 06 Nov 1994 08:49:37 GMT`",
            v.chars().count()
        ))
    };
    if v.len() > MAX_DATE_HEADER_LEN || !v.is_ascii() {
        return Err(not_a_date());
    }
    let (text, leap_second) = match leap_second_at(v) {
        Some(i) => (format!("{}59{}", &v[..i], &v[i + 2..]), true),
        None => (v.to_owned(), false),
    };
    let t = httpdate::parse_http_date(&text).map_err(|_| not_a_date())?;
    Ok(HttpDate {
        unix_s: unix_seconds(t),
        leap_second,
    })
}

/// Where the `60` of a `23:59:60` time of day starts, if `v` has one.
fn leap_second_at(v: &str) -> Option<usize> {
    let i = v.find("23:59:60")? + 6;
    let before_ok = i < 7 || v.as_bytes()[i - 7] == b' ';
    let after_ok = v.as_bytes().get(i + 2).is_none_or(|&b| b == b' ');
    (before_ok && after_ok).then_some(i)
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// An `Age` header value in seconds (RFC 9111: non-negative decimal digits;
/// a value too large to represent counts as 2^31). Whether the age is
/// believable is the sample's decision.
///
/// ```
/// use mxclock::__internal::parse_age_header;
/// assert_eq!(parse_age_header("42").unwrap(), 42);
/// assert!(parse_age_header("-1").is_err());
/// ```
pub fn parse_age_header(value: &str) -> Result<i64> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::ProtocolViolation(format!(
            "Age header is not a whole number of seconds ({} characters, not all digits)",
            v.chars().count()
        )));
    }
    const RFC_9111_MAX: i64 = 1 << 31;
    Ok(v.parse::<i64>()
        .map_or(RFC_9111_MAX, |s| s.min(RFC_9111_MAX)))
}

/// The `Date` and `Age` headers of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseDate {
    /// The `Date` header.
    pub date: HttpDate,
    /// The `Age` header in seconds, if any (a cache answered).
    pub age_s: Option<i64>,
}

impl ResponseDate {
    /// The sample of a reply to a request sent at boot time `sent_boot_ms`
    /// and received at `received_boot_ms` ([`Sample::from_date_header`]),
    /// widened by a second for a leap second.
    pub fn sample(&self, sent_boot_ms: i64, received_boot_ms: i64) -> Result<Sample> {
        let mut s = Sample::from_date_header(
            sent_boot_ms,
            received_boot_ms,
            self.date.unix_s(),
            self.age_s,
        )?;
        s.hi_ms = s
            .hi_ms
            .checked_add(self.date.span_ms() - 1_000)
            .ok_or_else(|| Error::TimeOutOfRange("Date header sample overflows".into()))?;
        Ok(s)
    }
}

/// The `Date` and `Age` headers of a response. Errors when `Date` is
/// missing or malformed, when either header appears more than once with
/// different values (which one would be the server's?), or when `Age` is
/// malformed.
pub(crate) fn response_date(response: &HttpResponse) -> Result<ResponseDate> {
    let date = single_header(response, "Date")?.ok_or_else(|| {
        Error::ProtocolViolation(
            "the reply has no Date header; the server's time is unknown".into(),
        )
    })?;
    let date = parse_date_header(date)?;
    let age_s = single_header(response, "Age")?
        .map(parse_age_header)
        .transpose()?;
    Ok(ResponseDate { date, age_s })
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
        return Err(Error::ProtocolViolation(format!(
            "the reply has several different {name} headers; a proxy or cache is \
             interfering, so none is believed"
        )));
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpHeader;

    fn unix_s(v: &str) -> i64 {
        parse_date_header(v)
            .unwrap_or_else(|e| panic!("{v}: {e}"))
            .unix_s()
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
            assert_eq!(unix_s(v), want, "{v}");
            assert!(!parse_date_header(v).unwrap().is_leap_second());
        }
        assert_eq!(unix_s("Tue, 14 Nov 2023 22:13:20 GMT"), 1_700_000_000);
        assert_eq!(unix_s("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
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
            match parse_date_header(bad) {
                Err(Error::ProtocolViolation(m)) => assert!(m.contains("not an HTTP date"), "{m}"),
                other => panic!("{bad:?} → {other:?}"),
            }
        }
    }

    #[test]
    fn leap_seconds() {
        // 2016-12-31T23:59:59Z is 1_483_228_799.
        for v in [
            "Sat, 31 Dec 2016 23:59:60 GMT",
            "Saturday, 31-Dec-16 23:59:60 GMT",
            "Sat Dec 31 23:59:60 2016",
        ] {
            let d = parse_date_header(v).unwrap();
            assert_eq!(d.unix_s(), 1_483_228_799, "{v}");
            assert!(d.is_leap_second(), "{v}");
            assert_eq!(d.span_ms(), 2_000);
        }
        // Second 60 exists only at 23:59; second 61 never.
        for bad in [
            "Sat, 31 Dec 2016 23:59:61 GMT",
            "Sat, 31 Dec 2016 12:00:60 GMT",
            "Sat, 31 Dec 2016 23:58:60 GMT",
            "Sat, 31 Dec 2016 123:59:60 GMT",
            "Sat, 31 Dec 2016 23:59:600 GMT",
            "Sat, 31 Dec 2016 23:59:60GMT",
        ] {
            assert!(parse_date_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn leap_second_samples_cover_both_unix_seconds() {
        let reply = |date: &str| HttpResponse {
            status: 200,
            headers: vec![HttpHeader::new("Date", date)],
            body: vec![],
        };
        let d59 = 1_483_228_799_000_i64;
        let leap = response_date(&reply("Sat, 31 Dec 2016 23:59:60 GMT"))
            .unwrap()
            .sample(1_000, 1_040)
            .unwrap();
        // Sent at boot 1 000, received at 1 040: θ = server − boot. Every
        // Unix reading during the leap second (59.000 ..< 01.000), at any
        // boot time of the round trip, is inside.
        for server_ms in [d59, d59 + 999, d59 + 1_000, d59 + 1_999] {
            for boot_ms in [1_000, 1_040] {
                let theta = server_ms - boot_ms;
                assert!(
                    leap.lo_ms <= theta && theta <= leap.hi_ms,
                    "{server_ms} {boot_ms}: {leap:?}"
                );
            }
        }
        let normal = response_date(&reply("Sat, 31 Dec 2016 23:59:59 GMT"))
            .unwrap()
            .sample(1_000, 1_040)
            .unwrap();
        assert_eq!(leap.hi_ms - leap.lo_ms, normal.hi_ms - normal.lo_ms + 1_000);
    }

    fn response(headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| HttpHeader::new(*n, *v))
                .collect(),
            body: vec![],
        }
    }

    #[test]
    fn dates_and_ages_of_responses() {
        let d = "Tue, 14 Nov 2023 22:13:20 GMT";
        let ok =
            |h: &[(&str, &str)]| response_date(&response(h)).map(|r| (r.date.unix_s(), r.age_s));
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
            assert!(matches!(ok(h), Err(Error::ProtocolViolation(_))), "{h:?}");
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
                matches!(parse_age_header(bad), Err(Error::ProtocolViolation(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn messages_never_quote_the_header() {
        let secret = "syt_quoted_secret_value";
        let m = parse_date_header(secret).unwrap_err().to_string();
        assert!(!m.contains("quoted"), "{m}");
        let m = parse_age_header(secret).unwrap_err().to_string();
        assert!(!m.contains("quoted"), "{m}");
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn response_date_example() {
        use crate::protocol::response_date;
        use crate::transport::{HttpHeader, HttpResponse};
        let r = HttpResponse {
            status: 404,
            headers: vec![HttpHeader::new("Date", "Tue, 14 Nov 2023 22:13:20 GMT")],
            body: vec![],
        };
        let d = response_date(&r).unwrap();
        assert_eq!((d.date.unix_s(), d.age_s), (1_700_000_000, None));
    }

    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn response_date_sample_example() {
        use crate::protocol::response_date;
        use crate::transport::{HttpHeader, HttpResponse};
        let reply = |date: &str| HttpResponse {
            status: 200,
            headers: vec![HttpHeader::new("Date", date)],
            body: vec![],
        };
        let normal = response_date(&reply("Sat, 31 Dec 2016 23:59:59 GMT"))
            .unwrap()
            .sample(0, 40)
            .unwrap();
        let leap = response_date(&reply("Sat, 31 Dec 2016 23:59:60 GMT"))
            .unwrap()
            .sample(0, 40)
            .unwrap();
        assert_eq!(leap.lo_ms, normal.lo_ms);
        assert_eq!(leap.hi_ms, normal.hi_ms + 1_000);
    }
}
