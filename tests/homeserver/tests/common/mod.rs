//! A deliberately dumb std-only HTTP client for checking the server byte by
//! byte (a real client would hide the faults we want to see).

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as f64
        / 1e6
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// This machine's wall clock just before the request was written.
    pub sent_wall_ms: f64,
    /// This machine's wall clock once the whole reply was read.
    pub received_wall_ms: f64,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn server_now(&self) -> i64 {
        self.json()["server_now"]
            .as_i64()
            .unwrap_or_else(|| panic!("no integer server_now in {:?}", self.json()))
    }

    /// The `Date` header as Unix seconds (years ≥ 1970).
    pub fn date_s(&self) -> i64 {
        let date = self.header("date").expect("Date header");
        httpdate::parse_http_date(date)
            .unwrap_or_else(|e| panic!("bad Date {date:?}: {e}"))
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }
}

pub fn connect(port: u16) -> TcpStream {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}

pub fn request_text(
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    close: bool,
) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in extra_headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    req
}

/// One GET on a fresh connection.
pub fn get(port: u16, path: &str) -> Reply {
    get_with(port, path, &[])
}

pub fn get_with(port: u16, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut tcp = connect(port);
    exchange(&mut tcp, &request_text("GET", path, headers, true), false).expect("exchange")
}

/// Writes a request and reads one reply (body by Content-Length).
pub fn exchange(tcp: &mut TcpStream, request: &str, head_only: bool) -> io::Result<Reply> {
    let sent_wall_ms = wall_ms();
    tcp.write_all(request.as_bytes())?;
    let (status, headers, mut rest) = read_head(tcp)?;
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("Content-Length");
    let len = if head_only { 0 } else { len };
    let mut chunk = [0u8; 65536];
    while rest.len() < len {
        let n = read_retrying(tcp, &mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        rest.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(rest.len(), len, "more bytes than Content-Length");
    Ok(Reply {
        status,
        headers,
        body: rest,
        sent_wall_ms,
        received_wall_ms: wall_ms(),
    })
}

/// Status, headers, and any body bytes read along with them.
pub type Head = (u16, Vec<(String, String)>, Vec<u8>);

/// `read`, retried on EINTR (seen here when a test spawns child processes).
fn read_retrying(tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match tcp.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads a status line and headers; returns any body bytes already read.
pub fn read_head(tcp: &mut TcpStream) -> io::Result<Head> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = read_retrying(tcp, &mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Ok((status, headers, buf[end + 4..].to_vec()))
}

/// Everything the server sends until EOF or an error, and that error.
pub fn read_all_raw(tcp: &mut TcpStream) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match tcp.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(e)),
        }
    }
}

pub use mxclock_test_homeserver::TIME_PATH;

/// Like [`read_all_raw`] but stops at `deadline` (a trickling server would
/// otherwise keep a per-read timeout from ever firing).
pub fn read_until(tcp: &mut TcpStream, deadline: Instant) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, None);
        }
        tcp.set_read_timeout(Some(left)).unwrap();
        match tcp.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (out, None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(e)),
        }
    }
}
