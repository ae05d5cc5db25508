//! Plain C structs and enums, and their conversions from the Rust types.
//! Translation only: every value comes from the core unchanged.

use std::ffi::{c_char, c_int, CStr};

use crate::clock::{Estimate, SyncReport};
use crate::config::ClockConfig;
use crate::events::{EventErrorKind, EventExpiry};
use crate::expiry::{Expiry, ExpiryRule, ExpiryState, VerificationValidity};
use crate::policy::{SyncPolicy, SyncReason};
use crate::sample::SampleSource;

use super::boundary::{mxclock_status, opt_str_arg, Failure};

// The sample sources, sync reasons, verification validities, expiry states
// and rules are the core's own enums, `#[repr(C)]`, given their C names in
// cbindgen.toml (`mxclock_sample_source`, ...): one declaration each, for
// Rust, C, Kotlin and Swift.

/// The source for a C integer (C may pass any int where an enum is meant).
pub(crate) fn sample_source_from_int(v: c_int) -> Option<SampleSource> {
    match v {
        0 => Some(SampleSource::Endpoint),
        1 => Some(SampleSource::DateHeader),
        2 => Some(SampleSource::EventAge),
        _ => None,
    }
}

/// A value that may be absent, the C way of this API: `has` says whether
/// `value` means anything (when it does not, `value` is `fallback`).
pub(crate) fn optional<T>(value: Option<T>, fallback: T) -> (bool, T) {
    match value {
        Some(v) => (true, v),
        None => (false, fallback),
    }
}

/// When and how hard to sync. `mxclock_config_default` fills in the
/// defaults (each field's "default").
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mxclock_sync_policy {
    /// Requests in one MSC4094 endpoint burst (default 4).
    pub max_samples_per_sync: u32,
    /// Most requests in one `Date`-header burst (default 20; a consistent
    /// server needs 8 to 10).
    pub date_probe_budget: u32,
    /// An endpoint burst stops early once two of its replies agree within
    /// ± this, ms (default 50).
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
/// that call. Each field says its default.
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
    /// Allow `http://` to a non-loopback host (default false).
    pub allow_insecure_http: bool,
    /// Assumed worst-case drift of the boot clock against the server, ppm (default 100).
    pub drift_ppm: u32,
    /// Learn the boot clock's drift from successive syncs on one boot and
    /// widen the estimate by what remains of it (at least 35 ppm) instead
    /// of `drift_ppm` (default true).
    pub learn_drift: bool,
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
            learn_drift: c.learn_drift,
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
        c.learn_drift = self.learn_drift;
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
    pub source: SampleSource,
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
            source: e.source,
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
    pub source: SampleSource,
    /// Whether the server has the MSC4094 endpoint (as far as known).
    pub endpoint_supported: bool,
    /// Whether the sync had a reason (false for `mxclock_sync`).
    pub has_reason: bool,
    /// Why the sync ran (only if `has_reason`).
    pub reason: SyncReason,
    /// Whether a reply came back, so that `min_rtt_ms` is set.
    pub has_min_rtt_ms: bool,
    /// Shortest round trip of the burst, ms (only if `has_min_rtt_ms`).
    pub min_rtt_ms: i64,
    /// Whether `date_disagreement_ms` is set: the `Date` header of an
    /// MSC4094 reply lay outside the time its own body gave (a proxy or CDN
    /// in front of the homeserver writes `Date` from another clock).
    pub has_date_disagreement_ms: bool,
    /// How far outside, ms, positive when the `Date` is ahead; the largest
    /// gap of the burst (only if `has_date_disagreement_ms`).
    pub date_disagreement_ms: i64,
    /// The estimate after the sync.
    pub estimate: mxclock_estimate,
}

impl From<&SyncReport> for mxclock_sync_report {
    fn from(r: &SyncReport) -> Self {
        let (has_reason, reason) = optional(r.reason, SyncReason::NoEstimate);
        let (has_min_rtt_ms, min_rtt_ms) = optional(r.min_rtt_ms, 0);
        let (has_date_disagreement_ms, date_disagreement_ms) = optional(r.date_disagreement_ms, 0);
        mxclock_sync_report {
            requests: r.requests,
            samples_taken: r.samples_taken,
            source: r.source,
            endpoint_supported: r.endpoint_supported,
            has_reason,
            reason,
            has_min_rtt_ms,
            min_rtt_ms,
            has_date_disagreement_ms,
            date_disagreement_ms,
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
    pub state: ExpiryState,
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
            state: e.state,
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
    pub rule: ExpiryRule,
    /// The decision at the clock's current reading.
    pub expiry: mxclock_expiry,
    /// The content declares the thing over (left the call, beacon stopped).
    pub ended: bool,
    /// Whether the event type rings (`m.call.invite`,
    /// `m.rtc.notification`), so that `should_ring` is set.
    pub has_should_ring: bool,
    /// The ring decision (only if `has_should_ring`).
    pub should_ring: bool,
    /// A verification request outside its validity window: drop it (its
    /// `expiry` is then expired too, so `state` agrees).
    pub ignore: bool,
    /// Whether the event is a verification request, so that
    /// `verification_validity` is set.
    pub has_verification_validity: bool,
    /// Where the request's timestamp stands (only if
    /// `has_verification_validity`).
    pub verification_validity: VerificationValidity,
}

impl From<&EventExpiry> for mxclock_event_expiry {
    fn from(e: &EventExpiry) -> Self {
        let (has_should_ring, should_ring) = optional(e.should_ring, false);
        let (has_verification_validity, verification_validity) =
            optional(e.verification_validity, VerificationValidity::Valid);
        mxclock_event_expiry {
            rule: e.rule,
            expiry: (&e.expiry).into(),
            ended: e.ended,
            has_should_ring,
            should_ring,
            ignore: e.ignore,
            has_verification_validity,
            verification_validity,
        }
    }
}

/// The outcome for one event of `mxclock_evaluate_events_json`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct mxclock_event_outcome {
    /// `MXCLOCK_STATUS_OK` if the event could be evaluated (then `result`
    /// is set and `error_path`/`error_message` are NULL); else what
    /// `mxclock_evaluate_event_json` would have returned for it
    /// (`MXCLOCK_STATUS_INVALID_EVENT`, `MXCLOCK_STATUS_NO_EXPIRY_RULE`).
    pub status: mxclock_status,
    /// The decision; all zero unless `status` is `MXCLOCK_STATUS_OK`.
    pub result: mxclock_event_expiry,
    /// The event's `event_id`, or NULL if it had none. Owned by the array.
    pub event_id: *mut c_char,
    /// The JSON path of the problem (`$`, `content.lifetime`, `type`, ...),
    /// or NULL if the event was evaluated. Owned by the array.
    pub error_path: *mut c_char,
    /// Why the event could not be evaluated (naming the path), or NULL if
    /// it was. Owned by the array.
    pub error_message: *mut c_char,
}

/// The status of an event that could not be evaluated.
pub(crate) fn event_error_status(kind: EventErrorKind) -> mxclock_status {
    match kind {
        EventErrorKind::InvalidEvent => mxclock_status::InvalidEvent,
        EventErrorKind::NoExpiryRule => mxclock_status::NoExpiryRule,
    }
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
        rule: ExpiryRule::CallMemberSession,
        expiry: mxclock_expiry {
            deadline_ms: 0,
            remaining_ms: 0,
            state: ExpiryState::Live,
            is_expired: false,
            fire_at_boot_ms: 0,
        },
        ended: false,
        has_should_ring: false,
        should_ring: false,
        ignore: false,
        has_verification_validity: false,
        verification_validity: VerificationValidity::Valid,
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
    let state = ExpiryState::all().get(usize::try_from(v).ok()?)?;
    Some(state.as_c_str())
}

pub(crate) fn expiry_rule_name(v: c_int) -> Option<&'static CStr> {
    let rule = ExpiryRule::all().get(usize::try_from(v).ok()?)?;
    Some(rule.as_c_str())
}

pub(crate) fn sync_reason_name(v: c_int) -> Option<&'static CStr> {
    match v {
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
    /// JSON output agree, and the C values are the core's.
    #[test]
    fn names_match_the_core() {
        for (i, rule) in ExpiryRule::all().iter().enumerate() {
            assert_eq!(*rule as c_int, i as c_int);
            let name = expiry_rule_name(i as c_int).unwrap().to_str().unwrap();
            assert_eq!(name, rule.as_str());
        }
        assert!(expiry_rule_name(ExpiryRule::all().len() as c_int).is_none());
        assert!(expiry_rule_name(-1).is_none());
        for s in [
            SampleSource::Endpoint,
            SampleSource::DateHeader,
            SampleSource::EventAge,
        ] {
            let v = s as c_int;
            assert_eq!(sample_source_from_int(v), Some(s));
            assert_eq!(sample_source_name(v).unwrap().to_str().unwrap(), s.as_str());
        }
        for s in ExpiryState::all() {
            let v = *s as c_int;
            assert_eq!(expiry_state_name(v).unwrap().to_str().unwrap(), s.as_str());
        }
        assert!(sample_source_name(3).is_none() && expiry_state_name(3).is_none());
        assert!(sync_reason_name(5).is_none() && sync_reason_name(0).is_none());
        for r in [
            SyncReason::NoEstimate,
            SyncReason::UncertaintyTooHigh,
            SyncReason::Reboot,
            SyncReason::NetworkChanged,
        ] {
            let name = sync_reason_name(r as c_int).unwrap().to_str().unwrap();
            assert_eq!(format!("\"{name}\""), serde_json::to_string(&r).unwrap());
        }
    }

    /// The defaults the header's comments state ("(default N)" on every
    /// field of `mxclock_config` and `mxclock_sync_policy`) are the ones
    /// `mxclock_config_default` fills in.
    #[test]
    fn header_states_the_defaults() {
        let header = include_str!("../../include/mxclock.h");
        let c = mxclock_config::defaults();
        let p = c.policy;
        let expected: Vec<(&str, String)> = vec![
            ("max_samples_per_sync", p.max_samples_per_sync.to_string()),
            ("date_probe_budget", p.date_probe_budget.to_string()),
            ("target_uncertainty_ms", p.target_uncertainty_ms.to_string()),
            ("max_uncertainty_ms", p.max_uncertainty_ms.to_string()),
            ("min_sync_interval_ms", p.min_sync_interval_ms.to_string()),
            ("backoff_initial_ms", p.backoff_initial_ms.to_string()),
            ("backoff_max_ms", p.backoff_max_ms.to_string()),
            ("unsupported_retry_ms", p.unsupported_retry_ms.to_string()),
            ("max_sync_ms", p.max_sync_ms.to_string()),
            ("homeserver_url", "NULL".into()),
            ("access_token", "NULL".into()),
            ("endpoint_path", "NULL".into()),
            ("request_timeout_ms", c.request_timeout_ms.to_string()),
            ("allow_insecure_http", c.allow_insecure_http.to_string()),
            ("drift_ppm", c.drift_ppm.to_string()),
            ("learn_drift", c.learn_drift.to_string()),
            ("max_samples", c.max_samples.to_string()),
            (
                "wall_jump_threshold_ms",
                c.wall_jump_threshold_ms.to_string(),
            ),
            ("event_max_transit_ms", c.event_max_transit_ms.to_string()),
            ("restore_max_age_ms", c.restore_max_age_ms.to_string()),
        ];
        // Each field declaration, with the doc comment just above it.
        let mut stated: Vec<(String, String)> = Vec::new();
        let mut comment = String::new();
        let mut in_struct = false;
        for line in header.lines() {
            let t = line.trim();
            if t.starts_with("typedef struct mxclock_sync_policy {")
                || t.starts_with("typedef struct mxclock_config {")
            {
                in_struct = true;
            } else if in_struct && t.starts_with('}') {
                in_struct = false;
            } else if in_struct && (t.starts_with("/**") || t.starts_with('*')) {
                comment.push_str(t.trim_start_matches(['/', '*']));
                comment.push(' ');
            } else if in_struct && t.ends_with(';') && !t.starts_with("struct ") {
                let field = t.trim_end_matches(';').rsplit([' ', '*']).next().unwrap();
                let value = comment
                    .split("(default ")
                    .nth(1)
                    .and_then(|rest| rest.split([')', ';', ',']).next())
                    .unwrap_or("<none>")
                    .to_owned();
                stated.push((field.to_owned(), value));
                comment.clear();
            } else if in_struct {
                comment.clear();
            }
        }
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(f, v)| (f.to_owned(), v))
            .collect();
        let mut stated_sorted = stated.clone();
        stated_sorted.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(stated_sorted, expected_sorted);
    }

    #[test]
    fn default_config_round_trips_to_the_core_defaults() {
        let c = mxclock_config::defaults();
        // SAFETY: all string pointers are NULL.
        let rust = unsafe { c.into_rust() }.unwrap();
        assert_eq!(rust, ClockConfig::new(""));
    }
}
