//! Security and robustness checks: the access token never shows (in any
//! spelling) and never travels in clear text (proxies included), HTTPS
//! unless loopback, no redirect followed, bodies capped, sane times only,
//! URL and token rules, extreme numbers in state and events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// The reply parser and the sane range of server times, driven directly.
use mxclock::__internal::{parse_server_now_body, MAX_SANE_SERVER_MS, MIN_SANE_SERVER_MS};
use mxclock::{
    ClockConfig, Error, FakeTimeSource, HomeserverUrl, Sample, SampleSource, ServerClock,
    SyncReport,
};
use mxclock::{HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError};
use mxclock_test_homeserver::{HomeserverConfig, TestHomeserver};
// The tests over the built-in ureq transport (default feature `http`).
use proptest::prelude::*;
#[cfg(feature = "http")]
use {
    mxclock::{UreqTransport, MAX_BODY_BYTES},
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
    let clock = ServerClock::new_with_sources(ClockConfig::new(""), Some(time), None).unwrap();
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
            let clock = ServerClock::new_with_sources(
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
            let request = mxclock::__internal::server_now_request(
                &mxclock::HomeserverUrl::parse("https://matrix.example.org", false).unwrap(),
                "/_matrix/client/v3/get_server_now",
                Some(&token),
                1_000,
            );
            assert_token_absent(&token, "request Debug", &format!("{request:?} {request:#?}"));
        }
        prop_assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
        // Restoring with the token and exporting again.
        let clock = ServerClock::restore_with_sources(
            config.clone(),
            &ServerClock::new(config.clone()).unwrap().export_state().unwrap(),
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
    let clock = ServerClock::new_with_sources(
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
        match ServerClock::new_with_sources(config.clone(), None, Some(transport.clone())) {
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
        Err(Error::ProtocolViolation(_))
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
    let clock = ServerClock::new_with_sources(
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
    let clock =
        ServerClock::new_with_sources(ClockConfig::new(""), Some(time.clone()), None).unwrap();
    clock.add_endpoint_sample(9_999_000, 9_999_010, T).unwrap();
    let state = clock.export_state().unwrap();
    // The sample's upper bound moved far past 2200 (plus any uptime).
    let mut value: serde_json::Value = serde_json::from_str(&state).unwrap();
    value["samples"][0]["hi_ms"] = (i64::MAX / 2).into();
    let broken = value.to_string();
    assert_ne!(broken, state);
    match ServerClock::restore_with_sources(ClockConfig::new(""), &broken, Some(time), None) {
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
        let restored = ServerClock::restore_with_sources(config, &state, None, None).unwrap();
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
                    ServerClock::restore_with_sources(
                        ClockConfig::new(""),
                        &variant.to_string(),
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

// ---------------------------------------------------------------------------
// Echoes of the token in another spelling: percent-encoded (either case of
// hex), JSON-escaped, case-folded, or only a piece of it.
// ---------------------------------------------------------------------------

#[path = "../support/spelling.rs"]
mod spelling;

use spelling::{json_escape_all, percent_encode, token_piece_in};

/// A description of the leak, if `text` holds any 8 characters of the token
/// in any spelling.
fn encoded_token_leak(token: &str, what: &str, text: &str) -> Option<String> {
    token_piece_in(token, text)
        .map(|w| format!("{what}: the piece {w:?} of the token {token:?} shows in: {text}"))
}

/// How a [`SpellingTransport`] spells the token it echoes.
#[derive(Clone, Copy, Debug)]
enum Spelling {
    PercentUpper,
    PercentLower,
    DoublePercent,
    JsonEscaped,
    Upper,
    Lower,
    HtmlEntities,
    /// A 10-character piece from the middle, percent-encoded.
    PercentPiece,
}

const SPELLINGS: [Spelling; 8] = [
    Spelling::PercentUpper,
    Spelling::PercentLower,
    Spelling::DoublePercent,
    Spelling::JsonEscaped,
    Spelling::Upper,
    Spelling::Lower,
    Spelling::HtmlEntities,
    Spelling::PercentPiece,
];

impl Spelling {
    fn spell(self, token: &str) -> String {
        match self {
            Spelling::PercentUpper => percent_encode(token, false),
            Spelling::PercentLower => percent_encode(token, true),
            Spelling::DoublePercent => percent_encode(token, false).replace('%', "%25"),
            Spelling::JsonEscaped => json_escape_all(token),
            Spelling::Upper => token.to_ascii_uppercase(),
            Spelling::Lower => token.to_ascii_lowercase(),
            Spelling::HtmlEntities => token
                .chars()
                .map(|c| match c {
                    '+' => "&#43;".to_owned(),
                    '/' => "&#x2F;".to_owned(),
                    '=' => "&#x3d;".to_owned(),
                    c => c.to_string(),
                })
                .collect(),
            Spelling::PercentPiece => {
                let mid = token.len() / 2;
                percent_encode(
                    &token[mid.saturating_sub(5)..(mid + 5).min(token.len())],
                    false,
                )
            }
        }
    }
}

/// Where a [`SpellingTransport`] puts the echo.
#[derive(Clone, Copy, Debug)]
enum EchoPlace {
    /// The `error` of a 401 Matrix error, as raw body bytes.
    MatrixError401,
    /// The `error` of a 500.
    MatrixError500,
    /// A redirect's `Location` query.
    LocationQuery,
    /// A redirect's `Location` host.
    LocationHost,
    /// A foreign transport's network error text.
    NetworkError,
    /// A foreign transport's timeout text.
    TimeoutError,
    /// The `Date` header of a 404.
    DateHeader,
}

const ECHO_PLACES: [EchoPlace; 7] = [
    EchoPlace::MatrixError401,
    EchoPlace::MatrixError500,
    EchoPlace::LocationQuery,
    EchoPlace::LocationHost,
    EchoPlace::NetworkError,
    EchoPlace::TimeoutError,
    EchoPlace::DateHeader,
];

/// A foreign transport that echoes the token in one spelling, in one place.
struct SpellingTransport {
    spelling: Spelling,
    place: EchoPlace,
}

impl HttpTransport for SpellingTransport {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let auth = request.header("Authorization").unwrap_or("").to_owned();
        let token = auth.strip_prefix("Bearer ").unwrap_or(&auth);
        let echo = self.spelling.spell(token);
        let date = HttpHeader::new("Date", "Tue, 24 Nov 2026 07:20:51 GMT");
        let reply = |status: u16, headers: Vec<HttpHeader>, body: String| {
            Ok(HttpResponse {
                status,
                headers,
                body: body.into_bytes(),
            })
        };
        let redirect = |location: String| {
            reply(
                302,
                vec![date.clone(), HttpHeader::new("Location", location)],
                String::new(),
            )
        };
        match self.place {
            EchoPlace::MatrixError401 => reply(
                401,
                vec![date.clone()],
                format!(r#"{{"errcode":"M_UNKNOWN_TOKEN","error":"unknown token {echo}"}}"#),
            ),
            EchoPlace::MatrixError500 => reply(
                500,
                vec![date.clone()],
                format!(r#"{{"errcode":"M_UNKNOWN","error":"crashed on {echo}"}}"#),
            ),
            EchoPlace::LocationQuery => redirect(format!(
                "https://elsewhere.example/login?access_token={echo}"
            )),
            EchoPlace::LocationHost => redirect(format!("https://{echo}.elsewhere.example/")),
            EchoPlace::NetworkError => Err(TransportError::Network {
                reason: format!("okhttp: unexpected end of stream, request was {echo}"),
            }),
            EchoPlace::TimeoutError => Err(TransportError::Timeout {
                reason: format!("URLSession timed out for {echo}"),
            }),
            EchoPlace::DateHeader => reply(
                404,
                vec![HttpHeader::new("Date", echo)],
                r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#.into(),
            ),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever spelling a server or a foreign transport echoes the token in,
    /// no output holds 8 characters of it.
    #[test]
    fn token_in_any_spelling_never_in_any_output(
        token in prop_oneof![
            "syt\\+[a-z0-9]{6}/[a-z0-9]{6}\\+[A-Za-z0-9+/]{8,30}={0,2}",
            "[A-Za-z0-9._~+/-]{16,60}={0,2}",
        ]
    ) {
        let mut config = ClockConfig::new("https://matrix.example.org");
        config.access_token = Some(token.clone());
        let mut leaks = Vec::new();
        for spelling in SPELLINGS {
            for place in ECHO_PLACES {
                let clock = ServerClock::new_with_sources(
                    config.clone(),
                    None,
                    Some(Arc::new(SpellingTransport { spelling, place })),
                )
                .unwrap();
                let result = clock.sync();
                for (what, text) in all_outputs(&clock, &result) {
                    let what = format!("{spelling:?} in {place:?}: {what}");
                    leaks.extend(encoded_token_leak(&token, &what, &text));
                }
            }
        }
        prop_assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
    }
}

/// The report's case: a token with `+` and `/`, echoed URL-encoded in a
/// Matrix error text. Every run between the `%XX` escapes is shorter than 8
/// characters, so a scrubber looking for raw pieces misses all of them.
#[test]
fn percent_encoded_echo_of_the_token_is_redacted() {
    let token = "syt+a1b2c3/d4e5f6+g7h8i9j0k1l2==";
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.access_token = Some(token.into());
    for place in [EchoPlace::MatrixError401, EchoPlace::LocationHost] {
        let clock = ServerClock::new_with_sources(
            config.clone(),
            None,
            Some(Arc::new(SpellingTransport {
                spelling: Spelling::PercentUpper,
                place,
            })),
        )
        .unwrap();
        let result = clock.sync();
        let e = result.as_ref().unwrap_err().to_string();
        if let Some(leak) = encoded_token_leak(token, &format!("{place:?}"), &e) {
            panic!("{leak}");
        }
    }
}

// ---------------------------------------------------------------------------
// Dot segments, also percent-encoded, in the homeserver URL and the endpoint
// path.
// ---------------------------------------------------------------------------

#[test]
fn percent_encoded_dot_segments_are_refused() {
    let segments = [
        "..", ".", "%2e%2e", "%2E%2E", "%2e.", ".%2E", "%2E", "%2e", "%2E.", "%2e%2E",
    ];
    for seg in segments {
        for url in [
            format!("https://matrix.example.org/{seg}/x"),
            format!("https://matrix.example.org/a/{seg}"),
            format!("https://matrix.example.org/a/{seg}/"),
        ] {
            match HomeserverUrl::parse(&url, false) {
                Err(Error::InvalidConfig(m)) => {
                    assert!(m.contains("segment"), "{url}: {m}")
                }
                other => panic!("{url}: {other:?}"),
            }
            let config = ClockConfig::new(&url);
            assert!(
                matches!(config.validate(), Err(Error::InvalidConfig(_))),
                "{url}"
            );
        }
        for path in [
            format!("/_matrix/{seg}/client/v3/get_server_now"),
            format!("/{seg}/get_server_now"),
            format!("/_matrix/client/{seg}"),
        ] {
            let mut config = ClockConfig::new("https://matrix.example.org");
            config.endpoint_path = path.clone();
            match config.validate() {
                Err(Error::InvalidConfig(m)) => {
                    assert!(m.contains("endpoint_path"), "{path}: {m}")
                }
                other => panic!("{path}: {other:?}"),
            }
        }
    }
    // Dots inside a segment are ordinary characters.
    for ok in ["/a..b/x", "/.well-known/x", "/a%2e%2eb", "/v1.2/x"] {
        let url = format!("https://matrix.example.org{ok}");
        assert!(HomeserverUrl::parse(&url, false).is_ok(), "{url}");
        let mut config = ClockConfig::new("https://matrix.example.org");
        config.endpoint_path = ok.into();
        assert!(config.validate().is_ok(), "{ok}");
    }
}

// ---------------------------------------------------------------------------
// Access tokens: at most 4 KiB of visible ASCII.
// ---------------------------------------------------------------------------

#[test]
fn huge_tokens_are_refused_with_a_clear_error() {
    for len in [4_097, 65_536, 1_000_000] {
        let token = "a".repeat(len);
        let mut config = ClockConfig::new("https://matrix.example.org");
        config.access_token = Some(token.clone());
        match ServerClock::new(config) {
            Err(Error::InvalidConfig(m)) => {
                assert!(m.contains("4096"), "{len}: {m}");
                assert!(m.contains(&len.to_string()), "{len}: {m}");
                assert!(m.len() < 400, "{len}: the message is {} bytes", m.len());
            }
            other => panic!("{len}: {other:?}"),
        }
    }
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.access_token = Some("a".repeat(4_096));
    assert!(ServerClock::new(config).is_ok());
}

// ---------------------------------------------------------------------------
// A leap second in a Date header.
// ---------------------------------------------------------------------------

#[test]
fn a_leap_second_date_is_accepted() {
    // 2016-12-31T23:59:60Z, the last leap second so far; 23:59:59 is
    // 1_483_228_799 in Unix time.
    for v in [
        "Sat, 31 Dec 2016 23:59:60 GMT",
        "Saturday, 31-Dec-16 23:59:60 GMT",
        "Sat Dec 31 23:59:60 2016",
    ] {
        let r = mxclock::__internal::parse_date_header(v);
        assert!(r.is_ok(), "{v}: {r:?}");
    }
    // Second 61 does not exist.
    assert!(mxclock::__internal::parse_date_header("Sat, 31 Dec 2016 23:59:61 GMT").is_err());
}

// ---------------------------------------------------------------------------
// Proxies from the environment. A request that carries the token never goes
// through a proxy in clear text: plain `http://` (loopback, or opted in)
// connects directly whatever HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY say;
// `https://` to a loopback host connects directly too (a proxy's loopback is
// not ours); `https://` elsewhere may use the proxy, as a CONNECT tunnel
// that carries TLS end to end.
// ---------------------------------------------------------------------------

/// What a [`LoggingProxy`] does with a request.
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, PartialEq)]
enum ProxyMode {
    /// Tunnels CONNECT to `tunnel_to` (or to the requested loopback
    /// address), logging what the client sends.
    Tunnel,
    /// Answers every request itself, one hour ahead of the truth (and,
    /// after a CONNECT, in clear text where TLS is expected).
    Forge,
}

/// A loopback HTTP proxy (CONNECT and absolute-form requests) that logs
/// every byte clients send it.
#[cfg(feature = "http")]
struct LoggingProxy {
    addr: std::net::SocketAddr,
    log: Arc<std::sync::Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
}

#[cfg(feature = "http")]
impl LoggingProxy {
    fn start(mode: ProxyMode, tunnel_to: Option<std::net::SocketAddr>) -> LoggingProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log2, connections2) = (log.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                connections2.fetch_add(1, Ordering::SeqCst);
                let log = log2.clone();
                std::thread::spawn(move || proxy_connection(stream, mode, tunnel_to, &log));
            }
        });
        LoggingProxy {
            addr,
            log,
            connections,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> Vec<u8> {
        self.log.lock().unwrap().clone()
    }
}

/// One hour ahead of this machine's clock: what a forging proxy claims.
#[cfg(feature = "http")]
const FORGED_AHEAD_MS: i64 = 3_600_000;

#[cfg(feature = "http")]
fn forged_reply() -> Vec<u8> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let forged_ms = now_ms + FORGED_AHEAD_MS;
    let body = format!("{{\"server_now\": {forged_ms}}}");
    format!(
        "HTTP/1.1 200 OK\r\nDate: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        mxclock_test_homeserver::imf_fixdate(forged_ms / 1000),
        body.len()
    )
    .into_bytes()
}

#[cfg(feature = "http")]
fn read_until_blank_line(
    stream: &mut std::net::TcpStream,
    log: &std::sync::Mutex<Vec<u8>>,
) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    log.lock().unwrap().extend_from_slice(&head);
    head
}

#[cfg(feature = "http")]
fn proxy_connection(
    mut client: std::net::TcpStream,
    mode: ProxyMode,
    tunnel_to: Option<std::net::SocketAddr>,
    log: &Arc<std::sync::Mutex<Vec<u8>>>,
) {
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let head = read_until_blank_line(&mut client, log);
    let head = String::from_utf8_lossy(&head).into_owned();
    let Some(target) = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
    else {
        // An absolute-form request: plain HTTP through the proxy.
        let _ = client.write_all(&forged_reply());
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    if mode == ProxyMode::Forge {
        // Whatever comes next (a request in clear text, or a TLS hello),
        // answer it with a forged time.
        let mut first = [0u8; 4096];
        if let Ok(n) = client.read(&mut first) {
            log.lock().unwrap().extend_from_slice(&first[..n]);
        }
        let _ = client.write_all(&forged_reply());
        return;
    }
    let upstream_addr = match tunnel_to {
        Some(a) => a,
        None => match target.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => a,
            _ => return,
        },
    };
    let Ok(upstream) = std::net::TcpStream::connect(upstream_addr) else {
        return;
    };
    let mut up_write = upstream.try_clone().unwrap();
    let mut down_read = upstream;
    let mut client_write = client.try_clone().unwrap();
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut down_read, &mut client_write);
    });
    let mut buf = [0u8; 4096];
    loop {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if up_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = up_write.shutdown(std::net::Shutdown::Both);
    let _ = down.join();
}

/// The proxy variables, every spelling: each child starts with none of them.
#[cfg(feature = "http")]
const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// (target, opt into insecure http, a proxy may be used for it): plain
/// HTTP to loopback by IPv4, name and IPv6, plain HTTP opted into for a
/// non-loopback address, HTTPS to loopback, HTTPS to a non-loopback address.
#[cfg(feature = "http")]
fn proxy_targets(plain: &TestHomeserver, tls: &TestHomeserver) -> Vec<(String, bool, bool)> {
    let (p, t) = (plain.port(), tls.port());
    let mut targets = vec![
        (format!("http://127.0.0.1:{p}"), false, false),
        (format!("http://localhost:{p}"), false, false),
        // 0.0.0.0 is not loopback by mxclock's rule (so plain HTTP needs the
        // opt-in) but Linux connects it to this machine: a non-loopback
        // target that still never leaves the machine.
        (format!("http://0.0.0.0:{p}"), true, false),
        (format!("https://127.0.0.1:{t}"), false, false),
        (format!("https://0.0.0.0:{t}"), false, true),
    ];
    if TcpListener::bind("[::1]:0").is_ok() {
        // The test homeserver listens on 127.0.0.1 only: [::1] is refused,
        // which is fine: only what the proxy sees matters here.
        targets.push((format!("http://[::1]:{p}"), false, false));
    }
    targets
}

/// What went wrong in one proxy combination: `result` is `ok OFFSET
/// UNCERTAINTY` or `err MESSAGE` (see [`sync_outcome`]).
#[cfg(feature = "http")]
fn proxy_problems(
    proxy: &LoggingProxy,
    mode: ProxyMode,
    may_use: bool,
    target: &str,
    result: &str,
) -> Vec<String> {
    let log = proxy.log();
    let seen = String::from_utf8_lossy(&log);
    let mut problems = Vec::new();
    if seen.contains("PROXYSECRET") {
        problems.push(format!("the proxy saw the token: {seen:?}"));
    }
    let used = proxy.connections.load(Ordering::SeqCst) > 0;
    if used && !may_use {
        problems.push(format!("went through the proxy: {seen:?}"));
    }
    if may_use && !used {
        problems.push("https did not use the proxy".into());
    }
    if used && !seen.starts_with("CONNECT ") {
        problems.push(format!("not a CONNECT tunnel: {seen:?}"));
    }
    // Inside an honest tunnel, the first byte is a TLS handshake record.
    let after_head = log.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    if used && mode == ProxyMode::Tunnel && after_head.and_then(|i| log.get(i)) != Some(&0x16) {
        problems.push(format!("no TLS inside the tunnel: {seen:?}"));
    }
    match result.split(' ').collect::<Vec<_>>()[..] {
        ["ok", offset, uncertainty] => {
            let offset: i64 = offset.parse().unwrap();
            let uncertainty: i64 = uncertainty.parse().unwrap();
            // The test homeserver runs on this machine's clock.
            if offset.abs() > uncertainty + 5 {
                problems.push(format!(
                    "offset {offset} ms ± {uncertainty}: the time was set by the proxy"
                ));
            }
            if target.starts_with("https") {
                problems.push("an https sync with a self-signed certificate succeeded".into());
            }
        }
        ["err", ..] if target.starts_with("https") || target.contains("[::1]") => {}
        _ => problems.push(format!("unexpected outcome {result:?}")),
    }
    problems
}

/// The outcome of one sync, one line for [`proxy_problems`].
#[cfg(feature = "http")]
fn sync_outcome(clock: Result<Arc<ServerClock>, Error>) -> String {
    match clock.and_then(|c| c.sync()) {
        Ok(r) => format!("ok {} {}", r.estimate.offset_ms, r.estimate.uncertainty_ms),
        Err(e) => format!("err {e}").replace('\n', " "),
    }
}

#[cfg(feature = "http")]
const PROXY_TOKEN: &str = "syt_cHJveHk_PROXYSECRET_Zq81";

/// The child side of [`proxies_from_the_environment`]: a sync with the
/// default transport (which reads the environment when it is built), its
/// outcome printed on one line for the parent.
#[cfg(feature = "http")]
fn proxy_child(url: &str) {
    let mut config = ClockConfig::new(url);
    config.access_token = Some(PROXY_TOKEN.into());
    config.allow_insecure_http = std::env::var("MXCLOCK_PROXY_CHILD_INSECURE").is_ok();
    config.request_timeout_ms = 3_000;
    println!(
        "PROXY-CHILD-RESULT {}",
        sync_outcome(ServerClock::new(config))
    );
}

/// Every combination of proxy variable (each spelling), NO_PROXY, proxy
/// behaviour (an honest tunnel, a forger) and target against a loopback
/// proxy that logs what it receives: it never sees the token in clear
/// text, a forging proxy never sets the time, plain HTTP and loopback never
/// use it, and `https://` elsewhere does, as a CONNECT tunnel with TLS
/// inside (unless NO_PROXY names the host).
///
/// Each combination runs in a child process (this test binary, re-run on
/// this test alone) because the environment is per process.
#[cfg(feature = "http")]
#[test]
fn proxies_from_the_environment() {
    if let Ok(url) = std::env::var("MXCLOCK_PROXY_CHILD_URL") {
        return proxy_child(&url);
    }
    let plain = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    let tls = TestHomeserver::start_tls(HomeserverConfig::default()).unwrap();
    let targets = proxy_targets(&plain, &tls);
    let variables = PROXY_VARIABLES
        .iter()
        .filter(|v| !v.ends_with("no_proxy") && **v != "NO_PROXY");
    let no_proxies = [None, Some("example.org"), Some("0.0.0.0")];
    let mut failures = Vec::new();
    let mut combinations = 0;
    for mode in [ProxyMode::Tunnel, ProxyMode::Forge] {
        for variable in variables.clone() {
            for no_proxy in no_proxies {
                for (target, insecure, proxiable) in &targets {
                    let proxy = LoggingProxy::start(mode, Some(tls.addr()));
                    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
                    child.args([
                        "--exact",
                        "security::proxies_from_the_environment",
                        "--nocapture",
                        "--test-threads=1",
                    ]);
                    for v in PROXY_VARIABLES {
                        child.env_remove(v);
                    }
                    child
                        .env(variable, proxy.url())
                        .env("MXCLOCK_PROXY_CHILD_URL", target);
                    if let Some(n) = no_proxy {
                        child.env("NO_PROXY", n);
                    }
                    if *insecure {
                        child.env("MXCLOCK_PROXY_CHILD_INSECURE", "1");
                    }
                    let out = child.output().unwrap();
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    let result = stdout
                        .lines()
                        .find_map(|l| l.split_once("PROXY-CHILD-RESULT ").map(|(_, r)| r))
                        .unwrap_or("missing")
                        .to_owned();
                    combinations += 1;
                    let may_use = *proxiable && no_proxy != Some("0.0.0.0");
                    let mut problems = proxy_problems(&proxy, mode, may_use, target, &result);
                    if result == "missing" {
                        problems.push(format!("stderr: {}", String::from_utf8_lossy(&out.stderr)));
                    }
                    if !problems.is_empty() {
                        failures.push(format!(
                            "{mode:?} {variable} NO_PROXY={no_proxy:?} {target}: {}",
                            problems.join("; ")
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "{combinations} environment proxy combinations, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {combinations} combinations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(plain.request_count().total > 0);
}

/// The same matrix with the proxy given by the app, in process
/// (`UreqTransport::with_proxy`), and with `UreqTransport::direct()`, which
/// never uses one.
#[cfg(feature = "http")]
#[test]
fn proxies_configured_by_the_app() {
    let plain = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    let tls = TestHomeserver::start_tls(HomeserverConfig::default()).unwrap();
    let mut failures = Vec::new();
    let mut combinations = 0;
    for mode in [ProxyMode::Tunnel, ProxyMode::Forge] {
        for configured in [true, false] {
            for (target, insecure, proxiable) in proxy_targets(&plain, &tls) {
                let proxy = LoggingProxy::start(mode, Some(tls.addr()));
                let transport = if configured {
                    UreqTransport::with_proxy(&proxy.url()).unwrap()
                } else {
                    UreqTransport::direct()
                };
                let mut config = ClockConfig::new(&target);
                config.access_token = Some(PROXY_TOKEN.into());
                config.allow_insecure_http = insecure;
                config.request_timeout_ms = 3_000;
                let clock = ServerClock::new_with_sources(config, None, Some(Arc::new(transport)));
                let result = sync_outcome(clock);
                combinations += 1;
                let may_use = proxiable && configured;
                let problems = proxy_problems(&proxy, mode, may_use, &target, &result);
                if !problems.is_empty() {
                    failures.push(format!(
                        "{mode:?} configured={configured} {target}: {}",
                        problems.join("; ")
                    ));
                }
            }
        }
    }
    eprintln!(
        "{combinations} app-configured proxy combinations, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
