//! Shared server state and the per-connection loop: read a request, sleep the
//! uplink delay, read the server clock, build the reply, sleep the downlink
//! delay, write the reply (or misbehave).

use std::collections::{HashMap, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{
    Fault, HomeserverConfig, AGE_HUGE_HEADER, DATE_MALFORMED_HEADER, HUGE_BODY_BYTES,
    RANDOM_TIME_RANGE_MS, SLOW_BODY_BYTE_INTERVAL, YEAR_1900_MS, YEAR_3000_MS,
};
use crate::http::{imf_fixdate, matrix_error, parse_head, status_error, RecordedRequest, Response};
use crate::rng::Rng;

/// How long a blocked read waits before re-checking for shutdown.
const POLL: Duration = Duration::from_millis(50);
/// An idle or half-sent request is dropped after this long.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A client that stops reading is dropped after this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Request heads larger than this get 431 and a close.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Request bodies (GET has none; this is only for robustness) up to this are
/// read and discarded; larger ones close the connection.
const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
/// Only the most recent requests are kept for [`crate::TestHomeserver::requests`].
pub(crate) const RECORD_LIMIT: usize = 10_000;

pub(crate) const TIME_PATHS: [&str; 2] = [
    "/_matrix/client/v3/get_server_now",
    "/_matrix/client/unstable/org.matrix.msc4094/get_server_now",
];
pub(crate) const VERSIONS_PATH: &str = "/_matrix/client/versions";
pub(crate) const TRUE_SERVER_MS_PATH: &str = "/_test/true_server_ms";
pub(crate) const REQUEST_COUNT_PATH: &str = "/_test/request_count";

/// This machine's wall clock in fractional Unix ms.
pub(crate) fn wall_ms() -> f64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as f64 / 1e6,
        Err(e) => -(e.duration().as_nanos() as f64) / 1e6,
    }
}

/// A connection the server can talk over: plain TCP or TLS on TCP.
pub(crate) trait Conn: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

struct State {
    config: HomeserverConfig,
    script: VecDeque<Fault>,
    /// Total clock step applied by `StepAfter` so far.
    step_applied_ms: f64,
    /// Requests (fault-eligible) since the fault was last set.
    requests_since_fault: u64,
    step_done: bool,
    rng: Rng,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    stopped: AtomicBool,
    stop_flag: Mutex<bool>,
    stop_cv: Condvar,
    time_requests: AtomicU64,
    total_requests: AtomicU64,
    recorded: Mutex<VecDeque<RecordedRequest>>,
    /// Clones of live connections so shutdown can unblock them.
    pub(crate) conns: Mutex<HashMap<u64, TcpStream>>,
}

/// Locks, recovering from poisoning: a panicking test thread must not turn
/// every later call into a second panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Plan {
    fault: Fault,
    uplink: Duration,
    downlink: Duration,
    msc4094: bool,
    /// Replies since the fault was set before this one (from 0).
    reply_index: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Time,
    Versions,
    TrueServerMs,
    RequestCount,
    OtherTest,
    Unknown,
}

impl Route {
    fn of(path: &str) -> Route {
        if TIME_PATHS.contains(&path) {
            Route::Time
        } else if path == VERSIONS_PATH {
            Route::Versions
        } else if path == TRUE_SERVER_MS_PATH {
            Route::TrueServerMs
        } else if path == REQUEST_COUNT_PATH {
            Route::RequestCount
        } else if path.starts_with("/_test/") {
            Route::OtherTest
        } else {
            Route::Unknown
        }
    }
}

impl Shared {
    pub(crate) fn new(config: HomeserverConfig) -> Shared {
        Shared {
            state: Mutex::new(State {
                rng: Rng::new(config.seed),
                config,
                script: VecDeque::new(),
                step_applied_ms: 0.0,
                requests_since_fault: 0,
                step_done: false,
            }),
            stopped: AtomicBool::new(false),
            stop_flag: Mutex::new(false),
            stop_cv: Condvar::new(),
            time_requests: AtomicU64::new(0),
            total_requests: AtomicU64::new(0),
            recorded: Mutex::new(VecDeque::new()),
            conns: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn config(&self) -> HomeserverConfig {
        lock(&self.state).config.clone()
    }

    pub(crate) fn set_config(&self, config: HomeserverConfig) {
        let mut st = lock(&self.state);
        st.rng = Rng::new(config.seed);
        st.config = config;
        st.step_applied_ms = 0.0;
        st.requests_since_fault = 0;
        st.step_done = false;
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        let mut st = lock(&self.state);
        st.config.fault = fault;
        st.requests_since_fault = 0;
        st.step_done = false;
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut HomeserverConfig)) {
        f(&mut lock(&self.state).config);
    }

    pub(crate) fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).script.extend(faults);
    }

    pub(crate) fn script_len(&self) -> usize {
        lock(&self.state).script.len()
    }

    /// Server time minus this machine's wall clock, including any step.
    pub(crate) fn offset_ms(&self) -> f64 {
        let st = lock(&self.state);
        st.config.skew_ms + st.step_applied_ms
    }

    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.time_requests.load(Ordering::SeqCst),
            self.total_requests.load(Ordering::SeqCst),
        )
    }

    pub(crate) fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.recorded).iter().cloned().collect()
    }

    pub(crate) fn clear_recorded(&self) {
        lock(&self.recorded).clear();
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        *lock(&self.stop_flag) = true;
        self.stop_cv.notify_all();
    }

    /// Sleeps `d` unless the server stops first; false if it stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = lock(&self.stop_flag);
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopped = self
                .stop_cv
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Records and counts a request and decides what happens to it.
    fn begin(&self, request: RecordedRequest, is_time: bool) -> Plan {
        self.total_requests.fetch_add(1, Ordering::SeqCst);
        if is_time {
            self.time_requests.fetch_add(1, Ordering::SeqCst);
        }
        {
            let mut rec = lock(&self.recorded);
            if rec.len() >= RECORD_LIMIT {
                rec.pop_front();
            }
            rec.push_back(request);
        }
        let mut st = lock(&self.state);
        st.requests_since_fault += 1;
        let fault = match st.script.pop_front() {
            Some(f) => f,
            None => st.config.fault.clone(),
        };
        if let Fault::StepAfter { requests, step_ms } = fault {
            if !st.step_done && st.requests_since_fault > u64::from(requests) {
                st.step_done = true;
                st.step_applied_ms += step_ms as f64;
            }
        }
        let (up, down) = (st.config.uplink.clone(), st.config.downlink.clone());
        let uplink = up.sample(&mut st.rng);
        let downlink = down.sample(&mut st.rng);
        Plan {
            fault,
            uplink,
            downlink,
            msc4094: st.config.msc4094,
            reply_index: st.requests_since_fault - 1,
        }
    }

    fn draw(&self) -> f64 {
        lock(&self.state).rng.next_f64()
    }

    fn garbage(&self) -> Vec<u8> {
        let mut st = lock(&self.state);
        (0..256).map(|_| st.rng.next_u64() as u8).collect()
    }
}

enum ReadOutcome {
    Request(RecordedRequest, String),
    Closed,
    Malformed,
    TooLarge,
    TlsOnPlainPort,
}

/// Serves one connection until it closes, misbehaves or the server stops.
pub(crate) fn serve_connection(shared: &Shared, conn: &mut dyn Conn, plain: bool) {
    let _ = conn.tcp().set_nodelay(true);
    let _ = conn.tcp().set_read_timeout(Some(POLL));
    let _ = conn.tcp().set_write_timeout(Some(WRITE_TIMEOUT));
    let mut buf = Vec::new();
    loop {
        let (status, text) = match read_request(shared, conn, &mut buf, plain) {
            ReadOutcome::Request(req, version) => {
                if handle(shared, conn, req, &version) {
                    continue;
                }
                return;
            }
            ReadOutcome::Closed => return,
            ReadOutcome::Malformed => (400, "Malformed request"),
            ReadOutcome::TooLarge => (431, "Request head too large"),
            // A TLS client on the plain port gets plain HTTP bytes back,
            // which fails its handshake at once instead of timing out.
            ReadOutcome::TlsOnPlainPort => (400, "Plain HTTP port; TLS is not spoken here"),
        };
        let resp = dated(Response::new(status), shared.offset_ms() + wall_ms())
            .json(matrix_error("M_UNKNOWN", text));
        let mut out = resp.head(resp.body.len(), true);
        out.extend_from_slice(&resp.body);
        let _ = conn.write_all(&out).and_then(|_| conn.flush());
        return;
    }
}

fn read_request(
    shared: &Shared,
    conn: &mut dyn Conn,
    buf: &mut Vec<u8>,
    plain: bool,
) -> ReadOutcome {
    let mut last_progress = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let parsed = parse_head(&buf[..end]);
            buf.drain(..end + 4);
            let Ok((req, version)) = parsed else {
                return ReadOutcome::Malformed;
            };
            let body_len = req
                .header("content-length")
                .map(|v| v.parse::<usize>().unwrap_or(usize::MAX))
                .unwrap_or(0);
            if body_len > MAX_REQUEST_BODY_BYTES {
                return ReadOutcome::TooLarge;
            }
            while buf.len() < body_len {
                match read_some(shared, conn, &mut chunk, &mut last_progress) {
                    Some(n) => buf.extend_from_slice(&chunk[..n]),
                    None => return ReadOutcome::Closed,
                }
            }
            buf.drain(..body_len);
            return ReadOutcome::Request(req, version);
        }
        if plain && buf.first() == Some(&0x16) {
            return ReadOutcome::TlsOnPlainPort;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return ReadOutcome::TooLarge;
        }
        match read_some(shared, conn, &mut chunk, &mut last_progress) {
            Some(n) => buf.extend_from_slice(&chunk[..n]),
            None => return ReadOutcome::Closed,
        }
    }
}

/// One read, retried across poll timeouts; None on EOF, error, idle limit or
/// shutdown.
fn read_some(
    shared: &Shared,
    conn: &mut dyn Conn,
    chunk: &mut [u8],
    last_progress: &mut Instant,
) -> Option<usize> {
    loop {
        if shared.stopped() || last_progress.elapsed() > IDLE_LIMIT {
            return None;
        }
        match conn.read(chunk) {
            Ok(0) => return None,
            Ok(n) => {
                *last_progress = Instant::now();
                return Some(n);
            }
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn dated(resp: Response, server_ms: f64) -> Response {
    let date_s = (server_ms.floor() as i64).div_euclid(1000);
    resp.header("Date", imf_fixdate(date_s))
}

/// Handles one request; true to keep the connection for another.
fn handle(shared: &Shared, conn: &mut dyn Conn, req: RecordedRequest, version: &str) -> bool {
    let keep_alive = req.keep_alive(version);
    let head_only = req.method == "HEAD";
    let method_ok = req.method == "GET" || head_only;
    let route = Route::of(req.path_only());

    if matches!(
        route,
        Route::TrueServerMs | Route::RequestCount | Route::OtherTest
    ) {
        // Test-only control routes: no faults, no delays, not recorded.
        let server_ms = wall_ms() + shared.offset_ms();
        let resp = match route {
            Route::TrueServerMs => Response::new(200)
                .json(serde_json::json!({ "true_server_ms": server_ms }).to_string()),
            Route::RequestCount => {
                let (time_endpoint, total) = shared.counts();
                Response::new(200).json(
                    serde_json::json!({ "time_endpoint": time_endpoint, "total": total })
                        .to_string(),
                )
            }
            _ => Response::new(404).json(matrix_error("M_UNRECOGNIZED", "Unrecognized request")),
        };
        let resp = dated(resp, server_ms);
        return send(shared, conn, resp, Mode::Normal, head_only, keep_alive);
    }

    let plan = shared.begin(req, route == Route::Time);
    if plan.fault == Fault::NeverAnswer {
        hold(shared, conn);
        return false;
    }
    if !shared.sleep(plan.uplink) {
        return false;
    }
    // The server clock is read here, between the two delays.
    let server_ms = wall_ms() + shared.offset_ms();
    let (resp, mode) = build(shared, route, method_ok, &plan, server_ms);
    if !shared.sleep(plan.downlink) {
        return false;
    }
    send(shared, conn, resp, mode, head_only, keep_alive)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Truncated,
    ResetMidHeaders,
    ResetMidBody,
    Slow,
}

fn build(
    shared: &Shared,
    route: Route,
    method_ok: bool,
    plan: &Plan,
    server_ms: f64,
) -> (Response, Mode) {
    const DAY_MS: f64 = 86_400_000.0;
    let fault = &plan.fault;

    // The time this reply shows, in body and Date alike (unless a clock
    // fault below sets the Date apart).
    let mut age_header: Option<String> = None;
    let mut date_shown_ms: Option<f64> = None;
    let shown_ms = match fault {
        Fault::ClockOffset { .. } | Fault::TwoBackends { .. } | Fault::Cached { .. } => {
            let draw = match fault {
                Fault::TwoBackends {
                    order: crate::config::BackendOrder::Random,
                    ..
                } => shared.draw(),
                _ => 0.0,
            };
            let (body, date) = fault
                .clock_offsets_ms(plan.reply_index, draw)
                .unwrap_or((0, 0));
            if let Fault::Cached { age_s, .. } = fault {
                age_header = Some(age_s.to_string());
            }
            date_shown_ms = Some(server_ms + date as f64);
            server_ms + body as f64
        }
        Fault::Year1900 => YEAR_1900_MS as f64 + server_ms.rem_euclid(DAY_MS),
        Fault::Year3000 => YEAR_3000_MS as f64 + server_ms.rem_euclid(DAY_MS),
        Fault::RandomTimePerRequest => {
            server_ms + (shared.draw() * 2.0 - 1.0) * RANDOM_TIME_RANGE_MS
        }
        Fault::StaleCache { probability, age_s } if shared.draw() < *probability => {
            age_header = Some(age_s.to_string());
            server_ms - *age_s as f64 * 1000.0
        }
        _ => server_ms,
    };
    let body_ms = shown_ms.floor() as i64;
    if *fault == Fault::AgeHuge {
        age_header = Some(AGE_HUGE_HEADER.to_owned());
    }

    let unrecognized =
        || Response::new(404).json(matrix_error("M_UNRECOGNIZED", "Unrecognized request"));
    let mut resp = match fault {
        Fault::Status(code) => {
            let (errcode, error) = status_error(*code);
            Response::new(*code).json(matrix_error(errcode, error))
        }
        Fault::MatrixError {
            status,
            errcode,
            error,
        } => Response::new(*status).json(matrix_error(errcode, error)),
        Fault::RateLimited {
            retry_after_ms,
            retry_after_header_s,
        } => {
            let mut body = serde_json::json!({
                "errcode": "M_LIMIT_EXCEEDED",
                "error": "Too Many Requests",
            });
            if let Some(ms) = retry_after_ms {
                body["retry_after_ms"] = (*ms).into();
            }
            let mut r = Response::new(429);
            if let Some(s) = retry_after_header_s {
                r = r.header("Retry-After", s.to_string());
            }
            r.json(body.to_string())
        }
        Fault::Redirect { status, location } => {
            let mut r = Response::new(*status).header("Location", location.clone());
            r.body.clear();
            r
        }
        _ => match route {
            _ if !method_ok && route != Route::Unknown => {
                Response::new(405).json(matrix_error("M_UNRECOGNIZED", "Unrecognized request"))
            }
            Route::Time if plan.msc4094 => {
                let body = match fault {
                    Fault::TimeAsString => format!("{{\"server_now\":\"{body_ms}\"}}"),
                    Fault::TimeAsFloat => format!("{{\"server_now\":{shown_ms:.3}}}"),
                    Fault::NegativeTime => format!("{{\"server_now\":{}}}", -body_ms),
                    _ => format!("{{\"server_now\":{body_ms}}}"),
                };
                Response::new(200).json(body)
            }
            Route::Versions => Response::new(200).json(
                serde_json::json!({
                    "versions": ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5",
                                 "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"],
                    "unstable_features": { "org.matrix.msc4094": plan.msc4094 },
                })
                .to_string(),
            ),
            _ => unrecognized(),
        },
    };

    // Body replacements keep the status of whatever route was hit.
    match fault {
        Fault::Garbage => resp.body = shared.garbage(),
        Fault::NonJson => {
            resp.body =
                b"<html><head><title>502</title></head><body>server_now</body></html>\n".to_vec()
        }
        Fault::InvalidUtf8 => {
            let mut body = format!("{{\"server_now\":{body_ms},\"note\":\"").into_bytes();
            body.extend_from_slice(b"\xff\xfe\"}");
            resp.body = body;
        }
        Fault::HugeBody => {
            let mut body = format!("{{\"server_now\":{body_ms},\"padding\":\"").into_bytes();
            body.resize(HUGE_BODY_BYTES - 2, b'x');
            body.extend_from_slice(b"\"}");
            resp.body = body;
        }
        Fault::WrongContentType => {
            resp.headers.retain(|(n, _)| *n != "Content-Type");
            resp = resp.header("Content-Type", "text/html; charset=utf-8");
        }
        _ => {}
    }

    // Headers every reply carries, in the order real servers send them.
    let mut headers = Vec::new();
    match fault {
        Fault::DateMissing => {}
        Fault::DateMalformed => headers.push(("Date", DATE_MALFORMED_HEADER.to_owned())),
        _ => {
            let date_ms = date_shown_ms.map_or(body_ms, |d| d.floor() as i64);
            headers.push(("Date", imf_fixdate(date_ms.div_euclid(1000))))
        }
    }
    if let Some(age) = age_header {
        headers.push(("Age", age));
    }
    headers.push(("Server", "mxclock-test-homeserver".to_owned()));
    headers.push((
        "Cache-Control",
        "no-cache, no-store, must-revalidate".to_owned(),
    ));
    headers.append(&mut resp.headers);
    resp.headers = headers;

    let mode = match fault {
        Fault::Truncated => Mode::Truncated,
        Fault::ResetMidHeaders => Mode::ResetMidHeaders,
        Fault::ResetMidBody => Mode::ResetMidBody,
        Fault::SlowBody => Mode::Slow,
        _ => Mode::Normal,
    };
    (resp, mode)
}

/// Writes the reply as `mode` says; true to keep the connection.
fn send(
    shared: &Shared,
    conn: &mut dyn Conn,
    resp: Response,
    mode: Mode,
    head_only: bool,
    keep_alive: bool,
) -> bool {
    let close = !keep_alive || mode != Mode::Normal;
    let head = resp.head(resp.body.len(), close);
    let body: &[u8] = if head_only { &[] } else { &resp.body };
    let result = match mode {
        Mode::Normal => write_chunked(shared, conn, &head, body),
        Mode::Truncated => write_chunked(shared, conn, &head, &body[..body.len() / 2]),
        Mode::ResetMidHeaders => {
            // Cut inside the header block, after the status line.
            let cut = head.len() * 2 / 3;
            let r = write_chunked(shared, conn, &head[..cut], &[]);
            reset(conn);
            r
        }
        Mode::ResetMidBody => {
            let r = write_chunked(shared, conn, &head, &body[..body.len() / 2]);
            reset(conn);
            r
        }
        Mode::Slow => {
            let mut r = write_chunked(shared, conn, &head, &[]);
            for byte in body {
                if r.is_err() || !shared.sleep(SLOW_BODY_BYTE_INTERVAL) {
                    break;
                }
                r = conn.write_all(&[*byte]).and_then(|_| conn.flush());
            }
            r
        }
    };
    result.is_ok() && !close
}

/// Writes head and body in pieces so a stop is noticed mid-way through a huge
/// body, and a client that stops reading does not pin the thread forever.
fn write_chunked(shared: &Shared, conn: &mut dyn Conn, head: &[u8], body: &[u8]) -> io::Result<()> {
    // Small replies go out in one write so their timing is one event.
    if head.len() + body.len() <= 64 * 1024 {
        let mut all = Vec::with_capacity(head.len() + body.len());
        all.extend_from_slice(head);
        all.extend_from_slice(body);
        conn.write_all(&all)?;
        return conn.flush();
    }
    conn.write_all(head)?;
    for piece in body.chunks(64 * 1024) {
        if shared.stopped() {
            return Err(ErrorKind::Interrupted.into());
        }
        conn.write_all(piece)?;
    }
    conn.flush()
}

/// Keeps a connection open without answering until the client closes it or
/// the server stops.
fn hold(shared: &Shared, conn: &mut dyn Conn) {
    let mut chunk = [0u8; 1024];
    while !shared.stopped() {
        match conn.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Makes the coming close a TCP reset (SO_LINGER 0) instead of a FIN. The
/// close itself happens when the connection's last handle is dropped.
fn reset(conn: &mut dyn Conn) {
    // Let the partial reply leave before the RST overtakes it.
    std::thread::sleep(Duration::from_millis(20));
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket fd owned by `conn` and a correctly sized
        // option value that lives across the call.
        unsafe {
            libc::setsockopt(
                conn.tcp().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = conn.tcp().shutdown(Shutdown::Both);
    }
}

/// Unblocks every live connection (used on stop).
pub(crate) fn shutdown_all(shared: &Shared) {
    for stream in lock(&shared.conns).values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}
