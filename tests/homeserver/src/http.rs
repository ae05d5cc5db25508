//! The little HTTP/1.1 this server needs: request heads in, responses out,
//! and IMF-fixdate for any year (httpdate stops at 1970, and the Year1900
//! fault needs earlier).

/// Formats whole Unix seconds as an IMF-fixdate (RFC 9110 §5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`. Works for years 0 to 9999 (outside that
/// the year is printed with as many digits as it takes).
///
/// ```
/// use mxclock_test_homeserver::imf_fixdate;
/// assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!(imf_fixdate(-2_208_988_800), "Mon, 01 Jan 1900 00:00:00 GMT");
/// ```
pub fn imf_fixdate(unix_s: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    /// Header (name, value) pairs in the order received; names as sent.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    pub(crate) fn keep_alive(&self, version: &str) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match version {
            "HTTP/1.1" => connection.as_deref() != Some("close"),
            _ => connection.as_deref() == Some("keep-alive"),
        }
    }
}

pub(crate) enum ParseError {
    /// Not HTTP; answer 400 and close.
    Malformed,
}

/// Parses a request head (without the final blank line).
pub(crate) fn parse_head(head: &[u8]) -> Result<(RecordedRequest, String), ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::Malformed)?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(path), Some(version), None) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Err(ParseError::Malformed);
    };
    if method.is_empty() || !path.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(ParseError::Malformed);
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(ParseError::Malformed)?;
        if name.is_empty() || name.contains(' ') {
            return Err(ParseError::Malformed);
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok((
        RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
        },
        version.to_owned(),
    ))
}

pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        // No CR/LF from test-supplied values (a redirect location) can split
        // the header block.
        let value: String = value
            .into()
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        self.headers.push((name, value));
        self
    }

    pub(crate) fn json(self, body: String) -> Response {
        let mut r = self.header("Content-Type", "application/json");
        r.body = body.into_bytes();
        r
    }

    /// Status line and headers, `Content-Length` = `declared_len`, ending in
    /// the blank line.
    pub(crate) fn head(&self, declared_len: usize, close: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str(&format!("Content-Length: {declared_len}\r\n"));
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A Matrix error body.
pub(crate) fn matrix_error(errcode: &str, error: &str) -> String {
    serde_json::json!({ "errcode": errcode, "error": error }).to_string()
}

/// The Matrix error a status maps to (see [`crate::Fault::Status`]).
pub(crate) fn status_error(status: u16) -> (&'static str, &'static str) {
    match status {
        401 => ("M_UNKNOWN_TOKEN", "Invalid access token passed."),
        403 => ("M_FORBIDDEN", "Forbidden"),
        404 | 405 => ("M_UNRECOGNIZED", "Unrecognized request"),
        429 => ("M_LIMIT_EXCEEDED", "Too Many Requests"),
        _ => ("M_UNKNOWN", "Internal server error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_at_known_points() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(32_503_680_000), "Wed, 01 Jan 3000 00:00:00 GMT");
        assert_eq!(imf_fixdate(-2_208_988_801), "Sun, 31 Dec 1899 23:59:59 GMT");
    }

    #[test]
    fn parses_request_heads() {
        let (r, v) = parse_head(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAuthorization:  Bearer t ")
            .ok()
            .unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), v.as_str()),
            ("GET", "/a?b=1", "HTTP/1.1")
        );
        assert_eq!(r.header("authorization"), Some("Bearer t"));
        assert_eq!(r.path_only(), "/a");
        assert!(r.keep_alive("HTTP/1.1"));
        assert!(!r.keep_alive("HTTP/1.0"));
        for bad in [
            &b"GET /a"[..],
            b"GET a HTTP/1.1",
            b"GET /a HTTP/2 x",
            b"GET /a HTTP/1.1\r\nno colon",
            b"\xff /a HTTP/1.1",
        ] {
            assert!(parse_head(bad).is_err());
        }
    }
}
