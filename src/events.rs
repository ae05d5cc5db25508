//! Matrix event JSON → which expiry rule applies → [`Expiry`] (DESIGN.md
//! section 7). Pure: serde_json in, decisions out; the rules themselves live
//! in [`crate::expiry`].
//!
//! Recognised event types (stable and unstable names):
//!
//! | `type` | rule |
//! |---|---|
//! | `m.call.member`, `org.matrix.msc3401.call.member` | session format, legacy `expires_ts`, legacy `memberships` array, or left |
//! | `m.rtc.member`, `org.matrix.msc4143.rtc.member` | sticky (MSC4354), or left |
//! | `m.rtc.notification`, `org.matrix.msc4075.rtc.notification` | notification lifetime + ring decision |
//! | `m.beacon_info`, `org.matrix.msc3672.beacon_info` | live location |
//! | `m.key.verification.request` (to-device, `content.timestamp`) | verification request |
//! | `m.room.message` with `msgtype` `m.key.verification.request` (in-room, `origin_server_ts`) | verification request |
//! | `m.call.invite` | invite lifetime (spec rule, no grace) |
//!
//! Anything else is [`Error::NoExpiryRule`]. Encrypted events
//! (`m.room.encrypted`) must be decrypted first.
//!
//! ## Left / stopped
//!
//! An `m.call.member` or `m.rtc.member` whose content is empty (or holds only
//! `leave_reason` / the sticky key), and a legacy `memberships: []`, mean the
//! device **left the call**. That is not an error: the result has
//! `rule = MembershipLeft`, `ended = true` and an [`Expiry::ended`] expiry
//! (Expired, remaining 0). A beacon with `live: false` was stopped: rule
//! `BeaconInfo`, `ended = true`, same expiry.
//!
//! ## Errors
//!
//! Not JSON, not an object, a missing or ill-typed field the rule needs:
//! [`Error::InvalidEvent`] with `field` = the JSON path (`$` for the whole
//! input, `content.lifetime`, `content.memberships[2].expires_ts`, ...).
//! Timestamps and durations must be non-negative integers that fit an i64:
//! floats (`1.5`, `1e3`), negatives, numbers above `i64::MAX` and strings are
//! rejected with a reason saying which. Fields a rule does not use are not
//! checked. Nothing here panics on any input.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::expiry::{
    beacon_info_expiry, call_invite_expiry, call_membership_legacy_expiry,
    call_membership_session_expiry, rtc_member_sticky_expiry, rtc_member_sticky_ttl_expiry,
    rtc_notification_expiry, rtc_notification_should_ring, verification_prompt_expiry,
    verification_request_validity, Expiry, NotificationType, ServerNow, VerificationValidity,
    DEFAULT_CALL_INVITE_GRACE_MS,
};

/// Which rule of DESIGN.md section 7 decided an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ExpiryRule {
    /// `m.call.member` session format: (`created_ts` ?? `origin_server_ts`) +
    /// (`expires` ?? 4 h).
    CallMemberSession,
    /// Legacy MSC3401 `m.call.member`: `expires_ts`, or for a `memberships`
    /// array the latest deadline of its devices.
    CallMemberLegacy,
    /// `m.call.member` / `m.rtc.member` with empty content: the device left.
    MembershipLeft,
    /// `m.rtc.member` live while sticky: `origin_server_ts` +
    /// min(`sticky.duration_ms`, 1 h).
    RtcMemberSticky,
    /// `m.rtc.member` with the server's remaining ttl in `unsigned`: receipt +
    /// ttl on the boot clock.
    RtcMemberStickyTtl,
    /// To-device `m.key.verification.request` (`content.timestamp`).
    VerificationRequestToDevice,
    /// In-room verification request (`m.room.message`, `origin_server_ts`).
    VerificationRequestInRoom,
    /// `m.call.invite` lifetime.
    CallInvite,
    /// `m.rtc.notification` lifetime and ring decision.
    RtcNotification,
    /// Live location `m.beacon_info`.
    BeaconInfo,
}

impl ExpiryRule {
    /// Short name used in JSON and by the CLI (`call_member_session`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryRule::CallMemberSession => "call_member_session",
            ExpiryRule::CallMemberLegacy => "call_member_legacy",
            ExpiryRule::MembershipLeft => "membership_left",
            ExpiryRule::RtcMemberSticky => "rtc_member_sticky",
            ExpiryRule::RtcMemberStickyTtl => "rtc_member_sticky_ttl",
            ExpiryRule::VerificationRequestToDevice => "verification_request_to_device",
            ExpiryRule::VerificationRequestInRoom => "verification_request_in_room",
            ExpiryRule::CallInvite => "call_invite",
            ExpiryRule::RtcNotification => "rtc_notification",
            ExpiryRule::BeaconInfo => "beacon_info",
        }
    }
}

/// The expiry decision for one event.
///
/// Read `expiry` for the deadline, the remaining time, the state and the
/// boot-clock time to arm a timer at. The other fields say what the app
/// should do beyond "is it over":
/// - `ended`: the content itself says it is over (left the call, beacon
///   stopped), whatever the clock; `expiry` is then [`Expiry::ended`].
/// - `should_ring`: `Some` for events that can ring (`m.rtc.notification`:
///   type `ring` and not expired; `m.call.invite`: not expired), `None`
///   otherwise.
/// - `ignore`: a verification request outside its validity window (10 min
///   past / 5 min future): drop it without showing anything, whatever
///   `expiry` says. `verification_validity` says which side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EventExpiry {
    /// The event's `type` as given.
    pub event_type: String,
    /// Which rule decided.
    pub rule: ExpiryRule,
    /// The decision at the given server time.
    pub expiry: Expiry,
    /// The content declares the thing over (left / stopped).
    pub ended: bool,
    /// Ring decision, for event types that ring.
    pub should_ring: Option<bool>,
    /// Verification request to be ignored (outside the validity window).
    pub ignore: bool,
    /// For verification requests: where the timestamp stands.
    pub verification_validity: Option<VerificationValidity>,
}

/// The outcome for one element of a batch: exactly one of `result` and
/// `error` is set. `event_id` is copied from the event when it has a string
/// one, so apps can match outcomes to events (the order is also kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EventOutcome {
    /// The event's `event_id`, if it has one.
    pub event_id: Option<String>,
    /// The decision, when the event could be evaluated.
    pub result: Option<EventExpiry>,
    /// The error message (as `Error`'s `Display`), when it could not.
    pub error: Option<String>,
}

/// Evaluates one event (already parsed) at `now`.
///
/// `received_boot_ms` is the boot-clock time this device received the event;
/// it feeds the rules with a boot-clock part (verification prompt: receipt +
/// 2 min; `m.rtc.member` `unsigned` ttl and its start clamp). Pass `None` if
/// unknown: those parts are then skipped (documented per rule).
///
/// ```
/// use mxclock::events::{evaluate_event, ExpiryRule};
/// use mxclock::expiry::{ExpiryState, ServerNow};
/// let now = ServerNow { server_now_ms: 1_700_000_030_000, uncertainty_ms: 20, boot_ms: 0 };
/// let invite = serde_json::json!({
///     "type": "m.call.invite", "origin_server_ts": 1_700_000_000_000_i64,
///     "content": { "call_id": "c1", "lifetime": 60_000, "version": "1" }
/// });
/// let e = evaluate_event(&invite, &now, None).unwrap();
/// assert_eq!(e.rule, ExpiryRule::CallInvite);
/// assert_eq!(e.expiry.state, ExpiryState::Live);
/// assert_eq!(e.should_ring, Some(true));
/// ```
pub fn evaluate_event(
    event: &Value,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<EventExpiry> {
    let obj = event.as_object().ok_or_else(|| {
        invalid(
            "$",
            format!("expected a JSON object (one event), got {}", kind(event)),
        )
    })?;
    let event_type = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(invalid(
                "type",
                format!("expected a string, got {}", kind(other)),
            ))
        }
        None => return Err(invalid("type", "missing")),
    };
    let ev = Ev { obj };
    match event_type {
        "m.call.member" | "org.matrix.msc3401.call.member" => call_member(&ev, event_type, now),
        "m.rtc.member" | "org.matrix.msc4143.rtc.member" => {
            rtc_member(&ev, event_type, now, received_boot_ms)
        }
        "m.rtc.notification" | "org.matrix.msc4075.rtc.notification" => {
            rtc_notification(&ev, event_type, now)
        }
        "m.beacon_info" | "org.matrix.msc3672.beacon_info" => beacon_info(&ev, event_type, now),
        "m.key.verification.request" => {
            let content = ev.content()?;
            let ts = req_int(content, "timestamp", "content.timestamp")?;
            Ok(verification(
                event_type,
                ExpiryRule::VerificationRequestToDevice,
                ts,
                now,
                received_boot_ms,
            ))
        }
        "m.room.message" => {
            let content = ev.content()?;
            match content.get("msgtype") {
                Some(Value::String(m)) if m == "m.key.verification.request" => {
                    let ts = ev.origin_server_ts()?;
                    Ok(verification(
                        event_type,
                        ExpiryRule::VerificationRequestInRoom,
                        ts,
                        now,
                        received_boot_ms,
                    ))
                }
                _ => Err(Error::NoExpiryRule {
                    event_type: event_type.to_owned(),
                }),
            }
        }
        "m.call.invite" => {
            let content = ev.content()?;
            let lifetime = req_int(content, "lifetime", "content.lifetime")?;
            let ots = ev.origin_server_ts()?;
            let expiry = call_invite_expiry(ots, lifetime, DEFAULT_CALL_INVITE_GRACE_MS, now);
            Ok(EventExpiry {
                should_ring: Some(!expiry.is_expired),
                ..plain(event_type, ExpiryRule::CallInvite, expiry)
            })
        }
        other => Err(Error::NoExpiryRule {
            event_type: other.to_owned(),
        }),
    }
}

/// Parses `json` (one event object) and evaluates it; see [`evaluate_event`].
pub fn evaluate_event_json(
    json: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<EventExpiry> {
    let value = skim(json)?;
    evaluate_event(&value, now, received_boot_ms)
}

/// Evaluates every event of a JSON array with **one** server-time reading,
/// in one call (a uniffi call costs ~9 µs from Kotlin whatever it does, so a
/// timeline must not pay it per event). An event that cannot be evaluated
/// gives an [`EventOutcome`] with `error` set and does not fail the batch;
/// the call fails only if `json_array` is not a JSON array.
pub fn evaluate_events_json(
    json_array: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Vec<EventOutcome>> {
    // Stream the array: each element is parsed, evaluated and dropped before
    // the next, so only one event's tree is alive at a time (building the
    // whole array as one `Value` first was slower per event than single
    // calls; see benches/expiry.rs).
    let mut de = serde_json::Deserializer::from_str(json_array);
    let outcomes = serde::Deserializer::deserialize_seq(
        &mut de,
        BatchVisitor {
            now,
            received_boot_ms,
        },
    )
    .and_then(|outcomes| de.end().map(|()| outcomes))
    .map_err(|e| invalid("$", batch_error(&e)))?;
    Ok(outcomes)
}

fn batch_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => format!("{e}"),
        _ => format!("not valid JSON: {e}"),
    }
}

fn outcome(event: &Value, now: &ServerNow, received_boot_ms: Option<i64>) -> EventOutcome {
    let event_id = event
        .get("event_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match evaluate_event(event, now, received_boot_ms) {
        Ok(r) => EventOutcome {
            event_id,
            result: Some(r),
            error: None,
        },
        Err(e) => EventOutcome {
            event_id,
            result: None,
            error: Some(e.to_string()),
        },
    }
}

struct BatchVisitor<'a> {
    now: &'a ServerNow,
    received_boot_ms: Option<i64>,
}

impl<'de> serde::de::Visitor<'de> for BatchVisitor<'_> {
    type Value = Vec<EventOutcome>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(event) = seq.next_element_seed(Skim::Top)? {
            out.push(outcome(&event, self.now, self.received_boot_ms));
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// Rules: JSON → typed inputs
// ---------------------------------------------------------------------------

fn call_member(ev: &Ev<'_>, event_type: &str, now: &ServerNow) -> Result<EventExpiry> {
    let content = ev.content()?;
    if is_left(content) {
        return Ok(left(event_type, now));
    }
    if let Some(memberships) = content.get("memberships") {
        // Legacy MSC3401: one event per user, an array of device memberships.
        // The user is in the call while any device membership lasts.
        let list = memberships.as_array().ok_or_else(|| {
            invalid(
                "content.memberships",
                format!("expected an array, got {}", kind(memberships)),
            )
        })?;
        if list.is_empty() {
            return Ok(left(event_type, now));
        }
        let mut latest: Option<Expiry> = None;
        for (i, m) in list.iter().enumerate() {
            let path = format!("content.memberships[{i}]");
            let m = m
                .as_object()
                .ok_or_else(|| invalid(&path, format!("expected an object, got {}", kind(m))))?;
            let e = legacy_device(ev, m, &path, now)?;
            latest = Some(match latest {
                Some(l) => Expiry::latest(l, e),
                None => e,
            });
        }
        // list is not empty, so latest is set.
        let expiry = latest.unwrap_or_else(|| Expiry::ended(now));
        return Ok(plain(event_type, ExpiryRule::CallMemberLegacy, expiry));
    }
    if content.contains_key("expires_ts") {
        let expires_ts = req_int(content, "expires_ts", "content.expires_ts")?;
        let expiry = call_membership_legacy_expiry(expires_ts, now);
        return Ok(plain(event_type, ExpiryRule::CallMemberLegacy, expiry));
    }
    let created_ts = opt_int(content, "created_ts", "content.created_ts")?;
    let expires = opt_int(content, "expires", "content.expires")?;
    // origin_server_ts is only read when created_ts is absent (js: `??`).
    let ots = match created_ts {
        Some(_) => 0,
        None => ev.origin_server_ts()?,
    };
    let expiry = call_membership_session_expiry(created_ts, ots, expires, now);
    Ok(plain(event_type, ExpiryRule::CallMemberSession, expiry))
}

/// One legacy device membership: `expires_ts`, or (`created_ts` ??
/// `origin_server_ts`) + `expires` (matrix-js-sdk `getAbsoluteExpiry`).
fn legacy_device(
    ev: &Ev<'_>,
    m: &Map<String, Value>,
    path: &str,
    now: &ServerNow,
) -> Result<Expiry> {
    if m.contains_key("expires_ts") {
        let ts = req_int(m, "expires_ts", &format!("{path}.expires_ts"))?;
        return Ok(call_membership_legacy_expiry(ts, now));
    }
    let Some(_) = m.get("expires") else {
        return Err(invalid(
            format!("{path}.expires_ts"),
            "missing (a legacy membership needs `expires_ts` or `expires`)",
        ));
    };
    let expires = req_int(m, "expires", &format!("{path}.expires"))?;
    let created_ts = opt_int(m, "created_ts", &format!("{path}.created_ts"))?;
    let ots = match created_ts {
        Some(_) => 0,
        None => ev.origin_server_ts()?,
    };
    Ok(call_membership_session_expiry(
        created_ts,
        ots,
        Some(expires),
        now,
    ))
}

/// Stable and unstable names of the server's remaining stickiness in
/// `unsigned`, most authoritative first: DESIGN.md's
/// `sticky_duration_ttl_ms`, the current MSC4354 stable
/// `sticky_duration_remaining_ms`, the unstable
/// `msc4354_sticky_duration_ttl_ms` (what Synapse sends today).
const STICKY_TTL_KEYS: [&str; 3] = [
    "sticky_duration_ttl_ms",
    "sticky_duration_remaining_ms",
    "msc4354_sticky_duration_ttl_ms",
];

fn rtc_member(
    ev: &Ev<'_>,
    event_type: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<EventExpiry> {
    let content = ev.content()?;
    if is_left(content) {
        return Ok(left(event_type, now));
    }
    let mut ttl = None;
    if let Some(unsigned) = ev.opt_object("unsigned")? {
        for key in STICKY_TTL_KEYS {
            if let Some(v) = opt_int(unsigned, key, &format!("unsigned.{key}"))? {
                ttl = Some(v);
                break;
            }
        }
    }
    if let (Some(ttl), Some(received)) = (ttl, received_boot_ms) {
        let expiry = rtc_member_sticky_ttl_expiry(ttl, received, now);
        return Ok(plain(event_type, ExpiryRule::RtcMemberStickyTtl, expiry));
    }
    // Top-level `sticky` (stable) or `msc4354_sticky` (unstable).
    let (sticky, name) = match (ev.opt_object("sticky")?, ev.opt_object("msc4354_sticky")?) {
        (Some(s), _) => (Some(s), "sticky"),
        (None, Some(s)) => (Some(s), "msc4354_sticky"),
        (None, None) => (None, "sticky"),
    };
    let duration_path = format!("{name}.duration_ms");
    let duration = match sticky {
        Some(s) => opt_int(s, "duration_ms", &duration_path)?,
        None => None,
    };
    let Some(duration) = duration else {
        let why = if ttl.is_some() {
            "missing; the event has an `unsigned` sticky ttl but no receipt time \
             (received_boot_ms) to count it from"
        } else {
            "missing: m.rtc.member is only live while sticky (MSC4354)"
        };
        return Err(invalid(duration_path, why));
    };
    let ots = ev.origin_server_ts()?;
    let expiry = rtc_member_sticky_expiry(ots, duration, received_boot_ms, now);
    Ok(plain(event_type, ExpiryRule::RtcMemberSticky, expiry))
}

fn rtc_notification(ev: &Ev<'_>, event_type: &str, now: &ServerNow) -> Result<EventExpiry> {
    let content = ev.content()?;
    let sender_ts = req_int(content, "sender_ts", "content.sender_ts")?;
    let lifetime = req_int(content, "lifetime", "content.lifetime")?;
    let notification_type = match content.get("notification_type") {
        Some(Value::String(t)) if t == "ring" => NotificationType::Ring,
        // MSC4075 defines `notification`; an unknown future type must not ring.
        Some(Value::String(_)) => NotificationType::Notification,
        Some(other) => {
            return Err(invalid(
                "content.notification_type",
                format!("expected a string, got {}", kind(other)),
            ))
        }
        None => return Err(invalid("content.notification_type", "missing")),
    };
    let ots = ev.origin_server_ts()?;
    let expiry = rtc_notification_expiry(sender_ts, ots, lifetime, now);
    Ok(EventExpiry {
        should_ring: Some(rtc_notification_should_ring(notification_type, &expiry)),
        ..plain(event_type, ExpiryRule::RtcNotification, expiry)
    })
}

fn beacon_info(ev: &Ev<'_>, event_type: &str, now: &ServerNow) -> Result<EventExpiry> {
    let content = ev.content()?;
    // An early MSC3672 draft nested `live`/`timeout` in a `m.beacon_info`
    // object inside the content; the current form (ruma) has them flat.
    let (info, prefix) = if content.contains_key("live") {
        (content, "content")
    } else if let Some(Value::Object(o)) = content.get("m.beacon_info") {
        (o, "content.m.beacon_info")
    } else if let Some(Value::Object(o)) = content.get("org.matrix.msc3672.beacon_info") {
        (o, "content.org.matrix.msc3672.beacon_info")
    } else {
        (content, "content")
    };
    let live = match info.get("live") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                format!("{prefix}.live"),
                format!("expected a boolean, got {}", kind(other)),
            ))
        }
        None => return Err(invalid(format!("{prefix}.live"), "missing")),
    };
    if !live {
        return Ok(EventExpiry {
            ended: true,
            ..plain(event_type, ExpiryRule::BeaconInfo, Expiry::ended(now))
        });
    }
    let timeout = req_int(info, "timeout", &format!("{prefix}.timeout"))?;
    // MSC3488 timestamp: stable `m.ts`, unstable `org.matrix.msc3488.ts`.
    let ts = match opt_int(content, "m.ts", "content.m.ts")? {
        Some(ts) => ts,
        None => req_int(
            content,
            "org.matrix.msc3488.ts",
            "content.org.matrix.msc3488.ts",
        )?,
    };
    let expiry = beacon_info_expiry(true, ts, timeout, now);
    Ok(plain(event_type, ExpiryRule::BeaconInfo, expiry))
}

fn verification(
    event_type: &str,
    rule: ExpiryRule,
    ts: i64,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> EventExpiry {
    let validity = verification_request_validity(ts, now);
    let expiry = verification_prompt_expiry(ts, received_boot_ms, now);
    EventExpiry {
        ignore: validity != VerificationValidity::Valid,
        verification_validity: Some(validity),
        ..plain(event_type, rule, expiry)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn plain(event_type: &str, rule: ExpiryRule, expiry: Expiry) -> EventExpiry {
    EventExpiry {
        event_type: event_type.to_owned(),
        rule,
        expiry,
        ended: false,
        should_ring: None,
        ignore: false,
        verification_validity: None,
    }
}

fn left(event_type: &str, now: &ServerNow) -> EventExpiry {
    EventExpiry {
        ended: true,
        ..plain(event_type, ExpiryRule::MembershipLeft, Expiry::ended(now))
    }
}

/// Content of a membership that left: nothing but these keys (MSC4143: an
/// empty `m.rtc.member` "with optional leave_reason" has left; MSC4354 keeps
/// the sticky key on removals).
fn is_left(content: &Map<String, Value>) -> bool {
    content.keys().all(|k| {
        matches!(
            k.as_str(),
            "leave_reason" | "sticky_key" | "msc4354_sticky_key"
        )
    })
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidEvent {
        field: field.into(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Skimming: parse only what a rule can read
// ---------------------------------------------------------------------------

/// Top-level keys some rule reads. Others are skipped without building
/// them (their syntax is still checked).
fn is_top_key(key: &str) -> bool {
    matches!(
        key,
        "type"
            | "event_id"
            | "origin_server_ts"
            | "content"
            | "unsigned"
            | "sticky"
            | "msc4354_sticky"
    )
}

/// `content` keys some rule reads. Other content keys are kept by name with
/// a `null` value and their value skipped: rules never read them, but
/// whether they exist decides "left the call" ([`is_left`]). A call invite's
/// SDP offer or a message body is therefore never copied. Keep in step with
/// the rules; `tests/events_json.rs` checks that skimming and a full parse
/// decide every fixture and random event alike.
fn is_content_key(key: &str) -> bool {
    matches!(
        key,
        "created_ts"
            | "expires"
            | "expires_ts"
            | "memberships"
            | "lifetime"
            | "sender_ts"
            | "notification_type"
            | "live"
            | "timeout"
            | "m.ts"
            | "org.matrix.msc3488.ts"
            | "m.beacon_info"
            | "org.matrix.msc3672.beacon_info"
            | "timestamp"
            | "msgtype"
            | "leave_reason"
            | "sticky_key"
            | "msc4354_sticky_key"
    )
}

/// An object key as seen while skimming: the name is only allocated when it
/// is kept (or, in `content`, when an unread key's presence matters).
enum Key {
    Keep(String),
    /// Not read; in `content` its name is still recorded.
    Skip(Option<String>),
}

struct KeySeed(Skim);

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> std::result::Result<Key, E> {
        Ok(match self.0 {
            Skim::Top if is_top_key(key) => Key::Keep(key.to_owned()),
            Skim::Top => Key::Skip(None),
            Skim::Content if is_content_key(key) => Key::Keep(key.to_owned()),
            Skim::Content => Key::Skip(Some(key.to_owned())),
        })
    }
}

/// Parses one event, skimming (see [`Skim`]).
fn skim(json: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde::de::DeserializeSeed::deserialize(Skim::Top, &mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| invalid("$", format!("not valid JSON: {e}")))
}

/// A JSON value parsed at one level of an event: objects keep only the keys
/// of that level's list; every other JSON value is built as usual (so a
/// non-object event or content still gets its precise error later).
#[derive(Clone, Copy)]
enum Skim {
    /// The event object.
    Top,
    /// Its `content`.
    Content,
}

impl<'de> serde::de::DeserializeSeed<'de> for Skim {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Skim {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        seq: A,
    ) -> std::result::Result<Value, A::Error> {
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed(self))? {
            match key {
                Key::Keep(key) if matches!(self, Skim::Top) && key == "content" => {
                    let content = map.next_value_seed(Skim::Content)?;
                    out.insert(key, content);
                }
                Key::Keep(key) => {
                    out.insert(key, map.next_value::<Value>()?);
                }
                Key::Skip(name) => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if let Some(name) = name {
                        out.insert(name, Value::Null);
                    }
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// "a string (\"abc\")" etc., for error messages. Strings are cut short so
/// a huge field cannot make a huge message.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let more = if short.len() < s.len() { "..." } else { "" };
            format!("a string ({short:?}{more})")
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A non-negative integer that fits an i64, or a typed error saying why not.
fn int_value(v: &Value, path: &str) -> Result<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i < 0 {
                    Err(invalid(path, format!("must not be negative, got {i}")))
                } else {
                    Ok(i)
                }
            } else if n.is_u64() {
                Err(invalid(
                    path,
                    format!("{n} is too large (more than {})", i64::MAX),
                ))
            } else {
                Err(invalid(
                    path,
                    format!("expected an integer number of milliseconds, got {n}"),
                ))
            }
        }
        other => Err(invalid(
            path,
            format!("expected an integer, got {}", kind(other)),
        )),
    }
}

/// Required integer field.
fn req_int(obj: &Map<String, Value>, key: &str, path: &str) -> Result<i64> {
    match obj.get(key) {
        Some(Value::Null) | None => Err(invalid(path, "missing")),
        Some(v) => int_value(v, path),
    }
}

/// Optional integer field; absent and `null` are both "not given" (as js `??`).
fn opt_int(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>> {
    match obj.get(key) {
        Some(Value::Null) | None => Ok(None),
        Some(v) => int_value(v, path).map(Some),
    }
}

/// The top level of one event.
struct Ev<'a> {
    obj: &'a Map<String, Value>,
}

impl<'a> Ev<'a> {
    fn content(&self) -> Result<&'a Map<String, Value>> {
        match self.obj.get("content") {
            Some(Value::Object(c)) => Ok(c),
            Some(other) => Err(invalid(
                "content",
                format!("expected an object, got {}", kind(other)),
            )),
            None => Err(invalid("content", "missing")),
        }
    }

    fn origin_server_ts(&self) -> Result<i64> {
        req_int(self.obj, "origin_server_ts", "origin_server_ts")
    }

    fn opt_object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>> {
        match self.obj.get(key) {
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(Value::Null) | None => Ok(None),
            Some(other) => Err(invalid(
                key,
                format!("expected an object, got {}", kind(other)),
            )),
        }
    }
}
