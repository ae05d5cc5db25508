//! Table-driven tests, one table per expiry rule, with the boundary cases
//! (exactly at the deadline, 1 ms either side, uncertainty straddling the
//! deadline), device-clock skew of hours both ways, the sources' own
//! examples, and side-by-side comparisons with small models of the
//! reference implementations' decisions. The models are written from
//! reading these files (not copied); `docs/expiry.md` has the full table.
//! Sources, at the versions read (file:line is cited beside each test):
//! - matrix-js-sdk 8fec0cb6 (`src/matrixrtc/CallMembership.ts`,
//!   `src/models/event.ts`, `src/models/beacon.ts`, `src/webrtc/call.ts`,
//!   `src/webrtc/callEventHandler.ts`, `src/webrtc/groupCall.ts`), and
//!   7678923e for the legacy `memberships` support it has since removed;
//! - ruma 0908aaa9 (`crates/ruma-events/src/call/member/member_data.rs`,
//!   `rtc/notification.rs`, `beacon_info.rs`, `sticky.rs`);
//! - matrix-rust-sdk 64b12e0b (`crates/matrix-sdk-crypto/src/verification/
//!   machine.rs`, `requests.rs`);
//! - matrix-spec d0ba2aae (`data/event-schemas/schema/*.yaml`,
//!   `content/client-server-api/modules/*.md`);
//! - MSC4354 (74fc75e1), MSC4075 (39cc5474), MSC4143 (0eb36563) in
//!   matrix-spec-proposals.

use mxclock::rules::*;
use mxclock::{expiry_at, Expiry, ExpiryState, NotificationType, ServerNow, VerificationValidity};

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
/// Boot-clock readings the same server time may come with: the decision on
/// the server clock must not depend on them.
const BOOTS: [i64; 4] = [0, 123_456_789, -5_000, i64::MAX / 4];

fn now(server_now_ms: i64, uncertainty_ms: i64) -> ServerNow {
    ServerNow {
        server_now_ms,
        uncertainty_ms,
        boot_ms: 1_000_000,
    }
}

use ExpiryState::{Expired, Live, Uncertain};

/// One row: server time, uncertainty, expected state, expected is_expired.
type Row = (&'static str, i64, i64, ExpiryState, bool);

/// Runs a table against a server-clock rule and checks that the boot-clock
/// reading only moves `fire_at_boot_ms`.
fn check_server_rule(rule: &str, rows: &[Row], f: impl Fn(&ServerNow) -> Expiry) {
    for &(label, server_ms, unc, state, expired) in rows {
        let base = f(&now(server_ms, unc));
        assert_eq!(base.state, state, "{rule}: {label}: {base:?}");
        assert_eq!(base.is_expired, expired, "{rule}: {label}: {base:?}");
        assert_eq!(
            base.remaining_ms,
            base.deadline_ms - server_ms,
            "{rule}: {label}"
        );
        for boot in BOOTS {
            let n = ServerNow {
                server_now_ms: server_ms,
                uncertainty_ms: unc,
                boot_ms: boot,
            };
            let e = f(&n);
            assert_eq!(
                (e.deadline_ms, e.remaining_ms, e.state, e.is_expired),
                (
                    base.deadline_ms,
                    base.remaining_ms,
                    base.state,
                    base.is_expired
                ),
                "{rule}: {label}: boot {boot}"
            );
            assert_eq!(e.fire_at_boot_ms, boot + e.remaining_ms, "{rule}: {label}");
        }
    }
}

/// The standard boundary rows around a deadline `d` (first expired ms).
/// At the deadline itself the thing is over, as every reference has it
/// (js `CallMembership.ts:380` `getMsUntilExpiry() <= 0`; MSC4354 line 77
/// "If the end time is in the future, the event remains sticky"; ruma
/// `beacon_info.rs:80` live while `ts + timeout > now`): with no
/// uncertainty that is `expired`, not `uncertain`.
fn boundary_rows(d: i64) -> Vec<Row> {
    vec![
        ("long before", d - HOUR, 0, Live, false),
        ("1 ms before", d - 1, 0, Live, false),
        ("exactly at", d, 0, Expired, true),
        ("1 ms after", d + 1, 0, Expired, true),
        ("long after", d + HOUR, 0, Expired, true),
        (
            "uncertainty straddles, before",
            d - 200,
            500,
            Uncertain,
            false,
        ),
        (
            "uncertainty straddles, after",
            d + 200,
            500,
            Uncertain,
            true,
        ),
        (
            "latest possible time reaches exactly",
            d - 500,
            500,
            Uncertain,
            false,
        ),
        (
            "just outside uncertainty, before",
            d - 501,
            500,
            Live,
            false,
        ),
        (
            "earliest possible time is exactly at",
            d + 500,
            500,
            Expired,
            true,
        ),
        (
            "earliest possible time is 1 ms before",
            d + 499,
            500,
            Uncertain,
            true,
        ),
        (
            "skew: 3 h before, 1 min uncertainty",
            d - 3 * HOUR,
            60_000,
            Live,
            false,
        ),
        (
            "skew: 3 h after, 1 min uncertainty",
            d + 3 * HOUR,
            60_000,
            Expired,
            true,
        ),
    ]
}

/// Difference 9: the state at a closed boundary. `Expired` is "at or past
/// the deadline even at the earliest possible server time": remaining 0
/// with uncertainty 0, and remaining −U, are expired; only strictly inside
/// (−U, U] is uncertain.
#[test]
fn state_at_the_deadline_follows_the_definition() {
    for unc in [0, 1, 250, 60_000] {
        let at = |remaining: i64| expiry_at(T0 + remaining, &now(T0, unc)).state;
        assert_eq!(at(-unc), Expired, "remaining = -U, U = {unc}");
        assert_eq!(at(-unc - 1), Expired, "U = {unc}");
        assert_eq!(at(unc + 1), Live, "U = {unc}");
        if unc == 0 {
            assert_eq!(at(0), Expired, "remaining 0, U 0");
        } else {
            assert_eq!(at(0), Uncertain, "U = {unc}");
            assert_eq!(at(-unc + 1), Uncertain, "U = {unc}");
            assert_eq!(at(unc), Uncertain, "U = {unc}");
        }
    }
    // Every rule on the server clock agrees with js's `isExpired` at its
    // deadline (CallMembership.ts:380): state and best guess both say over.
    let e = call_membership_session_expiry(None, T0, None, &now(T0 + 14_400_000, 0));
    assert_eq!((e.state, e.is_expired), (Expired, true));
}

// ---------------------------------------------------------------------------
// m.call.member, session format
// ---------------------------------------------------------------------------

/// Model of matrix-js-sdk `CallMembership.isExpired` for a session membership.
fn js_call_membership_is_expired(
    created_ts: Option<i64>,
    ots: i64,
    expires: i64,
    js_now: i64,
) -> bool {
    created_ts.unwrap_or(ots) + expires - js_now <= 0
}

/// Model of ruma `MembershipData::is_expired`.
fn ruma_call_membership_is_expired(
    created_ts: Option<i64>,
    ots: i64,
    expires: i64,
    now: i64,
) -> bool {
    now > created_ts.unwrap_or(ots) + expires
}

#[test]
fn call_membership_session_table() {
    // Default expires: 4 h after origin_server_ts.
    let d = T0 + 14_400_000;
    check_server_rule("session default", &boundary_rows(d), |n| {
        call_membership_session_expiry(None, T0, None, n)
    });
    // created_ts wins over origin_server_ts (an update of an older join).
    let d = T0 - HOUR + 14_400_000;
    check_server_rule("session created_ts", &boundary_rows(d), |n| {
        call_membership_session_expiry(Some(T0 - HOUR), T0, None, n)
    });
    // Explicit expires.
    let d = T0 + 60_000;
    check_server_rule("session expires", &boundary_rows(d), |n| {
        call_membership_session_expiry(None, T0, Some(60_000), n)
    });
}

#[test]
fn call_membership_matches_js_sdk_examples() {
    let js_now = T0;
    // "considers memberships unexpired if local age low enough"
    let e = call_membership_session_expiry(None, js_now - (14_400_000 - 1), None, &now(js_now, 0));
    assert!(!e.is_expired);
    // "considers memberships expired if local age large enough"
    let e = call_membership_session_expiry(None, js_now - (14_400_000 + 1), None, &now(js_now, 0));
    assert!(e.is_expired);
    // "uses event timestamp if no created_ts" / "uses created_ts if present"
    let e = call_membership_session_expiry(None, 12_345, None, &now(0, 0));
    assert_eq!(e.deadline_ms, 12_345 + 14_400_000);
    let e = call_membership_session_expiry(Some(67_890), 12_345, None, &now(0, 0));
    assert_eq!(e.deadline_ms, 67_890 + 14_400_000);
    // "returns correct unused fields": origin 0 → absolute expiry = DEFAULT.
    let e = call_membership_session_expiry(None, 0, None, &now(js_now, 0));
    assert_eq!(e.deadline_ms, 14_400_000);
    assert_eq!(e.remaining_ms, 14_400_000 - js_now);
    assert!(e.is_expired);
    // "calculates time until expiry": origin 1000, system time 2000.
    let e = call_membership_session_expiry(None, 1000, None, &now(2000, 0));
    assert_eq!(e.remaining_ms, 14_400_000 - 1000);
}

#[test]
fn call_membership_same_decisions_as_js_sdk_and_one_ms_from_ruma() {
    for created in [None, Some(T0 - 5_000)] {
        for expires in [0, 1, 60_000, 14_400_000] {
            let d = created.unwrap_or(T0) + expires;
            for off in -3..=3 {
                let t = d + off;
                let ours = call_membership_session_expiry(created, T0, Some(expires), &now(t, 0));
                assert_eq!(
                    ours.is_expired,
                    js_call_membership_is_expired(created, T0, expires, t),
                    "created {created:?} expires {expires} off {off}"
                );
                // ruma is strict (`now > expires_ts`): it differs at exactly
                // the deadline only.
                assert_eq!(
                    ours.is_expired == ruma_call_membership_is_expired(created, T0, expires, t),
                    off != 0,
                    "created {created:?} expires {expires} off {off}"
                );
            }
        }
    }
}

#[test]
fn device_clock_skew_of_hours_misleads_device_clock_code_but_not_us() {
    // A membership that truly has 1 h left (server time T0).
    let ots = T0 - 3 * HOUR;
    for skew in [-3 * HOUR, -HOUR, HOUR, 3 * HOUR, 5 * HOUR] {
        let device_wall = T0 + skew;
        let js = js_call_membership_is_expired(None, ots, 14_400_000, device_wall);
        let ours = call_membership_session_expiry(None, ots, None, &now(T0, 2_000));
        assert_eq!(ours.state, Live, "skew {skew}");
        assert_eq!(ours.remaining_ms, HOUR);
        // Device-clock code calls it expired as soon as the device clock
        // runs the remaining hour (or more) ahead.
        assert_eq!(js, skew >= HOUR, "skew {skew}");
    }
    // And one that truly expired 1 h ago.
    let ots = T0 - 5 * HOUR;
    for skew in [-3 * HOUR, -HOUR, HOUR, 3 * HOUR] {
        let js = js_call_membership_is_expired(None, ots, 14_400_000, T0 + skew);
        let ours = call_membership_session_expiry(None, ots, None, &now(T0, 2_000));
        assert_eq!(ours.state, Expired);
        // ... and still live when the device clock is more than 1 h behind.
        assert_eq!(js, skew >= -HOUR, "skew {skew}");
    }
}

// ---------------------------------------------------------------------------
// Legacy MSC3401 expires_ts
// ---------------------------------------------------------------------------

#[test]
fn call_membership_legacy_table() {
    check_server_rule("legacy expires_ts", &boundary_rows(T0), |n| {
        call_membership_legacy_expiry(T0, n)
    });
    // js `getAbsoluteExpiry()` returns expires_ts as is; isExpired = <= 0.
    for off in -2..=2 {
        let e = call_membership_legacy_expiry(T0, &now(T0 + off, 0));
        assert_eq!(e.is_expired, T0 - (T0 + off) <= 0);
    }
}

// ---------------------------------------------------------------------------
// Sticky events (m.rtc.member and any other type)
// ---------------------------------------------------------------------------

/// Model of matrix-js-sdk `src/models/event.ts:462-468` (sticky expiry at
/// construction, `now` = when the client built the event) with
/// `unstableStickyInfo` (`event.ts:1768-1776`: a falsy duration is not
/// sticky, the duration is capped at `MAX_STICKY_DURATION_MS`).
fn js_sticky_expires_at(ots: i64, duration_ms: i64, js_now: i64) -> Option<i64> {
    if duration_ms == 0 {
        return None;
    }
    Some(ots.min(js_now) + duration_ms.min(3_600_000))
}

#[test]
fn sticky_table() {
    // MSC4354 example (line 56): duration 600 000 ms from origin_server_ts.
    let d = T0 + 600_000;
    check_server_rule("sticky 10 min", &boundary_rows(d), |n| {
        sticky_expiry(T0, 600_000, None, n)
    });
    // Durations above 1 h are capped to 1 h (MSC4354 line 76:
    // `min(sticky_duration_ms, 3600000)`; js event.ts:1773).
    let d = T0 + HOUR;
    check_server_rule("sticky capped", &boundary_rows(d), |n| {
        sticky_expiry(T0, 2 * HOUR, None, n)
    });
    // Duration 0 (valid per MSC4354 line 46): expired at once.
    let e = sticky_expiry(T0, 0, None, &now(T0, 0));
    assert!(e.is_expired);
}

#[test]
fn sticky_future_origin_ts_is_clamped_to_receipt() {
    // MSC4354 line 74: "The start time is `min(received_ts,
    // origin_server_ts)`". origin_server_ts 2 h in the future (bad server
    // clock); received at boot 1_000_000, i.e. server T0 in `now(T0, _)`.
    let received_boot = 1_000_000;
    let n = now(T0, 100);
    let e = sticky_expiry(T0 + 2 * HOUR, 600_000, Some(received_boot), &n);
    assert_eq!(e.deadline_ms, T0 + 600_000);
    // A past origin timestamp is not moved by the receipt.
    let e = sticky_expiry(T0 - 1_000, 600_000, Some(received_boot), &n);
    assert_eq!(e.deadline_ms, T0 - 1_000 + 600_000);
}

/// Difference 6: without a receipt time a future `origin_server_ts` is
/// clamped to the reading itself, as matrix-js-sdk does with its own `now`
/// (`src/models/event.ts:467` `Math.min(now, this.getTs()) + duration_ms`).
#[test]
fn sticky_future_origin_ts_is_clamped_to_now_without_a_receipt() {
    let n = now(T0, 100);
    let e = sticky_expiry(T0 + 2 * HOUR, 600_000, None, &n);
    assert_eq!(e.deadline_ms, T0 + 600_000);
    assert_eq!(
        Some(e.deadline_ms),
        js_sticky_expires_at(T0 + 2 * HOUR, 600_000, T0)
    );
    // Same decisions as js for past, present and future timestamps.
    for ots in [T0 - HOUR, T0 - 1, T0, T0 + 1, T0 + HOUR] {
        for duration in [1, 600_000, 3_600_000, 7_200_000] {
            let ours = sticky_expiry(ots, duration, None, &now(T0, 0));
            assert_eq!(
                Some(ours.deadline_ms),
                js_sticky_expires_at(ots, duration, T0),
                "ots {ots} duration {duration}"
            );
        }
    }
}

#[test]
fn sticky_ttl_on_the_boot_clock() {
    // MSC4354 example (line 134): `sticky_duration_ttl_ms: 258113`.
    // Received at boot B; the deadline is B + ttl on the boot clock (js
    // `event.ts:464` `now + duration_ttl_ms`), exact whatever the server
    // uncertainty.
    let b = 40_000;
    let ttl = 258_113;
    let rows: [(i64, ExpiryState, bool); 5] = [
        (b, Live, false),
        (b + ttl - 1, Live, false),
        (b + ttl, Expired, true),
        (b + ttl + 1, Expired, true),
        (b + ttl - 200, Live, false),
    ];
    for (boot_now, state, expired) in rows {
        for unc in [0, 500, 60_000] {
            let n = ServerNow {
                server_now_ms: T0,
                uncertainty_ms: unc,
                boot_ms: boot_now,
            };
            let e = sticky_ttl_expiry(ttl, b, &n);
            assert_eq!(
                (e.state, e.is_expired),
                (state, expired),
                "boot {boot_now} unc {unc}"
            );
            assert_eq!(e.fire_at_boot_ms, b + ttl);
            assert_eq!(e.deadline_ms, T0 + (b + ttl - boot_now));
        }
    }
}

// ---------------------------------------------------------------------------
// Verification requests
// ---------------------------------------------------------------------------

/// Model of matrix-rust-sdk `VerificationMachine::is_timestamp_valid`
/// (seconds, unsigned, saturating), with `now` passed in instead of read.
fn rust_sdk_is_timestamp_valid(ts_ms: u64, now_ms: u64) -> bool {
    let ts = ts_ms / 1000;
    let now = now_ms / 1000;
    !(now.saturating_sub(ts) > 600 || ts.saturating_sub(now) > 300)
}

#[test]
fn verification_validity_table() {
    use VerificationValidity::*;
    let rows = [
        ("now", T0, Valid),
        ("exactly 10 min old", T0 - 600_000, Valid),
        ("10 min + 1 ms old", T0 - 600_001, TooOld),
        ("exactly 5 min ahead", T0 + 300_000, Valid),
        ("5 min + 1 ms ahead", T0 + 300_001, InFuture),
        ("3 h old (device clock ahead)", T0 - 3 * HOUR, TooOld),
        ("3 h ahead (device clock behind)", T0 + 3 * HOUR, InFuture),
    ];
    for (label, ts, want) in rows {
        for unc in [0, 500] {
            assert_eq!(
                verification_request_validity(ts, &now(T0, unc)),
                want,
                "{label}"
            );
        }
    }
}

#[test]
fn verification_validity_matches_rust_sdk_on_whole_seconds() {
    // T0 is a whole second, so the rust-sdk's truncation is exact here.
    assert_eq!(T0 % 1000, 0);
    for off_s in -700..=400_i64 {
        let ts = T0 + off_s * 1000;
        let ours = verification_request_validity(ts, &now(T0, 0)) == VerificationValidity::Valid;
        assert_eq!(
            ours,
            rust_sdk_is_timestamp_valid(ts as u64, T0 as u64),
            "offset {off_s} s"
        );
    }
    // Its boundary cases: 600 s old valid, 601 s invalid; 300 s ahead valid,
    // 301 s invalid.
    for (off_s, valid) in [(-600, true), (-601, false), (300, true), (301, false)] {
        let ts = T0 + off_s * 1000;
        assert!(rust_sdk_is_timestamp_valid(ts as u64, T0 as u64) == valid);
        let ours = verification_request_validity(ts, &now(T0, 0)) == VerificationValidity::Valid;
        assert_eq!(ours, valid, "offset {off_s} s");
    }
    // The documented sub-second difference: the rust-sdk truncates to
    // seconds, so 300.999 s ahead is still valid there; we are exact.
    let ts = T0 + 300_999;
    assert!(rust_sdk_is_timestamp_valid(ts as u64, T0 as u64));
    assert_eq!(
        verification_request_validity(ts, &now(T0, 0)),
        VerificationValidity::InFuture
    );
}

/// A request to be ignored is never reported live: `state` and
/// `is_expired` agree with `ignore` (the spec schema's "the message should
/// be ignored", `m.key.verification.request.yaml:35-38`).
#[test]
fn verification_request_outside_the_window_is_expired_not_live() {
    use VerificationValidity::*;
    let rows = [
        ("valid, just now", T0, Valid, Live),
        ("exactly 10 min old", T0 - 600_000, Valid, Live),
        ("10 min + 1 ms old", T0 - 600_001, TooOld, Expired),
        ("5 min + 1 ms ahead", T0 + 300_001, InFuture, Expired),
        ("3 h ahead", T0 + 3 * HOUR, InFuture, Expired),
    ];
    for (label, ts, validity, state) in rows {
        for received in [None, Some(1_000_000)] {
            let (v, e) = verification_request_expiry(ts, received, &now(T0, 0));
            assert_eq!(v, validity, "{label}");
            assert_eq!(e.state, state, "{label}");
            assert_eq!(e.is_expired, state == Expired, "{label}");
        }
    }
    // Exactly 10 min old and valid: the prompt has 1 ms left, so the two
    // spec sentences ("more than 10 minutes in the past" and "dismissed 10
    // minutes after") meet without contradiction.
    let (_, e) = verification_request_expiry(T0 - 600_000, None, &now(T0, 0));
    assert_eq!(e.remaining_ms, 1);
}

#[test]
fn verification_prompt_table_without_receipt() {
    // Dismissed at the first ms the request is too old: ts + 600 001.
    let d = T0 + 600_001;
    check_server_rule("prompt", &boundary_rows(d), |n| {
        verification_prompt_expiry(T0, None, n)
    });
    // Never disagrees with the validity window on the old side.
    for off in 599_990..=600_010 {
        let n = now(T0 + off, 0);
        let e = verification_prompt_expiry(T0, None, &n);
        let too_old = verification_request_validity(T0, &n) == VerificationValidity::TooOld;
        assert_eq!(e.is_expired, too_old, "age {off}");
    }
}

#[test]
fn verification_prompt_with_receipt_takes_the_earlier_deadline() {
    // Received at boot B when the server clock read T0 + 1 s: the 2 min
    // receipt timeout (B + 120 000) comes well before ts + 10 min.
    let b = 50_000;
    let at = |boot_now: i64, unc: i64| ServerNow {
        server_now_ms: T0 + 1_000 + (boot_now - b),
        uncertainty_ms: unc,
        boot_ms: boot_now,
    };
    let rows: [(i64, i64, ExpiryState, bool); 5] = [
        (b, 0, Live, false),
        (b + 119_999, 0, Live, false),
        (b + 120_000, 0, Expired, true),
        (b + 120_001, 0, Expired, true),
        // The server uncertainty does not blur a boot-clock deadline.
        (b + 119_800, 500, Live, false),
    ];
    for (boot_now, unc, state, expired) in rows {
        let e = verification_prompt_expiry(T0, Some(b), &at(boot_now, unc));
        assert_eq!((e.state, e.is_expired), (state, expired), "boot {boot_now}");
        assert_eq!(e.fire_at_boot_ms, b + 120_000);
    }
    // Received 9 min after ts: now the 10 min server deadline comes first.
    let late = |boot_now: i64| ServerNow {
        server_now_ms: T0 + 540_000 + (boot_now - b),
        uncertainty_ms: 0,
        boot_ms: boot_now,
    };
    let e = verification_prompt_expiry(T0, Some(b), &late(b));
    assert_eq!(e.deadline_ms, T0 + 600_001);
    assert_eq!(e.remaining_ms, 60_001);
    assert!(!verification_prompt_expiry(T0, Some(b), &late(b + 60_000)).is_expired);
    assert!(verification_prompt_expiry(T0, Some(b), &late(b + 60_001)).is_expired);
}

#[test]
fn verification_in_progress_matches_rust_sdk_timed_out() {
    // rust-sdk: timed_out = elapsed > 10 min on an Instant.
    let started = 7_000;
    for elapsed in [0, 599_999, 600_000, 600_001, 3 * HOUR] {
        for unc in [0, 10_000] {
            let n = ServerNow {
                server_now_ms: T0,
                uncertainty_ms: unc,
                boot_ms: started + elapsed,
            };
            let e = verification_in_progress_expiry(started, &n);
            assert_eq!(e.is_expired, elapsed > 600_000, "elapsed {elapsed}");
            assert_eq!(e.fire_at_boot_ms, started + 600_001);
        }
    }
}

// ---------------------------------------------------------------------------
// m.call.invite
// ---------------------------------------------------------------------------

/// Model of matrix-js-sdk `callEventHandler.ts`: the invite is expired when
/// `age > lifetime − grace`.
fn js_invite_expired(age: i64, lifetime: i64, grace: i64) -> bool {
    age > lifetime - grace
}

#[test]
fn call_invite_table() {
    // Spec rule (no grace): expired once the age exceeds the lifetime.
    let rows: [Row; 6] = [
        ("age 0", T0, 0, Live, false),
        ("age = lifetime", T0 + 60_000, 0, Live, false),
        ("age = lifetime + 1", T0 + 60_001, 0, Expired, true),
        ("age = lifetime + 2", T0 + 60_002, 0, Expired, true),
        ("straddles", T0 + 60_000, 500, Uncertain, false),
        ("3 h late", T0 + 3 * HOUR, 60_000, Expired, true),
    ];
    check_server_rule("invite", &rows, |n| {
        call_invite_expiry(T0, 60_000, DEFAULT_CALL_INVITE_GRACE_MS, n)
    });
    // With js's 3 s grace the cut-off moves to age 57 000.
    check_server_rule("invite js grace", &boundary_rows(T0 + 57_001), |n| {
        call_invite_expiry(T0, 60_000, JS_SDK_CALL_INVITE_GRACE_MS, n)
    });
    // Ring timer: lifetime − age (+1 ms for the strict "exceeds").
    let e = call_invite_expiry(T0, 60_000, 0, &now(T0 + 10_000, 0));
    assert_eq!(e.remaining_ms, 50_001);
}

#[test]
fn call_invite_same_decisions_as_js_sdk() {
    for grace in [0, 3_000] {
        for lifetime in [0, 3_000, 60_000, 90_000] {
            for age in
                (-5..=5).chain([lifetime - grace - 1, lifetime - grace, lifetime - grace + 1])
            {
                let e = call_invite_expiry(T0, lifetime, grace, &now(T0 + age, 0));
                assert_eq!(
                    e.is_expired,
                    js_invite_expired(age, lifetime, grace),
                    "lifetime {lifetime} grace {grace} age {age}"
                );
            }
        }
    }
}

/// Model of matrix-js-sdk's invite age: `event.ts:460` `localTimestamp =
/// now − age` at receipt, `event.ts:746` `getLocalAge() = Date.now() −
/// localTimestamp`; `callEventHandler.ts:244` ignores the invite once
/// `getLocalAge() > lifetime − RING_GRACE_PERIOD`.
fn js_invite_expired_by_age(
    age_at_receipt: i64,
    since_receipt: i64,
    lifetime: i64,
    grace: i64,
) -> bool {
    age_at_receipt + since_receipt > lifetime - grace
}

/// Difference 10: the spec measures an invite by its age ("the event's
/// `age` field ... plus the time since it received the event",
/// `voip_events.md:52-56`; "Once the invite age exceeds this value,
/// clients should discard it", `m.call.invite.yaml:32`), counted here on
/// the boot clock from the receipt.
#[test]
fn call_invite_by_age_matches_js_local_age() {
    let received = 40_000;
    for grace in [0, 3_000] {
        for lifetime in [0, 60_000, 90_000] {
            for age in [0, 500, 59_999, 60_000, 120_000] {
                for since in [0, 1, 29_999, 30_000, 59_500, 59_999, 60_000, 60_001] {
                    let n = ServerNow {
                        server_now_ms: T0,
                        uncertainty_ms: 5_000,
                        boot_ms: received + since,
                    };
                    let e = call_invite_age_expiry(age, lifetime, grace, received, &n);
                    assert_eq!(
                        e.is_expired,
                        js_invite_expired_by_age(age, since, lifetime, grace),
                        "lifetime {lifetime} grace {grace} age {age} since {since}"
                    );
                    // A boot-clock deadline: exact, the server uncertainty
                    // does not blur it.
                    assert_ne!(e.state, Uncertain);
                    assert_eq!(e.fire_at_boot_ms, received + lifetime - grace - age + 1);
                }
            }
        }
    }
}

/// Difference 10, the skewed sender: `origin_server_ts` 45 s behind the
/// truth (the sending server's clock is slow) while `unsigned.age` says the
/// invite is 2 s old. By timestamp it has 15 s left; by age 58 s. The
/// earlier of the two wins (`Expiry::earliest`), so neither a slow nor a
/// fast sender makes a stale invite ring longer.
#[test]
fn call_invite_takes_the_earlier_of_timestamp_and_age() {
    let received = 7_000;
    let n = ServerNow {
        server_now_ms: T0,
        uncertainty_ms: 0,
        boot_ms: received,
    };
    let by_ts = call_invite_expiry(T0 - 45_000, 60_000, 0, &n);
    let by_age = call_invite_age_expiry(2_000, 60_000, 0, received, &n);
    assert_eq!(by_ts.remaining_ms, 15_001);
    assert_eq!(by_age.remaining_ms, 58_001);
    assert_eq!(Expiry::earliest(by_ts, by_age), by_ts);
    // A fast sender (timestamp in the future) is capped by the age.
    let by_ts = call_invite_expiry(T0 + 45_000, 60_000, 0, &n);
    assert_eq!(Expiry::earliest(by_ts, by_age), by_age);
}

// ---------------------------------------------------------------------------
// m.rtc.notification
// ---------------------------------------------------------------------------

#[test]
fn rtc_notification_ruma_examples() {
    // ruma rtc/notification.rs `invalid_ts_computation` (default offset).
    let sender_ts = 100_365;
    let cases = [
        (120_000, 130_365), // sender_ts trustworthy
        (200_000, 230_000), // sender_ts too small: origin_server_ts used
        (50_000, 80_000),   // sender_ts too large: origin_server_ts used
    ];
    for (ots, invalid_ts) in cases {
        let e = rtc_notification_expiry(sender_ts, ots, 30_000, &now(0, 0));
        assert_eq!(e.deadline_ms, invalid_ts, "ots {ots}");
    }
}

#[test]
fn rtc_notification_table() {
    // 20 s rule boundary: exactly 20 000 apart keeps sender_ts.
    assert_eq!(rtc_notification_start_ms(T0, T0 + 20_000), T0);
    assert_eq!(rtc_notification_start_ms(T0, T0 - 20_000), T0);
    assert_eq!(rtc_notification_start_ms(T0, T0 + 20_001), T0 + 20_001);
    assert_eq!(rtc_notification_start_ms(T0, T0 - 20_001), T0 - 20_001);
    // Sender's clock 3 h off either way: the server timestamp wins.
    assert_eq!(rtc_notification_start_ms(T0 + 3 * HOUR, T0), T0);
    assert_eq!(rtc_notification_start_ms(T0 - 3 * HOUR, T0), T0);

    check_server_rule("notification", &boundary_rows(T0 + 30_000), |n| {
        rtc_notification_expiry(T0, T0 + 500, 30_000, n)
    });
    // Lifetime capped at 120 s.
    check_server_rule("notification capped", &boundary_rows(T0 + 120_000), |n| {
        rtc_notification_expiry(T0, T0, 600_000, n)
    });
}

#[test]
fn rtc_notification_ring_decision() {
    let rows = [
        ("ring, live", NotificationType::Ring, T0 + 29_999, true),
        (
            "ring, at deadline",
            NotificationType::Ring,
            T0 + 30_000,
            false,
        ),
        ("ring, after", NotificationType::Ring, T0 + 30_001, false),
        (
            "notification, live",
            NotificationType::Notification,
            T0 + 1,
            false,
        ),
        (
            "notification, after",
            NotificationType::Notification,
            T0 + 40_000,
            false,
        ),
    ];
    for (label, ty, t, ring) in rows {
        let e = rtc_notification_expiry(T0, T0, 30_000, &now(t, 0));
        assert_eq!(rtc_notification_should_ring(ty, &e), ring, "{label}");
    }
}

// ---------------------------------------------------------------------------
// m.beacon_info
// ---------------------------------------------------------------------------

/// Model of ruma `BeaconInfoEventContent::is_live`.
fn ruma_beacon_is_live(live: bool, ts: i64, timeout: i64, now: i64) -> bool {
    live && ts + timeout > now
}

/// Model of matrix-js-sdk `src/models/beacon.ts:43-44,200-207`: live while
/// `start <= now <= start + timeout` (both ends inclusive), with 6 minutes
/// of leniency for a start in the future.
fn js_beacon_is_live(live: bool, ts: i64, timeout: i64, now: i64) -> bool {
    let start = if ts > now { ts - 360_000 } else { ts };
    live && start != 0 && now >= start && start + timeout >= now
}

/// The references disagree about the last millisecond: js counts `ts +
/// timeout` itself as live, ruma (`beacon_info.rs:80`, `> now`) does not.
/// mxclock follows ruma (over at the deadline, like every other rule): the
/// two differ at that one millisecond only.
#[test]
fn beacon_info_differs_from_js_only_at_the_deadline() {
    for off in [-1, 0, 1, 599_999, 600_000, 600_001] {
        let t = T0 + off;
        let ours = !beacon_info_expiry(true, T0, 600_000, &now(t, 0)).is_expired;
        assert_eq!(
            ours == js_beacon_is_live(true, T0, 600_000, t),
            off != 600_000,
            "offset {off}"
        );
    }
}

#[test]
fn beacon_info_table() {
    check_server_rule("beacon", &boundary_rows(T0 + 600_000), |n| {
        beacon_info_expiry(true, T0, 600_000, n)
    });
    // Stopped beacons are over whatever the time.
    for t in [T0 - HOUR, T0, T0 + 1] {
        let e = beacon_info_expiry(false, T0, 600_000, &now(t, 500));
        assert_eq!((e.state, e.is_expired, e.remaining_ms), (Expired, true, 0));
    }
    for live in [true, false] {
        for off in [-1, 0, 1, 599_999, 600_000, 600_001] {
            let e = beacon_info_expiry(live, T0, 600_000, &now(T0 + off, 0));
            assert_eq!(
                !e.is_expired,
                ruma_beacon_is_live(live, T0, 600_000, T0 + off),
                "live {live} off {off}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Any deadline
// ---------------------------------------------------------------------------

#[test]
fn generic_deadline_table() {
    check_server_rule("expiry_at", &boundary_rows(T0), |n| expiry_at(T0, n));
}
