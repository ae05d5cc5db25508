//! When to sync, and when a burst has done enough. Pure: times come in as
//! arguments, randomness (for jitter) too.
//!
//! The policy keeps a phone's request count low (a sync only when the
//! uncertainty has grown past a limit, the network changed while the drift
//! was not learned yet, or a reboot made the estimate suspect; the
//! uncertainty grows by the learned drift, see [`crate::drift`]), syncs a
//! second time early while the drift is being learned, ends a burst only
//! with a majority of agreeing replies (or at three times its budget), never
//! hammers a struggling server (exponential
//! backoff with jitter, `Retry-After`), and remembers that a server lacks the
//! MSC4094 endpoint so it does not ask again for a day.

use serde::{Deserialize, Serialize};

use crate::estimate::select;
use crate::protocol::MAX_RETRY_AFTER_MS;
use crate::sample::Sample;

/// Within a burst, the next request leaves at least this long after the
/// previous reply arrived. Two replays of one cached reply taken less than
/// ~2 ms apart give overlapping intervals (each bound carries 1 ms of clock
/// resolution) and would "agree"; spaced out, a replay is disjoint from the
/// truth and outvoted.
pub const BURST_MIN_GAP_MS: i64 = 5;
/// A `Date`-header burst narrows until its replies agree within ± this (or
/// the round trip keeps that from shrinking further), then confirms both
/// edges (see [`crate::probe`]); the reported uncertainty adds the
/// confirmation margin.
pub(crate) const DATE_TARGET_UNCERTAINTY_MS: i64 = 16;

/// While the boot clock's drift is being learned (no estimate of it yet on
/// this boot), a sync is due once the uncertainty has grown by this
/// fraction of `max_uncertainty_ms` since the last sync (or by more, when a
/// wide sync needs a longer span to learn anything: see
/// [`learning_growth_ms`]): a second sync soon after the first pins the
/// drift down, and the estimate is never far off while the rate is unknown.
pub(crate) const LEARNING_UNCERTAINTY_DIVISOR: i64 = 4;

/// A sync that only refreshes an estimate whose drift is learned (its
/// uncertainty grew past `max_uncertainty_ms`) ends its burst once its
/// replies agree within ± this fraction of `max_uncertainty_ms`, if that is
/// looser than the usual target: such a sync needs to bring the uncertainty
/// back well under the limit, not to measure θ to a few milliseconds (the
/// drift is learned already, and a wide sync never loosens the learned band:
/// every pair of syncs narrows it). Each edge is still backed by two
/// replies. On the `Date` path this saves the last halvings of the phase
/// search (see [`refresh_target_uncertainty_ms`]).
pub const REFRESH_TARGET_DIVISOR: i64 = 8;

/// How long a server whose `Date` replies contradicted each other (a second
/// clock, or a lie) is remembered as one with several clocks (24 h, from the
/// last contradiction): its `Date` bursts need more confirmations and
/// refuse at the first contradiction ([`crate::probe::DateBurst::suspect`]).
/// A server that never showed one is not affected.
pub const SEVERAL_CLOCKS_MEMORY_MS: i64 = 86_400_000;

/// What the drift model says, for the policy (see [`crate::drift`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DriftStatus {
    /// How fast the uncertainty grows, ppb (the drift's bound).
    pub growth_ppb: i64,
    /// Drift learning is on and has no estimate of the drift yet (neither
    /// learned on this boot nor carried from an earlier one).
    pub learning: bool,
    /// The drift is learned: a network change then makes no sync due (a new
    /// path changes neither clock; the next sync checks it anyway).
    pub learned: bool,
    /// The uncertainty at the estimate's reference time (right after the
    /// last sync), ms; 0 without one.
    pub fresh_uncertainty_ms: i64,
}

impl DriftStatus {
    /// A fixed bound of `drift_ppm` and no learning (the earlier policy).
    pub(crate) fn fixed(drift_ppm: u32) -> DriftStatus {
        DriftStatus {
            growth_ppb: i64::from(drift_ppm) * 1_000,
            learning: false,
            learned: false,
            fresh_uncertainty_ms: 0,
        }
    }
}

/// Knobs of the sync policy; every field has a sensible default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncPolicy {
    /// Requests in one endpoint burst (default 4).
    #[cfg_attr(feature = "uniffi", uniffi(default = 4))]
    pub max_samples_per_sync: u32,
    /// Most requests in one `Date`-header burst, where phase-targeted
    /// probes narrow the 1 s resolution down and then confirm the result
    /// (default 20; a consistent server needs 8 to 10, the rest is for
    /// voting out a lying reply).
    #[cfg_attr(feature = "uniffi", uniffi(default = 20))]
    pub date_probe_budget: u32,
    /// An endpoint burst stops early once two of its own replies agree
    /// within ± this (default 50).
    #[cfg_attr(feature = "uniffi", uniffi(default = 50))]
    pub target_uncertainty_ms: i64,
    /// `sync_if_needed` syncs when the uncertainty grew above this (default 1000).
    #[cfg_attr(feature = "uniffi", uniffi(default = 1000))]
    pub max_uncertainty_ms: i64,
    /// `sync_if_needed` never syncs more often than this (default 30 s).
    #[cfg_attr(feature = "uniffi", uniffi(default = 30000))]
    pub min_sync_interval_ms: i64,
    /// First backoff after a failure (default 5 s); doubles per failure.
    #[cfg_attr(feature = "uniffi", uniffi(default = 5000))]
    pub backoff_initial_ms: i64,
    /// Backoff ceiling (default 1 h).
    #[cfg_attr(feature = "uniffi", uniffi(default = 3600000))]
    pub backoff_max_ms: i64,
    /// How long a server without the MSC4094 endpoint is not asked for it
    /// again (default 24 h).
    #[cfg_attr(feature = "uniffi", uniffi(default = 86400000))]
    pub unsupported_retry_ms: i64,
    /// A sync starts no request that could end after this long (default
    /// 30 s): a whole sync takes at most this, or one request's timeout if
    /// that is longer.
    #[cfg_attr(feature = "uniffi", uniffi(default = 30000))]
    pub max_sync_ms: i64,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        use crate::config::*;
        SyncPolicy {
            max_samples_per_sync: DEFAULT_MAX_SAMPLES_PER_SYNC,
            date_probe_budget: DEFAULT_DATE_PROBE_BUDGET,
            target_uncertainty_ms: DEFAULT_TARGET_UNCERTAINTY_MS,
            max_uncertainty_ms: DEFAULT_MAX_UNCERTAINTY_MS,
            min_sync_interval_ms: DEFAULT_MIN_SYNC_INTERVAL_MS,
            backoff_initial_ms: DEFAULT_BACKOFF_INITIAL_MS,
            backoff_max_ms: DEFAULT_BACKOFF_MAX_MS,
            unsupported_retry_ms: DEFAULT_UNSUPPORTED_RETRY_MS,
            max_sync_ms: DEFAULT_MAX_SYNC_MS,
        }
    }
}

/// Why a sync is due.
///
/// `#[repr(C)]`: this enum is also the C API's `mxclock_sync_reason` (its
/// values start at 1, as they always had in C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(C)]
pub enum SyncReason {
    /// There is no estimate at all.
    NoEstimate = 1,
    /// The uncertainty grew above `max_uncertainty_ms`.
    UncertaintyTooHigh = 2,
    /// A restore found that the device rebooted since the state was saved.
    Reboot = 3,
    /// The app reported a network change (new path, maybe a new proxy).
    NetworkChanged = 4,
}

/// What the policy remembers between syncs (saved with the state). Boot-clock
/// times are only meaningful within one boot; a restore after a reboot resets
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyState {
    /// Boot time of the last sync attempt.
    pub last_attempt_boot_ms: Option<i64>,
    /// Failures in a row since the last success.
    pub consecutive_failures: u32,
    /// No request before this boot time (backoff or 429).
    pub retry_at_boot_ms: Option<i64>,
    /// `retry_at_boot_ms` comes from the server's 429, which even an
    /// explicit `sync()` honours (backoff binds only `sync_if_needed`).
    #[serde(default)]
    pub rate_limited: bool,
    /// The MSC4094 endpoint is not asked for before this boot time.
    pub endpoint_unsupported_until_boot_ms: Option<i64>,
    /// The app said the network changed since the last sync.
    pub network_changed: bool,
    /// A restore found a reboot; cleared by the next successful sync.
    pub reboot_detected: bool,
    /// Until this boot time, `Date` bursts treat the server as one that
    /// answers with more than one clock (several backends behind a load
    /// balancer): a `Date` reply of an earlier burst contradicted the
    /// others ([`SEVERAL_CLOCKS_MEMORY_MS`], `crate::probe`). Absent in
    /// state saved by earlier versions.
    #[serde(default)]
    pub several_clocks_until_boot_ms: Option<i64>,
}

impl PolicyState {
    /// Why a sync is due now, or `None`. `uncertainty_ms` is the current
    /// estimate's (None: no estimate). Ignores rate limits: see
    /// [`earliest_sync_boot_ms`](Self::earliest_sync_boot_ms).
    pub(crate) fn sync_reason(
        &self,
        policy: &SyncPolicy,
        uncertainty_ms: Option<i64>,
        drift: &DriftStatus,
    ) -> Option<SyncReason> {
        match uncertainty_ms {
            None => Some(SyncReason::NoEstimate),
            Some(_) if self.reboot_detected => Some(SyncReason::Reboot),
            Some(_) if self.network_changed && !drift.learned => Some(SyncReason::NetworkChanged),
            Some(u) if u > uncertainty_limit_ms(policy, drift) => {
                Some(SyncReason::UncertaintyTooHigh)
            }
            Some(_) => None,
        }
    }

    /// The earliest boot time a `sync_if_needed` may send a request: after
    /// the minimum interval since the last attempt and after any backoff or
    /// `Retry-After`.
    pub(crate) fn earliest_sync_boot_ms(&self, policy: &SyncPolicy) -> i64 {
        let after_interval = self
            .last_attempt_boot_ms
            .map(|t| t.saturating_add(policy.min_sync_interval_ms))
            .unwrap_or(i64::MIN);
        after_interval.max(self.retry_at_boot_ms.unwrap_or(i64::MIN))
    }

    /// Milliseconds until a sync is due (0: now). With an estimate and no
    /// other reason, that is when the uncertainty will have grown past its
    /// limit at the drift's growth rate.
    pub(crate) fn next_sync_due_in_ms(
        &self,
        policy: &SyncPolicy,
        uncertainty_ms: Option<i64>,
        drift: &DriftStatus,
        now_boot_ms: i64,
    ) -> i64 {
        let due = match self.sync_reason(policy, uncertainty_ms, drift) {
            Some(_) => now_boot_ms,
            None => {
                let u = uncertainty_ms.unwrap_or(0);
                let headroom = uncertainty_limit_ms(policy, drift).saturating_sub(u);
                // Smallest elapsed with growth > headroom.
                let elapsed = if drift.growth_ppb <= 0 {
                    i64::MAX / 4
                } else {
                    let e = ((headroom as i128 + 1) * 1_000_000_000) / drift.growth_ppb as i128;
                    i64::try_from(e).unwrap_or(i64::MAX / 4)
                };
                now_boot_ms.saturating_add(elapsed)
            }
        };
        due.max(self.earliest_sync_boot_ms(policy))
            .saturating_sub(now_boot_ms)
            .max(0)
    }

    /// Whether to ask the MSC4094 endpoint now.
    pub(crate) fn endpoint_supported(&self, now_boot_ms: i64) -> bool {
        self.endpoint_unsupported_until_boot_ms
            .is_none_or(|t| now_boot_ms >= t)
    }

    /// The endpoint answered 404/405/`M_UNRECOGNIZED`.
    pub(crate) fn mark_endpoint_unsupported(&mut self, policy: &SyncPolicy, now_boot_ms: i64) {
        self.endpoint_unsupported_until_boot_ms =
            Some(now_boot_ms.saturating_add(policy.unsupported_retry_ms));
    }

    /// Whether the server has shown more than one clock within the last
    /// [`SEVERAL_CLOCKS_MEMORY_MS`].
    pub(crate) fn several_clocks(&self, now_boot_ms: i64) -> bool {
        self.several_clocks_until_boot_ms
            .is_some_and(|t| now_boot_ms < t)
    }

    /// A `Date` reply contradicted the others of its burst.
    pub(crate) fn record_several_clocks(&mut self, now_boot_ms: i64) {
        self.several_clocks_until_boot_ms =
            Some(now_boot_ms.saturating_add(SEVERAL_CLOCKS_MEMORY_MS));
    }

    /// After a reboot (this state is fresh, `saved` the one restored):
    /// keeps what remains of `saved`'s memory of several clocks, measured
    /// by the wall clock (`wall_elapsed_ms` since `saved` was saved at boot
    /// time `saved_boot_ms`), from `now_boot_ms` on. A wall clock that went
    /// back, or a memory longer than [`SEVERAL_CLOCKS_MEMORY_MS`], keeps at
    /// most that much.
    pub(crate) fn carry_several_clocks(
        &mut self,
        saved: &PolicyState,
        saved_boot_ms: i64,
        wall_elapsed_ms: i64,
        now_boot_ms: i64,
    ) {
        let Some(until) = saved.several_clocks_until_boot_ms else {
            return;
        };
        let remaining = until
            .saturating_sub(saved_boot_ms)
            .saturating_sub(wall_elapsed_ms.max(0))
            .min(SEVERAL_CLOCKS_MEMORY_MS);
        if remaining > 0 {
            self.several_clocks_until_boot_ms = Some(now_boot_ms.saturating_add(remaining));
        }
    }

    /// A sync is starting.
    pub(crate) fn record_attempt(&mut self, now_boot_ms: i64) {
        self.last_attempt_boot_ms = Some(now_boot_ms);
    }

    /// A sync produced an estimate.
    pub(crate) fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.retry_at_boot_ms = None;
        self.rate_limited = false;
        self.network_changed = false;
        self.reboot_detected = false;
    }

    /// A sync failed. `random` is any uniformly random `u64` (jitter source).
    /// Returns the backoff delay chosen: `initial × 2^(failures−1)`, capped,
    /// then drawn uniformly from its upper half ("equal jitter"), so that a
    /// crowd of clients that failed together spreads out.
    pub(crate) fn record_failure(
        &mut self,
        policy: &SyncPolicy,
        now_boot_ms: i64,
        random: u64,
    ) -> i64 {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let exp = self.consecutive_failures.saturating_sub(1).min(40);
        let full = policy
            .backoff_initial_ms
            .max(1)
            .saturating_mul(1i64 << exp)
            .min(policy.backoff_max_ms.max(1));
        let half = full / 2;
        let delay = half + (random % (full - half + 1) as u64) as i64;
        self.rate_limited = false;
        self.retry_at_boot_ms = Some(now_boot_ms.saturating_add(delay));
        delay
    }

    /// The server said 429: honour its `retry_after_ms` (at least the
    /// minimum sync interval when it gave none).
    pub(crate) fn record_rate_limited(
        &mut self,
        policy: &SyncPolicy,
        now_boot_ms: i64,
        retry_after_ms: Option<u64>,
    ) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let wait = retry_after_ms
            .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX))
            .unwrap_or(policy.min_sync_interval_ms);
        self.rate_limited = true;
        self.retry_at_boot_ms = Some(now_boot_ms.saturating_add(wait));
    }

    /// Clamps remembered boot times to what this policy could have set by
    /// boot time `now_boot_ms` (restored state): no attempt in the future,
    /// no wait longer than the longest the policy or a server's
    /// `Retry-After` (at most a day) can impose. Forged state then cannot
    /// stop a clock from syncing for longer than that.
    pub(crate) fn clamp_to_boot(&mut self, policy: &SyncPolicy, now_boot_ms: i64) {
        let server_wait_ms = i64::try_from(MAX_RETRY_AFTER_MS).unwrap_or(i64::MAX);
        let longest_wait = policy.backoff_max_ms.max(server_wait_ms);
        self.last_attempt_boot_ms = self.last_attempt_boot_ms.map(|t| t.min(now_boot_ms));
        self.retry_at_boot_ms = self
            .retry_at_boot_ms
            .map(|t| t.min(now_boot_ms.saturating_add(longest_wait)));
        self.endpoint_unsupported_until_boot_ms = self
            .endpoint_unsupported_until_boot_ms
            .map(|t| t.min(now_boot_ms.saturating_add(policy.unsupported_retry_ms)));
        self.several_clocks_until_boot_ms = self
            .several_clocks_until_boot_ms
            .map(|t| t.min(now_boot_ms.saturating_add(SEVERAL_CLOCKS_MEMORY_MS)));
    }

    /// Forget boot-clock times (after a reboot they mean nothing).
    pub(crate) fn reset_for_new_boot(&mut self) {
        *self = PolicyState {
            reboot_detected: true,
            ..PolicyState::default()
        };
    }
}

/// The uncertainty above which a sync is due: `max_uncertainty_ms`, or,
/// while the drift is being learned, the fresh uncertainty plus
/// [`learning_growth_ms`] (never more than the maximum).
pub(crate) fn uncertainty_limit_ms(policy: &SyncPolicy, drift: &DriftStatus) -> i64 {
    if drift.learning {
        drift
            .fresh_uncertainty_ms
            .max(0)
            .saturating_add(learning_growth_ms(policy, drift))
            .min(policy.max_uncertainty_ms)
    } else {
        policy.max_uncertainty_ms
    }
}

/// How much the uncertainty grows, while the drift is being learned, before
/// the sync that learns it: a [`LEARNING_UNCERTAINTY_DIVISOR`]th of
/// `max_uncertainty_ms`, or what two syncs as wide as the last one need to
/// learn anything, if that is more.
///
/// Two syncs of uncertainty `u` (intervals `2u` wide) `Δ` apart bound the
/// rate to a band `4u / Δ` wide ([`crate::drift`]); the drift counts as
/// learned only when half of that plus the floor
/// ([`crate::drift::DRIFT_FLOOR_PPB`]) is below the fixed bound `g`, that is
/// `Δ > 2u / (g − floor)`, over which the uncertainty grows by
/// `2u·g / (g − floor)` (about `2.4u` at 100 ppm). A learning sync sooner
/// than that learns nothing and a third one is needed: the usual case for a
/// `Date` sync (`u` ≈ 200 ms).
pub fn learning_growth_ms(policy: &SyncPolicy, drift: &DriftStatus) -> i64 {
    let quarter = policy.max_uncertainty_ms / LEARNING_UNCERTAINTY_DIVISOR;
    let g = i128::from(drift.growth_ppb);
    let excess = g - i128::from(crate::drift::DRIFT_FLOOR_PPB);
    if excess <= 0 {
        return quarter;
    }
    let u = i128::from(drift.fresh_uncertainty_ms.max(0));
    let pair = (2 * u * g + excess - 1) / excess;
    quarter.max(i64::try_from(pair).unwrap_or(i64::MAX))
}

/// Whether a sync for `reason` only refreshes an estimate whose drift is
/// learned (see [`REFRESH_TARGET_DIVISOR`]).
pub fn is_refresh(reason: Option<SyncReason>, drift: &DriftStatus) -> bool {
    reason == Some(SyncReason::UncertaintyTooHigh) && drift.learned
}

/// The agreement at which a burst may stop early, given its usual
/// `target_ms` ([`burst_target_uncertainty_ms`]): for a refresh
/// ([`is_refresh`]), at least a [`REFRESH_TARGET_DIVISOR`]th of
/// `max_uncertainty_ms`.
pub fn refresh_target_uncertainty_ms(policy: &SyncPolicy, target_ms: i64, refresh: bool) -> i64 {
    if refresh {
        target_ms.max(policy.max_uncertainty_ms / REFRESH_TARGET_DIVISOR)
    } else {
        target_ms
    }
}

/// The agreement at which a burst may stop early (the half-width of the
/// survivors' intersection): the policy's target on the endpoint path; on
/// the `Date` path `DATE_TARGET_UNCERTAINTY_MS`, or three quarters of the
/// shortest round trip when that is larger (half is the floor of any
/// two-way method, and narrowing slows down near it), before confirmation.
pub fn burst_target_uncertainty_ms(
    policy: &SyncPolicy,
    endpoint: bool,
    min_rtt_ms: Option<i64>,
) -> i64 {
    if endpoint {
        policy.target_uncertainty_ms
    } else {
        DATE_TARGET_UNCERTAINTY_MS.max(min_rtt_ms.unwrap_or(0).max(0) * 3 / 4 + 2)
    }
}

/// Whether an endpoint burst has done enough: over `window` (the samples
/// kept before the burst plus `taken`, the burst's own), the survivors
/// agree within ± `target_ms`, the newest sample is one of them, and at
/// least two of the burst's own samples are (so each edge of the reported
/// interval is backed by two samples, one of them fresh). Old samples,
/// widened by drift, agree with almost anything; requiring two fresh ones
/// means one stale or spoofed reply can never end a burst on a wrong, narrow
/// estimate. The reported uncertainty, where all survivors but one agree,
/// may be wider than the target. (`Date` bursts: the `probe` module.)
pub fn burst_complete(window: &[Sample], taken: &[Sample], drift_ppm: u32, target_ms: i64) -> bool {
    let Ok(sel) = select(window, drift_ppm) else {
        return false;
    };
    let newest = window.iter().max_by_key(|s| s.taken_boot_ms);
    let newest_agrees = newest.is_some_and(|n| sel.survivors.contains(n));
    let fresh_agreeing = taken.iter().filter(|s| sel.survivors.contains(s)).count();
    newest_agrees && fresh_agreeing >= 2 && sel.agreed_half_width_ms() <= target_ms
}

/// A burst whose samples have no majority may go on for up to this many
/// times its request budget (still within `max_sync_ms`): giving up leaves
/// the app with the device clock, and a few more replies usually settle it.
pub(crate) const NO_MAJORITY_BUDGET_FACTOR: u32 = 3;

/// Whether a burst's samples have a majority: over `window` (the samples
/// kept before the burst plus `taken`, the burst's own), more than half
/// agree and the newest sample is one of them. An empty burst has nothing
/// to settle.
pub fn burst_has_majority(window: &[Sample], taken: &[Sample], drift_ppm: u32) -> bool {
    if taken.is_empty() {
        return true;
    }
    let Ok(sel) = select(window, drift_ppm) else {
        return false;
    };
    let newest = window.iter().max_by_key(|s| s.taken_boot_ms);
    newest.is_some_and(|n| sel.survivors.contains(n))
}

/// How many requests a burst may send: its `budget`, or
/// `NO_MAJORITY_BUDGET_FACTOR` times it (at most 64) while its samples
/// have no majority.
pub fn burst_request_limit(budget: u32, has_majority: bool) -> u32 {
    if has_majority {
        budget
    } else {
        budget.saturating_mul(NO_MAJORITY_BUDGET_FACTOR).min(64)
    }
}

/// When to send the next `Date`-header probe (htpdate's trick): so that it
/// reaches the server when the predicted server time is a whole second. The reply's `Date` then tells on which side of the
/// second the truth is, halving the interval.
///
/// `offset_ms` is the current θ midpoint, `rtt_ms` a recent round trip (the
/// uplink is guessed as half of it; a wrong guess only costs efficiency, the
/// interval stays correct). Returns the boot time to send at, ≥ `now_boot_ms`.
pub(crate) fn date_probe_send_at_boot_ms(offset_ms: i64, rtt_ms: i64, now_boot_ms: i64) -> i64 {
    let uplink = rtt_ms.max(0) / 2;
    // Predicted server time on arrival if sent now.
    let arrive = now_boot_ms.saturating_add(uplink).saturating_add(offset_ms);
    let wait = (1000 - arrive.rem_euclid(1000)) % 1000;
    now_boot_ms.saturating_add(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXED: DriftStatus = DriftStatus {
        growth_ppb: 100_000,
        learning: false,
        learned: false,
        fresh_uncertainty_ms: 0,
    };

    #[test]
    fn reasons_in_priority_order() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        assert_eq!(
            s.sync_reason(&p, None, &FIXED),
            Some(SyncReason::NoEstimate)
        );
        assert_eq!(s.sync_reason(&p, Some(10), &FIXED), None);
        assert_eq!(
            s.sync_reason(&p, Some(1001), &FIXED),
            Some(SyncReason::UncertaintyTooHigh)
        );
        s.network_changed = true;
        assert_eq!(
            s.sync_reason(&p, Some(10), &FIXED),
            Some(SyncReason::NetworkChanged)
        );
        s.reboot_detected = true;
        assert_eq!(
            s.sync_reason(&p, Some(10), &FIXED),
            Some(SyncReason::Reboot)
        );
        s.record_success();
        assert_eq!(s.sync_reason(&p, Some(10), &FIXED), None);
    }

    #[test]
    fn learning_syncs_early_and_a_learned_drift_ignores_network_changes() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        let learning = DriftStatus {
            learning: true,
            ..FIXED
        };
        assert_eq!(s.sync_reason(&p, Some(250), &learning), None);
        assert_eq!(
            s.sync_reason(&p, Some(251), &learning),
            Some(SyncReason::UncertaintyTooHigh)
        );
        assert_eq!(s.sync_reason(&p, Some(251), &FIXED), None);
        let learned = DriftStatus {
            growth_ppb: 20_000,
            learning: false,
            learned: true,
            fresh_uncertainty_ms: 0,
        };
        s.network_changed = true;
        assert_eq!(s.sync_reason(&p, Some(300), &learned), None);
        assert_eq!(
            s.sync_reason(&p, Some(300), &learning),
            Some(SyncReason::NetworkChanged)
        );
        // 50 ms now, limit 1000, 20 ppm: 951 ms of growth takes 4.755e7 ms.
        s.network_changed = false;
        assert_eq!(s.next_sync_due_in_ms(&p, Some(50), &learned, 0), 47_550_000);
        // While learning: 201 ms at 100 ppm.
        assert_eq!(s.next_sync_due_in_ms(&p, Some(50), &learning, 0), 2_010_000);
        // A wide fresh estimate (a `Date` sync): measured from it, and far
        // enough for the next sync to learn (2 × 200 × 100 / 65 ms more).
        let wide = DriftStatus {
            fresh_uncertainty_ms: 200,
            ..learning
        };
        assert_eq!(uncertainty_limit_ms(&p, &wide), 816);
        let wider = DriftStatus {
            fresh_uncertainty_ms: 900,
            ..learning
        };
        assert_eq!(uncertainty_limit_ms(&p, &wider), 1000);
    }

    #[test]
    fn a_wide_sync_waits_until_the_next_one_can_learn_the_drift() {
        let p = SyncPolicy::default();
        let learning = DriftStatus {
            learning: true,
            ..FIXED
        };
        // A narrow (endpoint) sync: a quarter of the maximum is enough.
        let narrow = DriftStatus {
            fresh_uncertainty_ms: 50,
            ..learning
        };
        assert_eq!(learning_growth_ms(&p, &narrow), 250);
        assert_eq!(uncertainty_limit_ms(&p, &narrow), 300);
        // A `Date` sync of ±210 ms: two such syncs learn a band below the
        // fixed bound only once 2 × 210 ms / (100 − 35) ppm ≈ 108 min apart,
        // over which the uncertainty grows by 647 ms (not 250).
        let wide = DriftStatus {
            fresh_uncertainty_ms: 210,
            ..learning
        };
        assert_eq!(learning_growth_ms(&p, &wide), 647);
        assert_eq!(uncertainty_limit_ms(&p, &wide), 857);
        // Two syncs that far apart do learn it.
        let h = |b: i64| crate::drift::SyncInterval::new(b, -210_000, 210_000, 0).unwrap();
        let span_ms = 647 * 1_000_000_000 / 100_000;
        assert!(crate::drift::learn(&[h(0), h(span_ms + 1)], 100).learned);
        assert!(!crate::drift::learn(&[h(0), h(2_500_000)], 100).learned);
        // Never past the maximum; a growth at or below the floor learns
        // nothing more by waiting.
        let wider = DriftStatus {
            fresh_uncertainty_ms: 600,
            ..learning
        };
        assert_eq!(uncertainty_limit_ms(&p, &wider), 1000);
        let slow = DriftStatus {
            growth_ppb: crate::drift::DRIFT_FLOOR_PPB,
            ..wide
        };
        assert_eq!(learning_growth_ms(&p, &slow), 250);
    }

    #[test]
    fn a_refresh_of_a_learned_drift_stops_at_a_looser_target() {
        let p = SyncPolicy::default();
        let learned = DriftStatus {
            growth_ppb: 20_000,
            learning: false,
            learned: true,
            fresh_uncertainty_ms: 50,
        };
        let learning = DriftStatus {
            learning: true,
            ..FIXED
        };
        let refresh = Some(SyncReason::UncertaintyTooHigh);
        assert!(is_refresh(refresh, &learned));
        // Learning the drift needs narrow syncs; so does any other reason.
        assert!(!is_refresh(refresh, &learning));
        assert!(!is_refresh(refresh, &FIXED));
        for other in [
            None,
            Some(SyncReason::NoEstimate),
            Some(SyncReason::Reboot),
            Some(SyncReason::NetworkChanged),
        ] {
            assert!(!is_refresh(other, &learned));
        }
        let date = burst_target_uncertainty_ms(&p, false, Some(60));
        assert_eq!(date, 47);
        assert_eq!(refresh_target_uncertainty_ms(&p, date, true), 125);
        assert_eq!(refresh_target_uncertainty_ms(&p, date, false), date);
        // Never tighter than the usual target.
        assert_eq!(refresh_target_uncertainty_ms(&p, 400, true), 400);
    }

    #[test]
    fn a_burst_without_a_majority_may_go_on() {
        let t = 1_750_000_000_000;
        let good = |at| Sample::from_endpoint(at, at + 40, t + at + 20).unwrap();
        let stale = |at| Sample::from_endpoint(at, at + 4, t - 60_000).unwrap();
        // One good, one stale: no majority, so up to three times the budget.
        let taken = [good(0), stale(100)];
        assert!(!burst_has_majority(&taken, &taken, 100));
        assert_eq!(burst_request_limit(4, false), 12);
        // A third good reply settles it.
        let taken = [good(0), stale(100), good(200)];
        assert!(burst_has_majority(&taken, &taken, 100));
        assert_eq!(burst_request_limit(4, true), 4);
        assert!(burst_has_majority(&taken, &[], 100));
        assert_eq!(burst_request_limit(40, false), 64);
    }

    #[test]
    fn due_when_drift_eats_the_headroom() {
        let p = SyncPolicy::default();
        let s = PolicyState::default();
        // 50 ms now, limit 1000, 100 ppm: 951 ms of widening takes 9.51e6 ms.
        let due = s.next_sync_due_in_ms(&p, Some(50), &FIXED, 0);
        assert_eq!(due, 9_510_000);
        assert!(crate::estimate::drift_widening_ms(100, due) + 50 > 1000);
        assert!(crate::estimate::drift_widening_ms(100, due - 10_000) + 50 <= 1000);
        assert_eq!(s.next_sync_due_in_ms(&p, None, &FIXED, 0), 0);
    }

    #[test]
    fn min_interval_and_retry_after_hold_back() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        s.record_attempt(1_000);
        assert_eq!(s.next_sync_due_in_ms(&p, None, &FIXED, 1_000), 30_000);
        s.record_rate_limited(&p, 1_000, Some(120_000));
        assert_eq!(s.next_sync_due_in_ms(&p, None, &FIXED, 1_000), 120_000);
        s.record_rate_limited(&p, 1_000, None);
        assert_eq!(s.retry_at_boot_ms, Some(31_000));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        let mut last_full = 0;
        for i in 0..20 {
            for r in [0u64, u64::MAX, 12_345] {
                let mut t = s.clone();
                let d = t.record_failure(&p, 0, r);
                let full = (p.backoff_initial_ms << i.min(30)).min(p.backoff_max_ms);
                assert!(
                    d >= full / 2 && d <= full,
                    "failure {i}: {d} not in [{}, {full}]",
                    full / 2
                );
                last_full = full;
            }
            s.record_failure(&p, 0, 0);
        }
        assert_eq!(last_full, p.backoff_max_ms);
        // Different random inputs spread clients out.
        let a = PolicyState::default().record_failure(&p, 0, 1);
        let b = PolicyState::default().record_failure(&p, 0, 2_000);
        assert_ne!(a, b);
    }

    #[test]
    fn endpoint_unsupported_is_remembered_for_a_day() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        assert!(s.endpoint_supported(0));
        s.mark_endpoint_unsupported(&p, 0);
        assert!(!s.endpoint_supported(86_399_999));
        assert!(s.endpoint_supported(86_400_000));
    }

    #[test]
    fn several_clocks_are_remembered_for_a_day_and_across_a_reboot() {
        let p = SyncPolicy::default();
        let mut s = PolicyState::default();
        assert!(!s.several_clocks(0));
        s.record_several_clocks(1_000);
        assert!(s.several_clocks(1_000));
        assert!(s.several_clocks(1_000 + SEVERAL_CLOCKS_MEMORY_MS - 1));
        assert!(!s.several_clocks(1_000 + SEVERAL_CLOCKS_MEMORY_MS));
        // Forged state: at most a day from a restore.
        let mut forged = PolicyState {
            several_clocks_until_boot_ms: Some(i64::MAX),
            ..PolicyState::default()
        };
        forged.clamp_to_boot(&p, 5_000);
        assert_eq!(
            forged.several_clocks_until_boot_ms,
            Some(5_000 + SEVERAL_CLOCKS_MEMORY_MS)
        );
        // A reboot keeps what remains by the wall clock: saved at boot
        // 2 000, an hour after the contradiction, restored an hour later.
        let saved = PolicyState {
            several_clocks_until_boot_ms: Some(SEVERAL_CLOCKS_MEMORY_MS - 3_600_000 + 2_000),
            ..PolicyState::default()
        };
        let mut fresh = PolicyState::default();
        fresh.reset_for_new_boot();
        assert!(!fresh.several_clocks(0));
        fresh.carry_several_clocks(&saved, 2_000, 3_600_000, 50);
        assert!(fresh.several_clocks(50 + SEVERAL_CLOCKS_MEMORY_MS - 7_200_001));
        assert!(!fresh.several_clocks(50 + SEVERAL_CLOCKS_MEMORY_MS - 7_200_000));
        // Past the day, or nothing saved: nothing carried; a wall clock
        // that went back carries no more than was left.
        let mut late = PolicyState::default();
        late.carry_several_clocks(&saved, 2_000, SEVERAL_CLOCKS_MEMORY_MS, 50);
        assert_eq!(late.several_clocks_until_boot_ms, None);
        let mut none = PolicyState::default();
        none.carry_several_clocks(&PolicyState::default(), 2_000, 0, 50);
        assert_eq!(none.several_clocks_until_boot_ms, None);
        let mut back = PolicyState::default();
        back.carry_several_clocks(&forged, 0, -1_000_000, 50);
        assert_eq!(
            back.several_clocks_until_boot_ms,
            Some(50 + SEVERAL_CLOCKS_MEMORY_MS)
        );
        // State saved before the field existed reads as "not seen".
        let old: PolicyState = serde_json::from_str(
            r#"{"last_attempt_boot_ms":null,"consecutive_failures":0,"retry_at_boot_ms":null,
                "endpoint_unsupported_until_boot_ms":null,"network_changed":false,
                "reboot_detected":false}"#,
        )
        .unwrap();
        assert_eq!(old.several_clocks_until_boot_ms, None);
    }

    #[test]
    fn probe_timing_targets_the_second_boundary() {
        for offset in [0i64, 1, 999, 1_700_000_000_123, -1_234] {
            for rtt in [0i64, 7, 80, 2_500] {
                for now in [0i64, 5, 123_456] {
                    let at = date_probe_send_at_boot_ms(offset, rtt, now);
                    assert!(at >= now && at < now + 1000);
                    assert_eq!((at + rtt / 2 + offset).rem_euclid(1000), 0);
                }
            }
        }
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn date_probe_send_at_boot_ms_example() {
        use crate::policy::date_probe_send_at_boot_ms;
        // θ = 1_700_000_000_250: server is .250 into a second at boot 0.
        let at = date_probe_send_at_boot_ms(1_700_000_000_250, 20, 0);
        assert_eq!((at + 10 + 1_700_000_000_250) % 1000, 0);
        assert!((0..1000).contains(&at));
    }
}
