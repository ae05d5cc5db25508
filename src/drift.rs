//! Learning how fast the boot clock runs against the server's, from
//! successive syncs on one boot. Pure: a history of intervals in, a rate
//! band out.
//!
//! Every successful sync leaves one [`SyncInterval`]: θ = server − boot lies
//! in `[lo_us, hi_us]` at boot time `boot_ms`, with each edge backed by two
//! replies of that sync alone (so that one lying reply cannot set it). Two
//! such intervals bound the *average* rate at which θ moved between them:
//! θ went from somewhere in the first to somewhere in the second, so its
//! average rate over the span lies in
//! `[(lo_j − hi_i) / (b_j − b_i), (hi_j − lo_i) / (b_j − b_i)]`. With no
//! variation of the rate, the set of lines through every interval is the set
//! of possible rates.
//!
//! A real crystal's rate is not constant: temperature moves it, and a phone
//! may keep its boot clock on another oscillator while it sleeps. The model
//! assumes only that over one boot, the boot clock's rate against the server
//! varies by at most [`DRIFT_FLOOR_PPB`] from peak to peak. Then the average
//! rate over any span is within that floor of the average over any other
//! span, and the rate from the last sync until now lies in
//!
//! ```text
//! [max over pairs of the lower rate − floor, min over pairs of the upper rate + floor]
//! ```
//!
//! intersected with the fixed bound (`±drift_ppm`, the physical assumption
//! the estimator makes without history). Pairs whose rate intervals lie more
//! than the floor apart contradict the model: the crystal changed, the
//! server clock stepped, or the OS adjusted the boot clock. Then, as when the
//! history is short (fewer than two syncs) or the learned band is no better
//! than the fixed one, the estimator falls back to the fixed bound.
//!
//! The floor: 35 ppm. A phone's boot clock runs on two oscillators: the
//! SoC's timer, from the main (AT-cut) crystal oscillator, while awake, and
//! a 32.768 kHz tuning-fork sleep crystal while suspended (the kernel adds
//! the time asleep as an always-on timer or the RTC measured it). A rate
//! learned while awake can therefore be off the rate of a night asleep by
//! the sleep crystal's tolerance, ±20 ppm at 25 °C for common parts (TF20
//! and FC-135 class datasheets), plus its temperature curve (0.030 ±
//! 0.01 ppm/°C² away from its 25 °C turnover: at most 9 ppm at ±15 °C), plus
//! the awake oscillator's few ppm over the 15–40 °C a phone in use sees
//! (an AT-cut crystal stays within ±10–15 ppm over −20…70 °C). 35 ppm is
//! that ±20 ppm plus 15 ppm, NTP's frequency tolerance `PHI` (RFC 5905),
//! which covers the temperature terms.
//!
//! Within the band, the rate used to extrapolate θ is a robust fit: the
//! median of the slopes between the syncs' midpoints (Theil–Sen), clamped
//! into the band. It moves the estimate only; the honest bound is the band.
//!
//! The history is evidence, not a conclusion: it is saved with the clock's
//! state, checked entry by entry on restore, and the band is recomputed
//! from it. It is dropped on a reboot (another boot clock): the bound falls
//! back to the fixed one. The crystal is the same, though, so the rate the
//! last boot learned is carried (as evidence: that boot's history) and
//! moves the estimate until the new boot learns its own; the bound is then
//! the fixed one widened by that rate, so a carried rate costs accuracy if
//! the new boot clock runs otherwise, never honesty
//! ([`learn_with_carried`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The least the learned band is widened by, each way, ppb: how far the
/// boot clock's rate may move over one boot (temperature, sleep states).
/// See the module documentation for the source.
pub(crate) const DRIFT_FLOOR_PPB: i64 = 35_000;
/// Syncs kept in the history (the oldest go first).
pub(crate) const MAX_DRIFT_HISTORY: usize = 16;

/// θ as one sync left it: θ = server − boot is in `[lo_us, hi_us]` at boot
/// time `boot_ms`; `mid_us` is the sync's estimate (where its replies agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInterval {
    /// Boot time the interval refers to (the sync's newest reply), ms.
    pub boot_ms: i64,
    /// Lower bound of θ, µs.
    pub lo_us: i64,
    /// Upper bound of θ, µs.
    pub hi_us: i64,
    /// The sync's estimate of θ, µs (within the bounds).
    pub mid_us: i64,
}

impl SyncInterval {
    /// An interval, checked: `lo_us ≤ mid_us ≤ hi_us`, times that keep
    /// every rate computation far from overflow.
    pub fn new(boot_ms: i64, lo_us: i64, hi_us: i64, mid_us: i64) -> Result<SyncInterval> {
        let s = SyncInterval {
            boot_ms,
            lo_us,
            hi_us,
            mid_us,
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks the invariants an interval from outside (saved state) holds.
    pub fn validate(&self) -> Result<()> {
        // θ in µs for server times up to the year 2200 and boot times up to
        // a few centuries: far below 2⁶³, and squares of differences fit i128.
        const LIMIT_US: i64 = 1 << 60;
        const LIMIT_MS: i64 = 1 << 50;
        if !(self.lo_us <= self.mid_us && self.mid_us <= self.hi_us) {
            return Err(Error::InvalidState(format!(
                "drift history: interval [{}, {}] µs does not hold its estimate {} µs",
                self.lo_us, self.hi_us, self.mid_us
            )));
        }
        if self.lo_us.unsigned_abs() > LIMIT_US as u64
            || self.hi_us.unsigned_abs() > LIMIT_US as u64
            || !(0..=LIMIT_MS).contains(&self.boot_ms)
        {
            return Err(Error::InvalidState(format!(
                "drift history: interval at boot {} ms, [{}, {}] µs, is out of range",
                self.boot_ms, self.lo_us, self.hi_us
            )));
        }
        Ok(())
    }
}

/// The rate of θ = server − boot against the boot clock, in parts per
/// billion: over `Δ` ms of boot time θ moves by `center_ppb × Δ / 10⁶` µs,
/// give or take `bound_ppb × Δ / 10⁶` µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// The rate the estimate is extrapolated with, ppb (0 unless learned).
    pub center_ppb: i64,
    /// How far the true rate may be from `center_ppb`, ppb (≥ 0).
    pub bound_ppb: i64,
    /// Learned from the history (else the fixed bound: center 0, or a
    /// carried rate).
    pub learned: bool,
    /// The center is a rate an earlier boot learned, carried across a
    /// reboot: it moves the estimate, and the bound is the fixed one
    /// widened by it (`learn_with_carried`).
    #[serde(default)]
    pub carried: bool,
}

impl Default for Drift {
    /// The fixed bound of the default configuration.
    fn default() -> Drift {
        Drift::fixed(crate::estimate::DEFAULT_DRIFT_PPM)
    }
}

impl Drift {
    /// The fixed bound: no known rate, `±drift_ppm`.
    pub fn fixed(drift_ppm: u32) -> Drift {
        Drift {
            center_ppb: 0,
            bound_ppb: i64::from(drift_ppm) * 1_000,
            learned: false,
            carried: false,
        }
    }

    /// How far θ moves by the center rate over `elapsed_ms`, µs (rounded
    /// toward −∞; saturating).
    pub fn shift_us(&self, elapsed_ms: i64) -> i64 {
        mul_div_floor(self.center_ppb, elapsed_ms, 1_000_000)
    }

    /// How much θ may be off the center rate's path after `elapsed_ms`, µs
    /// (rounded up; 0 for negative elapsed; saturating).
    pub fn widening_us(&self, elapsed_ms: i64) -> i64 {
        if elapsed_ms <= 0 {
            return 0;
        }
        mul_div_ceil(self.bound_ppb.max(0), elapsed_ms, 1_000_000)
    }

    /// The growth of the uncertainty in ppm, rounded up (what a reader that
    /// extrapolates the estimate itself adds per 10⁶ ms).
    pub fn growth_ppm(&self) -> u32 {
        u32::try_from(self.bound_ppb.max(0).saturating_add(999) / 1_000).unwrap_or(u32::MAX)
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn mul_div_floor(a: i64, b: i64, d: i128) -> i64 {
    clamp_i64((a as i128 * b as i128).div_euclid(d))
}

fn mul_div_ceil(a: i64, b: i64, d: i128) -> i64 {
    clamp_i64(-((-(a as i128 * b as i128)).div_euclid(d)))
}

/// The band of average rates between two syncs `a` before `b`, ppb:
/// (lower rounded down, upper rounded up).
fn pair_band(a: &SyncInterval, b: &SyncInterval) -> (i128, i128) {
    let span_ms = (b.boot_ms - a.boot_ms) as i128;
    let low = (b.lo_us as i128 - a.hi_us as i128) * 1_000_000;
    let high = (b.hi_us as i128 - a.lo_us as i128) * 1_000_000;
    (low.div_euclid(span_ms), -((-high).div_euclid(span_ms)))
}

/// The band over all pairs: (max of the lower rates, min of the upper
/// rates). `None` with fewer than two syncs at distinct boot times.
fn history_band(history: &[SyncInterval]) -> Option<(i128, i128)> {
    let mut band: Option<(i128, i128)> = None;
    for (i, a) in history.iter().enumerate() {
        for b in &history[i + 1..] {
            if b.boot_ms <= a.boot_ms {
                continue;
            }
            let (lo, hi) = pair_band(a, b);
            band = Some(match band {
                None => (lo, hi),
                Some((l, h)) => (l.max(lo), h.min(hi)),
            });
        }
    }
    band
}

/// Whether the history fits the model: every pair's rate band within
/// [`DRIFT_FLOOR_PPB`] of every other's.
pub(crate) fn consistent(history: &[SyncInterval]) -> bool {
    history_band(history).is_none_or(|(lo, hi)| lo - hi <= DRIFT_FLOOR_PPB as i128)
}

/// The median of the slopes between the syncs' estimates, ppb (Theil–Sen).
fn robust_slope_ppb(history: &[SyncInterval]) -> Option<i128> {
    let mut slopes: Vec<i128> = Vec::new();
    for (i, a) in history.iter().enumerate() {
        for b in &history[i + 1..] {
            if b.boot_ms > a.boot_ms {
                let num = (b.mid_us as i128 - a.mid_us as i128) * 1_000_000;
                slopes.push(num.div_euclid((b.boot_ms - a.boot_ms) as i128));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable();
    Some(slopes[slopes.len() / 2])
}

/// The drift the estimator uses: learned from `history` (oldest first,
/// strictly increasing boot times) when it holds two or more syncs that fit
/// the model and give a band narrower than the fixed `±drift_ppm`; else
/// [`Drift::fixed`].
pub fn learn(history: &[SyncInterval], drift_ppm: u32) -> Drift {
    let fixed = Drift::fixed(drift_ppm);
    if history.len() < 2 || !consistent(history) {
        return fixed;
    }
    let Some((lo, hi)) = history_band(history) else {
        return fixed;
    };
    let limit = fixed.bound_ppb as i128;
    // The floor widens each side; the physical bound caps them.
    let rate_lo = (lo - DRIFT_FLOOR_PPB as i128).max(-limit);
    let rate_hi = (hi + DRIFT_FLOOR_PPB as i128).min(limit);
    if rate_lo > rate_hi {
        // Rates beyond the physical bound: trust nothing learned.
        return fixed;
    }
    let center = robust_slope_ppb(history)
        .unwrap_or((rate_lo + rate_hi) / 2)
        .clamp(rate_lo, rate_hi);
    // Pairs that disagree by less than the floor can leave a band narrower
    // than twice the floor: still honest under the model, but the floor is
    // the least this promises to widen by.
    let bound = (center - rate_lo)
        .max(rate_hi - center)
        .max(DRIFT_FLOOR_PPB as i128);
    if bound >= limit {
        return fixed;
    }
    Drift {
        center_ppb: center as i64,
        bound_ppb: bound as i64,
        learned: true,
        carried: false,
    }
}

/// The rate an earlier boot's history learned (its center, ppb), to carry
/// across a reboot; `None` when that history learned nothing.
pub fn carried_center_ppb(previous_boot: &[SyncInterval], drift_ppm: u32) -> Option<i64> {
    let d = learn(previous_boot, drift_ppm);
    d.learned.then_some(d.center_ppb)
}

/// [`learn`] on this boot's `history`; while that learns nothing, a rate
/// `carried_ppb` that an earlier boot learned moves the estimate (the
/// crystal is the same, so the new boot clock most likely runs at about
/// that rate), but bounds nothing: the bound is then the fixed `drift_ppm`
/// plus the carried rate's magnitude, so that the interval moved along the
/// carried rate still holds every rate within the fixed `±drift_ppm`. It is
/// wider than the fixed bound's, never narrower. A boot clock whose rate
/// changed across the reboot (a kernel that calibrates its clocksource at
/// each boot) then costs accuracy, never honesty.
pub fn learn_with_carried(
    history: &[SyncInterval],
    drift_ppm: u32,
    carried_ppb: Option<i64>,
) -> Drift {
    let fresh = learn(history, drift_ppm);
    match carried_ppb {
        Some(c) if !fresh.learned => {
            let limit = fresh.bound_ppb;
            let center = c.clamp(-limit, limit);
            Drift {
                center_ppb: center,
                bound_ppb: limit.saturating_add(center.saturating_abs()),
                learned: false,
                carried: true,
            }
        }
        _ => fresh,
    }
}

/// Adds a sync's interval to `history`: entries stay in boot order (one
/// at the same or an earlier boot time than the newest replaces the tail
/// from there), at most `MAX_DRIFT_HISTORY`. When the new interval does
/// not fit what the history predicts (the model is violated), the older
/// syncs are dropped: the estimator falls back to the fixed bound until a
/// second sync fits with this one.
pub(crate) fn record(history: &mut Vec<SyncInterval>, entry: SyncInterval, drift_ppm: u32) {
    history.retain(|h| h.boot_ms < entry.boot_ms);
    history.push(entry);
    if !consistent(history) || learn_rejects(history, drift_ppm) {
        history.clear();
        history.push(entry);
    }
    if history.len() > MAX_DRIFT_HISTORY {
        let excess = history.len() - MAX_DRIFT_HISTORY;
        history.drain(..excess);
    }
}

/// The band the model allows lies outside the physical bound.
fn learn_rejects(history: &[SyncInterval], drift_ppm: u32) -> bool {
    let limit = i128::from(drift_ppm) * 1_000;
    history_band(history).is_some_and(|(lo, hi)| {
        lo - DRIFT_FLOOR_PPB as i128 > limit || hi + (DRIFT_FLOOR_PPB as i128) < -limit
    })
}

/// Checks a history from outside (saved state): every entry valid, boot
/// times strictly increasing, at most `MAX_DRIFT_HISTORY` (the newest are
/// kept). Returns it ready for [`learn`].
pub fn validate_history(mut history: Vec<SyncInterval>) -> Result<Vec<SyncInterval>> {
    for s in &history {
        s.validate()?;
    }
    if history.windows(2).any(|w| w[1].boot_ms <= w[0].boot_ms) {
        return Err(Error::InvalidState(
            "drift history: boot times are not strictly increasing".into(),
        ));
    }
    if history.len() > MAX_DRIFT_HISTORY {
        let excess = history.len() - MAX_DRIFT_HISTORY;
        history.drain(..excess);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const THETA0_US: i64 = 1_750_000_000_000_000;
    const HOUR_MS: i64 = 3_600_000;

    fn iv(boot_ms: i64, theta_us: i64, half_us: i64) -> SyncInterval {
        SyncInterval::new(boot_ms, theta_us - half_us, theta_us + half_us, theta_us).unwrap()
    }

    #[test]
    fn short_history_is_the_fixed_bound() {
        assert_eq!(learn(&[], 100), Drift::fixed(100));
        assert_eq!(learn(&[iv(0, THETA0_US, 20_000)], 100), Drift::fixed(100));
        // Two syncs a minute apart: the band is far wider than ±100 ppm.
        let h = [iv(0, THETA0_US, 20_000), iv(60_000, THETA0_US, 20_000)];
        assert_eq!(learn(&h, 100), Drift::fixed(100));
    }

    #[test]
    fn two_syncs_hours_apart_learn_the_rate() {
        // θ falls 30 µs per second (boot clock 30 ppm fast), syncs ±50 ms.
        let h = [
            iv(0, THETA0_US, 50_000),
            iv(10 * HOUR_MS, THETA0_US - 30 * 36_000, 50_000),
        ];
        let d = learn(&h, 100);
        assert!(d.learned);
        assert_eq!(d.center_ppb, -30_000);
        // (50 + 50 ms) / 10 h ≈ 2.8 ppm each way, plus the floor.
        assert_eq!(d.bound_ppb, 2_778 + DRIFT_FLOOR_PPB);
        assert_eq!(d.growth_ppm(), 38);
    }

    #[test]
    fn the_floor_is_never_undercut() {
        let h: Vec<SyncInterval> = (0..10).map(|i| iv(i * HOUR_MS * 5, THETA0_US, 0)).collect();
        let d = learn(&h, 100);
        assert_eq!((d.center_ppb, d.bound_ppb), (0, DRIFT_FLOOR_PPB));
    }

    #[test]
    fn a_disagreeing_sync_drops_the_history() {
        let mut h = Vec::new();
        for i in 0..4 {
            record(&mut h, iv(i * HOUR_MS, THETA0_US, 10_000), 100);
        }
        assert_eq!(h.len(), 4);
        assert!(learn(&h, 100).learned);
        // 300 ms off after an hour: 83 ppm against rates within ±6 ppm.
        let off = iv(4 * HOUR_MS, THETA0_US + 300_000, 10_000);
        record(&mut h, off, 100);
        assert_eq!(h, vec![off]);
        assert_eq!(learn(&h, 100), Drift::fixed(100));
    }

    #[test]
    fn record_keeps_order_and_cap() {
        let mut h = Vec::new();
        for i in 0..40 {
            record(&mut h, iv(i * HOUR_MS, THETA0_US, 10_000), 100);
        }
        assert_eq!(h.len(), MAX_DRIFT_HISTORY);
        assert_eq!(h[0].boot_ms, 24 * HOUR_MS);
        // An entry at an earlier boot time replaces the tail after it.
        record(&mut h, iv(30 * HOUR_MS, THETA0_US, 10_000), 100);
        assert_eq!(h.last().unwrap().boot_ms, 30 * HOUR_MS);
        assert!(h.windows(2).all(|w| w[0].boot_ms < w[1].boot_ms));
    }

    #[test]
    fn rates_beyond_the_physical_bound_are_not_learned() {
        // 500 ppm: nothing a crystal does; keep the fixed bound.
        let h = [
            iv(0, THETA0_US, 1_000),
            iv(HOUR_MS, THETA0_US + 500 * 3_600, 1_000),
        ];
        assert_eq!(learn(&h, 100), Drift::fixed(100));
        let mut r = h[..1].to_vec();
        record(&mut r, h[1], 100);
        assert_eq!(r, vec![h[1]]);
    }

    #[test]
    fn a_carried_rate_moves_the_estimate_and_widens_the_bound() {
        // Nothing learned on the earlier boot: nothing to carry.
        assert_eq!(carried_center_ppb(&[iv(0, THETA0_US, 20_000)], 100), None);
        let earlier = [
            iv(0, THETA0_US, 20_000),
            iv(10 * HOUR_MS, THETA0_US - 40 * 36_000, 20_000),
        ];
        assert_eq!(carried_center_ppb(&earlier, 100), Some(-40_000));
        // A new boot with one sync: the carried rate moves the estimate, and
        // the bound is the fixed one plus it (never narrower).
        let d = learn_with_carried(&[iv(0, THETA0_US, 20_000)], 100, Some(-40_000));
        assert_eq!(
            d,
            Drift {
                center_ppb: -40_000,
                bound_ppb: 140_000,
                learned: false,
                carried: true,
            }
        );
        // A carried rate beyond the physical bound is clamped to it.
        let d = learn_with_carried(&[], 100, Some(250_000));
        assert_eq!((d.center_ppb, d.bound_ppb), (100_000, 200_000));
        // Once this boot learns its own rate, the carried one is ignored.
        let fresh = learn(&earlier, 100);
        assert_eq!(learn_with_carried(&earlier, 100, Some(10_000)), fresh);
        assert_eq!(learn_with_carried(&[], 100, None), Drift::fixed(100));
    }

    #[test]
    fn shifts_round_outwards_and_saturate() {
        let d = Drift {
            center_ppb: -1,
            bound_ppb: 1,
            learned: true,
            carried: false,
        };
        assert_eq!(d.shift_us(1), -1);
        assert_eq!(d.widening_us(1), 1);
        assert_eq!(d.widening_us(-5), 0);
        let big = Drift {
            center_ppb: i64::MAX,
            bound_ppb: i64::MAX,
            learned: true,
            carried: false,
        };
        assert_eq!(big.shift_us(i64::MAX), i64::MAX);
        assert_eq!(big.widening_us(i64::MAX), i64::MAX);
        assert_eq!(big.growth_ppm(), u32::MAX);
    }

    #[test]
    fn saved_histories_are_checked() {
        assert!(SyncInterval::new(0, 5, 4, 4).is_err());
        assert!(SyncInterval::new(0, 0, 10, 11).is_err());
        assert!(SyncInterval::new(-1, 0, 10, 5).is_err());
        assert!(SyncInterval::new(0, i64::MIN, 10, 5).is_err());
        let a = iv(HOUR_MS, THETA0_US, 10);
        let b = iv(2 * HOUR_MS, THETA0_US, 10);
        assert!(validate_history(vec![b, a]).is_err());
        assert!(validate_history(vec![a, a]).is_err());
        let long: Vec<SyncInterval> = (0..20).map(|i| iv(i * HOUR_MS, THETA0_US, 10)).collect();
        assert_eq!(validate_history(long).unwrap().len(), MAX_DRIFT_HISTORY);
    }

    /// A simulated boot: a crystal with a fixed error within ±50 ppm, a slow
    /// swing of up to ±`swing` ppm over the day, a different rate (up to
    /// ±`sleep` ppm more) while asleep: at most 10.5 ppm from peak to peak,
    /// within the floor; syncs at random times whose intervals hold the
    /// truth with random asymmetric margins.
    #[derive(Debug)]
    struct Crystal {
        offset_ppb: i64,
        swing_ppb: i64,
        phase: f64,
        sleep_ppb: i64,
        /// Asleep in [start, end) of each 24 h, hours.
        sleep_hours: (f64, f64),
    }

    impl Crystal {
        /// θ's rate at boot time `b_ms`, ppb (θ falls when the boot clock is fast).
        fn rate_ppb(&self, b_ms: i64) -> i64 {
            let hours = b_ms as f64 / HOUR_MS as f64;
            let swing = (self.swing_ppb as f64
                * (2.0 * std::f64::consts::PI * hours / 24.0 + self.phase).sin())
                as i64;
            let h = hours % 24.0;
            let asleep = h >= self.sleep_hours.0 && h < self.sleep_hours.1;
            -(self.offset_ppb + swing + if asleep { self.sleep_ppb } else { 0 })
        }

        /// θ at `b_ms`, µs: the rate integrated in 10-minute steps (exact
        /// for the piecewise-constant rate this defines).
        fn theta_us(&self, b_ms: i64) -> i128 {
            // ppb × ms = ps.
            let mut theta_ps = THETA0_US as i128 * 1_000_000;
            let mut t = 0;
            while t < b_ms {
                let step = (b_ms - t).min(600_000);
                theta_ps += self.rate_ppb(t) as i128 * step as i128;
                t += step;
            }
            theta_ps.div_euclid(1_000_000)
        }
    }

    fn crystal() -> impl Strategy<Value = Crystal> {
        (
            -50_000i64..=50_000,
            0i64..=3_500,
            0.0f64..6.3,
            -20_000i64..=20_000,
            0.0f64..12.0,
            1.0f64..10.0,
        )
            .prop_map(|(offset, swing, phase, sleep, start, len)| Crystal {
                offset_ppb: offset,
                swing_ppb: swing,
                phase,
                sleep_ppb: sleep,
                sleep_hours: (start, start + len),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the crystal does within the model, the learned band
        /// holds the truth from the last sync on: at any later time on the
        /// same boot, θ is within the interval the last sync left, moved by
        /// the center rate and widened by the bound. And the band is never
        /// narrower than the floor.
        #[test]
        fn the_learned_band_holds_the_truth(
            c in crystal(),
            syncs in proptest::collection::vec((1i64..6 * HOUR_MS, 0i64..80_000, 0i64..80_000, 0i64..=1_000), 2..10),
            later_ms in proptest::collection::vec(0i64..30 * HOUR_MS, 1..6),
        ) {
            let mut history = Vec::new();
            let mut b = 0i64;
            for &(gap, below, above, at) in &syncs {
                b += gap;
                let truth = c.theta_us(b) as i64;
                let lo = truth - below;
                let hi = truth + above;
                let mid = lo + (hi - lo) * at / 1_000;
                record(&mut history, SyncInterval::new(b, lo, hi, mid).unwrap(), 100);
            }
            let d = learn(&history, 100);
            prop_assert!(d.bound_ppb >= DRIFT_FLOOR_PPB);
            prop_assert!(d.bound_ppb <= 100_000);
            let last = *history.last().unwrap();
            for &later in &later_ms {
                let now = last.boot_ms + later;
                let truth = c.theta_us(now) as i64;
                let lo = last.lo_us + d.shift_us(later) - d.widening_us(later);
                let hi = last.hi_us + d.shift_us(later) + d.widening_us(later);
                prop_assert!(lo <= truth && truth <= hi,
                    "truth {truth} outside [{lo}, {hi}] after {later} ms; drift {d:?}, history {history:?}");
            }
        }

        /// A carried rate never narrows anything: whatever rate was
        /// carried, for any true rate within the fixed bound, the interval
        /// moved by the carried center and widened by its bound holds the
        /// truth (it contains the fixed bound's interval).
        #[test]
        fn a_carried_rate_holds_every_rate_the_fixed_bound_does(
            carried in -300_000i64..=300_000,
            rate in -100_000i64..=100_000,
            below in 0i64..100_000,
            above in 0i64..100_000,
            elapsed in 0i64..30 * HOUR_MS,
        ) {
            let d = learn_with_carried(&[], 100, Some(carried));
            let fixed = Drift::fixed(100);
            prop_assert!(d.bound_ppb >= fixed.bound_ppb);
            let truth = THETA0_US + rate * elapsed / 1_000_000;
            // The center's shift is rounded down to the µs, as a learned
            // center's is: up to 1 µs.
            let lo = THETA0_US - below + d.shift_us(elapsed) - d.widening_us(elapsed);
            let hi = THETA0_US + above + d.shift_us(elapsed) + d.widening_us(elapsed) + 1;
            prop_assert!(lo <= THETA0_US - below - fixed.widening_us(elapsed));
            prop_assert!(hi >= THETA0_US + above + fixed.widening_us(elapsed));
            prop_assert!(lo <= truth && truth <= hi);
        }

        /// A server clock step or a boot clock whose rate changed by more
        /// than the model allows, beyond what the intervals' widths can
        /// hide, is caught: the history drops to the new sync (the fixed
        /// bound applies again).
        #[test]
        fn a_change_beyond_the_model_is_caught(
            rate1 in -50_000i64..=50_000,
            rate2 in -50_000i64..=50_000,
            step_us in -2_000_000i64..2_000_000,
            n in 2usize..6,
        ) {
            const HALF_US: i64 = 20_000;
            let mut history = Vec::new();
            let mut theta = THETA0_US;
            for i in 0..n as i64 {
                record(&mut history, iv(i * 2 * HOUR_MS, theta, HALF_US), 100);
                theta += rate1 * 2 * HOUR_MS / 1_000_000;
            }
            let last = *history.last().unwrap();
            // Three hours later, at rate2 and with a step.
            let t = last.boot_ms + 3 * HOUR_MS;
            let truth = last.mid_us + rate2 * 3 * HOUR_MS / 1_000_000 + step_us;
            record(&mut history, iv(t, truth, HALF_US), 100);
            // The average rate over the last span against the earlier ones,
            // each known to within the intervals' widths (ppb).
            let seen_ppb = (truth - last.mid_us) * 1_000_000 / (3 * HOUR_MS);
            let hidden_ppb = 2 * HALF_US * 1_000_000 / (2 * HOUR_MS)
                + 2 * HALF_US * 1_000_000 / (3 * HOUR_MS)
                + 2;
            let change = (seen_ppb - rate1).abs();
            let impossible = seen_ppb.abs() > 100_000 + DRIFT_FLOOR_PPB + hidden_ppb;
            if change > DRIFT_FLOOR_PPB + hidden_ppb || impossible {
                prop_assert_eq!(history.len(), 1, "rate {} then {}", rate1, seen_ppb);
                prop_assert_eq!(learn(&history, 100), Drift::fixed(100));
            }
            // Within the model (and the rounding of the simulated θ), the
            // history is kept.
            if change + 2 <= DRIFT_FLOOR_PPB && seen_ppb.abs() <= 100_000 {
                prop_assert_eq!(history.len(), n + 1);
            }
        }
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn drift_module_example() {
        use crate::drift::{learn, record, SyncInterval, DRIFT_FLOOR_PPB};
        // A boot clock 40 ppm fast: θ falls by 40 µs per second.
        let mut history = Vec::new();
        for hour in 0..4i64 {
            let boot_ms = hour * 3_600_000;
            let theta_us = 1_750_000_000_000_000 - 40 * boot_ms / 1_000;
            record(
                &mut history,
                SyncInterval::new(boot_ms, theta_us - 30_000, theta_us + 30_000, theta_us).unwrap(),
                100,
            );
        }
        let drift = learn(&history, 100);
        assert!(drift.learned);
        assert!((drift.center_ppb + 40_000).abs() < 1_000);
        assert!(drift.bound_ppb >= DRIFT_FLOOR_PPB && drift.bound_ppb < 50_000);
    }
}
