//! Plain C structs and enums, and their conversions from the Rust types.
//! Translation only: every value comes from the core unchanged.

use std::ffi::{c_char, c_int, CStr};

use crate::clock::{Estimate, SyncReport};
use crate::config::ClockConfig;
use crate::events::{EventExpiry, ExpiryRule};
use crate::expiry::{Expiry, ExpiryState, VerificationValidity};
use crate::policy::{SyncPolicy, SyncReason};
use crate::sample::SampleSource;

use super::boundary::{opt_str_arg, Failure};

/// Where a sample came from, best first.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_sample_source {
    /// MSC4094 `GET /_matrix/client/v3/get_server_now`.
    Endpoint = 0,
    /// The HTTP `Date` header of any response (1 s resolution).
    DateHeader = 1,
    /// `origin_server_ts + unsigned.age` of an event (weak).
    EventAge = 2,
}

impl From<SampleSource> for mxclock_sample_source {
    fn from(s: SampleSource) -> Self {
        match s {
            SampleSource::Endpoint => mxclock_sample_source::Endpoint,
            SampleSource::DateHeader => mxclock_sample_source::DateHeader,
            SampleSource::EventAge => mxclock_sample_source::EventAge,
        }
    }
}

/// The source for a C integer (C may pass any int where an enum is meant).
pub(crate) fn sample_source_from_int(v: c_int) -> Option<SampleSource> {
    match v {
        0 => Some(SampleSource::Endpoint),
        1 => Some(SampleSource::DateHeader),
        2 => Some(SampleSource::EventAge),
        _ => None,
    }
}

/// Why a sync ran or is due.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_sync_reason {
    /// None: an explicit `mxclock_sync`, or no sync is due.
    None = 0,
    /// There is no estimate at all.
    NoEstimate = 1,
    /// The uncertainty grew above `max_uncertainty_ms`.
    UncertaintyTooHigh = 2,
    /// A restore found that the device rebooted since the state was saved.
    Reboot = 3,
    /// The app reported a network change.
    NetworkChanged = 4,
}

impl From<Option<SyncReason>> for mxclock_sync_reason {
    fn from(r: Option<SyncReason>) -> Self {
        match r {
            None => mxclock_sync_reason::None,
            Some(SyncReason::NoEstimate) => mxclock_sync_reason::NoEstimate,
            Some(SyncReason::UncertaintyTooHigh) => mxclock_sync_reason::UncertaintyTooHigh,
            Some(SyncReason::Reboot) => mxclock_sync_reason::Reboot,
            Some(SyncReason::NetworkChanged) => mxclock_sync_reason::NetworkChanged,
        }
    }
}

/// Where a deadline stands relative to the uncertain server time.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_expiry_state {
    /// Before the deadline even at the latest possible server time.
    Live = 0,
    /// At or past the deadline even at the earliest possible server time.
    Expired = 1,
    /// The deadline lies within the uncertainty; `is_expired` is the best
    /// guess.
    Uncertain = 2,
}

impl From<ExpiryState> for mxclock_expiry_state {
    fn from(s: ExpiryState) -> Self {
        match s {
            ExpiryState::Live => mxclock_expiry_state::Live,
            ExpiryState::Expired => mxclock_expiry_state::Expired,
            ExpiryState::Uncertain => mxclock_expiry_state::Uncertain,
        }
    }
}

/// Which expiry rule decided an event (DESIGN.md section 7).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_expiry_rule {
    /// `m.call.member` session format.
    CallMemberSession = 0,
    /// Legacy MSC3401 `m.call.member` (`expires_ts` / `memberships`).
    CallMemberLegacy = 1,
    /// `m.call.member` / `m.rtc.member` with empty content: left.
    MembershipLeft = 2,
    /// `m.rtc.member` live while sticky.
    RtcMemberSticky = 3,
    /// `m.rtc.member` with the server's remaining sticky TTL.
    RtcMemberStickyTtl = 4,
    /// To-device `m.key.verification.request`.
    VerificationRequestToDevice = 5,
    /// In-room verification request.
    VerificationRequestInRoom = 6,
    /// `m.call.invite` lifetime.
    CallInvite = 7,
    /// `m.rtc.notification` lifetime and ring decision.
    RtcNotification = 8,
    /// Live location `m.beacon_info`.
    BeaconInfo = 9,
}

/// Every rule, in value order.
const RULES: [ExpiryRule; 10] = [
    ExpiryRule::CallMemberSession,
    ExpiryRule::CallMemberLegacy,
    ExpiryRule::MembershipLeft,
    ExpiryRule::RtcMemberSticky,
    ExpiryRule::RtcMemberStickyTtl,
    ExpiryRule::VerificationRequestToDevice,
    ExpiryRule::VerificationRequestInRoom,
    ExpiryRule::CallInvite,
    ExpiryRule::RtcNotification,
    ExpiryRule::BeaconInfo,
];

impl From<ExpiryRule> for mxclock_expiry_rule {
    fn from(r: ExpiryRule) -> Self {
        match r {
            ExpiryRule::CallMemberSession => mxclock_expiry_rule::CallMemberSession,
            ExpiryRule::CallMemberLegacy => mxclock_expiry_rule::CallMemberLegacy,
            ExpiryRule::MembershipLeft => mxclock_expiry_rule::MembershipLeft,
            ExpiryRule::RtcMemberSticky => mxclock_expiry_rule::RtcMemberSticky,
            ExpiryRule::RtcMemberStickyTtl => mxclock_expiry_rule::RtcMemberStickyTtl,
            ExpiryRule::VerificationRequestToDevice => {
                mxclock_expiry_rule::VerificationRequestToDevice
            }
            ExpiryRule::VerificationRequestInRoom => mxclock_expiry_rule::VerificationRequestInRoom,
            ExpiryRule::CallInvite => mxclock_expiry_rule::CallInvite,
            ExpiryRule::RtcNotification => mxclock_expiry_rule::RtcNotification,
            ExpiryRule::BeaconInfo => mxclock_expiry_rule::BeaconInfo,
        }
    }
}

/// A yes/no answer that may not apply. Compare with the constants: do not
/// test it as a C boolean (`MXCLOCK_TRISTATE_NONE` is non-zero).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_tristate {
    /// The question does not apply (e.g. `should_ring` of a membership).
    None = -1,
    /// No.
    False = 0,
    /// Yes.
    True = 1,
}

impl From<Option<bool>> for mxclock_tristate {
    fn from(b: Option<bool>) -> Self {
        match b {
            None => mxclock_tristate::None,
            Some(false) => mxclock_tristate::False,
            Some(true) => mxclock_tristate::True,
        }
    }
}

/// Where a verification request's timestamp stands.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mxclock_verification_validity {
    /// Not a verification request.
    None = 0,
    /// Within 10 min in the past to 5 min in the future: show it.
    Valid = 1,
    /// More than 10 min old: ignore it.
    TooOld = 2,
    /// More than 5 min in the future: ignore it.
    InFuture = 3,
}

impl From<Option<VerificationValidity>> for mxclock_verification_validity {
    fn from(v: Option<VerificationValidity>) -> Self {
        match v {
            None => mxclock_verification_validity::None,
            Some(VerificationValidity::Valid) => mxclock_verification_validity::Valid,
            Some(VerificationValidity::TooOld) => mxclock_verification_validity::TooOld,
            Some(VerificationValidity::InFuture) => mxclock_verification_validity::InFuture,
        }
    }
}

/// When and how hard to sync. `mxclock_config_default` fills in the
/// defaults (in brackets).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_sync_policy {
    /// Requests in one MSC4094 endpoint burst (default 4).
    pub max_samples_per_sync: u32,
    /// Requests in one `Date`-header burst (default 8).
    pub date_probe_budget: u32,
    /// A burst stops early at this uncertainty, ms (default 50).
    pub target_uncertainty_ms: i64,
    /// `mxclock_sync_if_needed` syncs above this uncertainty, ms (default 1000).
    pub max_uncertainty_ms: i64,
    /// `mxclock_sync_if_needed` never syncs more often than this, ms (default 30000).
    pub min_sync_interval_ms: i64,
    /// First backoff after a failure, ms; doubles per failure (default 5000).
    pub backoff_initial_ms: i64,
    /// Backoff ceiling, ms (default 3600000).
    pub backoff_max_ms: i64,
    /// How long a server without the endpoint is not asked for it again,
    /// ms (default 86400000).
    pub unsupported_retry_ms: i64,
    /// A sync starts no request that could end after this long, ms
    /// (default 30000).
    pub max_sync_ms: i64,
}

impl From<SyncPolicy> for mxclock_sync_policy {
    fn from(p: SyncPolicy) -> Self {
        mxclock_sync_policy {
            max_samples_per_sync: p.max_samples_per_sync,
            date_probe_budget: p.date_probe_budget,
            target_uncertainty_ms: p.target_uncertainty_ms,
            max_uncertainty_ms: p.max_uncertainty_ms,
            min_sync_interval_ms: p.min_sync_interval_ms,
            backoff_initial_ms: p.backoff_initial_ms,
            backoff_max_ms: p.backoff_max_ms,
            unsupported_retry_ms: p.unsupported_retry_ms,
            max_sync_ms: p.max_sync_ms,
        }
    }
}

impl From<mxclock_sync_policy> for SyncPolicy {
    fn from(p: mxclock_sync_policy) -> Self {
        SyncPolicy {
            max_samples_per_sync: p.max_samples_per_sync,
            date_probe_budget: p.date_probe_budget,
            target_uncertainty_ms: p.target_uncertainty_ms,
            max_uncertainty_ms: p.max_uncertainty_ms,
            min_sync_interval_ms: p.min_sync_interval_ms,
            backoff_initial_ms: p.backoff_initial_ms,
            backoff_max_ms: p.backoff_max_ms,
            unsupported_retry_ms: p.unsupported_retry_ms,
            max_sync_ms: p.max_sync_ms,
        }
    }
}

/// The configuration of a clock. Fill it with `mxclock_config_default`,
/// then set `homeserver_url` (and `access_token`). mxclock copies every
/// string during `mxclock_new*`/`mxclock_restore*`: they need not outlive
/// that call. Defaults in brackets.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_config {
    /// `https://matrix.example.org` (a base path is allowed); plain `http`
    /// only for loopback or with `allow_insecure_http`. NULL or "": no
    /// network, the clock is fed by the `mxclock_add_*` calls (default NULL).
    pub homeserver_url: *const c_char,
    /// Sent as `Authorization: Bearer` to the MSC4094 endpoint only; never
    /// logged, printed, saved or put in an error message. NULL: none (default NULL).
    pub access_token: *const c_char,
    /// Path of the MSC4094 endpoint. NULL: the default,
    /// `/_matrix/client/v3/get_server_now` (default NULL).
    pub endpoint_path: *const c_char,
    /// Timeout of one whole request, ms (default 10000).
    pub request_timeout_ms: u64,
    /// Allow `http://` to a non-loopback host [false].
    pub allow_insecure_http: bool,
    /// Assumed worst-case drift of the boot clock against the server, ppm (default 100).
    pub drift_ppm: u32,
    /// Samples kept for selection (default 8).
    pub max_samples: u32,
    /// Wall-clock changes larger than this are reported, ms (default 1000).
    pub wall_jump_threshold_ms: i64,
    /// Upper bound on a `/sync` response's time in flight, for
    /// `mxclock_observe_event`, ms (default 10000).
    pub event_max_transit_ms: i64,
    /// Saved state older than this is dropped on restore after a reboot,
    /// ms (default 2592000000, 30 days).
    pub restore_max_age_ms: i64,
    /// When and how hard to sync.
    pub policy: mxclock_sync_policy,
}

impl mxclock_config {
    /// The defaults, from the core's `ClockConfig::new`.
    pub(crate) fn defaults() -> Self {
        let c = ClockConfig::new("");
        mxclock_config {
            homeserver_url: std::ptr::null(),
            access_token: std::ptr::null(),
            endpoint_path: std::ptr::null(),
            request_timeout_ms: c.request_timeout_ms,
            allow_insecure_http: c.allow_insecure_http,
            drift_ppm: c.drift_ppm,
            max_samples: c.max_samples,
            wall_jump_threshold_ms: c.wall_jump_threshold_ms,
            event_max_transit_ms: c.event_max_transit_ms,
            restore_max_age_ms: c.restore_max_age_ms,
            policy: c.policy.into(),
        }
    }

    /// The Rust configuration (strings copied). Validation is the core's,
    /// when the clock is built.
    ///
    /// # Safety
    /// Every non-NULL string pointer is NUL-terminated and valid.
    pub(crate) unsafe fn into_rust(self) -> Result<ClockConfig, Failure> {
        // SAFETY: per this function's contract.
        let url = unsafe { opt_str_arg(self.homeserver_url, "config->homeserver_url") }?;
        let token = unsafe { opt_str_arg(self.access_token, "config->access_token") }?;
        let path = unsafe { opt_str_arg(self.endpoint_path, "config->endpoint_path") }?;
        let mut c = ClockConfig::new(url.unwrap_or(""));
        c.access_token = token.map(str::to_owned);
        if let Some(path) = path {
            c.endpoint_path = path.to_owned();
        }
        c.request_timeout_ms = self.request_timeout_ms;
        c.allow_insecure_http = self.allow_insecure_http;
        c.drift_ppm = self.drift_ppm;
        c.max_samples = self.max_samples;
        c.wall_jump_threshold_ms = self.wall_jump_threshold_ms;
        c.event_max_transit_ms = self.event_max_transit_ms;
        c.restore_max_age_ms = self.restore_max_age_ms;
        c.policy = self.policy.into();
        Ok(c)
    }
}

/// The server-time estimate at one instant.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_estimate {
    /// Server time now, ms since the Unix epoch.
    pub server_now_ms: i64,
    /// The true server time is within ± this of `server_now_ms`.
    pub uncertainty_ms: i64,
    /// Server minus device wall clock (MSC4094's "offset"), read fresh.
    pub offset_ms: i64,
    /// Server minus boot clock (θ), the anchored quantity.
    pub boot_offset_ms: i64,
    /// Boot-clock time of this reading.
    pub boot_ms: i64,
    /// Source of the best (narrowest) sample used.
    pub source: mxclock_sample_source,
    /// Samples that agree and were used.
    pub samples: u32,
    /// Samples outvoted as outliers.
    pub falsetickers: u32,
    /// Boot time of the newest sample used.
    pub newest_sample_boot_ms: i64,
    /// Whether `uncertainty_ms` is within the policy's `max_uncertainty_ms`.
    pub within_policy: bool,
    /// How far the wall clock moved against the boot clock since the
    /// newest sample, when beyond `wall_jump_threshold_ms` (else 0).
    pub wall_jump_ms: i64,
    /// The last selection followed a server clock step.
    pub server_clock_stepped: bool,
}

impl From<&Estimate> for mxclock_estimate {
    fn from(e: &Estimate) -> Self {
        mxclock_estimate {
            server_now_ms: e.server_now_ms,
            uncertainty_ms: e.uncertainty_ms,
            offset_ms: e.offset_ms,
            boot_offset_ms: e.boot_offset_ms,
            boot_ms: e.boot_ms,
            source: e.source.into(),
            samples: e.samples,
            falsetickers: e.falsetickers,
            newest_sample_boot_ms: e.newest_sample_boot_ms,
            within_policy: e.within_policy,
            wall_jump_ms: e.wall_jump_ms,
            server_clock_stepped: e.server_clock_stepped,
        }
    }
}

/// What one sync did.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_sync_report {
    /// HTTP requests sent.
    pub requests: u32,
    /// Usable samples obtained.
    pub samples_taken: u32,
    /// Source of the best sample of the resulting estimate.
    pub source: mxclock_sample_source,
    /// Whether the server has the MSC4094 endpoint (as far as known).
    pub endpoint_supported: bool,
    /// Why the sync ran (`MXCLOCK_SYNC_REASON_NONE` for `mxclock_sync`).
    pub reason: mxclock_sync_reason,
    /// Whether `min_rtt_ms` is set (false if no reply came back).
    pub has_min_rtt: bool,
    /// Shortest round trip of the burst, ms (0 unless `has_min_rtt`).
    pub min_rtt_ms: i64,
    /// Whether `date_disagreement_ms` is set: the `Date` header of an
    /// MSC4094 reply lay outside the time its own body gave (a proxy or CDN
    /// in front of the homeserver writes `Date` from another clock).
    pub has_date_disagreement: bool,
    /// How far outside, ms, positive when the `Date` is ahead; the largest
    /// gap of the burst (0 unless `has_date_disagreement`).
    pub date_disagreement_ms: i64,
    /// The estimate after the sync.
    pub estimate: mxclock_estimate,
}

impl From<&SyncReport> for mxclock_sync_report {
    fn from(r: &SyncReport) -> Self {
        mxclock_sync_report {
            requests: r.requests,
            samples_taken: r.samples_taken,
            source: r.source.into(),
            endpoint_supported: r.endpoint_supported,
            reason: r.reason.into(),
            has_min_rtt: r.min_rtt_ms.is_some(),
            min_rtt_ms: r.min_rtt_ms.unwrap_or(0),
            has_date_disagreement: r.date_disagreement_ms.is_some(),
            date_disagreement_ms: r.date_disagreement_ms.unwrap_or(0),
            estimate: (&r.estimate).into(),
        }
    }
}

/// An expiry decision for one deadline at one reading of the server clock.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_expiry {
    /// First server-clock ms at which the thing counts as over.
    pub deadline_ms: i64,
    /// `deadline_ms − server now` by the best estimate (negative: overdue).
    pub remaining_ms: i64,
    /// Live / expired / uncertain, taking the uncertainty into account.
    pub state: mxclock_expiry_state,
    /// Best guess, `remaining_ms <= 0`.
    pub is_expired: bool,
    /// Boot-clock time at which `remaining_ms` reaches 0: arm a timer for it.
    pub fire_at_boot_ms: i64,
}

impl From<&Expiry> for mxclock_expiry {
    fn from(e: &Expiry) -> Self {
        mxclock_expiry {
            deadline_ms: e.deadline_ms,
            remaining_ms: e.remaining_ms,
            state: e.state.into(),
            is_expired: e.is_expired,
            fire_at_boot_ms: e.fire_at_boot_ms,
        }
    }
}

/// The expiry decision for one event.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_event_expiry {
    /// Which rule decided.
    pub rule: mxclock_expiry_rule,
    /// The decision at the clock's current reading.
    pub expiry: mxclock_expiry,
    /// The content declares the thing over (left the call, beacon stopped).
    pub ended: bool,
    /// Ring decision for event types that ring (`m.call.invite`,
    /// `m.rtc.notification`); `MXCLOCK_TRISTATE_NONE` for the others.
    pub should_ring: mxclock_tristate,
    /// A verification request outside its validity window: drop it.
    pub ignore: bool,
    /// For verification requests: where the timestamp stands.
    pub verification_validity: mxclock_verification_validity,
}

impl From<&EventExpiry> for mxclock_event_expiry {
    fn from(e: &EventExpiry) -> Self {
        mxclock_event_expiry {
            rule: e.rule.into(),
            expiry: (&e.expiry).into(),
            ended: e.ended,
            should_ring: e.should_ring.into(),
            ignore: e.ignore,
            verification_validity: e.verification_validity.into(),
        }
    }
}

/// The outcome for one event of `mxclock_evaluate_events_json`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct mxclock_event_outcome {
    /// Whether the event could be evaluated (then `result` is set and
    /// `error` is NULL).
    pub ok: bool,
    /// The decision; all zero unless `ok`.
    pub result: mxclock_event_expiry,
    /// The event's `event_id`, or NULL if it had none. Owned by the array.
    pub event_id: *mut c_char,
    /// Why the event could not be evaluated, or NULL if `ok`. Owned by the
    /// array.
    pub error: *mut c_char,
}

/// The outcomes of `mxclock_evaluate_events_json`, one per event, in
/// order. Release with `mxclock_event_outcomes_free`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct mxclock_event_outcomes {
    /// `len` outcomes (NULL when `len` is 0).
    pub items: *mut mxclock_event_outcome,
    /// Number of outcomes.
    pub len: usize,
}

/// A zeroed decision, for outcomes that have none.
pub(crate) fn empty_event_expiry() -> mxclock_event_expiry {
    mxclock_event_expiry {
        rule: mxclock_expiry_rule::CallMemberSession,
        expiry: mxclock_expiry {
            deadline_ms: 0,
            remaining_ms: 0,
            state: mxclock_expiry_state::Live,
            is_expired: false,
            fire_at_boot_ms: 0,
        },
        ended: false,
        should_ring: mxclock_tristate::None,
        ignore: false,
        verification_validity: mxclock_verification_validity::None,
    }
}

/// An interval sample measured by the app (see `mxclock_add_sample`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_sample {
    /// A `mxclock_sample_source` value (an `int` so that an unknown value
    /// is reported as `MXCLOCK_STATUS_INVALID_ARGUMENT`, not undefined).
    pub source: c_int,
    /// Lower bound of θ = server ms − boot ms.
    pub lo_ms: i64,
    /// Upper bound of θ.
    pub hi_ms: i64,
    /// Boot-clock time at which the observation completed.
    pub taken_boot_ms: i64,
}

/// Static names of enum values (the core's JSON names), NULL if unknown.
pub(crate) fn sample_source_name(v: c_int) -> Option<&'static CStr> {
    sample_source_from_int(v).map(|s| match s {
        SampleSource::Endpoint => c"endpoint",
        SampleSource::DateHeader => c"date_header",
        SampleSource::EventAge => c"event_age",
    })
}

pub(crate) fn expiry_state_name(v: c_int) -> Option<&'static CStr> {
    match v {
        0 => Some(c"live"),
        1 => Some(c"expired"),
        2 => Some(c"uncertain"),
        _ => None,
    }
}

pub(crate) fn expiry_rule_name(v: c_int) -> Option<&'static CStr> {
    let rule = RULES.get(usize::try_from(v).ok()?)?;
    Some(match rule {
        ExpiryRule::CallMemberSession => c"call_member_session",
        ExpiryRule::CallMemberLegacy => c"call_member_legacy",
        ExpiryRule::MembershipLeft => c"membership_left",
        ExpiryRule::RtcMemberSticky => c"rtc_member_sticky",
        ExpiryRule::RtcMemberStickyTtl => c"rtc_member_sticky_ttl",
        ExpiryRule::VerificationRequestToDevice => c"verification_request_to_device",
        ExpiryRule::VerificationRequestInRoom => c"verification_request_in_room",
        ExpiryRule::CallInvite => c"call_invite",
        ExpiryRule::RtcNotification => c"rtc_notification",
        ExpiryRule::BeaconInfo => c"beacon_info",
    })
}

pub(crate) fn sync_reason_name(v: c_int) -> Option<&'static CStr> {
    match v {
        0 => Some(c"none"),
        1 => Some(c"no_estimate"),
        2 => Some(c"uncertainty_too_high"),
        3 => Some(c"reboot"),
        4 => Some(c"network_changed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The static C names are the core's own names (`as_str`), so C and
    /// JSON output agree.
    #[test]
    fn names_match_the_core() {
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(mxclock_expiry_rule::from(*rule) as usize, i);
            let name = expiry_rule_name(i as c_int).unwrap().to_str().unwrap();
            assert_eq!(name, rule.as_str());
        }
        assert!(expiry_rule_name(RULES.len() as c_int).is_none());
        assert!(expiry_rule_name(-1).is_none());
        for s in [
            SampleSource::Endpoint,
            SampleSource::DateHeader,
            SampleSource::EventAge,
        ] {
            let v = mxclock_sample_source::from(s) as c_int;
            assert_eq!(sample_source_from_int(v), Some(s));
            assert_eq!(sample_source_name(v).unwrap().to_str().unwrap(), s.as_str());
        }
        for s in [
            ExpiryState::Live,
            ExpiryState::Expired,
            ExpiryState::Uncertain,
        ] {
            let v = mxclock_expiry_state::from(s) as c_int;
            assert_eq!(expiry_state_name(v).unwrap().to_str().unwrap(), s.as_str());
        }
        assert!(sample_source_name(3).is_none() && expiry_state_name(3).is_none());
        assert!(sync_reason_name(5).is_none());
    }

    #[test]
    fn default_config_round_trips_to_the_core_defaults() {
        let c = mxclock_config::defaults();
        // SAFETY: all string pointers are NULL.
        let rust = unsafe { c.into_rust() }.unwrap();
        assert_eq!(rust, ClockConfig::new(""));
    }
}
