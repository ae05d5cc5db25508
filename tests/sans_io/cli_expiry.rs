//! The `mxclock expiry` CLI logic, tested in-process: the example's module is
//! compiled into this test (running `cargo run --example` from a test would
//! be slow), so what is tested here is exactly what the binary runs.

#[allow(dead_code)]
#[path = "../../examples/mxclock/expiry.rs"]
mod expiry_cli;

use expiry_cli::{human_ms, iso_utc, json_line, parse_args, run, run_with_input, Args, Parsed};
use mxclock::{evaluate_events_json, ServerNow};
use serde_json::Value;

const T0: i64 = 1_700_000_000_000;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn data(name: &str) -> String {
    format!("{}/tests/data/events/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the subcommand; returns (exit status, stdout, stderr).
fn cli(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&s(args), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn parses_flags_in_any_order_and_both_spellings() {
    let want = Parsed::Run(Args {
        server_now_ms: 5,
        uncertainty_ms: 7,
        received_server_ms: None,
        file: "f.json".into(),
        json: true,
    });
    let forms: [&[&str]; 3] = [
        &[
            "--server-now-ms",
            "5",
            "--uncertainty-ms",
            "7",
            "f.json",
            "--json",
        ],
        &[
            "--json",
            "f.json",
            "--uncertainty-ms=7",
            "--server-now-ms=5",
        ],
        &[
            "f.json",
            "--server-now-ms",
            "5",
            "--json",
            "--uncertainty-ms",
            "7",
        ],
    ];
    for f in forms {
        assert_eq!(parse_args(&s(f)), Ok(want.clone()), "{f:?}");
    }
    // Uncertainty defaults to 0, table output by default.
    match parse_args(&s(&["--server-now-ms", "-3", "x"])) {
        Ok(Parsed::Run(a)) => {
            assert_eq!((a.server_now_ms, a.uncertainty_ms, a.json), (-3, 0, false))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_args(&s(&["--help"])), Ok(Parsed::Help));
}

#[test]
fn bad_arguments_exit_2_with_a_reason_and_the_usage() {
    let cases: [(&[&str], &str); 10] = [
        (&["f.json"], "--server-now-ms is required"),
        (&["--server-now-ms", "1"], "FILE is required"),
        (&["--server-now-ms"], "needs a value"),
        (
            &["--server-now-ms", "soon", "f"],
            "`soon` is not a whole number",
        ),
        (&["--server-now-ms", "1.5", "f"], "not a whole number"),
        (
            &["--server-now-ms", "1", "--uncertainty-ms", "-1", "f"],
            "must not be negative",
        ),
        (
            &["--server-now-ms", "1", "--verbose", "f"],
            "unknown option `--verbose`",
        ),
        (&["--server-now-ms", "1", "a", "b"], "one FILE only"),
        (
            &["--server-now-ms", "1", "--received-server-ms", "x", "f"],
            "`x` is not a whole number",
        ),
        (
            &["--server-now-ms", "1", "f", "--received-server-ms"],
            "--received-server-ms needs a value",
        ),
    ];
    for (args, reason) in cases {
        let (code, out, err) = cli(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}");
        assert!(err.contains(reason), "{args:?}: {err}");
        assert!(err.contains("usage: mxclock expiry"), "{args:?}");
    }
}

#[test]
fn json_output_is_one_line_per_event_matching_the_library() {
    let file = data("timeline.json");
    let (code, out, err) = cli(&[
        "--server-now-ms",
        &(T0 + 10_000).to_string(),
        &file,
        "--json",
    ]);
    // Two events of the timeline have no rule / a bad field.
    assert_eq!(code, 1);
    assert!(
        err.contains("2 of 13 event(s) could not be evaluated"),
        "{err}"
    );
    // The CLI's default: every event received now (boot 0 on its clock).
    let now = ServerNow::new(T0 + 10_000, 0, 0);
    let lib =
        evaluate_events_json(&std::fs::read_to_string(&file).unwrap(), &now, Some(0)).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), lib.len());
    for (line, o) in lines.iter().zip(&lib) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        match (&o.result, &o.error) {
            (Some(r), None) => {
                assert_eq!(v["state"], r.expiry.state.as_str());
                assert_eq!(v["is_expired"], r.expiry.is_expired);
                assert_eq!(v["deadline_ms"], r.expiry.deadline_ms);
                assert_eq!(v["remaining_ms"], r.expiry.remaining_ms);
                assert_eq!(v["rule"], r.rule.as_str());
                assert!(v.get("error").is_none());
            }
            (None, Some(e)) => {
                assert_eq!(v["error"], e.message.as_str());
                assert_eq!(v.as_object().unwrap().len(), 1, "{line}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn single_event_table_and_states_at_the_boundaries() {
    let file = data("call_invite.json");
    // Deadline T0 + 60 001 (age must exceed the 60 s lifetime).
    let at = |ms: i64, unc: i64| {
        cli(&[
            "--server-now-ms",
            &ms.to_string(),
            "--uncertainty-ms",
            &unc.to_string(),
            &file,
            "--json",
        ])
    };
    let state = |ms, unc| {
        let (code, out, _) = at(ms, unc);
        assert_eq!(code, 0);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        (
            v["state"].as_str().unwrap().to_owned(),
            v["is_expired"].as_bool().unwrap(),
        )
    };
    assert_eq!(state(T0 + 60_000, 0), ("live".to_owned(), false));
    // At the deadline itself: over (with no uncertainty, not "uncertain").
    assert_eq!(state(T0 + 60_001, 0), ("expired".to_owned(), true));
    assert_eq!(state(T0 + 60_002, 0), ("expired".to_owned(), true));
    assert_eq!(state(T0 + 59_900, 500), ("uncertain".to_owned(), false));

    let (code, out, err) = cli(&["--server-now-ms", &(T0 + 10_000).to_string(), &file]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.contains("server time 2023-11-14T22:13:30.000Z"),
        "{out}"
    );
    let row = out.lines().find(|l| l.contains("$invite")).unwrap();
    for part in [
        "m.call.invite",
        "call_invite",
        "live",
        "2023-11-14T22:14:20.001Z",
        "+50.001s",
        "ring",
    ] {
        assert!(row.contains(part), "{part} not in {row:?}");
    }
}

/// `--received-server-ms` (default: the given server now) is every event's
/// receipt time: it reaches the rules that count from receipt, which the
/// CLI could not exercise before.
#[test]
fn received_server_ms_reaches_the_receipt_rules() {
    let json_at = |file: &str, extra: &[&str]| -> Value {
        let now = (T0 + 10_000).to_string();
        let path = data(file);
        let mut args = vec!["--server-now-ms", now.as_str(), path.as_str(), "--json"];
        args.extend_from_slice(extra);
        let (code, out, err) = cli(&args);
        assert_eq!(code, 0, "{file} {extra:?}: {err}");
        serde_json::from_str(out.trim()).unwrap()
    };
    assert_eq!(
        parse_args(&s(&["--server-now-ms", "5", "--received-server-ms=3", "f"])),
        Ok(Parsed::Run(Args {
            server_now_ms: 5,
            uncertainty_ms: 0,
            received_server_ms: Some(3),
            file: "f".into(),
            json: false,
        }))
    );
    // Verification prompt (spec E2EE module: 2 minutes after receipt):
    // received now → 120 s left; received 90 s ago → 30 s left.
    let v = json_at("verification_to_device.json", &[]);
    assert_eq!(v["remaining_ms"], 120_000);
    let ago = (T0 + 10_000 - 90_000).to_string();
    let v = json_at(
        "verification_to_device.json",
        &["--received-server-ms", &ago],
    );
    assert_eq!(v["remaining_ms"], 30_000);
    // MSC4354 unsigned ttl (3 599 897 ms in the fixture), counted from the
    // receipt: received now, it is the ttl; received an hour ago, over.
    let v = json_at("rtc_member_sticky.json", &[]);
    assert_eq!(
        (v["rule"].as_str(), v["remaining_ms"].as_i64()),
        (Some("rtc_member_sticky_ttl"), Some(3_599_897))
    );
    let hour_ago = (T0 + 10_000 - 3_600_000).to_string();
    let v = json_at(
        "rtc_member_sticky.json",
        &["--received-server-ms", &hour_ago],
    );
    assert_eq!(v["state"], "expired");
    // The invite's age (spec VoIP "Call Event Liveness"): by its timestamp
    // 5 001 ms are left. It was 2 s old when received; received now, that
    // leaves 58 s by age and the timestamp decides; received 55 s ago it is
    // 57 s old, 3 001 ms left by age, and the age decides.
    let v = json_at("call_invite_with_age.json", &[]);
    assert_eq!(v["remaining_ms"], 5_001);
    let ago = (T0 + 10_000 - 55_000).to_string();
    let v = json_at("call_invite_with_age.json", &["--received-server-ms", &ago]);
    assert_eq!(v["remaining_ms"], 3_001);
}

#[test]
fn unreadable_or_non_event_input_exits_1_with_the_reason_on_stderr() {
    let now = (T0).to_string();
    let (code, out, err) = cli(&["--server-now-ms", &now, &data("no_such_file.json")]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("cannot read") && err.contains("no_such_file.json"),
        "{err}"
    );

    for (file, reason) in [
        ("bad/not_json_truncated.json", "not valid JSON"),
        ("bad/top_level_number.json", "expected a JSON object"),
        ("bad/empty.json", "not valid JSON"),
    ] {
        let (code, out, err) = cli(&["--server-now-ms", &now, &data(file), "--json"]);
        assert_eq!(code, 1, "{file}");
        assert!(out.is_empty(), "{file}: {out}");
        assert!(err.contains(reason), "{file}: {err}");
    }
    // An object that is a bad event: one {"error"} line, exit 1.
    let (code, out, _) = cli(&[
        "--server-now-ms",
        &now,
        &data("bad/lifetime_u64_max.json"),
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("content.lifetime"));
}

#[test]
fn every_bad_corpus_file_is_handled_without_panic() {
    let dir = std::fs::read_dir(data("bad")).unwrap();
    let args = Args {
        server_now_ms: T0,
        uncertainty_ms: 0,
        received_server_ms: None,
        file: "input".into(),
        json: true,
    };
    for entry in dir {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with_input(&args, &text, &mut out, &mut err);
        if path.ends_with("top_level_array.json") {
            // Not one event, but a valid one-event batch for the CLI.
            assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
            continue;
        }
        assert_eq!(code, 1, "{}", path.display());
        assert!(!err.is_empty(), "{}", path.display());
    }
}

#[test]
fn formatting_helpers() {
    assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso_utc(T0), "2023-11-14T22:13:20.000Z");
    assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(iso_utc(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(iso_utc(i64::MAX), format!("{} ms", i64::MAX));
    assert_eq!(iso_utc(i64::MIN), format!("{} ms", i64::MIN));
    assert_eq!(human_ms(0), "0s");
    assert_eq!(human_ms(50_001), "+50.001s");
    assert_eq!(human_ms(-61_000), "-1m01.000s");
    assert_eq!(human_ms(3_723_004), "+1h02m03.004s");
    assert!(human_ms(i64::MIN).starts_with('-'));
    // JSON lines escape what needs escaping.
    let row = expiry_cli::Row {
        event_id: None,
        event_type: None,
        outcome: Err("quote \" and newline \n".into()),
    };
    let v: Value = serde_json::from_str(&json_line(&row)).unwrap();
    assert_eq!(v["error"], "quote \" and newline \n");
}
