//! sync() on simulated time: a fake clock, a fake transport, and waits that
//! move the fake clock (no real sleeping), so the burst's pacing and probe
//! timing are checked exactly.

use std::sync::{Arc, Mutex};

use mxclock::transport::TransportError;
use mxclock::{
    ClockConfig, Error, FakeTimeSource, HttpHeader, HttpRequest, HttpResponse, HttpTransport,
    SampleSource, ServerClock, TimeSource,
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
    log: Mutex<Vec<(String, i64)>>, // (url, server time of the reply)
}

impl SimServer {
    fn server_now(&self) -> i64 {
        self.time.wall_ms() + self.skew_ms
    }
}

impl HttpTransport for SimServer {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
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
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((server_ms / 1000) as u64),
        );
        let is_endpoint = request.url.ends_with("/get_server_now");
        let (status, body) = match (is_endpoint, self.endpoint) {
            (true, true) => (200, format!("{{\"server_now\":{server_ms}}}")),
            (true, false) => (404, r#"{"errcode":"M_UNRECOGNIZED"}"#.to_owned()),
            (false, _) => (200, r#"{"versions":["v1.11"]}"#.to_owned()),
        };
        Ok(HttpResponse {
            status,
            headers: vec![HttpHeader::new("Date", date)],
            body: body.into_bytes(),
        })
    }
}

fn setup(
    skew_ms: i64,
    up: i64,
    down: i64,
    endpoint: bool,
    replay: Vec<usize>,
) -> (Arc<SimServer>, Arc<ServerClock>) {
    let time = Arc::new(FakeTimeSource::new(50_000, WALL0, "boot"));
    let server = Arc::new(SimServer {
        time: time.clone(),
        skew_ms,
        up_ms: up,
        down_ms: down,
        endpoint,
        replay,
        log: Mutex::new(Vec::new()),
    });
    let clock = ServerClock::with_sources_and_sleeper(
        ClockConfig::new("https://matrix.example.org"),
        time.clone(),
        Some(server.clone()),
        time,
    )
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
    assert!(err.abs() <= u && u <= 10 + 2, "error {err} uncertainty {u}");
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
