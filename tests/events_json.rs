//! Event JSON → rule → Expiry: the good fixtures in `tests/data/events/`,
//! every bad input in `tests/data/events/bad/` (each must give a typed error
//! naming the problem), the batch call, and property tests that no JSON at
//! all makes it panic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mxclock::events::{
    evaluate_event, evaluate_event_json, evaluate_events_json, EventExpiry, ExpiryRule,
};
use mxclock::expiry::{ExpiryState, ServerNow, VerificationValidity};
use mxclock::Error;
use proptest::prelude::*;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000_000;
const NOW: ServerNow = ServerNow {
    server_now_ms: T0 + 10_000,
    uncertainty_ms: 100,
    boot_ms: 200_000,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/events")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn eval_file(name: &str, received_boot_ms: Option<i64>) -> EventExpiry {
    evaluate_event_json(&read(name), &NOW, received_boot_ms)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------------------
// Good events
// ---------------------------------------------------------------------------

#[test]
fn good_fixtures_pick_the_right_rule_and_deadline() {
    use ExpiryRule::*;
    // (file, rule, deadline on the server clock, state at NOW)
    let rows = [
        (
            "call_member_session.json",
            CallMemberSession,
            T0 + 14_400_000,
            ExpiryState::Live,
        ),
        // created_ts = T0 − 1 h, expires = 2 h.
        (
            "call_member_session_created_ts.json",
            CallMemberSession,
            T0 + 3_600_000,
            ExpiryState::Live,
        ),
        // Devices: expires_ts T0 + 10 min, and origin + 1 h: the later wins.
        (
            "call_member_legacy_memberships.json",
            CallMemberLegacy,
            T0 + 3_600_000,
            ExpiryState::Live,
        ),
        (
            "rtc_member_sticky.json",
            RtcMemberSticky,
            T0 + 3_600_000,
            ExpiryState::Live,
        ),
        // sender_ts T0 (origin 150 ms later: trusted), lifetime 30 s.
        (
            "rtc_notification_ring.json",
            RtcNotification,
            T0 + 30_000,
            ExpiryState::Live,
        ),
        (
            "beacon_info.json",
            BeaconInfo,
            T0 + 600_000,
            ExpiryState::Live,
        ),
        (
            "verification_to_device.json",
            VerificationRequestToDevice,
            T0 + 600_001,
            ExpiryState::Live,
        ),
        (
            "verification_in_room.json",
            VerificationRequestInRoom,
            T0 + 600_001,
            ExpiryState::Live,
        ),
        (
            "call_invite.json",
            CallInvite,
            T0 + 60_001,
            ExpiryState::Live,
        ),
    ];
    for (file, rule, deadline, state) in rows {
        let e = eval_file(file, None);
        assert_eq!(e.rule, rule, "{file}");
        assert_eq!(e.expiry.deadline_ms, deadline, "{file}");
        assert_eq!(
            e.expiry.remaining_ms,
            deadline - NOW.server_now_ms,
            "{file}"
        );
        assert_eq!(e.expiry.state, state, "{file}");
        assert!(!e.ended && !e.ignore, "{file}");
        let ty: Value = serde_json::from_str(&read(file)).unwrap();
        assert_eq!(e.event_type, ty["type"].as_str().unwrap(), "{file}");
    }
    assert_eq!(
        eval_file("rtc_notification_ring.json", None).should_ring,
        Some(true)
    );
    assert_eq!(eval_file("call_invite.json", None).should_ring, Some(true));
    assert_eq!(eval_file("beacon_info.json", None).should_ring, None);
    assert_eq!(
        eval_file("verification_in_room.json", None).verification_validity,
        Some(VerificationValidity::Valid)
    );
}

#[test]
fn left_memberships_are_ended_not_errors() {
    for file in ["call_member_left.json", "rtc_member_left.json"] {
        let e = eval_file(file, Some(NOW.boot_ms));
        assert_eq!(e.rule, ExpiryRule::MembershipLeft, "{file}");
        assert!(e.ended, "{file}");
        assert_eq!(e.expiry.state, ExpiryState::Expired, "{file}");
        assert!(e.expiry.is_expired);
        assert_eq!(e.expiry.remaining_ms, 0);
    }
    // Legacy form: an empty `memberships` array.
    let ev =
        json!({"type": "m.call.member", "origin_server_ts": T0, "content": {"memberships": []}});
    let e = evaluate_event(&ev, &NOW, None).unwrap();
    assert_eq!((e.rule, e.ended), (ExpiryRule::MembershipLeft, true));
    // A stopped beacon is ended too, but keeps its own rule.
    let ev = json!({"type": "m.beacon_info", "content": {"live": false, "m.ts": T0, "timeout": 600_000}});
    let e = evaluate_event(&ev, &NOW, None).unwrap();
    assert_eq!(
        (e.rule, e.ended, e.expiry.state),
        (ExpiryRule::BeaconInfo, true, ExpiryState::Expired)
    );
}

#[test]
fn rtc_member_uses_the_unsigned_ttl_when_the_receipt_time_is_known() {
    // Received 2 s ago on the boot clock; the server said 3 599 897 ms left.
    let received = NOW.boot_ms - 2_000;
    let e = eval_file("rtc_member_sticky.json", Some(received));
    assert_eq!(e.rule, ExpiryRule::RtcMemberStickyTtl);
    assert_eq!(e.expiry.fire_at_boot_ms, received + 3_599_897);
    assert_eq!(e.expiry.remaining_ms, 3_599_897 - 2_000);
    // Each spelling of the ttl is read, stable names first.
    for key in [
        "sticky_duration_ttl_ms",
        "sticky_duration_remaining_ms",
        "msc4354_sticky_duration_ttl_ms",
    ] {
        let ev = json!({"type": "m.rtc.member", "origin_server_ts": T0,
            "sticky": {"duration_ms": 600_000}, "unsigned": {key: 1_000},
            "content": {"slot_id": "m.call#", "sticky_key": "k", "member": {}}});
        let e = evaluate_event(&ev, &NOW, Some(NOW.boot_ms)).unwrap();
        assert_eq!(e.rule, ExpiryRule::RtcMemberStickyTtl, "{key}");
        assert_eq!(e.expiry.remaining_ms, 1_000, "{key}");
    }
    // A ttl but no receipt and no duration: an error saying what is missing.
    let ev = json!({"type": "m.rtc.member", "origin_server_ts": T0,
        "unsigned": {"msc4354_sticky_duration_ttl_ms": 1_000}, "content": {"slot_id": "m.call#"}});
    match evaluate_event(&ev, &NOW, None) {
        Err(Error::InvalidEvent { field, reason }) => {
            assert_eq!(field, "sticky.duration_ms");
            assert!(reason.contains("received_boot_ms"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn verification_request_timestamp_source_and_ignore_flag() {
    // To-device uses content.timestamp even if origin_server_ts says otherwise;
    // in-room uses origin_server_ts.
    let to_device = json!({"type": "m.key.verification.request", "origin_server_ts": 0,
        "content": {"from_device": "D", "timestamp": T0, "transaction_id": "t"}});
    let e = evaluate_event(&to_device, &NOW, None).unwrap();
    assert_eq!(e.expiry.deadline_ms, T0 + 600_001);
    let in_room = json!({"type": "m.room.message", "origin_server_ts": T0 - 3_600_000,
        "content": {"msgtype": "m.key.verification.request", "timestamp": T0}});
    let e = evaluate_event(&in_room, &NOW, None).unwrap();
    assert_eq!(e.expiry.deadline_ms, T0 - 3_600_000 + 600_001);
    assert!(e.ignore);
    assert_eq!(e.verification_validity, Some(VerificationValidity::TooOld));
    // A request stamped 3 h ahead (sender's clock wrong) is ignored too.
    let future = json!({"type": "m.key.verification.request",
        "content": {"from_device": "D", "timestamp": T0 + 3 * 3_600_000, "transaction_id": "t"}});
    let e = evaluate_event(&future, &NOW, None).unwrap();
    assert!(e.ignore);
    assert_eq!(
        e.verification_validity,
        Some(VerificationValidity::InFuture)
    );
    // With the receipt time, the 2 min prompt timeout applies.
    let e = evaluate_event(&to_device, &NOW, Some(NOW.boot_ms)).unwrap();
    assert_eq!(e.expiry.fire_at_boot_ms, NOW.boot_ms + 120_000);
    assert_eq!(e.expiry.remaining_ms, 120_000);
}

#[test]
fn notification_ring_decision_follows_type_and_time() {
    let ev = |ty: &str| {
        json!({"type": "m.rtc.notification", "origin_server_ts": T0,
            "content": {"sender_ts": T0, "lifetime": 30_000, "notification_type": ty}})
    };
    let at = |ms: i64| ServerNow {
        server_now_ms: ms,
        ..NOW
    };
    let ring = |ty: &str, ms: i64| evaluate_event(&ev(ty), &at(ms), None).unwrap().should_ring;
    assert_eq!(ring("ring", T0 + 29_999), Some(true));
    assert_eq!(ring("ring", T0 + 30_000), Some(false));
    assert_eq!(ring("notification", T0 + 1), Some(false));
    // An unknown future type never rings.
    assert_eq!(ring("buzz", T0 + 1), Some(false));
}

// ---------------------------------------------------------------------------
// Bad events: every file in bad/ must give the expected typed error.
// ---------------------------------------------------------------------------

enum Want {
    /// `Error::InvalidEvent` naming this field.
    Field(&'static str),
    /// `Error::NoExpiryRule` for this type.
    NoRule(&'static str),
}

fn bad_expectations() -> BTreeMap<&'static str, Want> {
    use Want::*;
    BTreeMap::from([
        ("beacon_live_missing.json", Field("content.live")),
        ("beacon_live_string.json", Field("content.live")),
        ("beacon_timeout_missing.json", Field("content.timeout")),
        ("beacon_ts_float.json", Field("content.m.ts")),
        (
            "beacon_ts_missing.json",
            Field("content.org.matrix.msc3488.ts"),
        ),
        ("bom.json", Field("$")),
        (
            "call_member_created_ts_string.json",
            Field("content.created_ts"),
        ),
        ("call_member_expires_float.json", Field("content.expires")),
        (
            "call_member_expires_negative.json",
            Field("content.expires"),
        ),
        (
            "call_member_expires_ts_string.json",
            Field("content.expires_ts"),
        ),
        (
            "call_member_membership_expires_string.json",
            Field("content.memberships[0].expires"),
        ),
        (
            "call_member_membership_no_expiry.json",
            Field("content.memberships[1].expires_ts"),
        ),
        (
            "call_member_membership_not_object.json",
            Field("content.memberships[0]"),
        ),
        (
            "call_member_memberships_not_array.json",
            Field("content.memberships"),
        ),
        ("call_member_ots_missing.json", Field("origin_server_ts")),
        ("content_missing.json", Field("content")),
        ("content_not_object.json", Field("content")),
        ("content_string.json", Field("content")),
        ("deeply_nested.json", Field("$")),
        ("empty.json", Field("$")),
        ("encrypted.json", NoRule("m.room.encrypted")),
        ("invite_lifetime_bool.json", Field("content.lifetime")),
        ("invite_lifetime_float.json", Field("content.lifetime")),
        ("invite_lifetime_missing.json", Field("content.lifetime")),
        ("invite_lifetime_negative.json", Field("content.lifetime")),
        ("invite_lifetime_null.json", Field("content.lifetime")),
        ("invite_lifetime_object.json", Field("content.lifetime")),
        ("invite_lifetime_string.json", Field("content.lifetime")),
        ("invite_ots_missing.json", Field("origin_server_ts")),
        ("invite_ots_negative.json", Field("origin_server_ts")),
        ("invite_ots_string.json", Field("origin_server_ts")),
        ("lifetime_beyond_u64.json", Field("content.lifetime")),
        ("lifetime_exponent.json", Field("content.lifetime")),
        ("lifetime_minus_zero.json", Field("content.lifetime")),
        ("lifetime_u64_max.json", Field("content.lifetime")),
        ("lone_surrogate.json", Field("$")),
        ("missing_type.json", Field("type")),
        ("not_json_truncated.json", Field("$")),
        (
            "notification_lifetime_negative.json",
            Field("content.lifetime"),
        ),
        (
            "notification_sender_ts_missing.json",
            Field("content.sender_ts"),
        ),
        (
            "notification_type_missing.json",
            Field("content.notification_type"),
        ),
        (
            "notification_type_number.json",
            Field("content.notification_type"),
        ),
        ("number_beyond_f64.json", Field("$")),
        ("ots_above_i64.json", Field("origin_server_ts")),
        ("room_message_text.json", NoRule("m.room.message")),
        (
            "rtc_member_duration_string.json",
            Field("msc4354_sticky.duration_ms"),
        ),
        ("rtc_member_not_sticky.json", Field("sticky.duration_ms")),
        ("rtc_member_ots_missing.json", Field("origin_server_ts")),
        ("rtc_member_sticky_not_object.json", Field("sticky")),
        (
            "rtc_member_ttl_string.json",
            Field("unsigned.msc4354_sticky_duration_ttl_ms"),
        ),
        ("rtc_member_unsigned_not_object.json", Field("unsigned")),
        ("single_quotes.json", Field("$")),
        ("top_level_array.json", Field("$")),
        ("top_level_null.json", Field("$")),
        ("top_level_number.json", Field("$")),
        ("top_level_string.json", Field("$")),
        ("trailing_garbage.json", Field("$")),
        ("type_not_string.json", Field("type")),
        ("type_null.json", Field("type")),
        ("unknown_type.json", NoRule("m.room.topic")),
        (
            "verification_in_room_ots_missing.json",
            Field("origin_server_ts"),
        ),
        (
            "verification_timestamp_float.json",
            Field("content.timestamp"),
        ),
        (
            "verification_timestamp_missing.json",
            Field("content.timestamp"),
        ),
        ("whitespace_only.json", Field("$")),
    ])
}

#[test]
fn every_bad_event_gives_a_typed_error_naming_the_problem() {
    let want = bad_expectations();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(data("bad")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = want
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name}: add an expectation for this bad input"));
        let got = evaluate_event_json(&text, &NOW, Some(NOW.boot_ms));
        match (expected, &got) {
            (Want::Field(f), Err(Error::InvalidEvent { field, reason })) => {
                assert_eq!(field, f, "{name}: {reason}");
                assert!(!reason.is_empty(), "{name}");
                let msg = got.as_ref().unwrap_err().to_string();
                assert!(msg.contains(f), "{name}: message {msg:?} does not name {f}");
            }
            (Want::NoRule(t), Err(Error::NoExpiryRule { event_type })) => {
                assert_eq!(event_type, t, "{name}");
            }
            _ => panic!("{name}: unexpected {got:?}"),
        }
        seen.push(name);
    }
    assert_eq!(seen.len(), want.len(), "files in bad/ vs expectations");
}

#[test]
fn number_errors_say_what_is_wrong_with_the_number() {
    let reason = |file: &str| match evaluate_event_json(&read(&format!("bad/{file}")), &NOW, None) {
        Err(Error::InvalidEvent { reason, .. }) => reason,
        other => panic!("{file}: {other:?}"),
    };
    assert!(reason("invite_lifetime_negative.json").contains("negative"));
    assert!(reason("lifetime_u64_max.json").contains("too large"));
    assert!(reason("ots_above_i64.json").contains("too large"));
    assert!(reason("invite_lifetime_float.json").contains("integer"));
    assert!(reason("lifetime_exponent.json").contains("integer"));
    assert!(reason("invite_lifetime_string.json").contains("string"));
    assert!(reason("invite_lifetime_null.json").contains("missing"));
    assert!(reason("not_json_truncated.json").contains("not valid JSON"));
    assert!(reason("top_level_array.json").contains("object"));
}

// ---------------------------------------------------------------------------
// Batch
// ---------------------------------------------------------------------------

#[test]
fn batch_keeps_order_isolates_errors_and_matches_single_calls() {
    let text = read("timeline.json");
    let outcomes = evaluate_events_json(&text, &NOW, Some(NOW.boot_ms)).unwrap();
    let events: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(outcomes.len(), events.len());
    let mut errors = 0;
    for (event, outcome) in events.iter().zip(&outcomes) {
        assert_eq!(
            outcome.event_id.as_deref(),
            event.get("event_id").and_then(Value::as_str)
        );
        // Exactly one of result / error, and the same as a single call.
        let single = evaluate_event(event, &NOW, Some(NOW.boot_ms));
        match (&outcome.result, &outcome.error, single) {
            (Some(r), None, Ok(s)) => assert_eq!(r, &s),
            (None, Some(msg), Err(e)) => {
                assert_eq!(msg, &e.to_string());
                errors += 1;
            }
            other => panic!("mismatch: {other:?}"),
        }
    }
    // The plain text message (no rule) and the invite with a string lifetime.
    assert_eq!(errors, 2);
    let bad = outcomes
        .iter()
        .find(|o| o.event_id.as_deref() == Some("$bad_invite"))
        .unwrap();
    assert!(bad.error.as_ref().unwrap().contains("content.lifetime"));
}

#[test]
fn batch_fails_only_when_the_input_is_not_an_array() {
    for input in [
        r#"{"type":"m.call.invite"}"#,
        "42",
        "null",
        "",
        "[1,",
        "\"[]\"",
    ] {
        match evaluate_events_json(input, &NOW, None) {
            Err(Error::InvalidEvent { field, .. }) => assert_eq!(field, "$", "{input:?}"),
            other => panic!("{input:?}: {other:?}"),
        }
    }
    assert!(evaluate_events_json("[]", &NOW, None).unwrap().is_empty());
    // Elements that are not events are per-element errors.
    let outcomes = evaluate_events_json(r#"[1, "x", null, [], {}]"#, &NOW, None).unwrap();
    assert_eq!(outcomes.len(), 5);
    for o in &outcomes {
        assert!(
            o.result.is_none() && o.error.is_some() && o.event_id.is_none(),
            "{o:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Skimming (the JSON entry points skip what no rule reads) = full parse
// ---------------------------------------------------------------------------

/// The decision of the JSON entry point versus `evaluate_event` on a fully
/// parsed `Value`; for text that is not JSON both must say so at `$`.
fn assert_skim_matches_full(text: &str, received: Option<i64>) {
    let skimmed = evaluate_event_json(text, &NOW, received);
    match serde_json::from_str::<Value>(text) {
        Ok(v) => assert_eq!(skimmed, evaluate_event(&v, &NOW, received), "{text:.200}"),
        // Skipped values are not depth-limited (nothing is built from them),
        // so a deep value in a key no rule reads is fine when skimming.
        Err(e) if e.to_string().contains("recursion limit") && skimmed.is_ok() => {}
        Err(_) => match skimmed {
            Err(Error::InvalidEvent { field, reason }) => {
                assert_eq!(field, "$");
                assert!(reason.starts_with("not valid JSON"), "{reason}");
            }
            other => panic!("{text:.200}: {other:?}"),
        },
    }
}

#[test]
fn skimming_decides_every_fixture_like_a_full_parse() {
    let mut files = 0;
    for dir in ["", "bad"] {
        for entry in std::fs::read_dir(data(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for received in [None, Some(NOW.boot_ms - 1_000)] {
                assert_skim_matches_full(&text, received);
            }
            files += 1;
        }
    }
    assert!(files > 70, "only {files} files found");
    // Unknown content keys (an SDP offer, a body) still count for "left".
    let not_left = json!({"type": "m.call.member", "origin_server_ts": T0,
        "content": {"device_id": "D", "foci_preferred": [{"type": "livekit"}]}});
    let e = evaluate_event_json(&not_left.to_string(), &NOW, None).unwrap();
    assert_eq!(e.rule, ExpiryRule::CallMemberSession);
}

#[test]
fn deep_nesting_only_matters_where_a_rule_reads() {
    // 200 000 levels in a key no rule reads: skipped, no stack overflow.
    let deep = format!(
        r#"{{"type":"m.call.invite","origin_server_ts":{T0},"x":{open}{close},
            "content":{{"lifetime":60000,"offer":{open}{close}}}}}"#,
        open = "[".repeat(200_000),
        close = "]".repeat(200_000)
    );
    let e = evaluate_event_json(&deep, &NOW, None).unwrap();
    assert_eq!(e.rule, ExpiryRule::CallInvite);
    let batch = evaluate_events_json(&format!("[{deep}]"), &NOW, None).unwrap();
    assert!(batch[0].result.is_some());
    // In a key a rule reads, serde_json's depth limit gives a typed error.
    let read = format!(
        r#"{{"type":"m.call.invite","origin_server_ts":{T0},"content":{{"lifetime":{}{}}}}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    match evaluate_event_json(&read, &NOW, None) {
        Err(Error::InvalidEvent { field, reason }) => {
            assert_eq!(field, "$");
            assert!(reason.contains("recursion limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Never panic
// ---------------------------------------------------------------------------

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z._]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("m.call.member"),
            Just("m.rtc.member"),
            Just("m.key.verification.request"),
            Just("ring"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the rules read, so random events reach deep code paths.
const KEYS: [&str; 22] = [
    "created_ts",
    "expires",
    "expires_ts",
    "memberships",
    "lifetime",
    "sender_ts",
    "notification_type",
    "live",
    "timeout",
    "m.ts",
    "org.matrix.msc3488.ts",
    "timestamp",
    "msgtype",
    "sticky_key",
    "leave_reason",
    "duration_ms",
    "sticky_duration_ttl_ms",
    "msc4354_sticky_duration_ttl_ms",
    "m.beacon_info",
    "device_id",
    "call_id",
    "x",
];
const TYPES: [&str; 12] = [
    "m.call.member",
    "org.matrix.msc3401.call.member",
    "m.rtc.member",
    "org.matrix.msc4143.rtc.member",
    "m.rtc.notification",
    "org.matrix.msc4075.rtc.notification",
    "m.beacon_info",
    "org.matrix.msc3672.beacon_info",
    "m.key.verification.request",
    "m.room.message",
    "m.call.invite",
    "m.room.encrypted",
];

fn event_like() -> impl Strategy<Value = Value> {
    let field = || (prop::sample::select(&KEYS[..]), any_json());
    let obj = move || {
        prop::collection::vec(field(), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    };
    (
        prop::sample::select(&TYPES[..]),
        obj(),
        any_json(),
        obj(),
        prop_oneof![Just("sticky"), Just("msc4354_sticky"), Just("unsigned")],
        any::<bool>(),
    )
        .prop_map(|(ty, content, ots, extra, extra_key, verif)| {
            let mut content = content;
            if verif && ty == "m.room.message" {
                content["msgtype"] = json!("m.key.verification.request");
            }
            json!({"type": ty, "content": content, "origin_server_ts": ots, extra_key: extra})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_json_never_panics(v in any_json(), server in any::<i64>(), unc in any::<i64>(),
                                boot in any::<i64>(), received in proptest::option::of(any::<i64>())) {
        let now = ServerNow { server_now_ms: server, uncertainty_ms: unc, boot_ms: boot };
        let _ = evaluate_event(&v, &now, received);
        let text = v.to_string();
        let _ = evaluate_event_json(&text, &now, received);
        let _ = evaluate_events_json(&text, &now, received);
        // Truncated text is not JSON: a typed error, never a panic.
        if let Some(cut) = text.get(..text.len() / 2) {
            let _ = evaluate_events_json(cut, &now, received);
            let _ = evaluate_event_json(cut, &now, received);
        }
    }

    #[test]
    fn skimming_decides_random_events_like_a_full_parse(ev in event_like(),
                                                        received in proptest::option::of(-5_000_000i64..5_000_000)) {
        // Compare with a full parse of the same text (not with `ev` itself:
        // serde_json may read a float back 1 ulp off what it printed).
        let text = ev.to_string();
        let full: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(
            evaluate_event_json(&text, &NOW, received),
            evaluate_event(&full, &NOW, received)
        );
        // And inside a batch.
        let batch = evaluate_events_json(&format!("[{text}]"), &NOW, received).unwrap();
        let single = evaluate_event(&full, &NOW, received);
        prop_assert_eq!(batch[0].result.clone(), single.clone().ok());
        prop_assert_eq!(batch[0].error.clone(), single.err().map(|e| e.to_string()));
    }

    #[test]
    fn random_events_give_results_or_typed_errors(ev in event_like(), server in any::<i64>(),
                                                   unc in any::<i64>(), boot in any::<i64>(),
                                                   received in proptest::option::of(any::<i64>())) {
        let now = ServerNow { server_now_ms: server, uncertainty_ms: unc, boot_ms: boot };
        match evaluate_event(&ev, &now, received) {
            Ok(r) => {
                prop_assert_eq!(r.expiry.is_expired, r.expiry.remaining_ms <= 0);
                if r.ended {
                    prop_assert_eq!(r.expiry.state, ExpiryState::Expired);
                }
            }
            Err(Error::InvalidEvent { field, reason }) => {
                prop_assert!(!field.is_empty() && !reason.is_empty());
            }
            Err(Error::NoExpiryRule { event_type }) => {
                prop_assert!(event_type == "m.room.message" || event_type == "m.room.encrypted");
            }
            Err(other) => prop_assert!(false, "unexpected error kind {:?}", other),
        }
    }
}
