//! Matrix event JSON → which expiry rule applies → [`Expiry`]. Pure: JSON
//! text in, decisions out; the rules themselves live in [`crate::expiry`],
//! and `docs/expiry.md` compares them with the reference implementations.
//!
//! Recognised event types (stable and unstable names):
//!
//! | `type` | rule |
//! |---|---|
//! | `m.call.member`, `org.matrix.msc3401.call.member` | session format, legacy `memberships` array, original MSC3401 `m.calls`, or left |
//! | `m.rtc.member`, `org.matrix.msc4143.rtc.member` | sticky (MSC4354), or left |
//! | `m.rtc.notification`, `org.matrix.msc4075.rtc.notification` | notification lifetime + ring decision |
//! | `m.beacon_info`, `org.matrix.msc3672.beacon_info` | live location |
//! | `m.key.verification.request` (to-device, `content.timestamp`) | verification request |
//! | `m.room.message` with `msgtype` `m.key.verification.request` (in-room, `origin_server_ts`) | verification request |
//! | `m.call.invite` | invite lifetime (spec rule, no grace), by timestamp and by `unsigned.age` |
//! | `m.rtc.decline`, `org.matrix.msc4310.rtc.decline`, `m.call.answer`, `m.call.reject`, `m.call.hangup` | ring response: ends the ring it refers to within a batch |
//! | any other type with a top-level `sticky` / `msc4354_sticky` object | sticky (MSC4354) |
//!
//! Anything else is [`Error::NoExpiryRule`]. Encrypted events
//! (`m.room.encrypted`) must be decrypted first, unless they are sticky (the
//! sticky object is outside the encryption).
//!
//! ## Left / stopped / answered
//!
//! An `m.call.member` or `m.rtc.member` whose content holds no membership
//! (empty, or only `leave_reason` / the sticky key), an `m.rtc.member` with
//! `member.membership` other than `join` or that is not sticky, and a
//! legacy membership without devices mean the device **left the call**.
//! That is not an error: the result has `rule = MembershipLeft`, `ended =
//! true` and an [`Expiry::ended`] expiry (Expired, remaining 0). A beacon
//! with `live: false` was stopped: rule `BeaconInfo`, `ended = true`, same
//! expiry. In a batch, a ring response (decline, answer, reject, hangup)
//! ends the ring of the notification it relates to (`m.relates_to`) or of
//! the invite with its `call_id`: that outcome gets `ended = true`,
//! `should_ring = Some(false)` and [`Expiry::ended`].
//!
//! ## Errors
//!
//! Not JSON, not an object, a missing or ill-typed field the rule needs:
//! [`Error::InvalidEvent`] with `field` = the JSON path (`$` for the whole
//! input, `content.lifetime`, `content.memberships[2].expires_ts`, ...).
//! Timestamps and durations must be non-negative integers that canonical
//! JSON allows (at most 2^53 − 1): floats (`1.5`, `1e3`, `1e400`), `-0`,
//! negatives, larger numbers and strings are rejected with a reason saying
//! which. Fields a rule does not use are not checked. Nothing here panics
//! on any input.
//!
//! ## Parsing
//!
//! Events are read into typed structs (`serde` derive, borrowing from the
//! input): only the fields some rule reads are kept, everything else is
//! skipped without being built. Fields a rule reads are captured as raw JSON
//! text, so a wrong type or an out-of-range number becomes that event's own
//! error naming its path instead of aborting the parse (a batch goes on with
//! the next event).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
pub(crate) use crate::expiry::ExpiryRule;
use crate::expiry::{
    beacon_info_expiry, call_invite_age_expiry, call_invite_expiry, call_membership_legacy_expiry,
    call_membership_session_expiry, rtc_notification_expiry, rtc_notification_should_ring,
    sticky_expiry, sticky_ttl_expiry, verification_request_expiry, Expiry, NotificationType,
    ServerNow, VerificationValidity, BEACON_DEFAULT_TIMEOUT_MS, DEFAULT_CALL_INVITE_GRACE_MS,
    NOTIFICATION_DEFAULT_LIFETIME_MS,
};

/// The largest integer canonical JSON allows, 2^53 − 1. Source: spec
/// appendices, "Canonical JSON" ("Numbers in the JSON must be integers in
/// the range [-(2**53)+1, (2**53)-1]"); ruma reads timestamps as `js_int::UInt`
/// and rejects larger ones.
pub(crate) const CANONICAL_JSON_MAX_INT: i64 = 9_007_199_254_740_991;

/// The expiry decision for one event.
///
/// Read `expiry` for the deadline, the remaining time, the state and the
/// boot-clock time to arm a timer at. The other fields say what the app
/// should do beyond "is it over":
/// - `ended`: the content itself says it is over (left the call, beacon
///   stopped, ring answered or declined), whatever the clock; `expiry` is
///   then [`Expiry::ended`].
/// - `should_ring`: `Some` for events that can ring (`m.rtc.notification`:
///   type `ring` and not expired; `m.call.invite`: not expired; ring
///   responses: `false`), `None` otherwise.
/// - `ignore`: a verification request outside its validity window (10 min
///   past / 5 min future): drop it without showing anything. Its `expiry`
///   is then [`Expiry::ended`] too, so `state` alone never shows it as
///   live. `verification_validity` says which side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EventExpiry {
    /// Which rule decided (and so which kind of event it was).
    pub rule: ExpiryRule,
    /// The decision at the given server time.
    pub expiry: Expiry,
    /// The content declares the thing over (left / stopped / answered).
    pub ended: bool,
    /// Ring decision, for event types that ring.
    pub should_ring: Option<bool>,
    /// Verification request to be ignored (outside the validity window).
    pub ignore: bool,
    /// For verification requests: where the timestamp stands.
    pub verification_validity: Option<VerificationValidity>,
}

/// Why one event of a batch could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EventErrorKind {
    /// Not JSON, not an object, or a field of the wrong type
    /// ([`Error::InvalidEvent`]).
    InvalidEvent,
    /// The event type has no expiry rule ([`Error::NoExpiryRule`]).
    NoExpiryRule,
}

/// The error of one event of a batch: what [`evaluate_event_json`] would
/// have returned for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EventError {
    /// Which kind of error.
    pub kind: EventErrorKind,
    /// The JSON path of the problem (`$` for the whole event,
    /// `content.lifetime`, ...; `type` for an event type without a rule).
    pub path: String,
    /// The message (as [`Error`]'s `Display`), naming the path.
    pub message: String,
}

impl From<Error> for EventError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::NoExpiryRule { .. } => EventError {
                kind: EventErrorKind::NoExpiryRule,
                path: "type".to_owned(),
                message,
            },
            Error::InvalidEvent { field, .. } => EventError {
                kind: EventErrorKind::InvalidEvent,
                path: field,
                message,
            },
            // Evaluation only produces the two kinds above; anything else
            // is still reported, at the event as a whole.
            _ => EventError {
                kind: EventErrorKind::InvalidEvent,
                path: "$".to_owned(),
                message,
            },
        }
    }
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
    /// Why not, when it could not.
    pub error: Option<EventError>,
}

/// Evaluates one event (already parsed) at `now`; the same as
/// [`evaluate_event_json`] on its text.
///
/// `received_boot_ms` is the boot-clock time this device received the event;
/// it feeds the rules with a boot-clock part (verification prompt: receipt +
/// 2 min; sticky `unsigned` ttl and the start clamp; invite `unsigned.age`).
/// Pass `None` if unknown: those parts are then skipped or use `now`
/// instead (documented per rule).
///
/// ```
/// use mxclock::{evaluate_event, ExpiryRule, ExpiryState, ServerNow};
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
    // The typed parse reads numbers as text (to tell `1e3` from `1000` and
    // to reject what canonical JSON forbids), which only a parser over text
    // can give: print the value and read it back. Callers that have the
    // text should call `evaluate_event_json`, which skips this.
    evaluate_event_json(&event.to_string(), now, received_boot_ms)
}

/// Parses `json` (one event object) and evaluates it; see [`evaluate_event`].
pub fn evaluate_event_json(
    json: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<EventExpiry> {
    let mut de = serde_json::Deserializer::from_str(json);
    let event = Obj::<EventJson<'_>>::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| invalid("$", json_error(&e)))?;
    evaluate_obj(&event, now, received_boot_ms).map(|(e, _)| e)
}

/// Evaluates every event of a JSON array with **one** server-time reading,
/// in one call (a call across the FFI costs microseconds, so a timeline must
/// not pay it per event). An event that cannot be evaluated gives an
/// [`EventOutcome`] with `error` set and does not fail the batch; the call
/// fails only if `json_array` is not a JSON array.
///
/// Ring responses in the batch end the rings they refer to: an
/// `m.rtc.decline` whose `m.relates_to.event_id` is a notification of the
/// batch, and an `m.call.answer` / `m.call.reject` / `m.call.hangup` with the
/// `call_id` of an invite of the batch.
pub fn evaluate_events_json(
    json_array: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Vec<EventOutcome>> {
    // Fast path: one pass over the text, each event parsed, evaluated and
    // dropped before the next. Only text that is not JSON, or an event whose
    // JSON cannot be read at all (a duplicate key, a number serde_json
    // cannot hold in a field read as an object), stops it; then each
    // element is captured as text first and evaluated on its own, so one
    // bad event gives one error outcome.
    let mut de = serde_json::Deserializer::from_str(json_array);
    let fast = de
        .deserialize_seq(Batch {
            now,
            received_boot_ms,
            // A small event is a few hundred bytes of JSON; a guess, not a
            // limit (the vector grows as needed).
            capacity: (json_array.len() / 256).min(1 << 16),
        })
        .and_then(|v| de.end().map(|()| v));
    let Evaluated {
        mut outcomes,
        rings,
    } = match fast {
        Ok(v) => v,
        Err(_) => per_element(json_array, now, received_boot_ms)?,
    };
    end_answered_rings(&mut outcomes, &rings, now);
    Ok(outcomes)
}

/// The outcomes of a batch, and how its events take part in rings (by
/// index into `outcomes`; most events take no part).
#[derive(Default)]
struct Evaluated {
    outcomes: Vec<EventOutcome>,
    rings: Vec<(usize, Ring)>,
}

impl Evaluated {
    fn with_capacity(n: usize) -> Self {
        Evaluated {
            outcomes: Vec::with_capacity(n),
            rings: Vec::new(),
        }
    }

    fn push(&mut self, (outcome, ring): (EventOutcome, Ring)) {
        if ring != Ring::None {
            self.rings.push((self.outcomes.len(), ring));
        }
        self.outcomes.push(outcome);
    }
}

/// The slow path of [`evaluate_events_json`]: the array's elements as raw
/// text, each evaluated like a single event.
fn per_element(
    json_array: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Evaluated> {
    let first = json_array.trim_start_matches([' ', '\t', '\n', '\r']);
    if !first.starts_with('[') {
        let what = match serde_json::from_str::<&RawValue>(json_array) {
            Ok(raw) => describe(raw.get()),
            Err(e) => return Err(invalid("$", json_error(&e))),
        };
        return Err(invalid(
            "$",
            format!("expected a JSON array of events, got {what}"),
        ));
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(json_array).map_err(|e| invalid("$", json_error(&e)))?;
    let mut evaluated = Evaluated::with_capacity(items.len());
    for raw in items {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        evaluated.push(match Obj::<EventJson<'_>>::deserialize(&mut de) {
            Ok(ev) => outcome(&ev, now, received_boot_ms),
            Err(e) => (
                EventOutcome {
                    event_id: event_id_only(raw.get()),
                    result: None,
                    error: Some(invalid("$", json_error(&e)).into()),
                },
                Ring::None,
            ),
        });
    }
    Ok(evaluated)
}

/// The `event_id` of an event that cannot be read as a whole (a duplicate
/// key, say), so its error outcome can still be matched to it.
fn event_id_only(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        event_id: Raw<'a>,
    }
    let id: Id<'_> = serde_json::from_str(json).ok()?;
    parse_str(id.event_id?).ok().map(Cow::into_owned)
}

/// A serde_json error as an error reason: syntax problems say "not valid
/// JSON", data problems (a duplicate key, ...) speak for themselves.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => e.to_string(),
        _ => format!("not valid JSON: {e}"),
    }
}

struct Batch<'n> {
    now: &'n ServerNow,
    received_boot_ms: Option<i64>,
    /// Expected number of events (serde_json gives no size hint).
    capacity: usize,
}

impl<'de> Visitor<'de> for Batch<'_> {
    type Value = Evaluated;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Evaluated::with_capacity(self.capacity);
        while let Some(event) = seq.next_element::<Obj<EventJson<'de>>>()? {
            out.push(outcome(&event, self.now, self.received_boot_ms));
        }
        Ok(out)
    }
}

fn outcome(
    event: &Obj<EventJson<'_>>,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> (EventOutcome, Ring) {
    let event_id = match event {
        Obj::Ok(ev) => ev.event_id.and_then(|raw| parse_str(raw).ok()),
        Obj::Wrong(_) => None,
    }
    .map(Cow::into_owned);
    match evaluate_obj(event, now, received_boot_ms) {
        Ok((r, ring)) => (
            EventOutcome {
                event_id,
                result: Some(r),
                error: None,
            },
            ring,
        ),
        Err(e) => (
            EventOutcome {
                event_id,
                result: None,
                error: Some(e.into()),
            },
            Ring::None,
        ),
    }
}

/// How an evaluated event of a batch takes part in a ring.
#[derive(Debug, PartialEq, Eq)]
enum Ring {
    None,
    /// A notification that rings; a decline names it by its `event_id`.
    Notification,
    /// An invite, named by its `call_id`.
    Invite(String),
    /// A decline of the notification with this `event_id`.
    EndsNotification(String),
    /// An answer, rejection or hangup of the call with this `call_id`.
    EndsCall(String),
}

/// Ends every ring of the batch that a response in the batch answers.
fn end_answered_rings(outcomes: &mut [EventOutcome], rings: &[(usize, Ring)], now: &ServerNow) {
    let answers = |r: &Ring| matches!(r, Ring::EndsNotification(_) | Ring::EndsCall(_));
    if !rings.iter().any(|(_, r)| answers(r)) {
        return;
    }
    let answered = |i: usize, ring: &Ring| match ring {
        Ring::Notification => outcomes[i].event_id.as_ref().is_some_and(|id| {
            rings
                .iter()
                .any(|(_, r)| matches!(r, Ring::EndsNotification(target) if target == id))
        }),
        Ring::Invite(call_id) => rings
            .iter()
            .any(|(_, r)| matches!(r, Ring::EndsCall(target) if target == call_id)),
        _ => false,
    };
    let ended: Vec<usize> = rings
        .iter()
        .filter(|(i, ring)| answered(*i, ring))
        .map(|(i, _)| *i)
        .collect();
    for i in ended {
        if let Some(r) = outcomes[i].result.as_mut() {
            r.ended = true;
            r.should_ring = Some(false);
            r.expiry = Expiry::ended(now);
        }
    }
}

// ---------------------------------------------------------------------------
// Typed event JSON
// ---------------------------------------------------------------------------

/// A field a rule reads as a scalar: its raw JSON text, checked when read
/// (absent and `null` are both `None`, as js `??` has it).
type Raw<'a> = Option<&'a RawValue>;

/// The parts of an event the rules read.
#[derive(Deserialize)]
struct EventJson<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Raw<'a>,
    #[serde(borrow)]
    event_id: Raw<'a>,
    #[serde(borrow)]
    origin_server_ts: Raw<'a>,
    // Boxed: the content struct is large, and moving it through the
    // `Result`/`Obj`/`Option` layers of the parse cost more than one
    // allocation (benches/expiry.rs).
    #[serde(borrow)]
    content: Option<Obj<Box<Content<'a>>>>,
    #[serde(borrow)]
    unsigned: Option<Obj<Unsigned<'a>>>,
    /// MSC4354 (stable).
    #[serde(borrow)]
    sticky: Option<Obj<Sticky<'a>>>,
    /// MSC4354 (unstable).
    #[serde(borrow)]
    msc4354_sticky: Option<Obj<Sticky<'a>>>,
}

/// The content fields of every event type with a rule (one struct: the
/// `type` may come after the `content` in the text).
#[derive(Deserialize)]
struct Content<'a> {
    // m.call.member, session format (matrix-js-sdk SessionMembershipData,
    // ruma SessionMembershipData).
    #[serde(borrow)]
    created_ts: Raw<'a>,
    #[serde(borrow)]
    expires: Raw<'a>,
    // Legacy m.call.member: per-user list of device memberships.
    #[serde(borrow)]
    memberships: Option<List<Obj<LegacyMembership<'a>>>>,
    // Original MSC3401 m.call.member.
    #[serde(rename = "m.calls", borrow)]
    calls: Option<List<Obj<Msc3401Call<'a>>>>,
    // Fields that make a content a membership; only their presence counts.
    device_id: Option<IgnoredAny>,
    focus_active: Option<IgnoredAny>,
    foci_preferred: Option<IgnoredAny>,
    scope: Option<IgnoredAny>,
    #[serde(rename = "membershipID")]
    membership_id: Option<IgnoredAny>,
    #[serde(rename = "m.call.intent")]
    call_intent: Option<IgnoredAny>,
    expires_ts: Option<IgnoredAny>,
    slot_id: Option<IgnoredAny>,
    transports: Option<IgnoredAny>,
    rtc_transports: Option<IgnoredAny>,
    versions: Option<IgnoredAny>,
    // A string in the session format, an object in m.rtc.member and in the
    // newest MSC4075 notification.
    #[serde(borrow)]
    application: Option<Obj<Application<'a>>>,
    // m.rtc.member (MSC4143).
    #[serde(borrow)]
    member: Option<Obj<RtcMember<'a>>>,
    // VoIP (m.call.invite / answer / reject / hangup), and a membership field.
    #[serde(borrow)]
    call_id: Raw<'a>,
    // m.rtc.notification (MSC4075, the older top-level form).
    #[serde(borrow)]
    notification_type: Raw<'a>,
    #[serde(borrow)]
    sender_ts: Raw<'a>,
    #[serde(borrow)]
    lifetime: Raw<'a>,
    // m.beacon_info (MSC3672, MSC3488 timestamp).
    #[serde(borrow)]
    live: Raw<'a>,
    #[serde(borrow)]
    timeout: Raw<'a>,
    #[serde(rename = "m.ts", borrow)]
    ts: Raw<'a>,
    #[serde(rename = "org.matrix.msc3488.ts", borrow)]
    ts_unstable: Raw<'a>,
    #[serde(rename = "m.beacon_info", borrow)]
    beacon_info: Option<Obj<BeaconInfo<'a>>>,
    #[serde(rename = "org.matrix.msc3672.beacon_info", borrow)]
    beacon_info_unstable: Option<Obj<BeaconInfo<'a>>>,
    // Verification requests.
    #[serde(borrow)]
    timestamp: Raw<'a>,
    #[serde(borrow)]
    msgtype: Raw<'a>,
    // m.rtc.decline (MSC4310).
    #[serde(rename = "m.relates_to", borrow)]
    relates_to: Option<Obj<RelatesTo<'a>>>,
}

impl Content<'_> {
    /// Whether the content describes a membership at all (any format). An
    /// `m.call.member` / `m.rtc.member` without one has left: ruma reads
    /// such content as `CallMemberEventContent::Empty`, matrix-js-sdk skips
    /// it.
    fn has_membership(&self) -> bool {
        self.created_ts.is_some()
            || self.expires.is_some()
            || self.memberships.is_some()
            || self.calls.is_some()
            || self.device_id.is_some()
            || self.focus_active.is_some()
            || self.foci_preferred.is_some()
            || self.scope.is_some()
            || self.membership_id.is_some()
            || self.call_intent.is_some()
            || self.expires_ts.is_some()
            || self.slot_id.is_some()
            || self.transports.is_some()
            || self.rtc_transports.is_some()
            || self.versions.is_some()
            || self.application.is_some()
            || self.member.is_some()
            || self.call_id.is_some()
    }
}

#[derive(Deserialize)]
struct LegacyMembership<'a> {
    #[serde(borrow)]
    expires: Raw<'a>,
    #[serde(borrow)]
    expires_ts: Raw<'a>,
    #[serde(borrow)]
    created_ts: Raw<'a>,
}

#[derive(Deserialize)]
struct Msc3401Call<'a> {
    #[serde(rename = "m.devices", borrow)]
    devices: Option<List<Obj<Msc3401Device<'a>>>>,
}

#[derive(Deserialize)]
struct Msc3401Device<'a> {
    #[serde(borrow)]
    expires_ts: Raw<'a>,
}

#[derive(Deserialize)]
struct Application<'a> {
    #[serde(borrow)]
    notification_type: Raw<'a>,
    #[serde(borrow)]
    sender_ts: Raw<'a>,
    #[serde(borrow)]
    lifetime: Raw<'a>,
}

#[derive(Deserialize)]
struct RtcMember<'a> {
    #[serde(borrow)]
    membership: Raw<'a>,
}

#[derive(Deserialize)]
struct BeaconInfo<'a> {
    #[serde(borrow)]
    live: Raw<'a>,
    #[serde(borrow)]
    timeout: Raw<'a>,
}

#[derive(Deserialize)]
struct RelatesTo<'a> {
    #[serde(borrow)]
    event_id: Raw<'a>,
}

#[derive(Deserialize)]
struct Unsigned<'a> {
    #[serde(borrow)]
    age: Raw<'a>,
    /// MSC4354's stable name.
    #[serde(borrow)]
    sticky_duration_ttl_ms: Raw<'a>,
    /// The stable name in an earlier revision of MSC4354.
    #[serde(borrow)]
    sticky_duration_remaining_ms: Raw<'a>,
    /// MSC4354's unstable name (what Synapse sends today).
    #[serde(borrow)]
    msc4354_sticky_duration_ttl_ms: Raw<'a>,
}

#[derive(Deserialize)]
struct Sticky<'a> {
    #[serde(borrow)]
    duration_ms: Raw<'a>,
}

/// A field that should hold a JSON object: the object read as `T`, or what
/// was there instead (so the rule can say so, naming the field).
enum Obj<T> {
    Ok(T),
    Wrong(Kind),
}

/// A field that should hold a JSON array of `T`, or what was there instead.
enum List<T> {
    Ok(Vec<T>),
    Wrong(Kind),
}

/// What a JSON value was, for "expected ..., got ..." messages.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Null,
    Bool(bool),
    Number,
    String,
    Array,
    Object,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Null => f.write_str("null"),
            Kind::Bool(b) => write!(f, "a boolean ({b})"),
            Kind::Number => f.write_str("a number"),
            Kind::String => f.write_str("a string"),
            Kind::Array => f.write_str("an array"),
            Kind::Object => f.write_str("an object"),
        }
    }
}

/// The `visit_*` methods of a visitor that takes any JSON value but a map
/// or a sequence as [`Kind`] `$wrong(kind)` (the value is consumed).
macro_rules! other_values_are_wrong {
    ($wrong:path, $value:ty) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::Number))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::Number))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::Number))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::String))
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<$value, E> {
            Ok($wrong(Kind::Null))
        }
    };
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Ok)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Obj<T>, A::Error> {
                skip_seq(seq).map(|()| Obj::Wrong(Kind::Array))
            }
            other_values_are_wrong!(Obj::Wrong, Obj<T>);
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<List<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List::Ok(items))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::Wrong(Kind::Object))
            }
            other_values_are_wrong!(List::Wrong, List<T>);
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> std::result::Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading fields
// ---------------------------------------------------------------------------

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidEvent {
        field: field.into(),
        reason: reason.into(),
    }
}

/// "a string (\"abc\")", "a number (1.5)", ... for raw JSON text; long
/// text is cut so a huge field cannot make a huge message.
fn describe(raw: &str) -> String {
    let short = |s: &str| -> String {
        let cut: String = s.chars().take(40).collect();
        if cut.len() < s.len() {
            format!("{cut}...")
        } else {
            cut
        }
    };
    match raw.as_bytes().first() {
        Some(b'"') => format!("a string ({})", short(raw)),
        Some(b'{') => "an object".to_owned(),
        Some(b'[') => "an array".to_owned(),
        Some(b't' | b'f') => format!("a boolean ({raw})"),
        Some(b'n') => "null".to_owned(),
        _ => format!("a number ({})", short(raw)),
    }
}

/// A non-negative integer that canonical JSON allows, or why not.
fn parse_int(raw: &RawValue) -> std::result::Result<i64, String> {
    let text = raw.get();
    // The common case in one pass: plain digits, small enough.
    let mut value: i64 = 0;
    let mut plain = !text.is_empty();
    for &c in text.as_bytes() {
        match (c as char).to_digit(10) {
            Some(d) if value <= CANONICAL_JSON_MAX_INT / 10 => value = value * 10 + i64::from(d),
            _ => {
                plain = false;
                break;
            }
        }
    }
    if plain && value <= CANONICAL_JSON_MAX_INT {
        return Ok(value);
    }
    Err(int_error(text))
}

/// Why `text` is not a non-negative integer canonical JSON allows.
#[cold]
fn int_error(text: &str) -> String {
    if !matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        return format!("expected an integer, got {}", describe(text));
    }
    if text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
        return format!(
            "expected an integer number of milliseconds, got {}",
            describe(text)
        );
    }
    if let Some(digits) = text.strip_prefix('-') {
        return if digits.bytes().all(|c| c == b'0') {
            "must not be -0 (canonical JSON forbids it)".to_owned()
        } else {
            format!("must not be negative, got {}", describe(text))
        };
    }
    let shown = describe(text);
    let shown = shown
        .strip_prefix("a number (")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(&shown);
    format!(
        "{shown} is too large (more than {CANONICAL_JSON_MAX_INT}, the largest integer canonical JSON allows)"
    )
}

/// A JSON string (borrowed unless it has escapes), or why not.
fn parse_str(raw: &RawValue) -> std::result::Result<Cow<'_, str>, String> {
    let text = raw.get();
    if !text.starts_with('"') {
        return Err(format!("expected a string, got {}", describe(text)));
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|e| format!("not a valid JSON string: {e}"))
}

fn parse_bool(raw: &RawValue) -> std::result::Result<bool, String> {
    match raw.get() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("expected a boolean, got {}", describe(other))),
    }
}

/// A JSON path for an error message, built only when there is an error
/// (most events have none; building every path up front cost more than
/// the rules themselves).
trait JsonPath {
    fn build(&self) -> String;
}

impl JsonPath for str {
    fn build(&self) -> String {
        self.to_owned()
    }
}

/// A path built by a closure: `&|| format!("content.memberships[{i}]")`.
impl<F: Fn() -> String> JsonPath for F {
    fn build(&self) -> String {
        self()
    }
}

/// An optional integer field (absent and `null`: `None`).
fn opt_int(raw: Raw<'_>, path: &(impl JsonPath + ?Sized)) -> Result<Option<i64>> {
    raw.map(|r| parse_int(r).map_err(|why| invalid(path.build(), why)))
        .transpose()
}

/// A required integer field.
fn req_int(raw: Raw<'_>, path: &(impl JsonPath + ?Sized)) -> Result<i64> {
    opt_int(raw, path)?.ok_or_else(|| invalid(path.build(), "missing"))
}

/// A required string field.
fn req_str<'a>(raw: Raw<'a>, path: &str) -> Result<Cow<'a, str>> {
    let raw = raw.ok_or_else(|| invalid(path, "missing"))?;
    parse_str(raw).map_err(|why| invalid(path, why))
}

/// An optional object field; a non-object is an error naming it.
fn opt_obj<'o, T>(
    field: &'o Option<Obj<T>>,
    path: &(impl JsonPath + ?Sized),
) -> Result<Option<&'o T>> {
    match field {
        None => Ok(None),
        Some(obj) => req_obj(obj, path).map(Some),
    }
}

/// A value that must be an object.
fn req_obj<'o, T>(obj: &'o Obj<T>, path: &(impl JsonPath + ?Sized)) -> Result<&'o T> {
    match obj {
        Obj::Ok(v) => Ok(v),
        Obj::Wrong(kind) => Err(invalid(
            path.build(),
            format!("expected an object, got {kind}"),
        )),
    }
}

/// An array field; a non-array is an error naming it.
fn list<'l, T>(field: &'l List<T>, path: &(impl JsonPath + ?Sized)) -> Result<&'l [T]> {
    match field {
        List::Ok(items) => Ok(items),
        List::Wrong(kind) => Err(invalid(
            path.build(),
            format!("expected an array, got {kind}"),
        )),
    }
}

impl<'a> EventJson<'a> {
    fn content(&self) -> Result<&Content<'a>> {
        opt_obj(&self.content, "content")?
            .map(|c| &**c)
            .ok_or_else(|| invalid("content", "missing"))
    }

    fn origin_server_ts(&self) -> Result<i64> {
        req_int(self.origin_server_ts, "origin_server_ts")
    }

    fn unsigned(&self) -> Result<Option<&Unsigned<'a>>> {
        opt_obj(&self.unsigned, "unsigned")
    }
}

// ---------------------------------------------------------------------------
// Rules: typed fields → rule inputs
// ---------------------------------------------------------------------------

fn evaluate_obj(
    event: &Obj<EventJson<'_>>,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<(EventExpiry, Ring)> {
    let ev = match event {
        Obj::Ok(ev) => ev,
        Obj::Wrong(kind) => {
            return Err(invalid(
                "$",
                format!("expected a JSON object (one event), got {kind}"),
            ))
        }
    };
    let event_type = req_str(ev.event_type, "type")?;
    let decided = decide(ev, &event_type, now, received_boot_ms)?;
    let Decided {
        rule,
        expiry,
        ended,
        should_ring,
        verification_validity,
        ring,
    } = decided;
    Ok((
        EventExpiry {
            rule,
            expiry,
            ended,
            should_ring,
            ignore: verification_validity.is_some_and(|v| v != VerificationValidity::Valid),
            verification_validity,
        },
        ring,
    ))
}

/// A rule's decision, before the event type is attached.
struct Decided {
    rule: ExpiryRule,
    expiry: Expiry,
    ended: bool,
    should_ring: Option<bool>,
    verification_validity: Option<VerificationValidity>,
    ring: Ring,
}

impl Decided {
    fn plain(rule: ExpiryRule, expiry: Expiry) -> Decided {
        Decided {
            rule,
            expiry,
            ended: false,
            should_ring: None,
            verification_validity: None,
            ring: Ring::None,
        }
    }

    fn ended(rule: ExpiryRule, now: &ServerNow) -> Decided {
        Decided {
            ended: true,
            ..Decided::plain(rule, Expiry::ended(now))
        }
    }
}

fn decide(
    ev: &EventJson<'_>,
    event_type: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Decided> {
    match event_type {
        "m.call.member" | "org.matrix.msc3401.call.member" => call_member(ev, now),
        "m.rtc.member" | "org.matrix.msc4143.rtc.member" => rtc_member(ev, now, received_boot_ms),
        "m.rtc.notification" | "org.matrix.msc4075.rtc.notification" => rtc_notification(ev, now),
        "m.beacon_info" | "org.matrix.msc3672.beacon_info" => beacon_info(ev, now),
        "m.key.verification.request" => {
            let ts = req_int(ev.content()?.timestamp, "content.timestamp")?;
            Ok(verification(
                ExpiryRule::VerificationRequestToDevice,
                ts,
                now,
                received_boot_ms,
            ))
        }
        "m.room.message" => {
            let content = ev.content()?;
            let is_request = match content.msgtype.map(parse_str) {
                Some(Ok(msgtype)) => msgtype == "m.key.verification.request",
                _ => false,
            };
            if is_request {
                let ts = ev.origin_server_ts()?;
                Ok(verification(
                    ExpiryRule::VerificationRequestInRoom,
                    ts,
                    now,
                    received_boot_ms,
                ))
            } else {
                any_sticky(ev, event_type, now, received_boot_ms)
            }
        }
        "m.call.invite" => call_invite(ev, now, received_boot_ms),
        "m.rtc.decline" | "org.matrix.msc4310.rtc.decline" => {
            let relates_to = opt_obj(&ev.content()?.relates_to, "content.m.relates_to")?
                .ok_or_else(|| invalid("content.m.relates_to", "missing"))?;
            let target = req_str(relates_to.event_id, "content.m.relates_to.event_id")?;
            Ok(Decided {
                should_ring: Some(false),
                ring: Ring::EndsNotification(target.into_owned()),
                ..Decided::ended(ExpiryRule::RingResponse, now)
            })
        }
        "m.call.answer" | "m.call.reject" | "m.call.hangup" => {
            let call_id = req_str(ev.content()?.call_id, "content.call_id")?;
            Ok(Decided {
                should_ring: Some(false),
                ring: Ring::EndsCall(call_id.into_owned()),
                ..Decided::ended(ExpiryRule::RingResponse, now)
            })
        }
        _ => any_sticky(ev, event_type, now, received_boot_ms),
    }
}

/// Any other event: live while sticky (MSC4354 applies to every event type
/// with a `sticky` object; ruma reads `msc4354_sticky` on every message-like
/// event), else no rule.
fn any_sticky(
    ev: &EventJson<'_>,
    event_type: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Decided> {
    match sticky(ev, now, received_boot_ms)? {
        Some((true, e)) => Ok(Decided::plain(ExpiryRule::StickyTtl, e)),
        Some((false, e)) => Ok(Decided::plain(ExpiryRule::Sticky, e)),
        None => Err(Error::NoExpiryRule {
            event_type: event_type.to_owned(),
        }),
    }
}

fn call_member(ev: &EventJson<'_>, now: &ServerNow) -> Result<Decided> {
    let content = ev.content()?;
    if let Some(memberships) = &content.memberships {
        // Legacy: one event per user, an array of device memberships. The
        // user is in the call while any device membership lasts.
        let entries = list(memberships, "content.memberships")?;
        let mut latest: Option<Expiry> = None;
        for (i, entry) in entries.iter().enumerate() {
            let entry = req_obj(entry, &|| format!("content.memberships[{i}]"))?;
            let e = legacy_membership(ev, entry, i, now)?;
            latest = Some(latest.map_or(e, |l| Expiry::latest(l, e)));
        }
        return Ok(match latest {
            Some(e) => Decided::plain(ExpiryRule::CallMemberLegacy, e),
            None => Decided::ended(ExpiryRule::MembershipLeft, now),
        });
    }
    if let Some(calls) = &content.calls {
        // The original MSC3401 form: `m.calls[].m.devices[].expires_ts`.
        let calls = list(calls, "content.m.calls")?;
        let mut latest: Option<Expiry> = None;
        for (i, call) in calls.iter().enumerate() {
            let call = req_obj(call, &|| format!("content.m.calls[{i}]"))?;
            let Some(devices) = &call.devices else {
                continue;
            };
            let devices = list(devices, &|| format!("content.m.calls[{i}].m.devices"))?;
            for (j, device) in devices.iter().enumerate() {
                let device = req_obj(device, &|| format!("content.m.calls[{i}].m.devices[{j}]"))?;
                let ts = req_int(device.expires_ts, &|| {
                    format!("content.m.calls[{i}].m.devices[{j}].expires_ts")
                })?;
                let e = call_membership_legacy_expiry(ts, now);
                latest = Some(latest.map_or(e, |l| Expiry::latest(l, e)));
            }
        }
        // js groupCall.ts: no device, not in the call.
        return Ok(match latest {
            Some(e) => Decided::plain(ExpiryRule::CallMemberLegacy, e),
            None => Decided::ended(ExpiryRule::MembershipLeft, now),
        });
    }
    if !content.has_membership() {
        return Ok(Decided::ended(ExpiryRule::MembershipLeft, now));
    }
    let created_ts = opt_int(content.created_ts, "content.created_ts")?;
    let expires = opt_int(content.expires, "content.expires")?;
    // origin_server_ts is only read when created_ts is absent (js: `??`).
    let ots = match created_ts {
        Some(_) => 0,
        None => ev.origin_server_ts()?,
    };
    let expiry = call_membership_session_expiry(created_ts, ots, expires, now);
    Ok(Decided::plain(ExpiryRule::CallMemberSession, expiry))
}

/// One legacy device membership: (`created_ts` ?? `origin_server_ts`) +
/// `expires` when it has `expires`, else `expires_ts` (matrix-js-sdk
/// `getAbsoluteExpiry` checks `"expires" in data` first; ruma's legacy data
/// has only `expires`).
fn legacy_membership(
    ev: &EventJson<'_>,
    m: &LegacyMembership<'_>,
    i: usize,
    now: &ServerNow,
) -> Result<Expiry> {
    let path = |field: &str| format!("content.memberships[{i}].{field}");
    if let Some(expires) = opt_int(m.expires, &|| path("expires"))? {
        let created_ts = opt_int(m.created_ts, &|| path("created_ts"))?;
        let ots = match created_ts {
            Some(_) => 0,
            None => ev.origin_server_ts()?,
        };
        return Ok(call_membership_session_expiry(
            created_ts,
            ots,
            Some(expires),
            now,
        ));
    }
    match opt_int(m.expires_ts, &|| path("expires_ts"))? {
        Some(ts) => Ok(call_membership_legacy_expiry(ts, now)),
        None => Err(invalid(
            path("expires_ts"),
            "missing (a legacy membership needs `expires` or `expires_ts`)",
        )),
    }
}

fn rtc_member(
    ev: &EventJson<'_>,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Decided> {
    let content = ev.content()?;
    if !content.has_membership() {
        return Ok(Decided::ended(ExpiryRule::MembershipLeft, now));
    }
    if let Some(member) = opt_obj(&content.member, "content.member")? {
        // MSC4143: joined only while `member.membership` is `join`; older
        // drafts (and matrix-js-sdk) have no such field: joined.
        if let Some(raw) = member.membership {
            let membership =
                parse_str(raw).map_err(|why| invalid("content.member.membership", why))?;
            if membership != "join" {
                return Ok(Decided::ended(ExpiryRule::MembershipLeft, now));
            }
        }
    }
    Ok(match sticky(ev, now, received_boot_ms)? {
        Some((true, e)) => Decided::plain(ExpiryRule::RtcMemberStickyTtl, e),
        Some((false, e)) => Decided::plain(ExpiryRule::RtcMemberSticky, e),
        // MSC4143: a member that is not sticky "MUST" be treated as left.
        None => Decided::ended(ExpiryRule::MembershipLeft, now),
    })
}

/// The MSC4354 stickiness of an event: `Some((from_ttl, expiry))`, or
/// `None` if it has no sticky object.
fn sticky(
    ev: &EventJson<'_>,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Option<(bool, Expiry)>> {
    // The server's remaining time, most authoritative name first.
    let mut ttl = None;
    if let Some(unsigned) = ev.unsigned()? {
        for (raw, path) in [
            (
                unsigned.sticky_duration_ttl_ms,
                "unsigned.sticky_duration_ttl_ms",
            ),
            (
                unsigned.sticky_duration_remaining_ms,
                "unsigned.sticky_duration_remaining_ms",
            ),
            (
                unsigned.msc4354_sticky_duration_ttl_ms,
                "unsigned.msc4354_sticky_duration_ttl_ms",
            ),
        ] {
            if let Some(v) = opt_int(raw, path)? {
                ttl = Some(v);
                break;
            }
        }
    }
    if let (Some(ttl), Some(received)) = (ttl, received_boot_ms) {
        return Ok(Some((true, sticky_ttl_expiry(ttl, received, now))));
    }
    let stable = opt_obj(&ev.sticky, "sticky")?;
    let unstable = opt_obj(&ev.msc4354_sticky, "msc4354_sticky")?;
    let (sticky, duration_path) = match (stable, unstable) {
        (Some(s), _) => (s, "sticky.duration_ms"),
        (None, Some(s)) => (s, "msc4354_sticky.duration_ms"),
        (None, None) if ttl.is_some() => {
            return Err(invalid(
                "sticky.duration_ms",
                "missing; the event has an `unsigned` sticky ttl but no receipt time \
                 (received_boot_ms) to count it from",
            ))
        }
        (None, None) => return Ok(None),
    };
    let duration = req_int(sticky.duration_ms, duration_path)?;
    let ots = ev.origin_server_ts()?;
    Ok(Some((
        false,
        sticky_expiry(ots, duration, received_boot_ms, now),
    )))
}

fn call_invite(
    ev: &EventJson<'_>,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Decided> {
    let content = ev.content()?;
    let lifetime = req_int(content.lifetime, "content.lifetime")?;
    let ots = ev.origin_server_ts()?;
    let grace = DEFAULT_CALL_INVITE_GRACE_MS;
    let mut expiry = call_invite_expiry(ots, lifetime, grace, now);
    // The spec's own measure, the age, when this device knows when it got
    // the event; the earlier deadline wins when the two disagree (a sending
    // server whose clock is off).
    if let Some(received) = received_boot_ms {
        if let Some(unsigned) = ev.unsigned()? {
            if let Some(age) = opt_int(unsigned.age, "unsigned.age")? {
                let by_age = call_invite_age_expiry(age, lifetime, grace, received, now);
                expiry = Expiry::earliest(expiry, by_age);
            }
        }
    }
    let ring = match content.call_id.map(parse_str) {
        Some(Ok(call_id)) => Ring::Invite(call_id.into_owned()),
        _ => Ring::None,
    };
    Ok(Decided {
        should_ring: Some(!expiry.is_expired),
        ring,
        ..Decided::plain(ExpiryRule::CallInvite, expiry)
    })
}

fn rtc_notification<'a>(ev: &EventJson<'a>, now: &ServerNow) -> Result<Decided> {
    let content = ev.content()?;
    // The newest MSC4075 nests the fields in `application`; the top level
    // (what ruma and matrix-js-sdk read) wins when both have one.
    let app = match &content.application {
        Some(Obj::Ok(app)) => Some(app),
        _ => None,
    };
    // Each field with its path at the top level and in `application`.
    let pick = |top: Raw<'a>, nested: Option<Raw<'a>>, paths: [&'static str; 2]| match (
        top,
        nested.flatten(),
    ) {
        (None, Some(raw)) => (Some(raw), paths[1]),
        (top, _) => (top, paths[0]),
    };
    let (raw, path) = pick(
        content.notification_type,
        app.map(|a| a.notification_type),
        [
            "content.notification_type",
            "content.application.notification_type",
        ],
    );
    let notification_type = match &*req_str(raw, path)? {
        "ring" => NotificationType::Ring,
        // MSC4075 defines `notification`; an unknown future type must not ring.
        _ => NotificationType::Notification,
    };
    let (raw, path) = pick(
        content.sender_ts,
        app.map(|a| a.sender_ts),
        ["content.sender_ts", "content.application.sender_ts"],
    );
    let sender_ts = req_int(raw, path)?;
    let (raw, path) = pick(
        content.lifetime,
        app.map(|a| a.lifetime),
        ["content.lifetime", "content.application.lifetime"],
    );
    let lifetime = match notification_type {
        NotificationType::Ring => req_int(raw, path)?,
        NotificationType::Notification => {
            opt_int(raw, path)?.unwrap_or(NOTIFICATION_DEFAULT_LIFETIME_MS)
        }
    };
    let ots = ev.origin_server_ts()?;
    let expiry = rtc_notification_expiry(sender_ts, ots, lifetime, now);
    let should_ring = rtc_notification_should_ring(notification_type, &expiry);
    Ok(Decided {
        should_ring: Some(should_ring),
        ring: if should_ring {
            Ring::Notification
        } else {
            Ring::None
        },
        ..Decided::plain(ExpiryRule::RtcNotification, expiry)
    })
}

fn beacon_info(ev: &EventJson<'_>, now: &ServerNow) -> Result<Decided> {
    let content = ev.content()?;
    // An early MSC3672 draft nested `live`/`timeout` in a `m.beacon_info`
    // object inside the content; the current form (ruma) has them flat.
    fn nested<'a>(field: &Option<Obj<BeaconInfo<'a>>>) -> Option<(Raw<'a>, Raw<'a>)> {
        match field {
            Some(Obj::Ok(b)) => Some((b.live, b.timeout)),
            _ => None,
        }
    }
    const FLAT: [&str; 2] = ["content.live", "content.timeout"];
    let (live, timeout, [live_path, timeout_path]) = if content.live.is_some() {
        (content.live, content.timeout, FLAT)
    } else if let Some((live, timeout)) = nested(&content.beacon_info) {
        (
            live,
            timeout,
            [
                "content.m.beacon_info.live",
                "content.m.beacon_info.timeout",
            ],
        )
    } else if let Some((live, timeout)) = nested(&content.beacon_info_unstable) {
        (
            live,
            timeout,
            [
                "content.org.matrix.msc3672.beacon_info.live",
                "content.org.matrix.msc3672.beacon_info.timeout",
            ],
        )
    } else {
        (content.live, content.timeout, FLAT)
    };
    let live = live.ok_or_else(|| invalid(live_path, "missing"))?;
    let live = parse_bool(live).map_err(|why| invalid(live_path, why))?;
    if !live {
        return Ok(Decided::ended(ExpiryRule::BeaconInfo, now));
    }
    let timeout = opt_int(timeout, timeout_path)?.unwrap_or(BEACON_DEFAULT_TIMEOUT_MS);
    // MSC3488 timestamp: stable `m.ts`, unstable `org.matrix.msc3488.ts`.
    let ts = match opt_int(content.ts, "content.m.ts")? {
        Some(ts) => ts,
        None => req_int(content.ts_unstable, "content.org.matrix.msc3488.ts")?,
    };
    let expiry = beacon_info_expiry(true, ts, timeout, now);
    Ok(Decided::plain(ExpiryRule::BeaconInfo, expiry))
}

fn verification(
    rule: ExpiryRule,
    ts: i64,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Decided {
    let (validity, expiry) = verification_request_expiry(ts, received_boot_ms, now);
    Decided {
        verification_validity: Some(validity),
        ..Decided::plain(rule, expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec appendices "Canonical JSON": integers in [-(2**53)+1, (2**53)-1].
    /// What this bound does to events: tests/sans_io/events_json.rs.
    #[test]
    fn canonical_json_max_int_is_2_to_the_53_minus_1() {
        assert_eq!(CANONICAL_JSON_MAX_INT, (1_i64 << 53) - 1);
    }
}
