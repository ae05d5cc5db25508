//! The `mxclock-test-homeserver` binary, as C and Kotlin tests use it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_mxclock-test-homeserver");

fn spawn(args: &[&str]) -> (Child, serde_json::Value) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("first line not JSON ({e}): {line:?}"));
    (child, info)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("process did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_prints_one_line_and_exits_on_stdin_eof() {
    let skew_ms = 37_250.5;
    let (mut child, info) = spawn(&["--skew-ms", "37250.5", "--uplink-ms", "5", "--seed", "7"]);
    let port = info["port"].as_u64().unwrap() as u16;
    assert_eq!(info["base_url"], format!("http://127.0.0.1:{port}"));
    assert_eq!(info["skew_ms"], skew_ms);
    assert_eq!(info.as_object().unwrap().len(), 3);

    let r = get(port, TIME_PATH);
    let t = r.server_now() as f64;
    assert!((r.sent_wall_ms + skew_ms + 5.0 - 1.0) <= t && t <= r.received_wall_ms + skew_ms);
    assert_eq!(r.date_s(), (t as i64).div_euclid(1000));

    let truth = get(port, mxclock_test_homeserver::TRUE_SERVER_MS_PATH);
    let true_ms = truth.json()["true_server_ms"].as_f64().unwrap();
    assert!(truth.sent_wall_ms + skew_ms <= true_ms && true_ms <= truth.received_wall_ms + skew_ms);

    let counts = get(port, mxclock_test_homeserver::REQUEST_COUNT_PATH).json();
    assert_eq!(
        (counts["time_endpoint"].as_u64(), counts["total"].as_u64()),
        (Some(1), Some(1))
    );

    drop(child.stdin.take());
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}

#[test]
fn faults_script_and_msc4094_flags() {
    let (mut child, info) = spawn(&[
        "--no-msc4094",
        "--script",
        "status:503,date-missing",
        "--fault",
        "rate-limited:retry-after-ms=1500",
        "--downlink-ms",
        "1",
        "--jitter-ms",
        "2",
    ]);
    let port = info["port"].as_u64().unwrap() as u16;
    assert_eq!(get(port, TIME_PATH).status, 503);
    assert_eq!(get(port, TIME_PATH).header("date"), None);
    let limited = get(port, TIME_PATH);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["retry_after_ms"], 1500);
    child.stdin.take().unwrap().write_all(b"ignored\n").unwrap();
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());

    let (mut child, info) = spawn(&["--no-msc4094"]);
    let r = get(info["port"].as_u64().unwrap() as u16, TIME_PATH);
    assert_eq!(
        (r.status, r.json()["errcode"].as_str()),
        (404, Some("M_UNRECOGNIZED"))
    );
    r.date_s();
    drop(child.stdin.take());
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    for args in [
        &["--fault", "nope"][..],
        &["--skew-ms", "abc"],
        &["--skew-ms"],
        &["--bogus"],
        &["--seed", "-1"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mxclock-test-homeserver: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--skew-ms"));
}
