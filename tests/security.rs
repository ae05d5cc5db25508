//! Security and robustness checks of issue 9 (DESIGN.md section 9).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mxclock::sample::{MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};
use mxclock::transport::{
    parse_server_now_body, HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError,
};
use mxclock::{
    ClockConfig, Error, FakeTimeSource, HomeserverUrl, Sample, SampleSource, ServerClock,
    SyncReport,
};
use mxclock_test_homeserver::{HomeserverConfig, TestHomeserver};
// The tests over the built-in ureq transport (default feature `http`).
use proptest::prelude::*;
#[cfg(feature = "http")]
use {
    mxclock::transport::{UreqTransport, MAX_BODY_BYTES},
    mxclock_test_homeserver::Fault,
    std::io::{Read, Write},
    std::net::TcpListener,
    std::time::Duration,
};

const T: i64 = 1_750_000_000_000;

/// Boot times come from apps (sans-I/O calls, foreign time sources, the C
/// ABI): extreme ones give a typed error, never an overflow panic.
#[test]
fn extreme_boot_times_give_typed_errors() {
    let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let time = Arc::new(FakeTimeSource::new(1_000, T, "b"));
    let clock = ServerClock::with_sources(ClockConfig::new(""), Some(time), None).unwrap();
    for &a in &extremes {
        for &b in &extremes {
            for server in [T, T / 1000] {
                let results = [
                    Sample::from_endpoint(a, b, server).map(|_| ()),
                    Sample::from_date_header(a, b, server, None).map(|_| ()),
                    Sample::from_date_header(a, b, server, Some(5)).map(|_| ()),
                    Sample::from_event_age(server, 10, b, a.max(0)).map(|_| ()),
                    clock.add_endpoint_sample(a, b, server).map(|_| ()),
                    clock.add_date_sample(a, b, server, None).map(|_| ()),
                    clock.observe_event(server, 0, b).map(|_| ()),
                ];
                for r in results {
                    assert!(
                        matches!(
                            r,
                            Ok(())
                                | Err(Error::InvalidArgument(_))
                                | Err(Error::TimeOutOfRange(_))
                                | Err(Error::Inconsistent(_))
                        ),
                        "{a} {b} {server}: {r:?}"
                    );
                }
            }
            let raw = Sample {
                source: SampleSource::Endpoint,
                lo_ms: a,
                hi_ms: b,
                taken_boot_ms: b,
            };
            let _ = raw.validate();
            let _ = clock.add_sample(raw);
        }
    }
}

// ---------------------------------------------------------------------------
// The access token never shows: errors, Debug strings, reports, saved state,
// panic messages; whatever a server or a transport echoes back.
// ---------------------------------------------------------------------------

/// Every window of 12 characters of the token, lower-cased: a message that
/// contains one holds (part of) the token, even cut short or case-folded.
fn token_windows(token: &str) -> Vec<String> {
    let chars: Vec<char> = token.to_lowercase().chars().collect();
    chars
        .windows(12.min(chars.len()))
        .map(|w| w.iter().collect())
        .collect()
}

/// A description of the leak, if `text` holds (part of) the token.
fn token_leak(token: &str, what: &str, text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    token_windows(token)
        .iter()
        .any(|w| lower.contains(w))
        .then(|| format!("{what}: (part of) the token {token:?} leaked: {text}"))
}

fn assert_token_absent(token: &str, what: &str, text: &str) {
    if let Some(leak) = token_leak(token, what, text) {
        panic!("{leak}");
    }
}

/// How an [`EchoTransport`] answers: each echoes the request's
/// `Authorization` value (or the bare token) somewhere a message could pick
/// it up.
#[derive(Clone, Copy, Debug)]
enum Echo {
    NetworkError,
    CallbackError,
    TimeoutError,
    BadReplyError,
    InvalidRequestError,
    Status401Body,
    Status403Body,
    Status429Body,
    Status500Body,
    Status400Body,
    RedirectQuery,
    RedirectHost,
    RedirectUserinfo,
    DateHeader404,
    AgeHeader404,
    DateHeader200,
    BodyString200,
    BodyNonJson200,
    UnrecognizedNoDate,
}

const ECHOES: [Echo; 19] = [
    Echo::NetworkError,
    Echo::CallbackError,
    Echo::TimeoutError,
    Echo::BadReplyError,
    Echo::InvalidRequestError,
    Echo::Status401Body,
    Echo::Status403Body,
    Echo::Status429Body,
    Echo::Status500Body,
    Echo::Status400Body,
    Echo::RedirectQuery,
    Echo::RedirectHost,
    Echo::RedirectUserinfo,
    Echo::DateHeader404,
    Echo::AgeHeader404,
    Echo::DateHeader200,
    Echo::BodyString200,
    Echo::BodyNonJson200,
    Echo::UnrecognizedNoDate,
];

/// A foreign transport (as an app's OkHttp/URLSession adapter might be) that
/// puts what it was sent into its errors and replies.
struct EchoTransport {
    echo: Echo,
}

fn matrix_body(errcode: &str, error: &str) -> Vec<u8> {
    serde_json::json!({ "errcode": errcode, "error": error })
        .to_string()
        .into_bytes()
}

impl HttpTransport for EchoTransport {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let auth = request.header("Authorization").unwrap_or("").to_owned();
        let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).to_owned();
        let date = HttpHeader::new("Date", "Tue, 24 Nov 2026 07:20:51 GMT");
        let reply = |status: u16, headers: Vec<HttpHeader>, body: Vec<u8>| {
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        match self.echo {
            Echo::NetworkError => Err(TransportError::Network {
                reason: format!("connect failed; request headers: Authorization: {auth}"),
            }),
            // What a Kotlin exception other than TransportException becomes.
            Echo::CallbackError => Err(TransportError::Network {
                reason: format!(
                    "java.io.IOException: unexpected end of stream on {} [{auth}]",
                    request.url
                ),
            }),
            Echo::TimeoutError => Err(TransportError::Timeout {
                reason: format!("GET {} with {auth}", request.url),
            }),
            Echo::BadReplyError => Err(TransportError::BadReply {
                reason: format!("bad reply to token {token}"),
            }),
            Echo::InvalidRequestError => Err(TransportError::InvalidRequest {
                reason: format!("header value {auth:?}"),
            }),
            Echo::Status401Body => reply(
                401,
                vec![date],
                matrix_body("M_UNKNOWN_TOKEN", &format!("Unknown token {token}")),
            ),
            Echo::Status403Body => reply(
                403,
                vec![date],
                matrix_body("M_FORBIDDEN", &format!("{auth} may not do this")),
            ),
            Echo::Status429Body => reply(
                429,
                vec![date],
                matrix_body("M_LIMIT_EXCEEDED", &format!("slow down, {token}")),
            ),
            Echo::Status500Body => reply(
                500,
                vec![date],
                matrix_body("M_UNKNOWN", &format!("crash while handling {auth}")),
            ),
            Echo::Status400Body => reply(
                400,
                vec![date],
                matrix_body(&token, &format!("bad request {token}")),
            ),
            Echo::RedirectQuery => reply(
                302,
                vec![
                    date,
                    HttpHeader::new(
                        "Location",
                        format!("https://elsewhere.example/login?access_token={token}"),
                    ),
                ],
                vec![],
            ),
            Echo::RedirectHost => reply(
                301,
                vec![
                    date,
                    HttpHeader::new("Location", format!("https://{token}.elsewhere.example/")),
                ],
                vec![],
            ),
            Echo::RedirectUserinfo => reply(
                307,
                vec![
                    date,
                    HttpHeader::new(
                        "Location",
                        format!("https://user:{token}@elsewhere.example/"),
                    ),
                ],
                vec![],
            ),
            Echo::DateHeader404 => reply(
                404,
                vec![HttpHeader::new("Date", token)],
                matrix_body("M_UNRECOGNIZED", "Unrecognized request"),
            ),
            Echo::AgeHeader404 => reply(
                404,
                vec![date, HttpHeader::new("Age", token)],
                matrix_body("M_UNRECOGNIZED", "Unrecognized request"),
            ),
            Echo::DateHeader200 => reply(
                200,
                vec![HttpHeader::new("Date", auth)],
                format!("{{\"server_now\": \"{token}\"}}").into_bytes(),
            ),
            Echo::BodyString200 => reply(
                200,
                vec![date],
                format!("{{\"server_now\": \"{token}\"}}").into_bytes(),
            ),
            Echo::BodyNonJson200 => reply(200, vec![date], format!("<html>{auth}").into_bytes()),
            Echo::UnrecognizedNoDate => reply(
                404,
                vec![],
                matrix_body("M_UNRECOGNIZED", &format!("no such endpoint for {token}")),
            ),
        }
    }
}

/// Everything an app could print or save after a sync.
fn all_outputs(clock: &ServerClock, result: &Result<SyncReport, Error>) -> Vec<(String, String)> {
    let mut out = vec![
        ("result Debug".to_owned(), format!("{result:?}")),
        ("clock Debug".to_owned(), format!("{clock:?}")),
        ("estimate".to_owned(), format!("{:?}", clock.estimate())),
        ("export_state".to_owned(), clock.export_state().unwrap()),
    ];
    if let Err(e) = result {
        out.push(("error Display".to_owned(), e.to_string()));
    }
    // A second sync may take another path (rate limit memory, backoff,
    // endpoint marked unsupported).
    let again = clock.sync();
    out.push(("second sync".to_owned(), format!("{again:?}")));
    if let Err(e) = again {
        out.push(("second sync Display".to_owned(), e.to_string()));
    }
    out.push((
        "sync_if_needed".to_owned(),
        format!("{:?}", clock.sync_if_needed()),
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random tokens against every echo: no output holds any part of them.
    #[test]
    fn token_never_in_any_output(
        // Any RFC 6750 b64token, and Synapse-shaped ones (which fit in a host
        // name, so a Location header can carry one into an origin).
        token in prop_oneof!["[A-Za-z0-9._~+/-]{16,60}={0,2}", "syt_[A-Za-z0-9_]{12,40}"]
    ) {
        let mut config = ClockConfig::new("https://matrix.example.org");
        config.access_token = Some(token.clone());
        assert_token_absent(&token, "config Debug", &format!("{config:?}"));
        let mut leaks = Vec::new();
        for echo in ECHOES {
            let clock = ServerClock::with_sources(
                config.clone(),
                None,
                Some(Arc::new(EchoTransport { echo })),
            )
            .unwrap();
            let result = clock.sync();
            for (what, text) in all_outputs(&clock, &result) {
                leaks.extend(token_leak(&token, &format!("{echo:?}: {what}"), &text));
            }
            // The request as an app's transport would log it.
            let request = mxclock::transport::server_now_request(
                &mxclock::HomeserverUrl::parse("https://matrix.example.org", false).unwrap(),
                "/_matrix/client/v3/get_server_now",
                Some(&token),
                1_000,
            );
            assert_token_absent(&token, "request Debug", &format!("{request:?} {request:#?}"));
        }
        prop_assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
        // Restoring with the token and exporting again.
        let clock = ServerClock::restore(
            config.clone(),
            ServerClock::new(config.clone()).unwrap().export_state().unwrap(),
            None,
            None,
        )
        .unwrap();
        assert_token_absent(&token, "restored export", &clock.export_state().unwrap());
    }
}

/// Regression (found by `token_never_in_any_output`): a token with a `/`
/// reflected into a `Location` host comes back cut at the `/` and
/// lower-cased in the redirect message; no exact-match scrub can see it.
#[test]
fn token_cut_short_in_a_redirect_host_is_redacted() {
    let token = "AbCdEfGhIjKlMnOp/QrStUvWx";
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.access_token = Some(token.into());
    let clock = ServerClock::with_sources(
        config,
        None,
        Some(Arc::new(EchoTransport {
            echo: Echo::RedirectHost,
        })),
    )
    .unwrap();
    let result = clock.sync();
    assert!(
        matches!(&result, Err(Error::Http { status: 301, .. })),
        "{result:?}"
    );
    for (what, text) in all_outputs(&clock, &result) {
        assert_token_absent(token, &what, &text);
    }
}

/// The loopback server (real ureq) echoes the token in its 401's `error`
/// text: the error the app sees does not carry it.
#[cfg(feature = "http")]
#[test]
fn token_echoed_by_a_real_server_is_redacted() {
    let token = "syt_ZWNobw_ECHOECHOECHO_4fk2";
    for (status, errcode) in [
        (401, "M_UNKNOWN_TOKEN"),
        (403, "M_FORBIDDEN"),
        (500, "M_UNKNOWN"),
    ] {
        let server = TestHomeserver::start(HomeserverConfig {
            fault: Fault::MatrixError {
                status,
                errcode: errcode.into(),
                error: format!("Bearer {token} is not valid here ({token})"),
            },
            ..HomeserverConfig::default()
        })
        .unwrap();
        let mut config = ClockConfig::new(&server.base_url());
        config.access_token = Some(token.into());
        let clock = ServerClock::new(config).unwrap();
        let result = clock.sync();
        assert!(
            matches!(&result, Err(Error::Http { status: s, .. }) if *s == status),
            "{result:?}"
        );
        // The server did get the token (so the echo is real).
        assert!(server
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {token}")[..])));
        for (what, text) in all_outputs(&clock, &result) {
            assert_token_absent(token, &what, &text);
        }
    }
}

/// A token that would break or inject headers is refused at construction,
/// before anything is sent (and the message does not repeat it).
#[test]
fn token_with_line_breaks_is_refused_before_sending() {
    let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    for token in [
        "abcdefghijklmnop\r\nX-Injected: 1",
        "abcdefghijklmnop\nX-Injected: 1",
        "abcdefghij klmnop",
        "abcdefghijklmnöp",
    ] {
        let mut config = ClockConfig::new(&server.base_url());
        config.access_token = Some(token.into());
        match ServerClock::new(config) {
            Err(Error::InvalidConfig(m)) => assert_token_absent(token, "config error", &m),
            Ok(clock) => {
                let r = clock.sync();
                panic!("token {token:?} accepted at construction; sync gave {r:?}");
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("x-injected").is_none()));
    assert_eq!(server.request_count().total, 0);
}

// ---------------------------------------------------------------------------
// HTTPS unless loopback or opted in.
// ---------------------------------------------------------------------------

/// A transport that must never be called.
struct Unreachable(AtomicUsize);

impl HttpTransport for Unreachable {
    fn get(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(TransportError::Network {
            reason: "must not be called".into(),
        })
    }
}

#[test]
fn https_required_for_non_loopback_hosts() {
    let insecure = [
        "http://matrix.example.org",
        "http://matrix.example.org:8008",
        "HTTP://matrix.example.org",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.org",
        "http://127.0.0.1@example.org",
        "http://example.org#@127.0.0.1",
        "http://example.org?@127.0.0.1",
        "http://10.0.0.1",
        "http://192.168.1.10:8008",
        "http://[2001:db8::1]",
        "http://0x7f000001",
        "http://2130706433",
        "http://127.1",
    ];
    for url in insecure {
        let transport = Arc::new(Unreachable(AtomicUsize::new(0)));
        let config = ClockConfig::new(url);
        match ServerClock::with_sources(config.clone(), None, Some(transport.clone())) {
            Err(Error::InvalidConfig(_)) => {}
            other => panic!("{url}: accepted without allow_insecure_http: {other:?}"),
        }
        assert!(HomeserverUrl::parse(url, false).is_err(), "{url}");
        assert_eq!(transport.0.load(Ordering::SeqCst), 0);
    }
    // Opting in allows plain HTTP to a real host name (test setups).
    for url in ["http://matrix.example.org", "http://10.0.0.1:8008"] {
        let mut config = ClockConfig::new(url);
        config.allow_insecure_http = true;
        assert!(ServerClock::new(config).is_ok(), "{url}");
    }
    // Loopback may use plain HTTP.
    for url in [
        "http://127.0.0.1:8008",
        "http://127.255.0.1",
        "http://localhost:8008",
        "http://[::1]:8008",
    ] {
        assert!(ServerClock::new(ClockConfig::new(url)).is_ok(), "{url}");
    }
    // HTTPS anywhere.
    assert!(ServerClock::new(ClockConfig::new("https://matrix.example.org")).is_ok());
}

// ---------------------------------------------------------------------------
// Redirects: never followed, so the token never reaches another origin.
// ---------------------------------------------------------------------------

#[cfg(feature = "http")]
#[test]
fn no_redirect_carries_the_token_elsewhere() {
    let token = "syt_cmVkaXI_REDIRECTSECRET_9x";
    let elsewhere = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    for status in [301, 302, 303, 307, 308] {
        for location in [
            elsewhere.time_url(),
            // Same host, other port: another origin too.
            format!("{}/_matrix/client/v3/get_server_now", elsewhere.base_url()),
            // A relative one: same origin, still not followed.
            "/_matrix/client/v3/get_server_now".to_owned(),
        ] {
            let server = TestHomeserver::start(HomeserverConfig {
                fault: Fault::Redirect {
                    status,
                    location: location.clone(),
                },
                ..HomeserverConfig::default()
            })
            .unwrap();
            let mut config = ClockConfig::new(&server.base_url());
            config.access_token = Some(token.into());
            let clock = ServerClock::new(config).unwrap();
            let r = clock.sync();
            assert!(
                matches!(&r, Err(Error::Http { status: s, .. }) if *s == status),
                "{status} {location}: {r:?}"
            );
            assert_eq!(server.request_count().total, 1, "{status} {location}");
            assert_token_absent(token, "redirect error", &format!("{r:?}"));
            // The transport alone does not follow either.
            let direct = UreqTransport::new()
                .get(HttpRequest {
                    url: server.time_url(),
                    headers: vec![HttpHeader::new("Authorization", format!("Bearer {token}"))],
                    timeout_ms: 2_000,
                })
                .unwrap();
            assert_eq!(direct.status, status);
        }
    }
    assert_eq!(
        elsewhere.request_count().total,
        0,
        "{:?}",
        elsewhere.requests()
    );
}

// ---------------------------------------------------------------------------
// Bodies capped at 64 KiB.
// ---------------------------------------------------------------------------

/// A one-shot raw HTTP server: answers one request with a body of `len`
/// bytes, with or without `Content-Length` (then chunked), so the cap is
/// tested at the byte.
#[cfg(feature = "http")]
fn raw_server(len: usize, content_length: bool) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        // A valid time body, padded with spaces (JSON whitespace) to `len`.
        let mut body = b"{\"server_now\": 1750000000000}".to_vec();
        body.resize(len.max(body.len()), b' ');
        let mut reply =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n".to_vec();
        if content_length {
            reply.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            reply.extend_from_slice(&body);
        } else {
            reply.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(1000) {
                reply.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                reply.extend_from_slice(chunk);
                reply.extend_from_slice(b"\r\n");
            }
            reply.extend_from_slice(b"0\r\n\r\n");
        }
        // The client may close early (body too large): ignore write errors.
        let _ = tcp.write_all(&reply);
    });
    (url, handle)
}

#[cfg(feature = "http")]
#[test]
fn bodies_are_capped_at_64_kib() {
    for content_length in [true, false] {
        for (len, ok) in [
            (MAX_BODY_BYTES, true),
            (MAX_BODY_BYTES + 1, false),
            (10 * MAX_BODY_BYTES, false),
        ] {
            let (url, handle) = raw_server(len, content_length);
            let r = UreqTransport::new().get(HttpRequest {
                url: format!("{url}/x"),
                headers: vec![],
                timeout_ms: 5_000,
            });
            match (r, ok) {
                (Ok(resp), true) => {
                    assert_eq!(resp.body.len(), len);
                    assert_eq!(parse_server_now_body(&resp.body), Ok(1_750_000_000_000));
                }
                (Err(TransportError::BadReply { reason }), false) => {
                    assert!(reason.contains("64 KiB"), "{reason}")
                }
                (other, _) => panic!("{len} bytes, content-length {content_length}: {other:?}"),
            }
            handle.join().unwrap();
        }
    }
    // Whatever a foreign transport hands over, the parser refuses more.
    let mut big = b"{\"server_now\": 1750000000000}".to_vec();
    big.resize(MAX_BODY_BYTES + 1, b' ');
    assert!(matches!(
        parse_server_now_body(&big),
        Err(Error::Protocol(_))
    ));
}

// ---------------------------------------------------------------------------
// Server times outside 2000..=2200 are rejected, wherever they come from.
// ---------------------------------------------------------------------------

#[test]
fn server_times_outside_2000_to_2200_are_rejected() {
    const Y2000_MS: i64 = 946_684_800_000;
    const Y2200_MS: i64 = 7_258_118_400_000;
    assert_eq!(MIN_SANE_SERVER_MS, Y2000_MS);
    assert_eq!(MAX_SANE_SERVER_MS, Y2200_MS);
    for (ms, sane) in [
        (Y2000_MS - 1, false),
        (Y2000_MS, true),
        (Y2200_MS, true),
        (Y2200_MS + 1, false),
        (0, false),
        (-1, false),
        (1_750_000_000, false), // seconds, not ms
        (i64::MAX, false),
    ] {
        assert_eq!(Sample::from_endpoint(0, 10, ms).is_ok(), sane, "{ms}");
        let body = format!("{{\"server_now\": {ms}}}");
        assert_eq!(parse_server_now_body(body.as_bytes()).is_ok(), sane, "{ms}");
        assert_eq!(
            Sample::from_event_age(ms, 0, 10, 1_000).is_ok(),
            sane,
            "{ms}"
        );
        let date_s = ms.div_euclid(1000);
        let date_sane = (Y2000_MS..=Y2200_MS).contains(&(date_s * 1000));
        assert_eq!(
            Sample::from_date_header(0, 10, date_s, None).is_ok(),
            date_sane,
            "{ms}"
        );
    }
    // Through a whole sync with a foreign transport: both the body and the
    // Date header say 1999, so nothing is taken and the estimate stays empty.
    struct Y1999;
    impl HttpTransport for Y1999 {
        fn get(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
            Ok(HttpResponse {
                status: 200,
                headers: vec![HttpHeader::new("Date", "Fri, 31 Dec 1999 23:59:59 GMT")],
                body: b"{\"server_now\": 946684799999}".to_vec(),
            })
        }
    }
    let clock = ServerClock::with_sources(
        ClockConfig::new("https://matrix.example.org"),
        None,
        Some(Arc::new(Y1999)),
    )
    .unwrap();
    let r = clock.sync();
    assert!(matches!(r, Err(Error::TimeOutOfRange(_))), "{r:?}");
    assert!(clock.estimate().is_none());
    // Saved state with an out-of-range sample is refused.
    let time = Arc::new(FakeTimeSource::new(10_000_000, T, "b"));
    let clock = ServerClock::with_sources(ClockConfig::new(""), Some(time.clone()), None).unwrap();
    clock.add_endpoint_sample(9_999_000, 9_999_010, T).unwrap();
    let state = clock.export_state().unwrap();
    // The sample's upper bound moved far past 2200 (plus any uptime).
    let mut value: serde_json::Value = serde_json::from_str(&state).unwrap();
    value["samples"][0]["hi_ms"] = (i64::MAX / 2).into();
    let broken = value.to_string();
    assert_ne!(broken, state);
    match ServerClock::restore(ClockConfig::new(""), broken, Some(time), None) {
        Err(Error::InvalidState(_)) => {}
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// export_state() never contains the token.
// ---------------------------------------------------------------------------

#[cfg(feature = "http")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn export_state_never_contains_the_token(token in "[A-Za-z0-9._~+/-]{16,60}={0,2}") {
        let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
        let mut config = ClockConfig::new(&server.base_url());
        config.access_token = Some(token.clone());
        let clock = ServerClock::new(config.clone()).unwrap();
        clock.sync().unwrap();
        assert_token_absent(&token, "export after sync", &clock.export_state().unwrap());
        server.set_fault(Fault::RateLimited { retry_after_ms: Some(10), retry_after_header_s: None });
        let _ = clock.sync();
        server.set_fault(Fault::Status(404));
        let _ = clock.sync();
        let state = clock.export_state().unwrap();
        assert_token_absent(&token, "export after failures", &state);
        let restored = ServerClock::restore(config, state, None, None).unwrap();
        assert_token_absent(&token, "export after restore", &restored.export_state().unwrap());
    }
}

// ---------------------------------------------------------------------------
// Extreme numbers in every field of saved state and of events: a typed
// error or a result, never an overflow panic (deterministic complement to
// the fuzz targets).
// ---------------------------------------------------------------------------

const EXTREMES: [i64; 6] = [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX];

/// Every copy of `value` with one integer replaced by one of [`EXTREMES`].
fn with_one_extreme(value: &serde_json::Value) -> Vec<serde_json::Value> {
    fn paths(v: &serde_json::Value, here: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => out.push(here),
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    paths(x, format!("{here}/{i}"), out);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    paths(
                        x,
                        format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    let mut ps = Vec::new();
    paths(value, String::new(), &mut ps);
    let mut out = Vec::new();
    for p in ps {
        for x in EXTREMES {
            let mut v = value.clone();
            *v.pointer_mut(&p).unwrap() = x.into();
            out.push(v);
        }
    }
    out
}

fn corpus(dir: &str) -> Vec<serde_json::Value> {
    let dir = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no JSON files in {dir}");
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn extreme_numbers_in_saved_state_give_a_clock_or_invalid_state() {
    let mut tried = 0;
    for state in corpus("fuzz/corpus/state_restore") {
        for variant in with_one_extreme(&state) {
            for (boot_ms, wall_ms, boot_id) in [
                (10_060_000, T + 60_000, "fuzz-boot"),
                (5_000, T + 3_600_000, "other-boot"),
                (i64::MAX, i64::MIN, "fuzz-boot"),
            ] {
                let time = Arc::new(FakeTimeSource::new(boot_ms, wall_ms, boot_id));
                let r = std::panic::catch_unwind(|| {
                    ServerClock::restore(
                        ClockConfig::new(""),
                        variant.to_string(),
                        Some(time.clone()),
                        None,
                    )
                    .map(|c| {
                        let _ = c.estimate();
                        let _ = c.server_now_ms();
                        let _ = c.next_sync_due_in_ms();
                        c.export_state().unwrap()
                    })
                });
                match r {
                    Ok(Ok(_)) | Ok(Err(Error::InvalidState(_))) => {}
                    Ok(Err(other)) => panic!("{variant}: unexpected {other:?}"),
                    Err(_) => panic!("restore panicked on {variant} at {boot_ms}/{wall_ms}"),
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 100, "{tried}");
}

#[test]
fn extreme_numbers_in_events_give_an_outcome_or_invalid_event() {
    let mut tried = 0;
    for event in corpus("tests/data/events") {
        let events = match &event {
            serde_json::Value::Array(a) => a.clone(),
            single => vec![single.clone()],
        };
        for e in events {
            for variant in with_one_extreme(&e) {
                let json = variant.to_string();
                for now in [
                    mxclock::ServerNow::new(1_700_000_030_000, 20, 5_000),
                    mxclock::ServerNow::new(i64::MAX, i64::MAX, i64::MAX),
                    mxclock::ServerNow::new(i64::MIN, i64::MIN, i64::MIN),
                ] {
                    for received in [None, Some(i64::MIN), Some(i64::MAX)] {
                        let r = std::panic::catch_unwind(|| {
                            mxclock::evaluate_event_json(&json, &now, received)
                        });
                        match r {
                            Ok(Ok(_))
                            | Ok(Err(Error::InvalidEvent { .. }))
                            | Ok(Err(Error::NoExpiryRule { .. })) => {}
                            Ok(Err(other)) => panic!("{json}: unexpected {other:?}"),
                            Err(_) => panic!("evaluation panicked on {json} at {now:?}"),
                        }
                        tried += 1;
                    }
                }
            }
        }
    }
    assert!(tried > 1_000, "{tried}");
}
