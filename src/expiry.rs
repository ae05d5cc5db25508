//! Expiry decisions on the server clock (DESIGN.md section 7). Pure: no I/O,
//! no clock reads; the caller passes a [`ServerNow`] reading.
//!
//! Every rule of section 7 is one function here, with typed inputs (the JSON
//! side lives in [`crate::events`]) and its source cited next to it:
//!
//! | feature | function |
//! |---|---|
//! | any deadline (MSC4094) | [`expiry_at`], [`Expiry::at`] |
//! | `m.call.member` session format | [`call_membership_session_expiry`] |
//! | legacy MSC3401 device membership | [`call_membership_legacy_expiry`] |
//! | `m.rtc.member` sticky (MSC4143/MSC4354) | [`rtc_member_sticky_expiry`], [`rtc_member_sticky_ttl_expiry`] |
//! | verification request | [`verification_request_validity`], [`verification_prompt_expiry`], [`verification_in_progress_expiry`] |
//! | `m.call.invite` | [`call_invite_expiry`] |
//! | `m.rtc.notification` (MSC4075) | [`rtc_notification_start_ms`], [`rtc_notification_expiry`], [`rtc_notification_should_ring`] |
//! | live location `m.beacon_info` (MSC3672) | [`beacon_info_expiry`] |
//!
//! ## What `deadline_ms` means
//!
//! `deadline_ms` is the **first** server-clock millisecond at which the thing
//! counts as over, so `is_expired` is exactly `remaining_ms <= 0` for every
//! rule (matrix-js-sdk's convention). Where a source says "expired once the
//! age *exceeds* X" (strictly), the deadline is therefore `start + X + 1`:
//! at age X the thing is still live, at X + 1 ms it is not. The tests pin
//! these boundaries rule by rule.
//!
//! Arithmetic saturates everywhere: `i64::MAX`/`i64::MIN` inputs, negative
//! durations (treated as 0) and negative uncertainty (treated as 0) never
//! panic or wrap.

use serde::{Deserialize, Serialize};

/// A reading of the estimated server clock.
///
/// Produced by the clock (`server_now_ms` = boot + θ); every decision in this
/// module is taken against one reading, so a batch of events is judged at
/// one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ServerNow {
    /// Best estimate of the server's Unix time in ms.
    pub server_now_ms: i64,
    /// Half-width of the interval the true server time lies in (≥ 0; a
    /// negative value is treated as 0).
    pub uncertainty_ms: i64,
    /// Boot-clock time (ms) at which this reading was taken.
    pub boot_ms: i64,
}

impl ServerNow {
    /// A reading from its three parts (tools and tests; the clock builds its own).
    pub fn new(server_now_ms: i64, uncertainty_ms: i64, boot_ms: i64) -> Self {
        ServerNow {
            server_now_ms,
            uncertainty_ms,
            boot_ms,
        }
    }

    /// The uncertainty, never negative.
    pub fn uncertainty(&self) -> i64 {
        self.uncertainty_ms.max(0)
    }

    /// θ = server − boot, saturating.
    fn theta_ms(&self) -> i64 {
        self.server_now_ms.saturating_sub(self.boot_ms)
    }

    /// Best-estimate server time at boot-clock time `boot_ms` (e.g. when an
    /// event was received).
    pub fn server_ms_at_boot(&self, boot_ms: i64) -> i64 {
        boot_ms.saturating_add(self.theta_ms())
    }

    /// Boot-clock time at which the server clock will read `server_ms`, by
    /// the best estimate.
    pub fn boot_ms_at_server(&self, server_ms: i64) -> i64 {
        let remaining = server_ms.saturating_sub(self.server_now_ms);
        self.boot_ms.saturating_add(remaining)
    }
}

/// Where a deadline stands relative to the uncertain server time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum ExpiryState {
    /// Before the deadline even at the latest possible server time.
    Live,
    /// At or past the deadline even at the earliest possible server time.
    Expired,
    /// The deadline lies within the uncertainty (|remaining| ≤ uncertainty):
    /// the best guess is in `is_expired`, but it may be wrong.
    Uncertain,
}

impl ExpiryState {
    /// The name used in JSON and by the CLI: `live`, `expired`, `uncertain`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryState::Live => "live",
            ExpiryState::Expired => "expired",
            ExpiryState::Uncertain => "uncertain",
        }
    }
}

/// An expiry decision for one deadline at one [`ServerNow`] reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Expiry {
    /// First server-clock ms at which the thing counts as over.
    pub deadline_ms: i64,
    /// `deadline_ms − server_now_ms` by the best estimate (negative: overdue).
    pub remaining_ms: i64,
    /// Live / Expired / Uncertain, taking the uncertainty into account.
    pub state: ExpiryState,
    /// Best guess, `remaining_ms <= 0` (matrix-js-sdk `CallMembership.isExpired`).
    pub is_expired: bool,
    /// Boot-clock time at which `remaining_ms` reaches 0: arm a timer for it.
    pub fire_at_boot_ms: i64,
}

fn state_for(remaining_ms: i64, uncertainty_ms: i64) -> ExpiryState {
    // unsigned_abs: |i64::MIN| does not fit an i64.
    if remaining_ms.unsigned_abs() <= uncertainty_ms.max(0) as u64 {
        ExpiryState::Uncertain
    } else if remaining_ms > 0 {
        ExpiryState::Live
    } else {
        ExpiryState::Expired
    }
}

impl Expiry {
    /// The decision for a deadline on the server clock.
    ///
    /// ```
    /// use mxclock::expiry::{Expiry, ExpiryState, ServerNow};
    /// let now = ServerNow { server_now_ms: 1_000_000, uncertainty_ms: 50, boot_ms: 7_000 };
    /// let e = Expiry::at(1_000_100, &now);
    /// assert_eq!(e.remaining_ms, 100);
    /// assert_eq!(e.state, ExpiryState::Live);
    /// assert!(!e.is_expired);
    /// assert_eq!(e.fire_at_boot_ms, 7_100);
    /// // 30 ms before the deadline but the server time is only known to ±50 ms:
    /// assert_eq!(Expiry::at(1_000_030, &now).state, ExpiryState::Uncertain);
    /// ```
    pub fn at(deadline_ms: i64, now: &ServerNow) -> Expiry {
        let remaining_ms = deadline_ms.saturating_sub(now.server_now_ms);
        Expiry {
            deadline_ms,
            remaining_ms,
            state: state_for(remaining_ms, now.uncertainty_ms),
            is_expired: remaining_ms <= 0,
            fire_at_boot_ms: now.boot_ms.saturating_add(remaining_ms),
        }
    }

    /// The decision for a deadline on the **boot** clock (timeouts that
    /// count from when this device received something). The boot clock is
    /// local and exact, so the server uncertainty does not apply to the
    /// decision; `deadline_ms` is still reported on the server clock.
    pub fn at_boot(deadline_boot_ms: i64, now: &ServerNow) -> Expiry {
        let remaining_ms = deadline_boot_ms.saturating_sub(now.boot_ms);
        Expiry {
            deadline_ms: now.server_ms_at_boot(deadline_boot_ms),
            remaining_ms,
            state: state_for(remaining_ms, 0),
            is_expired: remaining_ms <= 0,
            fire_at_boot_ms: deadline_boot_ms,
        }
    }

    /// Something the event content itself declares over (an empty
    /// membership = left the call, a beacon with `live: false`): expired as
    /// of now, with certainty, whatever the clock says.
    pub fn ended(now: &ServerNow) -> Expiry {
        Expiry {
            deadline_ms: now.server_now_ms,
            remaining_ms: 0,
            state: ExpiryState::Expired,
            is_expired: true,
            fire_at_boot_ms: now.boot_ms,
        }
    }

    /// Whichever of two deadlines comes first (`min(a, b)`): expired for
    /// sure if either is, live for sure only if both are.
    pub fn earliest(a: Expiry, b: Expiry) -> Expiry {
        let first = if b.remaining_ms < a.remaining_ms {
            b
        } else {
            a
        };
        let state = if a.state == ExpiryState::Expired || b.state == ExpiryState::Expired {
            ExpiryState::Expired
        } else if a.state == ExpiryState::Live && b.state == ExpiryState::Live {
            ExpiryState::Live
        } else {
            ExpiryState::Uncertain
        };
        Expiry {
            state,
            is_expired: first.remaining_ms <= 0,
            ..first
        }
    }

    /// Whichever of two deadlines comes last (`max(a, b)`): live for sure
    /// if either is, expired for sure only if both are.
    pub fn latest(a: Expiry, b: Expiry) -> Expiry {
        let last = if b.remaining_ms > a.remaining_ms {
            b
        } else {
            a
        };
        let state = if a.state == ExpiryState::Live || b.state == ExpiryState::Live {
            ExpiryState::Live
        } else if a.state == ExpiryState::Expired && b.state == ExpiryState::Expired {
            ExpiryState::Expired
        } else {
            ExpiryState::Uncertain
        };
        Expiry {
            state,
            is_expired: last.remaining_ms <= 0,
            ..last
        }
    }
}

// ---------------------------------------------------------------------------
// Any deadline
// ---------------------------------------------------------------------------

/// Generic deadline on the server clock, e.g. the `expires_ts` an app stamped
/// itself from the server time. Source: MSC4094 (server time for clients);
/// same as [`Expiry::at`].
pub fn expiry_at(deadline_server_ms: i64, now: &ServerNow) -> Expiry {
    Expiry::at(deadline_server_ms, now)
}

// ---------------------------------------------------------------------------
// m.call.member
// ---------------------------------------------------------------------------

/// Default `expires` of a session-format `m.call.member` membership: 4 h.
/// Source: matrix-js-sdk `src/matrixrtc/CallMembership.ts`
/// (`DEFAULT_EXPIRE_DURATION`, 4 hours).
pub const DEFAULT_CALL_MEMBER_EXPIRES_MS: i64 = 14_400_000;

/// `m.call.member`, session format (MSC4143 in an MSC3401 state event):
/// start = `created_ts` ?? `origin_server_ts`; deadline = start +
/// (`expires` ?? 14 400 000); expired when `now >= deadline`.
///
/// Source: matrix-js-sdk `src/matrixrtc/CallMembership.ts` (`createdTs()`
/// = `created_ts ?? getTs()`, `getAbsoluteExpiry()` = createdTs + expires,
/// `isExpired()` = `getMsUntilExpiry() <= 0`), checked against the versions
/// at commits 0253e5d and dc345fc and the unit tests in
/// `spec/unit/matrixrtc/CallMembership.spec.ts`. ruma
/// `crates/ruma-events/src/call/member/member_data.rs` computes the same
/// `expires_ts` (`created_ts.or(origin_server_ts) + expires`) but its
/// `is_expired` uses `now > expires_ts`, one millisecond later than js; we
/// follow js as DESIGN.md section 7 says.
pub fn call_membership_session_expiry(
    created_ts_ms: Option<i64>,
    origin_server_ts_ms: i64,
    expires_ms: Option<i64>,
    now: &ServerNow,
) -> Expiry {
    let start = created_ts_ms.unwrap_or(origin_server_ts_ms);
    let expires = expires_ms.unwrap_or(DEFAULT_CALL_MEMBER_EXPIRES_MS).max(0);
    Expiry::at(start.saturating_add(expires), now)
}

/// Legacy MSC3401 per-device membership with an absolute `expires_ts`:
/// deadline = `expires_ts`.
///
/// Source: MSC3401 (native group VoIP, `m.call.member` `expires_ts`), and
/// matrix-js-sdk `src/matrixrtc/CallMembership.ts` `getAbsoluteExpiry()`
/// for legacy data (returns `expires_ts` as is).
pub fn call_membership_legacy_expiry(expires_ts_ms: i64, now: &ServerNow) -> Expiry {
    Expiry::at(expires_ts_ms, now)
}

// ---------------------------------------------------------------------------
// m.rtc.member (sticky events)
// ---------------------------------------------------------------------------

/// Longest stickiness honoured, 1 h. Source: MSC4354 ("Valid values are the
/// integer range 0-3600000"; end = start + min(duration, 3600000)).
pub const STICKY_DURATION_MAX_MS: i64 = 3_600_000;

/// `m.rtc.member` (MSC4143) is live while it is sticky (MSC4354):
/// deadline = start + min(`sticky.duration_ms`, 3 600 000), start =
/// `origin_server_ts`, or the receipt time if that is earlier.
///
/// Source: MSC4354 `proposals/4354-sticky-events.md` ("start time is
/// min(received_ts, origin_server_ts)" so that a future origin timestamp
/// cannot extend stickiness; "If the end time is in the future, the event
/// remains sticky", hence expired at `now >= end`). The MSC's `received_ts`
/// is the homeserver's; a client only knows its own receipt time, which it
/// passes as `received_boot_ms` (converted to the server clock with `now`).
/// Without it the start is `origin_server_ts` (DESIGN.md section 7).
pub fn rtc_member_sticky_expiry(
    origin_server_ts_ms: i64,
    sticky_duration_ms: i64,
    received_boot_ms: Option<i64>,
    now: &ServerNow,
) -> Expiry {
    let start = match received_boot_ms {
        Some(boot) => origin_server_ts_ms.min(now.server_ms_at_boot(boot)),
        None => origin_server_ts_ms,
    };
    let duration = sticky_duration_ms.clamp(0, STICKY_DURATION_MAX_MS);
    Expiry::at(start.saturating_add(duration), now)
}

/// `m.rtc.member` with the server's remaining stickiness in
/// `unsigned.sticky_duration_ttl_ms` (stable name in the current MSC:
/// `sticky_duration_remaining_ms`; unstable `msc4354_sticky_duration_ttl_ms`):
/// deadline = receipt + ttl on the boot clock.
///
/// Source: MSC4354 ("From the client's point of view, this relative expiry
/// timestamp is authoritative. Clients MUST use this value"). The ttl counts
/// from when this device received the event, so the timer runs on the boot
/// clock and no server uncertainty applies.
pub fn rtc_member_sticky_ttl_expiry(
    sticky_ttl_ms: i64,
    received_boot_ms: i64,
    now: &ServerNow,
) -> Expiry {
    let ttl = sticky_ttl_ms.clamp(0, STICKY_DURATION_MAX_MS);
    Expiry::at_boot(received_boot_ms.saturating_add(ttl), now)
}

// ---------------------------------------------------------------------------
// Verification requests
// ---------------------------------------------------------------------------

/// A request older than this (by its timestamp) is ignored: 10 min.
/// Source: spec `m.key.verification.request` (E2EE module: "more than 10
/// minutes in the past"); ruma `REQUEST_TIMESTAMP_TIMEOUT`; matrix-rust-sdk
/// `is_timestamp_valid` (600 s).
pub const VERIFICATION_REQUEST_MAX_AGE_MS: i64 = 600_000;
/// A request further in the future than this is ignored: 5 min. Same sources
/// (300 s in matrix-rust-sdk).
pub const VERIFICATION_REQUEST_MAX_FUTURE_MS: i64 = 300_000;
/// The prompt is dismissed this long after the device received the request:
/// 2 min. Source: ruma `REQUEST_RECEIVED_TIMEOUT` ("relative to the time it
/// was received by the client ... 2 minutes"), spec E2EE module.
pub const VERIFICATION_PROMPT_RECEIVED_TIMEOUT_MS: i64 = 120_000;
/// A verification in progress times out 10 min after it was created or
/// received, on the local monotonic clock. Source: matrix-rust-sdk
/// `crates/matrix-sdk-crypto/src/verification/requests.rs`
/// (`VERIFICATION_TIMEOUT` = 10 min, `timed_out()` = `elapsed() > timeout`
/// on an `Instant`), spec E2EE module.
pub const VERIFICATION_TIMEOUT_MS: i64 = 600_000;

/// Whether a verification request's timestamp is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VerificationValidity {
    /// Within 10 min in the past to 5 min in the future: show it.
    Valid,
    /// More than 10 min old: ignore it.
    TooOld,
    /// More than 5 min in the future: ignore it.
    InFuture,
}

/// Validity window of a verification request: ignore it if `ts < now −
/// 600 000` or `ts > now + 300 000` (ts = content `timestamp` for to-device
/// requests, `origin_server_ts` for in-room ones). Decided on the best
/// estimate of the server time.
///
/// Source: spec `m.key.verification.request` ("if a client receives a
/// request with a timestamp ... more than 10 minutes in the past or more
/// than 5 minutes in the future, the request should be ignored"), and
/// matrix-rust-sdk `crates/matrix-sdk-crypto/src/verification/machine.rs`
/// `VerificationMachine::is_timestamp_valid`, which applies the same window
/// in whole **seconds** (both sides truncated) against the device clock:
/// exactly 600 s old and exactly 300 s ahead are still valid there, and are
/// here. Sub-second cases can differ by < 1 s because of its truncation;
/// the tests compare on whole-second boundaries.
pub fn verification_request_validity(ts_ms: i64, now: &ServerNow) -> VerificationValidity {
    if ts_ms
        < now
            .server_now_ms
            .saturating_sub(VERIFICATION_REQUEST_MAX_AGE_MS)
    {
        VerificationValidity::TooOld
    } else if ts_ms
        > now
            .server_now_ms
            .saturating_add(VERIFICATION_REQUEST_MAX_FUTURE_MS)
    {
        VerificationValidity::InFuture
    } else {
        VerificationValidity::Valid
    }
}

/// When to dismiss the prompt for an incoming verification request:
/// min(ts + 10 min on the server clock, receipt + 2 min on the boot clock).
/// The server part's deadline is `ts + 600 001`, the first ms at which
/// [`verification_request_validity`] says `TooOld`, so the two never
/// disagree. Without `received_boot_ms` only the server part applies.
///
/// Source: spec `m.key.verification.request` and E2EE module (10 min after
/// the timestamp, 2 min after receipt); ruma `REQUEST_TIMESTAMP_TIMEOUT` and
/// `REQUEST_RECEIVED_TIMEOUT`.
pub fn verification_prompt_expiry(
    ts_ms: i64,
    received_boot_ms: Option<i64>,
    now: &ServerNow,
) -> Expiry {
    let by_ts = Expiry::at(
        ts_ms
            .saturating_add(VERIFICATION_REQUEST_MAX_AGE_MS)
            .saturating_add(1),
        now,
    );
    match received_boot_ms {
        Some(boot) => Expiry::earliest(
            by_ts,
            Expiry::at_boot(
                boot.saturating_add(VERIFICATION_PROMPT_RECEIVED_TIMEOUT_MS),
                now,
            ),
        ),
        None => by_ts,
    }
}

/// A verification flow in progress times out 10 min after it started
/// (`started_boot_ms`, on the boot clock); matrix-rust-sdk's
/// `timed_out()` is `elapsed > 10 min` (strict), so the deadline is
/// `started + 600 001`.
///
/// Source: matrix-rust-sdk
/// `crates/matrix-sdk-crypto/src/verification/requests.rs`
/// (`VERIFICATION_TIMEOUT`, `timed_out`, `time_remaining`); spec E2EE
/// module (in-progress verifications time out after 10 minutes).
pub fn verification_in_progress_expiry(started_boot_ms: i64, now: &ServerNow) -> Expiry {
    Expiry::at_boot(
        started_boot_ms
            .saturating_add(VERIFICATION_TIMEOUT_MS)
            .saturating_add(1),
        now,
    )
}

// ---------------------------------------------------------------------------
// m.call.invite
// ---------------------------------------------------------------------------

/// The spec rule has no grace: pass this to [`call_invite_expiry`].
pub const DEFAULT_CALL_INVITE_GRACE_MS: i64 = 0;
/// matrix-js-sdk stops ringing this much before the lifetime ends
/// (`RING_GRACE_PERIOD` in `src/webrtc/callEventHandler.ts`).
pub const JS_SDK_CALL_INVITE_GRACE_MS: i64 = 3_000;

/// `m.call.invite`: expired when `server_now − origin_server_ts > lifetime −
/// grace`; deadline = `origin_server_ts + lifetime − grace + 1` (the first ms
/// at which the age exceeds it), so `remaining_ms` is the ring timer
/// (lifetime − age − grace, + 1 ms for the strict "exceeds").
///
/// Source: spec VoIP "Call Event Liveness" and `m.call.invite` `lifetime`
/// ("Once the invite age exceeds this value, clients should discard it");
/// matrix-js-sdk `src/webrtc/callEventHandler.ts` ignores invites with
/// `getLocalAge() > lifetime − RING_GRACE_PERIOD` (3000 ms) and
/// `src/webrtc/call.ts` hangs up after `lifetime − getLocalAge()`. Pass
/// [`DEFAULT_CALL_INVITE_GRACE_MS`] (0) for the spec rule or
/// [`JS_SDK_CALL_INVITE_GRACE_MS`] to match js. The age here is on the
/// server clock, not js's device-clock `localAge`.
pub fn call_invite_expiry(
    origin_server_ts_ms: i64,
    lifetime_ms: i64,
    grace_ms: i64,
    now: &ServerNow,
) -> Expiry {
    let live_for = lifetime_ms.max(0).saturating_sub(grace_ms.max(0));
    Expiry::at(
        origin_server_ts_ms
            .saturating_add(live_for)
            .saturating_add(1),
        now,
    )
}

// ---------------------------------------------------------------------------
// m.rtc.notification
// ---------------------------------------------------------------------------

/// If `sender_ts` and `origin_server_ts` differ by more than this, the
/// sender's clock is not trusted. Source: ruma
/// `crates/ruma-events/src/rtc/notification.rs` (`invalid_ts`, default
/// `max_sender_ts_offset` 20 s), MSC4075.
pub const NOTIFICATION_MAX_SENDER_TS_OFFSET_MS: i64 = 20_000;
/// Longest ring honoured. Source: MSC4075 (lifetime capped at 120 s),
/// DESIGN.md section 7.
pub const NOTIFICATION_MAX_LIFETIME_MS: i64 = 120_000;

/// How an `m.rtc.notification` should notify (MSC4075 `notification_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum NotificationType {
    /// `ring`: play a ring sound.
    Ring,
    /// `notification` (or any type this version does not know): a visual
    /// notification only, never a ring.
    Notification,
}

/// Start of an `m.rtc.notification`'s lifetime: `sender_ts`, unless it
/// differs from `origin_server_ts` by more than 20 000 ms (either way), then
/// `origin_server_ts`.
///
/// Source: ruma `crates/ruma-events/src/rtc/notification.rs`
/// `RtcNotificationEventContent::invalid_ts` (strict `>` on the absolute
/// difference), MSC4075.
pub fn rtc_notification_start_ms(sender_ts_ms: i64, origin_server_ts_ms: i64) -> i64 {
    let diff = sender_ts_ms.abs_diff(origin_server_ts_ms);
    if diff > NOTIFICATION_MAX_SENDER_TS_OFFSET_MS as u64 {
        origin_server_ts_ms
    } else {
        sender_ts_ms
    }
}

/// `m.rtc.notification`: deadline = start + min(`lifetime`, 120 000), start
/// from [`rtc_notification_start_ms`]; invalid from the deadline on (ruma's
/// `invalid_ts`).
///
/// Source: MSC4075, ruma `crates/ruma-events/src/rtc/notification.rs`
/// (`invalid_ts` = start + lifetime; its tests are reproduced in
/// `tests/expiry_rules.rs`). ruma does not cap the lifetime; DESIGN.md
/// section 7 caps it at 120 s.
pub fn rtc_notification_expiry(
    sender_ts_ms: i64,
    origin_server_ts_ms: i64,
    lifetime_ms: i64,
    now: &ServerNow,
) -> Expiry {
    let start = rtc_notification_start_ms(sender_ts_ms, origin_server_ts_ms);
    let lifetime = lifetime_ms.clamp(0, NOTIFICATION_MAX_LIFETIME_MS);
    Expiry::at(start.saturating_add(lifetime), now)
}

/// Ring only while the notification is live (best estimate: not
/// `is_expired`) and its type is `ring`.
///
/// Source: MSC4075 (`ring`: "The client should ring"; `notification`: a
/// visual indication is enough), ruma `rtc/notification.rs` (stop ringing at
/// `invalid_ts`).
pub fn rtc_notification_should_ring(notification_type: NotificationType, expiry: &Expiry) -> bool {
    notification_type == NotificationType::Ring && !expiry.is_expired
}

// ---------------------------------------------------------------------------
// m.beacon_info
// ---------------------------------------------------------------------------

/// Live location `m.beacon_info`: live iff `live` and `now < ts + timeout`;
/// deadline = `ts + timeout`. A beacon with `live: false` was stopped by its
/// sender: [`Expiry::ended`].
///
/// Source: MSC3672 (and MSC3489), ruma `crates/ruma-events/src/beacon_info.rs`
/// `BeaconInfoEventContent::is_live` (`live && ts + timeout > now`).
pub fn beacon_info_expiry(live: bool, ts_ms: i64, timeout_ms: i64, now: &ServerNow) -> Expiry {
    if !live {
        return Expiry::ended(now);
    }
    Expiry::at(ts_ms.saturating_add(timeout_ms.max(0)), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: ServerNow = ServerNow {
        server_now_ms: 1_700_000_000_000,
        uncertainty_ms: 100,
        boot_ms: 5_000_000,
    };

    #[test]
    fn at_boundaries_with_uncertainty() {
        // (offset of deadline from now, expected state, expected is_expired)
        let cases = [
            (101, ExpiryState::Live, false),
            (100, ExpiryState::Uncertain, false),
            (1, ExpiryState::Uncertain, false),
            (0, ExpiryState::Uncertain, true),
            (-1, ExpiryState::Uncertain, true),
            (-100, ExpiryState::Uncertain, true),
            (-101, ExpiryState::Expired, true),
        ];
        for (offset, state, expired) in cases {
            let e = Expiry::at(NOW.server_now_ms + offset, &NOW);
            assert_eq!(e.remaining_ms, offset, "offset {offset}");
            assert_eq!(e.state, state, "offset {offset}");
            assert_eq!(e.is_expired, expired, "offset {offset}");
            assert_eq!(e.fire_at_boot_ms, NOW.boot_ms + offset, "offset {offset}");
        }
    }

    #[test]
    fn zero_uncertainty_only_the_deadline_itself_is_uncertain() {
        let now = ServerNow {
            uncertainty_ms: 0,
            ..NOW
        };
        assert_eq!(
            Expiry::at(now.server_now_ms + 1, &now).state,
            ExpiryState::Live
        );
        assert_eq!(
            Expiry::at(now.server_now_ms, &now).state,
            ExpiryState::Uncertain
        );
        assert_eq!(
            Expiry::at(now.server_now_ms - 1, &now).state,
            ExpiryState::Expired
        );
    }

    #[test]
    fn saturates_on_extremes() {
        let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        for &server in &extremes {
            for &unc in &extremes {
                for &boot in &extremes {
                    let now = ServerNow::new(server, unc, boot);
                    for &deadline in &extremes {
                        let e = Expiry::at(deadline, &now);
                        assert_eq!(e.is_expired, e.remaining_ms <= 0);
                        let b = Expiry::at_boot(deadline, &now);
                        assert_eq!(b.is_expired, b.remaining_ms <= 0);
                        // Every rule with absurd inputs: must not panic.
                        call_membership_session_expiry(Some(deadline), server, Some(unc), &now);
                        call_membership_session_expiry(None, deadline, None, &now);
                        rtc_member_sticky_expiry(deadline, unc, Some(boot), &now);
                        rtc_member_sticky_ttl_expiry(unc, deadline, &now);
                        verification_request_validity(deadline, &now);
                        verification_prompt_expiry(deadline, Some(boot), &now);
                        verification_in_progress_expiry(deadline, &now);
                        call_invite_expiry(deadline, unc, boot, &now);
                        rtc_notification_expiry(deadline, server, unc, &now);
                        beacon_info_expiry(true, deadline, unc, &now);
                    }
                }
            }
        }
        // Far past and far future with huge uncertainty are not wrapped.
        let now = ServerNow::new(0, i64::MAX, 0);
        assert_eq!(Expiry::at(i64::MIN, &now).remaining_ms, i64::MIN);
        // |i64::MIN| is one more than i64::MAX: just outside the uncertainty.
        assert_eq!(Expiry::at(i64::MIN, &now).state, ExpiryState::Expired);
        assert_eq!(Expiry::at(i64::MIN + 1, &now).state, ExpiryState::Uncertain);
        let now = ServerNow::new(0, -5, 0);
        assert_eq!(Expiry::at(0, &now).state, ExpiryState::Uncertain);
        assert_eq!(Expiry::at(1, &now).state, ExpiryState::Live);
    }

    #[test]
    fn earliest_and_latest_combine_states() {
        let live = Expiry::at(NOW.server_now_ms + 10_000, &NOW);
        let live2 = Expiry::at(NOW.server_now_ms + 5_000, &NOW);
        let unc = Expiry::at(NOW.server_now_ms + 50, &NOW);
        let gone = Expiry::at(NOW.server_now_ms - 10_000, &NOW);
        assert_eq!(Expiry::earliest(live, live2), live2);
        assert_eq!(Expiry::earliest(live, unc).state, ExpiryState::Uncertain);
        assert_eq!(Expiry::earliest(unc, gone).state, ExpiryState::Expired);
        assert_eq!(Expiry::latest(live, gone).state, ExpiryState::Live);
        assert_eq!(Expiry::latest(unc, gone).state, ExpiryState::Uncertain);
        assert_eq!(Expiry::latest(gone, gone).state, ExpiryState::Expired);
        assert_eq!(Expiry::latest(live, live2), live);
    }

    #[test]
    fn server_boot_conversions() {
        assert_eq!(
            NOW.server_ms_at_boot(NOW.boot_ms + 7),
            NOW.server_now_ms + 7
        );
        assert_eq!(
            NOW.boot_ms_at_server(NOW.server_now_ms - 7),
            NOW.boot_ms - 7
        );
    }
}
