//! Each fault produces what it says.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::common::*;
use mxclock_test_homeserver::*;

const SKEW_MS: f64 = 37_250.0;

fn start(fault: Fault) -> TestHomeserver {
    TestHomeserver::start(HomeserverConfig {
        skew_ms: SKEW_MS,
        fault,
        ..HomeserverConfig::default()
    })
    .unwrap()
}

fn in_round_trip(t: f64, reply: &Reply) -> bool {
    (reply.sent_wall_ms + SKEW_MS).floor() <= t && t <= reply.received_wall_ms + SKEW_MS
}

fn send_get(port: u16) -> std::net::TcpStream {
    let mut tcp = connect(port);
    tcp.write_all(request_text("GET", TIME_PATH, &[], true).as_bytes())
        .unwrap();
    tcp
}

#[test]
fn garbage_body() {
    let server = start(Fault::Garbage);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 256);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    r.date_s();
}

#[test]
fn truncated_body_closes_before_content_length() {
    let server = start(Fault::Truncated);
    let mut tcp = send_get(server.port());
    let (status, headers, mut body) = read_head(&mut tcp).unwrap();
    assert_eq!(status, 200);
    let declared: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .unwrap()
        .1
        .parse()
        .unwrap();
    let (rest, err) = read_all_raw(&mut tcp);
    assert!(err.is_none(), "closed with FIN, not an error: {err:?}");
    body.extend(rest);
    assert!(
        !body.is_empty() && body.len() < declared,
        "{} of {declared}",
        body.len()
    );
}

#[test]
fn huge_body_is_ten_mebibytes_of_valid_json() {
    let server = start(Fault::HugeBody);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.body.len(), HUGE_BODY_BYTES);
    assert!(in_round_trip(r.server_now() as f64, &r));
}

#[test]
fn huge_body_client_that_hangs_up_early_does_not_hurt_the_server() {
    let server = start(Fault::HugeBody);
    let mut tcp = send_get(server.port());
    let mut first = [0u8; 1000];
    tcp.read_exact(&mut first).unwrap();
    drop(tcp);
    server.set_fault(Fault::None);
    assert_eq!(get(server.port(), TIME_PATH).status, 200);
}

#[test]
fn slow_body_trickles_one_byte_per_second() {
    let server = start(Fault::SlowBody);
    let mut tcp = send_get(server.port());
    let (status, _, already) = read_head(&mut tcp).unwrap();
    assert_eq!(status, 200);
    assert!(already.is_empty());
    let start = Instant::now();
    let mut three = [0u8; 3];
    tcp.read_exact(&mut three).unwrap();
    // Three bytes need at least two more one-second pauses after the first.
    assert!(
        start.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(&three, b"{\"s");
}

#[test]
fn never_answer_holds_the_connection_open_silently() {
    let server = start(Fault::NeverAnswer);
    let mut tcp = send_get(server.port());
    tcp.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 16];
    let err = loop {
        match tcp.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other.expect_err("server answered"),
        }
    };
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(server.open_connections(), 1);
    assert_eq!(server.request_count().time_endpoint, 1);
    // The client giving up frees the server's thread.
    drop(tcp);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.open_connections(), 0);
}

#[test]
fn reset_mid_headers() {
    let server = start(Fault::ResetMidHeaders);
    let mut tcp = send_get(server.port());
    let (got, err) = read_all_raw(&mut tcp);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    assert!(!text.contains("\r\n\r\n"), "headers completed: {text:?}");
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
}

#[test]
fn reset_mid_body() {
    let server = start(Fault::ResetMidBody);
    let mut tcp = send_get(server.port());
    let (got, err) = read_all_raw(&mut tcp);
    let text = String::from_utf8_lossy(&got);
    let (_, body) = text.split_once("\r\n\r\n").expect("headers complete");
    assert!(!body.is_empty() && !body.ends_with('}'), "{body:?}");
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
}

#[test]
fn invalid_utf8() {
    let server = start(Fault::InvalidUtf8);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.status, 200);
    assert!(std::str::from_utf8(&r.body).is_err());
    assert!(r.body.starts_with(b"{\"server_now\":"));
}

#[test]
fn non_json() {
    let server = start(Fault::NonJson);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(r.body.starts_with(b"<html>"));
}

#[test]
fn time_as_string_float_and_negative() {
    let server = start(Fault::TimeAsString);
    let r = get(server.port(), TIME_PATH);
    let s = r.json()["server_now"].as_str().unwrap().to_owned();
    assert!(in_round_trip(s.parse::<f64>().unwrap(), &r));

    server.set_fault(Fault::TimeAsFloat);
    let r = get(server.port(), TIME_PATH);
    let v = &r.json()["server_now"];
    assert!(v.is_f64() && !v.is_i64(), "{v}");
    let t = v.as_f64().unwrap();
    assert!(r.sent_wall_ms + SKEW_MS - 1.0 <= t && t <= r.received_wall_ms + SKEW_MS);

    server.set_fault(Fault::NegativeTime);
    let r = get(server.port(), TIME_PATH);
    let t = r.json()["server_now"].as_i64().unwrap();
    assert!(t < 0 && in_round_trip(-t as f64, &r));
}

#[test]
fn year_1900_and_3000_in_body_and_date() {
    for (fault, base_ms, prefix) in [
        (Fault::Year1900, YEAR_1900_MS, "Mon, 01 Jan 1900 "),
        (Fault::Year3000, YEAR_3000_MS, "Wed, 01 Jan 3000 "),
    ] {
        let server = start(fault);
        let r = get(server.port(), TIME_PATH);
        let t = r.server_now();
        assert!((base_ms..base_ms + 86_400_000).contains(&t), "{t}");
        let date = r.header("date").unwrap();
        assert!(date.starts_with(prefix), "{date}");
        assert_eq!(date, imf_fixdate(t.div_euclid(1000)));
        // Same time of day as the truth.
        let truth = server.true_server_ms().rem_euclid(86_400_000.0);
        let shown = (t - base_ms) as f64;
        let diff = (truth - shown).rem_euclid(86_400_000.0);
        assert!(diff < 60_000.0, "time of day off by {diff} ms");
    }
}

#[test]
fn date_malformed_and_missing() {
    let server = start(Fault::DateMalformed);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("date"), Some(DATE_MALFORMED_HEADER));
    assert!(httpdate::parse_http_date(DATE_MALFORMED_HEADER).is_err());
    assert!(in_round_trip(r.server_now() as f64, &r));

    server.set_fault(Fault::DateMissing);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("date"), None);
    assert!(in_round_trip(r.server_now() as f64, &r));

    // Date faults also hit the 404 of a server without MSC4094.
    server.set_msc4094(false);
    assert_eq!(get(server.port(), TIME_PATH).header("date"), None);
}

#[test]
fn age_huge() {
    let server = start(Fault::AgeHuge);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("age"), Some(AGE_HUGE_HEADER));
    assert!(AGE_HUGE_HEADER
        .parse::<u64>()
        .unwrap()
        .checked_mul(1000)
        .is_none());
    assert!(in_round_trip(r.server_now() as f64, &r));
}

#[test]
fn statuses_carry_matrix_errors_and_a_date() {
    let server = start(Fault::None);
    for (status, errcode) in [
        (401, "M_UNKNOWN_TOKEN"),
        (403, "M_FORBIDDEN"),
        (404, "M_UNRECOGNIZED"),
        (405, "M_UNRECOGNIZED"),
        (500, "M_UNKNOWN"),
        (502, "M_UNKNOWN"),
        (503, "M_UNKNOWN"),
    ] {
        server.set_fault(Fault::Status(status));
        let r = get(server.port(), TIME_PATH);
        assert_eq!(r.status, status);
        assert_eq!(r.json()["errcode"], errcode, "{status}");
        let date_ms = r.date_s() as f64 * 1000.0;
        assert!(date_ms <= r.received_wall_ms + SKEW_MS);
        assert!(date_ms + 1000.0 > r.sent_wall_ms + SKEW_MS);
    }
    server.set_fault(Fault::MatrixError {
        status: 403,
        errcode: "M_UNKNOWN_TOKEN".into(),
        error: "Token expired".into(),
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(
        (r.status, r.json()["errcode"].as_str()),
        (403, Some("M_UNKNOWN_TOKEN"))
    );
    assert_eq!(r.json()["error"], "Token expired");
}

#[test]
fn rate_limited_with_and_without_retry_hints() {
    let server = start(Fault::RateLimited {
        retry_after_ms: Some(1500),
        retry_after_header_s: None,
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["errcode"], "M_LIMIT_EXCEEDED");
    assert_eq!(r.json()["retry_after_ms"], 1500);
    assert_eq!(r.header("retry-after"), None);
    r.date_s();

    server.set_fault(Fault::RateLimited {
        retry_after_ms: None,
        retry_after_header_s: Some(2),
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(r.json().get("retry_after_ms").is_none());

    server.set_fault(Fault::RateLimited {
        retry_after_ms: None,
        retry_after_header_s: None,
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_none() && r.json().get("retry_after_ms").is_none());
}

#[test]
fn redirects_to_another_origin() {
    let server = start(Fault::None);
    for status in [301, 302] {
        server.set_fault(Fault::Redirect {
            status,
            location: "http://evil.example/steal\r\nX-Injected: 1".into(),
        });
        let r = get(server.port(), TIME_PATH);
        assert_eq!(r.status, status);
        assert_eq!(
            r.header("location"),
            Some("http://evil.example/stealX-Injected: 1")
        );
        assert_eq!(r.header("x-injected"), None);
        assert!(r.body.is_empty());
        r.date_s();
    }
}

#[test]
fn wrong_content_type_keeps_a_valid_body() {
    let server = start(Fault::WrongContentType);
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(in_round_trip(r.server_now() as f64, &r));
}

#[test]
fn step_after_moves_the_clock_once() {
    let server = start(Fault::StepAfter {
        requests: 2,
        step_ms: 3_600_000,
    });
    for _ in 0..2 {
        let r = get(server.port(), TIME_PATH);
        assert!(in_round_trip(r.server_now() as f64, &r));
    }
    assert_eq!(server.skew_ms(), SKEW_MS);
    for _ in 0..3 {
        let r = get(server.port(), TIME_PATH);
        assert!(in_round_trip(r.server_now() as f64 - 3_600_000.0, &r));
    }
    assert_eq!(server.skew_ms(), SKEW_MS + 3_600_000.0);
    let before = crate::common::wall_ms();
    let truth = server.true_server_ms();
    let after = crate::common::wall_ms();
    let stepped = SKEW_MS + 3_600_000.0;
    assert!(before + stepped <= truth && truth <= after + stepped);
    // set_config starts the clock afresh.
    server.set_config(HomeserverConfig {
        skew_ms: SKEW_MS,
        ..HomeserverConfig::default()
    });
    assert_eq!(server.skew_ms(), SKEW_MS);
}

#[test]
fn random_time_per_request_is_inconsistent() {
    let server = start(Fault::RandomTimePerRequest);
    let mut offsets = Vec::new();
    for _ in 0..20 {
        let r = get(server.port(), TIME_PATH);
        let t = r.server_now() as f64;
        assert!(t >= r.sent_wall_ms + SKEW_MS - RANDOM_TIME_RANGE_MS - 1.0);
        assert!(t <= r.received_wall_ms + SKEW_MS + RANDOM_TIME_RANGE_MS);
        assert_eq!(r.date_s(), (t as i64).div_euclid(1000));
        offsets.push(t - r.sent_wall_ms - SKEW_MS);
    }
    let max = offsets.iter().cloned().fold(f64::MIN, f64::max);
    let min = offsets.iter().cloned().fold(f64::MAX, f64::min);
    assert!(max - min > 86_400_000.0, "spread only {} ms", max - min);
}

#[test]
fn stale_cache_serves_old_time_with_age() {
    let server = start(Fault::StaleCache {
        probability: 1.0,
        age_s: 300,
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("age"), Some("300"));
    assert!(in_round_trip(r.server_now() as f64 + 300_000.0, &r));
    assert_eq!(r.date_s(), r.server_now().div_euclid(1000));

    server.set_fault(Fault::StaleCache {
        probability: 0.0,
        age_s: 300,
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("age"), None);
    assert!(in_round_trip(r.server_now() as f64, &r));
}

/// The `Date` second a reply to a request in `r`'s round trip may show for
/// a clock `offset_ms` off the server's.
fn date_in_round_trip(r: &Reply, offset_ms: f64) -> bool {
    let lo = ((r.sent_wall_ms + SKEW_MS + offset_ms).floor() as i64).div_euclid(1000);
    let hi = ((r.received_wall_ms + SKEW_MS + offset_ms).floor() as i64).div_euclid(1000);
    (lo..=hi).contains(&r.date_s())
}

#[test]
fn clock_offset_moves_body_and_date_or_only_the_date() {
    let server = start(Fault::ClockOffset {
        offset_ms: 300,
        date_only: false,
    });
    let r = get(server.port(), TIME_PATH);
    assert!(in_round_trip(r.server_now() as f64 - 300.0, &r));
    assert_eq!(r.date_s(), r.server_now().div_euclid(1000));
    server.set_fault(Fault::ClockOffset {
        offset_ms: 1_000,
        date_only: true,
    });
    let r = get(server.port(), TIME_PATH);
    assert!(in_round_trip(r.server_now() as f64, &r));
    assert!(date_in_round_trip(&r, 1_000.0), "{:?}", r.header("date"));
    assert!(!date_in_round_trip(&r, 0.0));
    // The server's clock itself does not move.
    assert_eq!(server.skew_ms(), SKEW_MS);
}

#[test]
fn two_backends_alternate_or_answer_at_random() {
    for (order, first_offset) in [
        (BackendOrder::Alternate, false),
        (BackendOrder::AlternateOffsetFirst, true),
    ] {
        let server = start(Fault::TwoBackends {
            offset_ms: 700,
            date_only: false,
            order,
        });
        for i in 0..6 {
            let r = get(server.port(), TIME_PATH);
            let offset = if (i % 2 == 0) == first_offset {
                700.0
            } else {
                0.0
            };
            assert!(
                in_round_trip(r.server_now() as f64 - offset, &r),
                "{order:?} {i}"
            );
        }
    }
    // At random: both backends answer. The body is always the true
    // clock's, so each Date is the body's second, or that of body + 300 ms
    // (distinguishable when 300 ms cross a second boundary).
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms: SKEW_MS,
        fault: Fault::TwoBackends {
            offset_ms: 300,
            date_only: true,
            order: BackendOrder::Random,
        },
        seed: 11,
        ..HomeserverConfig::default()
    })
    .unwrap();
    let (mut true_only, mut offset_only) = (0, 0);
    // Spaced by 23 ms, the 120 requests span several seconds, so many land
    // in the 300 ms before a second boundary (back to back on loopback,
    // all of them could fall in one stretch where the two Dates agree).
    for _ in 0..120 {
        std::thread::sleep(std::time::Duration::from_millis(23));
        let r = get(server.port(), TIME_PATH);
        let body = r.server_now();
        assert!(in_round_trip(body as f64, &r), "body from the true clock");
        let (a, b) = (body.div_euclid(1000), (body + 300).div_euclid(1000));
        assert!(r.date_s() == a || r.date_s() == b);
        if a != b {
            if r.date_s() == a {
                true_only += 1
            } else {
                offset_only += 1
            }
        }
    }
    assert!(
        true_only > 0 && offset_only > 0,
        "{true_only} {offset_only}"
    );
}

#[test]
fn cached_with_age_zero_is_up_to_a_second_old() {
    let server = start(Fault::Cached {
        stored_ms: 900,
        age_s: 0,
    });
    let r = get(server.port(), TIME_PATH);
    assert_eq!(r.header("age"), Some("0"));
    assert!(in_round_trip(r.server_now() as f64 + 900.0, &r));
    assert_eq!(r.date_s(), r.server_now().div_euclid(1000));
}

#[test]
fn scripted_faults_come_first_in_order() {
    let server = start(Fault::None);
    server.script_faults([Fault::Status(500), Fault::Garbage, Fault::DateMissing]);
    assert_eq!(server.scripted_faults_left(), 3);
    assert_eq!(get(server.port(), TIME_PATH).status, 500);
    assert_eq!(get(server.port(), TIME_PATH).body.len(), 256);
    assert_eq!(get(server.port(), TIME_PATH).header("date"), None);
    assert_eq!(server.scripted_faults_left(), 0);
    for _ in 0..2 {
        let r = get(server.port(), TIME_PATH);
        assert_eq!(r.status, 200);
        assert!(in_round_trip(r.server_now() as f64, &r));
    }
}

#[test]
fn faults_do_not_touch_test_only_routes() {
    let server = start(Fault::Status(503));
    let r = get(server.port(), TRUE_SERVER_MS_PATH);
    assert_eq!(r.status, 200);
    assert_eq!(server.request_count().total, 0);
}

#[test]
fn tls_client_on_the_plain_port_gets_plain_text_at_once() {
    let server = start(Fault::None);
    let mut tcp = connect(server.port());
    // The first bytes of a TLS ClientHello record.
    tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00])
        .unwrap();
    let (got, _) = read_all_raw(&mut tcp);
    assert!(
        got.starts_with(b"HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn every_catalogued_fault_leaves_the_server_usable() {
    // Hit each fault once (reading what arrives within 1.5 s),
    // then check a correct reply still comes.
    let server = start(Fault::None);
    for fault in Fault::catalogue() {
        server.set_fault(fault.clone());
        let mut tcp = send_get(server.port());
        let (got, _) = read_until(&mut tcp, Instant::now() + Duration::from_millis(1500));
        if fault != Fault::NeverAnswer {
            assert!(
                got.starts_with(b"HTTP/1.1 "),
                "{fault}: {:?}",
                &got[..got.len().min(40)]
            );
        } else {
            assert!(got.is_empty(), "{fault} answered");
        }
    }
    server.set_config(HomeserverConfig {
        skew_ms: SKEW_MS,
        ..HomeserverConfig::default()
    });
    let r = get(server.port(), TIME_PATH);
    assert!(in_round_trip(r.server_now() as f64, &r));
}
