//! Configuration of a [`ServerClock`](crate::ServerClock).

use crate::error::{Error, Result};
use crate::policy::SyncPolicy;
use crate::protocol::DEFAULT_ENDPOINT_PATH;
use crate::protocol::{validate_access_token, validate_endpoint_path, HomeserverUrl};

// The defaults of `ClockConfig` and `SyncPolicy`, declared once. Rust
// (`ClockConfig::new`, `SyncPolicy::default`) and C (`mxclock_config_default`)
// take them from here. Kotlin and Swift take them from the `uniffi(default =
// …)` attributes on the fields, which accept only literals: the test
// `uniffi_defaults_are_the_consts` reads the exported uniffi metadata and
// fails when an attribute and its constant differ.

/// Timeout of one whole request, ms.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Plain `http://` to a non-loopback host is refused.
pub const DEFAULT_ALLOW_INSECURE_HTTP: bool = false;
/// Phones: assume 100 ppm between boot and server clocks unless configured
/// (NTP assumes 15 ppm for disciplined clocks; uncalibrated phone crystals
/// and thermal swings are worse).
pub const DEFAULT_DRIFT_PPM: u32 = 100;
/// The boot clock's drift is learned from successive syncs.
pub const DEFAULT_LEARN_DRIFT: bool = true;
/// How many samples to keep, as NTP's clock filter.
pub const DEFAULT_MAX_SAMPLES: u32 = 8;
/// A wall-clock change larger than this is reported, ms.
pub const DEFAULT_WALL_JUMP_THRESHOLD_MS: i64 = 1_000;
/// Bound on how long a sync response spends between the server building it
/// and the client reading it, for event-age samples, ms.
pub const DEFAULT_EVENT_MAX_TRANSIT_MS: i64 = 10_000;
/// Saved state older than this is dropped on restore after a reboot, ms
/// (30 days).
pub const DEFAULT_RESTORE_MAX_AGE_MS: i64 = 30 * 86_400_000;
/// Requests in one endpoint burst.
pub const DEFAULT_MAX_SAMPLES_PER_SYNC: u32 = 4;
/// Most requests in one `Date`-header burst.
pub const DEFAULT_DATE_PROBE_BUDGET: u32 = 20;
/// An endpoint burst stops once two replies agree within ± this, ms.
pub const DEFAULT_TARGET_UNCERTAINTY_MS: i64 = 50;
/// `sync_if_needed` syncs above this uncertainty, ms.
pub const DEFAULT_MAX_UNCERTAINTY_MS: i64 = 1_000;
/// `sync_if_needed` never syncs more often than this, ms.
pub const DEFAULT_MIN_SYNC_INTERVAL_MS: i64 = 30_000;
/// First backoff after a failure, ms.
pub const DEFAULT_BACKOFF_INITIAL_MS: i64 = 5_000;
/// Backoff ceiling, ms (1 h).
pub const DEFAULT_BACKOFF_MAX_MS: i64 = 3_600_000;
/// How long a server without the MSC4094 endpoint is not asked again, ms
/// (24 h).
pub const DEFAULT_UNSUPPORTED_RETRY_MS: i64 = 86_400_000;
/// The longest a sync may take, ms.
pub const DEFAULT_MAX_SYNC_MS: i64 = 30_000;

/// Everything a [`ServerClock`](crate::ServerClock) needs; every field but
/// `homeserver_url` has a default.
///
/// `Debug` never prints the access token.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
// Kotlin/Swift print records field by field; this makes them print the
// redacting Debug below instead (the token must not reach an app log).
#[cfg_attr(feature = "uniffi", uniffi::export(Debug))]
pub struct ClockConfig {
    /// `https://matrix.example.org` (a base path is allowed). Plain `http`
    /// only for loopback, or with `allow_insecure_http`. Empty: no network,
    /// the clock is fed through `add_sample`/`observe_event` only.
    pub homeserver_url: String,
    /// Sent as `Authorization: Bearer` to the MSC4094 endpoint only; never
    /// logged, printed or saved.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub access_token: Option<String>,
    /// Path of the MSC4094 endpoint.
    #[cfg_attr(
        feature = "uniffi",
        uniffi(default = "/_matrix/client/v3/get_server_now")
    )]
    pub endpoint_path: String,
    /// Timeout of one whole request (connect, send, receive), ms.
    #[cfg_attr(feature = "uniffi", uniffi(default = 10000))]
    pub request_timeout_ms: u64,
    /// Allow `http://` to a non-loopback host (tests, private networks).
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub allow_insecure_http: bool,
    /// Assumed worst-case drift between boot and server clocks, ppm.
    #[cfg_attr(feature = "uniffi", uniffi(default = 100))]
    pub drift_ppm: u32,
    /// Learn the boot clock's drift from successive syncs on one boot and
    /// widen the estimate by what remains of it (at least 35 ppm) instead of
    /// `drift_ppm` (see the `drift` module). Off: always `drift_ppm`, and the
    /// sync policy of earlier versions.
    #[cfg_attr(feature = "uniffi", uniffi(default = true))]
    pub learn_drift: bool,
    /// Samples kept for selection (NTP keeps 8).
    #[cfg_attr(feature = "uniffi", uniffi(default = 8))]
    pub max_samples: u32,
    /// A wall-clock change larger than this (against the boot clock) is
    /// reported in the estimate.
    #[cfg_attr(feature = "uniffi", uniffi(default = 1000))]
    pub wall_jump_threshold_ms: i64,
    /// Upper bound on a sync response's time in flight, for event-age samples.
    #[cfg_attr(feature = "uniffi", uniffi(default = 10000))]
    pub event_max_transit_ms: i64,
    /// State older than this (by the wall clock) is dropped on restore after
    /// a reboot (default 30 days).
    #[cfg_attr(feature = "uniffi", uniffi(default = 2592000000))]
    pub restore_max_age_ms: i64,
    /// When and how hard to sync.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub policy: SyncPolicy,
}

impl std::fmt::Debug for ClockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockConfig")
            .field("homeserver_url", &self.homeserver_url)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint_path", &self.endpoint_path)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("drift_ppm", &self.drift_ppm)
            .field("learn_drift", &self.learn_drift)
            .field("max_samples", &self.max_samples)
            .field("wall_jump_threshold_ms", &self.wall_jump_threshold_ms)
            .field("event_max_transit_ms", &self.event_max_transit_ms)
            .field("restore_max_age_ms", &self.restore_max_age_ms)
            .field("policy", &self.policy)
            .finish()
    }
}

impl ClockConfig {
    /// Defaults for `homeserver_url`.
    ///
    /// ```
    /// let c = mxclock::ClockConfig::new("https://matrix.example.org");
    /// assert_eq!(c.policy.max_samples_per_sync, 4);
    /// assert!(c.validate().is_ok());
    /// ```
    pub fn new(homeserver_url: &str) -> Self {
        ClockConfig {
            homeserver_url: homeserver_url.to_owned(),
            access_token: None,
            endpoint_path: DEFAULT_ENDPOINT_PATH.to_owned(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            allow_insecure_http: DEFAULT_ALLOW_INSECURE_HTTP,
            drift_ppm: DEFAULT_DRIFT_PPM,
            learn_drift: DEFAULT_LEARN_DRIFT,
            max_samples: DEFAULT_MAX_SAMPLES,
            wall_jump_threshold_ms: DEFAULT_WALL_JUMP_THRESHOLD_MS,
            event_max_transit_ms: DEFAULT_EVENT_MAX_TRANSIT_MS,
            restore_max_age_ms: DEFAULT_RESTORE_MAX_AGE_MS,
            policy: SyncPolicy::default(),
        }
    }

    /// Checks every value; the error names the field and what to do.
    pub fn validate(&self) -> Result<()> {
        self.validated_homeserver_url().map(|_| ())
    }

    /// Checks every value, as [`validate`](Self::validate), and returns the
    /// homeserver URL parsed (`None` when it is empty): a clock keeps it so,
    /// rather than parsing it again for every sync.
    pub(crate) fn validated_homeserver_url(&self) -> Result<Option<HomeserverUrl>> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.request_timeout_ms == 0 {
            return bad("request_timeout_ms is 0; use e.g. 10000".into());
        }
        if self.request_timeout_ms > 600_000 {
            return bad(format!(
                "request_timeout_ms {} is over 10 minutes",
                self.request_timeout_ms
            ));
        }
        // The transport's rule (it builds the request from this path), with
        // the field named as the app set it.
        validate_endpoint_path(&self.endpoint_path).map_err(|e| match e {
            Error::InvalidConfig(m) => Error::InvalidConfig(format!("endpoint_path: {m}")),
            other => other,
        })?;
        if self.drift_ppm > 100_000 {
            return bad(format!(
                "drift_ppm {} is absurd (over 10 %)",
                self.drift_ppm
            ));
        }
        if !(1..=64).contains(&self.max_samples) {
            return bad(format!(
                "max_samples {} must be between 1 and 64",
                self.max_samples
            ));
        }
        if self.wall_jump_threshold_ms < 0
            || self.event_max_transit_ms < 0
            || self.restore_max_age_ms < 0
        {
            return bad("wall_jump_threshold_ms, event_max_transit_ms and restore_max_age_ms must not be negative".into());
        }
        let p = &self.policy;
        if p.max_samples_per_sync == 0 || p.date_probe_budget == 0 {
            return bad(
                "policy.max_samples_per_sync and policy.date_probe_budget must be at least 1"
                    .into(),
            );
        }
        if p.max_samples_per_sync > 64 || p.date_probe_budget > 64 {
            return bad(
                "policy.max_samples_per_sync and policy.date_probe_budget must be at most 64"
                    .into(),
            );
        }
        if p.target_uncertainty_ms < 0
            || p.max_uncertainty_ms < 0
            || p.min_sync_interval_ms < 0
            || p.backoff_initial_ms <= 0
            || p.backoff_max_ms < p.backoff_initial_ms
            || p.unsupported_retry_ms < 0
            || p.max_sync_ms <= 0
        {
            return bad(format!("policy has a negative or inverted value: {p:?}"));
        }
        if let Some(token) = &self.access_token {
            validate_access_token(token)?;
        }
        if self.homeserver_url.is_empty() {
            return Ok(None);
        }
        HomeserverUrl::parse(&self.homeserver_url, self.allow_insecure_http).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_token() {
        let mut c = ClockConfig::new("https://example.org");
        c.access_token = Some("syt_secret_token_123".into());
        let s = format!("{c:?}");
        assert!(!s.contains("syt_secret_token_123"), "{s}");
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = ClockConfig::new("");
        c.request_timeout_ms = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("request_timeout_ms"), "{e}");
        let mut c = ClockConfig::new("");
        c.max_samples = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_samples"));
        let mut c = ClockConfig::new("");
        c.endpoint_path = "no-slash".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("endpoint_path"));
        let mut c = ClockConfig::new("");
        c.policy.backoff_max_ms = 1;
        assert!(c.validate().unwrap_err().to_string().contains("policy"));
        assert!(ClockConfig::new("").validate().is_ok());
    }

    /// The Kotlin/Swift defaults (the `uniffi(default = …)` literals, read
    /// back from the metadata the bindings are generated from) are the
    /// constants above, field by field, for both records.
    #[cfg(feature = "uniffi")]
    #[test]
    fn uniffi_defaults_are_the_consts() {
        use uniffi_meta::{DefaultValueMetadata as D, LiteralMetadata as L, Metadata};

        fn literal(d: &D) -> String {
            match d {
                D::Default => "Default".into(),
                D::Literal(L::Boolean(b)) => b.to_string(),
                D::Literal(L::String(s)) => s.clone(),
                D::Literal(L::UInt(v, ..)) => v.to_string(),
                D::Literal(L::Int(v, ..)) => v.to_string(),
                D::Literal(L::None) => "None".into(),
                other => panic!("unexpected default {other:?}"),
            }
        }
        fn check(meta: &[u8], expected: &[(&str, String)]) {
            let Metadata::Record(record) = uniffi_meta::read_metadata(meta).unwrap() else {
                panic!("not a record");
            };
            let actual: Vec<(String, String)> = record
                .fields
                .iter()
                .filter_map(|f| Some((f.name.clone(), literal(f.default.as_ref()?))))
                .collect();
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect();
            assert_eq!(actual, expected, "{}", record.name);
        }
        let s = |v: &dyn ToString| v.to_string();
        check(
            &UNIFFI_META_MXCLOCK_RECORD_CLOCKCONFIG,
            &[
                ("access_token", "None".into()),
                ("endpoint_path", s(&DEFAULT_ENDPOINT_PATH)),
                ("request_timeout_ms", s(&DEFAULT_REQUEST_TIMEOUT_MS)),
                ("allow_insecure_http", s(&DEFAULT_ALLOW_INSECURE_HTTP)),
                ("drift_ppm", s(&DEFAULT_DRIFT_PPM)),
                ("learn_drift", s(&DEFAULT_LEARN_DRIFT)),
                ("max_samples", s(&DEFAULT_MAX_SAMPLES)),
                ("wall_jump_threshold_ms", s(&DEFAULT_WALL_JUMP_THRESHOLD_MS)),
                ("event_max_transit_ms", s(&DEFAULT_EVENT_MAX_TRANSIT_MS)),
                ("restore_max_age_ms", s(&DEFAULT_RESTORE_MAX_AGE_MS)),
                ("policy", "Default".into()),
            ],
        );
        check(
            &crate::policy::UNIFFI_META_MXCLOCK_RECORD_SYNCPOLICY,
            &[
                ("max_samples_per_sync", s(&DEFAULT_MAX_SAMPLES_PER_SYNC)),
                ("date_probe_budget", s(&DEFAULT_DATE_PROBE_BUDGET)),
                ("target_uncertainty_ms", s(&DEFAULT_TARGET_UNCERTAINTY_MS)),
                ("max_uncertainty_ms", s(&DEFAULT_MAX_UNCERTAINTY_MS)),
                ("min_sync_interval_ms", s(&DEFAULT_MIN_SYNC_INTERVAL_MS)),
                ("backoff_initial_ms", s(&DEFAULT_BACKOFF_INITIAL_MS)),
                ("backoff_max_ms", s(&DEFAULT_BACKOFF_MAX_MS)),
                ("unsupported_retry_ms", s(&DEFAULT_UNSUPPORTED_RETRY_MS)),
                ("max_sync_ms", s(&DEFAULT_MAX_SYNC_MS)),
            ],
        );
    }

    /// `SyncPolicy::default()` is the constants (Rust and C read it).
    #[test]
    fn policy_default_is_the_consts() {
        let p = SyncPolicy::default();
        assert_eq!(
            (
                p.max_samples_per_sync,
                p.date_probe_budget,
                p.target_uncertainty_ms,
                p.max_uncertainty_ms,
                p.min_sync_interval_ms,
                p.backoff_initial_ms,
                p.backoff_max_ms,
                p.unsupported_retry_ms,
                p.max_sync_ms
            ),
            (
                DEFAULT_MAX_SAMPLES_PER_SYNC,
                DEFAULT_DATE_PROBE_BUDGET,
                DEFAULT_TARGET_UNCERTAINTY_MS,
                DEFAULT_MAX_UNCERTAINTY_MS,
                DEFAULT_MIN_SYNC_INTERVAL_MS,
                DEFAULT_BACKOFF_INITIAL_MS,
                DEFAULT_BACKOFF_MAX_MS,
                DEFAULT_UNSUPPORTED_RETRY_MS,
                DEFAULT_MAX_SYNC_MS
            )
        );
    }
}
