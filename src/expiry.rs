//! Expiry decisions on the server clock. Pure: no I/O, no clock reads; the
//! caller passes a [`ServerNow`] reading.
//!
//! Every rule is one function here, with typed inputs (the JSON side lives
//! in [`crate::events`]) and its sources cited next to it. `docs/expiry.md`
//! compares each rule and boundary with matrix-js-sdk, ruma,
//! matrix-rust-sdk and the spec or MSC, and records where they disagree and
//! which way mxclock goes.
//!
//! | feature | function |
//! |---|---|
//! | any deadline (MSC4094) | [`expiry_at`], [`Expiry::at`] |
//! | `m.call.member` session format | [`call_membership_session_expiry`] |
//! | legacy MSC3401 device membership (`expires_ts`) | [`call_membership_legacy_expiry`] |
//! | sticky events (MSC4354), `m.rtc.member` (MSC4143) | [`sticky_expiry`], [`sticky_ttl_expiry`] |
//! | verification request | [`verification_request_validity`], [`verification_request_expiry`], [`verification_prompt_expiry`], [`verification_in_progress_expiry`] |
//! | `m.call.invite` | [`call_invite_expiry`], [`call_invite_age_expiry`] |
//! | `m.rtc.notification` (MSC4075) | [`rtc_notification_start_ms`], [`rtc_notification_expiry`], [`rtc_notification_should_ring`] |
//! | live location `m.beacon_info` (MSC3672) | [`beacon_info_expiry`] |
//!
//! The rules an event can be decided by are the variants of [`ExpiryRule`];
//! their names (JSON, CLI, C) come from that one declaration.
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

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

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
///
/// The true server time lies in `server_now_ms ± uncertainty_ms`; the thing
/// is over from its deadline on (`deadline_ms` is the first millisecond at
/// which it counts as over).
///
/// `#[repr(C)]`: this enum is also the C API's `mxclock_expiry_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
#[repr(C)]
pub enum ExpiryState {
    /// Before the deadline even at the latest possible server time
    /// (`remaining_ms > uncertainty_ms`).
    Live = 0,
    /// At or past the deadline even at the earliest possible server time
    /// (`remaining_ms <= −uncertainty_ms`).
    Expired = 1,
    /// The deadline lies within the uncertainty (`−uncertainty_ms <
    /// remaining_ms <= uncertainty_ms`): the best guess is in `is_expired`,
    /// but it may be wrong. Never the state when the uncertainty is 0.
    Uncertain = 2,
}

impl ExpiryState {
    /// Every state, in value order.
    pub fn all() -> &'static [ExpiryState] {
        &Self::table().all
    }

    /// The name used in JSON, by the CLI and by the C API: `live`,
    /// `expired`, `uncertain`.
    pub fn as_str(self) -> &'static str {
        variant_names::<ExpiryState>(self as usize).0
    }

    /// [`ExpiryState::as_str`] as a C string (for the C API).
    pub fn as_c_str(self) -> &'static CStr {
        variant_names::<ExpiryState>(self as usize).1
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

/// The state of a deadline `remaining_ms` ahead when the server time is
/// known to ±`uncertainty_ms`: over at the deadline itself, as every
/// reference has it (js `getMsUntilExpiry() <= 0`; ruma beacon live while
/// `ts + timeout > now`; MSC4354 "if the end time is in the future, the
/// event remains sticky").
fn state_for(remaining_ms: i64, uncertainty_ms: i64) -> ExpiryState {
    let u = uncertainty_ms.max(0);
    if remaining_ms > u {
        ExpiryState::Live
    } else if remaining_ms <= -u {
        // -u never overflows: u >= 0.
        ExpiryState::Expired
    } else {
        ExpiryState::Uncertain
    }
}

impl Expiry {
    /// The decision for a deadline on the server clock.
    ///
    /// ```
    /// use mxclock::{Expiry, ExpiryState, ServerNow};
    /// let now = ServerNow { server_now_ms: 1_000_000, uncertainty_ms: 50, boot_ms: 7_000 };
    /// let e = Expiry::at(1_000_100, &now);
    /// assert_eq!(e.remaining_ms, 100);
    /// assert_eq!(e.state, ExpiryState::Live);
    /// assert!(!e.is_expired);
    /// assert_eq!(e.fire_at_boot_ms, 7_100);
    /// // 30 ms before the deadline but the server time is only known to ±50 ms:
    /// assert_eq!(Expiry::at(1_000_030, &now).state, ExpiryState::Uncertain);
    /// // 50 ms past it: over even at the earliest possible server time.
    /// assert_eq!(Expiry::at(999_950, &now).state, ExpiryState::Expired);
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
    /// membership = left the call, a beacon with `live: false`, a declined
    /// ring): expired as of now, with certainty, whatever the clock says.
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
// The rules, declared once
// ---------------------------------------------------------------------------

/// Which rule decided an event. This declaration is the one list of rules:
/// the names (`as_str`, JSON, the CLI, `mxclock_expiry_rule_name`) are its
/// serde names, and the C API's `mxclock_expiry_rule` is this enum itself
/// (`#[repr(C)]`, values in declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(C)]
pub enum ExpiryRule {
    /// `m.call.member` session format: (`created_ts` ?? `origin_server_ts`) +
    /// (`expires` ?? 4 h).
    CallMemberSession = 0,
    /// Legacy MSC3401 `m.call.member`: a `memberships` array, or the original
    /// `m.calls[].m.devices[]`; the latest deadline of its devices.
    CallMemberLegacy = 1,
    /// `m.call.member` / `m.rtc.member` that says the device left: no
    /// membership in the content, `member.membership: "leave"`, an empty
    /// device list, or an `m.rtc.member` that is not sticky.
    MembershipLeft = 2,
    /// `m.rtc.member` live while sticky: start + min(`sticky.duration_ms`,
    /// 1 h), start = min(`origin_server_ts`, receipt).
    RtcMemberSticky = 3,
    /// `m.rtc.member` with the server's remaining stickiness in `unsigned`:
    /// receipt + ttl on the boot clock.
    RtcMemberStickyTtl = 4,
    /// To-device `m.key.verification.request` (`content.timestamp`).
    VerificationRequestToDevice = 5,
    /// In-room verification request (`m.room.message`, `origin_server_ts`).
    VerificationRequestInRoom = 6,
    /// `m.call.invite` lifetime (by `origin_server_ts` and by `unsigned.age`).
    CallInvite = 7,
    /// `m.rtc.notification` lifetime and ring decision.
    RtcNotification = 8,
    /// Live location `m.beacon_info`.
    BeaconInfo = 9,
    /// Any other event with an MSC4354 `sticky` object: live while sticky.
    Sticky = 10,
    /// Any other event with the server's remaining stickiness in `unsigned`.
    StickyTtl = 11,
    /// An answer to a ring (`m.rtc.decline`, `m.call.answer`,
    /// `m.call.reject`, `m.call.hangup`): ends the ring it refers to when
    /// both are in one batch.
    RingResponse = 12,
}

impl ExpiryRule {
    /// Every rule, in value order.
    pub fn all() -> &'static [ExpiryRule] {
        &Self::table().all
    }

    /// Short name used in JSON, by the CLI and by the C API
    /// (`call_member_session`, ...).
    pub fn as_str(self) -> &'static str {
        variant_names::<ExpiryRule>(self as usize).0
    }

    /// [`ExpiryRule::as_str`] as a C string (for the C API).
    pub fn as_c_str(self) -> &'static CStr {
        variant_names::<ExpiryRule>(self as usize).1
    }
}

/// The variants of a unit-only enum and their serde names, built once from
/// the enum's own serde derive: the variant with index `i` deserializes from
/// `i`, and serializes to its name. So the enum declaration is the only list.
struct VariantTable<T: 'static> {
    all: Vec<T>,
    names: Vec<(&'static str, &'static CStr)>,
}

impl<T: Serialize + for<'de> Deserialize<'de> + 'static> VariantTable<T> {
    fn build() -> Self {
        use serde::de::value::{Error as ValueError, U32Deserializer};
        use serde::de::IntoDeserializer;
        let all: Vec<T> = (0u32..)
            .map_while(|i| {
                let d: U32Deserializer<ValueError> = i.into_deserializer();
                T::deserialize(d).ok()
            })
            .collect();
        let names = all
            .iter()
            .map(|v| {
                let name = match serde_json::to_value(v) {
                    Ok(serde_json::Value::String(s)) => s,
                    // Unit variants serialize to strings; anything else is a
                    // bug caught by the unit tests.
                    _ => String::new(),
                };
                // Built once per enum for the life of the process: leaking
                // gives the `'static` names the C API hands out.
                let c_name = CString::new(name.clone()).unwrap_or_default();
                let name: &'static str = Box::leak(name.into_boxed_str());
                let c_name: &'static CStr = Box::leak(c_name.into_boxed_c_str());
                (name, c_name)
            })
            .collect();
        VariantTable { all, names }
    }
}

/// The names of variant `index` of `T` (from its [`VariantTable`]).
fn variant_names<T: Names>(index: usize) -> (&'static str, &'static CStr) {
    T::table().names.get(index).copied().unwrap_or(("", c""))
}

/// Enums with a [`VariantTable`].
trait Names: Sized + 'static {
    fn table() -> &'static VariantTable<Self>;
}

impl Names for ExpiryRule {
    fn table() -> &'static VariantTable<Self> {
        static TABLE: OnceLock<VariantTable<ExpiryRule>> = OnceLock::new();
        TABLE.get_or_init(VariantTable::build)
    }
}

impl Names for ExpiryState {
    fn table() -> &'static VariantTable<Self> {
        static TABLE: OnceLock<VariantTable<ExpiryState>> = OnceLock::new();
        TABLE.get_or_init(VariantTable::build)
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
/// (`DEFAULT_EXPIRE_DURATION`, 4 hours); ruma `call/member.rs`
/// `CallMemberEventContent::new` (14 400 s when none is given).
pub const DEFAULT_CALL_MEMBER_EXPIRES_MS: i64 = 14_400_000;

/// `m.call.member`, session format (MSC4143 in an MSC3401 state event):
/// start = `created_ts` ?? `origin_server_ts`; deadline = start +
/// (`expires` ?? 14 400 000); expired when `now >= deadline`. A top-level
/// `expires_ts` is not part of this format and is not read.
///
/// Source: matrix-js-sdk `src/matrixrtc/CallMembership.ts` (`createdTs()`
/// = `created_ts ?? getTs()`, `getAbsoluteExpiry()` = createdTs +
/// (expires ?? DEFAULT_EXPIRE_DURATION), `isExpired()` =
/// `getMsUntilExpiry() <= 0`). ruma
/// `crates/ruma-events/src/call/member/member_data.rs` computes the same
/// `expires_ts` (`created_ts.or(origin_server_ts) + expires`) but its
/// `is_expired` uses `now > expires_ts`, one millisecond later than js; we
/// follow js (over at the deadline, as every other rule).
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
/// deadline = `expires_ts` (the device counts while `expires_ts > now`).
///
/// Source: MSC3401 (`m.calls[].m.devices[].expires_ts`); matrix-js-sdk
/// `src/webrtc/groupCall.ts` (`updateParticipants` keeps a device while
/// `d.expires_ts > now`) and, for `memberships[]` entries without
/// `expires`, `CallMembership.getAbsoluteExpiry()` before its legacy
/// support was removed (returns `expires_ts` as is).
pub fn call_membership_legacy_expiry(expires_ts_ms: i64, now: &ServerNow) -> Expiry {
    Expiry::at(expires_ts_ms, now)
}

// ---------------------------------------------------------------------------
// Sticky events (MSC4354): m.rtc.member and any other sticky event
// ---------------------------------------------------------------------------

/// Longest stickiness honoured, 1 h. Source: MSC4354 ("Valid values are the
/// integer range 0-3600000"; end = start + min(duration, 3600000));
/// matrix-js-sdk `src/models/event.ts` `MAX_STICKY_DURATION_MS`.
pub const STICKY_DURATION_MAX_MS: i64 = 3_600_000;

/// An event is live while it is sticky (MSC4354): deadline = start +
/// min(`sticky.duration_ms`, 3 600 000), start = min(`origin_server_ts`,
/// receipt). Without a receipt time the reading `now` stands in for it, so
/// an `origin_server_ts` in the future never extends the stickiness.
///
/// Source: MSC4354 `proposals/4354-sticky-events.md` ("The start time is
/// min(received_ts, origin_server_ts)" so that "malicious origin timestamps
/// cannot specify start times in the future"; "If the end time is in the
/// future, the event remains sticky", hence expired at `now >= end`);
/// matrix-js-sdk `src/models/event.ts` (`Math.min(now, this.getTs()) +
/// duration_ms`, `now` = when the client built the event). The MSC's
/// `received_ts` is the homeserver's; a client only knows its own receipt
/// time, which it passes as `received_boot_ms` (converted to the server
/// clock with `now`). MSC4143 uses it for `m.rtc.member` ("The event is
/// currently sticky").
pub fn sticky_expiry(
    origin_server_ts_ms: i64,
    sticky_duration_ms: i64,
    received_boot_ms: Option<i64>,
    now: &ServerNow,
) -> Expiry {
    let received = match received_boot_ms {
        Some(boot) => now.server_ms_at_boot(boot),
        None => now.server_now_ms,
    };
    let start = origin_server_ts_ms.min(received);
    let duration = sticky_duration_ms.clamp(0, STICKY_DURATION_MAX_MS);
    Expiry::at(start.saturating_add(duration), now)
}

/// A sticky event with the server's remaining stickiness in
/// `unsigned.sticky_duration_ttl_ms` (unstable
/// `msc4354_sticky_duration_ttl_ms`): deadline = receipt + ttl on the boot
/// clock, the ttl capped at 1 h like the duration.
///
/// Source: MSC4354 ("Clients SHOULD use this value to determine when the
/// sticky event expires"); matrix-js-sdk `src/models/event.ts` (`now +
/// duration_ttl_ms`, not capped: "assumed to be bounded server-side"). The
/// ttl counts from when this device received the event, so the timer runs
/// on the boot clock and no server uncertainty applies.
pub fn sticky_ttl_expiry(sticky_ttl_ms: i64, received_boot_ms: i64, now: &ServerNow) -> Expiry {
    let ttl = sticky_ttl_ms.clamp(0, STICKY_DURATION_MAX_MS);
    Expiry::at_boot(received_boot_ms.saturating_add(ttl), now)
}

// ---------------------------------------------------------------------------
// Verification requests
// ---------------------------------------------------------------------------

/// A request older than this (by its timestamp) is ignored: 10 min.
/// Source: spec `m.key.verification.request` ("more than 10 minutes in the
/// past"); ruma `REQUEST_TIMESTAMP_TIMEOUT`; matrix-rust-sdk
/// `is_timestamp_valid` (600 s).
pub const VERIFICATION_REQUEST_MAX_AGE_MS: i64 = 600_000;
/// A request further in the future than this is ignored: 5 min. Same sources
/// (300 s in matrix-rust-sdk).
pub const VERIFICATION_REQUEST_MAX_FUTURE_MS: i64 = 300_000;
/// The prompt is dismissed this long after the device received the request:
/// 2 min. Source: spec E2EE module ("2 minutes after Bob's client receives
/// the message"), ruma `REQUEST_RECEIVED_TIMEOUT`.
pub const VERIFICATION_PROMPT_RECEIVED_TIMEOUT_MS: i64 = 120_000;
/// A verification in progress times out 10 min after it was created or
/// received, on the local monotonic clock. Source: matrix-rust-sdk
/// `crates/matrix-sdk-crypto/src/verification/requests.rs`
/// (`VERIFICATION_TIMEOUT` = 10 min, `timed_out()` = `elapsed() > timeout`
/// on an `Instant`), spec E2EE module.
pub const VERIFICATION_TIMEOUT_MS: i64 = 600_000;

/// Whether a verification request's timestamp is acceptable.
///
/// `#[repr(C)]`: this enum is also the C API's
/// `mxclock_verification_validity` (its values start at 1, as they always
/// had in C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(C)]
pub enum VerificationValidity {
    /// Within 10 min in the past to 5 min in the future: show it.
    Valid = 1,
    /// More than 10 min old: ignore it.
    TooOld = 2,
    /// More than 5 min in the future: ignore it.
    InFuture = 3,
}

/// Validity window of a verification request: ignore it if `ts < now −
/// 600 000` or `ts > now + 300 000` (ts = content `timestamp` for to-device
/// requests, `origin_server_ts` for in-room ones). Decided on the best
/// estimate of the server time.
///
/// Source: spec `m.key.verification.request` schema ("If the request is in
/// the future by more than 5 minutes or more than 10 minutes in the past,
/// the message should be ignored"), and matrix-rust-sdk
/// `crates/matrix-sdk-crypto/src/verification/machine.rs`
/// `VerificationMachine::is_timestamp_valid`, which applies the same window
/// in whole **seconds** (both sides truncated) against the device clock:
/// exactly 600 s old and exactly 300 s ahead are still valid there, and are
/// here. Sub-second cases can differ by < 1 s because of its truncation.
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
/// Source: spec E2EE module ("automatically dismissed 10 minutes after the
/// `timestamp` ... or 2 minutes after Bob's client receives the message,
/// whichever comes first"); ruma `REQUEST_TIMESTAMP_TIMEOUT` and
/// `REQUEST_RECEIVED_TIMEOUT`. The module's "10 minutes after" and the
/// schema's "more than 10 minutes in the past" differ by the one
/// millisecond at exactly 10 minutes; mxclock takes the schema's (and
/// matrix-rust-sdk's) "more than", so the prompt and the validity agree.
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

/// The whole decision for an incoming verification request: its validity
/// and the prompt's expiry. A request outside the window is to be ignored,
/// so its expiry is [`Expiry::ended`] (expired, whatever the prompt timer
/// says): `state` never says `live` for a request that must not be shown.
pub fn verification_request_expiry(
    ts_ms: i64,
    received_boot_ms: Option<i64>,
    now: &ServerNow,
) -> (VerificationValidity, Expiry) {
    let validity = verification_request_validity(ts_ms, now);
    let expiry = match validity {
        VerificationValidity::Valid => verification_prompt_expiry(ts_ms, received_boot_ms, now),
        VerificationValidity::TooOld | VerificationValidity::InFuture => Expiry::ended(now),
    };
    (validity, expiry)
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

/// `m.call.invite` by its server timestamp: expired when `server_now −
/// origin_server_ts > lifetime − grace`; deadline = `origin_server_ts +
/// lifetime − grace + 1` (the first ms at which the age exceeds it), so
/// `remaining_ms` is the ring timer (lifetime − age − grace, + 1 ms for the
/// strict "exceeds").
///
/// Source: spec `m.call.invite` `lifetime` ("Once the invite age exceeds
/// this value, clients should discard it"); matrix-js-sdk
/// `src/webrtc/callEventHandler.ts` ignores invites with `getLocalAge() >
/// lifetime − RING_GRACE_PERIOD` (3000 ms). Pass
/// [`DEFAULT_CALL_INVITE_GRACE_MS`] (0) for the spec rule or
/// [`JS_SDK_CALL_INVITE_GRACE_MS`] to match js. See
/// [`call_invite_age_expiry`] for the age the spec prefers.
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

/// `m.call.invite` by its age: the event's `unsigned.age` when this device
/// received it (at `received_boot_ms`) plus the time since, on the boot
/// clock; expired once that exceeds `lifetime − grace`.
///
/// Source: spec VoIP "Call Event Liveness" ("it should use the event's
/// `age` field in the `GET /sync` response plus the time since it received
/// the event from the homeserver to determine whether the invite is still
/// valid. The use of the `age` field ensures that incorrect clocks on
/// client devices don't break calls"); matrix-js-sdk `src/models/event.ts`
/// (`localTimestamp = now − age`, `getLocalAge()`) and `src/webrtc/call.ts`
/// (hang up after `lifetime − getLocalAge()`). The age is measured by the
/// homeserver that sent it, so it holds when the sending server's clock
/// (and with it `origin_server_ts`) is off; the event rule takes the
/// earlier of this and [`call_invite_expiry`].
pub fn call_invite_age_expiry(
    age_ms: i64,
    lifetime_ms: i64,
    grace_ms: i64,
    received_boot_ms: i64,
    now: &ServerNow,
) -> Expiry {
    let live_for = lifetime_ms.max(0).saturating_sub(grace_ms.max(0));
    Expiry::at_boot(
        received_boot_ms
            .saturating_add(live_for.saturating_sub(age_ms.max(0)))
            .saturating_add(1),
        now,
    )
}

// ---------------------------------------------------------------------------
// m.rtc.notification
// ---------------------------------------------------------------------------

/// If `sender_ts` and `origin_server_ts` differ by more than this, the
/// sender's clock is not trusted. Source: MSC4075 ("Receivers SHOULD use
/// `origin_server_ts` if `|sender_ts - origin_server_ts| > 20000 ms`"); ruma
/// `crates/ruma-events/src/rtc/notification.rs` (`expiration_ts`, default
/// `max_sender_ts_offset` 20 s).
pub const NOTIFICATION_MAX_SENDER_TS_OFFSET_MS: i64 = 20_000;
/// Longest ring honoured. Source: MSC4075 ("The receiving client SHOULD cap
/// the lifetime to an upper bound (recommended: 2 minutes)").
pub const NOTIFICATION_MAX_LIFETIME_MS: i64 = 120_000;
/// The lifetime of a notification that gives none. Source: MSC4075 (`lifetime`
/// "required if `notification_type` is `ring`, otherwise ignored"; "The
/// recommended value is 30 seconds").
pub const NOTIFICATION_DEFAULT_LIFETIME_MS: i64 = 30_000;

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
/// Source: MSC4075; ruma `crates/ruma-events/src/rtc/notification.rs`
/// `RtcNotificationEventContent::expiration_ts` (strict `>` on the absolute
/// difference).
pub fn rtc_notification_start_ms(sender_ts_ms: i64, origin_server_ts_ms: i64) -> i64 {
    let diff = sender_ts_ms.abs_diff(origin_server_ts_ms);
    if diff > NOTIFICATION_MAX_SENDER_TS_OFFSET_MS as u64 {
        origin_server_ts_ms
    } else {
        sender_ts_ms
    }
}

/// `m.rtc.notification`: deadline = start + min(`lifetime`, 120 000), start
/// from [`rtc_notification_start_ms`]; over from the deadline on (ruma's
/// `expiration_ts`).
///
/// Source: MSC4075 ("The event's `lifetime` as measured from `sender_ts` /
/// `origin_server_ts` has elapsed"), ruma
/// `crates/ruma-events/src/rtc/notification.rs` (`expiration_ts` = start +
/// lifetime; its tests are reproduced in `tests/sans_io/expiry_rules.rs`). ruma
/// does not cap the lifetime; the MSC recommends a 2 minute cap, which
/// mxclock applies.
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
/// Source: MSC4075 (`ring`: "the receiving client should audibly notify the
/// user"; `notification`: "a visual indication is enough").
pub fn rtc_notification_should_ring(notification_type: NotificationType, expiry: &Expiry) -> bool {
    notification_type == NotificationType::Ring && !expiry.is_expired
}

// ---------------------------------------------------------------------------
// m.beacon_info
// ---------------------------------------------------------------------------

/// The `timeout` of a beacon that gives none: 0, so it is over at its `ts`.
/// Source: ruma `crates/ruma-events/src/beacon_info.rs` (`#[serde(default)]
/// timeout`); matrix-js-sdk `src/models/beacon.ts` computes "not live" for
/// it (`start + undefined >= now` is false).
pub const BEACON_DEFAULT_TIMEOUT_MS: i64 = 0;

/// Live location `m.beacon_info`: live iff `live` and `now < ts + timeout`;
/// deadline = `ts + timeout`. A beacon with `live: false` was stopped by its
/// sender: [`Expiry::ended`].
///
/// Source: MSC3672 (and MSC3489), ruma `crates/ruma-events/src/beacon_info.rs`
/// `BeaconInfoEventContent::is_live` (`live && ts + timeout > now`).
/// matrix-js-sdk `src/models/beacon.ts` (`isTimestampInDuration`) counts the
/// end millisecond itself as live (`start + duration >= now`); mxclock
/// follows ruma, over at the deadline like every other rule.
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
            (-99, ExpiryState::Uncertain, true),
            // Over even at the earliest possible server time (now − 100).
            (-100, ExpiryState::Expired, true),
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
    fn zero_uncertainty_is_never_uncertain() {
        let now = ServerNow {
            uncertainty_ms: 0,
            ..NOW
        };
        assert_eq!(
            Expiry::at(now.server_now_ms + 1, &now).state,
            ExpiryState::Live
        );
        // At the deadline itself the thing is over.
        assert_eq!(
            Expiry::at(now.server_now_ms, &now).state,
            ExpiryState::Expired
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
                        sticky_expiry(deadline, unc, Some(boot), &now);
                        sticky_expiry(deadline, unc, None, &now);
                        sticky_ttl_expiry(unc, deadline, &now);
                        verification_request_validity(deadline, &now);
                        verification_request_expiry(deadline, Some(boot), &now);
                        verification_in_progress_expiry(deadline, &now);
                        call_invite_expiry(deadline, unc, boot, &now);
                        call_invite_age_expiry(deadline, unc, boot, server, &now);
                        rtc_notification_expiry(deadline, server, unc, &now);
                        beacon_info_expiry(true, deadline, unc, &now);
                    }
                }
            }
        }
        // Far past and far future with huge uncertainty are not wrapped.
        let now = ServerNow::new(0, i64::MAX, 0);
        assert_eq!(Expiry::at(i64::MIN, &now).remaining_ms, i64::MIN);
        assert_eq!(Expiry::at(i64::MIN, &now).state, ExpiryState::Expired);
        assert_eq!(Expiry::at(i64::MIN + 1, &now).state, ExpiryState::Expired);
        assert_eq!(Expiry::at(i64::MIN + 2, &now).state, ExpiryState::Uncertain);
        assert_eq!(Expiry::at(i64::MAX, &now).state, ExpiryState::Uncertain);
        // Negative uncertainty counts as 0.
        let now = ServerNow::new(0, -5, 0);
        assert_eq!(Expiry::at(0, &now).state, ExpiryState::Expired);
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

    /// The tables come from the declarations: every variant once, in value
    /// order, named as serde names it.
    #[test]
    fn variant_tables_follow_the_declarations() {
        let rules = ExpiryRule::all();
        assert_eq!(rules.len(), 13);
        for (i, rule) in rules.iter().enumerate() {
            assert_eq!(*rule as usize, i);
            let json = serde_json::to_string(rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
            assert_eq!(rule.as_c_str().to_str().unwrap(), rule.as_str());
            assert!(!rule.as_str().is_empty());
        }
        assert_eq!(
            ExpiryRule::CallMemberSession.as_str(),
            "call_member_session"
        );
        assert_eq!(ExpiryRule::RingResponse.as_str(), "ring_response");
        let states = ExpiryState::all();
        assert_eq!(
            states,
            [
                ExpiryState::Live,
                ExpiryState::Expired,
                ExpiryState::Uncertain
            ]
        );
        for (i, s) in states.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        assert_eq!(ExpiryState::Uncertain.as_str(), "uncertain");
    }
}
