//! `ServerClock`: the estimate behind a lock, single-flight sync, persistence.
//!
//! The lock is never held across network I/O: a sync copies what it needs,
//! releases the lock, talks to the server, then merges its samples back.
//! Readers (`server_now_ms`, `estimate`) therefore never wait for the
//! network; `server_now_ms` reads the boot clock and θ with its learned rate
//! through a sequence lock (atomics, no lock).
//!
//! Saved state holds evidence, not conclusions: the samples, the drift
//! history (and the policy's memory). A restore checks every sample and
//! history entry, keeps at most `max_samples` of the newest samples, and
//! recomputes the drift and the estimate from them with the same rules as a
//! live clock, so forged or corrupted state can at worst lose the estimate,
//! never invent one its own samples do not support.
//!
//! Each successful sync also leaves its own interval for θ in a per-boot
//! drift history ([`crate::drift`]); the learned drift moves the estimate
//! and bounds its growth. The history is dropped on a reboot; the rate it
//! learned is carried over to move the estimate (never to bound it) until
//! the new boot learns its own ([`drift::learn_with_carried`]). A history
//! restored on the same boot is treated the same way until a sync of this
//! process is recorded with it: evidence from outside the process moves the
//! estimate but never narrows its bound on its own.

use std::sync::atomic::{fence, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::ClockConfig;
use crate::drift::{self, Drift, SyncInterval};
use crate::error::{Error, Result};
use crate::estimate::{
    burst_proves_step, drift_widening_ms, reading_ms_from_us, select, select_with_drift,
    trim_window, Selection,
};
use crate::policy::{DriftStatus, PolicyState, SyncReason};
use crate::protocol::HomeserverUrl;
use crate::sample::{Sample, SampleSource};
use crate::time::{OsTimeSource, Sleeper, ThreadSleeper, TimeSource};
use crate::transport::HttpTransport;

/// No estimate yet (stored in the θ atomic).
const NO_OFFSET: i64 = i64::MIN;
/// Saved-state format tag and version.
const STATE_FORMAT: &str = "mxclock-state";
const STATE_VERSION: u32 = 1;
/// After a reboot the estimate goes through the wall clock, which may have
/// been set while the device was off; allow this much for it on top of drift.
pub(crate) const REBOOT_WALL_SLACK_MS: i64 = 1_000;

/// The server-time estimate at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Estimate {
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
    /// newest sample, when more than `wall_jump_threshold_ms` (else 0). The
    /// estimate does not depend on it; it tells the app the device clock was
    /// changed.
    pub wall_jump_ms: i64,
    /// The last selection followed a server clock step (old samples dropped).
    pub server_clock_stepped: bool,
}

/// What one `sync()` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncReport {
    /// HTTP requests sent.
    pub requests: u32,
    /// Usable samples obtained.
    pub samples_taken: u32,
    /// Source of the best sample of the resulting estimate.
    pub source: SampleSource,
    /// Whether the server has the MSC4094 endpoint (as far as we know).
    pub endpoint_supported: bool,
    /// Why the sync ran (None for an explicit `sync()`).
    pub reason: Option<SyncReason>,
    /// Shortest round trip of the burst, ms (None if no reply came back).
    pub min_rtt_ms: Option<i64>,
    /// How far the `Date` header of an MSC4094 reply lay outside the time
    /// its own body gave, ms: positive when the `Date` is ahead. The largest
    /// such gap of the burst; None when every `Date` fitted its body (or no
    /// reply had both). Body and `Date` of one reply cannot disagree if one
    /// clock set them: a gap means a proxy or CDN in front of the homeserver
    /// writes `Date` from its own clock. The estimate uses the body.
    #[serde(default)]
    pub date_disagreement_ms: Option<i64>,
    /// The estimate after the sync.
    pub estimate: Estimate,
}

/// Everything behind the lock.
#[derive(Debug, Clone, Default)]
struct State {
    samples: Vec<Sample>,
    selection: Option<Selection>,
    policy: PolicyState,
    /// Wall − boot when the selection was made (for wall-jump detection).
    wall_minus_boot_ms: i64,
    rng: u64,
    /// One interval per successful sync on this boot (see [`crate::drift`]).
    drift_history: Vec<SyncInterval>,
    /// Learned from `drift_history` (or the fixed bound).
    drift: Drift,
    /// The latest earlier boot's history that learned a rate: carried
    /// across reboots to move the estimate (never to bound it) until this
    /// boot learns its own ([`drift::learn_with_carried`]).
    previous_boot_history: Vec<SyncInterval>,
    /// `drift_history` came from saved state and no sync of this process
    /// has been recorded with it yet: its rate moves the estimate but bounds
    /// nothing (as a carried rate) until a live sync fits it, so that a
    /// corrupted or forged history cannot narrow the bound.
    history_unconfirmed: bool,
}

/// θ at a reference boot time and the rate it moves at, readable without a
/// lock (a sequence lock over atomics): what `server_now_ms` needs.
#[derive(Debug)]
struct OffsetCell {
    /// Odd while a writer is between its stores.
    seq: AtomicU64,
    theta_us: AtomicI64,
    ref_boot_ms: AtomicI64,
    center_ppb: AtomicI64,
}

impl OffsetCell {
    fn new() -> OffsetCell {
        OffsetCell {
            seq: AtomicU64::new(0),
            theta_us: AtomicI64::new(NO_OFFSET),
            ref_boot_ms: AtomicI64::new(0),
            center_ppb: AtomicI64::new(0),
        }
    }

    /// Writers hold the state's write lock, so there is one at a time.
    fn store(&self, theta_us: i64, ref_boot_ms: i64, center_ppb: i64) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        self.theta_us.store(theta_us, Ordering::Relaxed);
        self.ref_boot_ms.store(ref_boot_ms, Ordering::Relaxed);
        self.center_ppb.store(center_ppb, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// θ at boot time `boot_ms`, as [`Selection::reading_at`] computes it.
    fn theta_at(&self, boot_ms: i64) -> Option<i64> {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let theta = self.theta_us.load(Ordering::Relaxed);
            let reference = self.ref_boot_ms.load(Ordering::Relaxed);
            let center = self.center_ppb.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            if theta == NO_OFFSET {
                return None;
            }
            let drift = Drift {
                center_ppb: center,
                bound_ppb: 0,
                learned: true,
                carried: false,
            };
            let elapsed = boot_ms.saturating_sub(reference).max(0);
            return Some(reading_ms_from_us(
                theta.saturating_add(drift.shift_us(elapsed)),
            ));
        }
    }
}

/// Saved state. States written by earlier versions also carry their
/// `selection`; it is ignored (the estimate is recomputed from `samples`).
#[derive(Serialize, Deserialize)]
struct SavedState {
    format: String,
    version: u32,
    homeserver_url: String,
    boot_id: String,
    saved_boot_ms: i64,
    saved_wall_ms: i64,
    samples: Vec<Sample>,
    policy: PolicyState,
    wall_minus_boot_ms: i64,
    /// Evidence for the drift (checked and recomputed on restore).
    #[serde(default)]
    drift_history: Vec<SyncInterval>,
    /// An earlier boot's drift history that learned a rate (checked and
    /// recomputed on restore; it moves the estimate, never bounds it).
    #[serde(default)]
    previous_boot_drift_history: Vec<SyncInterval>,
}

/// The server clock of one homeserver. `Send + Sync`: share it in an `Arc`.
///
/// ```
/// use std::sync::Arc;
/// use mxclock::{ClockConfig, FakeTimeSource, ServerClock, TimeSource};
///
/// let time = Arc::new(FakeTimeSource::new(5_000, 1_700_000_000_000, "boot-1"));
/// // No homeserver URL: fed by the app (sans-I/O).
/// let clock = ServerClock::new_with_sources(ClockConfig::new(""), Some(time.clone()), None).unwrap();
/// assert!(clock.server_now_ms().is_err()); // not synced yet
///
/// // The app timed a request to the MSC4094 endpoint itself: sent at boot
/// // 5 000, answer (server time) received at boot 5 040.
/// let server_ms = 1_700_000_037_270;
/// clock.add_endpoint_sample(5_000, 5_040, server_ms).unwrap();
/// time.advance_ms(40);
/// let e = clock.estimate().unwrap();
/// assert!((e.server_now_ms - (server_ms + 20)).abs() <= e.uncertainty_ms);
/// assert!(e.uncertainty_ms <= 22);
/// ```
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct ServerClock {
    pub(crate) config: ClockConfig,
    /// `config.homeserver_url`, parsed once (None when empty).
    pub(crate) homeserver: Option<HomeserverUrl>,
    pub(crate) time: Arc<dyn TimeSource>,
    pub(crate) transport: Option<Arc<dyn HttpTransport>>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    state: RwLock<State>,
    /// θ of the current selection and its rate: the lock-free fast path.
    offset: OffsetCell,
    /// The sync burst in flight, shared by every caller that wants one.
    pub(crate) in_flight: Mutex<Option<Arc<crate::session::Flight>>>,
    /// Told after each estimate change (`src/snapshot.rs`).
    pub(crate) listeners: RwLock<crate::snapshot::Listeners>,
}

impl std::fmt::Debug for ServerClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClock")
            .field("config", &self.config)
            .field("offset_boot_ms", &self.offset.theta_at(0))
            .finish_non_exhaustive()
    }
}

impl ServerClock {
    fn build(
        config: ClockConfig,
        time_source: Option<Arc<dyn TimeSource>>,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<ServerClock> {
        ServerClock::build_with_sleeper(config, time_source, transport, Arc::new(ThreadSleeper))
    }

    fn build_with_sleeper(
        config: ClockConfig,
        time_source: Option<Arc<dyn TimeSource>>,
        transport: Option<Arc<dyn HttpTransport>>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<ServerClock> {
        let homeserver = config.validated_homeserver_url()?;
        let time = time_source.unwrap_or_else(OsTimeSource::shared);
        let transport = match transport {
            Some(t) => Some(t),
            None => default_transport(&config)?,
        };
        let seed = seed_from(&*time);
        let drift_ppm = config.drift_ppm;
        Ok(ServerClock {
            config,
            homeserver,
            time,
            transport,
            sleeper,
            state: RwLock::new(State {
                rng: seed,
                drift: Drift::fixed(drift_ppm),
                ..State::default()
            }),
            offset: OffsetCell::new(),
            in_flight: Mutex::new(None),
            listeners: RwLock::default(),
        })
    }

    /// As [`new_with_sources`](Self::new_with_sources), with the waits of a sync
    /// (probe timing, request spacing) going through `sleeper`: pass the
    /// [`FakeTimeSource`](crate::FakeTimeSource) itself so that simulations
    /// and tests run without real sleeps. Rust only.
    pub fn new_with_sources_and_sleeper(
        config: ClockConfig,
        time_source: Arc<dyn TimeSource>,
        transport: Option<Arc<dyn HttpTransport>>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Arc<ServerClock>> {
        Ok(Arc::new(ServerClock::build_with_sleeper(
            config,
            Some(time_source),
            transport,
            sleeper,
        )?))
    }

    // A panic while the lock was held (a bug, caught at the FFI boundary)
    // poisons it. Every write leaves the state consistent before anything
    // that can panic, so carry on with it rather than fail every later call.
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, State>> {
        Ok(self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, State>> {
        Ok(self.state.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// θ at boot time `boot_ms` (server = boot + θ).
    fn offset_at(&self, boot_ms: i64) -> Result<i64> {
        self.offset.theta_at(boot_ms).ok_or(Error::NotSynced)
    }

    /// The drift the estimate uses, as the policy sees it.
    fn drift_status(&self, st: &State) -> DriftStatus {
        if !self.config.learn_drift {
            return DriftStatus::fixed(self.config.drift_ppm);
        }
        let fresh_uncertainty_ms = st
            .selection
            .as_ref()
            .map_or(0, |sel| sel.reading_at(sel.ref_boot_ms, &st.drift).1);
        DriftStatus {
            growth_ppb: st.drift.bound_ppb,
            // A carried rate keeps the estimate near while this boot learns
            // its own: no early sync for it.
            learning: !st.drift.learned && !st.drift.carried,
            learned: st.drift.learned,
            fresh_uncertainty_ms,
        }
    }

    /// Recomputes the drift from the history (fixed when learning is off).
    fn relearn(&self, st: &mut State) {
        st.drift = if self.config.learn_drift && st.history_unconfirmed {
            let carried = drift::carried_center_ppb(&st.drift_history, self.config.drift_ppm)
                .or_else(|| {
                    drift::carried_center_ppb(&st.previous_boot_history, self.config.drift_ppm)
                });
            drift::learn_with_carried(&[], self.config.drift_ppm, carried)
        } else if self.config.learn_drift {
            let carried =
                drift::carried_center_ppb(&st.previous_boot_history, self.config.drift_ppm);
            drift::learn_with_carried(&st.drift_history, self.config.drift_ppm, carried)
        } else {
            Drift::fixed(self.config.drift_ppm)
        };
    }

    fn publish(&self, st: &State) {
        match &st.selection {
            Some(sel) => self
                .offset
                .store(sel.offset_us(), sel.ref_boot_ms, st.drift.center_ppb),
            None => self.offset.store(NO_OFFSET, 0, 0),
        }
    }

    fn estimate_from(&self, st: &State, boot_ms: i64, wall_ms: i64) -> Option<Estimate> {
        let sel = st.selection.as_ref()?;
        let (theta, uncertainty_ms) = sel.reading_at(boot_ms, &st.drift);
        let wall_minus_boot = wall_ms.saturating_sub(boot_ms);
        let moved = wall_minus_boot.saturating_sub(st.wall_minus_boot_ms);
        // The wall clock also drifts (or is slewed by NTP): only report moves
        // beyond the threshold plus drift since the reference.
        let tolerance = self
            .config
            .wall_jump_threshold_ms
            .saturating_add(drift_widening_ms(
                self.config.drift_ppm,
                boot_ms.saturating_sub(sel.ref_boot_ms),
            ));
        let wall_jump_ms = if moved.saturating_abs() > tolerance {
            moved
        } else {
            0
        };
        Some(Estimate {
            server_now_ms: boot_ms.saturating_add(theta),
            uncertainty_ms,
            offset_ms: theta.saturating_sub(wall_minus_boot),
            boot_offset_ms: theta,
            boot_ms,
            source: sel.best_source,
            samples: sel.survivors.len() as u32,
            falsetickers: sel.falsetickers.len() as u32,
            newest_sample_boot_ms: sel.ref_boot_ms,
            within_policy: uncertainty_ms <= self.config.policy.max_uncertainty_ms,
            wall_jump_ms,
            server_clock_stepped: sel.stepped(),
        })
    }

    /// Adds samples to the window and re-selects. On success the estimate
    /// is replaced; on `Inconsistent` the samples stay in the window (a later
    /// sample may confirm a server clock step) but the estimate is unchanged.
    fn merge_samples(&self, st: &mut State, new: &[Sample], burst: bool) -> Result<()> {
        for s in new {
            s.validate()?;
        }
        let stepped_between_syncs = burst
            && st
                .selection
                .as_ref()
                .is_some_and(|old| burst_proves_step(old, new, &st.drift));
        let mut window = if stepped_between_syncs {
            Vec::new()
        } else {
            st.samples.clone()
        };
        window.extend_from_slice(new);
        trim_window(&mut window, self.config.max_samples as usize);
        let mut result = select_with_drift(&window, &st.drift);
        if stepped_between_syncs {
            if let Ok(sel) = result.as_mut() {
                sel.dropped_by_step.extend(st.samples.iter().copied());
                sel.server_stepped = true;
            }
        }
        // A burst outvoted by old samples carried along a learned drift: the
        // drift is no longer what was learned. Start learning again. (One
        // sample alone is just a falseticker.)
        let outvoted = |sel: &Selection| new.iter().any(|s| sel.falsetickers.contains(s));
        if burst && st.drift.learned && new.len() >= 2 && result.as_ref().map_or(true, outvoted) {
            st.drift_history
                .retain(|h| new.iter().any(|s| s.taken_boot_ms <= h.boot_ms));
            self.relearn(st);
            result = select_with_drift(&window, &st.drift);
        }
        match result {
            Ok(sel) => {
                window.retain(|s| !sel.dropped_by_step.contains(s));
                st.samples = window;
                st.wall_minus_boot_ms = self.time.wall_ms().saturating_sub(self.time.boot_ms());
                st.selection = Some(sel);
                self.publish(st);
                Ok(())
            }
            Err(e @ Error::Inconsistent(_)) => {
                st.samples = window;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn next_random(&self) -> u64 {
        let mut st = match self.state.write() {
            Ok(st) => st,
            Err(_) => return 0x2545_F491_4F6C_DD1D,
        };
        // xorshift64*: jitter only, not security.
        let mut x = st.rng | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        st.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// As [`restore_with_sources`](Self::restore_with_sources), with the
    /// waits of a sync going through `sleeper` (see
    /// [`new_with_sources_and_sleeper`](Self::new_with_sources_and_sleeper)). Rust
    /// only.
    pub fn restore_with_sources_and_sleeper(
        config: ClockConfig,
        state_json: &str,
        time_source: Arc<dyn TimeSource>,
        transport: Option<Arc<dyn HttpTransport>>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Arc<ServerClock>> {
        let clock = ServerClock::restore_from(config, state_json, Some(time_source), transport)?;
        // Nothing else holds the clock yet.
        let mut clock = Arc::try_unwrap(clock)
            .map_err(|_| Error::Internal("a clock being restored was shared".into()))?;
        clock.sleeper = sleeper;
        Ok(Arc::new(clock))
    }

    /// The body of [`restore_with_sources`](Self::restore_with_sources):
    /// restores a clock from [`export_state`](Self::export_state) output.
    ///
    /// Every saved sample is checked (a sane interval, taken before the state
    /// was saved); only the newest `max_samples` are kept; the estimate is
    /// recomputed from them as [`add_sample`](Self::add_sample) would.
    /// Same boot (same boot id, boot clock not gone back): the samples stay
    /// anchored to the boot clock. Otherwise (reboot) the recomputed estimate
    /// is carried over through the wall clock with its uncertainty inflated
    /// by drift and `REBOOT_WALL_SLACK_MS` (1 s), and a sync is flagged as due;
    /// if the state is older than `restore_max_age_ms` or the wall clock went
    /// backwards, the estimate is dropped. The policy's remembered times are
    /// clamped to what a live clock could have set. Garbled, foreign or newer
    /// state, or an invalid sample, is an [`Error::InvalidState`], never a
    /// panic.
    fn restore_from(
        config: ClockConfig,
        state_json: &str,
        time_source: Option<Arc<dyn TimeSource>>,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<ServerClock>> {
        let clock = ServerClock::build(config, time_source, transport)?;
        let saved = parse_state(state_json)?;
        if saved.homeserver_url != clock.config.homeserver_url {
            return Err(Error::InvalidState(format!(
                "it was saved for homeserver {:?}, not {:?}",
                saved.homeserver_url, clock.config.homeserver_url
            )));
        }
        let mut samples = saved.samples;
        trim_window(&mut samples, clock.config.max_samples as usize);
        let boot_ms = clock.time.boot_ms();
        let wall_ms = clock.time.wall_ms();
        let same_boot = saved.boot_id == clock.time.boot_id() && boot_ms >= saved.saved_boot_ms;
        {
            let mut st = clock.write()?;
            if same_boot {
                st.policy = saved.policy;
                st.policy.clamp_to_boot(&clock.config.policy, boot_ms);
                st.drift_history = saved.drift_history;
                st.history_unconfirmed = !st.drift_history.is_empty();
                st.previous_boot_history = saved.previous_boot_drift_history;
                clock.relearn(&mut st);
                match clock.merge_samples(&mut st, &samples, false) {
                    // No samples, or inconsistent ones (which stay, without an
                    // estimate, as they would on a live clock).
                    Ok(()) | Err(Error::NotSynced | Error::Inconsistent(_)) => {}
                    Err(e) => {
                        return Err(Error::InvalidState(format!(
                            "its samples give no estimate: {e}"
                        )))
                    }
                }
                st.wall_minus_boot_ms = saved.wall_minus_boot_ms;
            } else {
                st.policy.reset_for_new_boot();
                st.policy.carry_several_clocks(
                    &saved.policy,
                    saved.saved_boot_ms,
                    wall_ms.saturating_sub(saved.saved_wall_ms),
                    boot_ms,
                );
                // The crystal is the same: the rate the last boot learned
                // (or, if it learned none, the one before it) may move the
                // estimate until this boot learns its own.
                st.previous_boot_history =
                    if drift::learn(&saved.drift_history, clock.config.drift_ppm).learned {
                        saved.drift_history
                    } else {
                        saved.previous_boot_drift_history
                    };
                clock.relearn(&mut st);
                let wall_elapsed = wall_ms.saturating_sub(saved.saved_wall_ms);
                let fresh_enough = (0..=clock.config.restore_max_age_ms).contains(&wall_elapsed);
                let selection = select(&samples, clock.config.drift_ppm).ok();
                if let (Some(sel), true) = (selection, fresh_enough) {
                    // server = wall + (θ − (W−B)_saved) held at save time.
                    let shift = wall_ms
                        .saturating_sub(boot_ms)
                        .saturating_sub(saved.saved_wall_ms.saturating_sub(saved.saved_boot_ms));
                    let grow = drift_widening_ms(
                        clock.config.drift_ppm,
                        saved.saved_boot_ms.saturating_sub(sel.ref_boot_ms),
                    )
                    .saturating_add(drift_widening_ms(clock.config.drift_ppm, wall_elapsed))
                    .saturating_add(REBOOT_WALL_SLACK_MS);
                    let carried = Sample {
                        source: sel.best_source,
                        lo_ms: sel.lo_ms.saturating_add(shift).saturating_sub(grow),
                        hi_ms: sel.hi_ms.saturating_add(shift).saturating_add(grow),
                        taken_boot_ms: boot_ms,
                    };
                    clock
                        .merge_samples(&mut st, &[carried], false)
                        .map_err(|e| {
                            Error::InvalidState(format!(
                                "its estimate cannot be carried over a reboot: {e}"
                            ))
                        })?;
                }
            }
        }
        Ok(Arc::new(clock))
    }

    /// The body of [`export_state`](Self::export_state).
    fn saved_state_json(&self) -> Result<String> {
        let st = self.read()?;
        let saved = SavedState {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            homeserver_url: self.config.homeserver_url.clone(),
            boot_id: self.time.boot_id(),
            saved_boot_ms: self.time.boot_ms(),
            saved_wall_ms: self.time.wall_ms(),
            samples: st.samples.clone(),
            policy: st.policy.clone(),
            wall_minus_boot_ms: st.wall_minus_boot_ms,
            drift_history: st.drift_history.clone(),
            previous_boot_drift_history: st.previous_boot_history.clone(),
        };
        serde_json::to_string(&saved)
            .map_err(|e| Error::Internal(format!("state serialisation: {e}")))
    }
}

/// The interval a burst's own samples give θ, for the drift history: each
/// edge backed by two of them (one lying reply cannot set it), widened by
/// the fixed drift bound within the burst. None with fewer than two that
/// agree.
fn burst_interval(new: &[Sample], drift_ppm: u32) -> Option<SyncInterval> {
    if new.len() < 2 {
        return None;
    }
    let sel = select(new, drift_ppm).ok()?;
    if sel.survivors.len() < 2 || sel.stepped() {
        return None;
    }
    // The second-highest lower edge and second-lowest upper edge of the
    // survivors, at the selection's reference time.
    let fixed = Drift::fixed(drift_ppm);
    let carried: Vec<(i64, i64)> = sel
        .survivors
        .iter()
        .map(|s| {
            let w = fixed.widening_us(sel.ref_boot_ms.saturating_sub(s.taken_boot_ms));
            (
                s.lo_ms.saturating_mul(1_000).saturating_sub(w),
                s.hi_ms.saturating_mul(1_000).saturating_add(w),
            )
        })
        .collect();
    let mut los: Vec<i64> = carried.iter().map(|c| c.0).collect();
    let mut his: Vec<i64> = carried.iter().map(|c| c.1).collect();
    los.sort_unstable_by(|a, b| b.cmp(a));
    his.sort_unstable();
    let (lo, hi) = (los[1], his[1]);
    let mid = sel.offset_us().clamp(lo, hi);
    SyncInterval::new(sel.ref_boot_ms, lo, hi, mid).ok()
}

fn parse_state(json: &str) -> Result<SavedState> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::InvalidState(format!("it is not JSON ({e})")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(STATE_FORMAT) => {}
        _ => {
            return Err(Error::InvalidState(
                "it is not mxclock state (no \"format\": \"mxclock-state\")".into(),
            ))
        }
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == STATE_VERSION as u64 => {}
        Some(v) => {
            return Err(Error::InvalidState(format!(
            "format version {v} is not supported by this mxclock (reads version {STATE_VERSION})"
        )))
        }
        None => return Err(Error::InvalidState("it has no format version".into())),
    }
    let saved: SavedState = serde_json::from_value(value).map_err(|e| {
        Error::InvalidState(format!("a field is missing or of the wrong type ({e})"))
    })?;
    for h in &saved.drift_history {
        if h.boot_ms > saved.saved_boot_ms {
            return Err(Error::InvalidState(format!(
                "a drift history entry is from boot {} ms, after the state was saved",
                h.boot_ms
            )));
        }
    }
    let mut saved = saved;
    saved.drift_history = drift::validate_history(std::mem::take(&mut saved.drift_history))?;
    saved.previous_boot_drift_history =
        drift::validate_history(std::mem::take(&mut saved.previous_boot_drift_history))?;
    for s in &saved.samples {
        s.validate()
            .map_err(|e| Error::InvalidState(format!("a saved sample is invalid: {e}")))?;
        if s.taken_boot_ms > saved.saved_boot_ms {
            return Err(Error::InvalidState(format!(
                "a saved sample was taken at boot {} ms, after the state was saved (boot {} ms)",
                s.taken_boot_ms, saved.saved_boot_ms
            )));
        }
    }
    Ok(saved)
}

fn seed_from(time: &dyn TimeSource) -> u64 {
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    (time.boot_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (time.wall_ms() as u64).rotate_left(17)
        ^ addr
        ^ u64::from(std::process::id())
}

#[cfg(feature = "http")]
fn default_transport(config: &ClockConfig) -> Result<Option<Arc<dyn HttpTransport>>> {
    if config.homeserver_url.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(crate::transport::UreqTransport::new())))
}

#[cfg(not(feature = "http"))]
fn default_transport(_config: &ClockConfig) -> Result<Option<Arc<dyn HttpTransport>>> {
    Ok(None)
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// A clock on the OS clocks and, with the `http` feature, the built-in
    /// HTTPS transport. Fails on an invalid configuration.
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn new(config: ClockConfig) -> Result<Arc<ServerClock>> {
        Ok(Arc::new(ServerClock::build(config, None, None)?))
    }

    /// A clock on the given time source and transport (None: the defaults).
    /// Apps pass their own `TimeSource` (e.g. Android
    /// `SystemClock.elapsedRealtime()`) or `HttpTransport` (OkHttp,
    /// URLSession) here.
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn new_with_sources(
        config: ClockConfig,
        time_source: Option<Arc<dyn TimeSource>>,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<ServerClock>> {
        Ok(Arc::new(ServerClock::build(
            config,
            time_source,
            transport,
        )?))
    }

    /// Restores a clock from saved state (see `export_state`) on the OS
    /// clocks and the default transport, as [`new`](Self::new).
    ///
    /// Every saved sample is checked (a sane interval, taken before the state
    /// was saved); only the newest `max_samples` are kept; the estimate is
    /// recomputed from them as `add_sample` would. Same boot (same boot id,
    /// boot clock not gone back): the samples stay anchored to the boot
    /// clock. Otherwise (reboot) the recomputed estimate is carried over
    /// through the wall clock with its uncertainty inflated by drift and
    /// `REBOOT_WALL_SLACK_MS`, and a sync is flagged as due; if the state is
    /// older than `restore_max_age_ms` or the wall clock went backwards, the
    /// estimate is dropped. Garbled, foreign or newer state, or an invalid
    /// sample, is an `Error::InvalidState`, never a panic.
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn restore(config: ClockConfig, state_json: &str) -> Result<Arc<ServerClock>> {
        ServerClock::restore_from(config, state_json, None, None)
    }

    /// As [`restore`](Self::restore), on the given time source and transport
    /// (None: the defaults), as [`new_with_sources`](Self::new_with_sources).
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn restore_with_sources(
        config: ClockConfig,
        state_json: &str,
        time_source: Option<Arc<dyn TimeSource>>,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<ServerClock>> {
        ServerClock::restore_from(config, state_json, time_source, transport)
    }

    /// The state as JSON (estimate, samples, policy memory; never the
    /// token), to save and pass to [`restore`](Self::restore).
    pub fn export_state(&self) -> Result<String> {
        self.saved_state_json()
    }

    /// The estimate now, or None before the first sample.
    pub fn estimate(&self) -> Option<Estimate> {
        let boot_ms = self.time.boot_ms();
        let wall_ms = self.time.wall_ms();
        let st = self.read().ok()?;
        self.estimate_from(&st, boot_ms, wall_ms)
    }

    /// Server time now in ms since the Unix epoch. Lock-free: one boot-clock
    /// read and an atomic load. `Error::NotSynced` before the first sample.
    pub fn server_now_ms(&self) -> Result<i64> {
        let boot_ms = self.time.boot_ms();
        Ok(boot_ms.saturating_add(self.offset_at(boot_ms)?))
    }

    /// The boot clock of this clock's time source (for the `*_boot_ms`
    /// arguments of the sans-I/O calls).
    pub fn boot_ms(&self) -> i64 {
        self.time.boot_ms()
    }

    /// Boot-clock time at which the server clock reads `server_ms`.
    pub fn server_ms_to_boot_ms(&self, server_ms: i64) -> Result<i64> {
        // θ moves with the learned rate (at most ppm of the distance): two
        // steps settle it.
        let guess = server_ms.saturating_sub(self.offset_at(self.time.boot_ms())?);
        let guess = server_ms.saturating_sub(self.offset_at(guess)?);
        Ok(server_ms.saturating_sub(self.offset_at(guess)?))
    }

    /// Server time when the boot clock reads `boot_ms`.
    pub fn boot_ms_to_server_ms(&self, boot_ms: i64) -> Result<i64> {
        Ok(boot_ms.saturating_add(self.offset_at(boot_ms)?))
    }

    /// Device wall-clock time at which the server clock reads `server_ms`
    /// (by the wall clock as it is set now).
    pub fn server_ms_to_wall_ms(&self, server_ms: i64) -> Result<i64> {
        let boot_ms = self.server_ms_to_boot_ms(server_ms)?;
        let wall_minus_boot = self.time.wall_ms().saturating_sub(self.time.boot_ms());
        Ok(boot_ms.saturating_add(wall_minus_boot))
    }

    /// Server time corresponding to device wall-clock time `wall_ms`.
    pub fn wall_ms_to_server_ms(&self, wall_ms: i64) -> Result<i64> {
        let wall_minus_boot = self.time.wall_ms().saturating_sub(self.time.boot_ms());
        self.boot_ms_to_server_ms(wall_ms.saturating_sub(wall_minus_boot))
    }

    /// Feeds a sample the app measured itself (sans-I/O). Returns the new
    /// estimate. `Error::Inconsistent` when no majority of the kept samples
    /// agrees: the sample is kept (it may confirm a server clock step later)
    /// but the estimate is unchanged.
    pub fn add_sample(&self, sample: Sample) -> Result<Estimate> {
        let mut st = self.write()?;
        self.merge_samples(&mut st, &[sample], false)?;
        st.policy.record_success();
        let boot_ms = self.time.boot_ms();
        let estimate = self
            .estimate_from(&st, boot_ms, self.time.wall_ms())
            .ok_or(Error::NotSynced);
        drop(st);
        self.notify_estimate_changed();
        estimate
    }

    /// The app called the MSC4094 endpoint itself: sent at `sent_boot_ms`,
    /// answered at `received_boot_ms` with server time `server_ms`.
    pub fn add_endpoint_sample(
        &self,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        server_ms: i64,
    ) -> Result<Estimate> {
        self.add_sample(Sample::from_endpoint(
            sent_boot_ms,
            received_boot_ms,
            server_ms,
        )?)
    }

    /// Any HTTP response of the homeserver: its `Date` header in Unix
    /// seconds and its `Age` header if present.
    pub fn add_date_sample(
        &self,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        date_unix_s: i64,
        age_s: Option<i64>,
    ) -> Result<Estimate> {
        self.add_sample(Sample::from_date_header(
            sent_boot_ms,
            received_boot_ms,
            date_unix_s,
            age_s,
        )?)
    }

    /// An event from `/sync` with `origin_server_ts` and `unsigned.age`,
    /// received at `received_boot_ms`. The weakest source: `age` is wrong
    /// over federation on some servers; the estimator outvotes it.
    pub fn observe_event(
        &self,
        origin_server_ts: i64,
        age_ms: i64,
        received_boot_ms: i64,
    ) -> Result<Estimate> {
        self.add_sample(Sample::from_event_age(
            origin_server_ts,
            age_ms,
            received_boot_ms,
            self.config.event_max_transit_ms,
        )?)
    }

    /// Why a sync is due now, if it is (ignores rate limits).
    pub fn sync_reason(&self) -> Option<SyncReason> {
        let u = self.estimate().map(|e| e.uncertainty_ms);
        let st = self.read().ok()?;
        st.policy
            .sync_reason(&self.config.policy, u, &self.drift_status(&st))
    }

    /// Milliseconds until `sync_if_needed` would sync (0: now). For
    /// WorkManager / BGTaskScheduler.
    pub fn next_sync_due_in_ms(&self) -> i64 {
        let u = self.estimate().map(|e| e.uncertainty_ms);
        let now = self.time.boot_ms();
        match self.read() {
            Ok(st) => {
                st.policy
                    .next_sync_due_in_ms(&self.config.policy, u, &self.drift_status(&st), now)
            }
            Err(_) => 0,
        }
    }

    /// The app saw the network change (new Wi-Fi, VPN): backoff from
    /// failures on the old network is forgotten, and while the drift is not
    /// learned yet the next `sync_if_needed` syncs (the path and any proxy
    /// may differ; once the drift is learned the estimate does not depend on
    /// the path, and the next sync checks the new one).
    pub fn network_changed(&self) {
        if let Ok(mut st) = self.write() {
            st.policy.network_changed = true;
            st.policy.consecutive_failures = 0;
            st.policy.retry_at_boot_ms = None;
        }
    }
}

impl ServerClock {
    /// What the drift model says now, as the policy sees it.
    pub(crate) fn current_drift_status(&self) -> DriftStatus {
        match self.read() {
            Ok(st) => self.drift_status(&st),
            Err(_) => DriftStatus::fixed(self.config.drift_ppm),
        }
    }

    pub(crate) fn policy_state(&self) -> Result<PolicyState> {
        Ok(self.read()?.policy.clone())
    }

    pub(crate) fn update_policy<R>(&self, f: impl FnOnce(&mut PolicyState) -> R) -> Result<R> {
        Ok(f(&mut self.write()?.policy))
    }

    pub(crate) fn window(&self) -> Result<Vec<Sample>> {
        Ok(self.read()?.samples.clone())
    }

    /// Merges a burst's samples; on success the policy records it. The
    /// burst's own interval (where two of its replies back each edge) goes
    /// into the drift history first, so that a burst that contradicts the
    /// learned drift makes the estimator fall back before it selects.
    pub(crate) fn commit_samples(&self, new: &[Sample]) -> Result<Estimate> {
        let mut st = self.write()?;
        if self.config.learn_drift {
            if let Some(entry) = burst_interval(new, self.config.drift_ppm) {
                drift::record(&mut st.drift_history, entry, self.config.drift_ppm);
                // Recorded with this sync (or dropped for not fitting it).
                st.history_unconfirmed = false;
                self.relearn(&mut st);
            }
        }
        self.merge_samples(&mut st, new, true)?;
        st.policy.record_success();
        let boot_ms = self.time.boot_ms();
        let estimate = self
            .estimate_from(&st, boot_ms, self.time.wall_ms())
            .ok_or(Error::NotSynced);
        drop(st);
        self.notify_estimate_changed();
        estimate
    }

    /// θ, the uncertainty at the reference boot time, and that time, of
    /// the current selection (`ServerClock::snapshot`).
    pub(crate) fn selection_bounds(&self) -> Option<(i64, i64, i64, u32)> {
        let st = self.read().ok()?;
        let sel = st.selection.as_ref()?;
        let (theta_ms, ref_uncertainty_ms) = sel.reading_at(sel.ref_boot_ms, &st.drift);
        // A reader that keeps θ fixed grows the uncertainty by the learned
        // rate too (the estimate moves along it instead); without a learned
        // drift that is the bound alone, and both agree exactly.
        let growth = Drift {
            center_ppb: 0,
            bound_ppb: st
                .drift
                .center_ppb
                .saturating_abs()
                .saturating_add(st.drift.bound_ppb),
            learned: st.drift.learned,
            carried: st.drift.carried,
        };
        Some((
            theta_ms,
            ref_uncertainty_ms,
            sel.ref_boot_ms,
            growth.growth_ppm(),
        ))
    }
}

/// Expiry questions, answered with one reading of the estimate.
#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// Server time now with its uncertainty and the boot time of the
    /// reading: what the expiry rules take.
    pub fn server_now(&self) -> Result<crate::expiry::ServerNow> {
        let e = self.estimate().ok_or(Error::NotSynced)?;
        Ok(crate::expiry::ServerNow::new(
            e.server_now_ms,
            e.uncertainty_ms,
            e.boot_ms,
        ))
    }

    /// `server_now_ms() + duration_ms`: the `expires_ts` to put in an event
    /// the app creates (`created_ts`/`sender_ts` are `server_now_ms()`).
    pub fn server_ms_after(&self, duration_ms: i64) -> Result<i64> {
        Ok(self.server_now_ms()?.saturating_add(duration_ms))
    }

    /// The expiry of a deadline on the server clock.
    pub fn expiry_at(&self, deadline_ms: i64) -> Result<crate::expiry::Expiry> {
        Ok(crate::expiry::expiry_at(deadline_ms, &self.server_now()?))
    }

    /// Evaluates one event (JSON) against its rule (see `events.rs`).
    /// `received_boot_ms`: when the app received it, for rules with a
    /// boot-clock part (verification prompts, sticky TTLs, the invite's
    /// `unsigned.age`). The rules: `docs/expiry.md`.
    pub fn evaluate_event_json(
        &self,
        json: String,
        received_boot_ms: Option<i64>,
    ) -> Result<crate::events::EventExpiry> {
        crate::events::evaluate_event_json(&json, &self.server_now()?, received_boot_ms)
    }

    /// Evaluates a JSON array of events with one estimate, in one call (a
    /// call across the FFI costs microseconds; a timeline must not pay it per
    /// event). One outcome per event, in order; a bad event gives an error
    /// outcome, not a failed batch.
    pub fn evaluate_events_json(
        &self,
        json_array: String,
        received_boot_ms: Option<i64>,
    ) -> Result<Vec<crate::events::EventOutcome>> {
        crate::events::evaluate_events_json(&json_array, &self.server_now()?, received_boot_ms)
    }
}
