//! The fault matrix: every way a homeserver (or the network in
//! front of it) can misbehave, against the real `ServerClock::sync` over the
//! built-in ureq transport and the loopback test homeserver.
//!
//! Each case states the expected typed `mxclock::Error`, or the expected
//! fallback (e.g. a broken MSC4094 body → an estimate from the `Date`
//! header). Every sync is timed: it must finish within the configured
//! `request_timeout_ms` + 10 %. That is stronger than what `sync()` promises
//! (each *request* within the timeout, up to `max_samples_per_sync` or
//! `date_probe_budget` requests per burst): `slow_replies_under_the_timeout`
//! measures the promised per-burst bound separately. Any panic anywhere in
//! the process (library or test server thread) fails the matrix.
//!
//! Run with `--nocapture` to see the table of outcomes and durations.

mod with_http {
    use std::cell::Cell;
    use std::net::TcpListener;
    use std::panic::AssertUnwindSafe;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, Once};
    use std::time::{Duration, Instant};

    use mxclock::{ClockConfig, Error, Estimate, SampleSource, ServerClock, SyncReport};
    use mxclock::{HttpRequest, HttpResponse, HttpTransport, TransportError, UreqTransport};
    use mxclock_test_homeserver::{Delay, Fault, HomeserverConfig, TestHomeserver};

    /// Per-request timeout of every case: long enough that a loopback reply is
    /// never near it, short enough that the timeout cases run quickly.
    const TIMEOUT_MS: u64 = 1_500;
    /// The bound each sync is held to: the timeout + 10 %.
    const BOUND: Duration = Duration::from_millis(TIMEOUT_MS + TIMEOUT_MS / 10);
    /// A token that must never show up anywhere but in the Authorization header
    /// sent to the configured homeserver.
    const TOKEN: &str = "syt_ZmF1bHQ_MATRIXSECRET_7q2";

    // ---------------------------------------------------------------------------
    // Panic detection: a hook counts panics on every thread that is not a test's
    // own thread (the test server's threads, anything the library might spawn).
    // A panic on a test's thread is caught where it matters (around `sync`) or
    // fails that test anyway.
    // ---------------------------------------------------------------------------

    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static PANIC_MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    thread_local! {
        static TEST_THREAD: Cell<bool> = const { Cell::new(false) };
    }

    fn install_panic_counter() {
        static ONCE: Once = Once::new();
        TEST_THREAD.with(|t| t.set(true));
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !TEST_THREAD.with(Cell::get) {
                    PANICS.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut m) = PANIC_MESSAGES.lock() {
                        m.push(info.to_string());
                    }
                }
                previous(info);
            }));
        });
    }

    /// Panics seen on threads other than tests' own threads.
    fn panics_so_far() -> usize {
        PANICS.load(Ordering::SeqCst)
    }

    // ---------------------------------------------------------------------------
    // The built-in ureq transport, with each request timed.
    // ---------------------------------------------------------------------------

    /// [`UreqTransport`] that records how long each request took.
    struct TimedTransport {
        inner: UreqTransport,
        took: Mutex<Vec<Duration>>,
    }

    impl HttpTransport for TimedTransport {
        fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let t = Instant::now();
            let r = self.inner.get(request);
            self.took.lock().unwrap().push(t.elapsed());
            r
        }
    }

    /// A clock on the OS clocks and the timed built-in transport.
    fn timed_clock(config: ClockConfig) -> (Arc<ServerClock>, Arc<TimedTransport>) {
        let transport = Arc::new(TimedTransport {
            inner: UreqTransport::new(),
            took: Mutex::new(Vec::new()),
        });
        let clock = ServerClock::new_with_sources(config, None, Some(transport.clone())).unwrap();
        (clock, transport)
    }

    // ---------------------------------------------------------------------------
    // Cases
    // ---------------------------------------------------------------------------

    /// Where the clock points.
    enum Target {
        /// The loopback server (plain HTTP) with this fault on every request.
        Fault { fault: Fault, msc4094: bool },
        /// A loopback port nobody listens on.
        Refused,
        /// The loopback server over HTTPS with its self-signed certificate.
        SelfSignedTls,
        /// A redirect (status) to a second loopback server: another origin.
        RedirectElsewhere(u16),
        /// A raw loopback server answering every request with these bytes
        /// (then closing): replies the test homeserver cannot make.
        Raw(fn() -> Vec<u8>),
    }

    /// What the sync must give.
    enum Expect {
        /// This error (the predicate says which variant and fields).
        Err(&'static str, fn(&Error) -> bool),
        /// Success, with the estimate's best sample from this source.
        Ok(SampleSource),
    }

    struct Case {
        name: &'static str,
        target: Target,
        expect: Expect,
    }

    fn fault(fault: Fault) -> Target {
        Target::Fault {
            fault,
            msc4094: true,
        }
    }

    fn fault_no_endpoint(fault: Fault) -> Target {
        Target::Fault {
            fault,
            msc4094: false,
        }
    }

    fn is_network(e: &Error) -> bool {
        matches!(e, Error::Network(_))
    }
    fn is_timeout(e: &Error) -> bool {
        matches!(e, Error::Timeout { timeout_ms, .. } if *timeout_ms == TIMEOUT_MS)
    }
    fn is_protocol(e: &Error) -> bool {
        matches!(e, Error::ProtocolViolation(_))
    }
    fn is_out_of_range(e: &Error) -> bool {
        matches!(e, Error::TimeOutOfRange(_))
    }

    /// Every byte of `s` as `%XX`: a spelling no raw-text search finds.
    fn percent_every_byte(s: &str) -> String {
        s.bytes().map(|b| format!("%{b:02X}")).collect()
    }

    /// A raw reply: status line, headers, body, `Connection: close`.
    fn raw_reply(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\n");
        for h in headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        out.into_bytes()
    }

    const UNRECOGNIZED: &str = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#;

    fn cases() -> Vec<Case> {
        use Expect::{Err, Ok};
        use SampleSource::{DateHeader, Endpoint};
        vec![
            Case {
                name: "connection refused",
                target: Target::Refused,
                expect: Err("Network", is_network),
            },
            Case {
                name: "TLS: self-signed certificate",
                target: Target::SelfSignedTls,
                // rustls's reason (`invalid peer certificate: UnknownIssuer`).
                expect: Err(
                    "Network (certificate)",
                    |e| matches!(e, Error::Network(m) if m.contains("certificate")),
                ),
            },
            Case {
                name: "reset mid-headers",
                target: fault(Fault::ResetMidHeaders),
                expect: Err("Network", is_network),
            },
            Case {
                name: "reset mid-body",
                target: fault(Fault::ResetMidBody),
                expect: Err("Network", is_network),
            },
            Case {
                name: "truncated body (FIN)",
                target: fault(Fault::Truncated),
                expect: Err("Network", is_network),
            },
            Case {
                name: "accepts, never answers",
                target: fault(Fault::NeverAnswer),
                expect: Err("Timeout", is_timeout),
            },
            Case {
                name: "body trickled 1 byte/s",
                target: fault(Fault::SlowBody),
                expect: Err("Timeout", is_timeout),
            },
            Case {
                name: "10 MB body",
                target: fault(Fault::HugeBody),
                expect: Err(
                    "Protocol (64 KiB)",
                    |e| matches!(e, Error::ProtocolViolation(m) if m.contains("64 KiB")),
                ),
            },
            Case {
                name: "garbage body",
                target: fault(Fault::Garbage),
                expect: Ok(DateHeader),
            },
            Case {
                name: "invalid UTF-8 body",
                target: fault(Fault::InvalidUtf8),
                expect: Ok(DateHeader),
            },
            Case {
                name: "non-JSON body",
                target: fault(Fault::NonJson),
                expect: Ok(DateHeader),
            },
            Case {
                name: "time as a string",
                target: fault(Fault::TimeAsString),
                expect: Ok(DateHeader),
            },
            Case {
                name: "time as a float",
                target: fault(Fault::TimeAsFloat),
                expect: Ok(DateHeader),
            },
            Case {
                name: "negative time",
                target: fault(Fault::NegativeTime),
                expect: Ok(DateHeader),
            },
            Case {
                name: "year 1900 (body and Date)",
                target: fault(Fault::Year1900),
                expect: Err("TimeOutOfRange", is_out_of_range),
            },
            Case {
                name: "year 3000 (body and Date)",
                target: fault(Fault::Year3000),
                expect: Err("TimeOutOfRange", is_out_of_range),
            },
            Case {
                name: "year 1900, no endpoint",
                target: fault_no_endpoint(Fault::Year1900),
                // httpdate does not read dates before 1970: a malformed Date.
                expect: Err("Protocol", is_protocol),
            },
            Case {
                name: "year 3000, no endpoint",
                target: fault_no_endpoint(Fault::Year3000),
                expect: Err("TimeOutOfRange", is_out_of_range),
            },
            Case {
                name: "Date malformed, body fine",
                target: fault(Fault::DateMalformed),
                expect: Ok(Endpoint),
            },
            Case {
                name: "Date malformed, no endpoint",
                target: fault_no_endpoint(Fault::DateMalformed),
                expect: Err("Protocol", is_protocol),
            },
            Case {
                name: "Date missing, body fine",
                target: fault(Fault::DateMissing),
                expect: Ok(Endpoint),
            },
            Case {
                name: "Date missing, no endpoint",
                target: fault_no_endpoint(Fault::DateMissing),
                expect: Err("Unsupported", |e| matches!(e, Error::Unsupported(_))),
            },
            Case {
                name: "Age huge, body fine",
                // A cache claims the copy is 68 years old: neither its body nor
                // its Date can be trusted.
                target: fault(Fault::AgeHuge),
                expect: Err(
                    "Protocol (Age)",
                    |e| matches!(e, Error::ProtocolViolation(m) if m.contains("Age")),
                ),
            },
            Case {
                name: "Age huge, no endpoint",
                target: fault_no_endpoint(Fault::AgeHuge),
                expect: Err(
                    "Protocol (Age)",
                    |e| matches!(e, Error::ProtocolViolation(m) if m.contains("Age")),
                ),
            },
            Case {
                name: "wrong Content-Type",
                target: fault(Fault::WrongContentType),
                expect: Ok(Endpoint),
            },
            Case {
                name: "404 (no endpoint) → Date",
                target: fault(Fault::Status(404)),
                expect: Ok(DateHeader),
            },
            Case {
                name: "405 (no endpoint) → Date",
                target: fault(Fault::Status(405)),
                expect: Ok(DateHeader),
            },
            Case {
                name: "301 to another origin",
                target: Target::RedirectElsewhere(301),
                expect: Err(
                    "Http 301",
                    |e| matches!(e, Error::Http { status: 301, message } if message.contains("not followed")),
                ),
            },
            Case {
                name: "302 to another origin",
                target: Target::RedirectElsewhere(302),
                expect: Err(
                    "Http 302",
                    |e| matches!(e, Error::Http { status: 302, message } if message.contains("not followed")),
                ),
            },
            Case {
                name: "401 M_UNKNOWN_TOKEN",
                target: fault(Fault::Status(401)),
                expect: Err(
                    "Http 401",
                    |e| matches!(e, Error::Http { status: 401, message } if message.contains("M_UNKNOWN_TOKEN")),
                ),
            },
            Case {
                name: "403 M_UNKNOWN_TOKEN",
                target: fault(Fault::MatrixError {
                    status: 403,
                    errcode: "M_UNKNOWN_TOKEN".into(),
                    error: "Unknown token".into(),
                }),
                expect: Err(
                    "Http 403",
                    |e| matches!(e, Error::Http { status: 403, message } if message.contains("M_UNKNOWN_TOKEN")),
                ),
            },
            Case {
                name: "429 retry_after_ms 1500",
                target: fault(Fault::RateLimited {
                    retry_after_ms: Some(1_500),
                    retry_after_header_s: None,
                }),
                expect: Err("RateLimited 1500", |e| {
                    matches!(
                        e,
                        Error::RateLimited {
                            retry_after_ms: 1_500
                        }
                    )
                }),
            },
            Case {
                name: "429 Retry-After: 2 (header only)",
                target: fault(Fault::RateLimited {
                    retry_after_ms: None,
                    retry_after_header_s: Some(2),
                }),
                expect: Err("RateLimited 2000", |e| {
                    matches!(
                        e,
                        Error::RateLimited {
                            retry_after_ms: 2_000
                        }
                    )
                }),
            },
            Case {
                name: "429 without any retry hint",
                target: fault(Fault::RateLimited {
                    retry_after_ms: None,
                    retry_after_header_s: None,
                }),
                expect: Err("RateLimited default", |e| {
                    matches!(e, Error::RateLimited { retry_after_ms }
                        if *retry_after_ms == mxclock::__internal::DEFAULT_RETRY_AFTER_MS)
                }),
            },
            Case {
                name: "303 to another origin",
                target: Target::RedirectElsewhere(303),
                expect: Err(
                    "Http 303",
                    |e| matches!(e, Error::Http { status: 303, message } if message.contains("not followed")),
                ),
            },
            Case {
                name: "307 to another origin",
                target: Target::RedirectElsewhere(307),
                expect: Err(
                    "Http 307",
                    |e| matches!(e, Error::Http { status: 307, message } if message.contains("not followed")),
                ),
            },
            Case {
                name: "308 to another origin",
                target: Target::RedirectElsewhere(308),
                expect: Err(
                    "Http 308",
                    |e| matches!(e, Error::Http { status: 308, message } if message.contains("not followed")),
                ),
            },
            Case {
                name: "304 Not Modified (not a redirect)",
                target: fault(Fault::Status(304)),
                expect: Err(
                    "Http 304, no redirect",
                    |e| matches!(e, Error::Http { status: 304, message } if !message.contains("redirect")),
                ),
            },
            Case {
                name: "302 to a host spelling the token",
                target: fault(Fault::Redirect {
                    status: 302,
                    location: format!("https://{}.evil.example/", percent_every_byte(TOKEN)),
                }),
                expect: Err("Http 302", |e| matches!(e, Error::Http { status: 302, .. })),
            },
            Case {
                name: "401 echoing the token %-encoded",
                target: fault(Fault::MatrixError {
                    status: 401,
                    errcode: "M_UNKNOWN_TOKEN".into(),
                    error: format!("unknown token {}", percent_every_byte(TOKEN)),
                }),
                expect: Err(
                    "Http 401, redacted",
                    |e| matches!(e, Error::Http { status: 401, message } if message.contains("M_UNKNOWN_TOKEN")),
                ),
            },
            Case {
                name: "500 echoing the token \\u-escaped",
                target: fault(Fault::MatrixError {
                    status: 500,
                    errcode: "M_UNKNOWN".into(),
                    error: format!("crashed on {}", TOKEN.replace('_', "\\u005f")),
                }),
                expect: Err("Http 500", |e| matches!(e, Error::Http { status: 500, .. })),
            },
            Case {
                name: "second 61 in Date, no endpoint",
                target: Target::Raw(|| {
                    raw_reply(
                        "404 Not Found",
                        &["Date: Sat, 31 Dec 2016 23:59:61 GMT"],
                        UNRECOGNIZED,
                    )
                }),
                expect: Err("Protocol", is_protocol),
            },
            Case {
                name: "two different Date headers",
                target: Target::Raw(|| {
                    raw_reply(
                        "404 Not Found",
                        &[
                            "Date: Tue, 14 Nov 2023 22:13:20 GMT",
                            "Date: Tue, 14 Nov 2023 23:13:20 GMT",
                        ],
                        UNRECOGNIZED,
                    )
                }),
                expect: Err(
                    "Protocol (several Date)",
                    |e| matches!(e, Error::ProtocolViolation(m) if m.contains("several different Date")),
                ),
            },
            Case {
                name: "not HTTP at all",
                target: Target::Raw(|| b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
                expect: Err("Protocol", is_protocol),
            },
            Case {
                name: "status line without a reason",
                target: Target::Raw(|| b"HTTP/1.1 200\r\nConnection: close\r\n\r\n".to_vec()),
                // An empty 200 body, no Date: nothing to take the time from.
                expect: Err("Protocol", is_protocol),
            },
            Case {
                name: "500",
                target: fault(Fault::Status(500)),
                expect: Err("Http 500", |e| matches!(e, Error::Http { status: 500, .. })),
            },
            Case {
                name: "502",
                target: fault(Fault::Status(502)),
                expect: Err("Http 502", |e| matches!(e, Error::Http { status: 502, .. })),
            },
            Case {
                name: "503",
                target: fault(Fault::Status(503)),
                expect: Err("Http 503", |e| matches!(e, Error::Http { status: 503, .. })),
            },
        ]
    }

    /// A loopback server that answers every connection with `reply()` and
    /// closes; stops when dropped.
    struct RawServer {
        addr: std::net::SocketAddr,
        stop: Arc<std::sync::atomic::AtomicBool>,
    }

    impl RawServer {
        fn start(reply: fn() -> Vec<u8>) -> RawServer {
            use std::io::{Read, Write};
            let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
            let addr = listener.local_addr().unwrap();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop2 = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => break,
                        }
                    }
                    let _ = stream.write_all(&reply());
                }
            });
            RawServer { addr, stop }
        }

        fn base_url(&self) -> String {
            format!("http://{}", self.addr)
        }
    }

    impl Drop for RawServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so that it sees the flag.
            let _ = std::net::TcpStream::connect(self.addr);
        }
    }

    fn config(url: &str) -> ClockConfig {
        let mut c = ClockConfig::new(url);
        c.request_timeout_ms = TIMEOUT_MS;
        c.access_token = Some(TOKEN.into());
        c
    }

    fn free_port() -> u16 {
        // Bind, read the port, close: nothing listens there afterwards.
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    }

    /// Runs one sync, catching a panic (which fails the case), and times it.
    fn timed_sync(clock: &ServerClock) -> (Result<SyncReport, Error>, Duration) {
        let t = Instant::now();
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| clock.sync()));
        let took = t.elapsed();
        match r {
            Ok(r) => (r, took),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("sync panicked after {took:?}: {msg}")
            }
        }
    }

    /// Fails if `text` holds the token's secret part, also percent-encoded
    /// or `\\u`-escaped, in any case.
    fn assert_no_token(what: &str, text: &str) {
        let mut plain = text.to_owned();
        for (spelled, byte) in "MATRIXSECRET"
            .bytes()
            .map(|b| (format!("%{b:02x}"), b))
            .collect::<Vec<_>>()
        {
            let c = (byte as char).to_string();
            plain = plain
                .replace(&spelled, &c)
                .replace(&spelled.to_uppercase(), &c);
            plain = plain.replace(&format!("\\u{:04x}", byte), &c);
        }
        assert!(
            !plain.to_ascii_uppercase().contains("MATRIXSECRET"),
            "{what}: the access token leaked: {text}"
        );
    }

    /// Checks the estimate contains the true server time (±1 ms for the whole-ms
    /// estimate against the fractional truth).
    fn assert_truth_inside(what: &str, clock: &ServerClock, server: &TestHomeserver) {
        let e: Estimate = clock.estimate().expect("an estimate");
        let err = clock.server_now_ms().unwrap() as f64 - server.true_server_ms();
        assert!(
            err.abs() <= e.uncertainty_ms as f64 + 1.0,
            "{what}: estimate off by {err:.1} ms, uncertainty {} ms",
            e.uncertainty_ms
        );
    }

    /// What `sync()` promises for a whole burst (its docs): each request within
    /// the timeout, at most `max(max_samples_per_sync, date_probe_budget)`
    /// requests (a burst that finds the endpoint missing goes on with `Date`
    /// probes), and up to one second of phase wait before each `Date` probe.
    fn promised_burst_bound(config: &ClockConfig) -> Duration {
        let p = config.policy;
        let requests = p.max_samples_per_sync.max(p.date_probe_budget);
        (Duration::from_millis(config.request_timeout_ms) + Duration::from_secs(1)) * requests
            + Duration::from_millis(config.request_timeout_ms / 10)
    }

    /// Every request of `transport` within the timeout + 10 %.
    fn assert_requests_within_timeout(what: &str, transport: &TimedTransport) -> Duration {
        let took = transport.took.lock().unwrap();
        let longest = took.iter().copied().max().unwrap_or_default();
        assert!(
            longest <= BOUND,
            "{what}: a request took {longest:?}, over the timeout + 10 % ({BOUND:?}): {took:?}"
        );
        longest
    }

    /// One row of the printed table.
    fn row(name: &str, outcome: &str, longest: Duration, total: Duration, requests: usize) {
        eprintln!(
            "| {name:<34} | {outcome:<30} | {:>2} | {:>7} ms | {:>7} ms |",
            requests,
            longest.as_millis(),
            total.as_millis()
        );
    }

    #[test]
    fn fault_matrix() {
        install_panic_counter();
        let cases = cases();
        assert!(cases.len() >= 20);
        eprintln!(
            "| {:<34} | {:<30} | rq | longest rq | whole sync |",
            "case", "outcome"
        );
        let mut failures = Vec::new();
        for case in cases {
            let panics_before = panics_so_far();
            // A second origin for redirects: whatever it receives was carried
            // there by a redirect.
            let elsewhere = TestHomeserver::start(HomeserverConfig::default()).unwrap();
            let raw = match &case.target {
                Target::Raw(reply) => Some(RawServer::start(*reply)),
                _ => None,
            };
            let server = match &case.target {
                Target::Refused | Target::Raw(_) => None,
                Target::SelfSignedTls => {
                    Some(TestHomeserver::start_tls(HomeserverConfig::default()).unwrap())
                }
                Target::Fault { fault, msc4094 } => Some(
                    TestHomeserver::start(HomeserverConfig {
                        fault: fault.clone(),
                        msc4094: *msc4094,
                        ..HomeserverConfig::default()
                    })
                    .unwrap(),
                ),
                Target::RedirectElsewhere(status) => Some(
                    TestHomeserver::start(HomeserverConfig {
                        fault: Fault::Redirect {
                            status: *status,
                            location: elsewhere.time_url(),
                        },
                        ..HomeserverConfig::default()
                    })
                    .unwrap(),
                ),
            };
            let url = match (&server, &raw) {
                (Some(s), _) => s.base_url(),
                (None, Some(r)) => r.base_url(),
                (None, None) => format!("http://127.0.0.1:{}", free_port()),
            };
            let cfg = config(&url);
            let burst_bound = promised_burst_bound(&cfg);
            let (clock, transport) = timed_clock(cfg);
            let (result, took) = timed_sync(&clock);

            let mut problems = Vec::new();
            let outcome = match (&result, &case.expect) {
                (Err(e), Expect::Err(want, pred)) => {
                    if !pred(e) {
                        problems.push(format!("expected {want}, got {e:?}"));
                    }
                    format!("Err({want})")
                }
                (Ok(report), Expect::Ok(source)) => {
                    if report.source != *source {
                        problems.push(format!("expected source {source:?}, got {report:?}"));
                    }
                    if let Some(s) = &server {
                        assert_truth_inside(case.name, &clock, s);
                    }
                    format!("Ok({source:?}) ±{} ms", report.estimate.uncertainty_ms)
                }
                (Ok(report), Expect::Err(want, _)) => {
                    problems.push(format!("expected {want}, got Ok({report:?})"));
                    "UNEXPECTED Ok".to_owned()
                }
                (Err(e), Expect::Ok(source)) => {
                    problems.push(format!("expected Ok({source:?}), got {e:?}"));
                    "UNEXPECTED Err".to_owned()
                }
            };
            let requests = transport.took.lock().unwrap().len();
            let longest = assert_requests_within_timeout(case.name, &transport);
            if took > burst_bound {
                problems.push(format!(
                    "the sync took {took:?}, over the promised bound {burst_bound:?}"
                ));
            }
            // Only the Date path waits between probes: every other case, whole
            // sync included, ends within one timeout + 10 %.
            let date_path = matches!(case.expect, Expect::Ok(SampleSource::DateHeader))
                && matches!(
                    &case.target,
                    Target::Fault {
                        fault: Fault::Status(404 | 405),
                        ..
                    } | Target::Raw(_)
                );
            if !date_path && took > BOUND {
                problems.push(format!(
                    "the sync took {took:?}, over the timeout + 10 % ({BOUND:?})"
                ));
            }
            // Never a request to the other origin, with or without the token.
            if elsewhere.request_count().total != 0 {
                problems.push(format!(
                    "the other origin received {:?}",
                    elsewhere.requests()
                ));
            }
            if let Err(e) = &result {
                assert_no_token(case.name, &format!("{e} {e:?}"));
                // Said once: no message repeats its own words.
                let shown = e.to_string();
                let timeout = format!("{TIMEOUT_MS} ms");
                for word in [
                    "timed out",
                    "network error:",
                    "protocol error:",
                    "from the homeserver:",
                    &timeout,
                ] {
                    if shown.matches(word).count() > 1 {
                        problems.push(format!("{word:?} repeated in {shown:?}"));
                    }
                }
            }
            assert_no_token(case.name, &format!("{clock:?}"));
            assert_no_token(case.name, &clock.export_state().unwrap());
            if panics_so_far() != panics_before {
                problems.push(format!(
                    "panicked: {:?}",
                    PANIC_MESSAGES.lock().map(|m| m.clone()).unwrap_or_default()
                ));
            }
            row(case.name, &outcome, longest, took, requests);
            if !problems.is_empty() {
                failures.push(format!("{}: {}", case.name, problems.join("; ")));
            }
        }
        assert!(
            failures.is_empty(),
            "failed cases:\n{}",
            failures.join("\n")
        );
        assert_eq!(panics_so_far(), 0, "a panic happened somewhere");
    }

    /// A 429 is remembered: the next `sync()` does not ask before the wait is over.
    #[test]
    fn rate_limit_blocks_the_next_sync_without_a_request() {
        install_panic_counter();
        let server = TestHomeserver::start(HomeserverConfig {
            fault: Fault::RateLimited {
                retry_after_ms: None,
                retry_after_header_s: Some(30),
            },
            ..HomeserverConfig::default()
        })
        .unwrap();
        let clock = ServerClock::new(config(&server.base_url())).unwrap();
        let (first, took) = timed_sync(&clock);
        assert!(
            matches!(
                first,
                Err(Error::RateLimited {
                    retry_after_ms: 30_000
                })
            ),
            "{first:?}"
        );
        assert!(took <= BOUND);
        let seen = server.request_count().total;
        assert_eq!(seen, 1, "one request, then the burst stops");
        server.set_fault(Fault::None);
        let (second, took) = timed_sync(&clock);
        match second {
            Err(Error::RateLimited { retry_after_ms }) => {
                assert!(
                    (25_000..=30_000).contains(&retry_after_ms),
                    "{retry_after_ms}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(took < Duration::from_millis(100), "no network: {took:?}");
        assert_eq!(server.request_count().total, seen);
        assert_eq!(panics_so_far(), 0);
    }

    /// The server clock steps by one hour between two syncs. One sample of the
    /// new clock is outvoted (it may be a stale proxy); a second one confirms the
    /// step, the newest samples win, and the estimate says so.
    #[test]
    fn server_clock_step_of_one_hour_between_syncs() {
        install_panic_counter();
        const HOUR_MS: i64 = 3_600_000;
        let server = TestHomeserver::start(HomeserverConfig {
            skew_ms: 12_345.0,
            ..HomeserverConfig::default()
        })
        .unwrap();
        let mut cfg = config(&server.base_url());
        // One request per sync, so each sync adds exactly one sample.
        cfg.policy.max_samples_per_sync = 1;
        let clock = ServerClock::new(cfg).unwrap();
        for _ in 0..2 {
            let (r, took) = timed_sync(&clock);
            assert_eq!(r.unwrap().source, SampleSource::Endpoint);
            assert!(took <= BOUND, "{took:?}");
        }
        let before = clock.estimate().unwrap();
        assert_truth_inside("before the step", &clock, &server);
        assert!(!before.server_clock_stepped);

        server.set_fault(Fault::StepAfter {
            requests: 0,
            step_ms: HOUR_MS,
        });
        // The first sample of the stepped clock has no majority (one against
        // one old): the burst goes on past its budget of one, and the
        // second confirms the step within the same sync.
        let (r, took) = timed_sync(&clock);
        assert!(took <= BOUND, "{took:?}");
        let r = r.unwrap();
        assert_eq!(r.requests, 2, "{r:?}");
        let after_two = clock.estimate().unwrap();
        assert!(after_two.server_clock_stepped, "{after_two:?}");
        let moved = after_two.boot_offset_ms - before.boot_offset_ms;
        assert!(
            (moved - HOUR_MS).abs() <= after_two.uncertainty_ms + before.uncertainty_ms + 1,
            "moved {moved} ms"
        );
        assert_truth_inside("after the step", &clock, &server);

        // With the default burst a fresh step is confirmed within one sync.
        let clock = ServerClock::new(config(&server.base_url())).unwrap();
        clock.sync().unwrap();
        server.set_fault(Fault::StepAfter {
            requests: 0,
            step_ms: -HOUR_MS,
        });
        let (r, took) = timed_sync(&clock);
        assert!(took <= BOUND, "{took:?}");
        r.unwrap();
        assert!(clock.estimate().unwrap().server_clock_stepped);
        assert_truth_inside("after a step back", &clock, &server);
        assert_eq!(panics_so_far(), 0);
    }

    /// A server (or proxy) that answers each request with a different random
    /// time: `Error::Inconsistent`, and the estimate is neither moved nor
    /// averaged with the garbage.
    #[test]
    fn random_time_per_request_is_rejected_as_inconsistent() {
        install_panic_counter();
        let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
        // Fresh clock against the random server: nothing to agree with.
        server.set_fault(Fault::RandomTimePerRequest);
        let fresh = ServerClock::new(config(&server.base_url())).unwrap();
        let (r, took) = timed_sync(&fresh);
        assert!(matches!(r, Err(Error::Inconsistent(_))), "{r:?}");
        assert!(took <= BOUND, "{took:?}");
        assert!(fresh.estimate().is_none());
        assert!(matches!(fresh.server_now_ms(), Err(Error::NotSynced)));

        // A synced clock keeps its estimate exactly.
        server.set_fault(Fault::None);
        let clock = ServerClock::new(config(&server.base_url())).unwrap();
        clock.sync().unwrap();
        let before = clock.estimate().unwrap();
        server.set_fault(Fault::RandomTimePerRequest);
        let (r, took) = timed_sync(&clock);
        assert!(matches!(r, Err(Error::Inconsistent(_))), "{r:?}");
        assert!(took <= BOUND, "{took:?}");
        let after = clock.estimate().unwrap();
        assert_eq!(after.boot_offset_ms, before.boot_offset_ms);
        assert_truth_inside("after random replies", &clock, &server);

        // Once the server is sane again, one sync recovers the truth.
        server.set_fault(Fault::None);
        let (r, took) = timed_sync(&clock);
        assert!(took <= BOUND, "{took:?}");
        r.unwrap();
        assert_truth_inside("recovered", &clock, &server);
        // The random samples stay in the window (they might have been a real
        // step); the recovering burst outvotes them by the newest-wins rule, so
        // the estimate may say `server_clock_stepped` although the server never
        // stepped (not asserted either way).
        eprintln!(
            "after recovery: server_clock_stepped = {}",
            clock.estimate().unwrap().server_clock_stepped
        );
        assert_eq!(panics_so_far(), 0);
    }

    /// A cache in the path serves a stale copy of the MSC4094 reply with an
    /// `Age` header (despite `Cache-Control: no-cache`). The body's time is
    /// `Age` seconds old; the estimate must still contain the truth (a sample
    /// adds the `Age` header when a cache answered, see `src/sample.rs`).
    #[test]
    fn stale_cached_reply_with_age_does_not_mislead() {
        install_panic_counter();
        for probability in [1.0, 0.5] {
            let server = TestHomeserver::start(HomeserverConfig {
                fault: Fault::StaleCache {
                    probability,
                    age_s: 300,
                },
                seed: 7,
                ..HomeserverConfig::default()
            })
            .unwrap();
            let (clock, transport) = timed_clock(config(&server.base_url()));
            let (r, took) = timed_sync(&clock);
            assert!(took <= BOUND, "{took:?}");
            assert_requests_within_timeout("stale cache", &transport);
            let report = r.unwrap();
            eprintln!("stale cache (p = {probability}, Age: 300): {report:?}");
            assert_truth_inside("stale cached reply", &clock, &server);
        }
        assert_eq!(panics_so_far(), 0);
    }

    /// What `sync()` actually promises: each request within the timeout, and
    /// at most `max_samples_per_sync` requests per endpoint burst. A server that
    /// answers every request well within the timeout can still make a whole sync
    /// take longer than one timeout (up to `promised_burst_bound`).
    #[test]
    fn slow_replies_under_the_timeout() {
        install_panic_counter();
        let delay_ms = 300.0;
        let server = TestHomeserver::start(HomeserverConfig {
            uplink: Delay::fixed(delay_ms),
            downlink: Delay::fixed(delay_ms),
            ..HomeserverConfig::default()
        })
        .unwrap();
        let cfg = config(&server.base_url());
        let bound = promised_burst_bound(&cfg);
        let (clock, transport) = timed_clock(cfg);
        let (r, took) = timed_sync(&clock);
        let report = r.unwrap();
        let longest = assert_requests_within_timeout("slow replies", &transport);
        eprintln!(
            "slow replies ({} ms round trip): {} requests, longest {} ms, whole sync {} ms \
             (promised bound {} ms; one timeout + 10 % is {} ms)",
            2.0 * delay_ms,
            report.requests,
            longest.as_millis(),
            took.as_millis(),
            bound.as_millis(),
            BOUND.as_millis()
        );
        assert!(took <= bound, "{took:?}");
        assert_truth_inside("slow replies", &clock, &server);
        assert_eq!(panics_so_far(), 0);
    }

    /// A server whose `Date` names a leap second (`23:59:60`, RFC 9110):
    /// the sync takes it, and the estimate covers every Unix time the
    /// server's clock can have shown during it, 23:59:59.000 to the end of
    /// 00:00:00 (plus the time since the reply), never less.
    #[test]
    fn a_leap_second_date_gives_a_two_second_sample() {
        install_panic_counter();
        let raw = RawServer::start(|| {
            raw_reply(
                "404 Not Found",
                &["Date: Sat, 31 Dec 2016 23:59:60 GMT"],
                UNRECOGNIZED,
            )
        });
        let mut cfg = config(&raw.base_url());
        // One request: a server whose clock stands at the leap second is
        // not a clock a burst of probes could agree with.
        cfg.policy.date_probe_budget = 1;
        let (clock, transport) = timed_clock(cfg);
        let (r, _) = timed_sync(&clock);
        let report = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.source, SampleSource::DateHeader);
        assert_eq!(transport.took.lock().unwrap().len(), 1);
        let e = clock.estimate().unwrap();
        // 2016-12-31T23:59:59Z in Unix ms, and the end of 00:00:00.
        let (from_ms, to_ms) = (1_483_228_799_000_i64, 1_483_228_801_000_i64);
        let since_ms = e.boot_ms - e.newest_sample_boot_ms;
        let (lo, hi) = (
            e.server_now_ms - e.uncertainty_ms,
            e.server_now_ms + e.uncertainty_ms,
        );
        assert!(lo <= from_ms + since_ms, "{e:?}");
        assert!(hi >= to_ms - 1 + since_ms, "{e:?}");
        // Two seconds wide (plus the round trip), not one.
        assert!(e.uncertainty_ms >= 1_000, "{e:?}");
        assert_eq!(panics_so_far(), 0);
    }
}
