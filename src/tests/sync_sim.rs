//! sync() on simulated time: a fake clock, a fake transport, and waits that
//! move the fake clock (no real sleeping), so the burst's pacing and probe
//! timing are checked exactly. Then the same bursts driven by hand through a
//! `SyncSession`, and the session's rules (several at once, dropped and
//! forgotten sessions, replies it did not ask for, times going back, the
//! whole-sync bound, the policy memory).

use std::sync::{Arc, Mutex};

use crate::session::{session_deadline_ms, JOIN_POLL_MS, REPLY_GRACE_MS};
use crate::transport::TransportError;
use crate::{
    ClockConfig, Error, FakeTimeSource, HttpHeader, HttpRequest, HttpResponse, HttpTransport,
    SampleSource, ServerClock, SyncAction, SyncReport, SyncSession, TimeSource,
};

const WALL0: i64 = 1_760_000_000_000;

/// A server `skew_ms` ahead of the device, `up`/`down` ms away; replies
/// listed in `replay` are the first reply served again (a stale cache).
struct SimServer {
    time: Arc<FakeTimeSource>,
    skew_ms: i64,
    up_ms: i64,
    down_ms: i64,
    endpoint: bool,
    replay: Vec<usize>,
    /// The `Date` header's clock minus the server's (a proxy's clock).
    date_skew_ms: i64,
    log: Mutex<Vec<(String, i64)>>, // (url, server time of the reply)
}

impl SimServer {
    fn server_now(&self) -> i64 {
        self.time.wall_ms() + self.skew_ms
    }
}

impl HttpTransport for SimServer {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Ok(self.respond(&request))
    }
}

impl SimServer {
    /// The reply to `request`, moving the fake clock by the path's delays.
    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let mut log = self.log.lock().unwrap();
        self.time.advance_ms(self.up_ms);
        let n = log.len();
        let server_ms = if self.replay.contains(&n) {
            log[0].1
        } else {
            self.server_now()
        };
        log.push((request.url.clone(), server_ms));
        self.time.advance_ms(self.down_ms);
        let date_s = (server_ms + self.date_skew_ms) / 1000;
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(date_s as u64),
        );
        let is_endpoint = request.url.ends_with("/get_server_now");
        let (status, body) = match (is_endpoint, self.endpoint) {
            (true, true) => (200, format!("{{\"server_now\":{server_ms}}}")),
            (true, false) => (404, r#"{"errcode":"M_UNRECOGNIZED"}"#.to_owned()),
            (false, _) => (200, r#"{"versions":["v1.11"]}"#.to_owned()),
        };
        HttpResponse {
            status,
            headers: vec![HttpHeader::new("Date", date)],
            body: body.into_bytes(),
        }
    }
}

fn setup(
    skew_ms: i64,
    up: i64,
    down: i64,
    endpoint: bool,
    replay: Vec<usize>,
) -> (Arc<SimServer>, Arc<ServerClock>) {
    let config = ClockConfig::new("https://matrix.example.org");
    setup_with(config, skew_ms, up, down, endpoint, replay, 0)
}

fn setup_with(
    config: ClockConfig,
    skew_ms: i64,
    up: i64,
    down: i64,
    endpoint: bool,
    replay: Vec<usize>,
    date_skew_ms: i64,
) -> (Arc<SimServer>, Arc<ServerClock>) {
    let time = Arc::new(FakeTimeSource::new(50_000, WALL0, "boot"));
    let server = Arc::new(SimServer {
        time: time.clone(),
        skew_ms,
        up_ms: up,
        down_ms: down,
        endpoint,
        replay,
        date_skew_ms,
        log: Mutex::new(Vec::new()),
    });
    let clock =
        ServerClock::new_with_sources_and_sleeper(config, time.clone(), Some(server.clone()), time)
            .unwrap();
    (server, clock)
}

fn error_ms(server: &SimServer, clock: &ServerClock) -> (i64, i64) {
    let e = clock.estimate().unwrap();
    (e.server_now_ms - server.server_now(), e.uncertainty_ms)
}

#[test]
fn endpoint_burst_stops_after_two_agreeing_fresh_samples() {
    let (server, clock) = setup(37_250, 10, 10, true, vec![]);
    let report = clock.sync().unwrap();
    assert_eq!(report.requests, 2);
    let (err, u) = error_ms(&server, &clock);
    // Half the round trip, + 1 ms resolution, + 1 ms of drift between the
    // two replies (rounded up), + 1 ms for reading the boot clock.
    assert!(err.abs() <= u && u <= 10 + 3, "error {err} uncertainty {u}");
}

#[test]
fn a_replayed_reply_never_ends_a_burst_on_a_wrong_estimate() {
    // The cache serves the first reply again for the second request: two
    // identical bodies, which without spacing would overlap and "agree".
    let (server, clock) = setup(-2_500, 1, 1, true, vec![1]);
    let report = clock.sync().unwrap();
    let (err, u) = error_ms(&server, &clock);
    assert!(
        err.abs() <= u,
        "error {err} > uncertainty {u} after {report:?}"
    );
    assert!(
        report.requests >= 3,
        "the replay must not count as confirmation: {report:?}"
    );
    // The requests were spaced by at least BURST_MIN_GAP_MS of boot time.
    let log = server.log.lock().unwrap();
    assert!(log.len() >= 3);
}

#[test]
fn two_replays_out_of_four_leave_no_wrong_estimate() {
    for replay in [vec![1, 2], vec![1, 3], vec![2, 3]] {
        let (server, clock) = setup(123_456, 2, 3, true, replay.clone());
        match clock.sync() {
            Ok(_) => {
                let (err, u) = error_ms(&server, &clock);
                assert!(err.abs() <= u, "{replay:?}: error {err} > uncertainty {u}");
            }
            Err(Error::Inconsistent(_)) => assert!(clock.estimate().is_none()),
            Err(e) => panic!("{replay:?}: {e}"),
        }
    }
}

#[test]
fn date_probes_converge_on_simulated_time() {
    let (server, clock) = setup(37_250 + 437, 4, 6, false, vec![]);
    let report = clock.sync().unwrap();
    assert_eq!(report.source, SampleSource::DateHeader);
    assert!(!report.endpoint_supported);
    let (err, u) = error_ms(&server, &clock);
    assert!(err.abs() <= u, "error {err} > uncertainty {u}");
    // Narrowed to ±16 ms (the Date target), then both edges confirmed by a
    // probe each, which widens the reported bound by about two round trips.
    assert!(
        err.abs() <= 16 && u <= 16 + 2 * 10 + 12,
        "{} phase-timed probes over a 10 ms round trip: error {err}, ±{u} ms",
        report.requests
    );
    assert!(report.requests <= 10, "{report:?}");
    let log = server.log.lock().unwrap();
    assert!(log[0].0.ends_with("/get_server_now"));
    assert!(log[1..]
        .iter()
        .all(|(url, _)| url.ends_with("/_matrix/client/versions")));
}

// ---------------------------------------------------------------------------
// The same bursts through a SyncSession, driven by hand
// ---------------------------------------------------------------------------

/// Drives `session` to its end against `server`, waiting on the fake clock.
fn drive(session: &SyncSession, server: &SimServer) -> Result<SyncReport, Error> {
    let time = &server.time;
    loop {
        match session.next_action(time.boot_ms())? {
            SyncAction::Send {
                request_id,
                request,
            } => {
                let sent = time.boot_ms();
                let response = server.respond(&request);
                session.receive_response(request_id, sent, time.boot_ms(), response)?;
            }
            SyncAction::Wait { until_boot_ms } => {
                assert!(until_boot_ms > time.boot_ms(), "a wait into the past");
                time.advance_ms(until_boot_ms - time.boot_ms());
            }
            SyncAction::Done { report } => return Ok(report),
        }
    }
}

/// The request a fresh session hands out first (after any probe wait).
fn first_request(session: &SyncSession, time: &FakeTimeSource) -> (u64, HttpRequest) {
    loop {
        match session.next_action(time.boot_ms()).unwrap() {
            SyncAction::Send {
                request_id,
                request,
            } => return (request_id, request),
            SyncAction::Wait { until_boot_ms } if until_boot_ms - time.boot_ms() < 1_000 => {
                time.advance_ms(until_boot_ms - time.boot_ms())
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }
}

fn log_len(server: &SimServer) -> usize {
    server.log.lock().unwrap().len()
}

#[test]
fn a_session_driven_by_hand_is_the_blocking_sync() {
    for (endpoint, replay) in [(true, vec![]), (true, vec![1]), (false, vec![])] {
        let (server_a, clock_a) = setup(37_250 + 437, 4, 6, endpoint, replay.clone());
        let (server_b, clock_b) = setup(37_250 + 437, 4, 6, endpoint, replay.clone());
        let blocking = clock_a.sync().unwrap();
        let session = clock_b.clone().start_sync(server_b.time.boot_ms()).unwrap();
        let by_hand = drive(&session, &server_b).unwrap();
        // Same requests at the same boot times, same report, same estimate.
        assert_eq!(
            *server_a.log.lock().unwrap(),
            *server_b.log.lock().unwrap(),
            "endpoint {endpoint} replay {replay:?}"
        );
        assert_eq!(blocking, by_hand);
        assert_eq!(clock_a.estimate(), clock_b.estimate());
        // Asked again, a finished session says the same.
        match session.next_action(server_b.time.boot_ms()).unwrap() {
            SyncAction::Done { report } => assert_eq!(report, by_hand),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_second_session_joins_the_first_and_gets_its_report() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let first = clock.clone().start_sync(time.boot_ms()).unwrap();
    let second = clock.clone().start_sync(time.boot_ms()).unwrap();
    match second.next_action(time.boot_ms()).unwrap() {
        SyncAction::Wait { until_boot_ms } => {
            assert_eq!(until_boot_ms, time.boot_ms() + JOIN_POLL_MS)
        }
        other => panic!("a joined session sends nothing: {other:?}"),
    }
    let report = drive(&first, &server).unwrap();
    match second.next_action(time.boot_ms()).unwrap() {
        SyncAction::Done { report: shared } => assert_eq!(shared, report),
        other => panic!("{other:?}"),
    }
    assert_eq!(log_len(&server), report.requests as usize, "one burst only");
}

#[test]
fn a_blocking_sync_waits_for_a_session_in_flight() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&session, &time);
    let waiter = {
        let clock = clock.clone();
        std::thread::spawn(move || clock.sync())
    };
    // Real time for the waiter to block on the session's burst.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!waiter.is_finished(), "sync() did not wait for the session");
    let sent = time.boot_ms();
    let response = server.respond(&request);
    session
        .receive_response(id, sent, time.boot_ms(), response)
        .unwrap();
    let report = drive(&session, &server).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), report);
    assert_eq!(log_len(&server), report.requests as usize, "one burst only");
}

#[test]
fn a_dropped_session_leaves_nothing_in_flight() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let first = clock.clone().start_sync(time.boot_ms()).unwrap();
    let joined = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (first_id, _) = first_request(&first, &time);
    drop(first);
    // The session that waited for it runs a burst of its own.
    let (id, request) = first_request(&joined, &time);
    assert_ne!(id, first_id);
    match joined.receive_response(
        first_id,
        time.boot_ms(),
        time.boot_ms(),
        server.respond(&request),
    ) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("not waiting"), "{m}"),
        other => panic!("a reply for the dropped session's request: {other:?}"),
    }
    let sent = time.boot_ms();
    let response = server.respond(&request);
    joined
        .receive_response(id, sent, time.boot_ms(), response)
        .unwrap();
    let report = drive(&joined, &server).unwrap();
    assert_eq!(report.samples_taken, report.requests);
    // Nothing of the dropped one was kept, and later syncs run.
    assert_eq!(clock.estimate().unwrap().samples, report.samples_taken);
    let (_, request) = first_request(&clock.clone().start_sync(time.boot_ms()).unwrap(), &time);
    assert!(request.url.ends_with("/get_server_now"));
    clock.sync().unwrap();
}

#[test]
fn a_forgotten_session_is_taken_over_after_its_deadline() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let forgotten = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&forgotten, &time);
    // Before the deadline a new session joins it.
    let early = clock.clone().start_sync(time.boot_ms()).unwrap();
    assert!(matches!(
        early.next_action(time.boot_ms()).unwrap(),
        SyncAction::Wait { .. }
    ));
    drop(early);
    time.advance_ms(session_deadline_ms(&ClockConfig::new(
        "https://matrix.example.org",
    )));
    let fresh = clock.clone().start_sync(time.boot_ms()).unwrap();
    let report = drive(&fresh, &server).unwrap();
    assert!(report.samples_taken >= 2);
    // The forgotten one's late reply changes nothing; it ends in a timeout.
    let response = server.respond(&request);
    let before = clock.estimate().unwrap();
    forgotten
        .receive_response(id, time.boot_ms(), time.boot_ms(), response)
        .unwrap();
    match forgotten.next_action(time.boot_ms()) {
        Err(Error::Timeout { what, .. }) => assert!(what.contains("took over"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(clock.estimate().unwrap().samples, before.samples);
}

#[test]
fn replies_the_session_did_not_ask_for_are_refused() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&session, &time);
    // Another clock's request id.
    let (_, other_clock) = setup(0, 1, 1, true, vec![]);
    let other = other_clock.start_sync(time.boot_ms()).unwrap();
    let (other_id, _) = first_request(&other, &time);
    let sent = time.boot_ms();
    let response = server.respond(&request);
    let received = time.boot_ms();
    for bad in [other_id, id + 1_000_000, 0] {
        match session.receive_response(bad, sent, received, response.clone()) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains(&format!("request {bad}")), "{m}"),
            other => panic!("id {bad}: {other:?}"),
        }
    }
    session
        .receive_response(id, sent, received, response.clone())
        .unwrap();
    // A second reply to the same request.
    assert!(matches!(
        session.receive_response(id, sent, received, response.clone()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        session.receive_failure(
            id,
            sent,
            received,
            TransportError::Network { reason: "x".into() }
        ),
        Err(Error::InvalidArgument(_))
    ));
    // The session is none the worse for it.
    let report = drive(&session, &server).unwrap();
    assert_eq!(report.requests, 2);
    assert!(matches!(
        session.receive_response(id, sent, received, response),
        Err(Error::InvalidArgument(m)) if m.contains("over")
    ));
}

#[test]
fn boot_times_that_go_back_or_come_from_another_clock_are_refused() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    // A wall-clock time where a boot time belongs.
    assert!(matches!(
        clock.clone().start_sync(time.wall_ms()),
        Err(Error::TimeOutOfRange(m)) if m.contains("ahead")
    ));
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let now = time.boot_ms();
    time.advance_ms(1);
    assert!(matches!(
        session.next_action(time.wall_ms()),
        Err(Error::TimeOutOfRange(_))
    ));
    let (id, request) = first_request(&session, &time);
    assert!(matches!(
        session.next_action(now),
        Err(Error::TimeOutOfRange(m)) if m.contains("earlier")
    ));
    let sent = time.boot_ms();
    let response = server.respond(&request);
    let received = time.boot_ms();
    for (s, r) in [(sent - 1, received), (sent, sent - 1), (received, sent)] {
        assert!(
            matches!(
                session.receive_response(id, s, r, response.clone()),
                Err(Error::TimeOutOfRange(_))
            ),
            "sent {s} received {r}"
        );
    }
    // Refused calls change nothing: the right times are taken.
    session
        .receive_response(id, sent, received, response)
        .unwrap();
    assert_eq!(drive(&session, &server).unwrap().requests, 2);
}

#[test]
fn the_whole_sync_stays_within_max_sync_ms() {
    // 800 ms round trips never reach the 50 ms target: only the bound stops
    // the burst. Request 3 would start at 1 610 ms and could end after
    // 1 610 + 1 000 (timeout) > 2 500.
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.request_timeout_ms = 1_000;
    config.policy.max_sync_ms = 2_500;
    for by_hand in [false, true] {
        let (server, clock) = setup_with(config.clone(), 5_000, 400, 400, true, vec![], 0);
        let time = server.time.clone();
        let start = time.boot_ms();
        let report = if by_hand {
            drive(&clock.clone().start_sync(start).unwrap(), &server).unwrap()
        } else {
            clock.sync().unwrap()
        };
        assert_eq!(report.requests, 2, "by hand {by_hand}: {report:?}");
        assert!(time.boot_ms() - start <= 2_500);
    }
}

#[test]
fn rate_limit_and_missing_endpoint_are_remembered_as_by_sync() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&session, &time);
    let mut response = server.respond(&request);
    response.status = 429;
    response.headers.push(HttpHeader::new("Retry-After", "60"));
    response.body = br#"{"errcode":"M_LIMIT_EXCEEDED"}"#.to_vec();
    session
        .receive_response(id, time.boot_ms() - 20, time.boot_ms(), response)
        .unwrap();
    match session.next_action(time.boot_ms()) {
        Err(Error::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, 60_000),
        other => panic!("{other:?}"),
    }
    // The next sync, by hand or blocking, asks nothing for a minute.
    time.advance_ms(30_000);
    let seen = log_len(&server);
    assert!(matches!(
        clock.clone().start_sync(time.boot_ms()),
        Err(Error::RateLimited { .. })
    ));
    assert!(matches!(clock.sync(), Err(Error::RateLimited { .. })));
    assert_eq!(log_len(&server), seen);
    time.advance_ms(30_001);
    drive(&clock.clone().start_sync(time.boot_ms()).unwrap(), &server).unwrap();

    // A server without the endpoint: the session goes on with Date probes,
    // and the next one starts with them.
    let (server, clock) = setup(-4_321, 3, 3, false, vec![]);
    let time = server.time.clone();
    let report = drive(&clock.clone().start_sync(time.boot_ms()).unwrap(), &server).unwrap();
    assert!(!report.endpoint_supported);
    assert_eq!(report.source, SampleSource::DateHeader);
    let (_, request) = first_request(&clock.clone().start_sync(time.boot_ms()).unwrap(), &time);
    assert!(
        request.url.ends_with("/_matrix/client/versions"),
        "{}",
        request.url
    );
}

#[test]
fn a_request_never_answered_times_out_and_its_late_reply_is_refused() {
    let (server, clock) = setup(5_000, 10, 10, true, vec![]);
    let time = server.time.clone();
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&session, &time);
    let give_up_at = time.boot_ms() + request.timeout_ms as i64 + REPLY_GRACE_MS;
    match session.next_action(time.boot_ms()).unwrap() {
        SyncAction::Wait { until_boot_ms } => assert_eq!(until_boot_ms, give_up_at),
        other => panic!("{other:?}"),
    }
    time.advance_ms(give_up_at - time.boot_ms());
    assert!(matches!(
        session.next_action(time.boot_ms()),
        Err(Error::Timeout { .. })
    ));
    let response = server.respond(&request);
    assert!(matches!(
        session.receive_response(id, give_up_at, time.boot_ms(), response),
        Err(Error::InvalidArgument(_))
    ));
    assert!(clock.estimate().is_none());
}

#[test]
fn a_failure_handed_back_never_carries_the_token() {
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.access_token = Some("syt_c2Vzc2lvbg_SESSIONSECRET_1a2b3c".into());
    let (server, clock) = setup_with(config, 5_000, 10, 10, true, vec![], 0);
    let time = server.time.clone();
    let session = clock.clone().start_sync(time.boot_ms()).unwrap();
    let (id, request) = first_request(&session, &time);
    let auth = request.header("Authorization").unwrap().to_owned();
    assert!(auth.contains("SESSIONSECRET"));
    session
        .receive_failure(
            id,
            time.boot_ms(),
            time.boot_ms() + 3,
            TransportError::Network {
                reason: format!("connection reset while sending {auth}"),
            },
        )
        .unwrap();
    match session.next_action(time.boot_ms() + 3) {
        Err(e @ Error::Network(_)) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("SESSIONSECRET"), "{shown}");
            assert!(shown.contains("connection reset"), "{shown}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_date_header_from_another_clock_is_reported() {
    // A proxy whose clock is an hour behind the homeserver's writes `Date`.
    let config = ClockConfig::new("https://matrix.example.org");
    for by_hand in [false, true] {
        let (server, clock) = setup_with(config.clone(), 5_000, 10, 10, true, vec![], -3_600_000);
        let report = if by_hand {
            drive(
                &clock.clone().start_sync(server.time.boot_ms()).unwrap(),
                &server,
            )
            .unwrap()
        } else {
            clock.sync().unwrap()
        };
        let gap = report.date_disagreement_ms.expect("disagreement reported");
        // The Date interval is 1 s plus the round trip wide, so the gap is
        // the skew less up to about that much.
        assert!(
            (-3_600_000..=-3_600_000 + 1_000 + 25).contains(&gap),
            "gap {gap}"
        );
        // The estimate follows the endpoint's body, not the proxy.
        let (err, u) = error_ms(&server, &clock);
        assert!(err.abs() <= u, "error {err} > uncertainty {u}");
    }
    // One clock for both: nothing to report, at any phase of the second.
    for skew in [0, 1, 499, 999, 37_250] {
        let (_, clock) = setup(skew, 7, 3, true, vec![]);
        assert_eq!(
            clock.sync().unwrap().date_disagreement_ms,
            None,
            "skew {skew}"
        );
    }
}

#[test]
fn a_time_source_that_only_moves_when_told_still_syncs() {
    // Apps' test clocks (Kotlin, Swift, C) move only when their transport
    // says so, while the clock sleeps for real: a served wait counts even if
    // the boot clock did not move, as it always did.
    for endpoint in [true, false] {
        let (server, _) = setup(5_000, 0, 0, endpoint, vec![]);
        let mut config = ClockConfig::new("https://matrix.example.org");
        config.policy.date_probe_budget = 3;
        let clock =
            ServerClock::new_with_sources(config, Some(server.time.clone()), Some(server.clone()))
                .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(clock.sync().map(|r| r.requests)));
        let requests = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("sync() hung on a clock that does not move")
            .unwrap();
        assert!(requests >= 2, "endpoint {endpoint}: {requests} requests");
    }
}
