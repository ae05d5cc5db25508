//! `UreqTransport` against tiny std `TcpListener` servers on 127.0.0.1, one
//! per test, each scripted to misbehave in one way.

mod with_http {

    use std::io::{ErrorKind, Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::protocol::{
        is_endpoint_unsupported, parse_date_header, parse_server_now_body, response_to_error,
        server_now_request, HomeserverUrl, DEFAULT_ENDPOINT_PATH,
    };
    use crate::transport::{
        HttpHeader, HttpRequest, HttpResponse, HttpTransport, UreqTransport, MAX_BODY_BYTES,
        USER_AGENT,
    };
    use crate::Error;

    /// The transport's reply, its failure converted the one way a clock
    /// converts it ([`TransportError::into_error`]).
    ///
    /// [`TransportError::into_error`]: crate::transport::TransportError::into_error
    trait SendAsTheClockDoes {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error>;
    }

    impl SendAsTheClockDoes for UreqTransport {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
            self.get(request.clone())
                .map_err(|e| e.into_error(&request))
        }
    }

    const SERVER_NOW_MS: i64 = 1_700_000_000_123;
    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const TOKEN: &str = "syt_bXhjbG9jaw_SecretTokenValue_9f8e7d";

    /// What a test server saw.
    #[derive(Default)]
    struct Seen {
        /// Request heads (request line and headers), in order.
        requests: Mutex<Vec<String>>,
        connections: AtomicUsize,
    }

    impl Seen {
        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    /// Answers one request (given its head) on the stream; returns whether to
    /// keep the connection for another request.
    type Responder = Box<dyn Fn(&str, &mut TcpStream) -> bool + Send + Sync>;

    /// How a connection is answered. `Respond` gets the request head and the
    /// stream, and returns whether to keep the connection for another request.
    enum Script {
        Respond(Responder),
        /// Write these bytes as soon as the connection is accepted, then close.
        Immediately(Vec<u8>),
    }

    struct Server {
        addr: SocketAddr,
        seen: Arc<Seen>,
    }

    impl Server {
        fn start(script: Script) -> Server {
            Server::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
        }

        fn start_on(listener: TcpListener, script: Script) -> Server {
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Seen::default());
            let script = Arc::new(script);
            let seen2 = seen.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    seen2.connections.fetch_add(1, Ordering::SeqCst);
                    let seen = seen2.clone();
                    let script = script.clone();
                    thread::spawn(move || handle(stream, &script, &seen));
                }
            });
            Server { addr, seen }
        }

        /// A server answering every request with `response` (keep-alive).
        fn replying(response: Vec<u8>) -> Server {
            Server::start(Script::Respond(Box::new(move |_, s| {
                s.write_all(&response).is_ok()
            })))
        }

        fn url(&self) -> HomeserverUrl {
            HomeserverUrl::parse(&format!("http://{}", self.addr), false).unwrap()
        }

        fn request(&self, token: Option<&str>, timeout_ms: u64) -> HttpRequest {
            server_now_request(&self.url(), DEFAULT_ENDPOINT_PATH, token, timeout_ms)
        }
    }

    fn handle(mut stream: TcpStream, script: &Script, seen: &Seen) {
        match script {
            Script::Immediately(bytes) => {
                let _ = stream.write_all(bytes);
                let _ = stream.shutdown(Shutdown::Both);
            }
            Script::Respond(respond) => loop {
                let Some(head) = read_head(&mut stream) else {
                    return;
                };
                seen.requests.lock().unwrap().push(head.clone());
                if !respond(&head, &mut stream) {
                    return;
                }
            },
        }
    }

    /// Reads up to the blank line ending the request head; `None` on EOF.
    fn read_head(stream: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return None,
            }
            if head.len() > 64 * 1024 {
                return None;
            }
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    }

    fn http_response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\n");
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn ok_body() -> Vec<u8> {
        format!(r#"{{"server_now":{SERVER_NOW_MS}}}"#).into_bytes()
    }

    /// Asserts that neither `Display` nor `Debug` of `e` contains `token`.
    fn assert_no_token(e: &Error, token: &str) {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(token), "token leaked: {shown}");
    }

    fn header_line<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[test]
    fn ok_200_with_date_and_the_right_request_headers() {
        let server = Server::replying(http_response(
            "200 OK",
            &[("Date", DATE), ("Content-Type", "application/json")],
            &ok_body(),
        ));
        let transport = UreqTransport::new();
        let response = transport.send(server.request(Some(TOKEN), 5_000)).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            parse_server_now_body(&response.body).unwrap(),
            SERVER_NOW_MS
        );
        assert_eq!(
            parse_date_header(response.header("date").unwrap())
                .unwrap()
                .unix_s(),
            1_700_000_000
        );
        assert_eq!(response.header("Content-Type"), Some("application/json"));

        let requests = server.seen.requests();
        assert_eq!(requests.len(), 1);
        let head = &requests[0];
        assert!(
            head.starts_with("GET /_matrix/client/v3/get_server_now HTTP/1.1\r\n"),
            "{head}"
        );
        assert_eq!(
            header_line(head, "Authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(header_line(head, "Cache-Control"), Some("no-cache"));
        assert_eq!(header_line(head, "Accept"), Some("application/json"));
        assert_eq!(header_line(head, "User-Agent"), Some(USER_AGENT));
        assert_eq!(
            header_line(head, "Host"),
            Some(server.addr.to_string().as_str())
        );
    }

    #[test]
    fn no_authorization_header_without_a_token() {
        let server = Server::replying(http_response("200 OK", &[("Date", DATE)], &ok_body()));
        UreqTransport::new()
            .send(server.request(None, 5_000))
            .unwrap();
        let head = &server.seen.requests()[0];
        assert_eq!(header_line(head, "Authorization"), None, "{head}");
    }

    #[test]
    fn one_transport_reuses_its_connection() {
        let server = Server::replying(http_response("200 OK", &[("Date", DATE)], &ok_body()));
        let transport = UreqTransport::new();
        for _ in 0..3 {
            let r = transport.send(server.request(None, 5_000)).unwrap();
            assert_eq!(r.status, 200);
        }
        assert_eq!(server.seen.requests().len(), 3);
        assert_eq!(server.seen.connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_server_closing_idle_connections_does_not_fail_the_next_request() {
        // Keep-alive is implied (HTTP/1.1, no `Connection: close`), yet the
        // server closes after each reply, as servers do with idle timeouts.
        let reply = http_response("200 OK", &[("Date", DATE)], &ok_body());
        let server = Server::start(Script::Respond(Box::new(move |_, s| {
            let _ = s.write_all(&reply);
            false
        })));
        let transport = UreqTransport::new();
        for _ in 0..3 {
            let r = transport.send(server.request(None, 5_000)).unwrap();
            assert_eq!(r.status, 200);
            // Let the FIN arrive, as it would during an idle period.
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(server.seen.connections.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn error_statuses_are_responses_with_their_date_and_body() {
        for (status, body) in [
            (
                "404 Not Found",
                &br#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#[..],
            ),
            ("405 Method Not Allowed", b""),
            (
                "429 Too Many Requests",
                br#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1234}"#,
            ),
            ("500 Internal Server Error", b"<html>boom</html>"),
            ("503 Service Unavailable", b""),
        ] {
            let server = Server::replying(http_response(status, &[("Date", DATE)], body));
            let request = server.request(Some(TOKEN), 5_000);
            let response = UreqTransport::new().send(request.clone()).unwrap();
            let code: u16 = status[..3].parse().unwrap();
            assert_eq!(response.status, code);
            assert_eq!(response.body, body);
            assert_eq!(response.header("Date"), Some(DATE));
            assert_eq!(
                is_endpoint_unsupported(&response),
                code == 404 || code == 405
            );
            let e = response_to_error(&response, &request);
            assert_no_token(&e, TOKEN);
            match code {
                404 | 405 => assert!(matches!(e, Error::Unsupported(_)), "{e:?}"),
                429 => assert_eq!(
                    e,
                    Error::RateLimited {
                        retry_after_ms: 1234
                    }
                ),
                _ => assert!(
                    matches!(e, Error::Http { status, .. } if status == code),
                    "{e:?}"
                ),
            }
        }
    }

    #[test]
    fn redirects_to_another_origin_are_not_followed() {
        for status in [
            "301 Moved Permanently",
            "302 Found",
            "303 See Other",
            "307 Temporary Redirect",
            "308 Permanent Redirect",
        ] {
            // The redirect target: any connection to it would sit in its backlog.
            let target = TcpListener::bind("127.0.0.1:0").unwrap();
            target.set_nonblocking(true).unwrap();
            let target_origin = format!("http://{}", target.local_addr().unwrap());
            let location = format!("{target_origin}/_matrix/client/v3/get_server_now");
            let server = Server::replying(http_response(
                status,
                &[("Date", DATE), ("Location", &location)],
                b"",
            ));
            let request = server.request(Some(TOKEN), 2_000);
            let response = UreqTransport::new().send(request.clone()).unwrap();
            assert_eq!(response.status, status[..3].parse::<u16>().unwrap());
            assert_eq!(response.header("Location"), Some(location.as_str()));
            let e = response_to_error(&response, &request);
            assert!(
                matches!(&e, Error::Http { message, .. }
                if message.contains(&format!("redirect to {target_origin} not followed"))),
                "{e:?}"
            );
            assert_no_token(&e, TOKEN);
            // Nobody connected to the target, so the token was not sent there.
            match target.accept() {
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                other => panic!("{status}: the redirect target was contacted: {other:?}"),
            }
            assert_eq!(server.seen.requests().len(), 1);
        }
    }

    #[test]
    fn same_origin_redirects_are_not_followed_either() {
        let server = Server::replying(http_response(
            "302 Found",
            &[("Location", "/elsewhere")],
            b"",
        ));
        let request = server.request(Some(TOKEN), 2_000);
        let response = UreqTransport::new().send(request.clone()).unwrap();
        assert_eq!(response.status, 302);
        assert_eq!(server.seen.requests().len(), 1);
        let e = response_to_error(&response, &request);
        assert!(
            matches!(&e, Error::Http { status: 302, message } if message.contains("another path")),
            "{e:?}"
        );
    }

    fn assert_too_large(result: Result<HttpResponse, Error>) {
        match result {
            Err(Error::ProtocolViolation(m)) => {
                assert!(m.contains("body larger than 64 KiB"), "{m}")
            }
            other => panic!("expected Protocol(body larger than 64 KiB), got {other:?}"),
        }
    }

    #[test]
    fn bodies_up_to_64_kib_are_read_whole() {
        let mut body = ok_body();
        body.resize(MAX_BODY_BYTES, b' ');
        let server = Server::replying(http_response("200 OK", &[("Date", DATE)], &body));
        let response = UreqTransport::new()
            .send(server.request(None, 5_000))
            .unwrap();
        assert_eq!(response.body.len(), MAX_BODY_BYTES);
        assert_eq!(
            parse_server_now_body(&response.body).unwrap(),
            SERVER_NOW_MS
        );
    }

    #[test]
    fn bodies_over_64_kib_are_refused_with_content_length() {
        for size in [MAX_BODY_BYTES + 1, 10 * 1024 * 1024] {
            let server = Server::replying(http_response("200 OK", &[], &vec![b'x'; size]));
            assert_too_large(UreqTransport::new().send(server.request(Some(TOKEN), 5_000)));
        }
    }

    #[test]
    fn bodies_over_64_kib_are_refused_chunked_or_close_delimited() {
        // Chunked: 4 KiB chunks, 65 of them (one more than allowed).
        let chunked = Server::start(Script::Respond(Box::new(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = vec![b'x'; 4096];
            for _ in 0..(MAX_BODY_BYTES / 4096 + 1) {
                if s.write_all(b"1000\r\n").is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return false;
                }
            }
            let _ = s.write_all(b"0\r\n\r\n");
            false
        })));
        assert_too_large(UreqTransport::new().send(chunked.request(None, 5_000)));

        // No length at all: the body ends when the server closes (10 MB of it).
        let closing = Server::start(Script::Respond(Box::new(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..160 {
                if s.write_all(&block).is_err() {
                    break;
                }
            }
            false
        })));
        assert_too_large(UreqTransport::new().send(closing.request(None, 5_000)));
    }

    /// Runs `request` and returns the error and the time it took.
    fn timed_error(request: HttpRequest) -> (Error, Duration) {
        let start = Instant::now();
        let result = UreqTransport::new().send(request);
        let elapsed = start.elapsed();
        match result {
            Err(e) => (e, elapsed),
            Ok(r) => panic!("expected an error, got status {}", r.status),
        }
    }

    /// Timeout errors arrive after the budget and, generously measured, not
    /// much later (the goal is timeout + 10 %; a loaded 2-core machine
    /// can add scheduling delay, so the hard bound is 1.5×; the 10 % verdict is
    /// printed).
    fn assert_timeout_in_budget(e: &Error, elapsed: Duration, timeout_ms: u64) {
        assert!(
            matches!(e, Error::Timeout { timeout_ms: t, .. } if *t == timeout_ms),
            "expected Timeout({timeout_ms} ms), got {e:?}"
        );
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        println!(
            "timeout {timeout_ms} ms → error after {elapsed_ms:.1} ms ({:+.1} %; within +10 %: {})",
            (elapsed_ms / timeout_ms as f64 - 1.0) * 100.0,
            elapsed_ms <= timeout_ms as f64 * 1.1
        );
        assert!(
            elapsed_ms >= timeout_ms as f64 - 5.0,
            "returned early: {elapsed_ms} ms"
        );
        assert!(
            elapsed_ms <= timeout_ms as f64 * 1.5,
            "far too late: {elapsed_ms} ms"
        );
    }

    #[test]
    fn a_server_that_never_answers_times_out_in_budget() {
        let server = Server::start(Script::Respond(Box::new(|_, _| {
            thread::sleep(Duration::from_secs(10));
            false
        })));
        let (e, elapsed) = timed_error(server.request(Some(TOKEN), 500));
        assert_timeout_in_budget(&e, elapsed, 500);
        assert_no_token(&e, TOKEN);
        if let Error::Timeout { what, .. } = &e {
            assert!(what.contains(&server.addr.to_string()), "{what}");
        }
        // Said once: "timed out after 500 ms: GET http://…", no second
        // "after 500 ms" from the transport's own text.
        let shown = e.to_string();
        assert!(
            shown.starts_with("timed out after 500 ms: GET http://"),
            "{shown}"
        );
        assert_eq!(shown.matches("500 ms").count(), 1, "{shown}");
        assert_eq!(shown.matches("timed out").count(), 1, "{shown}");
    }

    #[test]
    fn a_server_that_never_accepts_times_out_in_budget() {
        // The kernel completes the handshake (backlog); nobody ever reads.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url =
            HomeserverUrl::parse(&format!("http://{}", listener.local_addr().unwrap()), false)
                .unwrap();
        let (e, elapsed) = timed_error(server_now_request(&url, "/x", Some(TOKEN), 400));
        assert_timeout_in_budget(&e, elapsed, 400);
        assert_no_token(&e, TOKEN);
        drop(listener);
    }

    #[test]
    fn a_trickled_body_times_out_in_budget() {
        // Headers at once, then one byte every 50 ms of a 1000-byte body.
        let server = Server::start(Script::Respond(Box::new(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if s.write_all(b" ").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            false
        })));
        let (e, elapsed) = timed_error(server.request(Some(TOKEN), 600));
        assert_timeout_in_budget(&e, elapsed, 600);
        assert_no_token(&e, TOKEN);
    }

    #[test]
    fn trickled_headers_time_out_in_budget() {
        let server = Server::start(Script::Respond(Box::new(|_, s| {
            for b in b"HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n" {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(40));
            }
            false
        })));
        let (e, elapsed) = timed_error(server.request(None, 500));
        assert_timeout_in_budget(&e, elapsed, 500);
    }

    #[test]
    fn connection_refused_is_a_network_error() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let url = HomeserverUrl::parse(&format!("http://{addr}"), false).unwrap();
        let (e, _) = timed_error(server_now_request(&url, "/x", Some(TOKEN), 2_000));
        match &e {
            Error::Network(m) => assert!(m.contains("refused"), "{m}"),
            other => panic!("expected Network, got {other:?}"),
        }
        assert_no_token(&e, TOKEN);
    }

    #[test]
    fn cut_or_garbled_replies_are_typed_errors() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("closed without a byte", b"".to_vec()),
            ("closed mid-status-line", b"HTTP/1.1 20".to_vec()),
            (
                "closed mid-headers",
                b"HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov".to_vec(),
            ),
            (
                "closed mid-body",
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"server_now\":".to_vec(),
            ),
            ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()),
            ("garbage", b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec()),
            (
                "bad chunking",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".to_vec(),
            ),
        ];
        for (what, bytes) in cases {
            let server = Server::start(Script::Respond(Box::new(move |_, s| {
                let _ = s.write_all(&bytes);
                let _ = s.shutdown(Shutdown::Both);
                false
            })));
            let (e, elapsed) = timed_error(server.request(Some(TOKEN), 2_000));
            println!("{what}: {e} after {elapsed:?}");
            assert!(
                matches!(e, Error::Network(_) | Error::ProtocolViolation(_)),
                "{what}: {e:?}"
            );
            assert!(
                elapsed < Duration::from_millis(1_500),
                "{what}: waited {elapsed:?}"
            );
            assert_no_token(&e, TOKEN);
        }
    }

    /// SO_LINGER 0: closing the socket sends a RST instead of a FIN.
    #[cfg(unix)]
    fn set_linger_zero(s: &TcpStream) {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket fd and a correctly sized `linger` struct.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
    }

    #[cfg(unix)]
    #[test]
    fn a_reset_connection_is_a_network_error() {
        let server = Server::start(Script::Respond(Box::new(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{");
            set_linger_zero(s);
            false
        })));
        let (e, _) = timed_error(server.request(Some(TOKEN), 2_000));
        assert!(matches!(e, Error::Network(_)), "{e:?}");
        assert_no_token(&e, TOKEN);
    }

    #[test]
    fn tls_to_a_plain_http_server_is_a_network_error() {
        let server = Server::start(Script::Immediately(http_response("200 OK", &[], b"hi")));
        let url = HomeserverUrl::parse(&format!("https://{}", server.addr), false).unwrap();
        let (e, _) = timed_error(server_now_request(&url, "/x", Some(TOKEN), 2_000));
        match &e {
            Error::Network(m) => assert!(m.contains("TLS") || m.contains("tls"), "{m}"),
            other => panic!("expected Network, got {other:?}"),
        }
        assert_no_token(&e, TOKEN);
    }

    #[test]
    fn non_utf8_header_values_do_not_break_anything() {
        let mut reply = b"HTTP/1.1 200 OK\r\nX-Odd: caf\xe9\r\nDate: ".to_vec();
        reply.extend_from_slice(DATE.as_bytes());
        reply.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
        let server = Server::replying(reply);
        let r = UreqTransport::new()
            .send(server.request(None, 2_000))
            .unwrap();
        assert_eq!(r.header("x-odd"), Some("caf\u{fffd}"));
        assert_eq!(r.header("date"), Some(DATE));
    }

    #[test]
    fn bad_requests_are_refused_without_echoing_the_token() {
        let server = Server::replying(http_response("200 OK", &[], b""));
        let transport = UreqTransport::new();
        for token in [
            "syt_inject\r\nX-Evil: 1",
            "syt_newline\nsecret_part",
            "syt_nul\u{0}secret_part",
        ] {
            let e = transport
                .send(server.request(Some(token), 2_000))
                .unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            for part in token.split(['\r', '\n', '\u{0}']).filter(|p| !p.is_empty()) {
                assert_no_token(&e, part);
            }
        }
        assert!(server.seen.requests().is_empty());
        for timeout_ms in [0, u64::MAX] {
            let e = transport
                .send(server.request(None, timeout_ms))
                .unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        }
        let e = transport
            .send(HttpRequest {
                url: "not a url".into(),
                headers: vec![HttpHeader::new("Authorization", format!("Bearer {TOKEN}"))],
                timeout_ms: 1_000,
            })
            .unwrap_err();
        assert_no_token(&e, TOKEN);
    }

    #[test]
    fn the_transport_is_usable_as_a_shared_trait_object_from_many_threads() {
        let server = Server::replying(http_response("200 OK", &[("Date", DATE)], &ok_body()));
        let transport: Arc<dyn HttpTransport> = Arc::new(UreqTransport::new());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let t = transport.clone();
                let req = server.request(Some(TOKEN), 5_000);
                thread::spawn(move || t.get(req).map(|r| r.status))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), 200);
        }
        assert_eq!(server.seen.requests().len(), 8);
    }

    #[test]
    fn ipv6_loopback_works() {
        let listener = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("SKIPPED ipv6_loopback_works: cannot bind [::1] on this machine: {e}");
                return;
            }
        };
        let server = Server::start_on(
            listener,
            Script::Respond(Box::new(|_, s| {
                s.write_all(&http_response("200 OK", &[("Date", DATE)], &ok_body()))
                    .is_ok()
            })),
        );
        let url = server.url();
        assert!(url.is_loopback(), "{url}");
        assert!(url.host().starts_with('['), "{url}");
        let response = UreqTransport::new()
            .send(server.request(Some(TOKEN), 5_000))
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            parse_server_now_body(&response.body).unwrap(),
            SERVER_NOW_MS
        );
        let head = &server.seen.requests()[0];
        assert_eq!(
            header_line(head, "Host"),
            Some(server.addr.to_string().as_str())
        );
    }
}
