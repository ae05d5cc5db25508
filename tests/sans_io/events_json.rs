//! Event JSON → rule → Expiry: the good fixtures in `tests/data/events/`,
//! every bad input in `tests/data/events/bad/` (each must give a typed error
//! naming the problem), the batch call (per-event errors, rings ended by
//! their answers), the differences with the reference implementations that
//! only show on whole events (each test cites its source; the versions read
//! are listed in `tests/sans_io/expiry_rules.rs` and `docs/expiry.md`), and property
//! tests that no JSON at all makes it panic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mxclock::{
    evaluate_event, evaluate_event_json, evaluate_events_json, Error, EventErrorKind, EventExpiry,
    EventOutcome, Expiry, ExpiryRule, ExpiryState, ServerNow, VerificationValidity,
};
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
    assert!(e.ignore);
    assert_eq!(e.verification_validity, Some(VerificationValidity::TooOld));
    // Ignored: expired with certainty, so `state` never contradicts `ignore`.
    assert_eq!(e.expiry, Expiry::ended(&NOW));
    let fresh_in_room = json!({"type": "m.room.message", "origin_server_ts": T0,
        "content": {"msgtype": "m.key.verification.request"}});
    let e = evaluate_event(&fresh_in_room, &NOW, None).unwrap();
    assert_eq!(e.expiry.deadline_ms, T0 + 600_001);
    assert!(!e.ignore);
    // A request stamped 3 h ahead (sender's clock wrong) is ignored too.
    let future = json!({"type": "m.key.verification.request",
        "content": {"from_device": "D", "timestamp": T0 + 3 * 3_600_000, "transaction_id": "t"}});
    let e = evaluate_event(&future, &NOW, None).unwrap();
    assert!(e.ignore);
    assert_eq!(
        e.verification_validity,
        Some(VerificationValidity::InFuture)
    );
    // Not `live`: an integrator reading only `state` drops it too.
    assert_eq!(
        (e.expiry.state, e.expiry.is_expired),
        (ExpiryState::Expired, true)
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
        // A read field nested 1 000 deep: named, no recursion.
        ("deeply_nested.json", Field("content.lifetime")),
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
        ("lone_surrogate.json", Field("type")),
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
        // 1e400: a per-event error naming the field, not a failed parse.
        ("number_beyond_f64.json", Field("content.lifetime")),
        ("ots_above_i64.json", Field("origin_server_ts")),
        ("room_message_text.json", NoRule("m.room.message")),
        (
            "rtc_member_duration_string.json",
            Field("msc4354_sticky.duration_ms"),
        ),
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
        // Canonical JSON: integers above 2^53 - 1 are refused.
        ("ots_above_max_safe_integer.json", Field("origin_server_ts")),
        (
            "lifetime_above_max_safe_integer.json",
            Field("content.lifetime"),
        ),
        ("ots_huge_float.json", Field("origin_server_ts")),
        (
            "call_member_msc3401_device_no_expires_ts.json",
            Field("content.m.calls[0].m.devices[0].expires_ts"),
        ),
        (
            "call_member_msc3401_calls_not_array.json",
            Field("content.m.calls"),
        ),
        (
            "rtc_member_membership_number.json",
            Field("content.member.membership"),
        ),
        ("decline_no_relation.json", Field("content.m.relates_to")),
        ("answer_call_id_number.json", Field("content.call_id")),
        (
            "notification_ring_lifetime_missing.json",
            Field("content.lifetime"),
        ),
        (
            "notification_nested_sender_ts_string.json",
            Field("content.application.sender_ts"),
        ),
        ("duplicate_key.json", Field("$")),
        (
            "sticky_other_duration_string.json",
            Field("sticky.duration_ms"),
        ),
        ("invite_age_string.json", Field("unsigned.age")),
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
    assert!(reason("ots_above_max_safe_integer.json").contains("canonical JSON"));
    assert!(reason("number_beyond_f64.json").contains("1e400"));
    assert!(reason("deeply_nested.json").contains("array"));
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
            (None, Some(err), Err(e)) => {
                assert_eq!(err.message, e.to_string());
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
    let err = bad.error.as_ref().unwrap();
    assert_eq!(
        (err.kind, err.path.as_str()),
        (EventErrorKind::InvalidEvent, "content.lifetime")
    );
    assert!(err.message.contains("content.lifetime"));
    let text = outcomes
        .iter()
        .find(|o| o.event_id.as_deref() == Some("$text"))
        .unwrap();
    let err = text.error.as_ref().unwrap();
    assert_eq!(
        (err.kind, err.path.as_str()),
        (EventErrorKind::NoExpiryRule, "type")
    );
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
// Batches fail per event
// ---------------------------------------------------------------------------

fn outcome_of<'o>(outcomes: &'o [EventOutcome], id: &str) -> &'o EventOutcome {
    outcomes
        .iter()
        .find(|o| o.event_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no outcome for {id}"))
}

#[test]
fn one_unreadable_event_gives_one_error_outcome() {
    // 1e400 does not fit an f64, a duplicate key makes an event ambiguous:
    // each is that event's error, and its neighbours are decided as alone.
    let invite = |id: &str, lifetime: &str| {
        format!(
            r#"{{"type":"m.call.invite","event_id":"{id}","origin_server_ts":{T0},"content":{{"call_id":"{id}","lifetime":{lifetime}}}}}"#
        )
    };
    for bad in [
        invite("$bad", "1e400"),
        format!(
            r#"{{"event_id":"$bad","type":"m.call.invite","type":"x","origin_server_ts":{T0},"content":{{}}}}"#
        ),
        r#"{"event_id":"$bad","type":"m.call.invite","origin_server_ts":1e400,"content":{"lifetime":1}}"#
            .to_owned(),
    ] {
        let batch = format!(
            "[{},{bad},{}]",
            invite("$a", "60000"),
            invite("$b", "30000")
        );
        let outcomes = evaluate_events_json(&batch, &NOW, None).unwrap();
        assert_eq!(outcomes.len(), 3, "{bad}");
        for (id, lifetime) in [("$a", 60_000), ("$b", 30_000)] {
            let o = outcome_of(&outcomes, id);
            let alone =
                evaluate_event_json(&invite(id, &lifetime.to_string()), &NOW, None).unwrap();
            assert_eq!(o.result.as_ref(), Some(&alone), "{bad}");
            assert!(o.error.is_none());
        }
        let o = &outcomes[1];
        let err = o.error.as_ref().unwrap_or_else(|| panic!("{bad}: {o:?}"));
        assert!(o.result.is_none());
        assert_eq!(o.event_id.as_deref(), Some("$bad"), "{bad}");
        assert_eq!(err.kind, EventErrorKind::InvalidEvent);
        assert!(err.message.contains(&err.path), "{err:?}");
    }
}

#[test]
fn batch_and_single_calls_agree_on_every_fixture() {
    // Every fixture, good and bad, in one batch: each outcome is what the
    // single call says (the bad ones include text that is not JSON, so they
    // go in as JSON strings where they are not an event at all).
    let mut texts = Vec::new();
    for dir in ["", "bad"] {
        for entry in std::fs::read_dir(data(dir)).unwrap() {
            let path = entry.unwrap().path();
            // (The decline would end the notification's ring: tested below.)
            if path.extension().and_then(|e| e.to_str()) != Some("json")
                || path.ends_with("timeline.json")
                || path.ends_with("rtc_decline.json")
            {
                continue;
            }
            texts.push(std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(texts.len() > 80, "only {} fixtures", texts.len());
    let elements: Vec<String> = texts
        .iter()
        .map(|t| match serde_json::from_str::<serde::de::IgnoredAny>(t) {
            Ok(_) => t.trim().to_owned(),
            Err(_) => Value::String(t.clone()).to_string(),
        })
        .collect();
    let batch = format!("[{}]", elements.join(","));
    for received in [None, Some(NOW.boot_ms - 1_000)] {
        let outcomes = evaluate_events_json(&batch, &NOW, received).unwrap();
        assert_eq!(outcomes.len(), elements.len());
        for (element, o) in elements.iter().zip(&outcomes) {
            let single = evaluate_event_json(element, &NOW, received);
            match (single, &o.result, &o.error) {
                (Ok(s), Some(r), None) => assert_eq!(&s, r),
                (Err(e), None, Some(err)) => assert_eq!(e.to_string(), err.message),
                other => panic!("{element:.200}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_value_and_its_text_give_the_same_decision() {
    for file in [
        "call_member_session.json",
        "rtc_member_sticky.json",
        "call_invite.json",
    ] {
        let text = read(file);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            evaluate_event(&value, &NOW, None),
            evaluate_event_json(&text, &NOW, None),
            "{file}"
        );
    }
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
    // In a key a rule reads: a typed error naming it (the value is not
    // built, so there is no depth to exceed).
    let read = format!(
        r#"{{"type":"m.call.invite","origin_server_ts":{T0},"content":{{"lifetime":{}{}}}}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    match evaluate_event_json(&read, &NOW, None) {
        Err(Error::InvalidEvent { field, reason }) => {
            assert_eq!(field, "content.lifetime");
            assert!(reason.contains("an array"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The differences with the references, event by event
// ---------------------------------------------------------------------------

/// Difference 1: a stray `expires_ts` does not switch a session-format
/// `m.call.member` to another rule. matrix-js-sdk `CallMembership.ts:324-350`
/// reads only `created_ts ?? getTs()` and `expires ?? DEFAULT_EXPIRE_DURATION`;
/// ruma `member_data.rs:145-155` only `created_ts.or(origin_server_ts) +
/// expires`.
#[test]
fn session_membership_ignores_a_stray_expires_ts() {
    let e = eval_file("call_member_session_stray_expires_ts.json", None);
    assert_eq!(e.rule, ExpiryRule::CallMemberSession);
    assert_eq!(e.expiry.deadline_ms, T0 + 14_400_000);
    assert_eq!(e.expiry.state, ExpiryState::Live);
}

/// Difference 2: a legacy `memberships[]` entry with both takes `expires`
/// (from `created_ts` ?? `origin_server_ts`). matrix-js-sdk 7678923e
/// `CallMembership.ts:171-177` (`if ("expires" in this.membershipData)`
/// first); ruma's `LegacyMembershipData` (`member_data.rs:163-188`) has
/// only `expires`.
#[test]
fn legacy_membership_prefers_expires_over_expires_ts() {
    let ev = json!({"type": "m.call.member", "origin_server_ts": T0, "content": {"memberships": [
        {"device_id": "A", "created_ts": T0 - 1_000, "expires": 3_600_000, "expires_ts": T0 + 5}
    ]}});
    let e = evaluate_event(&ev, &NOW, None).unwrap();
    assert_eq!(e.rule, ExpiryRule::CallMemberLegacy);
    assert_eq!(e.expiry.deadline_ms, T0 - 1_000 + 3_600_000);
    // Only expires_ts: that is the deadline (js `CallMembership.ts:176`).
    let ev = json!({"type": "m.call.member", "origin_server_ts": T0, "content": {"memberships": [
        {"device_id": "A", "expires_ts": T0 + 5}
    ]}});
    assert_eq!(
        evaluate_event(&ev, &NOW, None).unwrap().expiry.deadline_ms,
        T0 + 5
    );
}

/// Difference 3: the original MSC3401 format. MSC3401 (`3401-group-voip.md`
/// lines 146-151: "A device must be ignored if the `expires_ts` field
/// indicates it has expired"); matrix-js-sdk `groupCall.ts:1470-1482` keeps a
/// device while `d.expires_ts > now`, and a member without devices is not in
/// the call (`groupCall.ts:1490`).
#[test]
fn original_msc3401_calls_are_read() {
    // Devices until T0 + 5 min and T0 − 1 000 s: the latest counts.
    let e = eval_file("call_member_msc3401_calls.json", None);
    assert_eq!(e.rule, ExpiryRule::CallMemberLegacy);
    assert_eq!(e.expiry.deadline_ms, T0 + 300_000);
    assert_eq!(e.expiry.state, ExpiryState::Live);
    // js's device filter decides the same at the deadline: gone at
    // `expires_ts` itself.
    let at = |ms: i64| ServerNow {
        server_now_ms: ms,
        uncertainty_ms: 0,
        ..NOW
    };
    let text = read("call_member_msc3401_calls.json");
    for (ms, js_keeps) in [(T0 + 299_999, true), (T0 + 300_000, false)] {
        let e = evaluate_event_json(&text, &at(ms), None).unwrap();
        assert_eq!(!e.expiry.is_expired, js_keeps, "at {ms}");
    }
    // An empty `m.calls`, or calls without devices: not in a call.
    for content in [
        json!({"m.calls": []}),
        json!({"m.calls": [{"m.call_id": "c", "m.devices": []}]}),
    ] {
        let ev = json!({"type": "m.call.member", "origin_server_ts": T0, "content": content});
        let e = evaluate_event(&ev, &NOW, None).unwrap();
        assert_eq!(
            (e.rule, e.ended),
            (ExpiryRule::MembershipLeft, true),
            "{ev}"
        );
    }
}

/// Difference 4: MSC4143 `member.membership: "leave"` has left. MSC4143
/// (`4143-matrix-rtc.md` lines 163 and 241-247: joined only if
/// "`member.membership` equals `join`", else "clients MUST treat the member
/// as left"; the leave example at lines 251-268).
#[test]
fn rtc_member_with_membership_leave_has_left() {
    let e = eval_file("rtc_member_leave.json", Some(NOW.boot_ms));
    assert_eq!((e.rule, e.ended), (ExpiryRule::MembershipLeft, true));
    assert_eq!(e.expiry, Expiry::ended(&NOW));
    // `join`, or no `membership` field at all (older drafts; matrix-js-sdk
    // `membershipData/rtc.ts` has none): sticky as usual.
    for member in [json!({"id": "x", "membership": "join"}), json!({"id": "x"})] {
        let ev = json!({"type": "m.rtc.member", "origin_server_ts": T0,
            "sticky": {"duration_ms": 600_000}, "content": {"slot_id": "m.call#", "member": member}});
        let e = evaluate_event(&ev, &NOW, None).unwrap();
        assert_eq!(e.rule, ExpiryRule::RtcMemberSticky, "{ev}");
    }
}

/// Difference 5: an `m.rtc.member` that is not sticky has left, not an
/// error. MSC4143 lines 243-247 ("The event is currently sticky ... If these
/// conditions are not fulfilled, clients MUST treat the member as left").
#[test]
fn rtc_member_without_sticky_has_left() {
    let e = eval_file("rtc_member_not_sticky.json", None);
    assert_eq!((e.rule, e.ended), (ExpiryRule::MembershipLeft, true));
    assert_eq!(e.expiry.state, ExpiryState::Expired);
}

/// Difference 6, on a whole event: a future `origin_server_ts` never
/// extends stickiness, with or without a receipt time (MSC4354 line 74;
/// matrix-js-sdk `event.ts:467` `Math.min(now, this.getTs())`).
#[test]
fn future_origin_ts_does_not_extend_stickiness() {
    let ev = json!({"type": "m.rtc.member", "origin_server_ts": NOW.server_now_ms + 7_200_000,
        "sticky": {"duration_ms": 600_000}, "content": {"slot_id": "m.call#", "member": {"id": "x"}}});
    for received in [None, Some(NOW.boot_ms)] {
        let e = evaluate_event(&ev, &NOW, received).unwrap();
        assert_eq!(
            e.expiry.deadline_ms,
            NOW.server_now_ms + 600_000,
            "{received:?}"
        );
    }
}

/// Difference 7: integers above 2^53 − 1 are refused. Spec appendices
/// "Canonical JSON" (`appendices.md:98-100`: "Numbers in the JSON must be
/// integers in the range [-(2**53)+1, (2**53)-1]"); ruma
/// `ruma-common/src/time.rs:13` (`MilliSecondsSinceUnixEpoch(UInt)`,
/// js_int's `UInt` stops at 2^53 − 1).
#[test]
fn integers_above_the_canonical_json_range_are_refused() {
    // The bound itself is checked in src/events.rs.
    const CANONICAL_JSON_MAX_INT: i64 = (1_i64 << 53) - 1;
    let invite = |ots: i64| {
        format!(
            r#"{{"type":"m.call.invite","origin_server_ts":{ots},"content":{{"lifetime":60000}}}}"#
        )
    };
    assert!(evaluate_event_json(&invite(CANONICAL_JSON_MAX_INT), &NOW, None).is_ok());
    match evaluate_event_json(&invite(CANONICAL_JSON_MAX_INT + 1), &NOW, None) {
        Err(Error::InvalidEvent { field, reason }) => {
            assert_eq!(field, "origin_server_ts");
            assert!(reason.contains("canonical JSON"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // -0 is not canonical either.
    let text = r#"{"type":"m.call.invite","origin_server_ts":-0,"content":{"lifetime":60000}}"#;
    assert!(matches!(
        evaluate_event_json(text, &NOW, None),
        Err(Error::InvalidEvent { field, .. }) if field == "origin_server_ts"
    ));
}

/// Difference 8: a beacon without `timeout` is not live (timeout 0). ruma
/// `beacon_info.rs:36-37` (`#[serde(default)] timeout`, so `ts + 0 > now`
/// is false once `ts` has passed); matrix-js-sdk `beacon.ts:204-207`
/// computes `start + undefined >= now`, false.
#[test]
fn beacon_without_timeout_is_over_at_its_timestamp() {
    let e = eval_file("beacon_info_no_timeout.json", None);
    assert_eq!(e.rule, ExpiryRule::BeaconInfo);
    assert_eq!(e.expiry.deadline_ms, T0);
    assert!(e.expiry.is_expired && !e.ended);
}

/// Difference 10, on a whole event: the invite's `unsigned.age` counts when
/// the receipt time is known (spec `voip_events.md:52-56`), and the earlier
/// deadline wins. The fixture's `origin_server_ts` is 45 s old but its age
/// only 2 s (the sender's clock is slow): by age it has 58 s from receipt,
/// by timestamp 5 s from NOW (T0 + 10 s).
#[test]
fn invite_age_counts_from_receipt() {
    let received = NOW.boot_ms - 1_000;
    let e = eval_file("call_invite_with_age.json", Some(received));
    assert_eq!(e.rule, ExpiryRule::CallInvite);
    // By timestamp: T0 − 45 000 + 60 001 = T0 + 15 001, 5 001 ms from NOW.
    assert_eq!(e.expiry.remaining_ms, 5_001);
    // An invite whose timestamp says fresh but whose age says stale.
    let ev = json!({"type": "m.call.invite", "origin_server_ts": NOW.server_now_ms,
        "unsigned": {"age": 59_500}, "content": {"call_id": "c", "lifetime": 60_000}});
    let e = evaluate_event(&ev, &NOW, Some(received)).unwrap();
    // Age at receipt 59.5 s, 1 s since: over (60.5 s > 60 s).
    assert!(e.expiry.is_expired);
    assert_eq!(e.should_ring, Some(false));
    assert_eq!(e.expiry.fire_at_boot_ms, received + 500 + 1);
    // Without a receipt time only the timestamp counts.
    let e = evaluate_event(&ev, &NOW, None).unwrap();
    assert_eq!(e.should_ring, Some(true));
}

/// Difference 12: `lifetime` is only required for `ring`; a visual
/// notification without one lasts 30 s. MSC4075 (`4075-rtc-notification-event.md`
/// lines 92-96: "required if `notification_type` is `ring`, otherwise
/// ignored ... The recommended value is 30 seconds").
#[test]
fn visual_notification_without_lifetime_lasts_30_s() {
    let e = eval_file("rtc_notification_visual.json", None);
    assert_eq!(e.rule, ExpiryRule::RtcNotification);
    assert_eq!(e.expiry.deadline_ms, T0 + 30_000);
    assert_eq!(e.should_ring, Some(false));
}

/// Difference 13: the newest MSC4075 nests `notification_type`,
/// `sender_ts` and `lifetime` in `content.application` (lines 75-83);
/// ruma `notification.rs:25-45` and matrix-js-sdk `types.ts:119-126` read
/// the top level. Both forms are read; the top level wins.
#[test]
fn notification_fields_nested_in_application_are_read() {
    let nested = eval_file("rtc_notification_nested.json", None);
    let flat = eval_file("rtc_notification_ring.json", None);
    assert_eq!(nested.rule, ExpiryRule::RtcNotification);
    assert_eq!(nested.expiry, flat.expiry);
    assert_eq!(nested.should_ring, Some(true));
    // Both present: the top level wins.
    let ev = json!({"type": "m.rtc.notification", "origin_server_ts": T0, "content": {
        "notification_type": "notification", "sender_ts": T0, "lifetime": 10_000,
        "application": {"type": "m.call", "notification_type": "ring", "sender_ts": T0 - 5_000, "lifetime": 90_000}}});
    let e = evaluate_event(&ev, &NOW, None).unwrap();
    assert_eq!(e.expiry.deadline_ms, T0 + 10_000);
    assert_eq!(e.should_ring, Some(false));
}

/// Difference 14: any event type with a `sticky` object is sticky. MSC4354
/// line 44 ("Message events can be annotated with a new top-level `sticky`
/// object"); ruma `kinds.rs:176-177` reads `msc4354_sticky` on every
/// message-like event.
#[test]
fn any_sticky_event_type_is_evaluated() {
    let e = eval_file("sticky_other_type.json", None);
    assert_eq!(e.rule, ExpiryRule::Sticky);
    assert_eq!(e.expiry.deadline_ms, T0 + 300_000);
    // With the server's ttl and a receipt time: on the boot clock.
    let ev = json!({"type": "m.room.encrypted", "origin_server_ts": T0,
        "sticky": {"duration_ms": 600_000}, "unsigned": {"sticky_duration_ttl_ms": 42_000},
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x"}});
    let e = evaluate_event(&ev, &NOW, Some(NOW.boot_ms)).unwrap();
    assert_eq!(e.rule, ExpiryRule::StickyTtl);
    assert_eq!(e.expiry.fire_at_boot_ms, NOW.boot_ms + 42_000);
    // Without a sticky object it still has no rule.
    let ev = json!({"type": "org.example.thing", "content": {}});
    assert!(matches!(
        evaluate_event(&ev, &NOW, None),
        Err(Error::NoExpiryRule { .. })
    ));
}

// ---------------------------------------------------------------------------
// Rings ended by their answers within a batch
// ---------------------------------------------------------------------------

/// MSC4310 (`4310-matrixRTC-call-decline.md` lines 45-50 and 82: "on
/// receipt of a decline, stop ringing"): a decline relating (`m.relates_to`,
/// `m.reference`) to a notification of the same batch ends its ring.
/// matrix-rust-sdk gathers declines per notification
/// (`matrix-sdk-ui/src/timeline/controller/aggregations.rs:220`); ruma
/// `rtc/decline.rs:16-22` has the event (stable and unstable names).
#[test]
fn a_decline_in_the_batch_ends_the_notifications_ring() {
    let notif = read("rtc_notification_ring.json");
    let decline = read("rtc_decline.json");
    for decline in [
        decline.clone(),
        decline.replace("org.matrix.msc4310.rtc.decline", "m.rtc.decline"),
    ] {
        let outcomes = evaluate_events_json(&format!("[{notif},{decline}]"), &NOW, None).unwrap();
        let ring = outcomes[0].result.as_ref().unwrap();
        assert_eq!(ring.rule, ExpiryRule::RtcNotification);
        assert_eq!((ring.ended, ring.should_ring), (true, Some(false)));
        assert_eq!(ring.expiry, Expiry::ended(&NOW));
        let answer = outcomes[1].result.as_ref().unwrap();
        assert_eq!(answer.rule, ExpiryRule::RingResponse);
        assert_eq!((answer.ended, answer.should_ring), (true, Some(false)));
    }
    // Alone, the notification rings; a decline of another notification
    // changes nothing.
    let other = read("rtc_decline.json").replace("\"$notif\"", "\"$other\"");
    let outcomes = evaluate_events_json(&format!("[{notif},{other}]"), &NOW, None).unwrap();
    assert_eq!(outcomes[0].result.as_ref().unwrap().should_ring, Some(true));
    assert_eq!(
        evaluate_event_json(&notif, &NOW, None).unwrap().should_ring,
        Some(true)
    );
}

/// Spec VoIP (`voip_events.md:63-66`: "subsequent events that indicate the
/// call has been hung up, rejected, or answered elsewhere" mean the client
/// does not signal it): an `m.call.answer`, `m.call.reject` or
/// `m.call.hangup` with the invite's `call_id` in the same batch ends its
/// ring.
#[test]
fn an_answer_reject_or_hangup_in_the_batch_ends_the_invites_ring() {
    let invite = read("call_invite.json");
    let call_id: Value = serde_json::from_str(&invite).unwrap();
    let call_id = call_id["content"]["call_id"].as_str().unwrap().to_owned();
    for ty in ["m.call.answer", "m.call.reject", "m.call.hangup"] {
        let answer = json!({"type": ty, "event_id": "$answer", "origin_server_ts": T0 + 5_000,
            "content": {"call_id": call_id, "party_id": "p", "version": "1"}});
        let outcomes = evaluate_events_json(&format!("[{invite},{answer}]"), &NOW, None).unwrap();
        let ring = outcomes[0].result.as_ref().unwrap();
        assert_eq!((ring.ended, ring.should_ring), (true, Some(false)), "{ty}");
        assert_eq!(
            outcomes[1].result.as_ref().unwrap().rule,
            ExpiryRule::RingResponse
        );
        // Another call's answer does not stop this one.
        let other = answer.to_string().replace(&call_id, "another-call");
        let outcomes = evaluate_events_json(&format!("[{invite},{other}]"), &NOW, None).unwrap();
        assert_eq!(
            outcomes[0].result.as_ref().unwrap().should_ring,
            Some(true),
            "{ty}"
        );
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
    fn unknown_fields_and_key_order_do_not_change_the_decision(ev in event_like(),
                                                               noise in prop::collection::vec(("[a-z]{1,6}", any_json()), 0..4),
                                                               received in proptest::option::of(-5_000_000i64..5_000_000)) {
        let plain = evaluate_event(&ev, &NOW, received);
        // The same event with fields no rule reads, at the front and at the
        // back (the map's keys are sorted) of the top level and the content.
        let mut noisy = ev.clone();
        for (k, v) in &noise {
            for key in [format!("aa_{k}"), format!("zz_{k}")] {
                noisy[key.as_str()] = v.clone();
                if let Some(content) = noisy.get_mut("content").and_then(Value::as_object_mut) {
                    content.insert(key.clone(), v.clone());
                }
            }
        }
        let text = noisy.to_string();
        let noisy = evaluate_event_json(&text, &NOW, received);
        match (&plain, &noisy) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            _ => prop_assert!(false, "{:?} vs {:?}", plain, noisy),
        }
        // And inside a batch.
        let batch = evaluate_events_json(&format!("[{text}]"), &NOW, received).unwrap();
        prop_assert_eq!(batch[0].result.clone(), noisy.clone().ok());
        prop_assert_eq!(batch[0].error.clone().map(|e| e.message), noisy.err().map(|e| e.to_string()));
    }

    #[test]
    fn random_events_give_results_or_typed_errors(ev in event_like(), server in any::<i64>(),
                                                   unc in any::<i64>(), boot in any::<i64>(),
                                                   received in proptest::option::of(any::<i64>())) {
        let now = ServerNow { server_now_ms: server, uncertainty_ms: unc, boot_ms: boot };
        match evaluate_event(&ev, &now, received) {
            Ok(r) => {
                prop_assert_eq!(r.expiry.is_expired, r.expiry.remaining_ms <= 0);
                if r.ended || r.ignore {
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
