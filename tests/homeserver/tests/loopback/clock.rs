//! The server clock, the Date header, the delays, routes and recording.

use crate::common::*;
use mxclock_test_homeserver::{Delay, HomeserverConfig, TestHomeserver, VERSIONS_PATH};

fn start(skew_ms: f64) -> TestHomeserver {
    TestHomeserver::start(HomeserverConfig {
        skew_ms,
        ..HomeserverConfig::default()
    })
    .unwrap()
}

/// The body time is causally between send and receive, shifted by the skew.
fn assert_body_time_within_round_trip(reply: &Reply, skew_ms: f64) {
    let t = reply.server_now() as f64;
    let lo = (reply.sent_wall_ms + skew_ms).floor();
    let hi = reply.received_wall_ms + skew_ms;
    assert!(
        lo <= t && t <= hi,
        "server_now {t} outside [{lo}, {hi}] for skew {skew_ms}"
    );
}

#[test]
fn body_time_is_wall_clock_plus_skew() {
    for skew_ms in [
        0.0,
        37_250.0,
        37_250.5,
        -2_500.0,
        -3_600_000.0,
        3.0 * 86_400_000.0,
    ] {
        let server = start(skew_ms);
        assert_eq!(server.skew_ms(), skew_ms);
        for _ in 0..5 {
            let reply = get(server.port(), TIME_PATH);
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_body_time_within_round_trip(&reply, skew_ms);
        }
        let before = wall_ms();
        let truth = server.true_server_ms();
        let after = wall_ms();
        assert!(before + skew_ms <= truth && truth <= after + skew_ms);
    }
}

#[test]
fn date_header_is_the_floor_of_the_body_instant() {
    // 300 requests over ~0 s would rarely straddle a second; a 7 ms uplink
    // delay spreads them over ~2 s so several cross a second boundary.
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms: 37_250.5,
        uplink: Delay::fixed(7.0),
        ..HomeserverConfig::default()
    })
    .unwrap();
    let mut tcp = connect(server.port());
    let mut seconds = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let reply = exchange(&mut tcp, &request_text("GET", TIME_PATH, &[], false), false).unwrap();
        let t = reply.server_now();
        assert_eq!(reply.date_s(), t.div_euclid(1000), "Date vs body {t}");
        assert_eq!(
            reply.header("date").unwrap(),
            mxclock_test_homeserver::imf_fixdate(t.div_euclid(1000))
        );
        seconds.insert(reply.date_s());
    }
    assert!(seconds.len() >= 2, "never crossed a second boundary");
}

#[test]
fn imf_fixdate_agrees_with_httpdate() {
    let mut x: u64 = 12345;
    for _ in 0..10_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let secs = (x >> 11) % 253_402_300_799; // up to 9999-12-31
        let expected =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(mxclock_test_homeserver::imf_fixdate(secs as i64), expected);
    }
}

#[test]
fn uplink_delay_comes_before_the_clock_read() {
    let skew_ms = 1_000.25;
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms,
        uplink: Delay::fixed(200.0),
        ..HomeserverConfig::default()
    })
    .unwrap();
    let reply = get(server.port(), TIME_PATH);
    assert_body_time_within_round_trip(&reply, skew_ms);
    let server_wall = reply.server_now() as f64 - skew_ms;
    // Clock read ≥ 200 ms after sending (−1 ms for the floor of the body).
    assert!(server_wall - reply.sent_wall_ms >= 199.0, "{reply:?}");
}

#[test]
fn downlink_delay_comes_after_the_clock_read() {
    let skew_ms = -1_000.75;
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms,
        downlink: Delay::fixed(200.0),
        ..HomeserverConfig::default()
    })
    .unwrap();
    let reply = get(server.port(), TIME_PATH);
    assert_body_time_within_round_trip(&reply, skew_ms);
    let server_wall = reply.server_now() as f64 - skew_ms;
    assert!(reply.received_wall_ms - server_wall >= 200.0, "{reply:?}");
}

#[test]
fn jittered_delays_are_at_least_their_base() {
    let server = TestHomeserver::start(HomeserverConfig {
        uplink: Delay::jittered(30.0, 10.0),
        downlink: Delay {
            base_ms: 20.0,
            jitter_ms: 5.0,
            spike_probability: 0.5,
            spike_ms: 50.0,
        },
        ..HomeserverConfig::default()
    })
    .unwrap();
    let mut tcp = connect(server.port());
    let mut rtts = Vec::new();
    for _ in 0..10 {
        let r = exchange(&mut tcp, &request_text("GET", TIME_PATH, &[], false), false).unwrap();
        assert_body_time_within_round_trip(&r, 0.0);
        rtts.push(r.received_wall_ms - r.sent_wall_ms);
    }
    for rtt in &rtts {
        assert!(*rtt >= 50.0, "rtt {rtt} below base 30 + 20");
    }
    // Jitter makes them differ.
    let spread = rtts.iter().cloned().fold(f64::MIN, f64::max)
        - rtts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 0.5, "{rtts:?}");
}

#[test]
fn msc4094_off_answers_404_unrecognized_with_a_date() {
    let skew_ms = -2_500.0;
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms,
        msc4094: false,
        ..HomeserverConfig::default()
    })
    .unwrap();
    for path in [TIME_PATH, mxclock_test_homeserver::UNSTABLE_TIME_PATH] {
        let reply = get(server.port(), path);
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json()["errcode"], "M_UNRECOGNIZED");
        assert_eq!(reply.json()["error"], "Unrecognized request");
        let date_ms = reply.date_s() as f64 * 1000.0;
        assert!(date_ms <= reply.received_wall_ms + skew_ms);
        assert!(date_ms + 1000.0 > reply.sent_wall_ms + skew_ms);
    }
    assert_eq!(server.request_count().time_endpoint, 2);
    let versions = get(server.port(), VERSIONS_PATH);
    assert_eq!(
        versions.json()["unstable_features"]["org.matrix.msc4094"],
        false
    );

    server.set_msc4094(true);
    assert_eq!(get(server.port(), TIME_PATH).status, 200);
}

#[test]
fn other_routes_and_methods() {
    let server = start(0.0);
    let versions = get(server.port(), VERSIONS_PATH);
    assert_eq!(versions.status, 200);
    assert!(versions.json()["versions"].as_array().unwrap().len() > 3);
    assert_eq!(
        versions.json()["unstable_features"]["org.matrix.msc4094"],
        true
    );
    versions.date_s();

    let unknown = get(server.port(), "/_matrix/client/v3/sync");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["errcode"], "M_UNRECOGNIZED");
    unknown.date_s();

    let mut tcp = connect(server.port());
    let post = exchange(&mut tcp, &request_text("POST", TIME_PATH, &[], true), false).unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.json()["errcode"], "M_UNRECOGNIZED");
    post.date_s();

    let mut tcp = connect(server.port());
    let head = exchange(&mut tcp, &request_text("HEAD", TIME_PATH, &[], false), true).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert!(
        head.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 10
    );
    head.date_s();
    // The connection is still usable after a HEAD.
    let again = exchange(&mut tcp, &request_text("GET", TIME_PATH, &[], true), false).unwrap();
    assert_body_time_within_round_trip(&again, 0.0);

    let query = get(server.port(), &format!("{TIME_PATH}?ts=1"));
    assert_eq!(query.status, 200);

    let mut tcp = connect(server.port());
    std::io::Write::write_all(&mut tcp, b"NONSENSE\r\n\r\n").unwrap();
    let (status, _, _) = read_head(&mut tcp).unwrap();
    assert_eq!(status, 400);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = start(5.0);
    let mut tcp = connect(server.port());
    for _ in 0..20 {
        let r = exchange(&mut tcp, &request_text("GET", TIME_PATH, &[], false), false).unwrap();
        assert_body_time_within_round_trip(&r, 5.0);
        assert_eq!(r.header("connection"), None);
    }
    let last = exchange(&mut tcp, &request_text("GET", TIME_PATH, &[], true), false).unwrap();
    assert_eq!(last.header("connection"), Some("close"));
    let (rest, err) = read_all_raw(&mut tcp);
    assert!(rest.is_empty() && err.is_none(), "server kept talking");
    assert_eq!(server.request_count().time_endpoint, 21);
}

#[test]
fn requests_are_recorded_and_counted() {
    let server = start(0.0);
    get_with(
        server.port(),
        TIME_PATH,
        &[
            ("Authorization", "Bearer syt_secret"),
            ("Cache-Control", "no-cache"),
            ("User-Agent", "mxclock/0.1.0"),
        ],
    );
    get(server.port(), VERSIONS_PATH);
    get(server.port(), mxclock_test_homeserver::TRUE_SERVER_MS_PATH);
    let counts = server.request_count();
    assert_eq!((counts.time_endpoint, counts.total), (1, 2));

    let recorded = server.requests();
    assert_eq!(recorded.len(), 2, "test-only routes are not recorded");
    assert_eq!(recorded[0].method, "GET");
    assert_eq!(recorded[0].path, TIME_PATH);
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Bearer syt_secret")
    );
    assert_eq!(recorded[0].header("CACHE-CONTROL"), Some("no-cache"));
    assert_eq!(recorded[0].header("user-agent"), Some("mxclock/0.1.0"));
    assert_eq!(recorded[1].path, VERSIONS_PATH);
    assert_eq!(recorded[1].header("authorization"), None);

    server.clear_requests();
    assert!(server.requests().is_empty());
    assert_eq!(server.request_count().total, 2);
}

#[test]
fn test_only_routes_report_truth_and_counts() {
    let skew_ms = 123_456.5;
    let server = start(skew_ms);
    get(server.port(), TIME_PATH);
    let truth = get(server.port(), mxclock_test_homeserver::TRUE_SERVER_MS_PATH);
    let t = truth.json()["true_server_ms"].as_f64().unwrap();
    assert!(truth.sent_wall_ms + skew_ms <= t && t <= truth.received_wall_ms + skew_ms);
    let counts = get(server.port(), mxclock_test_homeserver::REQUEST_COUNT_PATH).json();
    assert_eq!(counts["time_endpoint"], 1);
    assert_eq!(counts["total"], 1);
}

#[test]
fn config_changes_apply_at_runtime() {
    let server = start(0.0);
    assert_body_time_within_round_trip(&get(server.port(), TIME_PATH), 0.0);
    server.set_skew_ms(-3_600_000.0);
    assert_eq!(server.skew_ms(), -3_600_000.0);
    assert_body_time_within_round_trip(&get(server.port(), TIME_PATH), -3_600_000.0);
    server.set_config(HomeserverConfig {
        skew_ms: 42.0,
        msc4094: false,
        ..HomeserverConfig::default()
    });
    assert_eq!(server.config().skew_ms, 42.0);
    assert_eq!(get(server.port(), TIME_PATH).status, 404);
    server.set_delays(Delay::fixed(100.0), Delay::NONE);
    let r = get(server.port(), TIME_PATH);
    assert!(r.received_wall_ms - r.sent_wall_ms >= 100.0);
}

#[test]
fn concurrent_clients_are_served_in_parallel() {
    // 8 clients, each reply delayed 300 ms: served in parallel they all
    // finish; the server counts every one of them.
    let server = TestHomeserver::start(HomeserverConfig {
        uplink: Delay::fixed(300.0),
        ..HomeserverConfig::default()
    })
    .unwrap();
    let port = server.port();
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || get(port, TIME_PATH)))
        .collect();
    for t in threads {
        assert_body_time_within_round_trip(&t.join().unwrap(), 0.0);
    }
    assert_eq!(server.request_count().time_endpoint, 8);
}

#[test]
fn server_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestHomeserver>();
}

#[test]
fn refused_url_refuses() {
    let url = mxclock_test_homeserver::refused_base_url().unwrap();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let err = std::net::TcpStream::connect(("127.0.0.1", port)).expect_err("connected");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
